"""The main window's tabs: the portal's menus, as a registry of pages that later code replaces by name.

    from cmdesk.ui import tabs

    class ClientsPage(tabs.TabPage):
        entities = frozenset({"client", "stamping_account"})
        def refresh(self, changed: frozenset[str]) -> None: ...

    tabs.register("clientes.clientes", ClientsPage)   # before the main window is built

The layout (`LAYOUT`) mirrors the portal: Clientes (with Clientes, Timbrado and Distribuidores),
Facturación, Compras, Software, Herramientas (Precios, Usuarios, Configuraciones globales) and Ayuda.
A page is a `TabPage`: a QWidget built from the `AppContext` (the session and the background
operations) whose `refresh(changed)` is called with the entities a sync or a command changed
(`EVERYTHING` after the session starts). `wants(changed)` tells whether those concern the page.

Until the real pages exist, each one is a `TablePage`: a read-only table of its entity, read from the
cache in the cache pool and formatted there (Spanish dates and money), so the UI thread only swaps
rows in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedLayout,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import cmdesk
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui.operations import Operations

# `refresh(EVERYTHING)`: reload whatever the page shows (the session just started or changed).
EVERYTHING: frozenset[str] = frozenset({"*"})

Index = QModelIndex | QPersistentModelIndex


def tr(text: str) -> str:
    return QCoreApplication.translate("tabs", text)


@dataclass
class AppContext:
    """What every page works with. `session` is replaced when the user changes server, so pages
    read it here each time instead of keeping it."""

    ops: Operations
    session: DesktopSession | None = None


class TabPage(QWidget):
    """A page of the main window (see the module docstring)."""

    # The cache entities this page shows; `wants` compares them with what changed.
    entities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context

    def wants(self, changed: frozenset[str]) -> bool:
        return "*" in changed or bool(self.entities & changed)

    def refresh(self, changed: frozenset[str]) -> None:
        """Reload what the page shows if `changed` concerns it. Never block: use `context.ops`."""
        raise NotImplementedError


PageFactory = Callable[[AppContext], TabPage]


@dataclass(frozen=True)
class TabSpec:
    """One tab: `name` is its address in the registry (`"clientes.timbrado"`), `title` the Spanish
    source text (translated in the "tabs" context), `children` its sub-tabs."""

    name: str
    title: str
    children: tuple[TabSpec, ...] = ()


LAYOUT: tuple[TabSpec, ...] = (
    TabSpec(
        "clientes",
        QT_TRANSLATE_NOOP("tabs", "Clientes"),
        (
            TabSpec("clientes.clientes", QT_TRANSLATE_NOOP("tabs", "Clientes")),
            TabSpec("clientes.timbrado", QT_TRANSLATE_NOOP("tabs", "Timbrado")),
            TabSpec("clientes.distribuidores", QT_TRANSLATE_NOOP("tabs", "Distribuidores")),
        ),
    ),
    TabSpec("facturacion", QT_TRANSLATE_NOOP("tabs", "Facturación")),
    TabSpec("compras", QT_TRANSLATE_NOOP("tabs", "Compras")),
    TabSpec("software", QT_TRANSLATE_NOOP("tabs", "Software")),
    TabSpec(
        "herramientas",
        QT_TRANSLATE_NOOP("tabs", "Herramientas"),
        (
            TabSpec("herramientas.precios", QT_TRANSLATE_NOOP("tabs", "Precios")),
            TabSpec("herramientas.usuarios", QT_TRANSLATE_NOOP("tabs", "Usuarios")),
            TabSpec("herramientas.configuracion", QT_TRANSLATE_NOOP("tabs", "Configuraciones globales")),
        ),
    ),
    TabSpec("ayuda", QT_TRANSLATE_NOOP("tabs", "Ayuda")),
)

_factories: dict[str, PageFactory] = {}


def leaf_names() -> list[str]:
    """Every page's name, in tab order."""
    out: list[str] = []
    for spec in LAYOUT:
        out.extend(child.name for child in spec.children) if spec.children else out.append(spec.name)
    return out


def register(name: str, factory: PageFactory) -> None:
    """Make `factory` build the page `name` (replacing the default one)."""
    if name not in leaf_names():
        raise KeyError(f"no page named {name!r}; the pages are {', '.join(leaf_names())}")
    _factories[name] = factory


