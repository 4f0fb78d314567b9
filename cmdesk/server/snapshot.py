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

What the server spends on it (`python -m bench.snapshot_server`: CPU per 1,000 entities): clients
and CTIs, nearly all of a large snapshot, are read as plain driver tuples, one query per table per
chunk (a CTI's auto-sale rule joined to it, a client's aggregates summed from its CTIs' rows), and
put in shape by views compiled once (`client_views`). What is left is mostly the database reading
the rows (on SQLite, decoding a client's ~50 columns) and `feed.live_entities`.
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
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Boolean, Engine
from sqlalchemy.orm import Session

from cmdesk.domain import usage
from cmdesk.domain.enums import StampingAccountKind
from cmdesk.domain.errors import validation_error
from cmdesk.models import AutoSaleRule, Client, CtiDailyUsage, Profile, StampingAccount
from cmdesk.models.base import UTCDateTime
from cmdesk.server import db, feed
from cmdesk.server.operations import client_views
from cmdesk.server.operations import usage as usage_ops

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
_ENTITY = re.compile(r"^[a-z_]{1,30}$")
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


def parse_only(value: str | None) -> frozenset[str] | None:
    """`only=a,b` → the entities a snapshot is limited to (None: all); a 422 when malformed."""
    if not value:
        return None
    names = frozenset(part.strip() for part in value.split(","))
    if not names or any(_ENTITY.match(name) is None for name in names):
        raise validation_error({"only": "La lista de entidades no es válida."})
    return names


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
    only: frozenset[str] | None = None,
    encoding: str = "identity",
    default: Callable[[Any], Any] | None = None,
    tail_wait: float = TAIL_WAIT_SECONDS,
) -> Generator[bytes]:
    """The body of a snapshot, compressed with `encoding`, piece by piece (the whole state is never
    held in memory: one chunk of entities at a time). `default` encodes what orjson does not. `only`
    limits it to some entities (what a cache image leaves out, `cmdesk.server.cache_images`)."""
    encoder = _Encoder(encoding)
    if only is not None:
        loaders = {entity: loader for entity, loader in loaders.items() if entity in only}
    for piece in _content(engine, account_id, loaders, after, default, tail_wait, only is not None):
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
    limited: bool = False,
) -> Iterator[bytes]:
    sent = 0
    with read_session(engine) as session:
        point = feed.snapshot_point(session)  # first: it fixes what the transaction sees
        # Entities without a loader are left out, as the feed leaves them out (and warns).
        wanted = set(loaders) if limited else None  # a snapshot limited to some entities reads theirs only
        live = {e: ids for e, ids in feed.live_entities(session, account_id, wanted).items() if e in loaders}
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
                    orphans.difference_update(_ctis_of(session, sent_before, orphans))
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
    feed's loaders show them (the same shapes, `client_views`), from one query per table: a client's
    aggregates are summed here from its CTIs' rows (the feed asks the database for them), and a CTI
    is read with its client, not once more by its id. Rows are plain driver tuples."""
    reader = _Reader.of(session)
    clients = reader.clients.where_in(session, "id", client_ids)
    ctis = reader.ctis.where_in(
        session, "client_id", client_ids, order=("stamping_accounts.client_id", "stamping_accounts.id")
    )
    aggregates = reader.aggregates(ctis)
    admins = reader.admins(session, {row[reader.client_admin] for row in clients} - {None})
    sent = [row for row in ctis if row[0] in orphans]
    orphans.difference_update(row[0] for row in sent)
    rules = reader.rules(sent)
    summaries = reader.summaries(session, [row[0] for row in sent])
    client_view, cti_view = reader.client_view, reader.cti_view
    admin_at = reader.client_admin
    by_id = {row[0]: row for row in clients}
    lines = [
        _entity_line(b'"client"', client_view(row, aggregates.get(i), admins.get(row[admin_at])), default)
        for i in client_ids
        if (row := by_id.get(i)) is not None
    ]
    lines += [
        _entity_line(b'"stamping_account"', cti_view(row, rules.get(row[0]), summaries.get(row[0])), default)
        for row in sent
    ]
    return b"".join(lines), len(lines)


def _ctis_of(session: Session, client_ids: list[str], candidates: set[str]) -> list[str]:
    """The ids of the CTIs of `client_ids` that are in the snapshot (`candidates`)."""
    rows = _Reader.of(session).ctis.where_in(session, "client_id", client_ids)
    return [row[0] for row in rows if row[0] in candidates]


class _Table:
    """Reads some columns (of a table, and of one it is left-joined with) by a column's values straight
    from the driver, as tuples: SQLAlchemy's result processing and its IN expansion cost more than the
    query for the 250,000 rows of a large snapshot. The values come out as the API writes them:
    datetimes aware UTC (on SQLite, the text orjson writes for one, without building it), booleans as
    booleans; any other type through its own result processor."""

    def __init__(self, dialect: Any, columns: list[Any], joined: tuple[Any, str] | None = None) -> None:
        table = columns[0].table
        names = ", ".join(f'"{c.table.name}"."{c.name}"' for c in columns)
        self.sql = f'SELECT {names} FROM "{table.name}"'
        if joined is not None:  # (the joined table, the ON condition)
            self.sql += f' LEFT JOIN "{joined[0].name}" ON {joined[1]}'
        self.table = table.name
        self.marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self.convert: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(columns):
            kind = column.type
            if isinstance(kind, UTCDateTime):
                self.convert.append((index, _iso_from_text if dialect.name == "sqlite" else _utc))
            elif isinstance(kind, Boolean) and dialect.name == "sqlite":
                self.convert.append((index, bool))
            else:
                processor = kind._cached_result_processor(dialect, None)
                if processor is not None:
                    self.convert.append((index, processor))

    def where_in(
        self,
        session: Session,
        column: str,
        values: list[str],
        order: tuple[str, ...] = (),
        also: tuple[str, tuple[Any, ...]] = ("", ()),
    ) -> list[Any]:
        """The rows whose `column` (of the first table) is one of `values`, `also` (SQL with `{m}` for a
        parameter marker, its parameters) ANDed to the condition."""
        if not values:
            return []
        marks = ", ".join(self.marker for _ in values)
        extra = f" AND {also[0].format(m=self.marker)}" if also[0] else ""
        order_by = f" ORDER BY {', '.join(order)}" if order else ""
        sql = f'{self.sql} WHERE "{self.table}"."{column}" IN ({marks}){extra}{order_by}'
        raw = session.connection().exec_driver_sql(sql, (*values, *also[1])).cursor
        assert raw is not None
        rows: list[Any] = list(raw.fetchall())
        if not self.convert:
            return rows
        out = []
        for values_row in rows:
            row = list(values_row)
            for index, fn in self.convert:
                if row[index] is not None:
                    row[index] = fn(row[index])
            out.append(row)
        return out


class _Reader:
    """The tables a snapshot's clients and CTIs are read from, per dialect, and the views over their
    tuples."""

    _cache: dict[str, _Reader] = {}

    def __init__(self, dialect: Any) -> None:
        clients, ctis, rules = Client.__table__.c, StampingAccount.__table__.c, AutoSaleRule.__table__.c
        usage_table = CtiDailyUsage.__table__.c
        client_columns = list(clients)
        # The CTI's id first (read as row[0] below), not its password hash; then its auto-sale rule.
        cti_columns = [ctis.id] + [c for c in ctis if c.name not in ("id", "password_hash")]
        rule_columns = [
            rules.stamping_account_id,
            rules.minimum,
            rules.credit,
            rules.amount_cents,
            rules.enabled,
        ]
        self.clients = _Table(dialect, client_columns)
        self.ctis = _Table(
            dialect,
            cti_columns + rule_columns,
            (AutoSaleRule.__table__, '"auto_sale_rules"."stamping_account_id" = "stamping_accounts"."id"'),
        )
        self.client_view = client_views.client_view_reader([c.name for c in client_columns].index)
        self.cti_view = client_views.cti_view_reader([c.name for c in cti_columns].index)
        self.client_admin = [c.name for c in client_columns].index("admin_profile_id")
        assert client_columns[0].name == "id"
        self._cti = {c.name: i for i, c in enumerate(cti_columns)}
        self._rule_at = len(cti_columns)
        self._profiles = _Table(
            dialect, [Profile.__table__.c.id, Profile.__table__.c.email, Profile.__table__.c.mobile]
        )
        self._usage = _Table(dialect, [usage_table.stamping_account_id, usage_table.day, usage_table.issued])
        self._sqlite = dialect.name == "sqlite"
        self._standard = StampingAccountKind.STANDARD.value

    @classmethod
    def of(cls, session: Session) -> _Reader:
        dialect = session.get_bind().dialect
        found = cls._cache.get(dialect.name)
        if found is None:
            found = cls._cache[dialect.name] = cls(dialect)
        return found

    def aggregates(self, ctis: list[Any]) -> dict[str, dict[str, Any]]:
        """Each client's figures over ALL its CTIs' rows, as `clients._client_aggregates` gives them."""
        at = self._cti
        i_client, i_kind, i_balance, i_credited, i_issued = (
            at["client_id"],
            at["kind"],
            at["balance"],
            at["credited"],
            at["issued"],
        )
        i_credit_at, i_issue_at = at["last_credit_at"], at["last_issue_at"]
        out: dict[str, dict[str, Any]] = {}
        for row in ctis:
            agg = out.get(row[i_client])
            if agg is None:
                agg = out[row[i_client]] = {
                    "stamps": 0,
                    "credited": 0,
                    "issued": 0,
                    "last_purchase_at": None,
                    "last_issue_at": None,
                }
            if row[i_kind] == self._standard:
                agg["stamps"] += row[i_balance]
            agg["credited"] += row[i_credited]
            agg["issued"] += row[i_issued]
            # Both are aware UTC datetimes, or (SQLite) ISO texts of one offset, which sort as they do.
            credit_at, issue_at = row[i_credit_at], row[i_issue_at]
            last = agg["last_purchase_at"]
            if credit_at is not None and (last is None or credit_at > last):
                agg["last_purchase_at"] = credit_at
            last = agg["last_issue_at"]
            if issue_at is not None and (last is None or issue_at > last):
                agg["last_issue_at"] = issue_at
        return out

    def admins(self, session: Session, ids: set[str]) -> dict[str, _Admin]:
        rows = self._profiles.where_in(session, "id", sorted(ids))
        return {row[0]: _Admin(row[1], row[2]) for row in rows}

    def rules(self, ctis: list[Any]) -> dict[str, _Rule]:
        """The auto-sale rules that came with `ctis`' rows (left-joined)."""
        at = self._rule_at
        return {row[0]: _Rule(*row[at + 1 : at + 5]) for row in ctis if row[at] is not None}

    def summaries(self, session: Session, cti_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """`usage_ops.summaries` of `cti_ids`, read straight from the driver (most CTIs have none)."""
        since, today = usage_ops.summary_window()
        days = (since.isoformat(), today.isoformat()) if self._sqlite else (since, today)
        found: dict[str, dict[dt.date, int]] = {}
        for cti, day, issued in self._usage.where_in(
            session, "stamping_account_id", cti_ids, also=("day >= {m} AND day <= {m}", days)
        ):
            found.setdefault(cti, {})[day] = int(issued)
        return {cti: usage.encode_summary(counts, today) for cti, counts in found.items()}


class _Admin(NamedTuple):
    email: str
    mobile: str


class _Rule(NamedTuple):
    minimum: int
    credit: int
    amount_cents: int
    enabled: bool


def _iso_from_text(value: Any) -> str:
    """A datetime as SQLAlchemy stores it in SQLite (naive UTC text, `2026-01-31 12:00:00.000000`),
    as orjson writes the aware datetime (`2026-01-31T12:00:00+00:00`), without building one."""
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        if value.endswith(".000000"):
            return f"{value[:10]}T{value[11:19]}+00:00"
        return f"{value[:10]}T{value[11:]}+00:00"
    return orjson.dumps(_utc_from_text(value)).decode()[1:-1]


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
