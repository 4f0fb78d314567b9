"""Save PNGs of the desktop's main window (every tab) and of each dialog to `docs/screenshots/`.

    python scripts/screenshots.py [--out docs/screenshots]

Runs offscreen (no display needed) against the embedded default in a temporary CMDESK_HOME, so the
pictures show the demo distributor's real data; nothing of the user's own data is touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

from screens_kit import ROOT, Shots, run


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, ROOT / "docs" / "screenshots", "cmdesk-screenshots-", _shoot, argv)


def _shoot(out: Path, home: Path) -> int:

    from cmdesk.services import commands
    from cmdesk.services.config import DesktopConfig
    from cmdesk.services.connectivity import ConnectionState
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui import errors
    from cmdesk.ui.signin_dialog import SignInDialog

    kit = Shots(out, settle=0.2)
    pump, wait, save = kit.pump, kit.wait, kit.save
    window = kit.main_window(1366, 768)  # the usual office laptop (README pictures)
    session = window.session
    assert session is not None and session.cache is not None

    # The main window, tab by tab.
    kit.every_tab(window, settle=0.3)

    # Pending commands: one the server rejects (no such balance), one waiting to be sent.
    cti = next(c["id"] for c in session.cache.all("stamping_account") if c["kind"] == "standard")
    rejected = session.command(
        commands.transfer, asset="stamps", target_type="stamping_account", target_id=cti, quantity=10**9
    )
    done: list[object] = []
    window.synced.connect(done.append)
    window.sync_now()
    wait(lambda: done and window.ops.busy == 0)
    session.command(
        commands.transfer,
        asset="points",
        target_type="client",
        target_id=session.cache.all("client")[0]["id"],
        quantity=50,
        comments="Puntos de cortesía",
    )
    wait(lambda: window.ops.busy == 0)
    pump(0.5)
    save(window, "main-pending-commands")
    panel = window.show_pending_panel()
    wait(lambda: any(c.id == rejected.id for c in panel.commands))
    panel.select(rejected.id)
    save(panel, "pending-panel")
    panel.close()

    # Offline.
    session._set_state(ConnectionState.OFFLINE)
    pump(0.3)
    save(window.statusBar(), "status-bar-offline")
    session._set_state(ConnectionState.ONLINE)

    # Settings: as it opens, then with a wrong address.
    settings = window.show_settings()
    assert settings is not None
    save(settings, "settings")
    settings.central.setChecked(True)
    settings.url.setText("ftp://cm.ejemplo")
    settings.save()
    save(settings, "settings-error")
    settings.reject()

    # Sign-in to a central server (the embedded one stands in for it), with the server's refusal.
    assert session.server is not None
    central = DesktopSession(DesktopConfig(server_url=session.server.url), home=home / "central")
    central.start()
    dialog = SignInDialog(central, window.ops, window)
    dialog.show()
    save(dialog, "signin")
    dialog.login.setText("demo@cmdesk.mx")
    dialog.password.setText("no-es-la-clave")
    dialog.submit()
    wait(lambda: dialog.error.isVisible())
    save(dialog, "signin-error")
    dialog.reject()
    central.close()

    # About, and the dialog of an unexpected error.
    about = window.show_about()
    save(about, "about")
    about.close()
    reporter = errors.install(kit.log_path)
    try:
        raise ZeroDivisionError("división entre cero")
    except ZeroDivisionError as exc:
        reporter.report(type(exc), exc, exc.__traceback__)
    wait(lambda: reporter.dialog is not None)
    assert reporter.dialog is not None
    save(reporter.dialog, "unexpected-error")
    reporter.dialog.close()
    errors.uninstall()

    return kit.finish(window)


if __name__ == "__main__":
    sys.exit(main())