def factory_for(name: str) -> PageFactory:
    return _factories.get(name) or DEFAULT_PAGES[name]


def build(context: AppContext, parent: QWidget | None = None) -> tuple[QTabWidget, dict[str, TabPage]]:
    """The main tab widget and every page by name."""
    pages: dict[str, TabPage] = {}
    top = QTabWidget(parent)
    top.setObjectName("mainTabs")
    top.setDocumentMode(True)
    for spec in LAYOUT:
        if spec.children:
            inner = QTabWidget()
            inner.setObjectName(f"tabs_{spec.name}")
            for child in spec.children:
                page = factory_for(child.name)(context)
                page.setObjectName(f"page_{child.name}")
                pages[child.name] = page
                inner.addTab(page, tr(child.title))
            top.addTab(inner, tr(spec.title))
        else:
            page = factory_for(spec.name)(context)
            page.setObjectName(f"page_{spec.name}")
            pages[spec.name] = page
            top.addTab(page, tr(spec.title))
    return top, pages


# ---- The read-only table pages ------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    key: Any  # what the column sorts by
    align_right: bool = False
    swatch: str | None = None  # a color tag to paint beside the text


@dataclass(frozen=True)
class Column:
    """A column declared as data: its title (source text) and how it reads a row."""

    title: str
    value: Callable[[Mapping[str, Any]], Any]
    kind: str = "text"  # text · number · money · date · datetime · bool · color

    def cell(self, row: Mapping[str, Any]) -> Cell:
        value = self.value(row)
        if self.kind == "number":
            return Cell(fmt.number(value) if value is not None else "", _num_key(value), True)
        if self.kind == "money":
            return Cell(fmt.money(value) if value is not None else "", _num_key(value), True)
        if self.kind == "date":
            return Cell(fmt.date(value), fmt.sort_key(value))
        if self.kind == "datetime":
            return Cell(fmt.date_time(value), fmt.sort_key(value))
        if self.kind == "bool":
            return Cell(tr("Sí") if value else tr("No"), 1 if value else 0)
        if self.kind == "color":
            name = str(value) if value else ""
            return Cell(tr(COLOR_NAMES[name]) if name in COLOR_NAMES else "", name, swatch=name or None)
        text = "" if value is None else str(value)
        return Cell(text, fmt.text_key(text))


