"""What the portal pages of Distribuidores, Facturación, Compras and Herramientas share.

- `PagedModel`: a table model whose rows a loader reads from the cache in the cache pool, page by page
  (`canFetchMore`/`fetchMore`), sorted and filtered by the loader in SQL; columns declared as data
  (`Col`); an optional check column (to choose rows: the sales or codes to invoice).
- `FormDialog`: a dialog of labelled fields, each with its Spanish error beside it, a general message
  line, and a busy state while its request runs.
- `online(...)`: run a call to the server in the network pool (the account-changing actions that are
  not queued), and `error_text`: what to tell the user about a failure (the server's Spanish reason,
  the lack of a connection, a missing subscription with where to buy it).
- `ask`/`inform`: message boxes opened without a nested event loop (`open()`), with Spanish buttons;
  the page keeps the last one in `last_box` so tests (and screenshots) can find and press them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.money import parse_mxn
from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.sync import SessionExpired
from cmdesk.ui import locale as fmt

if TYPE_CHECKING:
    from cmdesk.services.api_client import ApiClient
    from cmdesk.services.cache import Cache
    from cmdesk.ui.operations import OperationHandle
    from cmdesk.ui.tabs import AppContext

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
PAGE_SIZE = 200


def tr(text: str) -> str:
    return QCoreApplication.translate("portal", text)


OFFLINE_TEXT = "Esta operación necesita conexión con el servidor; inténtelo de nuevo cuando haya conexión."
NO_SESSION_TEXT = "Inicie sesión para trabajar con su Cuenta Maestra."
CONTRACT_HINT = "Puede contratarla en Compras → Suscripciones (o Compras → MKL)."


def error_text(error: BaseException) -> str:
    """The Spanish sentence(s) to show for a failed action."""
    if isinstance(error, OfflineError):
        return tr(OFFLINE_TEXT)
    if isinstance(error, SessionExpired):
        return str(error)
    if isinstance(error, ApiError):
        text = error.detail
        if error.code == ErrorCode.FEATURE_NOT_CONTRACTED.value:
            text = f"{text}\n\n{tr(CONTRACT_HINT)}"
        return text
    if isinstance(error, DomainError):
        return error.detail
    return str(error) or type(error).__name__


def field_errors(error: BaseException) -> dict[str, str]:
    """`{field: message}` of a refusal (from the server or a local check)."""
    if isinstance(error, ApiError):
        return error.field_errors()
    if isinstance(error, DomainError):
        return {e.field: e.message for e in error.errors}
    return {}


# ---- Calls to the server ----------------------------------------------------------------------------


def online(
    context: AppContext,
    fn: Callable[[ApiClient, Cache], Any],
    *,
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    label: str = "",
) -> OperationHandle:
    """Run `fn(api, cache)` in the network pool: an action that needs the server now (it changes the
    state of accounts, or its answer must be shown: a code and its NIP, a quote)."""
    session = context.session

    def call() -> Any:
        if session is None or session.api is None or session.cache is None:
            raise SessionExpired(tr(NO_SESSION_TEXT))
        return fn(session.api, session.cache)

    return context.ops.run(call, on_done=on_done, on_error=on_error, pool="net", label=label)


def request_sync(widget: QWidget) -> None:
    """Ask the main window for a sync now (queued commands go out; balances come back)."""
    window = widget.window()
    sync = getattr(window, "sync_now", None)
    if not callable(sync):
        return
    running = getattr(window, "_sync_handle", None)
    if running is not None and not running.is_finished:
        # A sync already under way may have pushed before this command was queued: one more after it.
        running.finished.connect(lambda: sync())
        return
    sync()


# ---- Message boxes ------------------------------------------------------------------------------------


def ask(
    parent: QWidget,
    title: str,
    text: str,
    on_yes: Callable[[], None],
    *,
    yes_text: str = "Aceptar",
    no_text: str = "Cancelar",
    informative: str = "",
) -> QMessageBox:
    """A confirmation opened with `open()`: `on_yes` runs when the user accepts."""
    box = QMessageBox(parent)
    box.setObjectName("confirmBox")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    yes = box.addButton(tr(yes_text), QMessageBox.ButtonRole.AcceptRole)
    yes.setObjectName("yesButton")
    no = box.addButton(tr(no_text), QMessageBox.ButtonRole.RejectRole)
    no.setObjectName("noButton")
    box.setDefaultButton(no)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def clicked(button: object) -> None:
        if button is yes:
            on_yes()

    box.buttonClicked.connect(clicked)
    setattr(parent, "last_box", box)  # noqa: B010 (any QWidget: not a declared attribute)
    box.open()
    return box


def inform(
    parent: QWidget, title: str, text: str, *, error: bool = False, informative: str = ""
) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("errorBox" if error else "infoBox")
    box.setIcon(QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information)
    box.setWindowTitle(title)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    ok = box.addButton(tr("Aceptar"), QMessageBox.ButtonRole.AcceptRole)
    ok.setObjectName("okButton")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    setattr(parent, "last_box", box)  # noqa: B010 (any QWidget: not a declared attribute)
    box.open()
    return box


# ---- Tables -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """A column: its title (translated where shown), how it reads a row, how it shows (`kind`: text,
    number, money, date, datetime, bool, check) and the field the loader sorts it by (None: no sort)."""

    title: str
    value: Callable[[Mapping[str, Any]], Any]
    kind: str = "text"
    sort: str | None = None

    def text(self, row: Mapping[str, Any]) -> str:
        value = self.value(row)
        if value is None:
            return ""
        if self.kind == "number":
            return fmt.number(int(value))
        if self.kind == "money":
            return fmt.money(int(value))
        if self.kind == "date":
            return fmt.date(value)
        if self.kind == "datetime":
            return fmt.date_time(value)
        if self.kind == "bool":
            return tr("Sí") if value else tr("No")
        return str(value)


def field(*path: str) -> Callable[[Mapping[str, Any]], Any]:
    """A column reading `row[path[0]][path[1]]…` (None when missing)."""

    def read(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for part in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return read


# loader(cache, sort field or None, descending, limit, offset) -> rows
Loader = Callable[["Cache", str | None, bool, int, int], list[dict[str, Any]]]


class PagedModel(QAbstractTableModel):
    """Rows read by `loader` in the cache pool, `PAGE_SIZE` at a time, formatted there. Sorting asks the
    loader again with the column's sort field (SQL); `reload()` after a change. With `checkable`, the
    column of kind "check" toggles rows whose `checkable(row)` is true (`checked_ids()`)."""

    loaded = Signal()  # a load (first page or more) finished
    checks_changed = Signal()

    def __init__(
        self,
        columns: Sequence[Col],
        context: AppContext,
        loader: Loader,
        *,
        default_sort: tuple[str | None, bool] = (None, False),
        checkable: Callable[[Mapping[str, Any]], bool] | None = None,
        page_size: int = PAGE_SIZE,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.context = context
        self.loader = loader
        self.page_size = page_size
        self.sort_field, self.descending = default_sort
        self.checkable = checkable
        self._rows: list[dict[str, Any]] = []
        self._texts: list[list[str]] = []
        self._more = False
        self._loading = False
        self._generation = 0
        self._checked: set[str] = set()
        self.loads = 0

    # -- loading ---------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the first page again (after a change, a filter or a sort)."""
        self._generation += 1
        self._load(0, self._generation)

    def _load(self, offset: int, generation: int) -> None:
        session = self.context.session
        if session is None:
            return
        self._loading = True
        columns, loader, limit = self.columns, self.loader, self.page_size
        sort, desc = self.sort_field, self.descending

        def read() -> tuple[list[dict[str, Any]], list[list[str]]]:
            cache = session.cache
            if cache is None:
                return [], []
            rows = loader(cache, sort, desc, limit + 1, offset)
            return rows, [[c.text(r) for c in columns] for r in rows[:limit]]

        self.context.ops.run(
            read,
            on_done=lambda result: self._arrived(result, offset, generation),
            on_error=lambda error: self._failed(error, generation),
            pool="cache",
            label=tr("Leyendo la caché"),
        )

    def _arrived(
        self, result: tuple[list[dict[str, Any]], list[list[str]]], offset: int, generation: int
    ) -> None:
        if generation != self._generation:
            return
        rows, texts = result
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        self._loading = False
        self._more = more
        if offset == 0:
            self.beginResetModel()
            self._rows, self._texts = rows, texts
            ids = {str(r.get("id")) for r in rows}
            self._checked &= ids
            self.endResetModel()
        elif rows:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
            self._rows.extend(rows)
            self._texts.extend(texts)
            self.endInsertRows()
        self.loads += 1
        self.loaded.emit()
        if offset == 0:
            self.checks_changed.emit()

    def _failed(self, error: BaseException, generation: int) -> None:
        if generation == self._generation:
            self._loading = False
        log.warning("could not read the cache: %s", error)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and self._more and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if self.canFetchMore(parent):
            self._load(len(self._rows), self._generation)

    # -- reading ---------------------------------------------------------------------------------------

    def row(self, index: int) -> dict[str, Any]:
        return self._rows[index]

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def row_texts(self, index: int) -> list[str]:
        return list(self._texts[index])

    def find(self, ident: str) -> int:
        """The row number of the record `ident`, or -1."""
        return next((i for i, r in enumerate(self._rows) if str(r.get("id")) == ident), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.columns):
            return tr(self.columns[section].title)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._is_check(index) and self.checkable is not None and self.checkable(self._rows[index.row()]):
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def _is_check(self, index: Index) -> bool:
        return self.columns[index.column()].kind == "check"

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._texts[index.row()][index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column.kind in ("number", "money"):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.CheckStateRole and column.kind == "check":
            row = self._rows[index.row()]
            if self.checkable is None or not self.checkable(row):
                return None
            checked = str(row.get("id")) in self._checked
            return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            text = self._texts[index.row()][index.column()]
            return text if len(text) > 30 else None
        if role == Qt.ItemDataRole.UserRole:
            return self._rows[index.row()].get("id")
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or not self._is_check(index):
            return False
        row = self._rows[index.row()]
        if self.checkable is None or not self.checkable(row):
            return False
        ident = str(row.get("id"))
        state = value.value if hasattr(value, "value") else value
        if int(state) == Qt.CheckState.Checked.value:
            self._checked.add(ident)
        else:
            self._checked.discard(ident)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.checks_changed.emit()
        return True

    def set_checked(self, ident: str, checked: bool) -> None:
        row = self.find(ident)
        column = next((i for i, c in enumerate(self.columns) if c.kind == "check"), -1)
        if row < 0 or column < 0:
            return
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self.setData(self.index(row, column), state, Qt.ItemDataRole.CheckStateRole)

    def checked_ids(self) -> list[str]:
        """The checked rows' ids, in the table's order."""
        return [str(r.get("id")) for r in self._rows if str(r.get("id")) in self._checked]

    def checked_rows(self) -> list[dict[str, Any]]:
        return [r for r in self._rows if str(r.get("id")) in self._checked]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns) or self.columns[column].sort is None:
            return
        self.sort_field = self.columns[column].sort
        self.descending = order == Qt.SortOrder.DescendingOrder
        self.reload()


