"""What the Software tab does, as actions (`cmdesk.ui.kit.actions`): the catalog read from the cache,
and the download manager's work (`cmdesk.services.downloads`) — starting it, reading the files' states,
queueing, pausing, verifying, removing, the options — in the network pool (it reads and writes files,
possibly on a network share)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmdesk.services import downloads
from cmdesk.services.downloads import DownloadManager, DownloadStatus, FileInfo
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, read, task
from cmdesk.ui.operations import Pool
from cmdesk.ui.software.model import load_catalog

if TYPE_CHECKING:
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui.software.options_dialog import DownloadOptions


tr = translator("software")


def read_catalog(context: AppContext) -> Action:
    """The products and their active files (`model.load_catalog`)."""
    return read(context, load_catalog, label=tr("Leyendo el catálogo"))


def _start(session: DesktopSession, old: DownloadManager | None) -> DownloadManager:
    if old is not None:
        old.shutdown(timeout=5)
    manager = downloads.manager_for(session)
    manager.start()
    return manager


def start_manager(context: AppContext, session: DesktopSession, old: DownloadManager | None) -> Action:
    """The download manager of this session (its persisted queue resumes), the old one stopped."""
    return task(context, _start, session, old, label=tr("Preparando descargas"))


def stop_manager(context: AppContext, manager: DownloadManager) -> Action:
    return task(context, manager.shutdown)


def _statuses(
    manager: DownloadManager, infos: list[FileInfo], superseded: set[str]
) -> tuple[dict[str, DownloadStatus], int]:
    manager.set_superseded(superseded)
    return manager.statuses(infos), manager.store.total_bytes()


def read_statuses(
    context: AppContext, manager: DownloadManager, infos: Iterable[FileInfo], superseded: Iterable[str]
) -> Action:
    """Each file's download state, and the bytes the folder holds."""
    return task(context, _statuses, manager, list(infos), set(superseded))


def read_usage(context: AppContext, manager: DownloadManager) -> Action:
    return task(context, manager.store.total_bytes)


def file_action(context: AppContext, manager: DownloadManager, name: str, *args: Any) -> Action:
    """One of the manager's actions on a file: enqueue, pause, resume, retry, cancel, verify,
    set_pinned, remove, open_for_use."""
    method: Callable[..., Any] = getattr(manager, name)
    return task(context, method, *args)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_folder(context: AppContext, folder: Path) -> Action:
    """The downloads folder, made when it is not there yet."""
    return task(context, _ensure, folder)


def _apply(
    session: DesktopSession, manager: DownloadManager | None, options: DownloadOptions, moved: bool
) -> None:
    downloads.save_settings(session)
    if manager is not None and not moved:
        manager.set_parallel(options.parallel)
        manager.set_rate_limit(options.rate_kbps * 1024 or None)
        manager.set_max_bytes(options.limit_mb * 1024 * 1024 or None)
        manager.evict()


def apply_options(
    context: AppContext,
    session: DesktopSession,
    manager: DownloadManager | None,
    options: DownloadOptions,
    *,
    moved: bool,
) -> Action:
    """Keep the download options (the session's configuration, already updated) and apply them to the
    running manager (unless the folder moved: then a new manager is made)."""
    return task(context, _apply, session, manager, options, moved)


def check_folder(context: AppContext, folder: Path) -> Action:
    """Whether the folder can hold the downloads (None) or why not."""
    return task(context, downloads.check_folder, folder, label=tr("Comprobando la carpeta"), pool=Pool.NET)
