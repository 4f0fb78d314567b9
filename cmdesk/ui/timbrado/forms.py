"""Form pieces of the Timbrado dialogs: the password pair with its strength check, and a client picker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from cmdesk.domain.passwords import PASSWORD_MIN_LENGTH, password_problems
from cmdesk.ui.kit.forms import FieldMessage, FormGrid, dim, vbox
from cmdesk.ui.timbrado import actions
from cmdesk.ui.timbrado.common import client_text, tr

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import AppContext


class PasswordFields(QObject):
    """Contraseña and Confirmar contraseña, each with its message, checked as the user types with the
    domain's policy (`password_problems`). `add_rows(form)` puts them in the dialog's own form, so their
    labels line up with the other fields'."""

    changed = Signal()

    def __init__(self, parent: QWidget, *, first_label: str = "", second_label: str = "") -> None:
        super().__init__(parent)
        self.first_label = first_label or tr("Contraseña:")
        self.second_label = second_label or tr("Confirmar contraseña:")
        self.password = QLineEdit(parent)
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(128)
        self.confirm = QLineEdit(parent)
        self.confirm.setObjectName("passwordConfirm")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setMaxLength(128)
        self.show_text = QCheckBox(tr("Mostrar contraseñas"), parent)
        self.show_text.toggled.connect(self._toggle_echo)
        self.password_message = FieldMessage(parent, "passwordMessage")
        self.confirm_message = FieldMessage(parent, "confirmMessage")
        self.hint = QLabel(
            tr("Al menos {n} caracteres, con letras y números.").format(n=PASSWORD_MIN_LENGTH), parent
        )
        dim(self.hint)
        self.password.textChanged.connect(self._live)
        self.confirm.textChanged.connect(self._live)

    def add_rows(self, form: FormGrid) -> None:
        form.addRow(self.first_label, self.password)
        form.addRow("", self.hint)
        form.addRow("", self.password_message)
        form.addRow(self.second_label, self.confirm)
        form.addRow("", self.confirm_message)
        form.addRow("", self.show_text)

    def _toggle_echo(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.password.setEchoMode(mode)
        self.confirm.setEchoMode(mode)

    def _live(self) -> None:
        """While typing: the rules the password still breaks, or that it is acceptable."""
        text = self.password.text()
        self.hint.setVisible(not text)
        if not text:
            self.password_message.clear()
        else:
            problems = password_problems(text)
            if problems:
                self.password_message.set_error("\n".join(problems))
            else:
                self.password_message.set_ok(tr("La contraseña cumple los requisitos."))
        confirm = self.confirm.text()
        if confirm and confirm != text and not text.startswith(confirm):
            self.confirm_message.set_error(tr("Las contraseñas no coinciden."))
        elif (confirm == text and confirm) or not confirm:
            self.confirm_message.clear()
        self.changed.emit()

    def validate(self) -> bool:
        """Show every problem beside its field; True when the pair is acceptable."""
        text = self.password.text()
        problems = password_problems(text)
        ok = True
        if problems:
            self.password_message.set_error("\n".join(problems))
            self.hint.hide()
            ok = False
        if not self.confirm.text():
            self.confirm_message.set_error(tr("Confirme la contraseña."))
            ok = False
        elif self.confirm.text() != text:
            self.confirm_message.set_error(tr("Las contraseñas no coinciden."))
            ok = False
        else:
            self.confirm_message.clear()
        return ok

    def show_errors(self, errors: dict[str, str]) -> bool:
        """The server's field errors for the pair; True when any was one of them."""
        shown = False
        for name, message in errors.items():
            if name == "password":
                self.password_message.set_error(message)
                shown = True
            elif name in ("password_confirm", "password_confirmation"):
                self.confirm_message.set_error(message)
                shown = True
        return shown


class ClientPicker(QWidget):
    """Search a client by NIC, name or RFC (in the cache) and pick one from the list."""

    picked = Signal(str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.client_id: str | None = None
        self.client_label = ""
        self.search = QLineEdit(self)
        self.search.setObjectName("clientSearch")
        self.search.setPlaceholderText(tr("Buscar cliente por NIC, nombre o RFC…"))
        self.search.setClearButtonEnabled(True)
        self.results = QListWidget(self)
        self.results.setObjectName("clientResults")
        self.results.setMaximumHeight(140)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._load)
        self.search.textChanged.connect(lambda _t: self._timer.start())
        self.results.currentItemChanged.connect(self._current)
        layout = vbox(self, self.search, self.results)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loads = 0
        self._load()

    def _load(self) -> None:
        actions.search_clients(self.context, self.search.text()).success(self._show).failure(
            lambda _e: None
        ).run()

    def _show(self, clients: list[dict[str, Any]]) -> None:
        self.results.clear()
        for client in clients:
            item = QListWidgetItem(client_text(client.get("nic"), client.get("name")))
            item.setData(Qt.ItemDataRole.UserRole, client["id"])
            item.setToolTip(str(client.get("rfc") or ""))
            self.results.addItem(item)
            if client["id"] == self.client_id:
                self.results.setCurrentItem(item)
        self.loads += 1

    def _current(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        self.client_id = str(item.data(Qt.ItemDataRole.UserRole))
        self.client_label = item.text()
        self.picked.emit(self.client_id)
