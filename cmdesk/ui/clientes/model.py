"""The clients table: the portfolio as the portal lists it, paged from the cache's `clients` table.

The paging, sorting and searching are `kit.table.PagedTableModel`'s (in SQL: `Cache.query_clients_page`,
whose orders are all indexed, so sorting 100,000 clients costs what reading one page costs). This
module says what the table shows: the columns (`COLUMNS`, with the cache's orders that sort by them),
each client's CTI ids (read with its page, drawn under its name by `delegates.NameDelegate`), and the
roles beyond the text — the color swatch, the tooltips, a dimmed dropped client, a pending one in
italics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from cmdesk.domain import names
from cmdesk.domain.portfolio import ClientCategory, ClientSort
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui.kit import forecasts, labels
from cmdesk.ui.kit.forms import secondary_color
from cmdesk.ui.kit.table import CENTER, RIGHT, Column, PagedTableModel, Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.services.cache.risk import Purchase
    from cmdesk.ui.kit.actions import AppContext

PAGE_SIZE = 100  # a screenful is ~20 rows: a small first page shows sooner
CONTEXT = "clientes"

# Beyond the kit's roles (the id, the record, the row): the client's CTI ids.
CTI_ROLE = int(Qt.ItemDataRole.UserRole) + 3


tr = translator(CONTEXT)


@dataclass(frozen=True)
class ClientRow:
    """One client as the table shows it: its cache row, its CTI ids (oldest first) and, when it runs
    out within 30 days, its usual purchase and what a refill costs (`Cache.purchases`)."""

    id: str
    data: Mapping[str, Any]
    cti_ids: tuple[str, ...]
    purchase: Purchase | None = None


def _column(key: str, title: str, kind: str = "text", sort: str | None = None, **more: Any) -> Column:
    """A column sorted by the cache's order `sort` and its `_desc` twin (the manual's names)."""
    orders = None
    if sort is not None:
        orders = (sort, f"{sort}_desc") if not sort.endswith("_asc") else (sort, sort[:-4] + "_desc")
    return Column(key, title, kind, sort=orders, context=CONTEXT, **more)


def _nic(row: ClientRow) -> str:
    return str(row.data.get("nic") or "") or tr("Pendiente")


COLUMNS: tuple[Column, ...] = (
    _column(
        "favorite",
        QT_TRANSLATE_NOOP(CONTEXT, "★"),
        "favorite",
        value=lambda r: "★" if r.data.get("favorite") else "☆",
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Favorito: haga clic en la estrella para marcarlo o quitarlo"),
        align=CENTER,
    ),
    _column(
        "color",
        QT_TRANSLATE_NOOP(CONTEXT, "Color"),
        "color",
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Etiqueta de color: haga clic para elegirla"),
    ),
    _column("nic", QT_TRANSLATE_NOOP(CONTEXT, "NIC"), sort="nic", value=_nic),
    _column("name", QT_TRANSLATE_NOOP(CONTEXT, "Nombre / cuentas de timbrado"), "name", sort="name"),
    _column("credited", QT_TRANSLATE_NOOP(CONTEXT, "Abonados"), "number", sort="credited"),
    _column("issued", QT_TRANSLATE_NOOP(CONTEXT, "Usados"), "number", sort="issued"),
    _column("stamps", QT_TRANSLATE_NOOP(CONTEXT, "Timbres"), "number", sort="stamps_asc"),
    _column(
        "cpd",
        QT_TRANSLATE_NOOP(CONTEXT, "C.P.D."),
        sort="cpd",
        value=lambda r: forecasts.cpd_text(r.data.get("fc_cpd")),
        align=RIGHT,
        tooltip=QT_TRANSLATE_NOOP(
            CONTEXT, "Consumo Promedio Diario de sus cuentas estándar activas (últimos 30 días)"
        ),
    ),
    _column(
        "days_left",
        QT_TRANSLATE_NOOP(CONTEXT, "D.R."),
        sort="days_left",
        value=lambda r: forecasts.dr_text(r.data.get("days_left"), r.data.get("risk"), r.data.get("fc_cpd")),
        align=RIGHT,
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Días Restantes: cuánto duran sus timbres a ese consumo"),
    ),
    _column("points", QT_TRANSLATE_NOOP(CONTEXT, "Puntos"), "number", sort="points_asc"),
    _column(
        "created_at", QT_TRANSLATE_NOOP(CONTEXT, "Fecha\nalta"), "date", sort="created_asc", align=CENTER
    ),
    _column(
        "last_purchase_at",
        QT_TRANSLATE_NOOP(CONTEXT, "Última\ncompra"),
        "date",
        sort="last_purchase_asc",
        align=CENTER,
    ),
    _column(
        "last_issue_at",
        QT_TRANSLATE_NOOP(CONTEXT, "Última\nemisión"),
        "date",
        sort="last_issue_asc",
        align=CENTER,
    ),
    _column("active", QT_TRANSLATE_NOOP(CONTEXT, "Activo"), "bool", align=CENTER),
    _column(
        "actions",
        QT_TRANSLATE_NOOP(CONTEXT, "Acciones"),
        "actions",
        value=lambda _r: "",
        tooltip=QT_TRANSLATE_NOOP(
            CONTEXT,
            "Licencias: ver y generar licencias MKL · Timbres…: transferir timbres a una cuenta de timbrado "
            "del cliente · Puntos…: transferir puntos al cliente",
        ),
    ),
)
COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}

# The manual's twelve orders ("Ordenar por"), in its order, with their Spanish names.
TWELVE_ORDERS: tuple[tuple[str, str], ...] = tuple(labels.items(names.CLIENT_SORTS))


def client_query(
    q: str = "",
    *,
    category: str = ClientCategory.ALL,
    color: str | None = None,
    risk: str | None = None,
    sort: str = ClientSort.NAME,
) -> Query:
    """What the view shows: API.md's `q`, the category (all · favorites · dropped), a color, a risk
    band (`RiskBand` value) and one of the cache's client orders."""
    return Query(q=q, sort=str(sort)).filtered(category=str(category), color=color, risk=risk)


