"""Pieces of the screens' forms: a message beside a field (`FieldMessage`), a page's notice line
(`Notice`), a grid that lays out word-wrapped messages right (`FormGrid`), a dialog of labelled fields
that runs one action (`FormDialog`), rows and columns of widgets in one call (`hbox`, `vbox`), and the
small helpers they share.

A `FormDialog` subclass adds its fields with `add_field`, implements `submit()` (the OK button) and
runs its request with `self.run(action)`: the dialog goes busy, and a refusal is shown beside the fields
it names (the rest in the general message); a `DomainError` raised by `submit()` itself (a local check)
is shown the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QBoxLayout,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.money import parse_mxn
from cmdesk.services.api_client import ApiError
from cmdesk.ui import translator
from cmdesk.ui.kit.messages import error_text, field_errors

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import Action, AppContext

ERROR_COLOR = "#c62828"
WARNING_COLOR = "#b26a00"
OK_COLOR = "#2e7d32"
ERROR_STYLE = f"color: {ERROR_COLOR};"
WARNING_STYLE = f"color: {WARNING_COLOR};"
OK_STYLE = f"color: {OK_COLOR};"


tr = translator("forms")


# ---- messages -----------------------------------------------------------------------------------------


class FieldMessage(QLabel):
    """The Spanish message shown beside a field: an error (red), a warning (amber) or an acceptance
    (green); hidden when empty. `level` says which it shows."""

    def __init__(self, parent: QWidget | None = None, name: str = "") -> None:
        super().__init__(parent)
        if name:
            self.setObjectName(name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.level = ""
        self.hide()

    def set_error(self, text: str | None) -> None:
        self._set(text, ERROR_STYLE, "error")

    def set_warning(self, text: str | None) -> None:
        self._set(text, WARNING_STYLE, "warning")

    def set_ok(self, text: str | None) -> None:
        self._set(text, OK_STYLE, "ok")

    def clear(self) -> None:
        self._set(None, "", "")

    def _set(self, text: str | None, style: str, level: str) -> None:
        self.setText(text or "")
        self.setStyleSheet(style if text else "")
        self.level = level if text else ""
        self.setVisible(bool(text))
        if text:
            fit_later(self)


class Notice(QLabel):
    """The hidden, word-wrapped line a page uses to say what an action did or why it was refused."""

    def __init__(self, parent: QWidget | None = None, name: str = "notice") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_text(self, text: str, *, error: bool = False) -> None:
        self.setText(text)
        self.setStyleSheet(ERROR_STYLE if error and text else "")
        self.setVisible(bool(text))


def fit_window(widget: QWidget) -> None:
    """Grow a dialog to the height its wrapped texts need at its width (never shrink it, so it does not
    jump while the user types); Qt leaves a shown dialog at its size when messages appear in it."""
    window = widget.window()
    if not isinstance(window, QDialog) or not window.isVisible():
        return
    layout = window.layout()
    if layout is None:
        return
    layout.activate()
    width = window.width()
    needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.sizeHint().height()
    needed = max(needed, layout.totalMinimumSize().height())
    if window.height() < needed:
        window.resize(width, needed)


def fit_later(widget: QWidget) -> None:
    """`fit_window` once the layout has taken in the change."""
    QTimer.singleShot(0, widget, lambda: fit_window(widget))


class FormGrid(QGridLayout):
    """`QFormLayout`'s `addRow` over a grid. A form layout sizes word-wrapped labels (the messages
    beside the fields) by their size hint instead of their height at the width they get, so a dialog
    would open up gaps or clip them; a grid sizes them right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnStretch(1, 1)
        self._next = 0

    def addRow(self, label: str | QWidget | QLayout, field: QWidget | QLayout | None = None) -> None:
        row = self._next
        self._next += 1
        if field is None:  # one item across both columns
            if isinstance(label, QLayout):
                self.addLayout(label, row, 0, 1, 2)
            elif isinstance(label, QWidget):
                self.addWidget(label, row, 0, 1, 2)
            return
        if isinstance(label, str):
            label = QLabel(label, self.parentWidget()) if label else None  # type: ignore[assignment]
        if isinstance(label, QWidget):
            self.addWidget(label, row, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if isinstance(field, QLayout):
            self.addLayout(field, row, 1)
        else:
            self.addWidget(field, row, 1)


def money_value(edit: QLineEdit, field_name: str, *, required: bool = True) -> int:
    """Centavos typed in `edit` ("$1,234.50"); a DomainError for `field_name` when it is not an amount."""
    text = edit.text().strip()
    if not text and not required:
        return 0
    return parse_mxn(text, field_name)


def first_message(error: DomainError) -> str:
    return error.errors[0].message if error.errors else error.detail


def push_button(text: str, parent: QWidget, name: str, slot: Callable[[], object]) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.clicked.connect(slot)
    return button


# What a row or a column holds: a widget or a layout, `(widget or layout, stretch)`, a number of pixels of
# space, or None for the spare room.
Item = QWidget | QLayout | tuple[QWidget | QLayout, int] | int | None


def link_button(text: str, parent: QWidget, name: str, slot: Callable[[], object]) -> QPushButton:
    """A button that reads like a link (flat, underlined, the palette's link color): reachable with
    the keyboard, unlike a label's link, and no taller than the text beside it."""
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.setFlat(True)
    button.setAutoDefault(False)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    button.setStyleSheet(
        "QPushButton { color: palette(link); text-decoration: underline; border: none; padding: 0 2px; }"
    )
    button.clicked.connect(lambda _checked=False: slot())
    return button


def _fill(box: QBoxLayout, items: tuple[Item, ...]) -> None:
    for item in items:
        if item is None:
            box.addStretch(1)
        elif isinstance(item, int):
            box.addSpacing(item)
        else:
            thing, stretch = item if isinstance(item, tuple) else (item, 0)
            if isinstance(thing, QLayout):
                box.addLayout(thing, stretch)
            else:
                box.addWidget(thing, stretch)


def hbox(*items: Item) -> QHBoxLayout:
    """A horizontal row of `items` (see `Item`): `hbox(ok, None, cancel)`."""
    box = QHBoxLayout()
    _fill(box, items)
    return box


def vbox(parent: QWidget | None, *items: Item) -> QVBoxLayout:
    """A vertical column of `items` (see `Item`), the layout of `parent` when given."""
    box = QVBoxLayout(parent) if parent is not None else QVBoxLayout()
    _fill(box, items)
    return box


def secondary_color(
    palette: QPalette,
    foreground: QPalette.ColorRole = QPalette.ColorRole.WindowText,
    background: QPalette.ColorRole = QPalette.ColorRole.Window,
) -> QColor:
    """Secondary text (notes, hints, CTI ids under a name): the palette's text blended 38 % towards
    its background — visibly lighter, yet about 6:1 against it in the light, dark and high-contrast
    palettes of Windows (WCAG AA asks 4.5:1), where the disabled-text color is near 1.6:1."""
    text, back = palette.color(foreground), palette.color(background)
    share = 0.38
    return QColor(
        round(text.red() * (1 - share) + back.red() * share),
        round(text.green() * (1 - share) + back.green() * share),
        round(text.blue() * (1 - share) + back.blue() * share),
    )


def dim(widget: QWidget) -> QWidget:
    """Show a label's text as secondary (`secondary_color`), without disabling it."""
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.WindowText, secondary_color(palette))
    widget.setPalette(palette)
    return widget


