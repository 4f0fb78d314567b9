"""Sign-in to a central server: e-mail or mobile and password, the server's reason in Spanish.

The sign-in runs in the network pool (it also makes the first sync), with the button disabled; the
dialog stays open on an error and shows it (credenciales incorrectas, demasiados intentos, cuenta
bloqueada, sin conexión) and closes itself on success, `result` holding the session's `StartResult`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QWidget,
)

from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.credentials import UNAVAILABLE_MESSAGE
from cmdesk.ui import translator
from cmdesk.ui.acceso import RegisterDialog, ResetPasswordDialog
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import hbox, link_button, vbox

if TYPE_CHECKING:
    from cmdesk.services.session import DesktopSession, StartResult
    from cmdesk.ui.operations import Operations


tr = translator("signin")


# What the dialog calls each refusal; the server's `detail` follows.
_TITLES = {
    "invalid_credentials": "Credenciales incorrectas",
    "too_many_attempts": "Demasiados intentos",
    "account_blocked": "Cuenta bloqueada",
    "validation_error": "Datos no válidos",
}


def error_text(error: BaseException) -> str:
    """The Spanish text the dialog shows for a failed sign-in."""
    if isinstance(error, OfflineError):
        return tr(
            "Sin conexión: no se pudo contactar al servidor. Revise su conexión a Internet o la "
            "dirección del servidor."
        )
    if isinstance(error, ApiError):
        title = tr(_TITLES[error.code]) if error.code in _TITLES else error.title
        detail = error.detail
        if error.errors:
            detail = " ".join(e.message for e in error.errors) or detail
        return f"{title}: {detail}" if detail and detail != title else title
    return tr("No se pudo iniciar sesión: {error}").format(error=str(error) or type(error).__name__)


class SignInDialog(QDialog):
    signed_in = Signal(object)  # the StartResult

    def __init__(
        self,
        session: DesktopSession,
        ops: Operations,
        parent: QWidget | None = None,
        *,
        message: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.ops = ops
        self.result_: StartResult | None = None
        self._busy = False
        self.setObjectName("signInDialog")
        self.setWindowTitle(tr("Iniciar sesión"))
        self.setModal(True)

        server = session.config.server_url or tr("servidor integrado en este equipo")
        intro = QLabel(
            tr("Inicie sesión en su Cuenta Maestra.") + "\n" + tr("Servidor: {server}").format(server=server),
            self,
        )
        intro.setObjectName("intro")
        intro.setWordWrap(True)

        self.login = QLineEdit(self)
        self.login.setObjectName("login")
        self.login.setPlaceholderText(tr("correo@ejemplo.mx o 10 dígitos"))
        self.login.setText(session.login or session.config.last_login or "")
        self.password = QLineEdit(self)
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)

        form = QFormLayout()
        form.addRow(tr("Correo electrónico o móvil:"), self.login)
        form.addRow(tr("Contraseña:"), self.password)

        self.notice = QLabel(self)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        notices = [m for m in (message,) if m]
        if not session.credentials.available() and UNAVAILABLE_MESSAGE not in notices:
            notices.append(
                tr(
                    "Este equipo no tiene un almacén seguro de contraseñas: la próxima vez que abra cmdesk "
                    "se le pedirá la contraseña de nuevo."
                )
            )
        self.notice.setText("\n".join(notices))
        self.notice.setVisible(bool(notices))

        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        size = self.fontMetrics().height()
        self.error_icon = QLabel(self)
        self.error_icon.setPixmap(icon.pixmap(size, size))
        self.error_icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.error = QLabel(self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.error.font()
        font.setBold(True)
        self.error.setFont(font)

        self.buttons = QDialogButtonBox(self)
        self.button = QPushButton(tr("Iniciar sesión"), self)
        self.button.setObjectName("signInButton")
        self.button.setDefault(True)
        self.buttons.addButton(self.button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel.setText(tr("Cancelar"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        error_line = hbox(self.error_icon, (self.error, 1))

        # Before signing in: ¿Olvidó su contraseña? (a reset link by mail), Quiero ser distribuidor.
        self.dialog: QDialog | None = None
        self.forgot_button = link_button(
            tr("¿Olvidó su contraseña?"), self, "forgotPassword", self.forgot_password
        )
        self.register_button = link_button(tr("Quiero ser distribuidor"), self, "register", self.register)
        links = hbox(self.forgot_button, None, self.register_button)

        layout = vbox(self, intro, form, links, self.notice, error_line, self.buttons)
        layout.setSpacing(12)
        layout.setContentsMargins(18, 18, 18, 12)
        self.set_error(None)
        self.setMinimumWidth(520)
        (self.password if self.login.text() else self.login).setFocus()

    def forgot_password(self) -> ResetPasswordDialog:
        """¿Olvidó su contraseña?: the reset dialog, with the login typed here."""
        dialog = ResetPasswordDialog(AppContext(self.ops, self.session), self.login.text().strip(), self)
        self.dialog = dialog
        dialog.open()
        return dialog

    def register(self) -> RegisterDialog:
        """Quiero ser distribuidor: the registration under a referrer's NIC."""
        dialog = RegisterDialog(AppContext(self.ops, self.session), self)
        self.dialog = dialog
        dialog.open()
        return dialog

    def set_error(self, text: str | None) -> None:
        self.error.setText(text or "")
        self.error.setVisible(bool(text))
        self.error_icon.setVisible(bool(text))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.button.setEnabled(not busy)
        self.login.setEnabled(not busy)
        self.password.setEnabled(not busy)
        self.button.setText(tr("Iniciando sesión…") if busy else tr("Iniciar sesión"))

    def submit(self) -> None:
        if self._busy:
            return
        login = self.login.text().strip()
        password = self.password.text()
        if not login or not password:
            self.set_error(tr("Escriba su correo electrónico o móvil y su contraseña."))
            (self.login if not login else self.password).setFocus()
            return
        self.set_error(None)
        self._set_busy(True)
        self.ops.run(
            self.session.sign_in,
            login,
            password,
            on_done=self._done,
            on_error=self._failed,
            pool="net",
            label=tr("Iniciando sesión"),
        )

    def _done(self, result: StartResult) -> None:
        self._set_busy(False)
        self.password.clear()
        self.result_ = result
        self.signed_in.emit(result)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        self.set_error(error_text(error))
        self.password.selectAll()
        self.password.setFocus()

    def reject(self) -> None:
        if self._busy:  # the request is on its way; its answer decides
            return
        super().reject()
