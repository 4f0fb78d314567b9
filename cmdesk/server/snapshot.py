"""`GET /v1/sync/snapshot`: an account's whole synced state at one point of the change feed, streamed.

A first sync (or a rebuilt cache) would otherwise page the whole feed: a change row at a time, each
page loading its entities by id, 250 pages for a portfolio of 100,000 clients. The snapshot reads the
same state in one transaction and streams it as it is read; the desktop then goes on with the feed
from the snapshot's cursor. What it holds is exactly what replaying the feed from the beginning would
leave in a cache: the entities whose last change is not a deletion (`feed.live_entities`), each as its
feed loader shows it. Why its cursor neither skips a change nor repeats one: see `cmdesk.server.feed`.

The body is NDJSON (one JSON value a line), compressed with zstd when the request accepts it (else
gzip, else not at all; `Content-Encoding` says which):

    {"format": "cmdesk-snapshot/1", "resume_cursor": "...", "total": 250042, "counts": {...}}
    ["account", {...}]                          an entity, exactly as the feed's `data` shows it
    ["client", {...}] …                         up to 1,000 clients, then the CTIs of those clients
    ["stamping_account", {...}] …
    {"at": "client:<id>"}                       everything before this line was sent: a resume point
    …
    {"change": {"entity", "id", "version", "deleted", "data"}}    the tail (PostgreSQL, see feed.py)
    {"end": true, "cursor": "...", "count": 250042}

Entities come in a fixed order (account, settings, profiles, sub-distributors, then clients each
followed by its CTIs, then the other entities by name, then any CTI whose client is not in the
snapshot), ids ascending, so `after=<entity>:<id>` (an `at` of a cut stream) asks a new snapshot for
the rest only. A stream without its `end` line is incomplete.

Why this format (measured on the benchmark's 100,000 clients + 150,000 CTIs, 171 MB of JSON; see
docs/api.md): one line per entity is the entity's own JSON, which the desktop stores as it comes,
without encoding it again. Column blocks were smaller before compression, but the desktop would have
to build each entity's JSON back (~1 s more). zstd level 1 makes 20 MB of it in 0.16 s and reads back
in 0.10 s; gzip level 1 makes 26 MB in 0.66 s and reads back in 0.62 s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import sys
import time
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import Boolean, Engine
from sqlalchemy.orm import Session

from cmdesk.domain.errors import validation_error
from cmdesk.models import Client, StampingAccount
from cmdesk.models.base import UTCDateTime
from cmdesk.server import db, feed
from cmdesk.server.operations import clients as client_ops

if sys.version_info >= (3, 14):
    from compression import zstd
else:  # the same module, backported (what urllib3 decodes `Content-Encoding: zstd` with)
    from backports import zstd

log = logging.getLogger(__name__)

FORMAT = "cmdesk-snapshot/1"
MEDIA_TYPE = "application/x-ndjson"
# Entities loaded (and sent) together; each chunk ends with a resume point.
CHUNK = 1000
# How long the tail waits for the transactions that were running when the snapshot was taken (well
# below a client's read timeout: nothing is sent meanwhile).
TAIL_WAIT_SECONDS = 10.0
ZSTD_LEVEL = 1
GZIP_LEVEL = 1

# The order of the sections (see the module docstring); CTIs travel with their client.
_FIRST = ("account", "settings", "profile", "distributor", "client")
_PARENT, _CHILD = "client", "stamping_account"
_AFTER = re.compile(r"^([a-z_]{1,30}):([A-Za-z0-9._-]{1,64})$")


def _section_key(entity: str) -> tuple[int, str]:
    if entity in _FIRST:
        return (_FIRST.index(entity), "")
    if entity == _CHILD:  # the CTIs not sent with their client: last
        return (len(_FIRST) + 1, "")
    return (len(_FIRST), entity)


def parse_after(value: str | None) -> tuple[str, str] | None:
    """`<entity>:<id>` (an `at` line of an earlier stream) → (entity, id); a 422 when malformed."""
    if not value:
        return None
    match = _AFTER.match(value)
    if match is None:
        raise validation_error({"after": "El punto de reanudación no es válido."})
    return match[1], match[2]


def choose_encoding(accept_encoding: str | None) -> str:
    """zstd when the client accepts it, else gzip, else none (`identity`)."""
    accepted = {part.split(";")[0].strip().lower() for part in (accept_encoding or "").split(",")}
    for encoding in ("zstd", "gzip"):
        if encoding in accepted:
            return encoding
    return "identity"


class _Encoder:
    """Compresses the stream piece by piece; each piece is flushed, so the client can use it at once."""

    def __init__(self, encoding: str) -> None:
        self._zstd: Any = None
        self._gzip: Any = None
        if encoding == "zstd":
            self._zstd = zstd.ZstdCompressor(level=ZSTD_LEVEL)
        elif encoding == "gzip":
            self._gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

    def piece(self, data: bytes) -> bytes:
        if self._zstd is not None:
            return bytes(self._zstd.compress(data, zstd.ZstdCompressor.FLUSH_BLOCK))
        if self._gzip is not None:
            return bytes(self._gzip.compress(data) + self._gzip.flush(zlib.Z_SYNC_FLUSH))
        return data

    def end(self) -> bytes:
        if self._zstd is not None:
            return bytes(self._zstd.flush(zstd.ZstdCompressor.FLUSH_FRAME))
        if self._gzip is not None:
            return bytes(self._gzip.flush(zlib.Z_FINISH))
        return b""


@contextlib.contextmanager
def read_session(engine: Engine, *, repeatable: bool = True) -> Iterator[Session]:
    """A session that only reads, in one transaction: REPEATABLE READ (or READ COMMITTED) and read
    only on PostgreSQL, a read transaction that takes no write lock on SQLite. Nothing it does is
    recorded in the feed (no session hooks)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            level = "REPEATABLE READ" if repeatable else "READ COMMITTED"
            conn.execution_options(isolation_level=level, postgresql_readonly=True)
        else:
            conn.execution_options(**{db.READ_ONLY: True})
        with Session(bind=conn) as session:
            yield session


