"""The Software tab's model: the products of the catalog, each expanding into its download options,
with the state of each file's download.

A tree (products → files), unlike the portal's tables: the manual's procedure is "click the name of
the application and its download options expand". The catalog holds tens of rows, so it is read
whole from the cache (in the cache pool), filtered there (`load_catalog`, `filter_products`) and
swapped in with a reset; download progress changes single rows (`set_status` → `dataChanged`).
Columns are declared as data (`COLUMNS`); `data()` is a dispatch on the role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QFont

from cmdesk.domain.files import version_key
from cmdesk.services.downloads.catalog import newer_versions
from cmdesk.services.downloads.models import DownloadState, DownloadStatus, FileInfo
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit.table import RIGHT, Column

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache

Index = QModelIndex | QPersistentModelIndex

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1  # the file's DownloadStatus
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2  # 0..1 while a progress bar is drawn, else None
INFO_ROLE = Qt.ItemDataRole.UserRole + 3  # the file's FileInfo
PRODUCT_ROLE = Qt.ItemDataRole.UserRole + 4  # the product's id (product rows)

FAILED_COLOR = "#c62828"
AVAILABLE_COLOR = "#2e7d32"


tr = translator("software")


KIND_ORDER = ("installer", "fix", "improvement", "documentation", "tool")
KIND_LABELS = {
    "installer": QT_TRANSLATE_NOOP("software", "Instalable"),
    "fix": QT_TRANSLATE_NOOP("software", "Corrección"),
    "improvement": QT_TRANSLATE_NOOP("software", "Mejora"),
    "documentation": QT_TRANSLATE_NOOP("software", "Documentación"),
    "tool": QT_TRANSLATE_NOOP("software", "Herramienta"),
}


def kind_label(kind: str) -> str:
    return tr(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


# ---- formatting -----------------------------------------------------------------------------------


def data_size(n: int | float) -> str:
    """Bytes as people read them: `845 bytes`, `12.4 KB`, `5.2 MB`, `1.25 GB` (1024-based, es-MX)."""
    loc = fmt.locale()
    value = float(n)
    if value < 1024:
        return tr("{n} bytes").format(n=loc.toString(int(value)))
    for unit, digits in (("KB", 1), ("MB", 1), ("GB", 2), ("TB", 2)):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{loc.toString(value, 'f', digits)} {unit}"
    return ""


def speed_text(bytes_per_second: float) -> str:
    return tr("{size}/s").format(size=data_size(bytes_per_second))


def duration_text(seconds: float) -> str:
    """`12 s`, `3 min 05 s`, `1 h 04 min`."""
    s = max(0, round(seconds))
    if s < 60:
        return tr("{s} s").format(s=s)
    if s < 3600:
        return tr("{m} min {s:02d} s").format(m=s // 60, s=s % 60)
    return tr("{h} h {m:02d} min").format(h=s // 3600, m=(s % 3600) // 60)


def percent(status: DownloadStatus) -> str:
    return f"{int(status.fraction * 100)} %"


def status_text(status: DownloadStatus | None, newer: str | None = None) -> str:
    """What the Estado column says of a file (Spanish)."""
    state = status.state if status is not None else DownloadState.NOT_DOWNLOADED
    if status is None or state == DownloadState.NOT_DOWNLOADED:
        text = tr("No descargado")
    elif state == DownloadState.QUEUED:
        text = tr("En cola")
        if status.received:
            text = tr("En cola ({percent} descargado)").format(percent=percent(status))
    elif state == DownloadState.WAITING:
        text = (
            tr("{host} lo está descargando · {percent}").format(
                host=status.other_host, percent=percent(status)
            )
            if status.other_host
            else tr("En espera de otra descarga · {percent}").format(percent=percent(status))
        )
    elif state == DownloadState.DOWNLOADING:
        parts = [percent(status)]
        if status.speed > 0:
            parts.append(speed_text(status.speed))
        if status.eta is not None:
            parts.append(tr("quedan {time}").format(time=duration_text(status.eta)))
        text = " · ".join(parts)
    elif state == DownloadState.VERIFYING:
        text = tr("Verificando…")
    elif state == DownloadState.PAUSED:
        text = tr("En pausa · {percent}").format(percent=percent(status))
    elif state == DownloadState.AVAILABLE:
        text = tr("Disponible sin conexión (verificado)")
    else:
        text = tr("Falló: {reason}").format(reason=status.error or tr("error desconocido"))
    if newer:
        text += " · " + tr("versión más reciente: {version}").format(version=newer)
    return text


# ---- rows -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileRow:
    info: FileInfo
    published_at: str
    newer: str | None = None  # the version that supersedes this file, when one does


@dataclass(frozen=True)
class ProductRow:
    id: str
    name: str
    description: str
    files: tuple[FileRow, ...] = field(default_factory=tuple)


def load_catalog(cache: Cache) -> list[ProductRow]:
    """The products and their active files, from the cache (runs in the cache pool): products in the
    catalog's order, files by kind (installers first) and newest version first."""
    products = sorted(
        cache.all("software_product"), key=lambda p: (p.get("sort_order") or 0, fmt.text_key(p.get("name")))
    )
    files = [f for f in cache.all("software_file") if f.get("active", True)]
    newer = newer_versions(files)
    by_product: dict[str, list[FileRow]] = {}
    names = {str(p["id"]): str(p.get("name") or "") for p in products}
    for f in files:
        try:
            info = FileInfo.from_view(f, product_name=names.get(str(f.get("product_id")), ""))
        except (KeyError, ValueError, TypeError):
            continue  # a row the cache holds half of: it will come whole with the next sync
        successor = newer.get(info.id)
        row = FileRow(
            info, str(f.get("published_at") or ""), str(successor["file_version"]) if successor else None
        )
        by_product.setdefault(info.product_id, []).append(row)
    out: list[ProductRow] = []
    for p in products:
        rows = by_product.get(str(p["id"]), [])
        rows.sort(key=lambda r: (version_key(r.info.file_version), r.published_at), reverse=True)
        rows.sort(
            key=lambda r: KIND_ORDER.index(r.info.kind) if r.info.kind in KIND_ORDER else len(KIND_ORDER)
        )
        out.append(
            ProductRow(str(p["id"]), str(p.get("name") or ""), str(p.get("description") or ""), tuple(rows))
        )
    return out


