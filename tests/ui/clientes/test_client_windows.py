"""The client's windows over the real embedded server: the admin profile (and the manual's refusal),
the detail window's seven tabs with the cache's data, MKL licenses, records, the transfer dialog, and
the export of the view to Excel and CSV (read back)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PySide6.QtWidgets import QTabWidget

from cmdesk.server.seed import DEMO_EMAIL, DEMO_MOBILE
from cmdesk.services.export import HEADERS
from cmdesk.ui.clientes.admin_profile import REFUSAL_TEXT, AdminProfileDialog
from cmdesk.ui.clientes.detail import TABS, ClientDetailWindow
from cmdesk.ui.clientes.page import ClientsPage
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog


@pytest.fixture(scope="module")
def page(started_window: MainWindow) -> ClientsPage:
    inner = started_window.tabs.widget(0)
    assert isinstance(inner, QTabWidget)
    page = started_window.page("clientes.clientes")
    assert isinstance(page, ClientsPage)
    return page


def cache_of(window: MainWindow) -> Any:
    assert window.session is not None and window.session.cache is not None
    return window.session.cache


def ready(qtbot: Any, window: MainWindow, page: ClientsPage) -> None:
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy, timeout=20000)
    qtbot.waitUntil(lambda: window.ops.busy == 0, timeout=30000)


def test_admin_profile_refusal_shows_the_manuals_text(
    page: ClientsPage, started_window: MainWindow, qtbot: Any
) -> None:
    ready(qtbot, started_window, page)
    dialog = page.open_admin_profile(page.model.rows()[0].id)
    assert isinstance(dialog, AdminProfileDialog)
    dialog.email.setText("correo-malo")
    dialog.save_button.click()
    assert dialog.email_error.text().startswith("Escriba un correo electrónico válido")
    # The distributor's own profile administers a Cuenta Maestra: the server refuses it.
    dialog.email.setText(DEMO_EMAIL)
    dialog.mobile.setText(DEMO_MOBILE)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.message.text() != "", timeout=20000)
    assert dialog.message.text() == REFUSAL_TEXT
    assert dialog.isVisible()
    # A profile that does not exist: the server's reason beside the e-mail.
    dialog.email.setText("nadie@ejemplo.mx")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.email_error.text() != "", timeout=20000)
    assert "No existe un perfil" in dialog.email_error.text()
    dialog.reject()


def client_with(cache: Any, entity: str) -> str:
    return next(str(r["client_id"]) for r in cache.all(entity) if r.get("client_id"))


def test_detail_window_tabs_show_the_clients_data(
    page: ClientsPage, started_window: MainWindow, qtbot: Any
) -> None:
    ready(qtbot, started_window, page)
    cache = cache_of(started_window)
    client_id = client_with(cache, "license")
    window = page.open_detail(client_id, "licenses")
    assert isinstance(window, ClientDetailWindow)
    qtbot.waitUntil(lambda: bool(window.data), timeout=20000)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [t for _k, t in TABS]
    assert window.tabs.currentWidget() is window.pages["licenses"]
    client = cache.get("client", client_id)
    assert client["name"] in window.heading.text() and client["rfc"] in window.general.toPlainText()
    ctis = [c for c in cache.all("stamping_account") if c["client_id"] == client_id]
    assert window.ctis.rowCount() == len(ctis) >= 1
    assert {window.ctis.item(r, 0).text() for r in range(window.ctis.rowCount())} == {c["id"] for c in ctis}
    licenses = [x for x in cache.all("license") if x["client_id"] == client_id]
    assert window.licenses.rowCount() == len(licenses) >= 1
    assert window.licenses.item(0, 1).text() in {x["license_key"] for x in licenses}
    sales = [m for m in cache.query_movements(client_id=client_id, limit=5000) if m["amount_cents"] > 0]
    assert window.sales.rowCount() == len(sales)
    interactions = [x for x in cache.all("interaction") if x["client_id"] == client_id]
    assert window.interactions.rowCount() == len(interactions)
    policies = [x for x in cache.all("support_policy") if x["client_id"] == client_id]
    assert window.policies.rowCount() == len(policies)
    # Usar MKL: the contracted MKL generates licenses; one not contracted shows the server's reason.
    assert window.mkl.itemData(0) == "mkl_dominus"
    window.license_count.setValue(2)
    window.generate.click()
    qtbot.waitUntil(lambda: window.license_message.text() != "", timeout=20000)
    assert window.license_message.text() == "Se generaron 2 licencias, válidas por un año."
    qtbot.waitUntil(lambda: window.licenses.rowCount() == len(licenses) + 2, timeout=20000)
    other = next(i for i in range(window.mkl.count()) if "(no contratado)" in window.mkl.itemText(i))
    window.mkl.setCurrentIndex(other)
    window.license_message.clear()
    window.generate.click()
    qtbot.waitUntil(lambda: window.license_message.text() != "", timeout=20000)
    assert window.license_message.text().startswith("Para generar licencias contrate el MKL")
    # An interaction: shown at once (pending), then from the server with its author.
    window.tabs.setCurrentWidget(window.pages["interactions"])
    window.interaction_text.setPlainText("Visita: acordamos renovar la póliza.")
    window.findChild(type(window.generate), "addInteraction").click()
    qtbot.waitUntil(lambda: window.interactions.rowCount() == len(interactions) + 1, timeout=20000)
    handle = started_window.sync_now()
    qtbot.waitUntil(lambda: handle is not None and handle.is_finished, timeout=30000)
    qtbot.waitUntil(
        lambda: any(
            x["text"].startswith("Visita") and not x["id"].startswith("local-") and x["author"]
            for x in cache.entities_of_client("interaction", client_id)
        ),
        timeout=30000,
    )
    # A policy, through its dialog.
    dialog = window.add_policy()
    dialog.product.setText("Póliza de soporte Dóminus")
    dialog.reference.setText("POL-TEST")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.policies.rowCount() == len(policies) + 1, timeout=20000)
    window.close()


def test_points_transfer_dialog_queues_a_transfer_named_after_the_client(
    page: ClientsPage, started_window: MainWindow, qtbot: Any
) -> None:
    """The row's «Puntos…» opens the one transfer dialog (the Timbrado tab's), for the client."""
    ready(qtbot, started_window, page)
    row = page.model.rows()[0]
    dialog = page.open_transfer("points", row.id)
    assert isinstance(dialog, TransferDialog) and dialog.target_type == "client"
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=20000)
    assert "Puntos disponibles:" in dialog.available.text()
    dialog.quantity.setValue(10)
    dialog.amount.setText("10.00")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    command = [c for c in started_window.session.outbox.list() if c.kind == "transfer"][-1]
    assert command.body["target"] == {"type": "client", "id": row.id} and command.body["amount_cents"] == 1000
    assert row.data["name"] in command.description


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_export_of_the_current_view_reads_back(
    page: ClientsPage, started_window: MainWindow, qtbot: Any, tmp_path: Path, kind: str
) -> None:
    ready(qtbot, started_window, page)
    page.set_sort("stamps_desc")
    page.search.setText("s.a.")
    qtbot.waitUntil(lambda: page.model.query.q == "s.a." and not page.model.busy, timeout=20000)
    qtbot.waitUntil(lambda: started_window.ops.busy == 0, timeout=20000)
    expected = [(r.data["nic"], r.data["name"], r.data["stamps"]) for r in page.model.rows()]
    assert 0 < len(expected) < cache_of(started_window).count_clients()
    path = tmp_path / f"clientes.{kind}"
    with qtbot.waitSignal(page.exported, timeout=30000) as signal:
        page.export_to(path)
    assert signal.args == [str(path), len(expected)]
    if kind == "xlsx":
        sheet = openpyxl.load_workbook(path).active
        rows = list(sheet.iter_rows(values_only=True))
    else:
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read accents
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert list(rows[0]) == HEADERS
    got = [(str(r[0]), r[1], int(r[9])) for r in rows[1:]]
    assert got == expected
    page.search.clear()
    page.set_sort("name")
    qtbot.waitUntil(lambda: not page.model.busy, timeout=20000)
