"""The imports' journal: which files were imported, and each row's transfer and outcome.

Its own SQLite file beside the outbox (`imports.sqlite3`), `synchronous=FULL` like the outbox. A row is
planned (with the idempotency key its attempt uses) before its command is queued; the outcome the
server gave (applied, with the movement, or refused, with the reason) is copied here when it is
known, so the results outlive the outbox's history (which keeps applied commands 30 days) and a file
imported again is recognised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cmdesk.services.server_info import server_now


class RowState(StrEnum):
    PLANNED = "planned"  # not queued (never, or taken back by a cancellation)
    QUEUED = "queued"  # a command is in the outbox
    APPLIED = "applied"
    REFUSED = "refused"


STATE_LABELS: dict[RowState, str] = {
    RowState.PLANNED: "Sin enviar",
    RowState.QUEUED: "Enviando",
    RowState.APPLIED: "Aplicada",
    RowState.REFUSED: "Rechazada",
}


@dataclass(frozen=True)
class JournalRow:
    import_id: str
    row: int
    attempt: int
    key: str
    cti_id: str
    label: str
    quantity: int
    amount_cents: int
    comment: str
    state: RowState
    reason: str
    movement_id: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class ImportRecord:
    id: str
    file_name: str
    created_at: dt.datetime
    rows: int
    applied: int
    refused: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS imports (
    id TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    import_id TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row INTEGER NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    key TEXT NOT NULL,
    cti_id TEXT NOT NULL,
    label TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    comment TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    movement_id TEXT NOT NULL DEFAULT '',
    applied_at TEXT,
    PRIMARY KEY (import_id, row)
);
CREATE INDEX IF NOT EXISTS ix_rows_applied ON rows (cti_id, quantity, amount_cents) WHERE state = 'applied';
"""

_COLUMNS = (
    "import_id, row, attempt, key, cti_id, label, quantity, amount_cents, comment, state, reason, movement_id"
)


