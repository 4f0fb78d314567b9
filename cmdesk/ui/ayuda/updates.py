"""Ayuda → Buscar actualizaciones: the dialogs and background work around `cmdesk.services.updates`.

`UpdateController.check(manual=...)` asks the server (network pool) for the newest cmdesk:

- automatic (at start, at most once a day, only with a central server — the embedded one's catalog
  always lists the running version): nothing is shown unless a signed update is available (an offer)
  or a newer release was refused (a warning: someone may be tampering with the server);
- manual (the button and the menu entry): every outcome is said — up to date, no line, refused.

Accepting the offer downloads the installer through the installer cache (progress on the Ayuda
page), and on Windows starts it silently and closes cmdesk, which the installer opens again when it
is done. Elsewhere the user is told the installation is Windows-only and where the verified
installer is. All dialogs are window-modal and opened with `open()` (never a nested event loop);
the last one is kept in `dialog` (tests read it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cmdesk.services import updates
from cmdesk.services.updates import Release, UpdateCheck, Updater, UpdateStatus
from cmdesk.ui import translator
from cmdesk.ui.ayuda import actions
from cmdesk.ui.ayuda.actions import UpdaterFactory
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.operations import OperationHandle

log = logging.getLogger(__name__)


tr = translator("ayuda")


class UpdateController(QObject):
    """One per Ayuda page. Signals carry results to the page (and to tests)."""

    status = Signal(str)  # a line for the Ayuda page
    checked = Signal(object)  # the UpdateCheck
    progress = Signal(int, int)  # bytes received, total
    downloaded = Signal(object)  # the verified installer's Path
    failed = Signal(str)  # a Spanish reason (download or install)
    installing = Signal(object)  # the installer's Path, started: the app closes next

    def __init__(
        self,
        context: AppContext,
        parent: QWidget,
        *,
        updater_factory: UpdaterFactory = updates.updater_for,
        quit_app: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.widget = parent
        self.updater_factory = updater_factory
        self.quit_app = quit_app or self._quit
        self.updater: Updater | None = None
        self.last_check: UpdateCheck | None = None
        self.dialog: QMessageBox | None = None
        self._job: OperationHandle | None = None
        self._cancel: threading.Event | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None and not self._job.is_finished

    # ---- check --------------------------------------------------------------------------------------

    def check(self, *, manual: bool) -> OperationHandle | None:
        session = self.context.session
        if self.busy or session is None:
            return None
        if manual:
            self.status.emit(tr("Buscando actualizaciones…"))
        self._job = (
            actions.check(self.context, self.updater_factory, manual=manual)
            .success(lambda result: self._checked(result, manual))
            .failure(lambda error: self._check_failed(error, manual))
            .run()
        )
        return self._job

    def _checked(self, result: tuple[Updater, UpdateCheck | None], manual: bool) -> None:
        self.updater, check = result
        if check is None:  # the automatic check already ran today
            return
        self.last_check = check
        self.checked.emit(check)
        self.status.emit(check.message)
        if check.available and check.release is not None:
            self._offer(check)
        elif check.status is UpdateStatus.REFUSED:
            self._show(QMessageBox.Icon.Warning, tr("Actualización rechazada"), check.message)
        elif manual:
            self._show(QMessageBox.Icon.Information, tr("Buscar actualizaciones"), check.message)

    def _check_failed(self, error: BaseException, manual: bool) -> None:
        log.warning("the update check failed", exc_info=error)
        reason = str(error) or type(error).__name__
        text = tr("No se pudieron buscar actualizaciones: {error}").format(error=reason)
        self.status.emit(text)
        if manual:
            self._show(QMessageBox.Icon.Warning, tr("Buscar actualizaciones"), text)

    def _offer(self, check: UpdateCheck) -> None:
        release = check.release
        assert release is not None
        box = self._box(
            QMessageBox.Icon.Question,
            tr("Nueva versión de cmdesk"),
            check.message,
            tr(
                "Se descargará el instalador ({size}), se verificará la firma de Induxsoft y se instalará; "
                "cmdesk se cerrará y volverá a abrirse solo. Sus cambios pendientes se conservan."
            ).format(size=_megabytes(release.file.size)),
        )
        install = box.addButton(tr("Descargar e instalar"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(tr("Más tarde"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(install)
        box.buttonClicked.connect(lambda button: self.download(release) if button is install else None)
        box.open()

    # ---- download and install -----------------------------------------------------------------------

    def download(self, release: Release) -> OperationHandle | None:
        updater = self.updater
        if updater is None or self.busy:
            return None
        self._cancel = threading.Event()
        self.status.emit(tr("Descargando cmdesk {version}…").format(version=release.version))
        self._job = (
            actions.download(self.context, updater, release, self._cancel)
            .progress(lambda done, total, _text: self.progress.emit(done, total))
            .success(lambda path: self._downloaded(release, path))
            .failure(self._download_failed)
            .run()
        )
        return self._job

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _download_failed(self, error: BaseException) -> None:
        text = str(error) or type(error).__name__
        log.warning("the update download failed: %s", text)
        self.status.emit(text)
        self.failed.emit(text)
        title = (
            tr("Actualización rechazada")
            if isinstance(error, updates.ReleaseRefused)
            else tr("No se pudo descargar la actualización")
        )
        self._show(QMessageBox.Icon.Warning, title, text)

    def _downloaded(self, release: Release, path: Path) -> None:
        self.downloaded.emit(path)
        updater = self.updater
        assert updater is not None
        try:
            updater.install(path)
        except updates.UpdateError as exc:
            text = str(exc)
            self.status.emit(text)
            self.failed.emit(text)
            self._show(QMessageBox.Icon.Information, tr("Actualización descargada"), text)
            return
        text = tr("Instalando cmdesk {version}; cmdesk se cerrará.").format(version=release.version)
        self.status.emit(text)
        self.installing.emit(path)
        self.quit_app()

    def _quit(self) -> None:
        """Close the main window (the session saves its state) and leave, so the installer can
        replace cmdesk's files."""
        window = self.widget.window()
        if window is not None:
            window.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    # ---- dialogs ------------------------------------------------------------------------------------

    def _box(self, icon: QMessageBox.Icon, title: str, text: str, informative: str = "") -> QMessageBox:
        if self.dialog is not None:
            self.dialog.close()
        box = QMessageBox(self.widget.window())
        box.setObjectName("updateDialog")
        box.setIcon(icon)
        box.setWindowTitle(title)
        box.setText(text)
        if informative:
            box.setInformativeText(informative)
        self.dialog = box
        return box

    def _show(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        box = self._box(icon, title, text)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        ok = box.button(QMessageBox.StandardButton.Ok)
        if ok is not None:
            ok.setText(tr("Aceptar"))
        box.open()
        return box


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
