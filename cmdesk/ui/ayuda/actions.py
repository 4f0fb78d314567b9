"""What Ayuda does, as actions (`cmdesk.ui.kit.actions`): look for a newer cmdesk and download it
(`cmdesk.services.updates`), in the network pool; and the embedded server's test mails."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmdesk.services import commands, mailbox
from cmdesk.services.downloads.models import DownloadStatus
from cmdesk.services.updates import Release, UpdateCheck, Updater
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, online, task
from cmdesk.ui.operations import Pool, Progress

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


# ---- Correos de prueba (the embedded server's mails) -------------------------------------------------


def _signed_in(context: AppContext) -> bool:
    session = context.session
    return (
        session is not None
        and session.cache is not None
        and session.api is not None
        and session.api.signed_in
    )


def list_test_mails(context: AppContext) -> Action:
    """The embedded server's mails, newest first: asked to the server when signed in, else read from
    its folder (`cmdesk.services.mailbox`)."""
    label = tr("Leyendo los correos de prueba")
    if _signed_in(context):
        return online(context, commands.demo_mails, label=label)
    session = context.session
    folder = session.server_folder() / mailbox.MAIL_FOLDER if session is not None else Path()
    return task(context, mailbox.list_mails, folder, label=label, pool=Pool.CACHE)


def read_test_mail(context: AppContext, item: dict[str, Any]) -> Action:
    """One mail's text, HTML and links."""
    label = tr("Abriendo el correo")
    if _signed_in(context):
        return online(context, commands.demo_mail, str(item["id"]), label=label)
    return task(context, mailbox.read_mail, Path(str(item["file"])), label=label, pool=Pool.CACHE)
