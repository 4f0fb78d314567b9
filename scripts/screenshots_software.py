"""Save PNGs of the Software tab in its states (downloading, paused, queued, failed, another desk
downloading, available offline) and of its download options to `docs/screenshots/`.

    python scripts/screenshots_software.py [--out docs/screenshots]

Runs offscreen against the embedded default in a temporary CMDESK_HOME (the demo catalog and its
generated files); a bandwidth cap keeps downloads on screen long enough to be seen.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
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
    home = Path(tempfile.mkdtemp(prefix="cmdesk-screenshots-software-"))
    os.environ["CMDESK_HOME"] = str(home)
    try:
        return _shoot(out)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _shoot(out: Path) -> int:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QWidget

    from cmdesk.services import paths
    from cmdesk.services.config import DesktopConfig
    from cmdesk.services.downloads import DownloadState
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui.app import create_application
    from cmdesk.ui.main_window import MainWindow
    from cmdesk.ui.software import SoftwarePage

    app = create_application([sys.argv[0]])
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
        pump(0.3)
        path = out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise SystemExit(f"could not save {path}")
        saved.append(path)

    window = MainWindow(DesktopSession(DesktopConfig()))
    window.resize(1440, 860)
    ready: list[object] = []
    window.session_ready.connect(ready.append)
    window.show()
    window.start_session()
    wait(lambda: ready and window.ops.busy == 0)
    window.tabs.setCurrentIndex(3)  # Software
    page = window.page("software")
    assert isinstance(page, SoftwarePage)
    wait(lambda: page.catalog_loaded and page.manager is not None)
    wait(lambda: len(page.model.statuses) >= len(page.model.files()))
    manager = page.manager
    assert manager is not None

    def row(product: str, title: str) -> object:
        return next(
            f for p in page._catalog if p.name.startswith(product) for f in p.files if f.info.title == title
        )

    available = row("MaxiComercio ERP", "Manual de usuario")
    paused = row("MaxiComercio ERP", "Instalador")
    downloading = row("FactuDesk", "Instalador")
    queued = row("NomiCloud", "Instalador del sincronizador")
    failed = row("Dóminus", "Mejora de reportes de ventas")
    other_desk = row("Contablink", "Instalador")

    manager.fetch(available.info)  # type: ignore[attr-defined]
    manager.set_parallel(1)
    manager.set_rate_limit(700 * 1024)
    page._act("download", paused.info.id)  # type: ignore[attr-defined]
    wait(lambda: (s := page.status_of(paused.info.id)) is not None and s.fraction > 0.35)  # type: ignore[attr-defined]
    page._act("pause", paused.info.id)  # type: ignore[attr-defined]
    wait(lambda: page.status_of(paused.info.id).state == DownloadState.PAUSED)  # type: ignore[attr-defined, union-attr]

    # Another desk of the office downloading into the shared folder: its lock beats, its partial grows.
    store = manager.store
    info = other_desk.info  # type: ignore[attr-defined]
    store.ensure_folder(info)
    store.partial_path(info).write_bytes(b"\0" * int(info.size * 0.62))
    lock = store.root / "locks" / f"{info.key}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def beat() -> None:
        n = 0
        while not stop.is_set():
            lock.write_text(json.dumps({"host": "RECEPCION", "pid": 1, "token": "demo", "beat": n}))
            n += 1
            stop.wait(0.3)

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()

    # A file the server lost: the download fails with the server's reason.
    server_files = paths.server_dir(paths.EMBEDDED_KEY) / "files"
    lost = next(server_files.rglob(failed.info.file_name))  # type: ignore[attr-defined]
    aside = lost.with_name(lost.name + ".aside")
    shutil.move(lost, aside)
    manager.set_parallel(3)
    page._act("download", failed.info.id)  # type: ignore[attr-defined]
    wait(lambda: (s := page.status_of(failed.info.id)) is not None and s.state == DownloadState.FAILED)  # type: ignore[attr-defined]
    shutil.move(aside, lost)
    page._act("download", other_desk.info.id)  # type: ignore[attr-defined]
    wait(lambda: (s := page.status_of(info.id)) is not None and s.state == DownloadState.WAITING)
    manager.set_parallel(2)
    page._act("download", downloading.info.id)  # type: ignore[attr-defined]
    wait(lambda: (s := page.status_of(downloading.info.id)) is not None and s.fraction > 0.2)  # type: ignore[attr-defined]
    page._act("download", queued.info.id)  # type: ignore[attr-defined]
    wait(lambda: page.status_of(queued.info.id) is not None)  # type: ignore[attr-defined]
    for i in range(5):
        page.view.setExpanded(page.model.index(i, 0), True)
    pump(1.2)
    save(window, "software-downloads")
    save(page, "software-page")

    page.search.setText("manual")
    save(page, "software-search-manual")
    page.search.clear()

    dialog = page.show_options()
    assert dialog is not None
    save(dialog, "software-options")
    blocker = Path(tempfile.mkdtemp()) / "informe.txt"
    blocker.write_text("no es una carpeta", encoding="utf-8")
    dialog.folder.setText(str(blocker / "Instaladores"))
    dialog.save()
    wait(lambda: dialog.folder_error.isVisible())
    save(dialog, "software-options-error")
    dialog.reject()

    stop.set()
    beater.join(2)
    manager.set_rate_limit(None)
    window.close()
    for path in saved:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
