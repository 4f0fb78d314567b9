"""The hand-off sheet: after a CTI's password is reset (or a CTI created), the distributor gets a
window to save or print the sheet for the client; the password is masked there, the PDF carries it
with the CTI id, the client and the service's address, and the window forgets it when it closes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLineEdit

from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado import TimbradoPage
from cmdesk.ui.timbrado.handoff import HandoffDialog
from tests.ui.portal_helpers import show_page


def test_reset_offers_the_sheet_and_its_pdf(qtbot: Any, started_window: MainWindow, tmp_path: Path) -> None:
    page = show_page(started_window, "clientes.timbrado")
    assert isinstance(page, TimbradoPage)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0)
    target = page.model.row(0)
    page.select_ids([target.id])
    dialog = page.reset_password()
    assert dialog is not None
    dialog.passwords.password.setText("EntregaSegura2026")
    dialog.passwords.confirm.setText("EntregaSegura2026")
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        dialog.ok_button.click()
    qtbot.waitUntil(lambda: isinstance(page.handoff, HandoffDialog), timeout=30_000)
    sheet_window: HandoffDialog = page.handoff
    assert sheet_window.password.echoMode() == QLineEdit.EchoMode.Password
    assert sheet_window.password.text() == "EntregaSegura2026"
    sheet_window.grab().save("/tmp/i18b-handoff.png")
    pdf = tmp_path / "hoja.pdf"
    with qtbot.waitSignal(sheet_window.saved, timeout=30_000):
        sheet_window.save_pdf(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert target.id in text and "EntregaSegura2026" in text
    if shutil.which("gs"):
        subprocess.run(
            ["gs", "-q", "-dBATCH", "-dNOPAUSE", "-sDEVICE=png16m", "-r70", "-o", "/tmp/i18b-handoff-pdf.png", str(pdf)],
            check=True,
        )
    # Closed: the password is gone from the window, and never reached the cache or the outbox.
    sheet_window.close()
    assert sheet_window.sheet is None and sheet_window.password.text() == ""
    session = started_window.context.session
    assert session is not None and session.cache is not None and session.outbox is not None
    for path in Path(session.cache.path).parent.iterdir():
        if path.is_file():
            assert b"EntregaSegura2026" not in path.read_bytes(), path


@pytest.mark.parametrize("event", ["created", "reset"])
def test_sheet_text_has_what_the_client_needs(started_window: MainWindow, event: str) -> None:
    from cmdesk.services.handoff import handoff_sheet
    from cmdesk.ui.timbrado.handoff import sheet_html

    session = started_window.context.session
    assert session is not None and session.cache is not None
    cti = session.cache.query_stamping_accounts(limit=1)[0]
    sheet = handoff_sheet(session.api, session.cache, str(cti["id"]), "Secreta2026", event=event)
    text = sheet_html(sheet)
    assert str(cti["id"]) in text and "Secreta2026" in text and "/stamping/consume" in text
    assert sheet.client_name and sheet.client_name.split()[0] in text
    assert "Secreta2026" not in repr(sheet)


def test_a_new_clients_password_box_offers_the_sheet(qtbot: Any, started_window: MainWindow) -> None:
    from PySide6.QtWidgets import QPushButton

    clients = show_page(started_window, "clientes.clientes")
    session = started_window.context.session
    assert session is not None and session.cache is not None
    cti = session.cache.query_stamping_accounts(limit=1)[0]
    clients.show_new_passwords([("Cliente nuevo", str(cti["id"]), "ClaveNueva2026")])
    box = clients.last_box
    assert box is not None and "ClaveNueva2026" in box.text()
    button = box.findChild(QPushButton, "handoff")
    assert button is not None
    button.click()
    qtbot.waitUntil(lambda: isinstance(clients.handoff, HandoffDialog), timeout=30_000)
    assert clients.handoff.sheet is not None and clients.handoff.sheet.cti_id == str(cti["id"])
    assert clients.handoff.sheet.event == "created"
    clients.handoff.close()
