"""What the screenshot scripts (`scripts/screenshots*.py`) share: the command line, a throwaway
CMDESK_HOME, the offscreen application, the main window on the embedded default after its first sync,
and pumping, waiting and grabbing widgets to PNG.

    def shoot(out: Path, home: Path) -> int:
        kit = Shots(out)
        window = kit.main_window()
        kit.save(window, "main")
        return kit.finish(window)

    if __name__ == "__main__":
        sys.exit(run(__doc__, ROOT / "docs" / "screenshots", "cmdesk-shots-", shoot))

Importing this module puts the project on `sys.path` and Qt on the offscreen platform; cmdesk itself is
imported only once CMDESK_HOME points at the temporary folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from cmdesk.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["QT_QPA_PLATFORM"] = "offscreen"


def run(
    doc: str | None,
    default_out: Path,
    prefix: str,
    shoot: Callable[[Path, Path], int],
    argv: list[str] | None = None,
    *,
    home_subdir: str | None = None,
) -> int:
    """Parse `--out`, point CMDESK_HOME at a fresh temporary folder (or a `home_subdir` of it), run
    `shoot(out, temporary folder)` and remove the folder afterwards."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["CMDESK_HOME"] = str(scratch / home_subdir if home_subdir else scratch)
    try:
        return shoot(out, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class Shots:
    """The offscreen application and the helpers to drive it and save what it shows.

    `settle` is how long `pump()` runs by default, and so how long `save` lets the widget settle;
    `logging` sets up cmdesk's log file and Qt message handler (the main window then gets the log's path).
    Each PNG is `out/<name_prefix><name>.png`; its path is printed as it is saved and kept in `saved`.
    """

    def __init__(self, out: Path, *, settle: float = 0.3, name_prefix: str = "", logging: bool = True):
        from cmdesk.services.logs import setup_logging
        from cmdesk.ui import errors
        from cmdesk.ui.app import create_application

        self.out = out
        self.settle = settle
        self.name_prefix = name_prefix
        self.saved: list[Path] = []
        self.log_path = setup_logging() if logging else None
        self.app = create_application([sys.argv[0]])
        if logging:
            errors.install_qt_message_handler()

    def pump(self, seconds: float | None = None) -> None:
        """Process Qt events for a while (`settle` seconds unless told)."""
        from PySide6.QtCore import QEventLoop

        end = time.monotonic() + (self.settle if seconds is None else seconds)
        while time.monotonic() < end:
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def wait(self, predicate: Callable[[], object], timeout: float = 120.0) -> None:
        """Pump events until `predicate()` is true; give up (exit) after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {predicate}")
            self.pump(0.05)

    def save(self, widget: QWidget, name: str) -> None:
        """Let `widget` settle, then save its picture as `<name_prefix><name>.png` in `out`."""
        self.pump()
        path = self.out / f"{self.name_prefix}{name}.png"
        if not widget.grab().save(str(path)):
            raise SystemExit(f"could not save {path}")
        self.saved.append(path)
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)

    def main_window(self, width: int = 1280, height: int = 800) -> MainWindow:
        """The main window on the embedded default, shown and done with its first sync."""
        from cmdesk.app import embedded_default
        from cmdesk.services.config import DesktopConfig
        from cmdesk.services.session import DesktopSession
        from cmdesk.ui.main_window import MainWindow

        session = DesktopSession(DesktopConfig(), embedded=embedded_default())
        window = MainWindow(session, log_path=self.log_path)
        window.resize(width, height)
        ready: list[object] = []
        window.session_ready.connect(ready.append)
        window.show()
        window.start_session()
        self.wait(lambda: ready and window.ops.busy == 0)
        return window

    def every_tab(self, window: MainWindow, settle: float = 0.0) -> None:
        """Save the main window on each of its tabs (and each inner tab), as `main-<tab>[-<inner>]`,
        once what the page asks on showing (a catalog, its first page) is in."""
        from PySide6.QtWidgets import QTabWidget

        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            inner = window.tabs.widget(index)
            name = slug(window.tabs.tabText(index))
            if isinstance(inner, QTabWidget):
                for sub in range(inner.count()):
                    inner.setCurrentIndex(sub)
                    self.wait(lambda: window.ops.busy == 0)
                    self.save(window, f"main-{name}-{slug(inner.tabText(sub))}")
                inner.setCurrentIndex(0)
            else:
                self.wait(lambda: window.ops.busy == 0)
                if settle:
                    self.pump(settle)
                self.save(window, f"main-{name}")
        window.tabs.setCurrentIndex(0)

    def finish(self, window: QWidget) -> int:
        """Close the main window and let Qt process the close; the script's exit status."""
        from PySide6.QtCore import QCoreApplication

        window.close()
        QCoreApplication.processEvents()
        return 0


def slug(text: str) -> str:
    """A tab's title as a file name: «Configuraciones globales» → configuraciones-globales; a count
    in it («Alertas (3)») left out, since it changes while the screen does not."""
    text = re.sub(r"\s*\(\d+\)$", "", text)
    table = str.maketrans("áéíóúñ ", "aeioun-")
    return text.lower().replace("&", "").translate(table)
