"""Bitácora over the real embedded server: the page reads the log in pages, filters it on the server
(user, entity, action), opens a record whole; a client's history opens from the Clientes menu."""

from __future__ import annotations

from typing import Any

from cmdesk.ui.bitacora import BitacoraPage, HistoryDialog, RecordDialog
from cmdesk.ui.main_window import MainWindow
from tests.ui.portal_helpers import click, show_page


def make_changes(qtbot: Any, window: MainWindow) -> str:
    """Tag a client (a queued command, sent at once): the log then has records of it. Its id."""
    clients = show_page(window, "clientes.clientes")
    qtbot.waitUntil(lambda: clients.model.rowCount() > 0)
    row = clients.model.row(0)
    session = window.context.session
    assert session is not None and session.outbox is not None
    favorite = not row.data.get("favorite")
    clients.set_tags([row], favorite=favorite)
    qtbot.waitUntil(
        lambda: session.outbox.pending_count() == 0
        and (session.cache.server_copy("client", row.id) or {}).get("favorite") == favorite,
        timeout=30_000,
    )
    return str(row.id)


def page(window: MainWindow) -> BitacoraPage:
    found = show_page(window, "herramientas.bitacora")
    assert isinstance(found, BitacoraPage)
    return found


def test_the_log_reads_filters_and_opens_a_record(qtbot: Any, started_window: MainWindow) -> None:
    make_changes(qtbot, started_window)
    bitacora = page(started_window)
    panel = bitacora.panel
    with qtbot.waitSignal(panel.fetched, timeout=30_000):
        click(qtbot, panel.show_button)
    qtbot.waitUntil(lambda: panel.model.rowCount() > 0, timeout=30_000)
    started_window.resize(1366, 768)
    started_window.grab().save("/tmp/i18b-bitacora.png")
    records = panel.model.records()
    times = [r["created_at"] for r in records]
    assert times == sorted(times, reverse=True)
    # By entity: only clients.
    panel.entity.setCurrentIndex(panel.entity.findData("client"))
    with qtbot.waitSignal(panel.fetched, timeout=30_000):
        click(qtbot, panel.show_button)
    qtbot.waitUntil(lambda: not panel.model.busy)
    assert all(r["entity"] == "client" for r in panel.model.records())
    # By action: the server's filter (its records from the newest, not only the pages read).
    assert panel.action.count() > 1
    wanted = panel.action.itemData(1)
    with qtbot.waitSignal(panel.fetched, timeout=30_000):
        panel.action.setCurrentIndex(1)
    qtbot.waitUntil(lambda: not panel.model.busy)
    assert panel.filters.action == wanted and panel.model.rowCount() > 0
    assert all(r["action"] == wanted and r["entity"] == "client" for r in panel.model.records())
    assert panel.action.currentData() == wanted and panel.action.count() > 1  # the others still offered
    # A record, whole.
    panel.entity.setCurrentIndex(0)
    with qtbot.waitSignal(panel.fetched, timeout=30_000):
        panel.action.setCurrentIndex(0)
    with qtbot.waitSignal(panel.fetched, timeout=30_000):
        click(qtbot, panel.show_button)
    qtbot.waitUntil(lambda: panel.model.rowCount() > 0)
    panel.table.selectRow(0)
    dialog = panel.open_record()
    assert isinstance(dialog, RecordDialog)
    assert dialog.fields.rowCount() >= 1 or dialog.record.get("before") == dialog.record.get("after")
    dialog.grab().save("/tmp/i18b-bitacora-record.png")
    dialog.close()


