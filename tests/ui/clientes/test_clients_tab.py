"""The Clientes tab driven through its real widgets, over a real session on the embedded server.

One window for the module (the session starts once); the tests run in file order and the offline one
is last (it stops the server).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QTabWidget

from cmdesk.ui.clientes.client_form import ClientForm
from cmdesk.ui.clientes.model import COLUMN_INDEX, TWELVE_ORDERS, ClientsModel
from cmdesk.ui.clientes.page import ClientsPage
from cmdesk.ui.main_window import MainWindow


@pytest.fixture(scope="module")
def page(started_window: MainWindow) -> ClientsPage:
    inner = started_window.tabs.widget(0)
    assert isinstance(inner, QTabWidget)
    inner.setCurrentIndex(0)
    page = started_window.page("clientes.clientes")
    assert isinstance(page, ClientsPage)
    return page


def settle(qtbot: Any, page: ClientsPage) -> None:
    """Wait until the model read the latest query."""
    qtbot.waitUntil(lambda: not page.model.busy and not page.search_timer.isActive(), timeout=20000)
    qtbot.waitUntil(lambda: page.context.ops.busy == 0, timeout=20000)


def sync(qtbot: Any, window: MainWindow) -> None:
    handle = window.sync_now()
    assert handle is not None
    qtbot.waitUntil(lambda: handle.is_finished, timeout=30000)
    qtbot.waitUntil(lambda: window.ops.busy == 0, timeout=30000)


def shown_ids(page: ClientsPage) -> list[str]:
    return [r.id for r in page.model.rows()]


def cache_of(window: MainWindow) -> Any:
    assert window.session is not None and window.session.cache is not None
    return window.session.cache


def close_boxes() -> list[str]:
    texts = []
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            texts.append(widget.text())
            widget.done(0)
    return texts


# ---- the model ------------------------------------------------------------------------------------


def test_the_model_passes_qt_model_tester(
    page: ClientsPage, started_window: MainWindow, qtmodeltester: Any, qtbot: Any
) -> None:
    settle(qtbot, page)
    qtmodeltester.check(page.model)
    # A model of its own, fed page by page through fetchMore (a small page size: many pages).
    model = ClientsModel(started_window.context)
    model.page_size = 7
    qtmodeltester.check(model)
    with qtbot.waitSignal(model.loaded, timeout=10000):
        model.set_query(model.query)
    while model.canFetchMore():
        with qtbot.waitSignal(model.page_loaded, timeout=10000):
            model.fetchMore()
    qtmodeltester.check(model)
    assert model.rowCount() == model.total == cache_of(started_window).count_clients()


def test_every_cached_client_shows_with_its_cti_ids(
    page: ClientsPage, started_window: MainWindow, qtbot: Any
) -> None:
    settle(qtbot, page)
    cache = cache_of(started_window)
    clients = cache.all("client")
    assert page.model.total == len(clients) > 0
    assert page.summary.text() == f"{len(clients)} clientes"
    ctis = cache.all("stamping_account")
    for row in page.model.rows():
        expected = sorted(c["id"] for c in ctis if c["client_id"] == row.id)
        assert sorted(row.cti_ids) == expected
        assert expected[0] in (
            page.model.data(
                page.model.index(page.model.row_of(row.id), COLUMN_INDEX["name"]), Qt.ItemDataRole.ToolTipRole
            )
            or ""
        )


# ---- the twelve orders ------------------------------------------------------------------------------


def name_key(text: str) -> str:
    text = text.casefold().replace("ñ", "n\U0010ffff")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def expected_order(clients: list[dict[str, Any]], sort: str) -> list[str]:
    """The order computed here, from the clients' API data (not from the cache's SQL)."""

    def by(key: Any, reverse: bool = False, nulls_last: bool = False) -> list[str]:
        present = [c for c in clients if key(c) is not None]
        missing = [c for c in clients if key(c) is None]
        ordered = sorted(present, key=lambda c: (key(c), c["id"]), reverse=reverse)
        missing = sorted(missing, key=lambda c: c["id"], reverse=reverse)
        if reverse:  # SQLite: NULLs are the smallest, so they come last in a descending order
            return [c["id"] for c in ordered + missing]
        return [c["id"] for c in (ordered + missing if nulls_last else missing + ordered)]

    table = {
        "name": lambda: by(lambda c: name_key(c["name"])),
        "nic": lambda: by(lambda c: int(c["nic"])),
        "stamps_desc": lambda: by(lambda c: c["balances"]["stamps"], reverse=True),
        "stamps_asc": lambda: by(lambda c: c["balances"]["stamps"]),
        "points_desc": lambda: by(lambda c: c["balances"]["points"], reverse=True),
        "points_asc": lambda: by(lambda c: c["balances"]["points"]),
        "last_purchase_desc": lambda: by(lambda c: when(c.get("last_purchase_at")), reverse=True),
        "last_purchase_asc": lambda: by(lambda c: when(c.get("last_purchase_at")), nulls_last=True),
        "created_desc": lambda: by(lambda c: when(c.get("created_at")), reverse=True),
        "created_asc": lambda: by(lambda c: when(c.get("created_at"))),
        "last_issue_desc": lambda: by(lambda c: when(c.get("last_issue_at")), reverse=True),
        "last_issue_asc": lambda: by(lambda c: when(c.get("last_issue_at")), nulls_last=True),
    }
    return table[sort]()


@pytest.mark.parametrize("position", range(12))
def test_each_of_the_twelve_orders(
    page: ClientsPage, started_window: MainWindow, qtbot: Any, position: int
) -> None:
    sort, label = TWELVE_ORDERS[position]
    settle(qtbot, page)
    combo = page.order
    assert combo.itemText(position) == label
    combo.setCurrentIndex(position)
    settle(qtbot, page)
    assert page.model.query.sort == sort
    assert shown_ids(page) == expected_order(cache_of(started_window).all("client"), sort)


def test_header_click_sorts_in_sql_and_shows_in_the_combo(
    page: ClientsPage, started_window: MainWindow, qtbot: Any
) -> None:
    header = page.view.horizontalHeader()
    header.sectionClicked.emit(COLUMN_INDEX["points"])
    settle(qtbot, page)
    assert page.model.query.sort == "points_desc"
    assert page.order.currentText() == "Mayor saldo de puntos"
    header.sectionClicked.emit(COLUMN_INDEX["points"])
    settle(qtbot, page)
    assert page.model.query.sort == "points_asc"
    header.sectionClicked.emit(COLUMN_INDEX["nic"])
    settle(qtbot, page)
    assert shown_ids(page) == expected_order(cache_of(started_window).all("client"), "nic")
    page.order.setCurrentIndex(0)
    settle(qtbot, page)


# ---- search and filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "what",
    ["nic", "rfc", "cti", "financial_email", "technical_name", "phone"],
)
def test_search_box_matches_the_manual_fields(
    page: ClientsPage, started_window: MainWindow, qtbot: Any, what: str
) -> None:
    cache = cache_of(started_window)
    clients = sorted(cache.all("client"), key=lambda c: c["nic"])
    target = clients[5]
    term = {
        "nic": target["nic"],
        "rfc": target["rfc"].lower(),
        "cti": next(c["id"] for c in cache.all("stamping_account") if c["client_id"] == target["id"])[
            :10
        ].lower(),
        "financial_email": (target["financial_contact"]["email"] or target["email"]),
        "technical_name": target["technical_contact"]["name"] or target["name"],
        "phone": target["phone"],
    }[what]
    assert term
    page.search.clear()
    qtbot.keyClicks(page.search, term)
    assert page.search_timer.isActive()  # debounced: not read on each keystroke
    settle(qtbot, page)
    assert target["id"] in shown_ids(page)
    assert page.model.total == len(page.model.rows()) < len(clients) or what == "technical_name"
    page.search.clear()
    settle(qtbot, page)
    assert page.model.total == len(clients)


def select_rows(page: ClientsPage, rows: list[int]) -> None:
    selection = page.view.selectionModel()
    selection.clearSelection()
    for row in rows:
        selection.select(
            page.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


def test_tags_for_several_selected_clients(page: ClientsPage, started_window: MainWindow, qtbot: Any) -> None:
    settle(qtbot, page)
    cache = cache_of(started_window)
    candidates = [i for i, r in enumerate(page.model.rows()) if not r.data.get("favorite")][:3]
    ids = [page.model.rows()[i].id for i in candidates]
    select_rows(page, candidates)
    menu = page.context_menu_for(page.selected_rows())
    action = menu.findChild(type(menu.actions()[0]), "favorite")
    assert action is not None and action.text() == "Agregar a Favoritos"
    action.trigger()
    qtbot.waitUntil(
        lambda: all(page.model.rows()[page.model.row_of(i)].data["favorite"] for i in ids), timeout=20000
    )
    # Shown at once, as pending, before the server has it …
    assert (
        any(page.model.rows()[page.model.row_of(i)].data["pending"] for i in ids)
        or cache.server_copy("client", ids[0])["favorite"]
    )
    sync(qtbot, started_window)
    assert all(cache.server_copy("client", i)["favorite"] for i in ids)
    # … and the description in the pending panel names the clients.
    command = started_window.session.outbox.list()[-1]
    assert command.kind == "set_tags" and "3 clientes: «" in command.description
    page.category_buttons["favorites"].click()
    settle(qtbot, page)
    assert set(ids) <= set(shown_ids(page))
    assert all(r.data["favorite"] for r in page.model.rows())
    page.category_buttons["all"].click()
    settle(qtbot, page)


def test_star_click_and_color_filter(page: ClientsPage, started_window: MainWindow, qtbot: Any) -> None:
    settle(qtbot, page)
    cache = cache_of(started_window)
    target = page.model.rows()[0]
    before = bool(target.data["favorite"])
    page.view.clicked.emit(page.model.index(0, COLUMN_INDEX["favorite"]))
    qtbot.waitUntil(
        lambda: bool(page.model.rows()[page.model.row_of(target.id)].data["favorite"]) != before,
        timeout=20000,
    )
    # Color for two selected clients, then the color filter shows exactly the purple ones.
    rows = [1, 2]
    ids = [page.model.rows()[i].id for i in rows]
    select_rows(page, rows)
    menu = page.color_menu(page.selected_rows())
    purple = next(a for a in menu.actions() if a.data() == "purple")
    purple.trigger()
    qtbot.waitUntil(
        lambda: all(page.model.rows()[page.model.row_of(i)].data["color"] == "purple" for i in ids),
        timeout=20000,
    )
    sync(qtbot, started_window)
    index = page.color_filter.findData("purple")
    page.color_filter.setCurrentIndex(index)
    settle(qtbot, page)
    expected = {c["id"] for c in cache.all("client") if c.get("color") == "purple"}
    assert set(ids) <= expected
    assert set(shown_ids(page)) == expected
    page.color_filter.setCurrentIndex(0)
    settle(qtbot, page)


# ---- the form ---------------------------------------------------------------------------------------


def valid_rfc(first_eleven: str) -> str:
    """An RFC whose check digit matches (the last character found by trying)."""
    from cmdesk.domain.identity import check_rfc

    return next(first_eleven + d for d in "0123456789A" if check_rfc(first_eleven + d).check_digit_ok)


def fill(form: ClientForm, path: str, text: str) -> None:
    editor = form.editors[path]
    assert isinstance(editor, QLineEdit)
    editor.setText(text)
    editor.editingFinished.emit()


def test_add_a_client_and_its_cti_appears(page: ClientsPage, started_window: MainWindow, qtbot: Any) -> None:
    settle(qtbot, page)
    total = page.model.total
    page.add_button.click()
    form = next(w for w in page._windows if isinstance(w, ClientForm))
    assert form.rfc_counter.text() == "0/13"
    fill(form, "name", "Ñandú Papelería del Istmo S.A. de C.V.")
    fill(form, "rfc", valid_rfc("PIS160414AB"))
    assert form.rfc_counter.text() == "12/13"
    fill(form, "email", "ventas@nandu.mx")
    fill(form, "phone", "961 123 4567")
    form.editors["address.state"].setCurrentIndex(form.editors["address.state"].findData("Chiapas"))  # type: ignore[attr-defined]
    fill(form, "address.postal_code", "29000")
    fill(form, "other.bulk_stamp_price_cents", "6.50")
    form.editors["other.credit_days"].setValue(30)  # type: ignore[attr-defined]
    form.save_button.click()
    qtbot.waitUntil(lambda: not form.isVisible(), timeout=20000)
    qtbot.waitUntil(lambda: page.model.total == total + 1, timeout=20000)
    handle = started_window._sync_handle
    qtbot.waitUntil(lambda: handle is not None and handle.is_finished, timeout=30000)
    settle(qtbot, page)
    cache = cache_of(started_window)
    client = next(c for c in cache.all("client") if c["name"].startswith("Ñandú"))
    assert client["nic"] and client["other"]["bulk_stamp_price_cents"] == 650
    assert client["phone"] == "9611234567" and client["address"]["state"] == "Chiapas"
    row = page.model.rows()[page.model.row_of(client["id"])]
    assert page.model.row_texts(page.model.row_of(client["id"]))[COLUMN_INDEX["nic"]] == client["nic"]
    assert len(row.cti_ids) == 1  # the standard CTI created with it
    # Its CTI password is shown once.
    qtbot.waitUntil(lambda: any(row.cti_ids[0] in t for t in close_boxes()), timeout=10000)
    page.search.setText("ñandú")
    settle(qtbot, page)
    assert shown_ids(page) == [client["id"]]
    page.search.clear()
    settle(qtbot, page)


def test_edit_shows_field_errors_in_spanish_and_queues_nothing(
    page: ClientsPage, started_window: MainWindow, qtbot: Any
) -> None:
    settle(qtbot, page)
    outbox = started_window.session.outbox
    before = outbox.pending_count()
    form = page.open_form(page.model.rows()[3].id)
    fill(form, "email", "ventas@empresa")
    assert (
        form.error_of("email") == "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."
    )
    fill(form, "rfc", "ABC12")
    assert form.error_of("rfc").startswith("El RFC debe tener 12 caracteres")
    fill(form, "financial_contact.phone", "12345")
    form.save_button.click()
    assert form.isVisible()
    assert form.error_of("financial_contact.phone") == "El teléfono debe tener 10 dígitos (con lada)."
    assert form.tabs.tabText(0).startswith("⚠") and form.tabs.tabText(2).startswith("⚠")
    assert form.tabs.currentIndex() == 0
    assert form.summary.text() == "Revise los campos marcados (3)."
    assert outbox.pending_count() == before
    # A check digit that does not match is a warning to confirm, not an error.
    fill(form, "email", "")
    fill(form, "financial_contact.phone", "")
    fill(form, "rfc", "GODE561231GR9")
    assert "dígito verificador" in form.error_of("rfc")
    form.save_button.click()
    box = form.confirm_box
    assert box.isVisible() and "dígito verificador" in box.text()
    box.findChild(type(form.save_button), "noButton").click()
    assert form.isVisible()
    form.reject()


def test_offline_edit_is_saved_and_shown_pending(
    page: ClientsPage, started_window: MainWindow, qtbot: Any
) -> None:
    session = started_window.session
    assert session is not None and session.server is not None
    settle(qtbot, page)
    target = page.model.rows()[4]
    session.server.stop()  # the line is down from here on (last test of the module)
    form = page.open_form(target.id)
    fill(form, "trade_name", "Nombre cambiado sin conexión")
    form.save_button.click()
    qtbot.waitUntil(lambda: not form.isVisible(), timeout=20000)
    qtbot.waitUntil(
        lambda: (
            page.model.rows()[page.model.row_of(target.id)].data["trade_name"]
            == "Nombre cambiado sin conexión"
        ),
        timeout=20000,
    )
    row = page.model.row_of(target.id)
    assert page.model.rows()[row].data["pending"]
    assert (
        page.model.data(page.model.index(row, COLUMN_INDEX["name"]), Qt.ItemDataRole.ToolTipRole)
        == "Cambio pendiente de enviar al servidor"
    )
    assert page.model.data(page.model.index(row, COLUMN_INDEX["name"]), Qt.ItemDataRole.FontRole).italic()
    handle = started_window._sync_handle
    if handle is not None:
        qtbot.waitUntil(lambda: handle.is_finished, timeout=60000)
    pending = [c for c in session.outbox.list(["pending", "sent"]) if c.kind == "update_client"]
    assert pending and target.data["name"] in pending[-1].description


# (kept after the offline test only what needs no server)
