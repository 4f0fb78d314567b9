"""Quiero ser distribuidor from the sign-in window, against a real server: the domain's checks beside
the fields, the server's refusal of an unknown NIC, and a registration that creates a «Sin validar»
account under the inviting distributor with its confirmation mail queued (and, on the embedded
server, shown with «Ver el correo»)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cmdesk.models import Account, OutboundMail
from cmdesk.server import db
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.services.config import DesktopConfig
from cmdesk.services.session import DesktopSession
from cmdesk.ui.acceso import RegisterDialog
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.operations import Operations
from cmdesk.ui.signin_dialog import SignInDialog
from tests.ui.portal_helpers import click

SHOTS = Path("/tmp/cmdesk-shots")
DEMO_NIC = "200000"  # the demo distributor (it has Multinivel)
_OPEN: list[SignInDialog] = []


@pytest.fixture
def session(central_server: EmbeddedServer, tmp_path: Path) -> Iterator[DesktopSession]:
    s = DesktopSession(DesktopConfig(server_url=central_server.url), home=tmp_path)
    assert s.start().needs_sign_in
    try:
        yield s
    finally:
        s.close()


def open_register(qtbot: Any, session: DesktopSession, ops: Operations) -> RegisterDialog:
    signin = SignInDialog(session, ops)
    _OPEN.append(signin)
    qtbot.addWidget(signin)
    signin.show()
    assert signin.register_button.text() == "Quiero ser distribuidor"
    SHOTS.mkdir(exist_ok=True)
    signin.grab().save(str(SHOTS / "iniciar-sesion.png"))
    click(qtbot, signin.register_button)
    dialog = signin.dialog
    assert isinstance(dialog, RegisterDialog) and dialog.isVisible()
    return dialog


def fill(dialog: RegisterDialog, nic: str, email: str, mobile: str) -> None:
    dialog.referrer.setText(nic)
    dialog.profile_name.setText("Rosa Gómez")
    dialog.company.setText("Servicios Contables Gómez")
    dialog.rfc.setText("SCG100101AB1")
    dialog.email.setText(email)
    dialog.mobile.setText(mobile)
    dialog.password.setText("Registro-Nuevo-2026")
    dialog.confirm.setText("Registro-Nuevo-2026")


def submit(qtbot: Any, dialog: RegisterDialog) -> None:
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)


def server_rows(server: EmbeddedServer, email: str) -> tuple[list[Account], list[OutboundMail]]:
    engine = db.create_db_engine(server.database_url)
    try:
        factory = db.session_factory(engine)

        def read(s: Any) -> tuple[list[Account], list[OutboundMail]]:
            mails = list(
                s.scalars(
                    select(OutboundMail).where(
                        OutboundMail.to_address == email, OutboundMail.kind == "confirm_email"
                    )
                )
            )
            accounts = [s.get(Account, m.account_id) for m in mails if m.account_id]
            return accounts, mails

        return db.run(factory, read)
    finally:
        engine.dispose()


def test_register_under_a_referrer(
    qtbot: Any, session: DesktopSession, ops: Operations, central_server: EmbeddedServer
) -> None:
    dialog = open_register(qtbot, session, ops)
    click(qtbot, dialog.ok_button)  # nothing typed: each field says what it needs
    assert dialog.error("referrer_nic") and dialog.error("name") and dialog.error("rfc")
    assert dialog.error("email") and dialog.error("mobile") and dialog.error("password")

    fill(dialog, DEMO_NIC, "rosa@gomez.mx", "9619876543")
    dialog.confirm.setText("otra-cosa")
    click(qtbot, dialog.ok_button)
    assert dialog.error("password_confirm") == "Las contraseñas no coinciden."

    fill(dialog, "999999", "rosa@gomez.mx", "9619876543")
    submit(qtbot, dialog)
    assert dialog.registered is None and dialog.message.isVisible()
    assert "distribuidor que lo invita" in dialog.message.text()

    fill(dialog, DEMO_NIC, "rosa@gomez.mx", "9619876543")
    submit(qtbot, dialog)
    assert dialog.registered is not None and dialog.registered["status"] == "unvalidated"
    text = dialog.message.text()
    assert text.startswith("¡Gracias por crear su perfil con nosotros!") and "rosa@gomez.mx" in text
    assert dialog.ok_button.text() == "Cerrar" and not dialog.mail_button.isVisible()
    dialog.grab().save(str(SHOTS / "quiero-ser-distribuidor.png"))
    accounts, mails = server_rows(central_server, "rosa@gomez.mx")
    assert len(mails) == 1 and accounts[0].status == "unvalidated"
    assert accounts[0].parent_id is not None and accounts[0].nic == dialog.registered["nic"]
    click(qtbot, dialog.ok_button)
    assert not dialog.isVisible()


def test_on_the_embedded_server_the_confirmation_mail_is_shown(
    qtbot: Any, started_window: MainWindow
) -> None:
    session = started_window.session
    assert session is not None
    dialog = open_register(qtbot, session, started_window.ops)
    fill(dialog, DEMO_NIC, "rosa@gomez.mx", "9619876543")
    submit(qtbot, dialog)
    assert dialog.registered is not None and dialog.mail_button.isVisible()
    folder = session.server_folder() / "mail"
    qtbot.waitUntil(lambda: any(folder.glob("*-confirm_email-*.eml")), timeout=30_000)
    click(qtbot, dialog.mail_button)
    mails = dialog.mails
    assert mails is not None

    def confirmation_shown() -> bool:
        if mails.shown is None or mails.shown.get("to") != "rosa@gomez.mx":
            for i in range(mails.list.topLevelItemCount()):
                item = mails.list.topLevelItem(i)
                if item is not None and item.text(2) == "rosa@gomez.mx":
                    mails.list.setCurrentItem(item)
            return False
        return True

    qtbot.waitUntil(confirmation_shown, timeout=30_000)
    assert mails.shown is not None and "/cuenta/confirmar?t=" in mails.shown["links"][0]
    mails.close()
