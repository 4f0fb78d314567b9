"""¿Olvidó su contraseña?: the e-mail or mobile of the profile; the server mails it a link (valid one
hour) to choose a new password.

The answer is the server's, the same whether the profile exists or not (nobody learns from it which
e-mails have an account); the dialog then says where the mail goes and how long the link works, and
in the embedded default «Ver el correo» shows it (that server writes it instead of sending it). Too
many requests for one login (the server allows a few an hour) are told in words with the wait;
without a connection, that too.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from cmdesk.services.api_client import ApiError
from cmdesk.ui import translator
from cmdesk.ui.acceso import actions
from cmdesk.ui.acceso.base import MailingDialog
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.messages import error_text

tr = translator("acceso")


class ResetPasswordDialog(MailingDialog):
    """The login (prefilled with the sign-in window's), «Enviar enlace»; the server's answer below."""

    def __init__(self, context: AppContext, login: str = "", parent: QWidget | None = None) -> None:
        super().__init__(
            context,
            tr("¿Olvidó su contraseña?"),
            parent,
            accept_text=tr("Enviar enlace"),
            intro=tr(
                "Escriba el correo electrónico o el número móvil con el que inicia sesión. Le enviaremos "
                "un correo con un enlace para elegir una contraseña nueva."
            ),
        )
        self.setObjectName("resetPasswordDialog")
        self.login = QLineEdit(login, self)
        self.login.setPlaceholderText(tr("correo@ejemplo.mx o 10 dígitos"))
        self.add_field("login", tr("Correo electrónico o móvil:"), self.login)
        self.sent = False
        self.fit_width(520)
        self.login.setFocus()

    def submit(self) -> None:
        login = self.login.text().strip()
        if not login:
            self.set_errors({"login": tr("Escriba su correo electrónico o número móvil.")})
            return
        self.run(actions.request_password_reset(self.context, login, parent=self), on_done=self._sent)

    def _sent(self, detail: str) -> None:
        self.sent = True
        text = detail or tr("Si la cuenta existe, le enviamos un correo con un enlace.")
        text += "\n" + tr("Si no lo ve en unos minutos, revise la carpeta de correo no deseado.")
        self.show_answer(text)
        self.ok_button.setText(tr("Enviar de nuevo"))
        self.cancel_button.setText(tr("Cerrar"))

    def failed(self, error: BaseException) -> None:
        if isinstance(error, ApiError) and error.status == 429:
            self.clear_errors()
            self.show_message(tr("Demasiadas solicitudes. {detail}").format(detail=error_text(error)))
            return
        super().failed(error)