def stream(
    engine: Engine,
    account_id: str,
    loaders: Mapping[str, feed.Loader],
    *,
    after: tuple[str, str] | None = None,
    encoding: str = "identity",
    default: Callable[[Any], Any] | None = None,
    tail_wait: float = TAIL_WAIT_SECONDS,
) -> Generator[bytes]:
    """The body of a snapshot, compressed with `encoding`, piece by piece (the whole state is never
    held in memory: one chunk of entities at a time). `default` encodes what orjson does not."""
    encoder = _Encoder(encoding)
    for piece in _content(engine, account_id, loaders, after, default, tail_wait):
        out = encoder.piece(piece)
        if out:
            yield out
    yield encoder.end()


def _line(value: Any, default: Callable[[Any], Any] | None) -> bytes:
    return orjson.dumps(value, default=default, option=orjson.OPT_APPEND_NEWLINE)


def _content(
    engine: Engine,
    account_id: str,
    loaders: Mapping[str, feed.Loader],
    after: tuple[str, str] | None,
    default: Callable[[Any], Any] | None,
    tail_wait: float,
) -> Iterator[bytes]:
    sent = 0
    with read_session(engine) as session:
        point = feed.snapshot_point(session)  # first: it fixes what the transaction sees
        # Entities without a loader are left out, as the feed leaves them out (and warns).
        live = {e: ids for e, ids in feed.live_entities(session, account_id).items() if e in loaders}
        counts = {e: len(ids) for e, ids in sorted(live.items(), key=lambda item: _section_key(item[0]))}
        header = {
            "format": FORMAT,
            "resume_cursor": point.resume_cursor,
            "total": sum(counts.values()),
            "counts": counts,
        }
        yield _line(header, default)
        for piece, count in _sections(session, live, loaders, after, default):
            sent += count
            yield piece
    cursor = point.cursor
    if point.pending:
        tail: list[bytes] = []
        with read_session(engine, repeatable=False) as session:
            deadline = time.monotonic() + tail_wait
            running = feed.transactions_running(session, point.pending)
            while running and time.monotonic() < deadline:
                time.sleep(0.02)
                running = feed.transactions_running(session, running)
            if running:
                log.info("snapshot: %d transactions still running; ending at the resume cursor", len(running))
                cursor = point.resume_cursor
            else:
                refs = feed.pending_changes(session, account_id, point.pending)
                tail = [_line({"change": c}, default) for c in feed.load_changes(session, refs, loaders)]
        if tail:
            yield b"".join(tail)
    yield _line({"end": True, "cursor": cursor, "count": sent}, default)


def _sections(
    session: Session,
    live: dict[str, list[str]],
    loaders: Mapping[str, feed.Loader],
    after: tuple[str, str] | None,
    default: Callable[[Any], Any] | None,
) -> Iterator[tuple[bytes, int]]:
    """(piece of the body, entities in it), section after section."""
    start = (_section_key(after[0]), after[1]) if after else None
    # CTIs go with their client; those whose client is not in the snapshot go last.
    orphans = set(live.get(_CHILD, ())) if _CHILD in live else set()
    for entity in sorted(live, key=_section_key):
        key = _section_key(entity)
        ids = sorted(orphans) if entity == _CHILD else live[entity]
        skip_to = None
        if start is not None:
            if key < start[0]:
                skip_to = "\uffff"  # the whole section was sent
            elif key == start[0]:
                skip_to = start[1]
        for begin in range(0, len(ids), CHUNK):
            chunk = ids[begin : begin + CHUNK]
            sent_before = [i for i in chunk if i <= skip_to] if skip_to is not None else []
            chunk = chunk[len(sent_before) :]
            if entity == _PARENT and _CHILD in live:
                if sent_before:
                    # Sent before the cut with their CTIs: those are not orphans either.
                    orphans.difference_update(c.id for c in _ctis_of(session, sent_before, orphans))
                if chunk:
                    piece, count = _clients_with_ctis(session, chunk, orphans, default)
                    yield piece + _line({"at": f"{entity}:{chunk[-1]}"}, default), count
                continue
            if chunk:
                lines = _entity_lines(session, entity, chunk, loaders, default)
                lines.append(_line({"at": f"{entity}:{chunk[-1]}"}, default))
                yield b"".join(lines), len(lines) - 1


