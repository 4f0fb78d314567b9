"""Herramientas over the real embedded server: price packages added, edited and deleted (the server's
refusals shown), users added and removed (never the master), and the global settings refused while no
stamps package exists."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from cmdesk.ui.herramientas import PricesPage, SettingsPage, UsersPage
from cmdesk.ui.herramientas.precios import PackageDialog
from cmdesk.ui.herramientas.usuarios import NewUserDialog
from cmdesk.ui.kit.table import select_id
from cmdesk.ui.main_window import MainWindow
from tests.ui.portal_helpers import answer, box, button, click, show_page


def fill(qtbot: Any, widget: Any, text: str) -> None:
    widget.clear()
    qtbot.keyClicks(widget, text)


def prices(window: MainWindow) -> PricesPage:
    page = show_page(window, "herramientas.precios")
    assert isinstance(page, PricesPage)
    return page


def users(window: MainWindow) -> UsersPage:
    page = show_page(window, "herramientas.usuarios")
    assert isinstance(page, UsersPage)
    return page


def settings(window: MainWindow) -> SettingsPage:
    page = show_page(window, "herramientas.configuracion")
    assert isinstance(page, SettingsPage)
    return page


def find(page: Any, **fields: Any) -> dict[str, Any] | None:
    return next((r for r in page.model.rows() if all(r.get(k) == v for k, v in fields.items())), None)


def test_models_pass_the_tester(qtmodeltester: Any, qtbot: Any, started_window: MainWindow) -> None:
    for page in (prices(started_window), users(started_window)):
        qtbot.waitUntil(lambda p=page: p.model.rowCount() > 0)
        qtmodeltester.check(page.model)


def add_package(qtbot: Any, page: PricesPage, quantity: int, price: str) -> PackageDialog:
    click(qtbot, page.add_button)
    dialog = page.dialog
    assert isinstance(dialog, PackageDialog)
    dialog.quantity.setValue(quantity)
    fill(qtbot, dialog.price, price)
    click(qtbot, dialog.ok_button)
    return dialog


def test_price_package_crud(qtbot: Any, started_window: MainWindow) -> None:
    page = prices(started_window)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    headers = [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(6)]
    assert headers == ["Tipo", "Cantidad", "Precio (IVA incluido)", "Precio unitario", "Para", "Descripción"]
    # A duplicate is refused by the server, beside the quantity.
    dialog = add_package(qtbot, page, 100, "450")
    qtbot.waitUntil(lambda: bool(dialog.error("quantity")) and not dialog.busy, timeout=30_000)
    assert "Ya existe un paquete con esta cantidad." in dialog.error("quantity")
    click(qtbot, dialog.cancel_button)
    # Add: the description is suggested as in the manual.
    dialog = add_package(qtbot, page, 200, "$900.00")
    assert dialog.description.text() == "Paquete de 200 Timbres"
    qtbot.waitUntil(lambda: find(page, quantity=200) is not None, timeout=30_000)
    row = find(page, quantity=200)
    assert row is not None and row["price_cents"] == 90000 and row["unit_price_cents"] == 450
    # Edit.
    assert select_id(page.table, row["id"])
    click(qtbot, page.edit_button)
    dialog = page.dialog
    assert isinstance(dialog, PackageDialog) and dialog.price.text() == "$900.00"
    fill(qtbot, dialog.price, "12,34")
    click(qtbot, dialog.ok_button)
    assert dialog.error("price_cents")  # "1,234" style only: a comma never separates decimals
    fill(qtbot, dialog.price, "850")
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: (find(page, quantity=200) or {}).get("price_cents") == 85000, timeout=30_000)
    # Delete, after the question.
    assert select_id(page.table, row["id"])
    click(qtbot, page.delete_button)
    assert "¿Realmente desea eliminar el paquete?" in answer(qtbot, page)
    qtbot.waitUntil(lambda: find(page, quantity=200) is None, timeout=30_000)


def test_add_and_remove_users_never_the_master(qtbot: Any, started_window: MainWindow) -> None:
    page = users(started_window)
    qtbot.waitUntil(lambda: page.model.rowCount() >= 2)
    master = page.model.row(0)
    assert master["email"] == "demo@cmdesk.mx" and page.model.row_texts(0)[5] == "Usuario maestro"
    click(qtbot, page.new_button)
    dialog = page.dialog
    assert isinstance(dialog, NewUserDialog)
    fill(qtbot, dialog.email, "ninalici@hotmail")
    fill(qtbot, dialog.mobile, "123456789")
    click(qtbot, dialog.ok_button)
    assert dialog.error("email") and "10 dígitos" in dialog.error("mobile")
    fill(qtbot, dialog.email, "ninalici@hotmail.com")
    fill(qtbot, dialog.mobile, "9611234567")
    click(qtbot, dialog.ok_button)
    assert dialog.step == 2 and "ninalici@hotmail.com" in dialog.summary.text()
    assert dialog.ok_button.text() == "Agregar usuario"
    fill(qtbot, dialog.name, "Prueba Alicia Nina")
    dialog.role.setCurrentIndex(dialog.role.findData("admin"))
    click(qtbot, dialog.ok_button)
    # Invited, not yet a user (issue 15: the person accepts from their own e-mail): listed as pending,
    # from the invitation the answer brought, under the invitation's id.
    qtbot.waitUntil(lambda: "Enviamos una invitación a ninalici@hotmail.com" in page.notice.text(), timeout=30_000)
    qtbot.waitUntil(lambda: find(page, email="ninalici@hotmail.com") is not None, timeout=30_000)
    pending = find(page, email="ninalici@hotmail.com")
    assert pending is not None and pending["pending"] and pending["name"] == "Prueba Alicia Nina"
    session = started_window.session
    assert session is not None and session.api is not None
    invited = [u for u in session.api.get("/v1/users")["items"] if u["email"] == "ninalici@hotmail.com"]
    assert [(u["id"], u["role"], u["member_since"], u["invitation"]["status"]) for u in invited] == [
        (pending["id"], "admin", None, "sent")
    ]
    assert select_id(page.table, pending["id"])
    assert page.resend_button.isEnabled()
    # The master can't be removed: the server says so.
    assert select_id(page.table, master["id"])
    click(qtbot, page.delete_button)
    question = box(qtbot, page)
    click(qtbot, button(question, "yesButton"))
    text = answer(qtbot, page, "okButton", previous=question)
    assert "No se puede eliminar al usuario maestro" in text
    assert find(page, id=master["id"]) is not None
    # Anyone else can; a pending user's invitation is withdrawn.
    assert select_id(page.table, pending["id"])
    click(qtbot, page.delete_button)
    assert "su enlace deja de funcionar" in answer(qtbot, page)
    qtbot.waitUntil(lambda: find(page, id=pending["id"]) is None, timeout=30_000)
    assert not [u for u in session.api.get("/v1/users")["items"] if u["email"] == "ninalici@hotmail.com"]
    user = next(r for r in page.model.rows() if r["id"] != master["id"])
    assert select_id(page.table, user["id"])
    click(qtbot, page.delete_button)
    assert "¿Realmente desea eliminar al usuario?" in answer(qtbot, page)
    qtbot.waitUntil(lambda: find(page, id=user["id"]) is None, timeout=30_000)


def test_settings_refused_without_a_stamps_package(qtbot: Any, started_window: MainWindow) -> None:
    price_page = prices(started_window)
    qtbot.waitUntil(lambda: price_page.model.rowCount() > 0)
    for row in [r for r in price_page.model.rows() if r["asset"] == "stamps" and not r["for_distributors"]]:
        assert select_id(price_page.table, row["id"])
        click(qtbot, price_page.delete_button)
        answer(qtbot, price_page)
        qtbot.waitUntil(lambda r=row: find(price_page, id=r["id"]) is None, timeout=30_000)
    page = settings(started_window)
    qtbot.waitUntil(lambda: page.edit_button.isEnabled())
    # #14: read-only until «Editar», in the normal colors (not greyed out): a click changes nothing.
    assert page.stamps_pcc.isEnabled() and page.price.isEnabled() and page.price.isReadOnly()
    assert page.read_hint.isVisible()
    was = page.stamps_pcc.isChecked()
    qtbot.mouseClick(page.stamps_pcc, Qt.MouseButton.LeftButton)
    assert page.stamps_pcc.isChecked() == was
    click(qtbot, page.edit_button)
    assert not page.price.isReadOnly() and not page.read_hint.isVisible()
    page.stamps_pcc.setChecked(True)
    page.auto.setChecked(True)
    fill(qtbot, page.price, "0.55")
    click(qtbot, page.save_button)
    qtbot.waitUntil(lambda: bool(page.error("allow_panel_stamp_purchase")), timeout=30_000)
    assert "requiere al menos un paquete de timbres definido" in page.error("allow_panel_stamp_purchase")
    assert page.editing  # the user's choices stay on screen to fix
    # With a package, the same settings are accepted.
    price_page = prices(started_window)  # on screen again: a hidden page refreshes when shown
    add_package(qtbot, price_page, 100, "500")
    qtbot.waitUntil(lambda: find(price_page, quantity=100, asset="stamps") is not None, timeout=30_000)
    show_page(started_window, "herramientas.configuracion")
    click(qtbot, page.save_button)
    qtbot.waitUntil(lambda: not page.editing, timeout=30_000)
    assert page.notice.text() == "Se guardaron las configuraciones."
    assert page.settings is not None and page.settings["bulk_stamp_price_cents"] == 55
    assert page.settings["allow_panel_stamp_purchase"] is True
    # And while it is on, the last stamps package can't be removed.
    prices(started_window)
    last = find(price_page, quantity=100, asset="stamps")
    assert last is not None
    assert select_id(price_page.table, last["id"])
    click(qtbot, price_page.delete_button)
    answer(qtbot, price_page)
    qtbot.waitUntil(lambda: "desactive primero esa opción" in price_page.notice.text(), timeout=30_000)


def test_the_user_id_is_short_to_read_and_whole_in_its_tooltip(qtbot: Any, started_window: MainWindow) -> None:
    """«ID usuario» (the manual's column) shows 8 characters in capitals, not a 32-character id; its
    tooltip has it whole (to quote it to support)."""
    from cmdesk.ui.kit.table import TOOLTIP

    page = users(started_window)
    qtbot.waitUntil(lambda: page.model.rowCount() >= 1, timeout=30_000)
    assert page.model.headerData(0, Qt.Orientation.Horizontal) == "ID usuario"
    record = page.model.row(0)
    index = page.model.index(0, 0)
    shown = page.model.data(index)
    assert shown == str(record["id"])[:8].upper() and len(shown) == 8
    assert page.model.data(index, TOOLTIP) == str(record["id"])
