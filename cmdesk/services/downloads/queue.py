"""This desk's list of downloads, kept in SQLite in its data folder (never on the shared folder: SQLite
over SMB is not safe), so the queue survives cmdesk closing or crashing.

A row is a download the user asked for and that is not finished: `queued` (waiting or running),
`paused` or `failed` (with its Spanish reason). A finished download leaves the queue: the file is in
the store, which is what says it is available. The bytes received are the partial file's; the row
only remembers the count for showing it before the download starts again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from cmdesk.services.downloads.models import FileInfo

SCHEMA_VERSION = 1
QUEUED = "queued"
PAUSED = "paused"
FAILED = "failed"
ROW_STATES = (QUEUED, PAUSED, FAILED)


@dataclass(frozen=True)
class QueueRow:
    info: FileInfo
    seq: int
    state: str
    received: int
    error: str | None
    added_at: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class DownloadQueue:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            # A newer cmdesk's queue: start an empty one beside it rather than misread it.
            self._conn.close()
            self.path = self.path.with_name(self.path.stem + f"-v{SCHEMA_VERSION}" + self.path.suffix)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            """CREATE TABLE IF NOT EXISTS downloads (
                file_id TEXT PRIMARY KEY,
                seq INTEGER NOT NULL,
                info TEXT NOT NULL,
                state TEXT NOT NULL,
                received INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                added_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )"""
        )
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def add(self, info: FileInfo) -> QueueRow:
        """Queue `info` (again): a paused or failed row goes back to `queued` keeping its place."""
        now = _now()
        with self._lock:
            self._conn.execute(
                """INSERT INTO downloads (file_id, seq, info, state, received, error, added_at, updated_at)
                VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM downloads), ?, ?, 0, NULL, ?, ?)
                ON CONFLICT(file_id) DO UPDATE SET info=excluded.info, state=excluded.state, error=NULL,
                    updated_at=excluded.updated_at""",
                (info.id, json.dumps(info.to_json()), QUEUED, now, now),
            )
        row = self.get(info.id)
        assert row is not None
        return row

    def set_state(
        self, file_id: str, state: str, *, error: str | None = None, received: int | None = None
    ) -> None:
        if state not in ROW_STATES:
            raise ValueError(state)
        with self._lock:
            self._conn.execute(
                "UPDATE downloads SET state=?, error=?, received=COALESCE(?, received), updated_at=? "
                "WHERE file_id=?",
                (state, error, received, _now(), file_id),
            )

    def set_received(self, file_id: str, received: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE downloads SET received=? WHERE file_id=?", (received, file_id))

    def remove(self, file_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM downloads WHERE file_id=?", (file_id,))

    def get(self, file_id: str) -> QueueRow | None:
        rows = self._select("WHERE file_id=?", (file_id,))
        return rows[0] if rows else None

    def rows(self) -> list[QueueRow]:
        return self._select("ORDER BY seq", ())

    def _select(self, tail: str, params: tuple[object, ...]) -> list[QueueRow]:
        with self._lock:
            found = self._conn.execute(
                f"SELECT info, seq, state, received, error, added_at FROM downloads {tail}", params
            ).fetchall()
        out: list[QueueRow] = []
        for info, seq, state, received, error, added_at in found:
            try:
                parsed = FileInfo.from_view(json.loads(info))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged row: skip it rather than stop the queue
            out.append(QueueRow(parsed, seq, state, received, error, added_at))
        return out

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()
