"""Asignar Perfil Admin: link a client's main profile (the one that controls the client's account in
the PCC) by its e-mail and mobile number.

The manual's rule: a profile that administers a Cuenta Maestra can't be a client's main profile (so a
distributor can't control a client's account in its name without authorization). The server decides
(`profile_administers_master_account`); this dialog explains it with the manual's words. It needs the
line: the server must find the profile now, and the user must hear the answer now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import contact
from cmdesk.domain.errors import DomainError
from cmdesk.services.api_client import ApiError
from cmdesk.ui.clientes import actions
from cmdesk.ui.clientes.model import tr
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import ERROR_STYLE, dim
from cmdesk.ui.kit.messages import error_text

RULE_TEXT = (
    "El perfil principal vinculado a un cliente puede, además de acceder al PCC, controlar todos los "
    "aspectos de la cuenta.\n\nNo podrá vincular como perfil principal de un cliente a un perfil que "
    "administre una Cuenta Maestra (esto evita que el distribuidor tenga el control de la cuenta del cliente "
    "en su nombre y sin autorización)."
)
NOTE_TEXT = "Nota: el cliente debe tener un perfil en el portal www.induxsoft.net."
REFUSAL_TEXT = (
    "No podrá vincular como perfil principal de un cliente a un perfil que administre una Cuenta Maestra "
    "(esto evita que el distribuidor tenga el control de la cuenta del cliente en su nombre y sin "
    "autorización)."
)


class AdminProfileDialog(QDialog):
    assigned = Signal(dict)

    def __init__(self, context: AppContext, client: Mapping[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.client = dict(client)
        self.setObjectName("adminProfileDialog")
        self.setWindowTitle(tr("Asignación de perfil administrador"))
        heading = QLabel(
            "<b>"
            + tr("Cliente: {name} (NIC {nic})").format(name=client.get("name", ""), nic=client.get("nic", ""))
            + "</b>",
            self,
        )
        rule = QLabel(tr(RULE_TEXT), self)
        rule.setWordWrap(True)
        note = QLabel(tr(NOTE_TEXT), self)
        note.setWordWrap(True)
        dim(note)
        current = client.get("admin_profile") or None
        now = QLabel(
            tr("Perfil principal actual: {email} · {mobile}").format(
                email=current.get("email", ""), mobile=current.get("mobile", "")
            )
            if isinstance(current, dict)
            else tr("El cliente aún no tiene perfil principal."),
            self,
        )
        self.email = QLineEdit(self)
        self.email.setObjectName("email")
        self.email.setPlaceholderText(tr("nombre@empresa.com.mx"))
        self.mobile = QLineEdit(self)
        self.mobile.setObjectName("mobile")
        self.mobile.setPlaceholderText(tr("10 dígitos"))
        self.email_error = self._error_label("error:email")
        self.mobile_error = self._error_label("error:mobile")
        self.message = self._error_label("message")
        form = QFormLayout()
        form.addRow(tr("Correo:"), self.email)
        form.addRow("", self.email_error)
        form.addRow(tr("Número móvil:"), self.mobile)
        form.addRow("", self.mobile_error)
        buttons = QDialogButtonBox(self)
        self.save_button = buttons.addButton(tr("Guardar"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("save")
        self.save_button.clicked.connect(self.save)
        buttons.addButton(tr("Cancelar"), QDialogButtonBox.ButtonRole.RejectRole).clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (heading, rule, note, now):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)
        self.adjustSize()

    def _error_label(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setStyleSheet(ERROR_STYLE)
        label.setVisible(False)
        return label

    def _show(self, label: QLabel, text: str | None) -> None:
        label.setText(text or "")
        label.setVisible(bool(text))
        self.adjustSize()

    def save(self) -> None:
        v = contact.Validator()
        email = v.run("email", contact.check_email, self.email.text())
        mobile = v.run("mobile", contact.check_phone, self.mobile.text())
        errors = {e.field: e.message for e in v.errors}
        self._show(self.email_error, errors.get("email"))
        self._show(self.mobile_error, errors.get("mobile"))
        self._show(self.message, None)
        if errors or email is None or mobile is None:
            return
        self.save_button.setEnabled(False)
        actions.assign_admin_profile(
            self.context, str(self.client["id"]), email, mobile, parent=self
        ).success(self._done).failure(self._failed).run()

    def _done(self, client: dict[str, Any]) -> None:
        self.assigned.emit(client)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        code = error.code if isinstance(error, ApiError | DomainError) else None
        if code == "profile_administers_master_account":
            self._show(self.message, tr(REFUSAL_TEXT))
            return
        fields = error.field_errors() if isinstance(error, ApiError) else {}
        if fields:
            self._show(self.email_error, fields.get("email"))
            self._show(self.mobile_error, fields.get("mobile"))
            rest = [m for f, m in fields.items() if f not in ("email", "mobile")]
            self._show(self.message, " ".join(rest) or None)
            return
        self._show(self.message, error_text(error))