def make_table(
    model: PagedModel, parent: QWidget, name: str = "table", *, stretch: int | None = None
) -> QTableView:
    """A read-only table view of rows over `model`, sortable by the columns that have a sort field.
    `stretch`: the column that takes the spare width (the last one by default)."""
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)  # one line per row: long ids are elided, not cut at their spaces
    view.setSortingEnabled(True)
    view.horizontalHeader().setSortIndicatorShown(True)
    view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 10)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setStretchLastSection(False)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view


def fit_columns(view: QTableView, widths: Sequence[int] = ()) -> None:
    """Columns as wide as the given number of characters (0: as wide as their contents), and never
    narrower than their title."""
    metrics = view.fontMetrics()
    header = view.horizontalHeader()
    model = view.model()
    for column in range(model.columnCount()):
        if header.sectionResizeMode(column) == QHeaderView.ResizeMode.Stretch:
            continue
        if column < len(widths) and widths[column]:
            width = metrics.averageCharWidth() * widths[column] + 24
        else:
            view.resizeColumnToContents(column)
            width = view.columnWidth(column)
        title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
        view.setColumnWidth(column, max(width, metrics.horizontalAdvance(title) + 28))


def selected_row(view: QTableView, model: PagedModel) -> dict[str, Any] | None:
    rows = view.selectionModel().selectedRows() if view.selectionModel() is not None else []
    if not rows:
        return None
    index = rows[0].row()
    return model.row(index) if 0 <= index < model.rowCount() else None


