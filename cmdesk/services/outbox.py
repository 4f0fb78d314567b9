"""The durable outbox: every change a user makes, as a command waiting to be pushed to the server.

A command is written, with its client-generated idempotency key, *before* it is first sent; its state
then moves `pending` → `sent` (written before each request) → `done`, or to `rejected` (the server's
Spanish reason kept) or `conflict` (an edit whose fields the server changed too, with both values).
A crash between sending and recording the answer leaves `sent`: the next push sends it again with the
same key, and the server applies it once.

Unlike the cache, this file is never dropped: it is its own SQLite file, `synchronous=FULL` (a
committed change survives a power loss), one transaction per change, and its schema is upgraded in
place by `MIGRATIONS` (a newer file than this program knows is left untouched and refused).

A full disk fails the change being written, whole (its transaction rolled back), with a Spanish
`DiskFull`: a command that could not be queued was never queued (the user is told), and one whose
`sent`/`done` could not be recorded keeps its previous state and is sent again, with the same key,
by a later push (the server applies a key once). Nothing written before is touched.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cmdesk.services import storage
from cmdesk.services.server_info import server_now


class CommandState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DONE = "done"
    REJECTED = "rejected"
    CONFLICT = "conflict"


# What the pending-commands panel says of each state.
STATE_LABELS: dict[CommandState, str] = {
    CommandState.PENDING: "Pendiente",
    CommandState.SENT: "Enviando",
    CommandState.DONE: "Aplicado",
    CommandState.REJECTED: "Rechazado",
    CommandState.CONFLICT: "En conflicto",
}

# States whose command still has to reach the server.
TO_PUSH = (CommandState.PENDING, CommandState.SENT)
# States the user has to look at (retry, resolve or discard).
NEEDS_ATTENTION = (CommandState.REJECTED, CommandState.CONFLICT)


class OutboxError(Exception):
    """The outbox file can't be used (made by a newer version of cmdesk)."""


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def _now() -> dt.datetime:
    """The server's time (shown in the pending-commands panel; the queue's order is `seq`, never a
    time)."""
    return server_now()


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


@dataclass(frozen=True)
class Command:
    seq: int
    id: str
    kind: str
    method: str
    path: str
    body: Any
    idempotency_key: str
    if_match: int | None
    entity: str | None
    entity_id: str | None
    # For edits: the original value of every field the user changed (flat `a.b` paths).
    base: dict[str, Any] | None
    state: CommandState
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    done_at: dt.datetime | None
    error_code: str | None
    error_detail: str | None
    result: Any
    # A label for the pending-commands panel ("Transferir 100 timbres a …").
    description: str = ""
    # The server's whole problem answer of a rejection, or the fields of a conflict:
    # {field: {"mine", "server", "base"}}.
    error_body: dict[str, Any] | None = None
    conflict: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


Listener = Callable[[], None]


