"""The clients table: one model over the cache's `clients` table, paged, sorted and filtered in SQL.

The model never holds the whole portfolio: it knows how many clients the view has (`total`) and holds
the pages read so far; the view asks for more as the user scrolls (`canFetchMore`/`fetchMore`), and
each page is read in the cache pool (`Operations`, pool "cache") and formatted there, so the UI thread
only appends rows. A new search, filter or order (`set_query`) reads the first page again; results of
an older query that arrive late are dropped (`generation`).

Columns are declared as data (`COLUMNS`): their title, how a row shows in them, and which of the
cache's orders (`Cache.query_clients(sort=...)`) sorts by them — the header sorts in SQL, never in
Python, so sorting 100,000 clients costs what reading one page costs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.tabs import COLOR_NAMES, COLOR_SWATCHES

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.ui.operations import Operations

Index = QModelIndex | QPersistentModelIndex

PAGE_SIZE = 100  # a screenful is ~20 rows: a small first page shows sooner

# Roles beyond Qt's: the client's id, its whole row (a dict), and its CTI ids.
ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 2
CTI_ROLE = int(Qt.ItemDataRole.UserRole) + 3


def tr(text: str) -> str:
    return QCoreApplication.translate("clientes", text)


@dataclass(frozen=True)
class ClientQuery:
    """What the view shows: API.md's `q`, the category (all · favorites · dropped), a color and one
    of `Cache.query_clients`'s orders."""

    q: str = ""
    category: str = "all"
    color: str | None = None
    sort: str = "name"

    def with_(self, **changes: Any) -> ClientQuery:
        return replace(self, **changes)


@dataclass(frozen=True)
class ClientColumn:
    """A column: its key, its title (source text, "clientes" context), its kind (how it shows) and
    the cache orders that sort by it ascending and descending (None: not sortable)."""

    key: str
    title: str
    kind: str = "text"  # text · number · date · bool · favorite · color · actions
    sort: tuple[str, str] | None = None
    tooltip: str = ""


COLUMNS: tuple[ClientColumn, ...] = (
    ClientColumn(
        "favorite",
        QT_TRANSLATE_NOOP("clientes", "★"),
        "favorite",
        tooltip=QT_TRANSLATE_NOOP("clientes", "Favorito: haga clic en la estrella para marcarlo o quitarlo"),
    ),
    ClientColumn(
        "color",
        QT_TRANSLATE_NOOP("clientes", "Color"),
        "color",
        tooltip=QT_TRANSLATE_NOOP("clientes", "Etiqueta de color: haga clic para elegirla"),
    ),
    ClientColumn("nic", QT_TRANSLATE_NOOP("clientes", "NIC"), "text", ("nic", "nic_desc")),
    ClientColumn(
        "name", QT_TRANSLATE_NOOP("clientes", "Nombre / cuentas de timbrado"), "name", ("name", "name_desc")
    ),
    ClientColumn(
        "credited", QT_TRANSLATE_NOOP("clientes", "Abonados"), "number", ("credited", "credited_desc")
    ),
    ClientColumn("issued", QT_TRANSLATE_NOOP("clientes", "Usados"), "number", ("issued", "issued_desc")),
    ClientColumn("stamps", QT_TRANSLATE_NOOP("clientes", "Timbres"), "number", ("stamps_asc", "stamps_desc")),
    ClientColumn("points", QT_TRANSLATE_NOOP("clientes", "Puntos"), "number", ("points_asc", "points_desc")),
    ClientColumn(
        "created_at", QT_TRANSLATE_NOOP("clientes", "Fecha\nalta"), "date", ("created_asc", "created_desc")
    ),
    ClientColumn(
        "last_purchase_at",
        QT_TRANSLATE_NOOP("clientes", "Última\ncompra"),
        "date",
        ("last_purchase_asc", "last_purchase_desc"),
    ),
    ClientColumn(
        "last_issue_at",
        QT_TRANSLATE_NOOP("clientes", "Última\nemisión"),
        "date",
        ("last_issue_asc", "last_issue_desc"),
    ),
    ClientColumn("active", QT_TRANSLATE_NOOP("clientes", "Activo"), "bool"),
    ClientColumn(
        "actions",
        QT_TRANSLATE_NOOP("clientes", "Acciones"),
        "actions",
        tooltip=QT_TRANSLATE_NOOP(
            "clientes",
            "Licencias: ver y generar licencias MKL · Timbres…: transferir timbres a una cuenta de timbrado "
            "del cliente · Puntos…: transferir puntos al cliente",
        ),
    ),
)
COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}

