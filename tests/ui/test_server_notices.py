"""What the server says of itself, on screen: a clock far from the server's and an update the server
wants stay in the status bar; the update is offered once, with the way to get it."""

from __future__ import annotations

import datetime as dt
import os

from PySide6.QtWidgets import QMessageBox

from cmdesk.services.server_info import ServerClock, ServerInfo
from cmdesk.ui.main_window import MainWindow
from tests.ui.conftest import wait_until


def test_the_clock_and_the_update_notices(started_window: MainWindow, qtbot, monkeypatch) -> None:
    window = started_window
    session = window.session
    assert session is not None and session.api is not None
    assert not window.status.server_notice.isVisible()  # a right clock, a current desktop: nothing

    # This computer two days ahead of the server.
    info = ServerInfo(ServerClock(local=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=2)))
    info.subscribe(lambda kind: session._emit("notice", {kind}))
    monkeypatch.setattr(session.api, "server", info)
    session.api.get("/v1/me")
    wait_until(lambda: window.status.server_notice.isVisible())
    assert "adelantado 2 días" in window.status.server_notice.text()
    assert window.update_offer is None  # a clock is said, not a dialog

    # The server refuses something of this version: offered once, with the way to update.
    looked: list[bool] = []
    ayuda = window.pages["ayuda"]
    monkeypatch.setattr(ayuda, "check_for_updates", lambda: looked.append(True))
    info.update_required("9.0.0")
    wait_until(lambda: window.update_offer is not None and window.update_offer.isVisible())
    box = window.update_offer
    assert box is not None
    assert "9.0.0" in box.text() and "Buscar actualizaciones" in box.text()
    wait_until(lambda: "9.0.0" in window.status.server_notice.toolTip())
    assert "adelantado" in window.status.server_notice.toolTip()
    window.resize(1366, 768)
    if os.environ.get("CMDESK_SCREENSHOTS"):
        window.grab().save(os.path.join(os.environ["CMDESK_SCREENSHOTS"], "server-notices.png"))
        box.grab().save(os.path.join(os.environ["CMDESK_SCREENSHOTS"], "update-required.png"))
    look = next(b for b in box.buttons() if b.text() == "Buscar la actualización")
    look.click()
    wait_until(lambda: looked == [True])
    # Once per session: another refusal does not open it again.
    info.update_required("9.1.0")
    qtbot.wait(200)
    assert window.update_offer is box and not box.isVisible()
    assert isinstance(box, QMessageBox)
