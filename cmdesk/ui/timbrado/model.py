"""The Timbrado tab's table model: the CTIs of the cache, searched, sorted and paged in SQL.

Columns are declared as data (`COLUMNS`). Rows are read in the cache pool, `PAGE_SIZE` at a time
(`Cache.query_stamping_accounts`, whose sorts are all indexed), formatted there, and appended as the
view scrolls (`canFetchMore`/`fetchMore`). A reload after a sync or a command re-reads the rows loaded
so far and, when the same CTIs come back, only announces `dataChanged`, so the selection and the scroll
position stay where they were.

A row is *pending* when a command on its way concerns the CTI (an optimistic value in the cache, a
transfer or an automatic-sale rule waiting in the outbox): it shows in italics on an amber background,
with the commands in its tooltip. C.P.D. and D.R. come from the stored daily usage (see `common`); they
are not sortable (they are not columns of the cache).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from cmdesk.services.outbox import TO_PUSH
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.timbrado.common import (
    CONTEXT,
    KIND_NAMES,
    UsageFigures,
    client_text,
    cpd_text,
    dr_text,
    mx_today,
    tr,
    usage_figures,
    usage_tooltip,
)

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.services.outbox import Outbox
    from cmdesk.ui.tabs import AppContext

Index = QModelIndex | QPersistentModelIndex

PAGE_SIZE = 200
ID_ROLE = int(Qt.ItemDataRole.UserRole)
PENDING_COLOR = QColor(255, 179, 0, 70)  # amber, translucent: readable over light and dark rows


@dataclass
class CtiRow:
    """One CTI as the table shows it: the cache's row, its cells' text, usage figures, pending work."""

    data: dict[str, Any]
    figures: UsageFigures
    pending: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def kind(self) -> str:
        return str(self.data.get("kind") or "standard")

    @property
    def active(self) -> bool:
        return bool(self.data.get("active"))

    @property
    def balance(self) -> int | None:
        value = self.data.get("balance")
        return value if isinstance(value, int) else None

    @property
    def client_id(self) -> str:
        return str(self.data.get("client_id") or "")

    @property
    def client_name(self) -> str:
        return str(self.data.get("client_name") or "")

    @property
    def is_pending(self) -> bool:
        return bool(self.pending) or bool(self.data.get("pending"))


@dataclass(frozen=True)
class CtiColumn:
    """A column: its key, its (source) title, how a row reads in it, and its SQL sorts."""

    key: str
    title: str
    text: Callable[[CtiRow], str]
    sort: tuple[str, str] | None = None  # CTI_ORDERS keys: ascending, descending
    numeric: bool = False
    tip: str = ""


def _num(key: str) -> Callable[[CtiRow], str]:
    def read(row: CtiRow) -> str:
        value = row.data.get(key)
        return fmt.number(value) if isinstance(value, int) else ""

    return read


def _date(key: str) -> Callable[[CtiRow], str]:
    return lambda row: fmt.date(row.data.get(key))


def _balance(row: CtiRow) -> str:
    return fmt.number(row.balance) if row.kind == "standard" and row.balance is not None else tr("Ilimitada")


def _active(row: CtiRow) -> str:
    return tr("Sí") if row.active else tr("No")


COLUMNS: tuple[CtiColumn, ...] = (
    CtiColumn("id", QT_TRANSLATE_NOOP(CONTEXT, "Cuenta"), lambda r: r.id, ("id", "id_desc")),
    CtiColumn(
        "client",
        QT_TRANSLATE_NOOP(CONTEXT, "Cliente"),
        lambda r: client_text(r.data.get("client_nic"), r.client_name),
        ("client", "client_desc"),
    ),
    CtiColumn("kind", QT_TRANSLATE_NOOP(CONTEXT, "Tipo"), lambda r: tr(KIND_NAMES.get(r.kind, r.kind))),
    CtiColumn(
        "created_at",
        QT_TRANSLATE_NOOP(CONTEXT, "F. creación"),
        _date("created_at"),
        ("created_asc", "created_desc"),
        tip=QT_TRANSLATE_NOOP(CONTEXT, "Fecha de creación"),
    ),
    CtiColumn(
        "first_issue_at",
        QT_TRANSLATE_NOOP(CONTEXT, "Primera emisión"),
        _date("first_issue_at"),
        ("first_issue_asc", "first_issue_desc"),
    ),
    CtiColumn(
        "last_issue_at",
        QT_TRANSLATE_NOOP(CONTEXT, "Última emisión"),
        _date("last_issue_at"),
        ("last_issue_asc", "last_issue_desc"),
    ),
    CtiColumn(
        "credited",
        QT_TRANSLATE_NOOP(CONTEXT, "Abonados"),
        _num("credited"),
        ("credited_asc", "credited_desc"),
        True,
        QT_TRANSLATE_NOOP(CONTEXT, "Timbres abonados a la cuenta"),
    ),
    CtiColumn(
        "issued",
        QT_TRANSLATE_NOOP(CONTEXT, "Emitidos"),
        _num("issued"),
        ("issued_asc", "issued_desc"),
        True,
        QT_TRANSLATE_NOOP(CONTEXT, "CFDI emitidos (timbres usados)"),
    ),
    CtiColumn(
        "balance", QT_TRANSLATE_NOOP(CONTEXT, "Saldo"), _balance, ("balance_asc", "balance_desc"), True
    ),
    CtiColumn(
        "cpd",
        QT_TRANSLATE_NOOP(CONTEXT, "C.P.D."),
        lambda r: cpd_text(r.figures),
        numeric=True,
        tip=QT_TRANSLATE_NOOP(CONTEXT, "Consumo Promedio Diario (últimos 30 días)"),
    ),
    CtiColumn(
        "dr",
        QT_TRANSLATE_NOOP(CONTEXT, "D.R."),
        lambda r: dr_text(r.figures, r.kind),
        numeric=True,
        tip=QT_TRANSLATE_NOOP(CONTEXT, "Días Restantes: cuánto dura el saldo a ese consumo"),
    ),
    CtiColumn("active", QT_TRANSLATE_NOOP(CONTEXT, "Activo"), _active),
)
COLUMN_KEYS = [c.key for c in COLUMNS]
DEFAULT_SORT = (COLUMN_KEYS.index("client"), Qt.SortOrder.AscendingOrder)


def pending_by_cti(outbox: Outbox | None) -> dict[str, list[str]]:
    """CTI id → the descriptions of the commands on their way that concern it."""
    out: dict[str, list[str]] = {}
    if outbox is None:
        return out
    for command in outbox.list(TO_PUSH):
        targets: list[str] = []
        if command.entity == "stamping_account" and command.entity_id:
            targets.append(command.entity_id)
        if command.kind == "bulk_transfer" and isinstance(command.body, dict):
            for item in command.body.get("items") or []:
                target = item.get("target") or {}
                if target.get("type") == "stamping_account" and target.get("id"):
                    targets.append(str(target["id"]))
        for cti in dict.fromkeys(targets):
            out.setdefault(cti, []).append(command.description or command.kind)
    return out


def build_rows(cache: Cache, outbox: Outbox | None, data: Sequence[dict[str, Any]]) -> list[CtiRow]:
    """The rows as shown: usage figures from the stored series, pending commands, formatted cells."""
    stored = cache.stamping_usage([str(d["id"]) for d in data])
    pending = pending_by_cti(outbox) if data else {}
    today = mx_today()
    rows = []
    for item in data:
        ident = str(item["id"])
        figures = usage_figures(
            stored.get(ident),
            kind=str(item.get("kind") or "standard"),
            balance=item.get("balance") if isinstance(item.get("balance"), int) else None,
            issued=item.get("issued") if isinstance(item.get("issued"), int) else None,
            today=today,
        )
        row = CtiRow(dict(item), figures, pending.get(ident, []))
        row.cells = [column.text(row) for column in COLUMNS]
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Query:
    q: str = ""
    sort: str = "client"


def load_rows(
    cache: Cache | None, outbox: Outbox | None, query: Query, limit: int, offset: int
) -> tuple[list[CtiRow], int]:
    """A page of rows and the number of CTIs that match (runs in the cache pool)."""
    if cache is None:
        return [], 0
    q = query.q.strip() or None
    data = cache.query_stamping_accounts(q=q, sort=query.sort, limit=limit, offset=offset)
    total = cache.count_stamping_accounts(q=q)
    return build_rows(cache, outbox, data), total


class StampingAccountsModel(QAbstractTableModel):
    """The CTIs, paged in from the cache (see the module docstring)."""

    loaded = Signal()  # the first page of a query, or a reload, is in
    failed = Signal(object)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.columns = COLUMNS
        self._rows: list[CtiRow] = []
        self._total = 0
        self._q = ""
        self._sort_column, self._sort_order = DEFAULT_SORT
        self._generation = 0
        self._fetching = False
        self._loading = False
        self._again = False

    # ---- what is loaded -------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return self._total

    @property
    def loading(self) -> bool:
        return self._loading or self._fetching

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    @property
    def search_text(self) -> str:
        return self._q

    def row(self, index: int) -> CtiRow:
        return self._rows[index]

    def rows(self) -> list[CtiRow]:
        return list(self._rows)

    def row_of(self, cti_id: str) -> int | None:
        for i, row in enumerate(self._rows):
            if row.id == cti_id:
                return i
        return None

    def query(self) -> Query:
        column = self.columns[self._sort_column]
        assert column.sort is not None
        ascending, descending = column.sort
        return Query(self._q, ascending if self._sort_order == Qt.SortOrder.AscendingOrder else descending)

    # ---- loading ----------------------------------------------------------------------------------------

    def set_search(self, text: str) -> None:
        if text.strip() == self._q.strip():
            return
        self._q = text
        self._restart()

    def sortable(self, column: int) -> bool:
        return 0 <= column < len(self.columns) and self.columns[column].sort is not None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in SQL (a new query); columns the cache can't sort by are ignored."""
        if not self.sortable(column) or (column, order) == (self._sort_column, self._sort_order):
            return
        self._sort_column, self._sort_order = column, order
        self._restart()

    def _restart(self) -> None:
        self._generation += 1
        self._loading = False
        self._again = False
        self._fetching = False
        self.reload(first_page=True)

    def reload(self, *, first_page: bool = False) -> None:
        """Read again the rows loaded so far (at least one page; only the first one for a new search
        or sort); one read at a time."""
        session = self.context.session
        if self._loading:
            self._again = True
            return
        self._loading = True
        generation = self._generation
        limit = PAGE_SIZE if first_page else max(PAGE_SIZE, len(self._rows))
        cache = session.cache if session is not None else None
        outbox = session.outbox if session is not None else None
        self.context.ops.run(
            load_rows,
            cache,
            outbox,
            self.query(),
            limit,
            0,
            on_done=lambda result: self._reloaded(generation, result),
            on_error=lambda error: self._failed(generation, error),
            pool="cache",
            label=tr("Leyendo las cuentas de timbrado"),
        )

    def _reloaded(self, generation: int, result: tuple[list[CtiRow], int]) -> None:
        if generation != self._generation:
            return
        rows, total = result
        self._loading = False
        if [r.id for r in rows] == [r.id for r in self._rows] and self._rows:
            self._rows = rows
            self._total = total
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(self.columns) - 1))
        else:
            self.beginResetModel()
            self._rows = rows
            self._total = total
            self.endResetModel()
        self.loaded.emit()
        if self._again:
            self._again = False
            self.reload()

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation == self._generation:
            self._loading = self._fetching = False
            self.failed.emit(error)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if parent.isValid() or self._fetching or self._loading or len(self._rows) >= self._total:
            return
        session = self.context.session
        if session is None:
            return
        self._fetching = True
        generation = self._generation
        offset = len(self._rows)
        self.context.ops.run(
            load_rows,
            session.cache,
            session.outbox,
            self.query(),
            PAGE_SIZE,
            offset,
            on_done=lambda result: self._fetched(generation, offset, result),
            on_error=lambda error: self._failed(generation, error),
            pool="cache",
            label=tr("Leyendo las cuentas de timbrado"),
        )

    def _fetched(self, generation: int, offset: int, result: tuple[list[CtiRow], int]) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        rows, total = result
        if offset != len(self._rows):  # a reload came in between: it has the rows
            return
        known = {r.id for r in self._rows}
        rows = [r for r in rows if r.id not in known]
        if rows:
            self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self._total = max(total, len(self._rows)) if rows else len(self._rows)

    # ---- Qt's model interface ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return tr(column.title)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = tr(column.tip) if column.tip else tr(column.title)
            return text if column.sort else text + "\n" + tr("(no se puede ordenar por esta columna)")
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.FontRole and row.is_pending:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and row.is_pending:
            return PENDING_COLOR
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == ID_ROLE:
            return row.id
        return None

    def _tooltip(self, row: CtiRow, column: CtiColumn) -> str | None:
        lines: list[str] = []
        if column.key in ("cpd", "dr"):
            lines.append(usage_tooltip(row.figures, row.kind))
        elif column.key == "id":
            lines.append(tr("Cuenta de timbrado {id}").format(id=row.id))
        elif column.key == "client":
            lines.append(row.cells[COLUMN_KEYS.index("client")])
        elif column.key == "active":
            lines.append(tr("Doble clic para bloquear o reactivar la cuenta."))
        if row.is_pending:
            lines.append(tr("Pendiente de enviar al servidor:"))
            lines.extend(f"• {text}" for text in row.pending)
            if not row.pending:
                lines.append(tr("• un cambio en esta cuenta"))
        return "\n".join(lines) if lines else None

    def _foreground(self, row: CtiRow, column: CtiColumn) -> QColor | None:
        if column.key == "active" and not row.active:
            return QColor("#d32f2f")
        if column.key in ("cpd", "dr") and not row.figures.fresh:
            app = QApplication.instance()
            if isinstance(app, QApplication):
                return app.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        return None
