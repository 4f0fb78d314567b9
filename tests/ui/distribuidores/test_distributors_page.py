"""Clientes → Distribuidores over the real embedded server: the state tabs, the manual's actions with
their confirmations, Agregar distribuidor (its refusals included), Transferir and convertir un cliente."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from sqlalchemy import select

from cmdesk.domain.enums import MULTINIVEL_CODE
from cmdesk.models import Contract
from cmdesk.services.outbox import CommandState
from cmdesk.ui.distribuidores import AddDistributorDialog, DistributorsPage, convert_client
from cmdesk.ui.distribuidores.dialogs import OWN_EMAIL, OWN_MOBILE
from cmdesk.ui.kit.table import select_id
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog
from tests.ui.portal_helpers import answer, button, click, server_db, show_page, sync

HEAVEN_EMAIL, HEAVEN_MOBILE = "ventas@heavensoft.mx", "9616058925"


def page_of(window: MainWindow) -> DistributorsPage:
    page = show_page(window, "clientes.distribuidores")
    assert isinstance(page, DistributorsPage)
    return page


def show(qtbot: Any, page: DistributorsPage, status: str | None) -> None:
    loads = page.model.loads
    page.set_status(status)
    assert page.status_filter == status
    qtbot.waitUntil(lambda: page.model.loads > loads, timeout=10_000)


def by_name(page: DistributorsPage, name: str) -> dict[str, Any] | None:
    return next((r for r in page.model.rows() if r.get("name") == name), None)


def pick(qtbot: Any, page: DistributorsPage, name: str) -> dict[str, Any]:
    qtbot.waitUntil(lambda: by_name(page, name) is not None, timeout=10_000)
    row = by_name(page, name)
    assert row is not None
    assert select_id(page.table, str(row["id"]))
    return row


def status_in_cache(window: MainWindow, ident: str) -> str:
    cache = window.session.cache
    assert cache is not None
    return str((cache.get("distributor", ident) or {}).get("status"))


def test_the_model_passes_the_tester(qtbot: Any, qtmodeltester: Any, started_window: MainWindow) -> None:
    page = page_of(started_window)  # shown: a hidden page loads when it comes on screen
    qtbot.waitUntil(lambda: page.model.rowCount() >= 2, timeout=10_000)
    qtmodeltester.check(page.model)


def test_tabs_filter_by_state_with_the_manual_columns(qtbot: Any, started_window: MainWindow) -> None:
    page = page_of(started_window)
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "Todos los distribuidores",
        "Sin validar",
        "Sin activar",
        "Activo",
        "Suspendido",
        "Cancelado",
        "Vencido",
    ]
    headers = [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(7)]
    assert headers == ["NIC", "Empresa", "F. alta", "Timbres", "Puntos", "F. vencimiento", "Estado"]
    show(qtbot, page, "active")
    assert [r["name"] for r in page.model.rows()] == ["HEAVEN SOFT S.A. de C.V."]
    texts = page.model.row_texts(0)
    assert texts[3] == "900" and texts[6] == "Activo"
    show(qtbot, page, "unvalidated")
    assert [r["name"] for r in page.model.rows()] == ["DANIEL MARTINEZ ARCE"]
    pick(qtbot, page, "DANIEL MARTINEZ ARCE")
    # Sin validar: only the confirmation e-mail can be sent again.
    enabled = {k for k, b in page.buttons.items() if b.isEnabled()}
    assert enabled == {"resend"}


def fill(qtbot: Any, widget: Any, text: str) -> None:
    widget.clear()
    qtbot.keyClicks(widget, text)


def test_add_distributor_refuses_own_contacts_then_creates_and_activates(
    qtbot: Any, started_window: MainWindow
) -> None:
    page = page_of(started_window)
    dialog = page.add_distributor()
    assert isinstance(dialog, AddDistributorDialog)
    # Step 1: the creating distributor's own e-mail and mobile are refused, beside their fields.
    fill(qtbot, dialog.email, "demo@cmdesk.mx")
    fill(qtbot, dialog.mobile, "961 100 0000")
    click(qtbot, dialog.ok_button)
    assert dialog.error("email") == OWN_EMAIL
    assert dialog.error("mobile") == OWN_MOBILE
    assert dialog.step == 1
    # An existing, confirmed profile (Heaven Soft's administrator) may administer another account —
    # once they consent from their e-mail (issue 15: the form is not told that the profile exists).
    fill(qtbot, dialog.email, HEAVEN_EMAIL)
    fill(qtbot, dialog.mobile, HEAVEN_MOBILE)
    click(qtbot, dialog.ok_button)
    assert dialog.step == 2
    # Step 2: the RFC counter, and the server's refusal of a wrong RFC shown beside it.
    fill(qtbot, dialog.name, "Soluciones Norte S.A. de C.V.")
    fill(qtbot, dialog.rfc, "SNO16")
    assert "5/13" in dialog.findChild(type(dialog.message), "rfc_hint").text()
    click(qtbot, dialog.ok_button)
    assert "RFC" in dialog.error("rfc")
    fill(qtbot, dialog.rfc, "SNO160409AB1")
    fill(qtbot, dialog.company["postal_code"], "123")
    click(qtbot, dialog.ok_button)
    assert "5 dígitos" in dialog.error("postal_code")
    fill(qtbot, dialog.company["postal_code"], "29000")
    dialog.company["state"].setCurrentText("Chiapas")
    with qtbot.waitSignal(dialog.done_ok, timeout=30_000) as created:
        click(qtbot, dialog.ok_button)
    distributor = created.args[0]["distributor"]
    assert distributor["status"] == "unvalidated"  # as for anyone new: nothing tells them apart
    text = answer(qtbot, page, "okButton")
    assert "se creó correctamente" in text
    # Heaven Soft's administrator follows the mail's link (they have a password: it only confirms).
    confirm_from_mail(qtbot, started_window, distributor["id"])
    sync(qtbot, started_window)
    qtbot.waitUntil(lambda: status_in_cache(started_window, distributor["id"]) == "inactive", timeout=30_000)
    # Sin activar → Activar, after the manual's question.
    show(qtbot, page, "inactive")
    pick(qtbot, page, "Soluciones Norte S.A. de C.V.")
    click(qtbot, page.buttons["activate"])
    assert "¿Realmente desea activar la cuenta?" in answer(qtbot, page)
    qtbot.waitUntil(lambda: status_in_cache(started_window, distributor["id"]) == "active", timeout=30_000)
    qtbot.waitUntil(lambda: by_name(page, "Soluciones Norte S.A. de C.V.") is None, timeout=10_000)
    show(qtbot, page, "active")
    assert by_name(page, "Soluciones Norte S.A. de C.V.") is not None


def confirm_from_mail(qtbot: Any, window: MainWindow, account_id: str) -> None:
    """Open the link of the account's newest confirmation mail (the .eml the embedded server wrote)."""
    import re
    from email import policy
    from email.message import EmailMessage
    from email.parser import BytesParser

    import requests

    from tests.ui.portal_helpers import outbound_mails

    assert window.session is not None and window.session.api is not None
    newest = outbound_mails(window, "confirm_email", account_id=account_id)[-1]
    folder = window.session.server_folder() / "mail"
    qtbot.waitUntil(lambda: any(folder.glob(f"*-confirm_email-{newest.id}.eml")), timeout=30_000)
    message = BytesParser(policy=policy.default).parsebytes(
        next(folder.glob(f"*-confirm_email-{newest.id}.eml")).read_bytes()
    )
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"/cuenta/confirmar\?t=([A-Za-z0-9_\-]+)", body.get_content())
    assert found
    token = found.group(1)
    r = requests.post(
        window.session.api.base_url + "/v1/public/registrations/confirm", json={"token": token}, timeout=30
    )
    assert r.status_code == 200, r.text