def row_key(import_id: str, row: int, attempt: int = 1) -> str:
    """The idempotency key of a row's attempt: the same file and row always send the same key, so the
    server applies a row once however many times it is sent or imported (a retry after a refusal is a
    new attempt, with its own key)."""
    base = f"imp-{import_id[:40]}-{row}"
    return base if attempt == 1 else f"{base}-{attempt}"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def plan(self, import_id: str, file_name: str, rows: Iterable[JournalRow]) -> None:
        """Record an import and the rows to send now; rows it already has keep their attempt and
        outcome, and rows planned before but left out now (excluded this time) are forgotten."""
        now = server_now().isoformat()
        rows = list(rows)
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO imports (id, file_name, created_at) VALUES (?, ?, ?)",
                (import_id, file_name, now),
            )
            wanted = {r.row for r in rows}
            left_out = [
                (import_id, number)
                for (number,) in conn.execute(
                    "SELECT row FROM rows WHERE import_id = ? AND state = ?",
                    (import_id, RowState.PLANNED.value),
                )
                if number not in wanted
            ]
            conn.executemany("DELETE FROM rows WHERE import_id = ? AND row = ?", left_out)
            conn.executemany(
                f"INSERT OR IGNORE INTO rows ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        import_id,
                        r.row,
                        r.attempt,
                        r.key,
                        r.cti_id,
                        r.label,
                        r.quantity,
                        r.amount_cents,
                        r.comment,
                        r.state.value,
                        r.reason,
                        r.movement_id,
                    )
                    for r in rows
                ],
            )

    def set_states(self, import_id: str, changes: Iterable[tuple[int, RowState, str, str]]) -> None:
        """(row, state, reason, movement id) of rows whose outcome changed."""
        now = server_now().isoformat()
        with self._tx() as conn:
            conn.executemany(
                "UPDATE rows SET state = ?, reason = ?, movement_id = ?,"
                " applied_at = CASE WHEN ? = 'applied' THEN coalesce(applied_at, ?) ELSE applied_at END"
                " WHERE import_id = ? AND row = ?",
                [
                    (s.value, reason, movement, s.value, now, import_id, row)
                    for row, s, reason, movement in changes
                ],
            )

    def next_attempt(self, import_id: str, row: int) -> JournalRow:
        """Give a refused row a new attempt (with its own key), planned again."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE rows SET attempt = attempt + 1, state = ?, reason = '', movement_id = ''"
                " WHERE import_id = ? AND row = ?",
                (RowState.PLANNED.value, import_id, row),
            )
            attempt = int(
                conn.execute(
                    "SELECT attempt FROM rows WHERE import_id = ? AND row = ?", (import_id, row)
                ).fetchone()[0]
            )
            conn.execute(
                "UPDATE rows SET key = ? WHERE import_id = ? AND row = ?",
                (row_key(import_id, row, attempt), import_id, row),
            )
        found = self.rows(import_id, [row])
        return found[0]

    def rows(self, import_id: str, numbers: Iterable[int] | None = None) -> list[JournalRow]:
        with self._lock:
            result = self._conn.execute(
                f"SELECT {_COLUMNS} FROM rows WHERE import_id = ? ORDER BY row", (import_id,)
            ).fetchall()
        wanted = set(numbers) if numbers is not None else None
        return [_row(r) for r in result if wanted is None or r[1] in wanted]

    def record(self, import_id: str) -> ImportRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT i.id, i.file_name, i.created_at, count(r.row),"
                " count(r.row) FILTER (WHERE r.state = 'applied'),"
                " count(r.row) FILTER (WHERE r.state = 'refused')"
                " FROM imports i LEFT JOIN rows r ON r.import_id = i.id WHERE i.id = ? GROUP BY i.id",
                (import_id,),
            ).fetchone()
        if row is None:
            return None
        return ImportRecord(
            row[0], row[1], dt.datetime.fromisoformat(row[2]), int(row[3]), int(row[4]), int(row[5])
        )

    def unfinished(self) -> list[ImportRecord]:
        """Imports with rows not settled yet (never sent, or sent with no answer): an import the app
        was closed in the middle of, the newest first; `sending.Importer.resume` goes on with one."""
        with self._lock:
            ids = [
                r[0]
                for r in self._conn.execute(
                    "SELECT i.id FROM imports i WHERE EXISTS (SELECT 1 FROM rows r WHERE r.import_id = i.id"
                    " AND r.state IN ('planned', 'queued')) ORDER BY i.created_at DESC"
                ).fetchall()
            ]
        return [record for record in (self.record(i) for i in ids) if record is not None]

    def applied_like(
        self, cti_id: str, quantity: int, amount_cents: int, since: dt.datetime
    ) -> tuple[str, dt.datetime] | None:
        """(file name, when) of a row applied since `since` with the same CTI, quantity and amount."""
        with self._lock:
            row = self._conn.execute(
                "SELECT i.file_name, r.applied_at FROM rows r JOIN imports i ON i.id = r.import_id"
                " WHERE r.state = 'applied' AND r.cti_id = ? AND r.quantity = ? AND r.amount_cents = ?"
                " AND r.applied_at >= ? ORDER BY r.applied_at DESC LIMIT 1",
                (cti_id, quantity, amount_cents, since.isoformat()),
            ).fetchone()
        return None if row is None else (row[0], dt.datetime.fromisoformat(row[1]))


def _row(r: tuple[Any, ...]) -> JournalRow:
    return JournalRow(
        import_id=r[0],
        row=int(r[1]),
        attempt=int(r[2]),
        key=r[3],
        cti_id=r[4],
        label=r[5],
        quantity=int(r[6]),
        amount_cents=int(r[7]),
        comment=r[8],
        state=RowState(r[9]),
        reason=r[10],
        movement_id=r[11],
    )