def _num_key(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("-inf")


# The color tags' swatches: the one place with fixed colors (they mean the same in light and dark).
COLOR_SWATCHES = {
    "red": "#d32f2f",
    "orange": "#f57c00",
    "yellow": "#fbc02d",
    "green": "#388e3c",
    "blue": "#1976d2",
    "purple": "#7b1fa2",
    "gray": "#757575",
}
COLOR_NAMES = {
    "red": QT_TRANSLATE_NOOP("tabs", "Rojo"),
    "orange": QT_TRANSLATE_NOOP("tabs", "Naranja"),
    "yellow": QT_TRANSLATE_NOOP("tabs", "Amarillo"),
    "green": QT_TRANSLATE_NOOP("tabs", "Verde"),
    "blue": QT_TRANSLATE_NOOP("tabs", "Azul"),
    "purple": QT_TRANSLATE_NOOP("tabs", "Morado"),
    "gray": QT_TRANSLATE_NOOP("tabs", "Gris"),
}


class RowsModel(QAbstractTableModel):
    """Rows already formatted in the worker; `data()` is a lookup. Sorting is done in Python on the
    precomputed keys (fast for the lists these pages hold) and announced with `layoutChanged`."""

    def __init__(self, columns: Sequence[Column], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[list[Cell]] = []
        self._loaded: list[list[Cell]] = []
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_rows(self, rows: list[list[Cell]]) -> None:
        self.beginResetModel()
        self._loaded = rows
        self._rows = list(rows)
        if self._sort is not None:
            self._sort_rows(*self._sort)
        self.endResetModel()

    def row_texts(self, row: int) -> list[str]:
        return [cell.text for cell in self._rows[row]]

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self._columns[section].title)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        cell = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if cell.align_right:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and cell.swatch in COLOR_SWATCHES:
            return QColor(COLOR_SWATCHES[cell.swatch])
        if role == Qt.ItemDataRole.ToolTipRole and len(cell.text) > 40:
            return cell.text
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._sort_rows(column, order)
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        if not 0 <= column < len(self._columns):  # no sort column: the loader's own order
            self._rows = list(self._loaded)
            return
        self._rows.sort(key=lambda r: r[column].key, reverse=order == Qt.SortOrder.DescendingOrder)


class TablePage(TabPage):
    """A read-only table of rows a `loader` reads from the cache (in the cache pool)."""

    title: ClassVar[str] = ""
    empty_text: ClassVar[str] = "No hay registros."
    count_text: ClassVar[str] = "{n} registros"
    columns: ClassVar[Sequence[Column]] = ()
    # These interim pages format every row they show; a portfolio of 100,000 clients needs the
    # paged, SQL-sorted view that replaces them.
    max_rows: ClassVar[int] = 5000

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._loading = False
        self._again: frozenset[str] | None = None
        self.model = RowsModel(self.columns, self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setObjectName("table")
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 8)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")
        self.empty = QLabel(tr(self.empty_text), self)
        self.empty.setObjectName("empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)  # the platform's dimmed text color, light or dark

        top = QHBoxLayout()
        if self.title:
            heading = QLabel(f"<b>{tr(self.title)}</b>", self)
            top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.summary)
        self._stack = QStackedLayout()
        self._stack.addWidget(self.view)
        self._stack.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(self._stack)
        self._sized = False

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        """The rows to show, read from the cache (runs in the cache pool)."""
        raise NotImplementedError

    def refresh(self, changed: frozenset[str]) -> None:
        session = self.context.session
        if session is None or not self.wants(changed):
            return
        if self._loading:  # one read at a time; the latest request runs after it
            self._again = changed if self._again is None else self._again | changed
            return
        self._loading = True
        columns = list(self.columns)
        loader = self.loader

        limit = self.max_rows

        def load() -> tuple[list[list[Cell]], int]:
            cache = session.cache
            if cache is None:  # signed out, or the session is still opening
                return [], 0
            rows = loader(cache)
            return [[c.cell(row) for c in columns] for row in rows[:limit]], len(rows)

        self.context.ops.run(
            load, on_done=self._loaded, on_error=self._failed, pool="cache", label=tr("Leyendo la caché")
        )

    def _loaded(self, result: tuple[list[list[Cell]], int]) -> None:
        rows, total = result
        self.model.set_rows(rows)
        summary = tr(self.count_text).format(n=fmt.number(total))
        if total > len(rows):
            summary = tr("Se muestran {shown} de {summary}").format(
                shown=fmt.number(len(rows)), summary=summary
            )
        self.summary.setText(summary)
        self._stack.setCurrentWidget(self.view if rows else self.empty)
        if rows and not self._sized:
            self._sized = True
            self.view.resizeColumnsToContents()
            header = self.view.horizontalHeader()
            for col in range(self.model.columnCount()):
                header.resizeSection(col, min(header.sectionSize(col) + 16, 300))
        self._finish()

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText(tr("No se pudo leer la caché: {error}").format(error=str(exc)))
        self._finish()

    def _finish(self) -> None:
        self._loading = False
        again, self._again = self._again, None
        if again is not None:
            self.refresh(again)


# ---- The default pages ----------------------------------------------------------------------------

_KIND_NAMES = {
    "standard": QT_TRANSLATE_NOOP("tabs", "Estándar"),
    "unlimited": QT_TRANSLATE_NOOP("tabs", "Ilimitada"),
}
_ASSET_NAMES = {"stamps": QT_TRANSLATE_NOOP("tabs", "Timbres"), "points": QT_TRANSLATE_NOOP("tabs", "Puntos")}
_MOVEMENT_NAMES = {
    "purchase": QT_TRANSLATE_NOOP("tabs", "Compra"),
    "transfer": QT_TRANSLATE_NOOP("tabs", "Venta"),
    "auto_sale": QT_TRANSLATE_NOOP("tabs", "Venta automática"),
    "top_up": QT_TRANSLATE_NOOP("tabs", "Código de abono"),
    "contract": QT_TRANSLATE_NOOP("tabs", "Contrato"),
    "unlimited_fee": QT_TRANSLATE_NOOP("tabs", "Cuota de cuenta ilimitada"),
}
_ROLE_NAMES = {"master": QT_TRANSLATE_NOOP("tabs", "Principal"), "user": QT_TRANSLATE_NOOP("tabs", "Usuario")}
_STATUS_NAMES = {
    "unvalidated": QT_TRANSLATE_NOOP("tabs", "Sin validar"),
    "inactive": QT_TRANSLATE_NOOP("tabs", "Sin activar"),
    "active": QT_TRANSLATE_NOOP("tabs", "Activo"),
    "suspended": QT_TRANSLATE_NOOP("tabs", "Suspendido"),
    "cancelled": QT_TRANSLATE_NOOP("tabs", "Cancelado"),
    "expired": QT_TRANSLATE_NOOP("tabs", "Vencido"),
}


def _get(*path: str) -> Callable[[Mapping[str, Any]], Any]:
    def read(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for part in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return read


def _named(names: Mapping[str, str], *path: str) -> Callable[[Mapping[str, Any]], Any]:
    read = _get(*path)

    def name(row: Mapping[str, Any]) -> Any:
        value = read(row)
        return tr(names[value]) if value in names else value

    return name


class ClientsTable(TablePage):
    entities = frozenset({"client"})
    title = QT_TRANSLATE_NOOP("tabs", "Cartera de clientes")
    empty_text = QT_TRANSLATE_NOOP("tabs", "Aún no hay clientes.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} clientes")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "NIC"), _get("nic")),
        Column(QT_TRANSLATE_NOOP("tabs", "Nombre"), _get("name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Nombre comercial"), _get("trade_name")),
        Column(QT_TRANSLATE_NOOP("tabs", "RFC"), _get("rfc")),
        Column(QT_TRANSLATE_NOOP("tabs", "Teléfono"), _get("phone")),
        Column(QT_TRANSLATE_NOOP("tabs", "Correo"), _get("email")),
        Column(QT_TRANSLATE_NOOP("tabs", "Color"), _get("color"), "color"),
        Column(QT_TRANSLATE_NOOP("tabs", "Timbres"), _get("balances", "stamps"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Puntos"), _get("balances", "points"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Última compra"), _get("last_purchase_at"), "date"),
        Column(QT_TRANSLATE_NOOP("tabs", "Alta"), _get("created_at"), "date"),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        return sorted(cache.all("client"), key=lambda c: fmt.text_key(str(c.get("name") or "")))


