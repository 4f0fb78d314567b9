"""Herramientas → Usuarios and the invitations, over the real embedded server: a new user is invited
(the mail really written by the server's sender), the list shows the invitation's state and when it
went out, «Reenviar invitación» sends a new link, the link accepted over HTTP makes it «Aceptada», and
a mail that failed shows the mail server's answer in Spanish."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import requests
from PySide6.QtCore import Qt
from sqlalchemy import select

from cmdesk.models import Invitation, OutboundMail
from cmdesk.server import db, feed
from cmdesk.ui.herramientas import UsersPage
from cmdesk.ui.herramientas.usuarios import INVITATION_COLUMN, NewUserDialog
from cmdesk.ui.kit.table import TOOLTIP, select_id
from cmdesk.ui.main_window import MainWindow
from tests.ui.herramientas.test_tools_pages import fill, find, users
from tests.ui.portal_helpers import click, outbound_mails, server_db, sync

SHOTS = Path("/tmp/cmdesk-shots")
EMAIL, MOBILE, NAME = "invitada@ejemplo.mx", "9617654321", "Invitada Perez"


def invitation_texts(page: UsersPage, email: str) -> tuple[str, str]:
    row = page.model.row_of(str((find(page, email=email) or {}).get("id")))
    assert row >= 0
    index = page.model.index(row, INVITATION_COLUMN)
    return page.model.data(index), page.model.data(index, TOOLTIP) or ""


def mails_to(window: MainWindow, email: str) -> list[OutboundMail]:
    return outbound_mails(window, "invitation", to_address=email)


def link_in(path: Path) -> str:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"https?://\S+/cuenta/invitacion\?t=[A-Za-z0-9_\-]+", body.get_content())
    assert found, path
    return found.group(0)


def eml_link(window: MainWindow, qtbot: Any, email: str, count: int) -> str:
    """The link of the newest invitation mail to `email` (there are `count`), once the server's
    sender wrote its .eml file."""
    assert window.session is not None
    folder = window.session.server_folder() / "mail"
    mails = mails_to(window, email)
    assert len(mails) == count
    newest = mails[-1].id
    qtbot.waitUntil(lambda: any(folder.glob(f"*-{newest}.eml")), timeout=30_000)
    return link_in(next(folder.glob(f"*-{newest}.eml")))


def test_invite_resend_accept_and_a_failed_mail(qtbot: Any, started_window: MainWindow) -> None:
    window = started_window
    page = users(window)
    qtbot.waitUntil(lambda: page.model.rowCount() >= 2, timeout=30_000)
    assert page.model.headerData(INVITATION_COLUMN, Qt.Orientation.Horizontal) == "Invitación"
    master = page.model.row(0)
    assert master["invitation"] is None and page.model.row_texts(0)[INVITATION_COLUMN] == ""
    assert select_id(page.table, master["id"]) and not page.resend_button.isEnabled()

    # Nuevo usuario: the screen says what happens (an invitation, valid 7 days).
    click(qtbot, page.new_button)
    dialog = page.dialog
    assert isinstance(dialog, NewUserDialog)
    fill(qtbot, dialog.email, EMAIL)
    fill(qtbot, dialog.mobile, MOBILE)
    click(qtbot, dialog.ok_button)
    hint = dialog.findChild(type(dialog.summary), "name_hint")
    assert hint is not None and "invitación por correo" in hint.text() and "7 días" in hint.text()
    fill(qtbot, dialog.name, NAME)
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: find(page, email=EMAIL) is not None, timeout=30_000)
    qtbot.waitUntil(lambda: EMAIL in page.notice.text(), timeout=30_000)  # the answer, after the row
    notice = page.notice.text()
    assert f"se le envió una invitación a {EMAIL}" in notice and "Ayuda → Correos de prueba" in notice
    first_link = eml_link(window, qtbot, EMAIL, 1)

    # Once the sender wrote it, the next sync brings the mail's state: Pendiente, sent at, valid until.
    sync(qtbot, window)
    qtbot.waitUntil(lambda: invitation_texts(page, EMAIL)[0] == "Pendiente", timeout=30_000)
    _text, tip = invitation_texts(page, EMAIL)
    assert f"Enviada a {EMAIL} el" in tip and "El enlace vence el" in tip

    # Reenviar invitación: a new link; the first stops working.
    user = find(page, email=EMAIL)
    assert user is not None and select_id(page.table, user["id"])
    assert page.resend_button.isEnabled()
    click(qtbot, page.resend_button)
    qtbot.waitUntil(lambda: "invitación nueva" in page.notice.text(), timeout=30_000)
    assert f"Se envió una invitación nueva a {EMAIL}" in page.notice.text()
    link = eml_link(window, qtbot, EMAIL, 2)
    assert link != first_link
    SHOTS.mkdir(exist_ok=True)
    window.resize(1366, 768)
    window.grab().save(str(SHOTS / "usuarios-invitaciones.png"))

    # The person follows the link (the server's page posts the token with the new password).
    assert window.session is not None and window.session.api is not None
    base = window.session.api.base_url
    token = link.split("?t=", 1)[1]
    old = requests.post(
        f"{base}/v1/public/invitations/accept",
        json={"token": first_link.split("?t=", 1)[1], "password": "Nueva-Clave-2026"},
        timeout=30,
    )
    assert old.status_code == 422  # replaced by the resend
    accepted = requests.post(
        f"{base}/v1/public/invitations/accept",
        json={"token": token, "password": "Nueva-Clave-2026"},
        timeout=30,
    )
    assert accepted.status_code == 200, accepted.text
    sync(qtbot, window)
    qtbot.waitUntil(lambda: invitation_texts(page, EMAIL)[0] == "Aceptada", timeout=30_000)
    user = find(page, email=EMAIL)
    assert user is not None and select_id(page.table, user["id"])
    assert not page.resend_button.isEnabled()
    assert page.detail.text().startswith("Aceptada el ") and page.detail.level == "ok"

    # A mail the mail server refused: «Correo fallido», its answer in the tooltip, and resend offered.
    other = "fallido@ejemplo.mx"
    click(qtbot, page.new_button)
    dialog = page.dialog
    assert isinstance(dialog, NewUserDialog)
    fill(qtbot, dialog.email, other)
    fill(qtbot, dialog.mobile, "9617654322")
    click(qtbot, dialog.ok_button)
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: find(page, email=other) is not None, timeout=30_000)
    eml_link(window, qtbot, other, 1)
    refusal = "El servidor de correo rechazó al destinatario: 550 5.1.1 Buzón inexistente"

    def fail(s: Any) -> None:
        mail = s.scalars(select(OutboundMail).where(OutboundMail.to_address == other)).one()
        mail.status, mail.last_error, mail.attempts = "failed", refusal, 1
        inv = s.get(Invitation, mail.invitation_id)
        feed.record(s, "invitation", inv.id, [inv.account_id])

    with server_db(window) as factory:
        db.run(factory, fail)
    sync(qtbot, window)
    qtbot.waitUntil(lambda: invitation_texts(page, other)[0] == "Correo fallido", timeout=30_000)
    _text, tip = invitation_texts(page, other)
    assert refusal in tip and "Reenviar invitación" in tip
    user = find(page, email=other)
    assert user is not None and select_id(page.table, user["id"])
    assert page.resend_button.isEnabled()
    assert refusal in page.detail.text() and page.detail.level == "error"
    window.grab().save(str(SHOTS / "usuarios-correo-fallido.png"))
