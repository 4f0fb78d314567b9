"""Ayuda → Correos de prueba over the real embedded server: a reset mail written by the server's sender
is listed and shown, its button's link opens (and the server's page answers it), the same list is
read from the folder while nobody is signed in, and a central server offers no such window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6.QtGui import QDesktopServices

from cmdesk.app import embedded_default
from cmdesk.server.seed import DEMO_EMAIL
from cmdesk.services import commands, mailbox
from cmdesk.services.config import DesktopConfig
from cmdesk.services.session import DesktopSession
from cmdesk.ui.ayuda import AyudaPage
from cmdesk.ui.ayuda.mails import ITEM_ROLE, DemoMailsDialog
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.operations import Operations
from tests.ui.portal_helpers import click, show_page

SHOTS = Path("/tmp/cmdesk-shots")


def reset_row(dialog: DemoMailsDialog) -> int:
    for i in range(dialog.list.topLevelItemCount()):
        item = dialog.list.topLevelItem(i)
        assert item is not None
        if item.data(0, ITEM_ROLE).get("kind") == "password_reset":
            return i
    return -1


def open_reset_mail(qtbot: Any, dialog: DemoMailsDialog) -> None:
    qtbot.waitUntil(lambda: dialog.loads > 0, timeout=30_000)
    assert not dialog.error.isVisible(), dialog.error.text()
    row = reset_row(dialog)
    assert row >= 0
    item = dialog.list.topLevelItem(row)
    assert item is not None
    assert item.text(1) == "Restablecer contraseña" and item.text(2) == DEMO_EMAIL
    dialog.list.setCurrentItem(item)
    qtbot.waitUntil(lambda: dialog.shown is not None and dialog.shown.get("kind") == "password_reset")
    assert "contraseña" in dialog.view.toPlainText()


def send_reset_mail(qtbot: Any, window: MainWindow) -> Path:
    """A password reset asked of the embedded server, until its sender wrote the mail; the folder."""
    session = window.session
    assert session is not None and session.embedded
    session.public(commands.request_password_reset, DEMO_EMAIL)
    folder = session.server_folder() / mailbox.MAIL_FOLDER
    qtbot.waitUntil(lambda: any(folder.glob("*-password_reset-*.eml")), timeout=30_000)
    return folder


def test_the_reset_mail_is_listed_shown_and_its_link_works(
    qtbot: Any, started_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = started_window
    session = window.session
    assert session is not None
    folder = send_reset_mail(qtbot, window)

    page = show_page(window, "ayuda")
    assert isinstance(page, AyudaPage)
    assert page.mails_button.isVisible()
    assert page.mails_action is not None and page.mails_action.isVisible()
    assert page.mails_action.text() == "Correos de &prueba…"
    SHOTS.mkdir(exist_ok=True)
    window.resize(1366, 768)
    window.grab().save(str(SHOTS / "ayuda.png"))
    click(qtbot, page.mails_button)
    dialog = page.mails_dialog
    assert isinstance(dialog, DemoMailsDialog) and dialog.isVisible()
    open_reset_mail(qtbot, dialog)
    assert dialog.folder.text() == f"Carpeta: {folder}"

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    assert dialog.open_link.isEnabled()
    click(qtbot, dialog.open_link)
    assert len(opened) == 1 and "/cuenta/restablecer?t=" in opened[0]
    assert opened[0].startswith(session.server.url if session.server else "")
    page_answer = requests.get(opened[0], timeout=30)
    assert page_answer.status_code == 200 and "contraseña" in page_answer.text
    click(qtbot, dialog.open_file)
    assert opened[1].startswith("file://") and opened[1].endswith(".eml")

    dialog.resize(1366 * 2 // 3, 768 * 3 // 4)
    dialog.grab().save(str(SHOTS / "correos-de-prueba.png"))
    dialog.close()


def test_signed_out_the_folder_is_read(qtbot: Any, started_window: MainWindow, ops: Operations) -> None:
    # Its own mail: under xdist the test that sends one may run in another worker, or after this.
    send_reset_mail(qtbot, started_window)
    signed_out = DesktopSession(DesktopConfig(), embedded=embedded_default())  # not started: no API
    try:
        dialog = DemoMailsDialog(AppContext(ops, signed_out))
        qtbot.addWidget(dialog)
        dialog.show()
        open_reset_mail(qtbot, dialog)
        assert dialog.shown is not None and "/cuenta/restablecer?t=" in dialog.shown["links"][0]
    finally:
        signed_out.close()


def test_an_empty_folder_says_when_mails_appear(qtbot: Any, ops: Operations, tmp_path: Path) -> None:
    assert mailbox.list_mails(tmp_path / "no-existe")["items"] == []
    session = DesktopSession(DesktopConfig(), home=tmp_path, embedded=embedded_default())
    try:
        dialog = DemoMailsDialog(AppContext(ops, session))
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.loads > 0, timeout=30_000)
        assert "Todavía no hay correos de prueba" in dialog.view.toPlainText()
        assert not dialog.open_link.isEnabled() and not dialog.open_file.isEnabled()
    finally:
        session.close()


def test_a_central_server_offers_no_test_mails(qtbot: Any, ops: Operations, tmp_path: Path) -> None:
    session = DesktopSession(DesktopConfig(server_url="https://cm.ejemplo.mx"), home=tmp_path)
    page = AyudaPage(AppContext(ops, session))
    qtbot.addWidget(page)
    page.show()
    assert not page.mails_button.isVisible()
    assert page.show_test_mails() is None