# The manual's twelve orders ("Ordenar por"), in its order, with their Spanish names.
TWELVE_ORDERS: tuple[tuple[str, str], ...] = (
    ("name", QT_TRANSLATE_NOOP("clientes", "Nombre del cliente")),
    ("nic", QT_TRANSLATE_NOOP("clientes", "NIC")),
    ("stamps_desc", QT_TRANSLATE_NOOP("clientes", "Mayor saldo de timbres")),
    ("stamps_asc", QT_TRANSLATE_NOOP("clientes", "Menor saldo de timbres")),
    ("points_desc", QT_TRANSLATE_NOOP("clientes", "Mayor saldo de puntos")),
    ("points_asc", QT_TRANSLATE_NOOP("clientes", "Menor saldo de puntos")),
    ("last_purchase_desc", QT_TRANSLATE_NOOP("clientes", "Compra de timbres más reciente")),
    ("last_purchase_asc", QT_TRANSLATE_NOOP("clientes", "Compra de timbres más antigua")),
    ("created_desc", QT_TRANSLATE_NOOP("clientes", "Fecha de alta más reciente")),
    ("created_asc", QT_TRANSLATE_NOOP("clientes", "Fecha de alta más antigua")),
    ("last_issue_desc", QT_TRANSLATE_NOOP("clientes", "Última emisión más reciente")),
    ("last_issue_asc", QT_TRANSLATE_NOOP("clientes", "Última emisión más antigua")),
)


def column_for_sort(sort: str) -> tuple[int, Qt.SortOrder] | None:
    """The column (and direction) whose header shows `sort`, if one does."""
    for index, column in enumerate(COLUMNS):
        if column.sort is None:
            continue
        if sort == column.sort[0]:
            return index, Qt.SortOrder.AscendingOrder
        if sort == column.sort[1]:
            return index, Qt.SortOrder.DescendingOrder
    return None


@dataclass(frozen=True)
class ClientRow:
    """One client as the table shows it: its cache row, its CTI ids and every cell's text, formatted
    in the worker."""

    id: str
    data: Mapping[str, Any]
    cti_ids: tuple[str, ...]
    texts: tuple[str, ...]


@functools.lru_cache(maxsize=65_536)
def _date_of_hour(hour: str) -> str:
    return fmt.date(hour + ":00:00Z")


def date_text(value: Any) -> str:
    """`dd/MM/yyyy` in Mexico City of a stored UTC time. The local date depends only on the UTC hour
    (the zone's offsets are whole hours), so it is computed once per hour seen: formatting 100 rows
    of three dates each stays well under a millisecond."""
    if not value:
        return ""
    text = str(value)
    if len(text) >= 13 and text[10:11] == "T":
        return _date_of_hour(text[:13])
    return fmt.date(value)


def format_row(data: Mapping[str, Any], cti_ids: Sequence[str]) -> ClientRow:
    texts: list[str] = []
    for column in COLUMNS:
        value = data.get(column.key)
        if column.kind == "number":
            # es-MX groups thousands with "," — as Python's own "," format does (no QLocale call).
            texts.append(format(int(value or 0), ","))
        elif column.kind == "date":
            texts.append(date_text(value))
        elif column.kind == "bool":
            texts.append(tr("Sí") if value else tr("No"))
        elif column.kind == "color":
            texts.append(tr(COLOR_NAMES[value]) if value in COLOR_NAMES else "")
        elif column.kind == "favorite":
            texts.append("★" if value else "☆")
        elif column.kind == "actions":
            texts.append("")
        elif column.key == "nic":
            texts.append(str(value or "") or tr("Pendiente"))
        else:
            texts.append(str(value or ""))
    return ClientRow(str(data["id"]), dict(data), tuple(cti_ids), tuple(texts))


@dataclass(frozen=True)
class Page:
    generation: int
    offset: int
    rows: list[ClientRow]
    total: int | None  # counted with the first page only


def count_rows(cache: Cache, query: ClientQuery, generation: int) -> tuple[int, int]:
    """How many clients the view has (runs in the cache pool, after the first page is shown)."""
    return generation, cache.count_clients(q=query.q or None, category=query.category, color=query.color)


