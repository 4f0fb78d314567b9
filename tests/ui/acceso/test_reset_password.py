"""¿Olvidó su contraseña? from the sign-in window, against a real server: the same answer whether the
account exists or not, the mail really queued (and written as .eml by the server's sender), a
throttled login told in words, and no connection told too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cmdesk.models import OutboundMail
from cmdesk.server import db
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL
from cmdesk.services.config import DesktopConfig
from cmdesk.services.session import DesktopSession
from cmdesk.ui.acceso import ResetPasswordDialog
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.operations import Operations
from cmdesk.ui.signin_dialog import SignInDialog
from tests.ui.conftest import free_port_url
from tests.ui.portal_helpers import click

SHOTS = Path("/tmp/cmdesk-shots")


def open_session(url: str, tmp_path: Path) -> DesktopSession:
    session = DesktopSession(DesktopConfig(server_url=url), home=tmp_path)
    assert session.start().needs_sign_in
    return session


@pytest.fixture
def session(central_server: EmbeddedServer, tmp_path: Path) -> Iterator[DesktopSession]:
    s = open_session(central_server.url, tmp_path)
    try:
        yield s
    finally:
        s.close()


def reset_mails(server: EmbeddedServer, to: str) -> list[OutboundMail]:
    engine = db.create_db_engine(server.database_url)
    try:
        factory = db.session_factory(engine)
        return db.run(
            factory,
            lambda s: list(
                s.scalars(
                    select(OutboundMail).where(
                        OutboundMail.kind == "password_reset", OutboundMail.to_address == to
                    )
                )
            ),
        )
    finally:
        engine.dispose()


_OPEN: list[SignInDialog] = []  # the sign-in windows stay alive while their reset dialog is tested


def open_reset(qtbot: Any, session: DesktopSession, ops: Operations, login: str) -> ResetPasswordDialog:
    signin = SignInDialog(session, ops)
    _OPEN.append(signin)
    qtbot.addWidget(signin)
    signin.show()
    signin.login.setText(login)
    assert signin.forgot_button.text() == "¿Olvidó su contraseña?"
    click(qtbot, signin.forgot_button)
    dialog = signin.dialog
    assert isinstance(dialog, ResetPasswordDialog) and dialog.isVisible()
    assert dialog.login.text() == login  # what was typed in the sign-in window
    return dialog


def send(qtbot: Any, dialog: ResetPasswordDialog) -> str:
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: not dialog.busy and dialog.message.isVisible(), timeout=30_000)
    return dialog.message.text()


def test_a_reset_is_mailed_and_the_answer_never_tells_whether_the_account_exists(
    qtbot: Any, session: DesktopSession, ops: Operations, central_server: EmbeddedServer
) -> None:
    dialog = open_reset(qtbot, session, ops, DEMO_EMAIL)
    known = send(qtbot, dialog)
    assert known.startswith("Si el correo o número móvil corresponde a un perfil de Cuenta Maestra")
    assert "correo no deseado" in known
    assert dialog.sent and dialog.ok_button.text() == "Enviar de nuevo"
    assert not dialog.mail_button.isVisible()  # a central server sends real mail
    assert dialog.cancel_button.text() == "Cerrar"
    SHOTS.mkdir(exist_ok=True)
    dialog.grab().save(str(SHOTS / "reset-sent.png"))
    assert len(reset_mails(central_server, DEMO_EMAIL)) == 1

    other = open_reset(qtbot, session, ops, "nadie@ejemplo.mx")
    assert send(qtbot, other) == known  # the same words: nothing is revealed
    assert reset_mails(central_server, "nadie@ejemplo.mx") == []

    # The server allows a few requests an hour for one login, known or not: then it says to wait.
    for _ in range(2):
        assert send(qtbot, other) == known
    refused = send(qtbot, other)
    assert refused.startswith("Demasiadas solicitudes.")
    assert refused != known
    other.grab().save(str(SHOTS / "reset-throttled.png"))


def test_an_empty_login_is_refused_beside_the_field(
    qtbot: Any, session: DesktopSession, ops: Operations
) -> None:
    dialog = open_reset(qtbot, session, ops, "")
    click(qtbot, dialog.ok_button)
    assert dialog.error("login") == "Escriba su correo electrónico o número móvil."


def test_without_a_connection_it_says_so(qtbot: Any, ops: Operations, tmp_path: Path) -> None:
    session = open_session(free_port_url(), tmp_path)
    try:
        dialog = open_reset(qtbot, session, ops, DEMO_EMAIL)
        text = send(qtbot, dialog)
        assert "conexión" in text and not dialog.sent
    finally:
        session.close()


def test_on_the_embedded_server_the_mail_is_written_where_cmdesk_shows_it(
    qtbot: Any, started_window: MainWindow
) -> None:
    session = started_window.session
    assert session is not None and session.embedded
    dialog = open_reset(qtbot, session, started_window.ops, DEMO_EMAIL)
    assert not dialog.mail_button.isVisible()
    text = send(qtbot, dialog)
    assert "«Ver el correo»" in text and "Ayuda → Correos de prueba" in text
    folder = session.server_folder() / "mail"
    qtbot.waitUntil(lambda: any(folder.glob("*-password_reset-*.eml")), timeout=30_000)
    # «Ver el correo»: the mail the server wrote, its link ready to follow.
    assert dialog.mail_button.isVisible()
    click(qtbot, dialog.mail_button)
    mails = dialog.mails
    assert mails is not None and mails.isVisible()
    qtbot.waitUntil(lambda: mails.shown is not None, timeout=30_000)
    assert mails.shown is not None and mails.shown["kind"] == "password_reset"
    assert "/cuenta/restablecer?t=" in mails.shown["links"][0]
    mails.close()
