"""The pending-commands panel over a real outbox and the real server: states, reasons, retry, discard."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from cmdesk.services import commands
from cmdesk.services.outbox import Command, CommandState
from cmdesk.ui.kit.labels import command_kind as kind_name
from cmdesk.ui.kit.labels import command_state as state_name
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.pending_panel import PendingPanel

TOO_MANY = 10**9  # more stamps than the demo distributor has: the server rejects the transfer


def standard_cti(window: MainWindow) -> str:
    cache = window.session.cache
    assert cache is not None
    return next(c["id"] for c in cache.all("stamping_account") if c["kind"] == "standard" and c["active"])


def queue_transfer(window: MainWindow, quantity: int) -> Command:
    return window.session.command(
        commands.transfer,
        asset="stamps",
        target_type="stamping_account",
        target_id=standard_cti(window),
        quantity=quantity,
    )


def sync(qtbot, window: MainWindow) -> None:
    """A whole sync that starts now (one under way may have pushed before the last command was queued)."""
    running = window._sync_handle
    if running is not None and not running.is_finished:
        qtbot.waitUntil(lambda: running.is_finished, timeout=30_000)
    with qtbot.waitSignal(window.synced, timeout=30_000):
        window.sync_now()


def panel_row(panel: PendingPanel, command_id: str) -> int:
    return next(i for i, c in enumerate(panel.commands) if c.id == command_id)


@pytest.fixture
def panel(qtbot, started_window: MainWindow) -> PendingPanel:
    panel = started_window.show_pending_panel()
    qtbot.waitUntil(lambda: not panel._loading)
    yield panel
    panel.close()
    # Leave no command behind for the next test.
    outbox = started_window.session.outbox
    for command in outbox.list():
        if command.state != CommandState.SENT:
            outbox.discard(command.id)


def test_a_new_command_appears_as_pendiente(qtbot, started_window: MainWindow, panel: PendingPanel) -> None:
    assert panel.empty.isVisible()
    command = queue_transfer(started_window, 1)
    # The "commands" event refreshes the open panel by itself.
    qtbot.waitUntil(lambda: any(c.id == command.id for c in panel.commands))
    row = panel_row(panel, command.id)
    assert panel.table.item(row, 0).text() == "Pendiente"
    assert panel.table.item(row, 1).text() == "Transferencia"
    assert panel.table.item(row, 2).text() == command.description
    assert "/" in panel.table.item(row, 3).text()  # dd/MM/yyyy HH:mm
    panel.table.selectRow(row)
    assert "próxima sincronización" in panel.details.toPlainText()
    assert not panel.retry_button.isEnabled() and panel.discard_button.isEnabled()
    assert started_window.status.pending.text() == "Operaciones pendientes: 1"


def test_a_rejection_shows_the_reason_and_what_to_do(
    qtbot, started_window: MainWindow, panel: PendingPanel
) -> None:
    command = queue_transfer(started_window, TOO_MANY)
    sync(qtbot, started_window)
    qtbot.waitUntil(
        lambda: any(c.id == command.id and c.state == CommandState.REJECTED for c in panel.commands)
    )
    row = panel_row(panel, command.id)
    assert panel.table.item(row, 0).text() == "Rechazado"
    panel.table.selectRow(row)
    details = panel.details.toPlainText()
    assert "Motivo del servidor:" in details
    rejected = started_window.session.outbox.get(command.id)
    assert rejected is not None and rejected.error_code == "insufficient_balance"
    assert rejected.error_detail and rejected.error_detail in details
    assert "Compre timbres o puntos" in details
    assert panel.retry_button.isEnabled() and panel.discard_button.isEnabled()
    qtbot.waitUntil(lambda: "Requieren atención: 1" in started_window.status.pending.text())


def test_retry_with_a_new_key(qtbot, started_window: MainWindow, panel: PendingPanel) -> None:
    command = queue_transfer(started_window, TOO_MANY)
    sync(qtbot, started_window)
    qtbot.waitUntil(
        lambda: any(c.id == command.id and c.state == CommandState.REJECTED for c in panel.commands)
    )
    old_key = started_window.session.outbox.get(command.id).idempotency_key
    panel.table.selectRow(panel_row(panel, command.id))
    # Retrying sends it again at once (a sync follows); without stamps it is rejected again.
    with qtbot.waitSignal(started_window.synced, timeout=30_000):
        panel.retry_button.click()
    again = started_window.session.outbox.get(command.id)
    assert again is not None and again.idempotency_key != old_key
    assert again.state == CommandState.REJECTED and again.attempts == 1


def test_discard_asks_first(qtbot, started_window: MainWindow, panel: PendingPanel, monkeypatch) -> None:
    command = queue_transfer(started_window, 5)
    qtbot.waitUntil(lambda: any(c.id == command.id for c in panel.commands))
    panel.table.selectRow(panel_row(panel, command.id))
    asked: list[str] = []

    def answer(choice):
        def question(_parent, _title, text, *_args):
            asked.append(text)
            return choice

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    panel.discard_button.click()
    assert asked and "Descartar" in asked[0]
    assert started_window.session.outbox.get(command.id) is not None

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    panel.discard_button.click()
    qtbot.waitUntil(lambda: all(c.id != command.id for c in panel.commands))
    assert started_window.session.outbox.get(command.id) is None
    qtbot.waitUntil(lambda: started_window.status.pending.text() == "Operaciones pendientes: 0")


def test_applied_commands_show_when_asked(qtbot, started_window: MainWindow, panel: PendingPanel) -> None:
    command = queue_transfer(started_window, 1)
    sync(qtbot, started_window)
    qtbot.waitUntil(lambda: all(c.id != command.id for c in panel.commands))
    panel.show_done.setChecked(True)
    qtbot.waitUntil(lambda: any(c.id == command.id for c in panel.commands))
    assert panel.table.item(panel_row(panel, command.id), 0).text() == "Aplicado"
    panel.show_done.setChecked(False)


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (CommandState.PENDING, "Pendiente"),
        (CommandState.SENT, "Enviado"),
        (CommandState.DONE, "Aplicado"),
        (CommandState.REJECTED, "Rechazado"),
        (CommandState.CONFLICT, "Conflicto"),
    ],
)
def test_state_names(state: CommandState, name: str) -> None:
    assert state_name(state) == name


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("create_client", "Alta de cliente"),
        ("update_client", "Edición de cliente"),
        ("transfer", "Transferencia"),
        ("bulk_transfer", "Transferencia masiva"),
        ("purchase", "Compra"),
        ("algo_nuevo", "Algo nuevo"),
    ],
)
def test_kind_names(kind: str, name: str) -> None:
    assert kind_name(kind) == name
