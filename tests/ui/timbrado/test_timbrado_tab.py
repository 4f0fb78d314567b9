"""Clientes → Timbrado through its real widgets, over the real embedded server (one session per module).

The table (search, SQL sorts, paging, pending marks, C.P.D./D.R.), creating CTIs (standard and
unlimited, Spanish errors), blocking and reactivating with the manual's question, resetting a password,
transfers (applied, refused with the server's reason, pending offline), the bulk transfer (all or
nothing), the automatic sale and the consumption chart.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.outbox import CommandState
from cmdesk.ui import tabs
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.chart import BAR_COLOR, ConsumptionChart
from cmdesk.ui.timbrado.model import COLUMN_KEYS, PENDING_COLOR, CtiRow, StampingAccountsModel
from cmdesk.ui.timbrado.page import TimbradoPage
from cmdesk.ui.timbrado.sales_dialogs import AUTO_SALE_COLUMNS, BULK_COLUMNS, SaleRow, SaleRowsModel
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog
from tests.ui.portal_helpers import timbrado_page

TIMEOUT = 30_000


# ---- helpers ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def timbrado_registered() -> None:
    """The page registers itself at import; register it again in case a test emptied the registry
    (test_main_window's replacement test clears it), before this module's window is built."""
    tabs.register("clientes.timbrado", TimbradoPage)


@pytest.fixture
def page(qtbot, started_window: MainWindow) -> Iterator[TimbradoPage]:
    with timbrado_page(qtbot, started_window, TIMEOUT) as shown:
        yield shown


def rows(page: TimbradoPage) -> list[CtiRow]:
    return page.model.rows()


def pick(page: TimbradoPage, count: int = 1, *, kind: str = "standard", active: bool = True) -> list[CtiRow]:
    found = [r for r in rows(page) if r.kind == kind and r.active == active and not r.is_pending]
    assert len(found) >= count
    page.select_ids([r.id for r in found[:count]])
    return found[:count]


def cti(window: MainWindow, cti_id: str) -> dict:
    data = window.session.cache.get("stamping_account", cti_id)
    assert data is not None
    return data


def settled(window: MainWindow, command_id: str) -> bool:
    command = window.session.outbox.get(command_id)
    return command is not None and command.state not in (CommandState.PENDING, CommandState.SENT)


def wait_synced(qtbot, window: MainWindow) -> None:
    """Until the sync the page asked for (or a new one) has run and the window is idle."""
    qtbot.waitUntil(lambda: window.ops.busy == 0, timeout=TIMEOUT)
    with qtbot.waitSignal(window.synced, timeout=TIMEOUT):
        window.sync_now()
    qtbot.waitUntil(lambda: window.ops.busy == 0, timeout=TIMEOUT)


def available_stamps(window: MainWindow) -> int:
    return int(window.session.cache.account()["balances"]["stamps"])


# ---- the table ---------------------------------------------------------------------------------------


def test_models_pass_the_model_tester(qtmodeltester, page: TimbradoPage) -> None:
    qtmodeltester.check(page.model)
    standard = [r for r in rows(page) if r.kind == "standard"][:3]
    sales = SaleRowsModel(BULK_COLUMNS, [SaleRow(r, {"quantity": 1}) for r in standard], price_key="quantity")
    qtmodeltester.check(sales)
    auto = SaleRowsModel(
        AUTO_SALE_COLUMNS,
        [SaleRow(r, {"minimum": 0, "credit": 1, "amount_cents": 0, "enabled": True}) for r in standard],
        price_key="credit",
    )
    qtmodeltester.check(auto)


def test_columns_and_cells_in_spanish(page: TimbradoPage) -> None:
    titles = [page.model.headerData(i, Qt.Orientation.Horizontal) for i in range(page.model.columnCount())]
    assert titles == [
        "Cuenta",
        "Cliente",
        "Tipo",
        "F. creación",
        "Primera emisión",
        "Última emisión",
        "Abonados",
        "Emitidos",
        "Saldo",
        "Pagada hasta",
        "C.P.D.",
        "D.R.",
        "Activo",
    ]
    unlimited = next(r for r in rows(page) if r.kind == "unlimited")
    row = page.model.row_of(unlimited.id)
    assert page.model.index(row, COLUMN_KEYS.index("kind")).data() == "Ilimitada"
    assert page.model.index(row, COLUMN_KEYS.index("balance")).data() == "Ilimitada"
    assert page.model.index(row, COLUMN_KEYS.index("active")).data() == "Sí"
    # The client as the portal shows it: [NIC] name.
    assert page.model.index(row, COLUMN_KEYS.index("client")).data().startswith("[")


def search(qtbot, page: TimbradoPage, text: str) -> None:
    page.search.setText(text)
    qtbot.waitUntil(lambda: page.model.query.q == text and not page.model.busy, timeout=TIMEOUT)


def test_search_by_id_nic_and_name(qtbot, page: TimbradoPage) -> None:
    search(qtbot, page, "Pruebas")
    # The CTI, and its client's other CTIs (a client is found by its CTI ids, API.md's `q`).
    owner = page.model.row(page.model.row_of("Pruebas"))
    assert {r.client_id for r in rows(page)} == {owner.client_id}
    nic = str(owner.data["client_nic"])
    search(qtbot, page, nic)
    assert rows(page) and all(r.data["client_nic"] == nic for r in rows(page))
    assert "Pruebas" in {r.id for r in rows(page)} and len(rows(page)) >= 2  # its standard CTI too
    word = owner.client_name.split()[-1]
    search(qtbot, page, word.lower())
    assert any(r.id == "Pruebas" for r in rows(page))
    assert all(word.lower() in r.client_name.lower() for r in rows(page))
    search(qtbot, page, "zzzz-no-existe")
    assert page.model.rowCount() == 0
    assert page.stack.currentWidget() is page.empty
    assert "zzzz-no-existe" in page.empty.text()
    search(qtbot, page, "")
    assert page.model.rowCount() > 0


def test_sort_in_sql_and_unsortable_columns(qtbot, page: TimbradoPage) -> None:
    balance = COLUMN_KEYS.index("balance")
    page.view.sortByColumn(balance, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(
        lambda: (page.model.sort_column() or (None,))[0] == balance and not page.model.busy, timeout=TIMEOUT
    )
    balances = [r.balance for r in rows(page) if r.balance is not None]
    assert balances == sorted(balances, reverse=True)
    assert page.model.query.sort == "balance_desc"
    # The type is not a cache order: the header keeps the balance order and says so.
    page.view.sortByColumn(COLUMN_KEYS.index("kind"), Qt.SortOrder.AscendingOrder)
    assert (page.model.sort_column() or (None,))[0] == balance
    assert page.view.horizontalHeader().sortIndicatorSection() == balance
    assert "no se puede ordenar" in page.notice.text()
    # C.P.D. and D.R. are columns of the cache: sorted in SQL, "never runs out" after every number.
    dr = COLUMN_KEYS.index("dr")
    page.view.sortByColumn(dr, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: page.model.query.sort == "dr_asc" and not page.model.busy, timeout=TIMEOUT)
    days = [r.data.get("days_left") for r in rows(page)]
    numbers = [d for d in days if d is not None]
    assert numbers and numbers == sorted(numbers)
    assert days == numbers + [None] * (len(days) - len(numbers))
    page.view.sortByColumn(COLUMN_KEYS.index("cpd"), Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: page.model.query.sort == "cpd_desc" and not page.model.busy, timeout=TIMEOUT)
    cpds = [r.data["cpd"] for r in rows(page)]
    assert cpds == sorted(cpds, reverse=True) and cpds[0] > 0
    page.view.sortByColumn(COLUMN_KEYS.index("client"), Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: page.model.query.sort == "client" and not page.model.busy, timeout=TIMEOUT)


def test_rows_page_in_as_the_view_asks(qtbot, started_window: MainWindow, page: TimbradoPage) -> None:
    # A model of its own (no view asking for rows): one page, then the next when asked.
    alone = StampingAccountsModel(started_window.context)
    alone.page_size = 10
    with qtbot.waitSignal(alone.counted, timeout=TIMEOUT):
        alone.set_query(alone.query)
    assert alone.rowCount() == 10 and alone.total > 20 and alone.canFetchMore()
    with qtbot.waitSignal(alone.page_loaded, timeout=TIMEOUT):
        alone.fetchMore()
    assert alone.rowCount() == 20
    assert len({r.id for r in alone.rows()}) == 20
    # The page's view pages in the rest as it scrolls to the end.
    with qtbot.waitSignal(page.model.counted, timeout=TIMEOUT):
        page.model.set_query(page.model.query)
    for _ in range(20):
        page.view.scrollToBottom()
        qtbot.wait(50)
        if page.model.rowCount() == page.model.total:
            break
    qtbot.waitUntil(lambda: page.model.rowCount() == page.model.total, timeout=TIMEOUT)
    assert not page.model.canFetchMore()
    assert len({r.id for r in rows(page)}) == page.model.total == alone.total


def test_forecasts_come_from_the_cache_and_the_chart_fetches_the_series(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    # C.P.D. and D.R. of every row are in the cache (the feed's usage summary): no request per row.
    busiest = max(rows(page), key=lambda r: r.data.get("cpd") or 0)
    assert busiest.data["cpd"] > 0
    cpd_cell = page.model.index(page.model.row_of(busiest.id), COLUMN_KEYS.index("cpd")).data()
    assert cpd_cell == f"{busiest.data['cpd'] / 100:.2f}"
    dr_cell = page.model.index(page.model.row_of(busiest.id), COLUMN_KEYS.index("dr")).data()
    if busiest.active and busiest.kind == "standard":
        assert dr_cell == format(busiest.data["days_left"], ",")
    page.select_ids([busiest.id])
    qtbot.waitUntil(lambda: page.model.row(page.model.row_of(busiest.id)).figures.fresh, timeout=TIMEOUT)
    row = page.model.row(page.model.row_of(busiest.id))
    assert row.figures.cpd is not None and row.figures.cpd > 0
    assert len(row.figures.daily) == 90
    # The server's 30-day average and the cache's agree.
    assert int(row.figures.cpd * 100) == busiest.data["cpd"]
    stored = started_window.session.cache.stamping_usage([busiest.id])[busiest.id]
    assert stored["issued"] == busiest.data["issued"]
    # The chart under the table shows that CTI, with bars and the C.P.D. line.
    panel = page.chart_panel
    qtbot.waitUntil(
        lambda: panel.row is not None and panel.row.id == busiest.id and bool(panel.chart.daily),
        timeout=TIMEOUT,
    )
    assert "C.P.D.:" in panel.figures.text() and "D.R.:" in panel.figures.text()
    panel.set_days(90)
    assert len(panel.chart.daily) == 90
    panel.set_days(30)
    assert len(panel.chart.daily) == 30


def test_risk_filter(qtbot, page: TimbradoPage) -> None:
    cache = page.context.session.cache
    for band in ("le7", "le15", "le30", "no_use"):
        page.risk.setCurrentIndex(page.risk.findData(band))
        qtbot.waitUntil(
            lambda band=band: page.model.query.get("risk") == band and not page.model.busy, timeout=TIMEOUT
        )
        # The band's own order: the soonest first, or those without use by client.
        assert page.model.query.sort == ("client" if band == "no_use" else "dr_asc")
        arrow = page.view.horizontalHeader().sortIndicatorSection()
        assert arrow == COLUMN_KEYS.index("client" if band == "no_use" else "dr")
        expected = {r["id"] for r in cache.query_stamping_accounts(risk=band, limit=100_000)}
        while page.model.canFetchMore():
            page.model.fetchMore()
            qtbot.waitUntil(lambda: not page.model.busy, timeout=TIMEOUT)
        assert {r.id for r in rows(page)} == expected
        if band == "no_use":
            assert all(r.data["cpd"] == 0 for r in rows(page))
        else:
            limit = int(band[2:])
            assert all(r.data["days_left"] is not None and r.data["days_left"] <= limit for r in rows(page))
        if rows(page) and band != "no_use":
            first = page.model.index(0, COLUMN_KEYS.index("dr"))
            assert first.data(Qt.ItemDataRole.ForegroundRole) is not None
        elif not rows(page):
            assert page.risk.currentText() in page.empty.text()
    page.risk.setCurrentIndex(0)
    qtbot.waitUntil(lambda: page.model.query.get("risk") is None and not page.model.busy, timeout=TIMEOUT)
    assert page.model.total == cache.count_stamping_accounts()


def test_chart_draws_bars_and_the_average(qtbot) -> None:
    import datetime as dt

    chart = ConsumptionChart()
    qtbot.addWidget(chart)
    chart.resize(600, 220)
    start = dt.date(2026, 1, 1)
    chart.set_series([(start + dt.timedelta(days=i), i % 5) for i in range(30)])
    image = chart.grab().toImage()
    assert chart.paint_count >= 1 and len(chart.bar_rects) == 30
    tallest = max(chart.bar_rects, key=lambda r: r.height())
    near_top = (
        tallest.topLeft() + (tallest.bottomRight() - tallest.topLeft()) * 0.1
    )  # clear of the C.P.D. line
    assert image.pixelColor(near_top.toPoint()).name() == BAR_COLOR.name()
    assert chart.cpd is not None and str(chart.cpd) == "2.00"
    chart.set_series([])
    chart.grab()
    assert chart.bar_rects == []


# ---- creating CTIs -------------------------------------------------------------------------------------


def test_create_standard_cti_with_spanish_errors(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    owner = pick(page)[0]
    dialog = page.create_account()
    assert dialog is not None and dialog.client_id == owner.client_id
    dialog.choose_id.setChecked(True)
    dialog.cti_id.setText("no válido!")
    dialog.passwords.password.setText("abc")
    dialog.passwords.confirm.setText("abd")
    dialog.ok_button.click()
    assert "El Id de la cuenta debe tener" in dialog.id_message.text()
    assert "al menos 8 caracteres" in dialog.passwords.password_message.text()
    assert "letras y números" in dialog.passwords.password_message.text()
    assert dialog.passwords.confirm_message.text() == "Las contraseñas no coinciden."
    assert not dialog.busy  # nothing was sent
    # A common password, then a good one that does not match.
    dialog.passwords.password.setText("password123")
    dialog.ok_button.click()
    assert "demasiado común" in dialog.passwords.password_message.text()
    dialog.cti_id.setText("Pruebas")  # taken by the demo
    dialog.passwords.password.setText("Timbrar2026x")
    dialog.passwords.confirm.setText("Timbrar2026y")
    dialog.ok_button.click()
    assert dialog.passwords.confirm_message.text() == "Las contraseñas no coinciden."
    dialog.passwords.confirm.setText("Timbrar2026x")
    assert dialog.passwords.password_message.text() == "La contraseña cumple los requisitos."
    dialog.ok_button.click()
    # The server refuses the id already taken: shown beside the id.
    qtbot.waitUntil(lambda: "Ya existe una cuenta de timbrado" in dialog.id_message.text(), timeout=TIMEOUT)
    dialog.cti_id.setText("CuentaUI-01")
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT):
        dialog.ok_button.click()
    qtbot.waitUntil(lambda: page.model.row_of("CuentaUI-01") >= 0, timeout=TIMEOUT)
    created = page.model.row(page.model.row_of("CuentaUI-01"))
    assert created.kind == "standard" and created.client_id == owner.client_id and created.balance == 0
    assert "CuentaUI-01" in page.notice.text()
    # An automatic id when none is chosen.
    dialog = page.create_account()
    dialog.passwords.password.setText("Automatica2026")
    dialog.passwords.confirm.setText("Automatica2026")
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT):
        dialog.ok_button.click()
    assert len(str(dialog.created["id"])) == 32


def test_create_unlimited_cti_with_rfc_restriction(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    page.view.clearSelection()
    dialog = page.create_account()
    assert dialog is not None and dialog.picker is not None
    dialog.ok_button.click()
    assert dialog.client_message.text() == "Seleccione el cliente."
    qtbot.waitUntil(lambda: dialog.picker.results.count() > 0, timeout=TIMEOUT)
    dialog.picker.results.setCurrentRow(0)
    client_id = dialog.client_id
    assert client_id
    assert not dialog.rfc.isEnabled()
    dialog.unlimited.setChecked(True)
    assert dialog.rfc.isEnabled() and "pago anual" in dialog.kind_note.text()
    dialog.rfc.setText("XYZ")
    assert dialog.rfc_counter.text() == "3/13"
    dialog.passwords.password.setText("Ilimitada2026")
    dialog.passwords.confirm.setText("Ilimitada2026")
    dialog.ok_button.click()
    assert dialog.rfc_message.text()  # a Spanish reason beside the RFC
    assert not dialog.busy
    rfc = started_window.session.cache.get("client", client_id)["rfc"]
    dialog.rfc.setText(rfc)
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT):
        dialog.ok_button.click()
    new_id = str(dialog.created["id"])
    qtbot.waitUntil(lambda: page.model.row_of(new_id) >= 0, timeout=TIMEOUT)
    data = cti(started_window, new_id)
    assert data["kind"] == "unlimited" and data["rfc_restriction"] == rfc


def test_create_needs_the_line(qtbot, started_window: MainWindow, page: TimbradoPage) -> None:
    pick(page)
    started_window.session._set_state(ConnectionState.OFFLINE)
    dialog = page.create_account()
    assert "requiere conexión" in dialog.message.text()


# ---- blocking, reactivating, password -------------------------------------------------------------------


def test_block_and_reactivate_with_the_manuals_question(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    target = pick(page)[0]
    box = page.set_active(False)
    assert box is not None
    assert box.text() == "¿Realmente desea desactivar la cuenta?"
    assert target.id in box.informativeText()
    # "No" changes nothing.
    no = next(b for b in box.buttons() if b.text() == "No")
    no.click()
    assert cti(started_window, target.id)["active"] is True
    page.select_ids([target.id])
    box = page.set_active(False)
    yes = next(b for b in box.buttons() if b.text() == "Sí")
    yes.click()
    qtbot.waitUntil(lambda: cti(started_window, target.id)["active"] is False, timeout=TIMEOUT)
    wait_synced(qtbot, started_window)
    assert started_window.session.cache.server_copy("stamping_account", target.id)["active"] is False
    qtbot.waitUntil(
        lambda: page.model.index(page.model.row_of(target.id), COLUMN_KEYS.index("active")).data() == "No",
        timeout=TIMEOUT,
    )
    # Reactivate with a double click on the Activo cell.
    page.select_ids([target.id])
    page._double_clicked(page.model.index(page.model.row_of(target.id), COLUMN_KEYS.index("active")))
    box = page.confirm_box
    assert box is not None and box.text() == "¿Realmente desea reactivar la cuenta?"
    next(b for b in box.buttons() if b.text() == "Sí").click()
    qtbot.waitUntil(lambda: cti(started_window, target.id)["active"] is True, timeout=TIMEOUT)
    wait_synced(qtbot, started_window)
    assert started_window.session.cache.server_copy("stamping_account", target.id)["active"] is True


def test_reset_password(qtbot, started_window: MainWindow, page: TimbradoPage) -> None:
    target = pick(page)[0]
    dialog = page.reset_password()
    assert dialog is not None
    assert "configure la nueva contraseña" in dialog.reminder.text()
    dialog.passwords.password.setText("corta1")
    dialog.passwords.confirm.setText("corta1")
    dialog.ok_button.click()
    assert "al menos 8 caracteres" in dialog.passwords.password_message.text()
    dialog.passwords.password.setText("NuevaClave2026")
    dialog.passwords.confirm.setText("NuevaClave2025")
    dialog.ok_button.click()
    assert dialog.passwords.confirm_message.text() == "Las contraseñas no coinciden."
    dialog.passwords.confirm.setText("NuevaClave2026")
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT):
        dialog.ok_button.click()
    assert target.id in page.notice.text() and "aplicaciones" in page.notice.text()


# ---- transfers --------------------------------------------------------------------------------------------


def open_transfer(qtbot, page: TimbradoPage) -> TransferDialog:
    dialog = page.transfer_stamps()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.loaded, timeout=TIMEOUT)
    return dialog


def test_transfer_stamps(qtbot, started_window: MainWindow, page: TimbradoPage) -> None:
    target = pick(page)[0]
    before = cti(started_window, target.id)["balance"]
    dialog = open_transfer(qtbot, page)
    assert "Timbres disponibles:" in dialog.available.text()
    assert target.id in dialog.cti_label.text()
    assert "RFC:" in dialog.recipient_rfc.text()
    assert dialog.warning.text() == "Este proceso es incancelable e irreversible."
    dialog.quantity.setValue(0)
    dialog.ok_button.click()
    assert dialog.quantity_message.text() == "La cantidad debe ser un número entero mayor que cero."
    dialog.quantity.setValue(25)
    dialog.amount.setText("1,160.00")
    dialog.amount.textEdited.emit("1,160.00")
    assert dialog.amount_parts.text() == "Base: $1,000.00 · IVA (16%): $160.00"
    dialog.amount.setText("12.345")
    dialog.ok_button.click()
    assert "2 decimales" in dialog.amount_message.text()
    dialog.amount.setText("$1,160")
    dialog.comments.setText("timbres a granel")
    with qtbot.waitSignal(dialog.queued, timeout=TIMEOUT) as queued:
        dialog.ok_button.click()
    command = queued.args[0]
    assert command.body["amount_cents"] == 116000 and command.body["quantity"] == 25
    assert target.id in command.description
    qtbot.waitUntil(lambda: settled(started_window, command.id), timeout=TIMEOUT)
    assert started_window.session.outbox.get(command.id).state == CommandState.DONE
    wait_synced(qtbot, started_window)
    assert cti(started_window, target.id)["balance"] == before + 25


def test_a_refused_transfer_shows_the_servers_reason(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    pick(page)
    dialog = open_transfer(qtbot, page)
    too_many = available_stamps(started_window) + 1000
    dialog.quantity.setValue(too_many)
    assert (
        dialog.quantity_message.level == "warning"
        and "Supera lo disponible" in dialog.quantity_message.text()
    )
    watcher = started_window.context.watcher
    with qtbot.waitSignal(watcher.rejected, timeout=TIMEOUT) as refused:
        dialog.ok_button.click()
    command = refused.args[0]
    assert command.error_code == "insufficient_balance"
    box = watcher.last_message
    assert box is not None and box.isVisible()
    assert "Saldo insuficiente" in box.informativeText()
    assert "Compre timbres" in box.informativeText()
    assert box.windowTitle() == "Operación rechazada"


def test_offline_transfer_shows_pending_then_goes(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    target = pick(page)[0]
    before = cti(started_window, target.id)["balance"]
    started_window.session._set_state(ConnectionState.OFFLINE)
    dialog = open_transfer(qtbot, page)
    dialog.quantity.setValue(7)
    with qtbot.waitSignal(dialog.queued, timeout=TIMEOUT) as queued:
        dialog.ok_button.click()
    command = queued.args[0]
    assert dialog.pushed is False
    assert "pendiente" in page.notice.text()
    qtbot.waitUntil(lambda: page.model.row(page.model.row_of(target.id)).is_pending, timeout=TIMEOUT)
    index = page.model.index(page.model.row_of(target.id), 0)
    assert index.data(Qt.ItemDataRole.BackgroundRole) == PENDING_COLOR
    assert command.description in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.data(Qt.ItemDataRole.FontRole).italic()
    assert page.pending_legend.isVisible()
    assert started_window.session.outbox.get(command.id).state == CommandState.PENDING
    # Back online: the next sync sends it and the mark goes.
    started_window.session._set_state(ConnectionState.ONLINE)
    wait_synced(qtbot, started_window)
    assert started_window.session.outbox.get(command.id).state == CommandState.DONE
    qtbot.waitUntil(lambda: not page.model.row(page.model.row_of(target.id)).is_pending, timeout=TIMEOUT)
    assert cti(started_window, target.id)["balance"] == before + 7


def test_points_to_the_client_and_the_clientes_tab_signature(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    target = pick(page)[0]
    dialog = page.transfer_points()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.loaded, timeout=TIMEOUT)
    assert dialog.ok_button.text() == "Transferir puntos"
    assert "Puntos disponibles:" in dialog.available.text()
    dialog.quantity.setValue(10)
    assert dialog.amount.text() == "$10.00"  # a point is worth a peso
    dialog.close()
    # For a client with several CTIs (the Clientes tab), stamps go to one of them, chosen here.
    other = TransferDialog(started_window.context, "client", target.client_id, asset="stamps", parent=page)
    qtbot.addWidget(other)
    qtbot.waitUntil(lambda: other.loaded, timeout=TIMEOUT)
    assert other.choose_cti and other.cti_choice.count() >= 1
    assert other.ok_button.text() == "Abonar timbres"


# ---- bulk transfer and automatic sale -----------------------------------------------------------------


def test_bulk_transfer_is_all_or_nothing(qtbot, started_window: MainWindow, page: TimbradoPage) -> None:
    targets = pick(page, 3)
    before = {t.id: cti(started_window, t.id)["balance"] for t in targets}
    dialog = page.bulk_transfer()
    assert dialog is not None
    qtbot.waitUntil(lambda: bool(dialog.info), timeout=TIMEOUT)
    model = dialog.model
    assert [r.cti.id for r in model.sale_rows] == [t.id for t in targets]
    titles = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    assert titles == [
        "Excluir",
        "Cuenta",
        "Cliente",
        "Saldo",
        "*C.P.D.",
        "*D.R.",
        "Cantidad",
        "$ Importe (c/IVA)",
    ]
    # A row left at 0 is marked, nothing is sent.
    model.set_value(0, "quantity", 10)
    dialog.ok_button.click()
    assert "quantity" in model.sale_rows[1].errors
    assert model.index(1, model.column_of("quantity")).data(Qt.ItemDataRole.BackgroundRole) is not None
    # The last row asks for more than there is: warned here, refused there, and nothing applied.
    model.set_value(1, "quantity", 20)
    model.set_value(2, "quantity", available_stamps(started_window) + 1)
    model.set_value(0, "amount_cents", "$232.00")
    assert model.sale_rows[0].values["amount_cents"] == 23200
    # Never a silent $0 sale: rows without an amount are marked and nothing is sent.
    for row in (1, 2):
        model.set_value(row, "amount_cents", "")
    dialog.ok_button.click()
    assert "amount_cents" in model.sale_rows[1].errors and "amount_cents" in model.sale_rows[2].errors
    model.set_value(1, "amount_cents", "$100.00")
    model.set_value(2, "amount_cents", "$50.00")
    assert dialog.balance_warning.isVisible()
    assert "Total:" in dialog.totals.text()
    watcher = started_window.context.watcher
    with qtbot.waitSignal(watcher.rejected, timeout=TIMEOUT) as refused:
        dialog.ok_button.click()
    command = refused.args[0]
    assert command.kind == "bulk_transfer" and len(command.body["items"]) == 3
    assert command.description.startswith("Transferencia masiva:")
    assert "timbres a 3 cuentas de timbrado" in command.description and targets[0].id in command.description
    assert "No se aplicó ninguna transferencia" in (command.error_detail or "")
    assert "No se aplicó ninguna transferencia" in watcher.last_message.informativeText()
    wait_synced(qtbot, started_window)
    assert {t.id: cti(started_window, t.id)["balance"] for t in targets} == before
    watcher.last_message.close()

    # Excluding the row that can't be covered: the other two are applied together.
    page.select_ids([t.id for t in targets])
    dialog = page.bulk_transfer()
    qtbot.waitUntil(lambda: bool(dialog.info), timeout=TIMEOUT)
    model = dialog.model
    model.set_value(0, "quantity", 10)
    model.set_value(1, "quantity", 20)
    model.set_value(2, "quantity", 10**8)
    model.setData(model.index(2, 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert model.sale_rows[2].excluded and not dialog.balance_warning.isVisible()
    assert "30 timbres a 2 cuentas" in dialog.totals.text()
    dialog.no_charge.setChecked(True)  # «Sin cargo»: no amounts asked, no sale left to invoice
    with qtbot.waitSignal(dialog.queued, timeout=TIMEOUT) as queued:
        dialog.ok_button.click()
    (command,) = queued.args[0]
    assert all(item["no_charge"] and item["amount_cents"] == 0 for item in command.body["items"])
    qtbot.waitUntil(lambda: settled(started_window, command.id), timeout=TIMEOUT)
    assert started_window.session.outbox.get(command.id).state == CommandState.DONE
    wait_synced(qtbot, started_window)
    after = {t.id: cti(started_window, t.id)["balance"] for t in targets}
    assert after == {
        targets[0].id: before[targets[0].id] + 10,
        targets[1].id: before[targets[1].id] + 20,
        targets[2].id: before[targets[2].id],
    }


def test_auto_sale_one_command_per_cti(qtbot, started_window: MainWindow, page: TimbradoPage) -> None:
    targets = pick(page, 2)
    dialog = page.auto_sale()
    assert dialog is not None
    qtbot.waitUntil(lambda: bool(dialog.info), timeout=TIMEOUT)
    model = dialog.model
    titles = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    assert titles[:6] == ["Excluir", "Cuenta", "Cliente", "Saldo", "*C.P.D.", "*D.R."]
    assert titles[6:9] == ["Mínimo", "Abonar", "$ Importe (c/IVA)"]
    model.set_value(0, "minimum", 50)
    dialog.ok_button.click()
    assert "credit" in model.sale_rows[0].errors  # Abonar must be > 0
    model.set_value(0, "credit", 500)
    model.set_value(0, "amount_cents", "400")
    model.set_value(1, "minimum", 10)
    model.set_value(1, "credit", 100)
    with qtbot.waitSignal(dialog.queued, timeout=TIMEOUT) as queued:
        dialog.ok_button.click()
    commands_made = queued.args[0]
    assert len(commands_made) == 2 and {c.kind for c in commands_made} == {"set_auto_sale"}
    for command in commands_made:
        qtbot.waitUntil(lambda c=command: settled(started_window, c.id), timeout=TIMEOUT)
        assert started_window.session.outbox.get(command.id).state == CommandState.DONE
    wait_synced(qtbot, started_window)
    first = cti(started_window, targets[0].id)["auto_sale"]
    assert first == {"minimum": 50, "credit": 500, "amount_cents": 40000, "enabled": True}
    assert cti(started_window, targets[1].id)["auto_sale"]["minimum"] == 10


def test_unlimited_ctis_are_left_out_of_the_sales(qtbot, page: TimbradoPage) -> None:
    unlimited = pick(page, kind="unlimited")[0]
    standard = next(r for r in rows(page) if r.kind == "standard")
    page.select_ids([unlimited.id, standard.id])
    assert page.buttons["bulk"].isEnabled() and not page.buttons["transfer"].isEnabled()
    dialog = page.bulk_transfer()
    assert [r.cti.id for r in dialog.model.sale_rows] == [standard.id]
    assert dialog.left_out.text() == "Se omitió 1 cuenta ilimitada: no tiene saldo de timbres."


def test_rejection_message_box_buttons(qtbot, started_window: MainWindow, page: TimbradoPage) -> None:
    """The rejection box offers the pending-commands panel."""
    pick(page)
    dialog = open_transfer(qtbot, page)
    dialog.quantity.setValue(available_stamps(started_window) + 5)
    watcher = started_window.context.watcher
    with qtbot.waitSignal(watcher.rejected, timeout=TIMEOUT):
        dialog.ok_button.click()
    box = watcher.last_message
    assert isinstance(box, QMessageBox)
    panel_button = next(b for b in box.buttons() if b.text() == "Ver operaciones pendientes")
    panel_button.click()
    qtbot.waitUntil(
        lambda: started_window.pending_panel is not None and started_window.pending_panel.isVisible(),
        timeout=TIMEOUT,
    )
    started_window.pending_panel.close()


def test_transfer_to_a_sub_distributor_chooses_the_product(
    qtbot, started_window: MainWindow, page: TimbradoPage
) -> None:
    dialog = TransferDialog(started_window.context, "account", "sin-distribuidor", parent=page)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=TIMEOUT)
    assert dialog.windowTitle() == "Transferir al distribuidor"
    assert dialog.asset_stamps.isChecked() and not dialog.asset_points.isHidden()
    assert dialog.ok_button.text() == "Abonar timbres"
    dialog.asset_points.setChecked(True)
    assert dialog.ok_button.text() == "Transferir puntos"
    assert dialog.quantity_label.text() == "Cantidad de puntos:"
    assert "Puntos disponibles:" in dialog.available.text()
