"""Ayuda → Buscar actualizaciones with real widgets over the real embedded server: releases of cmdesk
published in its catalog (signed with a key the test makes; `CMDESK_UPDATE_PUBLIC_KEY` points cmdesk
at its public half), found, refused, downloaded and handed to the (fake) installer."""

from __future__ import annotations

import hashlib
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PySide6.QtWidgets import QMessageBox, QPushButton

import cmdesk
from cmdesk.domain import releases
from cmdesk.server import db
from cmdesk.server.operations import software
from cmdesk.services import paths, updates
from cmdesk.ui.ayuda import AyudaPage
from cmdesk.ui.main_window import MainWindow

KEY = Ed25519PrivateKey.generate()
INSTALLER = b'#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/arguments.txt"\nexit 0\n' + b"\0" * 50_000


@pytest.fixture(scope="module", autouse=True)
def test_update_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path = tmp_path_factory.mktemp("keys") / "test_update_key.pub"
    path.write_bytes(releases.public_key_pem(KEY.public_key()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(updates.PUBLIC_KEY_ENV, str(path))
        yield


def publish(window: MainWindow, version: str, *, signed: bool, folder: Path) -> Path:
    """A cmdesk release in the embedded server's catalog (as `cmdesk-server software add` does)."""
    session = window.session
    assert session is not None and session.server is not None
    server_folder = paths.server_dir(paths.EMBEDDED_KEY)
    source = folder / f"cmdesk-setup-{version}.exe"
    source.write_bytes(INSTALLER + version.encode())
    manifest = signature = None
    if signed:
        manifest = releases.manifest_text(
            product="cmdesk",
            version=version,
            file_name=source.name,
            sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
            size=source.stat().st_size,
        )
        signature = releases.sign(KEY, manifest)
    engine = db.create_db_engine(session.server.database_url)
    try:
        db.run(
            db.session_factory(engine),
            software.publish_file,
            store=server_folder / "files",
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
    return source


def page_of(window: MainWindow) -> AyudaPage:
    page = window.page("ayuda")
    assert isinstance(page, AyudaPage)
    return page


def dialog_of(page: AyudaPage, qtbot) -> QMessageBox:
    qtbot.waitUntil(
        lambda: page.updates.dialog is not None and page.updates.dialog.isVisible(), timeout=30_000
    )
    dialog = page.updates.dialog
    assert dialog is not None
    return dialog


def close(dialog: QMessageBox) -> None:
    dialog.done(0)


def test_page_and_menu(started_window: MainWindow, qtbot) -> None:
    page = page_of(started_window)
    assert page.check_button.text() == "Buscar actualizaciones"
    assert f"Tiene la versión {cmdesk.__version__}" in page.update_status.text()
    action = page.install_menu_action()
    assert action is not None and action.text() == "Buscar &actualizaciones…"
    assert action in started_window.help_menu.actions()
    # The embedded server's catalog always lists this version: no automatic check against it.
    assert page.updates.last_check is None


def test_up_to_date(started_window: MainWindow, qtbot) -> None:
    page = page_of(started_window)
    page.check_button.click()
    dialog = dialog_of(page, qtbot)
    assert dialog.text() == f"cmdesk está al día (versión {cmdesk.__version__})."
    assert page.update_status.text() == dialog.text()
    close(dialog)


def test_unsigned_release_is_refused(started_window: MainWindow, qtbot, tmp_path: Path) -> None:
    publish(started_window, "50.0.0", signed=False, folder=tmp_path)
    page = page_of(started_window)
    menu_action = page.install_menu_action()
    assert menu_action is not None
    menu_action.trigger()
    dialog = dialog_of(page, qtbot)
    assert dialog.windowTitle() == "Actualización rechazada"
    assert dialog.text().startswith("La actualización 50.0.0 no trae la firma de Induxsoft")
    assert (
        page.updates.last_check is not None and page.updates.last_check.status is updates.UpdateStatus.REFUSED
    )
    close(dialog)


@pytest.mark.skipif(sys.platform == "win32", reason="the fake installer is a shell script")
def test_signed_release_offered_downloaded_and_installed(
    started_window: MainWindow, qtbot, tmp_path: Path
) -> None:
    source = publish(started_window, "99.0.0", signed=True, folder=tmp_path)
    page = page_of(started_window)
    controller = page.updates
    quits: list[bool] = []
    controller.quit_app = lambda: quits.append(True)
    # Windows' path, with a shell script for an installer: it records the arguments it gets.
    controller.updater_factory = lambda session: _windows_updater(session)

    page.check_button.click()
    offer = dialog_of(page, qtbot)
    assert offer.text() == f"Hay una nueva versión de cmdesk: 99.0.0 (usted tiene la {cmdesk.__version__})."
    assert "se verificará la firma de Induxsoft" in offer.informativeText()
    install = next(b for b in offer.findChildren(QPushButton) if b.text() == "Descargar e instalar")
    with qtbot.waitSignal(controller.installing, timeout=60_000) as installing:
        install.click()
    installer = installing.args[0]
    assert Path(installer).read_bytes() == source.read_bytes()
    assert quits == [True]
    assert page.update_status.text() == "Instalando cmdesk 99.0.0; cmdesk se cerrará."
    arguments = Path(installer).parent / "arguments.txt"
    # The script writes its arguments after the file exists: wait for the whole line.
    qtbot.waitUntil(lambda: arguments.exists() and "/relaunch=1" in arguments.read_text(), timeout=10_000)
    assert "/VERYSILENT" in arguments.read_text()


def test_elsewhere_the_verified_installer_is_left_for_the_user(started_window: MainWindow, qtbot) -> None:
    page = page_of(started_window)
    controller = page.updates
    controller.updater_factory = lambda session: _updater(session, "linux")
    page.check_button.click()
    offer = dialog_of(page, qtbot)
    install = next(b for b in offer.findChildren(QPushButton) if b.text() == "Descargar e instalar")
    with qtbot.waitSignal(controller.failed, timeout=60_000) as failed:
        install.click()
    assert "sólo está disponible en Windows" in failed.args[0]
    dialog = dialog_of(page, qtbot)
    assert dialog.windowTitle() == "Actualización descargada"
    assert not page.progress.isVisible()
    close(dialog)


def _updater(session, platform: str) -> updates.Updater:
    updater = updates.updater_for(session)
    updater.platform = platform
    return updater


def _windows_updater(session) -> updates.Updater:
    updater = _updater(session, "win32")
    original = updater.download

    def download(release, **kw):
        path = original(release, **kw)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)  # the fake installer runs here as a script
        return path

    updater.download = download  # type: ignore[method-assign]
    return updater


def test_automatic_check_offline_shows_nothing(started_window: MainWindow, qtbot, tmp_path: Path) -> None:
    from cmdesk.services.api_client import ApiClient
    from tests.ui.conftest import free_port_url

    page = page_of(started_window)
    controller = page.updates
    if controller.dialog is not None:
        controller.dialog.close()
    controller.dialog = None
    offline = ApiClient(free_port_url(), retries=0, connect_timeout=0.5)
    controller.updater_factory = lambda session: updates.Updater(
        offline, state_path=tmp_path / "updates.json", updates_folder=tmp_path / "updates"
    )
    with qtbot.waitSignal(controller.checked, timeout=30_000) as checked:
        controller.check(manual=False)
    assert checked.args[0].status is updates.UpdateStatus.OFFLINE
    qtbot.wait(200)
    assert controller.dialog is None  # no error shown
    assert not (tmp_path / "updates.json").exists()  # tried again at the next start
    offline.close()
