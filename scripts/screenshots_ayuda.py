"""Save PNGs of the Ayuda page and its update dialogs to `docs/screenshots/ayuda/`.

    python scripts/screenshots_ayuda.py [--out docs/screenshots/ayuda]

Offscreen, against the embedded default in a temporary CMDESK_HOME. A signed fake release 9.9.9 of
cmdesk is published in the embedded server's catalog with a key made here (CMDESK_UPDATE_PUBLIC_KEY
points cmdesk at it), so the offer, the download and the "Windows only" notice can be shown; then an
unsigned 10.0.0, for the refusal.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from screens_kit import ROOT, Shots, run


def main(argv: list[str] | None = None) -> int:
    return run(
        __doc__,
        ROOT / "docs" / "screenshots" / "ayuda",
        "cmdesk-ayuda-shots-",
        _shoot,
        argv,
        home_subdir="home",
    )


def _shoot(out: Path, scratch: Path) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from PySide6.QtWidgets import QPushButton, QWidget

    from cmdesk.domain import releases
    from cmdesk.server import db
    from cmdesk.server.operations import software
    from cmdesk.services import paths, updates
    from cmdesk.ui.ayuda import AyudaPage

    key = Ed25519PrivateKey.generate()
    public = scratch / "shots.pub"
    public.write_bytes(releases.public_key_pem(key.public_key()))
    os.environ[updates.PUBLIC_KEY_ENV] = str(public)

    kit = Shots(out)
    wait, save = kit.wait, kit.save
    window = kit.main_window(1366, 860)
    page = window.page("ayuda")
    assert isinstance(page, AyudaPage)
    window.tabs.setCurrentWidget(page)
    save(window, "ayuda-tab")

    session = window.session
    assert session is not None and session.server is not None

    def publish(version: str, signed: bool) -> None:
        source = scratch / f"cmdesk-setup-{version}.exe"
        source.write_bytes(b"MZ cmdesk demo installer " + os.urandom(400_000))
        manifest = signature = None
        if signed:
            manifest = releases.manifest_text(
                product="cmdesk",
                version=version,
                file_name=source.name,
                sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
                size=source.stat().st_size,
            )
            signature = releases.sign(key, manifest)
        engine = db.create_db_engine(session.server.database_url)  # type: ignore[union-attr]
        try:
            db.run(
                db.session_factory(engine),
                software.publish_file,
                store=paths.server_dir(paths.EMBEDDED_KEY) / "files",
                product_code="cmdesk",
                product_name="cmdesk (Cuenta Maestra de escritorio)",
                kind="installer",
                title="Instalador",
                file_version=version,
                source=source,
                manifest=manifest,
                signature=signature,
            )
        finally:
            engine.dispose()

    controller = page.updates

    def dialog() -> QWidget:
        wait(lambda: controller.dialog is not None and controller.dialog.isVisible())
        assert controller.dialog is not None
        return controller.dialog

    page.check_for_updates()
    save(dialog(), "ayuda-al-dia")
    dialog().close()

    publish("9.9.9", signed=True)
    page.check_for_updates()
    offer = dialog()
    save(offer, "ayuda-nueva-version")
    install = next(b for b in offer.findChildren(QPushButton) if b.text() == "Descargar e instalar")
    install.click()
    wait(lambda: controller.dialog not in (None, offer) and controller.dialog.isVisible())  # type: ignore[union-attr]
    save(dialog(), "ayuda-solo-windows")
    dialog().close()
    save(window, "ayuda-tab-descargada")

    publish("10.0.0", signed=False)
    page.check_for_updates()
    save(dialog(), "ayuda-rechazada")
    dialog().close()
    return kit.finish(window)


if __name__ == "__main__":
    sys.exit(main())