# Each migration brings the file from version i to i + 1; they run in one transaction each. Never
# change one that shipped: add another.
MIGRATIONS: list[str] = [
    # 1: the commands table.
    """
    CREATE TABLE commands (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        body TEXT,
        idempotency_key TEXT NOT NULL,
        if_match INTEGER,
        entity TEXT,
        entity_id TEXT,
        base TEXT,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        done_at TEXT,
        error_code TEXT,
        error_detail TEXT,
        result TEXT
    );
    CREATE INDEX ix_commands_state ON commands (state, seq);
    """,
    # 2: a label for the panel, the server's whole rejection, the fields of a conflict, and room
    # for what later versions add.
    """
    ALTER TABLE commands ADD COLUMN description TEXT NOT NULL DEFAULT '';
    ALTER TABLE commands ADD COLUMN error_body TEXT;
    ALTER TABLE commands ADD COLUMN conflict TEXT;
    ALTER TABLE commands ADD COLUMN extra TEXT;
    CREATE INDEX ix_commands_entity ON commands (entity, entity_id, seq);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer
            buffer = ""


def migrate(conn: sqlite3.Connection, migrations: list[str] | None = None) -> int:
    """Bring the file to the latest schema in place; returns the version it had."""
    steps = MIGRATIONS if migrations is None else migrations
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(steps):
        raise OutboxError(
            "La bandeja de salida fue creada por una versión más nueva de cmdesk; actualice el programa."
        )
    for number in range(version, len(steps)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(steps[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return version


class Outbox:
    """The commands of one account on one server (see the module docstring). Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # Every commit reaches the disk before it returns: a queued command survives a power loss.
        self._conn.execute("PRAGMA synchronous=FULL")
        migrate(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener()` after every change of a command; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):
                listener()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    storage.rollback(self._conn)
                    raise
            except sqlite3.Error as exc:
                if storage.is_disk_full(exc):
                    raise storage.DiskFull(storage.NOT_SAVED) from exc
                raise
        self._notify()

    # ---- writing ------------------------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        method: str,
        path: str,
        body: Any,
        *,
        entity: str | None = None,
        entity_id: str | None = None,
        if_match: int | None = None,
        base: Mapping[str, Any] | None = None,
        description: str = "",
        extra: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Command:
        """Queue a command; its idempotency key (`idempotency_key`, or a new random one) is on disk
        before anything is sent."""
        spec = {
            "kind": kind,
            "method": method,
            "path": path,
            "body": body,
            "entity": entity,
            "entity_id": entity_id,
            "if_match": if_match,
            "base": base,
            "description": description,
            "extra": extra,
            "idempotency_key": idempotency_key,
        }
        return self.enqueue_many([spec])[0]

    def enqueue_many(self, specs: Iterable[Mapping[str, Any]]) -> builtins.list[Command]:
        """Queue several commands in one transaction (one disk sync for all): each spec holds
        `enqueue`'s arguments by name."""
        ids: builtins.list[str] = []
        with self._tx() as conn:
            for spec in specs:
                command_id = uuid.uuid4().hex
                base, extra = spec.get("base"), spec.get("extra")
                conn.execute(
                    "INSERT INTO commands (id, kind, method, path, body, idempotency_key, if_match, entity,"
                    " entity_id, base, state, attempts, created_at, description, extra)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                    (
                        command_id,
                        spec["kind"],
                        str(spec["method"]).upper(),
                        spec["path"],
                        _dumps(spec.get("body")),
                        spec.get("idempotency_key") or new_idempotency_key(),
                        spec.get("if_match"),
                        spec.get("entity"),
                        spec.get("entity_id"),
                        _dumps(dict(base)) if base is not None else None,
                        CommandState.PENDING.value,
                        _now().isoformat(),
                        spec.get("description") or "",
                        _dumps(dict(extra)) if extra else None,
                    ),
                )
                ids.append(command_id)
        commands = [self.get(i) for i in ids]
        return [c for c in commands if c is not None]

    def _update(self, command_id: str, sql: str, params: Iterable[Any]) -> Command:
        with self._tx() as conn:
            cursor = conn.execute(f"UPDATE commands SET {sql} WHERE id = ?", (*params, command_id))
            if cursor.rowcount != 1:
                raise KeyError(command_id)
        command = self.get(command_id)
        assert command is not None
        return command

    def mark_sent(self, command_id: str) -> Command:
        """About to send (again): recorded before the request leaves."""
        return self._update(
            command_id,
            "state = ?, attempts = attempts + 1, sent_at = ?",
            (CommandState.SENT.value, _now().isoformat()),
        )

    def mark_done(self, command_id: str, result: Any = None) -> Command:
        return self._update(
            command_id,
            "state = ?, done_at = ?, result = ?, error_code = NULL, error_detail = NULL, error_body = NULL,"
            " conflict = NULL",
            (CommandState.DONE.value, _now().isoformat(), _dumps(result)),
        )

    def mark_rejected(
        self, command_id: str, code: str, detail: str, body: Mapping[str, Any] | None = None
    ) -> Command:
        """The server refused it (its code and Spanish reason are kept for the user)."""
        return self._update(
            command_id,
            "state = ?, done_at = ?, error_code = ?, error_detail = ?, error_body = ?",
            (CommandState.REJECTED.value, _now().isoformat(), code, detail, _dumps(dict(body or {}))),
        )

    def mark_conflict(
        self,
        command_id: str,
        detail: str,
        fields: Mapping[str, Any],
        current: Mapping[str, Any] | None = None,
    ) -> Command:
        """An edit that collides with someone else's: `fields` = {field: {"mine", "server", "base"}};
        `current` is the server's record at that moment."""
        return self._update(
            command_id,
            "state = ?, done_at = ?, error_code = 'version_conflict', error_detail = ?, conflict = ?,"
            " error_body = ?",
            (
                CommandState.CONFLICT.value,
                _now().isoformat(),
                detail,
                _dumps(dict(fields)),
                _dumps({"current": dict(current)} if current is not None else None),
            ),
        )

    def rebase(
        self, command_id: str, body: Any, *, if_match: int | None, base: Mapping[str, Any] | None
    ) -> Command:
        """An edit re-based on the server's newer version (the fields still to send, the new
        `If-Match`); it stays where it is in the queue."""
        return self._update(
            command_id,
            "body = ?, if_match = ?, base = ?, state = ?",
            (
                _dumps(body),
                if_match,
                _dumps(dict(base)) if base is not None else None,
                CommandState.PENDING.value,
            ),
        )

    def amend(
        self,
        command_id: str,
        body: Any,
        base: Mapping[str, Any] | None,
        description: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> Command:
        """Fold a later edit into a command that was never sent (one request instead of two)."""
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE commands SET body = ?, base = ?, description = coalesce(nullif(?, ''), description),"
                " extra = coalesce(?, extra) WHERE id = ? AND state = ? AND attempts = 0",
                (
                    _dumps(body),
                    _dumps(dict(base)) if base is not None else None,
                    description,
                    _dumps(dict(extra)) if extra is not None else None,
                    command_id,
                    CommandState.PENDING.value,
                ),
            )
            if cursor.rowcount != 1:
                raise KeyError(command_id)
        command = self.get(command_id)
        assert command is not None
        return command

    def retry(self, command_id: str) -> Command:
        """Send a rejected (or conflicting) command again, with a NEW idempotency key (the server keeps
        answering the old key with its first answer). It goes to the end of the queue: after whatever
        the user queued meanwhile, such as the purchase that makes it possible."""
        with self._tx() as conn:
            last = int(conn.execute("SELECT coalesce(max(seq), 0) FROM commands").fetchone()[0])
            cursor = conn.execute(
                "UPDATE commands SET seq = ?, state = ?, idempotency_key = ?, attempts = 0, sent_at = NULL,"
                " done_at = NULL, error_code = NULL, error_detail = NULL, error_body = NULL, conflict = NULL"
                " WHERE id = ?",
                (last + 1, CommandState.PENDING.value, new_idempotency_key(), command_id),
            )
            if cursor.rowcount != 1:
                raise KeyError(command_id)
            # AUTOINCREMENT never reuses a number: keep its counter past the moved row.
            conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'commands'", (last + 1,))
        command = self.get(command_id)
        assert command is not None
        return command

    def discard(self, command_id: str) -> None:
        """Forget a command the user gave up on (never one that may be on its way to the server)."""
        with self._tx() as conn:
            row = conn.execute("SELECT state, attempts FROM commands WHERE id = ?", (command_id,)).fetchone()
            if row is None:
                raise KeyError(command_id)
            if row[0] == CommandState.SENT.value:
                raise OutboxError("La operación ya se envió al servidor; espere su respuesta.")
            conn.execute("DELETE FROM commands WHERE id = ?", (command_id,))

    def purge_done(self, older_than: dt.timedelta = dt.timedelta(days=30)) -> int:
        """Drop the applied commands older than `older_than` (the panel's history stays short)."""
        limit = (_now() - older_than).isoformat()
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM commands WHERE state = ? AND done_at < ?", (CommandState.DONE.value, limit)
            ).rowcount

    # ---- reading ------------------------------------------------------------------------------------

    def get(self, command_id: str) -> Command | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM commands WHERE id = ?", (command_id,)
            ).fetchone()
        return None if row is None else _command(row)

    def next_to_push(self) -> Command | None:
        """The oldest command still to send (pending, or sent without an answer): strict order."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM commands WHERE state IN (?, ?) ORDER BY seq LIMIT 1",
                tuple(s.value for s in TO_PUSH),
            ).fetchone()
        return None if row is None else _command(row)

    def pending_count(self) -> int:
        """Commands not yet applied by the server (pending or sent)."""
        with self._lock:
            return int(
                self._conn.execute(
                    "SELECT count(*) FROM commands WHERE state IN (?, ?)", tuple(s.value for s in TO_PUSH)
                ).fetchone()[0]
            )

    def attention_count(self) -> int:
        """Commands the user has to look at (rejected or in conflict)."""
        with self._lock:
            return int(
                self._conn.execute(
                    "SELECT count(*) FROM commands WHERE state IN (?, ?)",
                    tuple(s.value for s in NEEDS_ATTENTION),
                ).fetchone()[0]
            )

    def list(self, states: Iterable[CommandState | str] | None = None) -> list[Command]:
        """Commands in queue order, all or those in `states`."""
        with self._lock:
            if states is None:
                rows = self._conn.execute(f"SELECT {_COLUMNS} FROM commands ORDER BY seq").fetchall()
            else:
                wanted = [CommandState(s).value for s in states]
                marks = ",".join("?" for _ in wanted)
                rows = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM commands WHERE state IN ({marks}) ORDER BY seq", wanted
                ).fetchall()
        return [_command(r) for r in rows]

    def for_entity(
        self, entity: str, entity_id: str, states: Iterable[CommandState | str] | None = None
    ) -> builtins.list[Command]:
        """The commands about one record, in queue order."""
        wanted = [CommandState(s).value for s in (states or tuple(CommandState))]
        marks = ",".join("?" for _ in wanted)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM commands WHERE entity = ? AND entity_id = ? AND state IN ({marks})"
                " ORDER BY seq",
                (entity, entity_id, *wanted),
            ).fetchall()
        return [_command(r) for r in rows]


_COLUMN_NAMES = (
    "seq",
    "id",
    "kind",
    "method",
    "path",
    "body",
    "idempotency_key",
    "if_match",
    "entity",
    "entity_id",
    "base",
    "state",
    "attempts",
    "created_at",
    "sent_at",
    "done_at",
    "error_code",
    "error_detail",
    "result",
    "description",
    "error_body",
    "conflict",
    "extra",
)
_COLUMNS = ", ".join(_COLUMN_NAMES)


def _command(row: tuple[Any, ...]) -> Command:
    r = dict(zip(_COLUMN_NAMES, row, strict=True))
    created = _time(r["created_at"])
    assert created is not None
    return Command(
        seq=int(r["seq"]),
        id=r["id"],
        kind=r["kind"],
        method=r["method"],
        path=r["path"],
        body=_loads(r["body"]),
        idempotency_key=r["idempotency_key"],
        if_match=r["if_match"],
        entity=r["entity"],
        entity_id=r["entity_id"],
        base=_loads(r["base"]),
        state=CommandState(r["state"]),
        attempts=int(r["attempts"]),
        created_at=created,
        sent_at=_time(r["sent_at"]),
        done_at=_time(r["done_at"]),
        error_code=r["error_code"],
        error_detail=r["error_detail"],
        result=_loads(r["result"]),
        description=r["description"] or "",
        error_body=_loads(r["error_body"]),
        conflict=_loads(r["conflict"]),
        extra=_loads(r["extra"]) or {},
    )