def test_suspend_cancel_and_reactivate(qtbot: Any, started_window: MainWindow) -> None:
    page = page_of(started_window)
    show(qtbot, page, "active")
    row = pick(qtbot, page, "HEAVEN SOFT S.A. de C.V.")
    ident = str(row["id"])
    click(qtbot, page.buttons["suspend"])
    assert "¿Realmente desea suspender la cuenta?" in answer(qtbot, page)
    qtbot.waitUntil(lambda: status_in_cache(started_window, ident) == "suspended", timeout=30_000)
    show(qtbot, page, "suspended")
    pick(qtbot, page, "HEAVEN SOFT S.A. de C.V.")
    assert {k for k, b in page.buttons.items() if b.isEnabled()} >= {"activate", "cancel"}
    assert not page.buttons["suspend"].isEnabled()
    # Declining the question changes nothing.
    click(qtbot, page.buttons["cancel"])
    assert "¿Realmente desea cancelar la cuenta?" in answer(qtbot, page, "noButton")
    click(qtbot, page.buttons["cancel"])
    assert "30 días naturales" in answer(qtbot, page)
    qtbot.waitUntil(lambda: status_in_cache(started_window, ident) == "cancelled", timeout=30_000)
    show(qtbot, page, "cancelled")
    row = pick(qtbot, page, "HEAVEN SOFT S.A. de C.V.")
    assert page.model.row_texts(page.model.find(ident))[-1].startswith("Se eliminará el ")
    assert not page.transfer_button.isEnabled()
    click(qtbot, page.buttons["activate"])
    answer(qtbot, page)
    qtbot.waitUntil(lambda: status_in_cache(started_window, ident) == "active", timeout=30_000)


