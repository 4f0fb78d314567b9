"""Save PNGs of the desktop's main window (every tab) and of each dialog to `docs/screenshots/`.

    python scripts/screenshots.py [--out docs/screenshots]

Runs offscreen (no display needed) against the embedded default in a temporary CMDESK_HOME, so the
pictures show the demo distributor's real data; nothing of the user's own data is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ["QT_QPA_PLATFORM"] = "offscreen"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    home = Path(tempfile.mkdtemp(prefix="cmdesk-screenshots-"))
    os.environ["CMDESK_HOME"] = str(home)
    try:
        return _shoot(out, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _shoot(out: Path, home: Path) -> int:
    from PySide6.QtCore import QCoreApplication, QEventLoop
    from PySide6.QtWidgets import QTabWidget, QWidget

    from cmdesk.services import commands
    from cmdesk.services.config import DesktopConfig
    from cmdesk.services.connectivity import ConnectionState
    from cmdesk.services.logs import setup_logging
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui import errors
    from cmdesk.ui.app import create_application
    from cmdesk.ui.main_window import MainWindow
    from cmdesk.ui.signin_dialog import SignInDialog

    log_path = setup_logging()
    app = create_application([sys.argv[0]])
    errors.install_qt_message_handler()
    saved: list[Path] = []

    def pump(seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def wait(predicate: Callable[[], object], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {predicate}")
            pump(0.05)

    def save(widget: QWidget, name: str) -> None:
        pump()
        path = out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise SystemExit(f"could not save {path}")
        saved.append(path)

    window = MainWindow(DesktopSession(DesktopConfig()), log_path=log_path)
    window.resize(1280, 800)
    ready: list[object] = []
    window.session_ready.connect(ready.append)
    window.show()
    window.start_session()
    wait(lambda: ready and window.ops.busy == 0)
    session = window.session
    assert session is not None and session.cache is not None

    # The main window, tab by tab.
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        inner = window.tabs.widget(index)
        slug = _slug(window.tabs.tabText(index))
        if isinstance(inner, QTabWidget):
            for sub in range(inner.count()):
                inner.setCurrentIndex(sub)
                save(window, f"main-{slug}-{_slug(inner.tabText(sub))}")
            inner.setCurrentIndex(0)
        else:
            save(window, f"main-{slug}")
    window.tabs.setCurrentIndex(0)

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
    reporter = errors.install(log_path)
    try:
        raise ZeroDivisionError("división entre cero")
    except ZeroDivisionError as exc:
        reporter.report(type(exc), exc, exc.__traceback__)
    wait(lambda: reporter.dialog is not None)
    assert reporter.dialog is not None
    save(reporter.dialog, "unexpected-error")
    reporter.dialog.close()
    errors.uninstall()

    window.close()
    QCoreApplication.processEvents()
    for path in saved:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


def _slug(text: str) -> str:
    table = str.maketrans("áéíóúñ ", "aeioun-")
    return text.lower().replace("&", "").translate(table)


if __name__ == "__main__":
    sys.exit(main())
