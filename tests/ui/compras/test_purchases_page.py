"""Compras over the real embedded server: buying stamps is queued and the header's balance rises after
the sync; an MKL is quoted (prorated) and contracted; the catalog is kept for offline reading."""

from __future__ import annotations

from typing import Any

from cmdesk.services.outbox import CommandState
from cmdesk.ui import locale as fmt
from cmdesk.ui.compras import PurchasesPage
from cmdesk.ui.compras.page import QuoteDialog
from cmdesk.ui.main_window import MainWindow, subpage_tabs
from tests.ui.portal_helpers import answer, click, show_page


def page_of(window: MainWindow) -> PurchasesPage:
    page = window.page("compras")
    assert isinstance(page, PurchasesPage)
    return page


def show(qtbot: Any, window: MainWindow) -> PurchasesPage:
    page = page_of(window)
    show_page(window, "compras")
    qtbot.waitUntil(
        lambda: page.catalog_fetched_at is not None and bool(page.stamps.packages), timeout=30_000
    )
    return page


def test_the_catalog_as_the_manual_lists_it(qtbot: Any, started_window: MainWindow) -> None:
    page = show(qtbot, started_window)
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "Timbres CFDI",
        "Puntos",
        "MKL",
        "Suscripciones",
    ]
    radios = page.stamps.group.buttons()
    assert radios[0].text() == "2,000 Timbres CFDI" and radios[-1].text() == "2,000,000 Timbres CFDI"
    assert page.points.group.buttons()[0].text() == "3,000 Puntos Induxsoft"
    assert page.points.total.text() == "$2,850.00"
    cache = started_window.session.cache
    assert cache is not None and cache.catalog() is not None  # kept for offline reading


def test_buy_stamps_the_balance_in_the_header_rises(qtbot: Any, started_window: MainWindow) -> None:
    page = show(qtbot, started_window)
    stamps = page.stamps
    before = int(started_window.session.account()["balances"]["stamps"])
    stamps.select("stamps_2000")
    stamps.quantity.setValue(2)
    assert stamps.detail.text() == "2 × 2,000 Timbres CFDI"
    assert stamps.total.text() == "$3,480.00"
    click(qtbot, stamps.buy_button)
    text = answer(qtbot, stamps)
    assert "Gracias por su compra en Timbres." in text
    assert "incancelable e irreversible" in text and "¿Realmente desea continuar?" in text
    outbox = started_window.session.outbox
    assert outbox is not None
    qtbot.waitUntil(
        lambda: any(c.kind == "purchase" and c.state == CommandState.DONE for c in outbox.list()),
        timeout=60_000,
    )
    expected = fmt.number(before + 4000)
    qtbot.waitUntil(lambda: started_window.header.stamps.value.text() == expected, timeout=30_000)


def test_quote_and_contract_an_mkl(qtbot: Any, qtmodeltester: Any, started_window: MainWindow) -> None:
    page = show(qtbot, started_window)
    mkl = page.mkl
    page.tabs.setCurrentWidget(mkl)
    qtbot.waitUntil(lambda: "mkl_nomicloud" in mkl.buttons, timeout=10_000)
    qtmodeltester.check(mkl.model)
    texts = mkl.model.row_texts(mkl.model.find("mkl_nomicloud"))
    # The catalog's $1,999.00 before IVA, said as every price is: IVA included.
    assert texts[0] == "MKL NomiCloud" and texts[1] == "$2,318.84" and texts[2].startswith("Vencimiento: ")
    # Dóminus is contracted already (the demo): its button says so.
    assert not mkl.buttons["mkl_dominus"].isEnabled() and mkl.buttons["mkl_dominus"].text() == "Contratado"
    click(qtbot, mkl.buttons["mkl_nomicloud"])
    qtbot.waitUntil(lambda: isinstance(mkl.dialog, QuoteDialog) and mkl.dialog.isVisible(), timeout=30_000)
    dialog = mkl.dialog
    assert dialog is not None
    quote = dialog.quote
    assert quote["code"] == "mkl_nomicloud" and 0 < quote["amount_cents"] <= 199900 * 116 // 100
    text = dialog.text.text()
    assert f"Se aplicará un cargo por <b>{fmt.money(quote['amount_cents'])}</b>" in text
    assert "por la suscripción <b>MKL NomiCloud</b>" in text and "incancelable e irreversible" in text
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: "Se contrató MKL NomiCloud" in mkl.notice.text(), timeout=30_000)
    qtbot.waitUntil(
        lambda: "mkl_nomicloud" in mkl.buttons and mkl.buttons["mkl_nomicloud"].text() == "Contratado",
        timeout=30_000,
    )
    cache = started_window.session.cache
    assert cache is not None
    contract = next(c for c in cache.all("contract") if c["code"] == "mkl_nomicloud")
    assert contract["first_charge_cents"] == quote["amount_cents"]


def test_compras_is_a_top_level_tab(started_window: MainWindow) -> None:
    assert subpage_tabs(started_window, "compras") is None
