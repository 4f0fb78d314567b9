"""The Timbrado tab's table: the CTIs of the cache, searched, sorted and paged in SQL.

The paging is `kit.table.PagedTableModel`'s (`Cache.query_stamping_accounts`, whose sorts are all
indexed); a reload after a sync or a command re-reads the rows loaded so far and, when the same CTIs
come back, only announces `dataChanged`, so the selection and the scroll stay where they were. This
module says what the table shows: the columns (`COLUMNS`), each CTI's usage figures and the commands on
their way that concern it (both read with its page: `prepare`), and the roles beyond the text.

A row is *pending* when a command on its way concerns the CTI (an optimistic value in the cache, a
transfer or an automatic-sale rule waiting in the outbox): it shows in italics on an amber background,
with the commands in its tooltip. C.P.D. and D.R. are columns of the cache, computed from the usage
summary of the feed as rows are written (`cmdesk.services.cache.forecasts`): sortable, filtered by the
Riesgo combo (`risk`), offline, with no request per row; a D.R. in a risk band shows in its color.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from cmdesk.domain import clock
from cmdesk.domain.forecast import RiskBand
from cmdesk.domain.unlimited import can_stamp
from cmdesk.services.outbox import TO_PUSH
from cmdesk.services.server_info import server_now
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui.kit import forecasts, labels
from cmdesk.ui.kit.table import RIGHT, Column, PagedTableModel, Query
from cmdesk.ui.timbrado.common import (
    CONTEXT,
    CPD_DAYS,
    UsageFigures,
    client_text,
    tr,
    usage_figures,
)
from cmdesk.ui.timbrado.unlimited import fee_problem, fee_text

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.services.outbox import Outbox
    from cmdesk.ui.kit.actions import AppContext

PAGE_SIZE = 200
PENDING_COLOR = QColor(255, 179, 0, 70)  # amber, translucent: readable over light and dark rows


@dataclass
class CtiRow:
    """One CTI as the table shows it: the cache's row, its usage figures, the commands on their way."""

    data: dict[str, Any]
    figures: UsageFigures
    pending: list[str] = field(default_factory=list)

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


def _column(
    key: str, title: str, text: Callable[[CtiRow], str] | None = None, sort: str | None = None, **more: Any
) -> Column:
    """A column sorted by the cache's order `sort` (`<sort>_asc` / `<sort>_desc`, or `<sort>` and
    `<sort>_desc` for the client and the id)."""
    orders = None
    if sort is not None:
        orders = (sort, f"{sort}_desc") if sort in ("client", "id") else (f"{sort}_asc", f"{sort}_desc")
    return Column(key, title, more.pop("kind", "text"), value=text, sort=orders, context=CONTEXT, **more)


def _balance(row: CtiRow) -> str:
    return format(row.balance, ",") if row.kind == "standard" and row.balance is not None else tr("Ilimitada")


COLUMNS: tuple[Column, ...] = (
    _column("id", QT_TRANSLATE_NOOP(CONTEXT, "Cuenta"), lambda r: r.id, "id"),
    _column(
        "client",
        QT_TRANSLATE_NOOP(CONTEXT, "Cliente"),
        lambda r: client_text(r.data.get("client_nic"), r.client_name),
        "client",
    ),
    _column("kind", QT_TRANSLATE_NOOP(CONTEXT, "Tipo"), lambda r: labels.cti_kind(r.kind)),
    _column(
        "created_at",
        QT_TRANSLATE_NOOP(CONTEXT, "F. creación"),
        sort="created",
        kind="date",
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Fecha de creación"),
    ),
    _column("first_issue_at", QT_TRANSLATE_NOOP(CONTEXT, "Primera emisión"), sort="first_issue", kind="date"),
    _column("last_issue_at", QT_TRANSLATE_NOOP(CONTEXT, "Última emisión"), sort="last_issue", kind="date"),
    _column(
        "credited",
        QT_TRANSLATE_NOOP(CONTEXT, "Abonados"),
        sort="credited",
        kind="number",
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Timbres abonados a la cuenta"),
    ),
    _column(
        "issued",
        QT_TRANSLATE_NOOP(CONTEXT, "Emitidos"),
        sort="issued",
        kind="number",
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "CFDI emitidos (timbres usados)"),
    ),
    _column("balance", QT_TRANSLATE_NOOP(CONTEXT, "Saldo"), _balance, "balance", align=RIGHT),
    _column(
        "paid_until",
        QT_TRANSLATE_NOOP(CONTEXT, "Pagada hasta"),
        lambda r: fee_text(r.kind, r.data.get("paid_until"), short=True),
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Cuentas ilimitadas: hasta cuándo está pagada su cuota anual"),
    ),
    _column(
        "cpd",
        QT_TRANSLATE_NOOP(CONTEXT, "C.P.D."),
        lambda r: forecasts.cpd_text(r.data.get("cpd")),
        "cpd",
        align=RIGHT,
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Consumo Promedio Diario (últimos 30 días)"),
    ),
    _column(
        "dr",
        QT_TRANSLATE_NOOP(CONTEXT, "D.R."),
        lambda r: forecasts.dr_text(r.data.get("days_left"), r.data.get("risk"), r.data.get("cpd")),
        "dr",
        align=RIGHT,
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Días Restantes: cuánto dura el saldo a ese consumo"),
    ),
    _column("active", QT_TRANSLATE_NOOP(CONTEXT, "Activo"), kind="bool"),
)
COLUMN_KEYS = [c.key for c in COLUMNS]
DEFAULT_SORT = "client"


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
    """The rows as shown: usage figures from the stored series, and the commands on their way."""
    stored = cache.stamping_usage([str(d["id"]) for d in data])
    pending = pending_by_cti(outbox) if data else {}
    today = clock.today(server_now())
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
        rows.append(CtiRow(dict(item), figures, pending.get(ident, [])))
    return rows


