"""¿Olvidó su contraseña?: the e-mail or mobile of the profile; the server mails it a link (valid one
hour) to choose a new password.

The answer is the server's, the same whether the profile exists or not (nobody learns from it which
e-mails have an account); the dialog then says where the mail goes and how long the link works, and
in the embedded default «Ver el correo» shows it (that server writes it instead of sending it). Too
many requests for one login (the server allows a few an hour) are told in words with the wait;
without a connection, that too.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QWidget

from cmdesk.services.api_client import ApiError
from cmdesk.ui import translator
from cmdesk.ui.acceso import actions
from cmdesk.ui.ayuda.mails import DemoMailsDialog
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import ERROR_STYLE, OK_STYLE, FormDialog, fit_window
from cmdesk.ui.kit.messages import error_text

tr = translator("acceso")


class ResetPasswordDialog(FormDialog):
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
        self.mails: DemoMailsDialog | None = None
        # The embedded server writes the mail instead of sending it: show it from here.
        self.mail_button = self.buttons.addButton(tr("Ver el correo"), QDialogButtonBox.ButtonRole.ActionRole)
        self.mail_button.setObjectName("showMail")
        self.mail_button.setAutoDefault(False)
        self.mail_button.clicked.connect(self.show_mail)
        self.mail_button.hide()
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
        session = self.context.session
        text = detail or tr("Si la cuenta existe, le enviamos un correo con un enlace.")
        text += "\n" + tr("Si no lo ve en unos minutos, revise la carpeta de correo no deseado.")
        if session is not None and session.embedded:
            text += "\n" + tr(
                "Este equipo usa el servidor integrado, que no envía correos: ábralo con «Ver el correo» "
                "(o en Ayuda → Correos de prueba) y siga su enlace."
            )
            self.mail_button.show()
        self.show_message(text)
        self.message.setStyleSheet(OK_STYLE)
        self.ok_button.setText(tr("Enviar de nuevo"))
        self.cancel_button.setText(tr("Cerrar"))

    def show_mail(self) -> DemoMailsDialog:
        """The embedded server's test mails (the reset mail first: the newest)."""
        dialog = DemoMailsDialog(self.context, self)
        self.mails = dialog
        dialog.show()
        return dialog

    def failed(self, error: BaseException) -> None:
        if isinstance(error, ApiError) and error.status == 429:
            self.clear_errors()
            self.show_message(tr("Demasiadas solicitudes. {detail}").format(detail=error_text(error)))
            return
        super().failed(error)

    def show_message(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        super().show_message(text)
        fit_window(self)
