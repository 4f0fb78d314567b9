"""Save PNGs of the Software tab in its states (downloading, paused, queued, failed, another desk
downloading, available offline) and of its download options to `docs/screenshots/`.

    python scripts/screenshots_software.py [--out docs/screenshots]

Runs offscreen against the embedded default in a temporary CMDESK_HOME (the demo catalog and its
generated files); a bandwidth cap keeps downloads on screen long enough to be seen.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from screens_kit import ROOT, Shots, run


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, ROOT / "docs" / "screenshots", "cmdesk-screenshots-software-", _shoot, argv)


def _shoot(out: Path, _home: Path) -> int:
    from cmdesk.services import paths
    from cmdesk.services.downloads import DownloadState
    from cmdesk.ui.software import SoftwarePage

    kit = Shots(out, logging=False)
    pump, wait, save = kit.pump, kit.wait, kit.save
    window = kit.main_window(1440, 860)
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
    return kit.finish(window)


if __name__ == "__main__":
    sys.exit(main())
