"""The desktop's own files when the disk fails them: full, or damaged.

A full disk (`ENOSPC`, SQLite's `SQLITE_FULL`) stops what was writing with a Spanish message and loses
nothing: every write of the outbox and the cache is one SQLite transaction, rolled back whole, so the
outbox keeps every command it had, and the sync cursor — stored in the same transaction as the changes
it covers — never moves past what was written. `DiskFull` says it; the next sync after the user frees
space goes on from where the last one stopped.

A damaged cache (power cut on a lying disk, bytes overwritten, a half-copied file) is found when it is
opened (`PRAGMA quick_check`, see `cmdesk.services.cache.store`) or when a damaged page is met later
(`is_damaged`): the cache is disposable, so it is made anew and filled from the server, and the
outbox's commands are laid over it again.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
from pathlib import Path

# SQLite's primary result codes (the low byte of an extended code).
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_NOTADB = 26
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# With less room than this left, an I/O error while writing is a full disk: SQLite tells a WAL or a
# shared-memory file that cannot grow as SQLITE_IOERR, not SQLITE_FULL (a cache made on a full disk).
LOW_SPACE_BYTES = 2**20

SYNC_STOPPED = (
    "El disco de este equipo está lleno: la sincronización se detuvo sin perder nada (los cambios "
    "pendientes siguen guardados). Libere espacio y vuelva a sincronizar."
)
NOT_SAVED = (
    "El disco de este equipo está lleno: el cambio no se guardó. Libere espacio e intente de nuevo; "
    "los cambios guardados antes siguen pendientes de enviar."
)


class DiskFull(Exception):
    """The disk this desktop writes to is full; `str()` says it in Spanish, and what was kept."""

    def __init__(self, message: str = SYNC_STOPPED) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CacheDamaged(Exception):
    """The cache file is damaged: it is made anew and filled from the server."""


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """Whether an error means the disk (or the user's quota) is full. With `folder` (where the files
    that failed live), an SQLite I/O error there counts too when almost no room is left."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the error, and what caused it
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            if _primary_code(current) == SQLITE_FULL or "database or disk is full" in str(current):
                return True
            io_error = _primary_code(current) == SQLITE_IOERR or "disk I/O error" in str(current)
            if io_error and folder is not None and free_bytes(folder) < LOW_SPACE_BYTES:
                return True
        elif isinstance(current, OSError) and current.errno in _NO_SPACE:
            return True
        current = current.__cause__ or current.__context__
    return False


def free_bytes(folder: Path) -> int:
    """Room left on the disk of `folder` (a very large number when it can't be told)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 2**62


def is_damaged(exc: BaseException) -> bool:
    """Whether an SQLite error means the file is damaged (not a database, or a malformed page)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    if _primary_code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    text = str(exc)
    return "malformed" in text or "file is not a database" in text


def quick_check(conn: sqlite3.Connection, schema: str = "main") -> bool:
    """SQLite's `quick_check` of one attached file (every page and index entry read, in O(N)):
    True when it is sound. An error reading it counts as damage."""
    try:
        rows = conn.execute(f"PRAGMA {schema}.quick_check(1)").fetchall()
    except sqlite3.DatabaseError:
        return False
    return rows == [("ok",)]


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it ends some by itself on a full
    disk or an I/O error; a second ROLLBACK would raise and hide the first error)."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
