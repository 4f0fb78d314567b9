"""Timbrado → Transferencia desde archivo through its real widgets, over the real embedded server.

A CSV of the demo's CTIs (semicolons, UTF-8 with BOM): the columns guessed and shown, the dry run with
its Spanish errors per row and the send refused until they are excluded, the sending off the UI
thread with its progress, the result row by row, the same file recognised when imported again, and an
import left in the middle (planned in the journal, never sent) resumed from the first page: every row
applied exactly once. Screenshots of each step at 1366×768 go to /tmp.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cmdesk.services import bulk_import
from cmdesk.services.bulk_import.journal import JournalRow, RowState, row_key
from cmdesk.ui import tabs
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.import_dialog import ImportDialog
from cmdesk.ui.timbrado.page import TimbradoPage
from tests.ui.portal_helpers import show_page

TIMEOUT = 60_000
SHOTS = Path(os.environ.get("CMDESK_SCREENSHOTS", "/tmp/cmdesk-import-shots"))


@pytest.fixture(scope="module", autouse=True)
def timbrado_registered() -> None:
    tabs.register("clientes.timbrado", TimbradoPage)


@pytest.fixture
def page(qtbot, started_window: MainWindow) -> Iterator[TimbradoPage]:
    started_window.resize(1366, 768)
    page = show_page(started_window, "clientes.timbrado")
    assert isinstance(page, TimbradoPage)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy, timeout=TIMEOUT)
    yield page
    if page.dialog is not None:
        page.dialog.close()
    qtbot.waitUntil(lambda: started_window.ops.busy == 0, timeout=TIMEOUT)


def shot(widget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def balance(window: MainWindow, cti_id: str) -> int:
    return int(window.session.cache.get("stamping_account", cti_id)["balance"])


def open_dialog(qtbot, page: TimbradoPage) -> ImportDialog:
    assert page.buttons["import"].isEnabled()
    page.buttons["import"].click()
    dialog = page.dialog
    assert isinstance(dialog, ImportDialog)
    dialog.resize(1366, 740)
    qtbot.waitUntil(lambda: dialog.desk is not None, timeout=TIMEOUT)
    return dialog


def test_a_file_is_checked_sent_and_its_result_shown(qtbot, page: TimbradoPage, tmp_path: Path) -> None:
    window = page.window()
    assert isinstance(window, MainWindow)
    ctis = [r.id for r in page.model.rows() if r.kind == "standard" and r.active][:3]
    assert len(ctis) == 3
    before = {c: balance(window, c) for c in ctis}
    csv = tmp_path / "recargas noviembre.csv"
    lines = ["CTI;Cantidad;Importe;Comentario"]
    lines += [f"{c};2;$23.20;Recarga de noviembre" for c in ctis]
    lines += ["NO-EXISTE;5;;Cuenta equivocada", f"{ctis[0]};tres;;Cantidad en letra"]
    csv.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    shot(window, "00-timbrado")

    dialog = open_dialog(qtbot, page)
    assert dialog.steps.currentIndex() == 0
    dialog.open_file(csv)
    qtbot.waitUntil(lambda: dialog.steps.currentIndex() == 1, timeout=TIMEOUT)
    # The columns guessed from the titles, and the first rows as they will be read.
    assert dialog.combos[bulk_import.Column.CTI].currentData() == "CTI"
    assert dialog.combos[bulk_import.Column.QUANTITY].currentData() == "Cantidad"
    assert dialog.combos[bulk_import.Column.AMOUNT].currentData() == "Importe"
    assert dialog.combos[bulk_import.Column.CLIENT].currentText() == "— Sin asignar —"
    qtbot.waitUntil(lambda: dialog.preview_model.rowCount() == 5, timeout=TIMEOUT)
    assert dialog.preview_model.index(0, 1).data() == ctis[0]
    assert "5 filas" in dialog.file_label.text()
    # Without a quantity column nothing can be read: said in Spanish, and the check is off.
    dialog.combos[bulk_import.Column.QUANTITY].setCurrentIndex(0)
    assert not dialog.check_button.isEnabled()
    assert "cantidad de timbres" in dialog.mapping_problems.text()
    dialog.combos[bulk_import.Column.QUANTITY].setCurrentIndex(
        dialog.combos[bulk_import.Column.QUANTITY].findData("Cantidad")
    )
    assert dialog.check_button.isEnabled()
    shot(dialog, "01-columnas")

    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.steps.currentIndex() == 2, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: dialog.check_model.rowCount() == 5, timeout=TIMEOUT)
    notes = {dialog.check_model.index(r, 0).data(): dialog.check_model.index(r, 8).data() for r in range(5)}
    assert "no existe" in notes["5"].lower() or "no se encontró" in notes["5"].lower(), notes
    assert notes["6"], notes  # «tres» is not a quantity
    assert not dialog.send_button.isEnabled()
    assert "2 filas tienen errores" in dialog.blocking.text()
    assert "Por facturar: $69.60" in dialog.totals.text()
    shot(dialog, "02-revision-con-errores")

    dialog.exclude_button.click()
    assert dialog.send_button.isEnabled() and dialog.send_button.text() == "Enviar 3 transferencias"
    assert not dialog.blocking.isVisible()
    progress: list[tuple[int, int]] = []
    dialog.progress_bar.valueChanged.connect(lambda v: progress.append((v, dialog.progress_bar.maximum())))
    with qtbot.waitSignal(dialog.sent, timeout=TIMEOUT) as sent:
        dialog.send_button.click()
        assert dialog.steps.currentIndex() == 3 and not dialog.close_button.isEnabled()
        shot(dialog, "03-envio")
    report = sent.args[0]
    assert report.progress.applied == 3 and report.progress.total == 3
    assert (3, 3) in progress
    qtbot.waitUntil(lambda: dialog.steps.currentIndex() == 4, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: dialog.result_model.rowCount() == 3, timeout=TIMEOUT)
    assert [dialog.result_model.index(r, 1).data() for r in range(3)] == ["Aplicada"] * 3
    assert "3 de 3 filas enviadas: 3 aplicadas" in dialog.summary.text()
    assert not dialog.retry_button.isEnabled()
    shot(dialog, "04-resultado")
    qtbot.waitUntil(lambda: all(balance(window, c) == before[c] + 2 for c in ctis), timeout=TIMEOUT)

    result = tmp_path / "resultado.xlsx"
    dialog.export_to(result)
    qtbot.waitUntil(result.exists, timeout=TIMEOUT)

    # The same file again: recognised before anything is sent.
    dialog.back_button.click()
    assert dialog.steps.currentIndex() == 0
    dialog.open_file(csv)
    qtbot.waitUntil(lambda: dialog.steps.currentIndex() == 1, timeout=TIMEOUT)
    assert dialog.warning.isVisible() and "ya se importó" in dialog.warning.text()
    assert "3 de 3 filas aplicadas" in dialog.warning.text()


def test_an_import_left_in_the_middle_is_resumed(qtbot, page: TimbradoPage) -> None:
    window = page.window()
    assert isinstance(window, MainWindow)
    ctis = [r.id for r in page.model.rows() if r.kind == "standard" and r.active][3:5]
    before = {c: balance(window, c) for c in ctis}
    dialog = open_dialog(qtbot, page)
    # What an app closed in the middle of sending leaves: the rows planned in the journal, not sent.
    import_id = "f" * 64
    rows = [
        JournalRow(
            import_id, n + 2, 1, row_key(import_id, n + 2), cti, cti, 4, 0, "", RowState.PLANNED, "", ""
        )
        for n, cti in enumerate(ctis)
    ]
    dialog.desk.journal.plan(import_id, "a medias.xlsx", rows)
    page.dialog.close()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=TIMEOUT)

    dialog = open_dialog(qtbot, page)
    qtbot.waitUntil(lambda: dialog.resume_button.isVisible(), timeout=TIMEOUT)
    assert "a medias.xlsx" in dialog.resume_box.currentText()
    assert "0 de 2 filas aplicadas" in dialog.resume_box.currentText()
    shot(dialog, "05-reanudar")
    with qtbot.waitSignal(dialog.sent, timeout=TIMEOUT):
        dialog.resume_button.click()
    qtbot.waitUntil(lambda: dialog.result_model.rowCount() == 2, timeout=TIMEOUT)
    assert [dialog.result_model.index(r, 1).data() for r in range(2)] == ["Aplicada"] * 2
    qtbot.waitUntil(lambda: all(balance(window, c) == before[c] + 4 for c in ctis), timeout=TIMEOUT)
    # Resumed again (the same keys): nothing is applied twice.
    with qtbot.waitSignal(dialog.sent, timeout=TIMEOUT):
        dialog._start("resume", import_id)
    assert all(balance(window, c) == before[c] + 4 for c in ctis)
    assert dialog.desk.journal.unfinished() == []


def test_a_sin_cargo_column_is_mapped_and_shown(qtbot, page: TimbradoPage, tmp_path: Path) -> None:
    """#19: «Sin cargo» in the columns (guessed from its title), in the preview and in the dry run's
    amount; a row with neither an amount nor «Sin cargo» is an error, never a $0.00 sale."""
    ctis = [r.id for r in page.model.rows() if r.kind == "standard" and r.active][:2]
    csv = tmp_path / "cortesias.csv"
    lines = ["CTI;Cantidad;Importe;Sin cargo", f"{ctis[0]};1;;Sí", f"{ctis[1]};1;;No"]
    csv.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    dialog = open_dialog(qtbot, page)
    dialog.open_file(csv)
    qtbot.waitUntil(lambda: dialog.steps.currentIndex() == 1, timeout=TIMEOUT)
    combo = dialog.combos[bulk_import.Column.NO_CHARGE]
    assert combo.currentData() == "Sin cargo"
    qtbot.waitUntil(lambda: dialog.preview_model.rowCount() == 2, timeout=TIMEOUT)
    titles = [dialog.preview_model.headerData(i, Qt.Orientation.Horizontal) for i in range(6)]
    assert titles[5] == "Sin cargo" and dialog.preview_model.index(0, 5).data() == "Sí"
    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.check_model.rowCount() == 2, timeout=TIMEOUT)
    assert dialog.check_model.index(0, 5).data() == "Sin cargo"
    assert "Falta el importe" in dialog.check_model.index(1, 8).data()
    assert not dialog.send_button.isEnabled()
    dialog.exclude_button.click()
    assert dialog.send_button.text() == "Enviar 1 transferencia"
    assert "Por facturar: $0.00" in dialog.totals.text()
    dialog.close()
