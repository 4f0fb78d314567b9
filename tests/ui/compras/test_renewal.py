"""The header's expiry warning and Renovar mi cuenta, over the real embedded server: far from the date
no warning and the server's reason why it can't renew yet; within 30 days the days left in amber, from
7 days in red, with «Renovar…»; the dialog states what is charged and renewing moves the date a year
(charged once, on the server) and the warning goes away."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cmdesk.domain.expiry import ExpiryWarning
from cmdesk.models import Account, Charge
from cmdesk.server import db, feed
from cmdesk.ui.compras.page import PurchasesPage
from cmdesk.ui.compras.renewal import RenewalDialog
from cmdesk.ui.kit.forms import ERROR_STYLE, WARNING_STYLE
from cmdesk.ui.main_window import MainWindow
from tests.ui.portal_helpers import button, click, server_db, show_page, sync

SHOTS = Path("/tmp/cmdesk-shots")


def account_id(window: MainWindow) -> str:
    assert window.session is not None and window.session.account_id is not None
    return window.session.account_id


def set_expiry(window: MainWindow, qtbot: Any, days: float) -> dt.datetime:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    ident = account_id(window)

    def change(s: Any) -> None:
        account = s.get(Account, ident)
        account.expires_at = when
        account.version += 1
        feed.record(s, "account", ident, [ident])

    with server_db(window) as factory:
        db.run(factory, change)
    sync(qtbot, window)
    return when


def server_state(window: MainWindow) -> tuple[dt.datetime, int]:
    ident = account_id(window)
    with server_db(window) as factory:
        return db.run(
            factory,
            lambda s: (
                s.get(Account, ident).expires_at,
                s.scalar(select(func.count()).select_from(Charge).where(Charge.account_id == ident)),
            ),
        )


def open_dialog(qtbot: Any, opener: Any) -> RenewalDialog:
    dialog = opener()
    assert isinstance(dialog, RenewalDialog)
    qtbot.waitUntil(lambda: dialog.quote is not None, timeout=30_000)
    return dialog


def test_far_from_the_date_no_warning_and_the_servers_reason(qtbot: Any, started_window: MainWindow) -> None:
    window = started_window
    header = window.header
    assert header.expiry.text().startswith("Vence: ") and "faltan" not in header.expiry.text()
    assert header.warning is ExpiryWarning.NONE and not header.renew_button.isVisible()
    page = show_page(window, "compras")
    assert isinstance(page, PurchasesPage)
    dialog = open_dialog(qtbot, lambda: (click(qtbot, button(page, "renewAccount")), page.dialog)[1])
    assert "podrá renovarla a partir del" in dialog.summary.text()
    assert not dialog.ok_button.isEnabled()
    dialog.reject()


def test_the_warning_and_renewing_from_it(qtbot: Any, started_window: MainWindow) -> None:
    window = started_window
    window.resize(1366, 768)
    header = window.header
    set_expiry(window, qtbot, 20.5)
    qtbot.waitUntil(lambda: "faltan 21 días" in header.expiry.text(), timeout=30_000)
    assert header.warning is ExpiryWarning.SOON and header.expiry.styleSheet() == WARNING_STYLE
    assert header.renew_button.isVisible()
    SHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SHOTS / "header-vence-pronto.png"))

    expires = set_expiry(window, qtbot, 2.5)
    qtbot.waitUntil(lambda: "faltan 3 días" in header.expiry.text(), timeout=30_000)
    assert header.warning is ExpiryWarning.URGENT and header.expiry.styleSheet() == ERROR_STYLE
    before_expiry, before_charges = server_state(window)

    click(qtbot, header.renew_button)
    dialog = open_dialog(qtbot, lambda: window.page("compras").dialog)
    text = dialog.summary.text()
    assert "Su Cuenta Maestra vence el" in text and "(faltan 3 días)" in text
    assert "Al renovar se cargará a su estado de cuenta:" in text and "Total (IVA incluido)" in text
    quote = dialog.quote
    assert quote is not None and quote["can_renew"] and quote["charges"]
    assert dialog.ok_button.text().startswith("Renovar por $") and dialog.ok_button.isEnabled()
    dialog.grab().save(str(SHOTS / "renovar-mi-cuenta.png"))
    window.grab().save(str(SHOTS / "header-vence-urgente.png"))

    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)
    page = window.page("compras")
    assert "se renovó hasta el" in page.notice.text()
    after_expiry, after_charges = server_state(window)
    assert after_expiry.replace(tzinfo=dt.UTC) > expires + dt.timedelta(days=360)
    assert after_charges == before_charges + len(quote["charges"])
    assert before_expiry.replace(tzinfo=dt.UTC) < after_expiry.replace(tzinfo=dt.UTC)
    # The header follows at once (the renewed account is in the cache): no warning any more.
    qtbot.waitUntil(lambda: header.warning is ExpiryWarning.NONE, timeout=30_000)
    assert not header.renew_button.isVisible() and "faltan" not in header.expiry.text()
