"""What the two dialogs of the sign-in window share: the server's answer shown in green below the
form, and «Ver el correo» where the embedded server wrote the mail instead of sending it."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QWidget

from cmdesk.ui import translator
from cmdesk.ui.ayuda.mails import DemoMailsDialog
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import ERROR_STYLE, OK_STYLE, FormDialog, fit_window

tr = translator("acceso")


class MailingDialog(FormDialog):
    """A form whose answer is a mail on its way (`show_answer`), with «Ver el correo» (hidden until
    `show_answer` on the embedded server)."""

    def __init__(
        self, context: AppContext, title: str, parent: QWidget | None, *, accept_text: str, intro: str
    ) -> None:
        super().__init__(context, title, parent, accept_text=accept_text, intro=intro)
        self.mails: DemoMailsDialog | None = None
        self.mail_button = self.buttons.addButton(tr("Ver el correo"), QDialogButtonBox.ButtonRole.ActionRole)
        self.mail_button.setObjectName("showMail")
        self.mail_button.setAutoDefault(False)
        self.mail_button.clicked.connect(self.show_mail)
        self.mail_button.hide()

    def embedded(self) -> bool:
        session = self.context.session
        return session is not None and session.embedded

    def show_answer(self, text: str) -> None:
        """The server's answer, in green; on the embedded server, how to read the mail."""
        if self.embedded():
            text += "\n" + tr(
                "Este equipo usa el servidor integrado, que no envía correos: ábralo con «Ver el correo» "
                "(o en Ayuda → Correos de prueba) y siga su enlace."
            )
            self.mail_button.show()
        self.show_message(text)
        self.message.setStyleSheet(OK_STYLE)

    def show_message(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        super().show_message(text)
        fit_window(self)

    def show_mail(self) -> DemoMailsDialog:
        """The embedded server's test mails (the newest first)."""
        dialog = DemoMailsDialog(self.context, self)
        self.mails = dialog
        dialog.show()
        return dialog