def select_id(view: QTableView, model: PagedModel, ident: str) -> bool:
    """Select the row of the record `ident` (tests, and after an action)."""
    row = model.find(ident)
    if row < 0:
        return False
    view.selectRow(row)
    return True


# ---- Forms ------------------------------------------------------------------------------------------


class FormDialog(QDialog):
    """Labelled fields with their error beside them, a general message, OK/Cancel in Spanish.

    Subclasses add fields with `add_field`, implement `submit()` (called by the OK button) and, when
    their request runs, call `run(fn, on_done)`: the dialog goes busy, and a refusal is shown beside
    the fields it names (the rest in the general message)."""

    done_ok = Signal(object)  # the answer of a successful submit

    def __init__(
        self,
        context: AppContext,
        title: str,
        parent: QWidget | None = None,
        *,
        accept_text: str = "Guardar",
        intro: str = "",
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle(title)
        self.setModal(True)
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.layout_ = QVBoxLayout(self)
        if intro:
            label = QLabel(intro, self)
            label.setObjectName("intro")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            self.layout_.addWidget(label)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.layout_.addLayout(self.form)
        self.message = QLabel(self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("color: #c62828;")
        self.message.hide()
        self.layout_.addWidget(self.message)
        self.buttons = QDialogButtonBox(self)
        self.ok_button = self.buttons.addButton(tr(accept_text), QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setObjectName("okButton")
        self.ok_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(tr("Cancelar"), QDialogButtonBox.ButtonRole.RejectRole)
        self.cancel_button.setObjectName("cancelButton")
        self.buttons.accepted.connect(self._submit_clicked)
        self.buttons.rejected.connect(self.reject)
        self.layout_.addWidget(self.buttons)
        self.busy = False
        self.result_value: Any = None

    def add_field(
        self, name: str, label: str, widget: QWidget, hint: str = "", form: QFormLayout | None = None
    ) -> QWidget:
        """A row of `form` (the dialog's own by default): the widget, an optional hint, its error."""
        widget.setObjectName(name)
        box = QWidget(self)
        box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        column = QVBoxLayout(box)
        column.setAlignment(Qt.AlignmentFlag.AlignTop)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        if hint:
            hint_label = QLabel(hint, box)
            hint_label.setObjectName(f"{name}_hint")
            hint_label.setEnabled(False)
            hint_label.setWordWrap(True)
            column.addWidget(hint_label)
        error = QLabel(box)
        error.setObjectName(f"{name}_error")
        error.setWordWrap(True)
        error.setStyleSheet("color: #c62828;")
        error.hide()
        column.addWidget(error)
        (form or self.form).addRow(label, box)
        self.fields[name] = widget
        self.errors[name] = error
        return widget

    def fit_width(self, width: int) -> None:
        """`width` wide and just as tall as the wrapped texts need at that width."""
        layout = self.layout_
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else -1
        self.resize(width, max(height, self.minimumSizeHint().height()))

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.hide()
        self.message.clear()
        self.message.hide()

    def set_errors(self, errors: Mapping[str, str], detail: str = "") -> None:
        """Each message beside its field; what names no field here goes to the general message."""
        self.clear_errors()
        loose: list[str] = []
        for name, text in errors.items():
            key = self.field_for(name)
            if key in self.errors:
                self.errors[key].setText(text)
                self.errors[key].show()
            else:
                loose.append(text)
        general = "\n".join(dict.fromkeys(([detail] if detail and not errors else []) + loose))
        if general:
            self.show_message(general)

    def field_for(self, name: str) -> str:
        """The form field a server field name belongs to (override to map names)."""
        return name

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def error(self, name: str) -> str:
        label = self.errors.get(name)
        return label.text() if label is not None else ""

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.ok_button.setEnabled(not busy)
        for widget in self.fields.values():
            widget.setEnabled(not busy)

    def _submit_clicked(self) -> None:
        if self.busy:
            return
        self.clear_errors()
        try:
            self.submit()
        except DomainError as error:
            self.set_errors(field_errors(error), error.detail)

    def submit(self) -> None:
        raise NotImplementedError

    def run(
        self, fn: Callable[[ApiClient, Cache], Any], on_done: Callable[[Any], None] | None = None
    ) -> None:
        """Send the request in the network pool; on success `on_done(answer)` (default: close)."""
        self.set_busy(True)

        def done(answer: Any) -> None:
            self.set_busy(False)
            self.result_value = answer
            if on_done is not None:
                on_done(answer)
            else:
                self.done_ok.emit(answer)
                self.accept()

        def failed(error: BaseException) -> None:
            self.set_busy(False)
            self.failed(error)

        online(self.context, fn, on_done=done, on_error=failed, label=self.windowTitle())

    def failed(self, error: BaseException) -> None:
        errors = field_errors(error)
        if errors:
            self.set_errors(errors)
            if isinstance(error, ApiError) and error.code != ErrorCode.VALIDATION_ERROR.value:
                self.show_message(error_text(error))
        else:
            self.set_errors({}, error_text(error))


def money_value(edit: QLineEdit, field_name: str, *, required: bool = True) -> int:
    """Centavos typed in `edit` ("$1,234.50"); a DomainError for `field_name` when it is not an amount."""
    text = edit.text().strip()
    if not text and not required:
        return 0
    return parse_mxn(text, field_name)


def push_button(text: str, parent: QWidget, name: str, slot: Callable[[], object]) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.clicked.connect(slot)
    return button


def notice_label(parent: QWidget) -> QLabel:
    """The hidden, word-wrapped line a page uses to say what an action did or why it was refused."""
    label = QLabel(parent)
    label.setObjectName("notice")
    label.setWordWrap(True)
    label.hide()
    return label