def read_page(
    cache: Cache, query: ClientQuery, offset: int, limit: int, count: bool, generation: int
) -> Page:
    """One page of the view, formatted (runs in the cache pool)."""
    rows = cache.query_clients_page(
        q=query.q or None,
        category=query.category,
        color=query.color,
        sort=query.sort,
        limit=limit,
        offset=offset,
    )
    ctis = cache.cti_ids_by_client([r["id"] for r in rows]) if rows else {}
    total = (
        cache.count_clients(q=query.q or None, category=query.category, color=query.color) if count else None
    )
    return Page(generation, offset, [format_row(r, ctis.get(r["id"], [])) for r in rows], total)


CacheGetter = Callable[[], "Cache | None"]


class ClientsModel(QAbstractTableModel):
    """See the module docstring. `loaded(total)` is emitted each time a query's first page arrived
    (and `page_loaded` after every page), so views and tests can wait for it."""

    loaded = Signal(int)
    counted = Signal(int)  # the view's exact number of clients (read after the first page)
    page_loaded = Signal()
    failed = Signal(str)

    def __init__(self, ops: Operations, cache: CacheGetter, parent: Any = None) -> None:
        super().__init__(parent)
        self._ops = ops
        self._cache = cache
        self.query = ClientQuery()
        self.rows: list[ClientRow] = []
        self.total = 0
        self.generation = 0
        self._fetching = False
        self._reloading = False
        self._inserting = False
        self._dim: QBrush | None = None
        self.exact = True  # whether `total` is the counted number (not "loaded + 1")
        self.last_started = 0.0  # perf_counter() when the latest query was sent (for the benchmark)

    # ---- loading ------------------------------------------------------------------------------------

    def set_query(self, query: ClientQuery) -> None:
        """Show another search, filter or order (the first page again)."""
        self.query = query
        self.reload(keep=0)

    def reload(self, keep: int | None = None) -> None:
        """Read the view again (after a sync or a command), as many rows as are loaded (`keep`)."""
        cache = self._cache()
        self.generation += 1
        if cache is None:  # signed out (or the session is opening): nothing to show
            self._fetching = self._reloading = False
            if self.rows or self.total:
                self.beginResetModel()
                self.rows, self.total = [], 0
                self.endResetModel()
            self.loaded.emit(0)
            return
        self._fetching = False
        self.last_started = time.perf_counter()
        limit = max(PAGE_SIZE, len(self.rows) if keep is None else keep)
        self._reloading = True
        self._ops.run(
            read_page,
            cache,
            self.query,
            0,
            limit,
            False,
            self.generation,
            on_done=self._first_page,
            on_error=self._failed,
            pool="cache",
            label=tr("Leyendo clientes"),
        )

    def _first_page(self, page: Page) -> None:
        if not shiboken6.isValid(self) or page.generation != self.generation:
            return
        self._reloading = False
        full = len(page.rows) >= max(PAGE_SIZE, 1)
        self.beginResetModel()
        self.rows = page.rows
        # The count comes after the rows (a search shows sooner); meanwhile "one more" keeps
        # fetchMore going. A page that is not full is the whole view: no count needed.
        self.total = len(page.rows) + (1 if full else 0)
        self.exact = not full
        self.endResetModel()
        self.loaded.emit(self.total)
        self.page_loaded.emit()
        cache = self._cache()
        if not full:
            self.counted.emit(self.total)
        elif cache is not None:
            self._ops.run(
                count_rows,
                cache,
                self.query,
                self.generation,
                on_done=self._counted,
                on_error=self._failed,
                pool="cache",
                label=tr("Contando clientes"),
            )

    def _counted(self, result: tuple[int, int]) -> None:
        generation, total = result
        if not shiboken6.isValid(self) or generation != self.generation:
            return
        self.total = max(total, len(self.rows))
        self.exact = True
        self.counted.emit(self.total)

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self._fetching = False
        self._reloading = False
        self.failed.emit(str(error) or type(error).__name__)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and len(self.rows) < self.total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if (
            parent.isValid()
            or self._fetching
            or self._reloading
            or self._inserting
            or not self.canFetchMore()
        ):
            return
        cache = self._cache()
        if cache is None:
            return
        self._fetching = True
        self._ops.run(
            read_page,
            cache,
            self.query,
            len(self.rows),
            PAGE_SIZE,
            False,
            self.generation,
            on_done=self._more,
            on_error=self._failed,
            pool="cache",
            label=tr("Leyendo clientes"),
        )

    def _more(self, page: Page) -> None:
        if not shiboken6.isValid(self) or page.generation != self.generation:
            return  # an older query's page: a reload is on its way
        self._fetching = False
        if page.offset != len(self.rows):
            return
        if page.rows:
            first = len(self.rows)
            # No fetchMore while the rows go in (views and testers ask from inside these signals).
            self._inserting = True
            try:
                self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
                self.rows.extend(page.rows)
                self.endInsertRows()
            finally:
                self._inserting = False
        else:
            self.total = len(self.rows)  # the view shrank meanwhile; a reload follows
        self.page_loaded.emit()

    @property
    def busy(self) -> bool:
        return self._fetching or self._reloading

    # ---- reading ------------------------------------------------------------------------------------

    def row_at(self, row: int) -> ClientRow | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def row_of(self, client_id: str) -> int:
        for i, row in enumerate(self.rows):
            if row.id == client_id:
                return i
        return -1

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return tr(column.title)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip:
            return tr(column.tooltip)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # A short dispatch: the view asks ~10 roles per cell on every paint (each call costs a few µs
        # from C++ into Python), so the roles this model never answers return first.
        if role not in _ROLES or not index.isValid():
            return None
        r = index.row()
        if not 0 <= r < len(self.rows):
            return None
        row = self.rows[r]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.texts[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN[column.kind]
        if role == Qt.ItemDataRole.DecorationRole:
            color = row.data.get("color")
            return (
                QColor(COLOR_SWATCHES[color]) if column.kind == "color" and color in COLOR_SWATCHES else None
            )
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == Qt.ItemDataRole.FontRole:
            return _italic() if row.data.get("pending") else None
        if role == ID_ROLE:
            return row.id
        if role == ROW_ROLE:
            return row.data
        if role == CTI_ROLE:
            return list(row.cti_ids)
        return None

    def _tooltip(self, row: ClientRow, column: ClientColumn) -> str | None:
        if row.data.get("pending"):
            return tr("Cambio pendiente de enviar al servidor")
        if column.key == "name":
            lines = [row.data.get("name") or ""]
            if row.data.get("trade_name"):
                lines.append(str(row.data["trade_name"]))
            if row.cti_ids:
                lines.append(tr("Cuentas de timbrado: {ids}").format(ids=", ".join(row.cti_ids)))
            if row.data.get("dropped"):
                lines.append(tr("Cliente dado de baja"))
            return "\n".join(lines)
        if column.kind == "color":
            color = row.data.get("color")
            name = tr(COLOR_NAMES[color]) if color in COLOR_NAMES else tr("Sin color")
            return name + " — " + tr(column.tooltip)
        if column.kind in ("favorite", "actions"):
            return tr(column.tooltip)
        return None

    def _foreground(self, row: ClientRow, column: ClientColumn) -> QBrush | None:
        if column.kind == "favorite" and row.data.get("favorite"):
            return QBrush(QColor("#e6a100"))
        if row.data.get("dropped") or row.data.get("pending"):
            if self._dim is None:
                self._dim = QApplication.palette().brush(
                    QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text
                )
            return self._dim
        return None


_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTER = int(Qt.AlignmentFlag.AlignCenter)
_ALIGN = {
    "text": _LEFT,
    "name": _LEFT,
    "number": _RIGHT,
    "date": _CENTER,
    "bool": _CENTER,
    "favorite": _CENTER,
    "color": _LEFT,
    "actions": _LEFT,
}
_ROLES = frozenset(
    {
        int(Qt.ItemDataRole.DisplayRole),
        int(Qt.ItemDataRole.TextAlignmentRole),
        int(Qt.ItemDataRole.DecorationRole),
        int(Qt.ItemDataRole.ToolTipRole),
        int(Qt.ItemDataRole.ForegroundRole),
        int(Qt.ItemDataRole.FontRole),
        ID_ROLE,
        ROW_ROLE,
        CTI_ROLE,
    }
)
_ITALIC: list[QFont] = []


def _italic() -> QFont:
    if not _ITALIC:  # made on first use: a QFont wants the QApplication to exist
        font = QFont()
        font.setItalic(True)
        _ITALIC.append(font)
    return _ITALIC[0]