def _clients_with_ctis(
    session: Session, client_ids: list[str], orphans: set[str], default: Callable[[Any], Any] | None
) -> tuple[bytes, int]:
    """A chunk of clients, then their CTIs that are in the snapshot (taken out of `orphans`), as the
    feed's loaders show them: the same views (`views_for`, `cti_views_for`), from the rows of one
    query per table (a CTI is read with its client, not once more by its id)."""
    rows = _Rows.of(session, Client.__table__).where_in(session, "id", client_ids)
    clients = client_ops.views_for(session, rows)
    ctis = _ctis_of(session, client_ids, orphans)
    orphans.difference_update(row.id for row in ctis)
    views = client_ops.cti_views_for(session, ctis)
    lines = [_entity_line(b'"client"', clients[i], default) for i in client_ids if i in clients]
    lines += [_entity_line(b'"stamping_account"', views[row.id], default) for row in ctis]
    return b"".join(lines), len(lines)


def _ctis_of(session: Session, client_ids: list[str], candidates: set[str]) -> list[_Row]:
    """The rows of the CTIs of `client_ids` that are in the snapshot (`candidates`), by client then id."""
    table = _Rows.of(session, StampingAccount.__table__)
    rows = table.where_in(session, "client_id", client_ids, order=("client_id", "id"))
    return [row for row in rows if row.id in candidates]


class _Row(dict[str, Any]):
    """A table row as the views read a Core row: by attribute (`row.id`) and through `_mapping`."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return self


class _Rows:
    """Reads whole rows of a table by a column's values straight from the driver: SQLAlchemy's
    result processing cost more than the query for the 250,000 rows of a large snapshot. Values come
    out as SQLAlchemy gives them (aware UTC datetimes, booleans): the common column types are
    converted here, any other through the type's own result processor."""

    _cache: dict[tuple[str, str], _Rows] = {}

    def __init__(self, session: Session, table: Any) -> None:
        dialect = session.get_bind().dialect
        self.table = table
        self.names = [c.name for c in table.columns]
        self.marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self.convert: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(table.columns):
            kind = column.type
            if isinstance(kind, UTCDateTime):
                self.convert.append((index, _utc_from_text if dialect.name == "sqlite" else _utc))
            elif isinstance(kind, Boolean) and dialect.name == "sqlite":
                self.convert.append((index, bool))
            else:
                processor = kind._cached_result_processor(dialect, None)
                if processor is not None:
                    self.convert.append((index, processor))

    @classmethod
    def of(cls, session: Session, table: Any) -> _Rows:
        key = (session.get_bind().dialect.name, table.name)
        found = cls._cache.get(key)
        if found is None:
            found = cls._cache[key] = cls(session, table)
        return found

    def where_in(
        self, session: Session, column: str, values: list[str], order: tuple[str, ...] = ()
    ) -> list[_Row]:
        if not values:
            return []
        columns = ", ".join(f'"{name}"' for name in self.names)
        marks = ", ".join(self.marker for _ in values)
        order_by = f" ORDER BY {', '.join(order)}" if order else ""
        sql = f'SELECT {columns} FROM "{self.table.name}" WHERE "{column}" IN ({marks}){order_by}'
        raw = session.connection().exec_driver_sql(sql, tuple(values)).cursor
        assert raw is not None
        names, convert = self.names, self.convert
        out = []
        for values_row in raw.fetchall():
            row = list(values_row)
            for index, fn in convert:
                if row[index] is not None:
                    row[index] = fn(row[index])
            out.append(_Row(zip(names, row, strict=True)))
        return out


def _utc_from_text(value: Any) -> dt.datetime:
    """A datetime as SQLAlchemy stores it in SQLite (naive UTC text), aware."""
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _entity_line(prefix: bytes, data: Mapping[str, Any], default: Callable[[Any], Any] | None) -> bytes:
    return b"[" + prefix + b"," + orjson.dumps(data, default=default) + b"]\n"


def _entity_lines(
    session: Session,
    entity: str,
    ids: list[str],
    loaders: Mapping[str, feed.Loader],
    default: Callable[[Any], Any] | None,
) -> list[bytes]:
    loader = loaders[entity]
    prefix = orjson.dumps(entity)
    out: list[bytes] = []
    for begin in range(0, len(ids), CHUNK):
        part = ids[begin : begin + CHUNK]
        loaded = loader(session, part)
        # An entity gone is left out (the feed would send a tombstone for it).
        out += [_entity_line(prefix, loaded[i], default) for i in part if i in loaded]
    return out
