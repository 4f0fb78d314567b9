"""What Ayuda does, as actions (`cmdesk.ui.kit.actions`): look for a newer cmdesk and download it
(`cmdesk.services.updates`), in the network pool."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmdesk.services.downloads.models import DownloadStatus
from cmdesk.services.updates import Release, UpdateCheck, Updater
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, task
from cmdesk.ui.operations import Progress

UpdaterFactory = Callable[[Any], Updater]


tr = translator("ayuda")


def _check(factory: UpdaterFactory, session: Any, manual: bool) -> tuple[Updater, UpdateCheck | None]:
    updater = factory(session)
    return updater, updater.check() if manual else updater.check_if_due()


def check(context: AppContext, factory: UpdaterFactory, *, manual: bool) -> Action:
    """The newest release the server offers (`manual`: now; else at most once a day: None when the
    automatic check already ran today), with the updater that found it."""
    return task(context, _check, factory, context.session, manual, label=tr("Buscando actualizaciones"))


def _download(updater: Updater, release: Release, cancel: threading.Event, progress: Progress) -> Path:
    def on_status(status: DownloadStatus) -> None:
        progress(status.received, status.total or release.file.size)
        if progress.cancelled:
            cancel.set()

    return updater.download(release, on_status=on_status, cancel=cancel)


def download(context: AppContext, updater: Updater, release: Release, cancel: threading.Event) -> Action:
    """The release's installer, downloaded and verified (chain `.progress()`; `cancel` stops it)."""
    return task(context, _download, updater, release, cancel, label=tr("Descargando la actualización"))