def test_transfer_stamps_to_a_sub_distributor_is_queued_and_applied(
    qtbot: Any, started_window: MainWindow
) -> None:
    page = page_of(started_window)
    show(qtbot, page, "active")
    row = pick(qtbot, page, "HEAVEN SOFT S.A. de C.V.")
    before = int(row["balances"]["stamps"])
    assert page.transfer_button.isEnabled()
    page.transfer_actions["transfer_stamps"].trigger()
    dialog = page.dialog
    assert isinstance(dialog, TransferDialog)  # the one transfer dialog, for a sub-distributor
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    assert dialog.asset_stamps.isChecked()
    click(qtbot, dialog.ok_button)
    assert "mayor que cero" in dialog.quantity_message.text()
    dialog.quantity.setValue(150)
    fill(qtbot, dialog.amount, "75.5")
    with qtbot.waitSignal(dialog.queued, timeout=10_000):
        click(qtbot, dialog.ok_button)
    outbox = started_window.session.outbox
    assert outbox is not None
    transfers = [c for c in outbox.list() if c.kind == "transfer"]
    assert len(transfers) == 1 and "HEAVEN SOFT" in transfers[0].description
    # The page asked for a sync: the command goes out at once.
    qtbot.waitUntil(
        lambda: all(c.state == CommandState.DONE for c in outbox.list() if c.kind == "transfer"),
        timeout=60_000,
    )
    qtbot.waitUntil(
        lambda: (
            (by_name(page, "HEAVEN SOFT S.A. de C.V.") or {}).get("balances", {}).get("stamps")
            == before + 150
        ),
        timeout=30_000,
    )


def test_convert_a_client_into_a_distributor(qtbot: Any, started_window: MainWindow) -> None:
    cache = started_window.session.cache
    assert cache is not None
    client = sorted(cache.all("client"), key=lambda c: c["nic"])[-1]
    page = page_of(started_window)
    dialog = convert_client(started_window.context, client["id"], page)
    assert client["name"] in dialog.findChild(type(dialog.message), "intro").text()
    fill(qtbot, dialog.email, "admin.convertido@example.mx")
    fill(qtbot, dialog.mobile, "9619990001")
    with qtbot.waitSignal(dialog.done_ok, timeout=30_000) as done:
        click(qtbot, dialog.ok_button)
    assert done.args[0]["distributor"]["name"] == client["name"]
    assert "Se creó la cuenta de distribuidor" in answer(qtbot, page, "okButton")
    show(qtbot, page, "unvalidated")
    qtbot.waitUntil(lambda: by_name(page, client["name"]) is not None, timeout=10_000)


def _set_multinivel(window: MainWindow, status: str) -> None:
    with server_db(window) as factory, factory() as s, s.begin():
        for contract in s.scalars(select(Contract).where(Contract.catalog_code == MULTINIVEL_CODE)):
            contract.status = status


def test_without_multinivel_the_servers_reason_and_where_to_buy_it(
    qtbot: Any, started_window: MainWindow
) -> None:
    page = page_of(started_window)
    _set_multinivel(started_window, "cancelled")
    try:
        # The cache still shows the contract: the server refuses, with its own words.
        dialog = page.add_distributor()
        assert dialog is not None
        fill(qtbot, dialog.email, "nuevo@norte.mx")
        fill(qtbot, dialog.mobile, "9617770000")
        click(qtbot, dialog.ok_button)
        fill(qtbot, dialog.name, "Sin Multinivel S.A. de C.V.")
        fill(qtbot, dialog.rfc, "SMU160409AB1")
        click(qtbot, dialog.ok_button)
        qtbot.waitUntil(lambda: dialog.message.isVisible() and not dialog.busy, timeout=30_000)
        assert "requiere contratar «Multinivel» en Compras" in dialog.message.text()
        assert "Compras → Suscripciones" in dialog.message.text()
        click(qtbot, button(dialog, "cancelButton"))
        # Once synced, the page says so before asking for anything.
        sync(qtbot, started_window)
        assert page.add_distributor() is None
        text = answer(qtbot, page, "okButton")
        assert "requiere contratar «Multinivel»" in text and "Compras → Suscripciones" in text
    finally:
        _set_multinivel(started_window, "active")
        sync(qtbot, started_window)