def heading(text: str, parent: QWidget, subtitle: str = "") -> QVBoxLayout:
    """A page's bold title, with its dimmed, wrapped explanation under it."""
    column = QVBoxLayout()
    column.addWidget(QLabel(f"<b>{text}</b>", parent))
    if subtitle:
        label = QLabel(subtitle, parent)
        label.setWordWrap(True)
        dim(label)
        column.addWidget(label)
    return column


# ---- a dialog of fields ----------------------------------------------------------------------------------


class FormDialog(QDialog):
    """Labelled fields with their error beside them, a general message, OK/Cancel in Spanish (see the
    module docstring). `done_ok(answer)` when the action succeeded (the dialog then closes)."""

    done_ok = Signal(object)

    def __init__(
        self,
        context: AppContext,
        title: str,
        parent: QWidget | None = None,
        *,
        accept_text: str = "",
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
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.hide()
        self.layout_.addWidget(self.message)
        self.buttons = QDialogButtonBox(self)
        self.ok_button = self.buttons.addButton(
            accept_text or tr("Guardar"), QDialogButtonBox.ButtonRole.AcceptRole
        )
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
            dim(hint_label)
            hint_label.setWordWrap(True)
            column.addWidget(hint_label)
        error = QLabel(box)
        error.setObjectName(f"{name}_error")
        error.setWordWrap(True)
        error.setStyleSheet(ERROR_STYLE)
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

    def run(self, action: Action, on_done: Callable[[Any], None] | None = None) -> None:
        """Run the dialog's action: busy meanwhile; on success `on_done(answer)` (default: `done_ok`
        and close), on failure the refusal beside the fields."""
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

        action.success(done).failure(failed).run()

    def failed(self, error: BaseException) -> None:
        errors = field_errors(error)
        if errors:
            self.set_errors(errors)
            if isinstance(error, ApiError) and error.code != ErrorCode.VALIDATION_ERROR.value:
                self.show_message(error_text(error))
        else:
            self.set_errors({}, error_text(error))


def delete_key(widget: QWidget, slot: Callable[[], object]) -> QShortcut:
    """Supr/Del on `widget` (a table with something selected) does what its «Eliminar» button does —
    the slot asks first, as the button does."""
    shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), widget)
    shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
    shortcut.activated.connect(slot)
    return shortcut
