"""Distribuidores → «Sin validar»: the confirmation mail's state over the real embedded server —
«Reenviar correo» really queues a new mail (written as .eml by the server's sender), the row then
says when it went out, and a mail the mail server refused shows its answer in Spanish, in red."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from cmdesk.models import OutboundMail
from cmdesk.server import db
from cmdesk.server.mail.sender import touch_subject
from cmdesk.ui.distribuidores.page import REMARK_COLUMN
from cmdesk.ui.kit.table import TOOLTIP
from cmdesk.ui.main_window import MainWindow
from tests.ui.distribuidores.test_distributors_page import page_of, pick, show
from tests.ui.portal_helpers import answer, click, outbound_mails, server_db, sync

SHOTS = Path("/tmp/cmdesk-shots")
NAME = "DANIEL MARTINEZ ARCE"  # the demo's «Sin validar» sub-distributor


def confirmations(window: MainWindow, account_id: str) -> list[OutboundMail]:
    return outbound_mails(window, "confirm_email", account_id=account_id)


def remark(page: Any, ident: str) -> tuple[str, Any, Any]:
    row = page.model.row_of(ident)
    index = page.model.index(row, REMARK_COLUMN)
    return (
        page.model.data(index),
        page.model.data(index, TOOLTIP),
        page.model.data(index, Qt.ItemDataRole.ForegroundRole),
    )


def test_resend_confirmation_and_a_failed_mail(qtbot: Any, started_window: MainWindow) -> None:
    window = started_window
    page = page_of(window)
    show(qtbot, page, "unvalidated")
    row = pick(qtbot, page, NAME)
    ident = str(row["id"])
    before = confirmations(window, ident)

    click(qtbot, page.buttons["resend"])
    assert "¿Reenviar el correo de confirmación a su administrador?" in answer(qtbot, page)
    qtbot.waitUntil(lambda: "correo de confirmación nuevo" in page.notice.text(), timeout=30_000)
    assert "el enlace anterior deja de funcionar" in page.notice.text()
    after = confirmations(window, ident)
    assert len(after) == len(before) + 1  # really queued on the server
    newest = after[-1]
    assert window.session is not None
    folder = window.session.server_folder() / "mail"
    qtbot.waitUntil(lambda: any(folder.glob(f"*-confirm_email-{newest.id}.eml")), timeout=30_000)

    # The sender wrote it: the next sync says when it went out.
    sync(qtbot, window)
    qtbot.waitUntil(lambda: remark(page, ident)[0].startswith("Correo enviado el "), timeout=30_000)
    assert remark(page, ident)[0].endswith("espera la confirmación")

    # The mail server refused it: its answer, in red, and «Reenviar correo» still offered.
    refusal = "El servidor de correo rechazó al destinatario: 550 5.1.1 Buzón inexistente"

    def fail(s: Any) -> None:
        mail = s.get(OutboundMail, newest.id)
        mail.status, mail.last_error, mail.sent_at = "failed", refusal, None
        touch_subject(s, mail)  # as the sender does: the sub-distributor's row changes with its mail

    with server_db(window) as factory:
        db.run(factory, fail)
    sync(qtbot, window)
    expected = f"No se pudo enviar el correo: {refusal}"
    qtbot.waitUntil(lambda: remark(page, ident)[0] == expected, timeout=30_000)
    _text, tip, brush = remark(page, ident)
    assert tip == expected and brush is not None and brush.color().name() == "#c62828"
    pick(qtbot, page, NAME)
    assert page.buttons["resend"].isEnabled()
    SHOTS.mkdir(exist_ok=True)
    window.resize(1366, 768)
    page.table.clearSelection()
    window.grab().save(str(SHOTS / "distribuidores-correo-fallido.png"))
