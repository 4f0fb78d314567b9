"""Alertas through the real widgets, over the embedded server (which evaluates alerts itself): the
alerts a sync brings are notified once and listed, marked vista / resuelta (queued), acted on (transfer,
auto-sale); the rules edited in Herramientas (Spanish errors beside the fields, saved, deleted); the
renewal calendar shown and exported to an .ics a standard parser reads back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import icalendar
import pytest
from PySide6.QtWidgets import QTabWidget

from cmdesk.domain import clock
from cmdesk.ui.alertas.calendar_page import CalendarPage
from cmdesk.ui.alertas.page import AlertsPage
from cmdesk.ui.herramientas.reglas import RuleDialog, RulesPage
from cmdesk.ui.kit.table import select_id
from cmdesk.ui.main_window import MainWindow

TIMEOUT = 30_000


def settle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.ops.busy == 0, timeout=TIMEOUT)


def sync(qtbot: Any, window: MainWindow) -> None:
    handle = window.sync_now()
    if handle is not None:
        qtbot.waitUntil(lambda: handle.is_finished, timeout=TIMEOUT)
    settle(qtbot, window)


def show(window: MainWindow, name: str) -> Any:
    """Bring a page to the front, as a click on its tabs would."""
    page = window.page(name)
    parent = page.parentWidget()
    while parent is not None:
        if isinstance(parent, QTabWidget):
            for index in range(parent.count()):
                if parent.widget(index) is page or parent.widget(index).isAncestorOf(page):
                    parent.setCurrentIndex(index)
        parent = parent.parentWidget()
    return page


@pytest.fixture(scope="module")
def alerts(started_window: MainWindow) -> list[dict[str, Any]]:
    """The alerts the embedded server's evaluator raised on the demo data, once synced."""
    cache = started_window.session.cache
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    from pytestqt.qtbot import QtBot

    bot = QtBot(None)
    while not cache.all("alert") and dt.datetime.now() < deadline:
        sync(bot, started_window)
        bot.wait(500)
    found = cache.all("alert")
    assert found, "the embedded server raises alerts by itself"
    return found


def test_new_alerts_are_notified_once_and_listed(
    qtbot: Any, started_window: MainWindow, alerts: list
) -> None:
    page = show(started_window, "alertas.alertas")
    assert isinstance(page, AlertsPage)
    qtbot.waitUntil(lambda: page.last_notification is not None, timeout=TIMEOUT)
    title, _text = page.last_notification
    assert "alerta" in title.lower() or title in {a["title"] for a in alerts}
    assert "Alertas" in started_window.statusBar().currentMessage()
    inner = page.parentWidget().parentWidget()
    assert isinstance(inner, QTabWidget)
    new = sum(1 for a in alerts if a["state"] == "new")
    qtbot.waitUntil(lambda: inner.tabText(inner.indexOf(page)) == f"Alertas ({new})", timeout=TIMEOUT)
    # Not notified again: the cache remembers which were.
    page.last_notification = None
    page.check_new()
    settle(qtbot, started_window)
    assert page.last_notification is None
    qtbot.wait(2000)
    qtbot.waitUntil(lambda: page.model.rowCount() == len(alerts) and not page.model.busy, timeout=TIMEOUT)
    started_window.grab().save("/tmp/i17b/alertas.png")


def test_mark_seen_and_resolved_queues_one_command(
    qtbot: Any, started_window: MainWindow, alerts: list[dict[str, Any]]
) -> None:
    page = show(started_window, "alertas.alertas")
    qtbot.waitUntil(lambda: page.model.rowCount() == len(alerts) and not page.model.busy, timeout=TIMEOUT)
    first = alerts[0]["id"]
    assert select_id(page.table, first)
    assert page.seen_button.isEnabled() and page.transfer_button.isEnabled()
    assert "<b>" in page.detail.text()
    page.mark("seen")
    cache = started_window.session.cache
    qtbot.waitUntil(lambda: (cache.get("alert", first) or {}).get("state") == "seen", timeout=TIMEOUT)
    sync(qtbot, started_window)
    # The server has it too (the command went out and its answer came back).
    qtbot.waitUntil(lambda: (cache.server_copy("alert", first) or {}).get("state") == "seen", timeout=TIMEOUT)
    assert not cache.local_ids("alert")
    # Several at once: one command, all resolved.
    page.table.selectAll()
    page.mark("resolved")
    sync(qtbot, started_window)
    qtbot.waitUntil(
        lambda: all((cache.server_copy("alert", a["id"]) or {}).get("state") == "resolved" for a in alerts),
        timeout=TIMEOUT,
    )
    # The state filter.
    page.state_filter.setCurrentIndex(page.state_filter.findData("new"))
    qtbot.waitUntil(lambda: not page.model.busy and page.model.query.get("state") == "new", timeout=TIMEOUT)
    assert page.model.rowCount() == 0
    page.state_filter.setCurrentIndex(page.state_filter.findData("resolved"))
    qtbot.waitUntil(lambda: not page.model.busy and page.model.rowCount() == len(alerts), timeout=TIMEOUT)
    page.state_filter.setCurrentIndex(0)
    qtbot.waitUntil(lambda: not page.model.busy and page.model.query.get("state") is None, timeout=TIMEOUT)
    inner = page.parentWidget().parentWidget()
    qtbot.waitUntil(lambda: inner.tabText(inner.indexOf(page)) == "Alertas", timeout=TIMEOUT)