def filter_products(
    products: Iterable[ProductRow], *, product_id: str | None = None, kind: str | None = None, text: str = ""
) -> list[ProductRow]:
    """The products (and files) that pass the filters; a product whose name matches the search keeps
    all its files (of the chosen kind)."""
    words = fmt.text_key(text).split()
    out: list[ProductRow] = []
    for p in products:
        if product_id and p.id != product_id:
            continue
        files = [f for f in p.files if not kind or f.info.kind == kind]
        if words:
            product_key = fmt.text_key(p.name)
            files = [
                f
                for f in files
                if all(
                    w in product_key
                    or w in fmt.text_key(" ".join((f.info.title, f.info.file_name, f.info.file_version)))
                    or w in fmt.text_key(kind_label(f.info.kind))
                    for w in words
                )
            ]
        if files or (not words and not kind):
            out.append(ProductRow(p.id, p.name, p.description, tuple(files)))
    return out


# ---- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """What a column reads: a product row (with every file's status, for its summary) or a file row
    with its status."""

    product: ProductRow | None
    file: FileRow | None
    status: DownloadStatus | None = None
    statuses: Mapping[str, DownloadStatus] = field(default_factory=dict)


def _product_summary(p: ProductRow, statuses: Mapping[str, DownloadStatus]) -> str:
    states = [statuses[f.info.id].state for f in p.files if f.info.id in statuses]
    available = states.count(DownloadState.AVAILABLE)
    text = (
        tr("{n} opciones de descarga").format(n=len(p.files))
        if len(p.files) != 1
        else tr("1 opción de descarga")
    )
    if available:
        text += " · " + tr("{n} sin conexión").format(n=available)
    return text


def _of_file(read: Callable[[FileRow, DownloadStatus | None], Any]) -> Callable[[Cell], Any]:
    """A column that product rows leave blank."""
    return lambda c: read(c.file, c.status) if c.file is not None else None


def _name(c: Cell) -> str:
    return c.product.name if c.product is not None else c.file.info.title if c.file is not None else ""


def _status(c: Cell) -> str:
    if c.product is not None:
        return _product_summary(c.product, c.statuses)
    return status_text(c.status, c.file.newer if c.file is not None else None)


def _column(key: str, title: str, value: Callable[[Cell], Any], kind: str = "text", **more: Any) -> Column:
    return Column(key, title, kind, value=value, context="software", **more)


COLUMNS: tuple[Column, ...] = (
    _column("name", QT_TRANSLATE_NOOP("software", "Producto / opción de descarga"), _name),
    _column("kind", QT_TRANSLATE_NOOP("software", "Tipo"), _of_file(lambda f, _s: kind_label(f.info.kind))),
    _column("version", QT_TRANSLATE_NOOP("software", "Versión"), _of_file(lambda f, _s: f.info.file_version)),
    _column(
        "size",
        QT_TRANSLATE_NOOP("software", "Tamaño"),
        _of_file(lambda f, _s: data_size(f.info.size)),
        align=RIGHT,
    ),
    _column(
        "published_at",
        QT_TRANSLATE_NOOP("software", "Publicado"),
        _of_file(lambda f, _s: f.published_at or None),
        "date",
    ),
    _column("status", QT_TRANSLATE_NOOP("software", "Estado"), _status),
    _column("actions", QT_TRANSLATE_NOOP("software", "Acciones"), lambda _c: None),
)
NAME_COLUMN, KIND_COLUMN, VERSION_COLUMN, SIZE_COLUMN, PUBLISHED_COLUMN, STATUS_COLUMN, ACTIONS_COLUMN = (
    range(7)
)

_PROGRESS_STATES = frozenset({DownloadState.DOWNLOADING, DownloadState.PAUSED, DownloadState.WAITING})


class SoftwareModel(QAbstractItemModel):
    """Products (top level) and their files (children). A child's internal id is its product's row + 1;
    a product's is 0."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.products: list[ProductRow] = []
        self.statuses: dict[str, DownloadStatus] = {}
        self.row_height = 28
        self._where: dict[str, tuple[int, int]] = {}  # file id → (product row, file row)

    # -- contents ---------------------------------------------------------------------------------

    def set_products(self, products: list[ProductRow]) -> None:
        self.beginResetModel()
        self.products = products
        self._where = {f.info.id: (i, j) for i, p in enumerate(products) for j, f in enumerate(p.files)}
        self.endResetModel()

    def set_statuses(self, statuses: Mapping[str, DownloadStatus]) -> None:
        self.statuses.update(statuses)
        if self.products:
            last = self.index(len(self.products) - 1, len(COLUMNS) - 1)
            self.dataChanged.emit(self.index(0, 0), last)
            for i, p in enumerate(self.products):
                if p.files:
                    parent = self.index(i, 0)
                    self.dataChanged.emit(
                        self.index(0, 0, parent), self.index(len(p.files) - 1, len(COLUMNS) - 1, parent)
                    )

    def set_status(self, status: DownloadStatus) -> None:
        self.statuses[status.file_id] = status
        where = self._where.get(status.file_id)
        if where is None:
            return
        product, row = where
        parent = self.index(product, 0)
        self.dataChanged.emit(self.index(row, 0, parent), self.index(row, len(COLUMNS) - 1, parent))
        self.dataChanged.emit(self.index(product, STATUS_COLUMN), self.index(product, STATUS_COLUMN))

    def file_index(self, file_id: str, column: int = 0) -> QModelIndex:
        where = self._where.get(file_id)
        if where is None:
            return QModelIndex()
        return self.index(where[1], column, self.index(where[0], 0))

    def file_at(self, index: Index) -> FileRow | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        product = self.products[index.internalId() - 1]
        return product.files[index.row()]

    def product_at(self, index: Index) -> ProductRow | None:
        if not index.isValid() or index.internalId() != 0:
            return None
        return self.products[index.row()]

    def files(self) -> list[FileRow]:
        return [f for p in self.products for f in p.files]

    # -- the model --------------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self.products)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self.products[parent.row()].files)
        return 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title_text()
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = COLUMNS[index.column()]
        product = self.product_at(index)
        if product is not None:
            return self._product_data(product, index.column(), column, role)
        row = self.file_at(index)
        assert row is not None
        status = self.statuses.get(row.info.id)
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(Cell(None, row, status))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._file_tooltip(row, status, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.alignment()
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == STATUS_COLUMN and status is not None:
            if status.state == DownloadState.FAILED:
                return QColor(FAILED_COLOR)
            if status.state == DownloadState.AVAILABLE:
                return QColor(AVAILABLE_COLOR)
            return None
        if role == PROGRESS_ROLE and index.column() == STATUS_COLUMN:
            return status.fraction if status is not None and status.state in _PROGRESS_STATES else None
        if role == STATUS_ROLE:
            return status
        if role == INFO_ROLE:
            return row.info
        if role == Qt.ItemDataRole.SizeHintRole and index.column() == NAME_COLUMN:
            return QSize(-1, self.row_height)
        return None

    def _product_data(self, product: ProductRow, number: int, column: Column, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(Cell(product, None, statuses=self.statuses))
        if role == Qt.ItemDataRole.ToolTipRole and number == NAME_COLUMN:
            return product.description or None
        if role == Qt.ItemDataRole.FontRole and number == NAME_COLUMN:
            font = QFont()
            font.setBold(True)
            return font
        if role == PRODUCT_ROLE:
            return product.id
        if role == Qt.ItemDataRole.SizeHintRole and number == NAME_COLUMN:
            return QSize(-1, self.row_height)
        return None

    def _file_tooltip(self, row: FileRow, status: DownloadStatus | None, column: int) -> str | None:
        if column == STATUS_COLUMN:
            text = status_text(status, row.newer)
            if status is not None and status.path is not None:
                text += "\n" + str(status.path)
            return text
        if column == NAME_COLUMN:
            return tr("{name}\nSHA-256: {sha}").format(name=row.info.file_name, sha=row.info.sha256)
        if column == SIZE_COLUMN:
            return tr("{n} bytes").format(n=fmt.number(row.info.size))
        return None