class StampingAccountsTable(TablePage):
    entities = frozenset({"stamping_account", "client"})
    title = QT_TRANSLATE_NOOP("tabs", "Cuentas de timbrado (CTI)")
    empty_text = QT_TRANSLATE_NOOP("tabs", "Aún no hay cuentas de timbrado.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} cuentas de timbrado")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "ID de la CTI"), _get("id")),
        Column(QT_TRANSLATE_NOOP("tabs", "Cliente"), _get("client_name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Tipo"), _named(_KIND_NAMES, "kind")),
        Column(QT_TRANSLATE_NOOP("tabs", "Activa"), _get("active"), "bool"),
        Column(QT_TRANSLATE_NOOP("tabs", "Abonados"), _get("credited"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Usados"), _get("issued"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Saldo"), _get("balance"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Último timbrado"), _get("last_issue_at"), "date"),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        names = {c["id"]: c.get("name") or "" for c in cache.all("client")}
        rows = [
            {**cti, "client_name": names.get(cti.get("client_id"), "")}
            for cti in cache.all("stamping_account")
        ]
        return sorted(rows, key=lambda r: (fmt.text_key(r["client_name"]), str(r.get("id"))))


class DistributorsTable(TablePage):
    entities = frozenset({"distributor"})
    title = QT_TRANSLATE_NOOP("tabs", "Distribuidores (Multinivel)")
    empty_text = QT_TRANSLATE_NOOP("tabs", "No tiene subdistribuidores. Requieren la suscripción Multinivel.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} distribuidores")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "NIC"), _get("nic")),
        Column(QT_TRANSLATE_NOOP("tabs", "Nombre"), _get("name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Estado"), _named(_STATUS_NAMES, "status")),
        Column(QT_TRANSLATE_NOOP("tabs", "Correo"), _get("email")),
        Column(QT_TRANSLATE_NOOP("tabs", "Teléfono"), _get("phone")),
        Column(QT_TRANSLATE_NOOP("tabs", "Timbres"), _get("balances", "stamps"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Puntos"), _get("balances", "points"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Vence"), _get("expires_at"), "date"),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        return sorted(cache.all("distributor"), key=lambda d: fmt.text_key(str(d.get("name") or "")))


