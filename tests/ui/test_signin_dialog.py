"""The sign-in dialog against a real server: the server's reasons in Spanish, offline, success."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QDialog

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.api_client import ApiClient
from cmdesk.services.config import DesktopConfig
from cmdesk.services.credentials import CredentialStore
from cmdesk.services.session import DesktopSession
from cmdesk.ui.operations import Operations
from cmdesk.ui.signin_dialog import SignInDialog
from tests.services.conftest import MemoryKeyring
from tests.ui.conftest import free_port_url

SUB_EMAIL = "ventas@heavensoft.mx"  # a sub-distributor of the demo (seed)
SUB_PASSWORD = "Heaven2016"


def open_session(url: str, tmp_path, credentials: CredentialStore | None = None) -> DesktopSession:
    session = DesktopSession(DesktopConfig(server_url=url), home=tmp_path, credentials=credentials)
    result = session.start()
    assert result.needs_sign_in
    return session


@pytest.fixture
def session(central_server: EmbeddedServer, tmp_path) -> Iterator[DesktopSession]:
    s = open_session(central_server.url, tmp_path)
    try:
        yield s
    finally:
        s.close()


def make_dialog(qtbot, session: DesktopSession, ops: Operations, message: str | None = None) -> SignInDialog:
    dialog = SignInDialog(session, ops, message=message)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def submit(qtbot, dialog: SignInDialog, login: str, password: str) -> None:
    dialog.login.setText(login)
    dialog.password.setText(password)
    dialog.button.click()
    assert not dialog.button.isEnabled()  # disabled while the request is on its way
    assert dialog.button.text() == "Iniciando sesión…"
    qtbot.waitUntil(lambda: dialog.button.isEnabled() or not dialog.isVisible(), timeout=30_000)


def test_wrong_password_shows_the_servers_reason(qtbot, session: DesktopSession, ops: Operations) -> None:
    dialog = make_dialog(qtbot, session, ops)
    submit(qtbot, dialog, DEMO_EMAIL, "no-es-la-clave")
    assert dialog.isVisible()
    assert dialog.error.isVisible()
    assert dialog.error.text() == "Credenciales incorrectas: El usuario o la contraseña no son correctos."
    assert dialog.button.text() == "Iniciar sesión" and dialog.button.isEnabled()


def test_too_many_attempts(qtbot, session: DesktopSession, ops: Operations) -> None:
    dialog = make_dialog(qtbot, session, ops)
    for _ in range(6):
        submit(qtbot, dialog, "nadie@ejemplo.mx", "otra-clave")
        if dialog.error.text().startswith("Demasiados intentos"):
            break
    assert dialog.error.text().startswith("Demasiados intentos: ")


def test_offline_says_sin_conexion(qtbot, tmp_path, ops: Operations) -> None:
    session = open_session(free_port_url(), tmp_path)
    try:
        dialog = make_dialog(qtbot, session, ops)
        submit(qtbot, dialog, DEMO_EMAIL, DEMO_PASSWORD)
        assert dialog.isVisible()
        assert dialog.error.text().startswith("Sin conexión")
    finally:
        session.close()


def test_empty_fields_are_caught_before_asking(qtbot, session: DesktopSession, ops: Operations) -> None:
    dialog = make_dialog(qtbot, session, ops)
    dialog.login.setText("")
    dialog.button.click()
    assert dialog.button.isEnabled()
    assert dialog.error.text() == "Escriba su correo electrónico o móvil y su contraseña."


def test_success_closes_the_dialog(qtbot, session: DesktopSession, ops: Operations) -> None:
    dialog = make_dialog(qtbot, session, ops)
    # The test machines have no keyring: the dialog says the password will be asked again.
    assert dialog.notice.isVisible() and "contraseña" in dialog.notice.text()
    with qtbot.waitSignal(dialog.signed_in, timeout=30_000) as blocker:
        dialog.login.setText(DEMO_EMAIL)
        dialog.password.setText(DEMO_PASSWORD)
        dialog.button.click()
    assert not dialog.isVisible() and dialog.result() == QDialog.DialogCode.Accepted
    assert blocker.args[0].needs_sign_in is False
    assert session.cache is not None and session.account() is not None
    assert dialog.password.text() == ""


def test_with_a_keyring_there_is_no_notice(
    qtbot, central_server: EmbeddedServer, tmp_path, ops: Operations
) -> None:
    session = open_session(central_server.url, tmp_path, CredentialStore(MemoryKeyring()))
    try:
        dialog = make_dialog(qtbot, session, ops)
        assert not dialog.notice.isVisible()
        assert dialog.login.text() == ""
    finally:
        session.close()


def test_a_blocked_account(
    qtbot, central_server: EmbeddedServer, session: DesktopSession, ops: Operations
) -> None:
    demo = ApiClient(central_server.url)
    demo.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    sub = next(d for d in demo.get("/v1/distributors")["items"] if d["email"] == SUB_EMAIL)
    demo.post(f"/v1/distributors/{sub['id']}/suspend")
    demo.close()
    dialog = make_dialog(qtbot, session, ops)
    submit(qtbot, dialog, SUB_EMAIL, SUB_PASSWORD)
    assert dialog.isVisible()
    assert dialog.error.text().startswith("Cuenta bloqueada: ")
    assert "suspendida" in dialog.error.text()