def test_one_click_to_transfer_or_auto_sale(
    qtbot: Any, started_window: MainWindow, alerts: list[dict[str, Any]]
) -> None:
    page = show(started_window, "alertas.alertas")
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy, timeout=TIMEOUT)
    alert = alerts[0]
    assert select_id(page.table, alert["id"])
    dialog = page.transfer()
    assert dialog is not None and dialog.target_id == alert["subject"]["id"]
    dialog.close()
    page.auto_sale()
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog is not dialog, timeout=TIMEOUT)
    assert page.dialog.windowTitle()
    page.dialog.close()


def test_rules_edited_in_herramientas(qtbot: Any, started_window: MainWindow) -> None:
    page = show(started_window, "herramientas.alertas")
    assert isinstance(page, RulesPage)
    qtbot.waitUntil(lambda: page.model.rowCount() >= 2 and not page.model.busy, timeout=TIMEOUT)
    scopes = [r.get("scope") for r in page.model.records()]
    assert scopes[:2] == ["account", "own_balance"]
    assert page.model.index(0, 2).data() == "≤ 7 días" and page.model.index(1, 2).data() == "≤ 15 días"
    assert not page.model.record(0)["stored"]
    # A client rule: Spanish errors beside the fields, nothing sent.
    dialog = page.add()
    assert isinstance(dialog, RuleDialog)
    dialog.days.setText("7, 400, x")
    dialog.scope_id.setText("200022")
    dialog.notify_client.setChecked(True)
    dialog.client_message.setPlainText("Hola {nombre}")
    dialog.ok_button.click()
    assert "365" in dialog.error("days_thresholds")
    assert "{nombre}" in dialog.error("client_message")
    dialog.days.setText("")
    dialog.balance.setText("")
    dialog.client_message.setPlainText("Hola {cliente}, le quedan {saldo} timbres.")
    dialog.ok_button.click()
    assert "al menos un umbral" in dialog.error("days_thresholds")
    dialog.scope_id.setText("999999")
    dialog.days.setText("10, 3")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: "No hay un cliente con NIC 999999" in dialog.error("scope_id"), timeout=TIMEOUT)
    dialog.scope_id.setText("200022")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT)
    cache = started_window.session.cache
    stored = [r for r in cache.all("alert_rule") if r["scope"] == "client"]
    assert len(stored) == 1 and stored[0]["days_thresholds"] == [3, 10] and stored[0]["notify_client"]
    qtbot.waitUntil(lambda: page.model.rowCount() == 3 and not page.model.busy, timeout=TIMEOUT)
    row = page.model.record(2)
    assert row["target"].startswith("[200022]") and page.model.index(2, 2).data() == "≤ 3, ≤ 10 días"
    # The account rule: edited (its daily cap), then deleted back to the defaults.
    assert select_id(page.table, "default:account")
    edit = page.edit()
    assert edit is not None and edit.daily_cap.isEnabled() and not edit.scope.isEnabled()
    edit.days.setText("5, 10")
    edit.daily_cap.setValue(50)
    edit.ok_button.click()
    qtbot.waitUntil(lambda: not edit.isVisible(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: page.model.record(0).get("stored") is True, timeout=TIMEOUT)
    assert page.model.record(0)["daily_cap"] == 50
    started_window.grab().save("/tmp/i17b/reglas.png")
    assert select_id(page.table, str(page.model.record(0)["id"]))
    page._delete(str(page.model.record(0)["id"]))
    qtbot.waitUntil(lambda: page.model.record(0).get("stored") is False, timeout=TIMEOUT)
    for rule in cache.all("alert_rule"):
        page._delete(str(rule["id"]))
    qtbot.waitUntil(lambda: not cache.all("alert_rule"), timeout=TIMEOUT)


def test_calendar_shown_and_exported_to_ics(qtbot: Any, started_window: MainWindow, tmp_path: Path) -> None:
    page = show(started_window, "alertas.calendario")
    assert isinstance(page, CalendarPage)
    qtbot.waitUntil(
        lambda: page.answer is not None and not page.status.text().endswith("(sin conexión)."),
        timeout=TIMEOUT,
    )
    settle(qtbot, started_window)
    items = page.answer["items"]
    assert items and page.model.rowCount() == len(items)
    assert page.model.index(0, 0).data().count("/") == 2
    assert "Total a renovar" in page.total.text()
    started_window.grab().save("/tmp/i17b/calendario.png")
    target = tmp_path / "renovaciones.ics"
    page.export(target)
    qtbot.waitUntil(lambda: page.last_export == target, timeout=TIMEOUT)
    calendar = icalendar.Calendar.from_ical(target.read_bytes())
    events = [e for e in calendar.walk("VEVENT")]
    assert len(events) == len(items)
    dates = sorted(e.decoded("DTSTART") for e in events)
    assert dates == sorted(dt.date.fromisoformat(i["date"]) for i in items)
    assert all(any(c.name == "VALARM" for c in e.subcomponents) for e in events)
    # Offline, the last calendar is still there.
    page.answer = None
    page.months.setValue(6)
    page.load()
    qtbot.waitUntil(lambda: page.answer is not None, timeout=TIMEOUT)


def test_what_expires_within_a_week_is_recalled_once(qtbot: Any, started_window: MainWindow) -> None:
    page = started_window.page("alertas.calendario")
    assert isinstance(page, CalendarPage)
    page.reminded = False
    soon = (clock.today() + dt.timedelta(days=3)).isoformat()
    later = (clock.today() + dt.timedelta(days=40)).isoformat()
    answer = {
        "from": clock.today().isoformat(),
        "until": later,
        "items": [
            {
                "uid": "a",
                "date": soon,
                "kind": "account",
                "kind_label": "Cuenta Maestra",
                "title": "Renovación de la Cuenta Maestra",
                "amount_cents": 348000,
            },
            {
                "uid": "b",
                "date": later,
                "kind": "license",
                "kind_label": "Licencia MKL",
                "title": "Vence la licencia",
                "amount_cents": None,
            },
        ],
        "total_cents": 348000,
    }
    page._show(answer, stored=False)
    assert page.last_reminder == "Vence en los próximos 7 días: Renovación de la Cuenta Maestra."
    assert "Renovaciones próximas" in started_window.statusBar().currentMessage()
    assert page.model.index(0, 1).data() == "3 días" and page.model.index(1, 4).data() == "—"
    page.last_reminder = None
    page._show(answer, stored=False)
    assert page.last_reminder is None  # once a session


def test_an_own_balance_alert_offers_comprar(qtbot: Any, started_window: MainWindow) -> None:
    """#17: an alert of the distributor's own balance has «Comprar timbres…», which opens Compras on
    its Timbres CFDI packages; a client's alert does not offer it. The own-balance rule is given a
    threshold above the demo's balance, so the embedded server's evaluator raises a real one."""
    from cmdesk.ui.compras.page import PurchasesPage

    rules = show(started_window, "herramientas.alertas")
    qtbot.waitUntil(lambda: rules.model.rowCount() >= 2 and not rules.model.busy, timeout=TIMEOUT)
    assert select_id(rules.table, "default:own_balance")
    edit = rules.edit()
    assert edit is not None
    edit.balance.setText("100000000")
    edit.ok_button.click()
    qtbot.waitUntil(lambda: not edit.isVisible(), timeout=TIMEOUT)
    cache = started_window.session.cache

    def own_alerts() -> list[dict[str, Any]]:
        return [a for a in cache.all("alert") if (a.get("subject") or {}).get("type") == "own_balance"]

    deadline = dt.datetime.now() + dt.timedelta(seconds=90)
    while not own_alerts() and dt.datetime.now() < deadline:
        sync(qtbot, started_window)
        qtbot.wait(500)
    try:
        (own,) = own_alerts()[:1]
        page = show(started_window, "alertas.alertas")
        qtbot.waitUntil(lambda: page.model.row_of(own["id"]) >= 0 and not page.model.busy, timeout=TIMEOUT)
        client = next(
            (r for r in page.model.records() if (r.get("subject") or {}).get("type") == "stamping_account"),
            None,
        )
        if client is not None:
            assert select_id(page.table, client["id"])
            assert page.transfer_button.isEnabled() and not page.buy_button.isEnabled()
        assert select_id(page.table, own["id"])
        assert page.buy_button.isVisibleTo(page) and page.buy_button.isEnabled()
        assert not page.transfer_button.isEnabled()
        page.buy_button.click()
        purchases = started_window.page("compras")
        assert isinstance(purchases, PurchasesPage)
        assert purchases.isVisible() and purchases.tabs.currentWidget() is purchases.stamps
    finally:
        for rule in cache.all("alert_rule"):
            rules._delete(str(rule["id"]))
        qtbot.waitUntil(lambda: not cache.all("alert_rule"), timeout=TIMEOUT)
        settle(qtbot, started_window)
