"""Downloads of the Software menu (installers, fixes, improvements, documentation, tools): each file
downloaded once per office, resumed after a cut or a restart, never handed out damaged, kept for
offline use. No Qt here.

- `models`: `FileInfo` (what to download), `DownloadState`/`DownloadStatus`, `DownloadError`.
- `store`: `FileStore`, the folder of files — local, or shared by an office's desks (locks with
  heartbeats made of plain files, verified manifests, atomic publishing, eviction).
- `transfer`: one file's bytes (Range/If-Range resume, retries with backoff, bandwidth cap, SHA-256).
- `queue`: this desk's persisted queue (SQLite in the data folder).
- `manager`: `DownloadManager` — the queued flow of the Software tab and `fetch(info) -> Path`.
- `catalog`: which files a newer version supersedes.

`manager_for(session)` builds the manager the desktop uses, from the session and its config.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cmdesk.services import paths
from cmdesk.services.downloads.manager import DownloadManager
from cmdesk.services.downloads.models import (
    STATE_LABELS,
    DownloadError,
    DownloadState,
    DownloadStatus,
    FileInfo,
    os_error_text,
)
from cmdesk.services.downloads.store import FileStore
from cmdesk.services.downloads.transfer import RetryPolicy

if TYPE_CHECKING:
    from cmdesk.services.config import DesktopConfig
    from cmdesk.services.session import DesktopSession

QUEUE_FILE = "downloads.sqlite3"
FOLDER_NAME = "software"
MB = 1024 * 1024


def default_folder(session: DesktopSession | None = None) -> Path:
    """This desk's own download folder (in its local data folder, not the disposable cache)."""
    if session is not None and session.home is not None:
        return session.home / "data" / FOLDER_NAME
    return paths.data_dir() / FOLDER_NAME


def folder_for(config: DesktopConfig, session: DesktopSession | None = None) -> Path:
    return Path(config.software_folder) if config.software_folder else default_folder(session)


def check_folder(folder: Path) -> str | None:
    """None when cmdesk can keep downloads in `folder` (created if missing); otherwise why not, in
    Spanish. Writes and deletes a small file: a share may let us list it but not write."""
    probe = folder / f".cmdesk-probe-{secrets.token_hex(4)}"
    moved = probe.with_suffix(".ok")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with probe.open("x", encoding="utf-8") as f:
            f.write("cmdesk")
        os.replace(probe, moved)  # renaming is how files are published there
        moved.unlink()
    except (OSError, ValueError) as exc:
        for leftover in (probe, moved):
            with contextlib.suppress(OSError, ValueError):
                leftover.unlink(missing_ok=True)
        return f"No se puede usar la carpeta «{folder}»: {os_error_text(exc)}."
    return None


def manager_for(session: DesktopSession) -> DownloadManager:
    """The download manager of a started session (its server's API client, the configured folder,
    limits and cap; the queue in the server's folder). The caller `start()`s and `shutdown()`s it."""
    if session.api is None:
        raise DownloadError("Inicie sesión para descargar archivos.", retryable=False)
    config = session.config
    return DownloadManager(
        session.api,
        FileStore(folder_for(config, session)),
        queue_path=session.server_folder() / QUEUE_FILE,
        parallel=config.download_parallel,
        rate_limit=config.download_rate_kbps * 1024 or None,
        max_bytes=config.software_limit_mb * MB or None,
    )


__all__ = [
    "STATE_LABELS",
    "DownloadError",
    "DownloadManager",
    "DownloadState",
    "DownloadStatus",
    "FileInfo",
    "FileStore",
    "RetryPolicy",
    "check_folder",
    "default_folder",
    "folder_for",
    "manager_for",
    "save_settings",
]


def save_settings(session: DesktopSession) -> Path:
    """Write the session's config (with its download settings) where the session keeps it."""
    from cmdesk.services.config import save_config

    if session.home is not None:
        return save_config(session.config, session.home / "config" / "config.json")
    return save_config(session.config)