def load_clients(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return cache.query_clients_page(
        q=query.q or None,
        category=query.get("category", "all"),
        color=query.get("color"),
        risk=query.get("risk"),
        sort=query.sort or ClientSort.NAME,
        limit=limit,
        offset=offset,
    )


def count_clients(cache: Cache, query: Query) -> int:
    return cache.count_clients(
        q=query.q or None,
        category=query.get("category", "all"),
        color=query.get("color"),
        risk=query.get("risk"),
    )


def with_cti_ids(cache: Cache, records: list[dict[str, Any]]) -> list[ClientRow]:
    ctis = cache.cti_ids_by_client([r["id"] for r in records])
    # The usual purchase and its price, for the clients that run out within 30 days (the Riesgo view).
    purchases = cache.purchases([r["id"] for r in records if forecasts.risk_color(r.get("risk")) is not None])
    return [ClientRow(str(r["id"]), r, tuple(ctis.get(r["id"], ())), purchases.get(r["id"])) for r in records]


_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_FAVORITE = COLUMN_INDEX["favorite"]
_COLOR = COLUMN_INDEX["color"]
_DAYS_LEFT = COLUMN_INDEX["days_left"]


class ClientsModel(PagedTableModel):
    """The clients table (see the module docstring)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            context,
            COLUMNS,
            load_clients,
            counter=count_clients,
            prepare=with_cti_ids,
            query=client_query(),
            page_size=PAGE_SIZE,
            parent=parent,
        )
        self._dim: QBrush | None = None
        self._italic: QFont | None = None
        self._star = QBrush(QColor("#e6a100"))
        self._swatches = {name: QColor(value) for name, value in labels.COLOR_SWATCHES.items()}

    def extra_data(self, row: int, column: int, role: int) -> Any:
        client: ClientRow = self._rows[row]
        if role == _FOREGROUND:
            if column == _FAVORITE and client.data.get("favorite"):
                return self._star
            if column == _DAYS_LEFT and (color := forecasts.risk_color(client.data.get("risk"))):
                return color
            if client.data.get("dropped") or client.data.get("pending"):
                if self._dim is None:
                    roles = QPalette.ColorRole
                    self._dim = QBrush(secondary_color(QApplication.palette(), roles.Text, roles.Base))
                return self._dim
            return None
        if role == _FONT:
            if not client.data.get("pending"):
                return None
            if self._italic is None:  # made on first use: a QFont wants the QApplication to exist
                self._italic = QFont()
                self._italic.setItalic(True)
            return self._italic
        if role == _DECORATION:
            return self._swatches.get(str(client.data.get("color"))) if column == _COLOR else None
        if role == CTI_ROLE:
            return list(client.cti_ids)
        if role == _TOOLTIP:
            return self._tooltip(client, COLUMNS[column])
        return None

    def _tooltip(self, row: ClientRow, column: Column) -> str | None:
        if row.data.get("pending"):
            return tr("Cambio pendiente de enviar al servidor")
        if column.key == "name":
            lines = [str(row.data.get("name") or "")]
            if row.data.get("trade_name"):
                lines.append(str(row.data["trade_name"]))
            if row.cti_ids:
                lines.append(tr("Cuentas de timbrado: {ids}").format(ids=", ".join(row.cti_ids)))
            if row.data.get("dropped"):
                lines.append(tr("Cliente dado de baja"))
            return "\n".join(lines)
        if column.kind == "color":
            color = row.data.get("color")
            name = labels.color(color) if color else tr("Sin color")
            return name + " — " + column.tooltip_text()
        if column.kind in ("favorite", "actions"):
            return column.tooltip_text()
        if column.key == "days_left":
            lines = [forecasts.dr_tooltip(row.data.get("days_left"), row.data.get("risk"))]
            lines += forecasts.purchase_lines(row.purchase)
            return "\n".join(lines)
        return None


__all__ = [
    "COLUMNS",
    "COLUMN_INDEX",
    "CTI_ROLE",
    "TWELVE_ORDERS",
    "ClientRow",
    "ClientsModel",
    "client_query",
]
