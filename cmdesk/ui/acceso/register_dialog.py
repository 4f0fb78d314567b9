"""Quiero ser distribuidor (manual, "Integrar el alta desde un sitio Web externo a CM" → Registrarse):
a person without a Cuenta Maestra registers under the distributor who invites them (its NIC: that
distributor needs Multinivel). The server creates the profile and a «Sin validar» account and mails
the confirmation link; the inviting distributor activates the account once it is confirmed.

The checks of `cmdesk.domain` run first (e-mail, mobile, RFC, the password policy and its
confirmation); the server's refusals (an unknown NIC, a distributor without Multinivel, an e-mail
already used) are shown beside their fields. The answer is the manual's «Registro de Perfil»; with the
embedded server «Ver el correo» shows the confirmation mail it wrote.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLineEdit, QWidget

from cmdesk.domain import contact, identity, passwords
from cmdesk.ui import translator
from cmdesk.ui.acceso import actions
from cmdesk.ui.acceso.base import MailingDialog
from cmdesk.ui.kit.actions import AppContext

tr = translator("acceso")


class RegisterDialog(MailingDialog):
    """The manual's registration form; `registered` holds the server's answer once done."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            context,
            tr("Quiero ser distribuidor"),
            parent,
            accept_text=tr("Registrarme"),
            intro=tr(
                "Regístrese como distribuidor de quien lo invita: escriba su NIC (el distribuidor debe "
                "tener Multinivel). Le enviaremos un correo para confirmar su cuenta; después, ese "
                "distribuidor la activa."
            ),
        )
        self.setObjectName("registerDialog")
        self.registered: dict[str, Any] | None = None
        self.referrer = QLineEdit(self)
        self.referrer.setMaxLength(12)
        self.add_field(
            "referrer_nic",
            tr("NIC del distribuidor que lo invita"),
            self.referrer,
            hint=tr("Se lo da su distribuidor; aparece en el encabezado de su Cuenta Maestra."),
        )
        self.profile_name = QLineEdit(self)
        self.add_field("profile_name", tr("Su nombre"), self.profile_name)
        self.company = QLineEdit(self)
        self.company.setPlaceholderText(tr("Empresa (persona física o moral)"))
        self.add_field("name", tr("Empresa"), self.company)
        self.rfc = QLineEdit(self)
        self.rfc.setMaxLength(16)
        self.add_field("rfc", tr("RFC"), self.rfc)
        self.email = QLineEdit(self)
        self.email.setPlaceholderText(tr("nombre@empresa.com.mx"))
        self.add_field("email", tr("Correo electrónico"), self.email)
        self.mobile = QLineEdit(self)
        self.mobile.setPlaceholderText(tr("10 dígitos, con lada"))
        self.add_field("mobile", tr("Teléfono móvil"), self.mobile)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_field("password", tr("Contraseña"), self.password)
        self.confirm = QLineEdit(self)
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_field("password_confirm", tr("Confirmar contraseña"), self.confirm)
        self.fit_width(560)

    def values(self) -> dict[str, Any]:
        """The form checked by the domain's rules (raises `DomainError` with every field's problem)."""
        v = contact.Validator()
        referrer = v.run("referrer_nic", contact.check_required, self.referrer.text(), "NIC del distribuidor")
        name = v.run("name", contact.check_required, self.company.text(), "Empresa")
        rfc = v.run("rfc", identity.check_rfc, self.rfc.text())
        email = v.run("email", contact.check_email, self.email.text())
        mobile = v.run("mobile", contact.check_phone, self.mobile.text())
        password = v.run("password", passwords.check_password, self.password.text(), self.confirm.text())
        v.raise_if_any()
        assert rfc is not None
        return {
            "referrer_nic": referrer,
            "profile_name": self.profile_name.text().strip(),
            "name": name,
            "rfc": rfc.rfc,
            "email": email,
            "mobile": mobile,
            "password": password,
        }

    def submit(self) -> None:
        if self.registered is not None:
            self.accept()
            return
        self.run(actions.register(self.context, self.values(), parent=self), on_done=self._registered)

    def _registered(self, answer: dict[str, Any]) -> None:
        self.registered = answer
        text = tr(
            "¡Gracias por crear su perfil con nosotros! Su cuenta {name} (NIC {nic}) fue registrada "
            "correctamente.\nLe enviamos un correo electrónico a {email} para la activación de su cuenta: "
            "es importante concluir la activación para poder acceder a su perfil."
        ).format(name=answer.get("name") or "", nic=answer.get("nic") or "", email=answer.get("email") or "")
        for widget in self.fields.values():
            widget.setEnabled(False)
        self.show_answer(text)
        self.ok_button.setText(tr("Cerrar"))
        self.ok_button.setEnabled(True)
        self.cancel_button.hide()

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if self.registered is not None:
            for widget in self.fields.values():
                widget.setEnabled(False)