def load_ctis(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return cache.query_stamping_accounts(
        q=query.q.strip() or None,
        risk=query.get("risk"),
        sort=query.sort or DEFAULT_SORT,
        limit=limit,
        offset=offset,
    )


def count_ctis(cache: Cache, query: Query) -> int:
    return cache.count_stamping_accounts(q=query.q.strip() or None, risk=query.get("risk"))


_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)


class StampingAccountsModel(PagedTableModel):
    """The CTIs, paged in from the cache (see the module docstring)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            context,
            COLUMNS,
            load_ctis,
            counter=count_ctis,
            prepare=self._prepare,
            query=Query(sort=DEFAULT_SORT),
            page_size=PAGE_SIZE,
            parent=parent,
        )
        self._italic = QFont()
        self._italic.setItalic(True)

    def _prepare(self, cache: Cache, records: list[dict[str, Any]]) -> list[CtiRow]:
        # In the cache pool: the outbox is read there too (its own connection, like the cache's).
        session = self.context.session
        return build_rows(cache, session.outbox if session is not None else None, records)

    def header_tooltip(self, column: Column) -> str | None:
        text = column.tooltip_text() or column.title_text()
        return text if column.sort else text + "\n" + tr("(no se puede ordenar por esta columna)")

    def set_risk(self, risk: str | None) -> None:
        """Only the CTIs that run out within a band (`RiskBand` value), the soonest first (those
        without use by client), or all (None). Both orders are an index range of the band."""
        if risk == self.query.get("risk"):
            return
        query = self.query.filtered(risk=risk or None)
        if risk:
            query = query.with_(sort=DEFAULT_SORT if risk == RiskBand.NO_USE else "dr_asc")
        self.set_query(query)

    def extra_data(self, row: int, column: int, role: int) -> Any:
        cti: CtiRow = self._rows[row]
        if role == _TOOLTIP:
            return self._tooltip(cti, row, COLUMNS[column])
        if role == _FONT:
            return self._italic if cti.is_pending else None
        if role == _BACKGROUND:
            return PENDING_COLOR if cti.is_pending else None
        if role == _FOREGROUND:
            key = COLUMNS[column].key
            if key == "active" and not cti.active:
                return QColor("#d32f2f")
            if key == "paid_until" and not can_stamp(cti.kind, cti.data.get("paid_until"), server_now()):
                return QColor("#d32f2f")
            if key == "dr":
                return forecasts.risk_color(cti.data.get("risk"))
        return None

    def _tooltip(self, cti: CtiRow, row: int, column: Column) -> str | None:
        lines: list[str] = []
        if column.key == "dr":
            lines.append(forecasts.dr_tooltip(cti.data.get("days_left"), cti.data.get("risk")))
        elif column.key == "cpd":
            lines.append(tr("Consumo promedio diario de los últimos {n} días.").format(n=CPD_DAYS))
        elif column.key == "id":
            lines.append(tr("Cuenta de timbrado {id}").format(id=cti.id))
        elif column.key == "client":
            lines.append(self._texts[row][COLUMN_KEYS.index("client")])
        elif column.key == "active":
            lines.append(tr("Doble clic para bloquear o reactivar la cuenta."))
        elif column.key == "paid_until" and cti.kind == "unlimited":
            lines.append(
                fee_problem(cti.kind, cti.data.get("paid_until"))
                or tr("Doble clic para renovar la cuota anual.")
            )
        if cti.is_pending:
            lines.append(tr("Pendiente de enviar al servidor:"))
            lines.extend(f"• {text}" for text in cti.pending)
            if not cti.pending:
                lines.append(tr("• un cambio en esta cuenta"))
        return "\n".join(lines) if lines else None
