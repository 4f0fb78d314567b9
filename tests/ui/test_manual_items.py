"""Issue 14, items 1–4, through the real widgets over the embedded default:

1. an unlimited CTI is created with its annual fee stated and charged in the same operation (the
   distributor's or the client's points); «Pagada hasta» in Timbrado and in the client window; an unpaid
   one says so in its row and offers the payment; it can be renewed before it expires;
2. the transfer dialog never proposes $0.00: an amount, or «Sin cargo» (no sale);
3. «Convertir cliente en distribuidor» from the client's context menu and from the client window;
4. Crear cuenta and Restablecer contraseña in the client window's «Cuentas de timbrado» tab.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence

from cmdesk.domain.unlimited import fee_state
from cmdesk.services import commands
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.outbox import CommandState
from cmdesk.ui.clientes.detail import ClientDetailWindow
from cmdesk.ui.clientes.page import ClientsPage
from cmdesk.ui.distribuidores.dialogs import ConvertClientDialog
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.account_dialogs import CreateStampingAccountDialog, ResetPasswordDialog
from cmdesk.ui.timbrado.model import COLUMN_KEYS
from cmdesk.ui.timbrado.page import TimbradoPage
from cmdesk.ui.timbrado.unlimited import UnlimitedFeeDialog
from tests.ui.portal_helpers import timbrado_page

TIMEOUT = 30_000
FEE = 1500  # the demo catalog's unlimited_cti_annual_points


@pytest.fixture
def timbrado(qtbot: Any, started_window: MainWindow) -> Iterator[TimbradoPage]:
    with timbrado_page(qtbot, started_window, TIMEOUT) as shown:
        yield shown


@pytest.fixture
def clientes(qtbot: Any, started_window: MainWindow) -> ClientsPage:
    page = started_window.page("clientes.clientes")
    assert isinstance(page, ClientsPage)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy, timeout=TIMEOUT)
    return page


def cache(window: MainWindow) -> Any:
    assert window.session is not None and window.session.cache is not None
    return window.session.cache


def account_points(window: MainWindow) -> int:
    return int(cache(window).account()["balances"]["points"])


def wait_idle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.ops.busy == 0, timeout=TIMEOUT)


def show_row(qtbot: Any, page: TimbradoPage, cti_id: str) -> int:
    page.search.setText(cti_id)
    page.set_search(cti_id)
    qtbot.waitUntil(lambda: page.model.row_of(cti_id) >= 0 and not page.model.busy, timeout=TIMEOUT)
    page.select_ids([cti_id])
    return int(page.model.row_of(cti_id))


def cell(page: TimbradoPage, row: int, key: str, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    return page.model.data(page.model.index(row, COLUMN_KEYS.index(key)), role)


def a_client(window: MainWindow) -> dict[str, Any]:
    return next(c for c in cache(window).all("client") if c.get("nic"))


# ---- 1. unlimited CTIs --------------------------------------------------------------------------------


def test_create_unlimited_states_the_fee_and_charges_it(
    qtbot: Any, started_window: MainWindow, timbrado: TimbradoPage
) -> None:
    client = a_client(started_window)
    before = account_points(started_window)
    assert before >= FEE
    timbrado.view.clearSelection()
    dialog = timbrado.create_account()
    assert isinstance(dialog, CreateStampingAccountDialog)
    assert not dialog.fee.isVisibleTo(dialog)  # a standard CTI pays no fee
    assert dialog.picker is not None
    dialog.picker.search.setText(client["name"])
    qtbot.waitUntil(lambda: dialog.picker.results.count() > 0, timeout=TIMEOUT)
    dialog.picker.results.setCurrentRow(0)
    dialog.unlimited.setChecked(True)
    assert dialog.fee.isVisibleTo(dialog)
    qtbot.waitUntil(lambda: "1,500 puntos" in dialog.fee.fee_label.text(), timeout=TIMEOUT)
    assert "se descuentan al aceptar" in dialog.fee.fee_label.text()
    assert dialog.fee.payer == "account" and "Cuenta Maestra" in dialog.fee.by_account.text()
    assert fmt_points(before) in dialog.fee.by_account.text()
    assert "cliente" in dialog.fee.by_client.text()
    dialog.passwords.password.setText("Ilimitada2026")
    dialog.passwords.confirm.setText("Ilimitada2026")
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT):
        dialog.ok_button.click()
    created = dialog.created or {}
    assert created["kind"] == "unlimited" and fee_state("unlimited", created["paid_until"]) == "paid"
    wait_idle(qtbot, started_window)
    with qtbot.waitSignal(started_window.synced, timeout=TIMEOUT):
        started_window.sync_now()
    qtbot.waitUntil(lambda: account_points(started_window) == before - FEE, timeout=TIMEOUT)
    row = show_row(qtbot, timbrado, str(created["id"]))
    paid = cell(timbrado, row, "paid_until")
    assert paid and paid[0].isdigit()  # a date: "Pagada hasta"


def fmt_points(n: int) -> str:
    return f"{n:,}"


def test_unpaid_unlimited_says_so_offers_the_payment_and_renews(
    qtbot: Any, started_window: MainWindow, timbrado: TimbradoPage
) -> None:
    client = a_client(started_window)
    session = started_window.session
    assert session is not None
    # Created without paying (as an older desktop did): it can't stamp, and its row says so.
    created = session.online(
        commands.create_stamping_account,
        client["id"],
        kind="unlimited",
        password="Ilimitada2026",
        password_confirmation="Ilimitada2026",
    )
    # Points enough for three years (Compras → Puntos).
    wanted = account_points(started_window) + 6000
    session.command(commands.purchase, "points_3000", 2)
    started_window.sync_now()
    qtbot.waitUntil(lambda: account_points(started_window) >= wanted, timeout=TIMEOUT)
    row = show_row(qtbot, timbrado, str(created["id"]))
    assert cell(timbrado, row, "paid_until") == "Sin pagar"
    assert cell(timbrado, row, "paid_until", Qt.ItemDataRole.ForegroundRole) == QColor("#d32f2f")
    assert "no puede timbrar" in cell(timbrado, row, "paid_until", Qt.ItemDataRole.ToolTipRole)
    assert timbrado.actions_by_name["fee"].isEnabled()
    menu_names = [a.text() for a in timbrado.actions_by_name.values()]
    assert "Pagar cuota anual" in menu_names
    before = account_points(started_window)
    dialog = timbrado.pay_fee()
    assert isinstance(dialog, UnlimitedFeeDialog)
    assert dialog.windowTitle() == "Pagar cuota anual"
    assert "no puede timbrar" in dialog.status.text()
    qtbot.waitUntil(lambda: dialog.ok_button.text() == "Pagar 1,500 puntos", timeout=TIMEOUT)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.answer is not None or bool(dialog.message.text()), timeout=TIMEOUT)
    assert dialog.answer is not None, dialog.message.text()
    first = (dialog.answer or {})["paid_until"]
    assert "timbra hasta el" in timbrado.notice.text()
    qtbot.waitUntil(lambda: cell(timbrado, row, "paid_until") not in ("Sin pagar", None), timeout=TIMEOUT)
    assert account_points(started_window) <= before  # the answer's movement; the sync settles it

    # Renew before it expires: one more year, counted from the paid date (nothing lost).
    timbrado.select_ids([str(created["id"])])
    dialog = timbrado.pay_fee()
    assert dialog is not None and dialog.windowTitle() == "Renovar cuota anual"
    assert "Pagada hasta el" in dialog.status.text()
    dialog.years.setValue(2)
    qtbot.waitUntil(lambda: dialog.ok_button.text() == "Pagar 3,000 puntos", timeout=TIMEOUT)
    dialog.years.setValue(1)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.answer is not None or bool(dialog.message.text()), timeout=TIMEOUT)
    assert dialog.answer is not None, dialog.message.text()
    renewed = str(dialog.answer["paid_until"])
    assert renewed[:4] == str(int(str(first)[:4]) + 1) and renewed[4:10] == str(first)[4:10]


# ---- 2. no silent $0 sale -------------------------------------------------------------------------------


def test_the_transfer_dialog_never_proposes_zero(
    qtbot: Any, started_window: MainWindow, timbrado: TimbradoPage
) -> None:
    row = next(
        r
        for r in timbrado.model.rows()
        if r.kind == "standard" and r.active and not r.is_pending and r.client_id
    )
    timbrado.select_ids([row.id])
    dialog = timbrado.transfer_stamps()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.loaded, timeout=TIMEOUT)
    dialog.info["stamp_price_cents"] = 0  # the demo's global price: $0
    dialog._amount_auto = True
    dialog.amount.clear()
    dialog.quantity.setValue(3)
    assert dialog.amount.text() == ""  # never "$0.00"
    dialog.ok_button.click()
    assert dialog.amount_message.text() == "Indique un importe mayor que $0.00 o elija «Sin cargo»."
    dialog.amount.setText("$0.00")
    dialog.ok_button.click()
    assert "Sin cargo" in dialog.amount_message.text()
    dialog.no_charge.setChecked(True)
    assert not dialog.amount.isEnabled() and dialog.amount.text() == ""
    with qtbot.waitSignal(dialog.queued, timeout=TIMEOUT) as queued:
        dialog.ok_button.click()
    command = queued.args[0]
    assert command.body["no_charge"] is True and command.body["amount_cents"] == 0
    session = started_window.session
    assert session is not None
    qtbot.waitUntil(
        lambda: session.outbox.get(command.id).state not in (CommandState.PENDING, CommandState.SENT),
        timeout=TIMEOUT,
    )
    assert session.outbox.get(command.id).state == CommandState.DONE


def test_the_bulk_transfer_asks_for_amounts_or_sin_cargo(
    qtbot: Any, started_window: MainWindow, timbrado: TimbradoPage
) -> None:
    row = next(r for r in timbrado.model.rows() if r.kind == "standard" and r.active and not r.is_pending)
    timbrado.select_ids([row.id])
    dialog = timbrado.bulk_transfer()
    assert dialog is not None
    qtbot.waitUntil(lambda: bool(dialog.info), timeout=TIMEOUT)
    dialog.model.set_value(0, "quantity", 2)
    dialog.model.set_value(0, "amount_cents", "0")
    dialog.ok_button.click()
    assert dialog.model.sale_rows[0].errors.get("amount_cents") == (
        "Indique un importe mayor que $0.00 o elija «Sin cargo»."
    )
    dialog.no_charge.setChecked(True)
    assert "$0.00" in dialog.totals.text()
    with qtbot.waitSignal(dialog.queued, timeout=TIMEOUT) as queued:
        dialog.ok_button.click()
    (command,) = queued.args[0]
    assert command.body["items"][0]["no_charge"] is True and command.body["items"][0]["amount_cents"] == 0


def test_the_server_refuses_a_sale_of_zero_with_its_reason(started_window: MainWindow) -> None:
    session = started_window.session
    assert session is not None and session.api is not None
    cti = next(c for c in cache(started_window).all("stamping_account") if c["kind"] == "standard")
    body = {
        "asset": "stamps",
        "target": {"type": "stamping_account", "id": cti["id"]},
        "quantity": 1,
        "amount_cents": 0,
        "no_charge": False,
    }
    from cmdesk.services.api_client import ApiError

    with pytest.raises(ApiError) as refused:
        session.api.post("/v1/transfers", body, idempotency_key=commands.queue.new_key())
    assert refused.value.code == "sale_amount_required"
    assert "Sin cargo" in refused.value.detail


# ---- 3. convertir cliente en distribuidor ---------------------------------------------------------------


def test_convert_is_reachable_from_the_menu_and_the_client_window(
    qtbot: Any, started_window: MainWindow, clientes: ClientsPage
) -> None:
    row = clientes.model.rows()[0]
    menu = clientes.context_menu_for([row])
    convert = next(a for a in menu.actions() if a.objectName() == "convert")
    assert convert.text() == "Convertir cliente en distribuidor…"
    convert.trigger()
    dialog = next(w for w in clientes._windows if isinstance(w, ConvertClientDialog))
    assert dialog.isVisible()
    dialog.reject()

    window = clientes.open_detail(row.id)
    assert isinstance(window, ClientDetailWindow)
    qtbot.waitUntil(lambda: bool(window.data), timeout=TIMEOUT)
    button = window.findChild(type(window.cti_buttons["create"]), "convert")
    assert button is not None and button.text() == "Convertir en distribuidor…"
    button.click()
    assert isinstance(window.convert_dialog, ConvertClientDialog) and window.convert_dialog.isVisible()
    window.convert_dialog.reject()
    window.close()


# ---- 4. the client window's «Cuentas de timbrado» ------------------------------------------------------


def test_client_window_creates_accounts_and_resets_passwords(
    qtbot: Any, started_window: MainWindow, clientes: ClientsPage
) -> None:
    client = a_client(started_window)
    window = clientes.open_detail(str(client["id"]), "ctis")
    assert isinstance(window, ClientDetailWindow)
    qtbot.waitUntil(lambda: bool(window.data) and window.ctis.rowCount() > 0, timeout=TIMEOUT)
    headers = [window.ctis.horizontalHeaderItem(i).text() for i in range(window.ctis.columnCount())]
    assert "Pagada hasta" in headers
    assert not window.cti_buttons["reset"].isEnabled()  # until a CTI is selected
    count = window.ctis.rowCount()

    window.cti_buttons["create"].click()
    dialog = window.cti_dialog
    assert isinstance(dialog, CreateStampingAccountDialog)
    assert dialog.client_id == client["id"] and client["name"] in dialog.client_name.text()
    dialog.passwords.password.setText("Estandar2026")
    dialog.passwords.confirm.setText("Estandar2026")
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT):
        dialog.ok_button.click()
    qtbot.waitUntil(lambda: window.ctis.rowCount() == count + 1, timeout=TIMEOUT)

    window.ctis.selectRow(0)
    assert window.cti_buttons["reset"].isEnabled()
    window.cti_buttons["reset"].click()
    reset = window.cti_dialog
    assert isinstance(reset, ResetPasswordDialog)
    reset.passwords.password.setText("NuevaClave2026")
    reset.passwords.confirm.setText("NuevaClave2026")
    with qtbot.waitSignal(reset.accepted, timeout=TIMEOUT):
        reset.ok_button.click()
    assert reset.done_ok
    window.close()
    started_window.session._set_state(ConnectionState.ONLINE)  # type: ignore[union-attr]


# ---- 6–8. screens in an office, first impressions, keyboard ----------------------------------------------


def test_first_window_fits_the_screen_and_long_messages_are_elided(started_window: MainWindow) -> None:
    screen = started_window.screen()
    assert screen is not None
    area = screen.availableGeometry()
    started_window._fit_to_screen(first=True)
    # No larger than the screen (the offscreen test screen is smaller than the window's minimum).
    assert started_window.width() <= max(area.width(), started_window.minimumSizeHint().width())
    assert started_window.height() <= max(area.height(), started_window.minimumSizeHint().height())
    assert started_window.width() <= 1280 and started_window.height() <= 800
    width = started_window.width()
    started_window.status.showMessage("La sincronización falló: " + "x" * 600, 1000)
    assert len(started_window.status.currentMessage()) < 300
    assert started_window.status.toolTip().endswith("x" * 600)
    assert started_window.width() == width


def test_ctrl_f_focuses_the_search_of_the_page_on_screen(
    qtbot: Any, started_window: MainWindow, timbrado: TimbradoPage
) -> None:
    assert started_window.find_action.shortcut().toString() == "Ctrl+F"
    assert started_window.focus_search()  # Timbrado is on screen: its search box
    started_window.tabs.setCurrentIndex(
        next(i for i in range(started_window.tabs.count()) if started_window.tabs.tabText(i) == "Compras")
    )
    assert not started_window.focus_search()  # Compras has none
    started_window.tabs.setCurrentIndex(0)


def test_secondary_text_is_readable(started_window: MainWindow) -> None:
    from cmdesk.ui.kit.forms import secondary_color
    from tests.ui.portal_helpers import contrast

    palette = started_window.palette()
    assert contrast(secondary_color(palette), palette.color(palette.ColorRole.Window)) >= 4.5


def test_no_contradictory_first_messages(qtbot: Any, clientes: ClientsPage) -> None:
    from cmdesk.ui.header import AccountHeader

    header = AccountHeader()
    assert (header.name.text(), header.nic.text()) == ("Cuenta Maestra", "Abriendo la sesión…")
    header.set_account(None)  # signed out: now it says so
    assert header.name.text() == "Sin sesión"
    header.deleteLater()
    clientes.search.setText("")
    clientes.apply_filters()
    assert clientes.view.empty_text == "Aún no tiene clientes: agréguelos con «Agregar cliente»."
    clientes.search.setText("no-existe-nadie")
    clientes.apply_filters()
    assert clientes.view.empty_text == "Ningún cliente coincide con la búsqueda o el filtro."
    clientes.search.setText("")
    clientes.apply_filters()


def test_timbrado_columns_at_office_screen_widths(
    qtbot: Any, started_window: MainWindow, timbrado: TimbradoPage
) -> None:
    client = COLUMN_KEYS.index("client")
    readable = timbrado.view.fontMetrics().horizontalAdvance("[200000] Comercializadora del Sur")
    started_window.show()
    for width in (1024, 1366, 1920):
        started_window.resize(width, 768)
        qtbot.wait(50)
        columns = sum(timbrado.view.columnWidth(i) for i in range(len(COLUMN_KEYS)))
        assert timbrado.view.columnWidth(client) >= readable  # never «[2…C.»
        # Narrow: the table scrolls sideways; wide: the client's column takes the room left.
        assert columns >= timbrado.view.viewport().width() - 2


def test_supr_deletes_a_selected_price_package(qtbot: Any, started_window: MainWindow) -> None:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from cmdesk.ui.herramientas.precios import PricesPage
    from tests.ui.portal_helpers import show_page

    page = show_page(started_window, "herramientas.precios")
    assert isinstance(page, PricesPage)
    assert page.delete_shortcut.key() == QKeySequence(QKeySequence.StandardKey.Delete)
    assert page.delete_shortcut.parent() is page.table
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=TIMEOUT)
    page.table.selectRow(0)
    # A message left open by an earlier test of the session (the renewal's, say) is not the question.
    before = {id(w) for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()}
    page.delete_shortcut.activated.emit()  # what Supr does on the table
    boxes: list[QMessageBox] = []

    def asked() -> bool:
        boxes[:] = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible() and id(w) not in before
        ]
        return bool(boxes)

    qtbot.waitUntil(asked, timeout=TIMEOUT)
    assert boxes[-1].text() == "¿Realmente desea eliminar el paquete?"
    boxes[-1].done(0)  # «No»: nothing is deleted