SALE_KINDS = frozenset({"transfer", "auto_sale"})


def pending_sales(cache: Cache) -> list[dict[str, Any]]:
    """Sales to clients not yet invoiced (as the server's billing module defines them), oldest first."""
    account_id = cache.account_id
    names = {c["id"]: c.get("name") or "" for c in cache.all("client")}
    rows = [
        {**m, "client_name": names.get(m.get("client_id"), "")}
        for m in cache.all("movement")
        if m.get("kind") in SALE_KINDS
        and (m.get("amount_cents") or 0) > 0
        and m.get("client_id")
        and m.get("invoice_id") is None
        and (account_id is None or m.get("account_id") in (None, account_id))
    ]
    return sorted(rows, key=lambda m: (fmt.sort_key(m.get("created_at")), str(m.get("id"))))


class PendingSalesTable(TablePage):
    entities = frozenset({"movement", "client", "invoice"})
    title = QT_TRANSLATE_NOOP("tabs", "Operaciones por facturar (timbres y puntos)")
    empty_text = QT_TRANSLATE_NOOP("tabs", "No hay ventas pendientes de facturar.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} ventas por facturar")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "Fecha"), _get("created_at"), "datetime"),
        Column(QT_TRANSLATE_NOOP("tabs", "Cliente"), _get("client_name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Operación"), _named(_MOVEMENT_NAMES, "kind")),
        Column(QT_TRANSLATE_NOOP("tabs", "Producto"), _named(_ASSET_NAMES, "asset")),
        Column(QT_TRANSLATE_NOOP("tabs", "Cantidad"), _get("quantity"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Importe (IVA incluido)"), _get("amount_cents"), "money"),
        Column(QT_TRANSLATE_NOOP("tabs", "Referencia"), _get("target", "id")),
        Column(QT_TRANSLATE_NOOP("tabs", "Comentarios"), _get("comments")),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        return pending_sales(cache)


def catalog_rows(catalog: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The catalog (`GET /v1/catalog`, kept in the cache's meta) as one list."""
    if not catalog:
        return []
    rows: list[dict[str, Any]] = []
    for key, label in (
        ("stamp_packages", QT_TRANSLATE_NOOP("tabs", "Timbres CFDI")),
        ("point_packages", QT_TRANSLATE_NOOP("tabs", "Puntos")),
    ):
        for p in catalog.get(key) or []:
            quantity = p.get("quantity")
            rows.append(
                {
                    "section": tr(label),
                    "name": tr("Paquete de {n}").format(n=fmt.number(quantity)) if quantity else "",
                    "quantity": quantity,
                    "price_cents": p.get("price_cents"),
                }
            )
    for key, label in (
        ("mkl", QT_TRANSLATE_NOOP("tabs", "MKL")),
        ("subscriptions", QT_TRANSLATE_NOOP("tabs", "Suscripciones")),
        ("fees", QT_TRANSLATE_NOOP("tabs", "Cuotas")),
    ):
        for c in catalog.get(key) or []:
            price = c.get("annual_price_cents", c.get("price_cents", c.get("amount_cents")))
            rows.append(
                {
                    "section": tr(label),
                    "name": c.get("name") or c.get("code"),
                    "quantity": None,
                    "price_cents": price,
                }
            )
    return rows


class CatalogTable(TablePage):
    entities = frozenset({"catalog"})
    title = QT_TRANSLATE_NOOP("tabs", "Catálogo de Induxsoft")
    empty_text = QT_TRANSLATE_NOOP("tabs", "El catálogo aún no se ha descargado; se obtiene al sincronizar.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} productos")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "Sección"), _get("section")),
        Column(QT_TRANSLATE_NOOP("tabs", "Producto"), _get("name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Cantidad"), _get("quantity"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Precio (IVA incluido)"), _get("price_cents"), "money"),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        return catalog_rows(cache.catalog())


class SoftwareTable(TablePage):
    entities = frozenset({"software_product", "software_file"})
    title = QT_TRANSLATE_NOOP("tabs", "Productos de software")
    empty_text = QT_TRANSLATE_NOOP("tabs", "No hay productos de software publicados.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} archivos")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "Producto"), _get("product_name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Archivo"), _get("title")),
        Column(QT_TRANSLATE_NOOP("tabs", "Tipo"), _get("kind_label")),
        Column(QT_TRANSLATE_NOOP("tabs", "Versión"), _get("file_version")),
        Column(QT_TRANSLATE_NOOP("tabs", "Nombre del archivo"), _get("file_name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Tamaño (bytes)"), _get("size"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Publicado"), _get("published_at"), "date"),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        products = {p["id"]: p for p in cache.all("software_product")}
        rows = [
            {**f, "product_name": (products.get(f.get("product_id")) or {}).get("name", "")}
            for f in cache.all("software_file")
            if f.get("active", True)
        ]
        order = {
            pid: (p.get("sort_order") or 0, fmt.text_key(str(p.get("name") or "")))
            for pid, p in products.items()
        }
        return sorted(
            rows,
            key=lambda r: (order.get(r.get("product_id"), (0, "")), fmt.text_key(str(r.get("title") or ""))),
        )


class PricePackagesTable(TablePage):
    entities = frozenset({"price_package"})
    title = QT_TRANSLATE_NOOP("tabs", "Precios de paquetes para sus clientes y distribuidores")
    empty_text = QT_TRANSLATE_NOOP("tabs", "No ha definido paquetes de precios.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} paquetes")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "Producto"), _named(_ASSET_NAMES, "asset")),
        Column(QT_TRANSLATE_NOOP("tabs", "Cantidad"), _get("quantity"), "number"),
        Column(QT_TRANSLATE_NOOP("tabs", "Precio (IVA incluido)"), _get("price_cents"), "money"),
        Column(QT_TRANSLATE_NOOP("tabs", "Precio unitario"), _get("unit_price_cents"), "money"),
        Column(QT_TRANSLATE_NOOP("tabs", "Para distribuidores"), _get("for_distributors"), "bool"),
        Column(QT_TRANSLATE_NOOP("tabs", "Descripción"), _get("description")),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        return sorted(
            cache.all("price_package"),
            key=lambda p: (str(p.get("asset")), bool(p.get("for_distributors")), p.get("quantity") or 0),
        )


class UsersTable(TablePage):
    entities = frozenset({"profile", "settings"})
    title = QT_TRANSLATE_NOOP("tabs", "Usuarios de la cuenta")
    empty_text = QT_TRANSLATE_NOOP("tabs", "No hay usuarios.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} usuarios")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "Nombre"), _get("name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Correo"), _get("email")),
        Column(QT_TRANSLATE_NOOP("tabs", "Móvil"), _get("mobile")),
        Column(QT_TRANSLATE_NOOP("tabs", "Rol"), _get("role_name")),
        Column(QT_TRANSLATE_NOOP("tabs", "Alta"), _get("created_at"), "date"),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        settings = cache.all("settings")
        master = next((s.get("master_profile_id") for s in settings if s.get("master_profile_id")), None)
        rows = []
        for p in cache.all("profile"):
            role = p.get("role") or ("master" if p.get("id") == master else "user")
            rows.append({**p, "role_name": tr(_ROLE_NAMES.get(role, role))})
        return sorted(
            rows, key=lambda r: (r["role_name"] != tr("Principal"), fmt.text_key(str(r.get("name") or "")))
        )


