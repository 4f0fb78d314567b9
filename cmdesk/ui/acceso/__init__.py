"""Getting into a Cuenta Maestra from the sign-in window (issue 13): ¿Olvidó su contraseña? (the server
mails a link to choose a new password) and Quiero ser distribuidor (the public registration under a
referrer's NIC). They work before anybody signs in, against the embedded server or a central one."""

from cmdesk.ui.acceso.register_dialog import RegisterDialog
from cmdesk.ui.acceso.reset_dialog import ResetPasswordDialog

__all__ = ["RegisterDialog", "ResetPasswordDialog"]