def test_a_clients_history_opens_from_the_clients_menu(qtbot: Any, started_window: MainWindow) -> None:
    client_id = make_changes(qtbot, started_window)
    clients = show_page(started_window, "clientes.clientes")
    row = clients.model.row(clients.model.row_of(client_id))
    action = next(a for a in clients.context_menu_for([row]).actions() if a.objectName() == "history")
    action.trigger()
    dialog = clients.dialog
    assert isinstance(dialog, HistoryDialog)
    qtbot.waitUntil(lambda: dialog.panel.model.rowCount() > 0, timeout=30_000)
    assert dialog.panel.filters.entity_id == row.id
    assert dialog.panel.model.records()[0]["action"].startswith("client.")
    qtbot.waitUntil(lambda: "del servidor el" in dialog.panel.state.text())
    dialog.resize(1366, 600)
    dialog.grab().save("/tmp/i18b-history.png")
    dialog.close()


def test_blocking_a_cti_with_a_reason_shows_it_in_its_history(qtbot: Any, started_window: MainWindow) -> None:
    from PySide6.QtWidgets import QLineEdit

    from cmdesk.ui.timbrado import TimbradoPage

    timbrado = show_page(started_window, "clientes.timbrado")
    assert isinstance(timbrado, TimbradoPage)
    qtbot.waitUntil(lambda: timbrado.model.rowCount() > 0)
    target = next(timbrado.model.row(i) for i in range(timbrado.model.rowCount()) if timbrado.model.row(i).active)
    timbrado.select_ids([target.id])
    box = timbrado.set_active(False)
    assert box is not None
    reason = box.findChild(QLineEdit, "reason")
    assert reason is not None and reason.isVisible()
    box.grab().save("/tmp/i18b-block-reason.png")
    qtbot.keyClicks(reason, "Adeudo de 3 meses")
    next(b for b in box.buttons() if b.text() == "Sí").click()
    session = started_window.context.session
    assert session is not None and session.cache is not None
    qtbot.waitUntil(
        lambda: (session.cache.server_copy("stamping_account", target.id) or {}).get("active") is False,
        timeout=30_000,
    )
    dialog = timbrado.open_history(target.id)
    qtbot.waitUntil(lambda: dialog.panel.model.rowCount() > 0, timeout=30_000)
    newest = dialog.panel.model.records()[0]
    assert newest["reason"] == "Adeudo de 3 meses"
    assert newest["device"].startswith("cmdesk/")
    assert dialog.panel.model.data(dialog.panel.model.index(0, 5)) == "Adeudo de 3 meses"
    dialog.close()


def test_a_sub_distributors_log_opens_from_distribuidores(qtbot: Any, started_window: MainWindow) -> None:
    page = show_page(started_window, "clientes.distribuidores")
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=30_000)
    row = page.model.record(0)
    dialog = page.open_log(row)
    assert isinstance(dialog, HistoryDialog)
    assert dialog.panel.filters.account_id == row["id"] and dialog.panel.filters.entity is None
    qtbot.waitUntil(lambda: "del servidor el" in dialog.panel.state.text(), timeout=30_000)
    assert dialog.panel.notice.text() == ""  # the server accepted the filter: no refusal shown
    dialog.close()


def test_suspending_a_distributor_asks_a_reason_that_reaches_the_log(
    qtbot: Any, started_window: MainWindow
) -> None:
    from PySide6.QtWidgets import QLineEdit, QPushButton

    page = show_page(started_window, "clientes.distribuidores")
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=30_000)
    index = next(i for i in range(page.model.rowCount()) if page.model.record(i).get("status") == "active")
    row = page.model.record(index)
    page.table.selectRow(index)
    page.act("suspend")
    box = page.last_box
    assert box is not None
    reason = box.findChild(QLineEdit, "reason")
    assert reason is not None
    reason.setText("Pidió la suspensión por escrito")
    box.grab().save("/tmp/i18b-suspend-reason.png")
    box.findChild(QPushButton, "yesButton").click()
    qtbot.waitUntil(lambda: "suspendida" in page.notice.text(), timeout=30_000)
    api = started_window.context.session.api
    records = api.get("/v1/audit", {"entity": "distributor", "limit": 5})["items"]
    newest = next(r for r in records if r["entity_id"] == row["id"])
    assert newest["reason"] == "Pidió la suspensión por escrito"
    assert newest["action"].startswith("distributor.")