class SettingsTable(TablePage):
    entities = frozenset({"settings"})
    title = QT_TRANSLATE_NOOP("tabs", "Configuraciones globales")
    empty_text = QT_TRANSLATE_NOOP("tabs", "La configuración aún no se ha sincronizado.")
    count_text = QT_TRANSLATE_NOOP("tabs", "{n} opciones")
    columns = (
        Column(QT_TRANSLATE_NOOP("tabs", "Opción"), _get("label")),
        Column(QT_TRANSLATE_NOOP("tabs", "Valor"), _get("value")),
    )

    def loader(self, cache: Cache) -> Sequence[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = []
        for s in cache.all("settings")[:1]:
            rows = [
                {
                    "label": tr("Precio global de timbres a granel (IVA incluido)"),
                    "value": fmt.money(s.get("bulk_stamp_price_cents") or 0),
                },
                {
                    "label": tr("Permitir compra de timbres a través del PCC"),
                    "value": _yes_no(s.get("allow_panel_stamp_purchase")),
                },
                {
                    "label": tr("Permitir compra de puntos a través del PCC"),
                    "value": _yes_no(s.get("allow_panel_point_purchase")),
                },
                {"label": tr("Compra automática de timbres"), "value": _yes_no(s.get("auto_stamp_purchase"))},
            ]
        return rows


def _yes_no(value: Any) -> str:
    return tr("Sí") if value else tr("No")


# ---- Ayuda ----------------------------------------------------------------------------------------

# The manual's "Ayuda" chapter (its text, with the accents the scan lost).
HELP_HTML = """
<h2>Ayuda</h2>
<p>En la opción de ayuda contamos con varias opciones para ayudarle a sacar el máximo provecho de
nuestros sistemas, facilitarle el trabajo diario o apoyarle en la solución de incidencias.</p>
<h3>Hágalo usted mismo</h3>
<p>Usted puede resolver la mayoría de las incidencias que pudieran presentársele, además de que irá
aprendiendo cada vez más acerca de nuestras tecnologías y seguramente logrará sacar el mayor provecho
de ellas.</p>
<p><b>Encuentre información.</b> Busque artículos, documentación adicional o respuestas a preguntas
frecuentes en nuestra base de conocimientos en
<a href="http://www.induxsoft.net/">www.induxsoft.net</a>.</p>
<h3>¿Necesita que uno de nuestros consultores le explique?</h3>
<p>Si considera que la información que ha encontrado no es suficiente o clara y requiere que uno de
nuestros consultores le asesore, deberá acceder a un aula virtual. El sistema de aulas virtuales le
permitirá ver la pantalla de nuestro consultor y mantenerse en contacto a través de audio, video y
chat. Puede acceder desde cualquier equipo de escritorio, tableta o teléfono inteligente.</p>
<p>El servicio de aula virtual es gratuito y exclusivo para clientes con versiones actualizadas,
contratos de soporte técnico y mantenimiento o distribuidores autorizados.</p>
<h3>Deje que un profesional se encargue</h3>
<p>Probablemente no tenga el tiempo de solucionar sus incidencias o requiera capacitación
personalizada. En este caso puede obtener diferentes servicios directamente con Induxsoft o con un
distribuidor autorizado.</p>
"""


class HelpPage(TabPage):
    """Ayuda: the portal's help text and the version of cmdesk."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("helpText")
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(QCoreApplication.translate("help", HELP_HTML))
        self.version = QLabel(tr("cmdesk versión {version}").format(version=cmdesk.__version__), self)
        self.version.setObjectName("version")
        self.version.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.version)

    def refresh(self, changed: frozenset[str]) -> None:
        """Static text: nothing to reload."""


DEFAULT_PAGES: dict[str, PageFactory] = {
    "clientes.clientes": ClientsTable,
    "clientes.timbrado": StampingAccountsTable,
    "clientes.distribuidores": DistributorsTable,
    "facturacion": PendingSalesTable,
    "compras": CatalogTable,
    "software": SoftwareTable,
    "herramientas.precios": PricePackagesTable,
    "herramientas.usuarios": UsersTable,
    "herramientas.configuracion": SettingsTable,
    "ayuda": HelpPage,
}


def all_pages(pages: Mapping[str, TabPage]) -> Iterable[TabPage]:
    return (pages[name] for name in leaf_names() if name in pages)


__all__ = [
    "EVERYTHING",
    "LAYOUT",
    "AppContext",
    "Column",
    "TabPage",
    "TabSpec",
    "TablePage",
    "build",
    "register",
]
