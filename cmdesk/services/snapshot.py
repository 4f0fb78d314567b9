"""Filling an empty cache from the server's snapshot (`GET /v1/sync/snapshot`, cmdesk.server.snapshot).

Every first sync and every rebuild (a new cache, counts that differ, a cache of another schema) that
finds no cache image ready on the server (cmdesk.services.cache_image) takes the whole state at once
instead of paging the change feed, then the feed goes on from the snapshot's cursor for what changed
since. An old server without the endpoint answers 404 and the sync pages the
feed as before (`SnapshotUnavailable`).

The stream is read on a thread of its own (network, decompression, cutting it into lines and the
lines into chunks); this thread parses each chunk's lines and builds its typed rows (`_prepare`), then
writes them in bulk: the entity's JSON as it came (never encoded again) into `entities`, and the typed
rows of the views. Parsing on the reading thread, beside the writes, made the fill slower, not faster:
`executemany` gives up Python's lock (GIL) around each row's step and waits to take it back while the
other thread runs Python, up to the switch interval (5 ms) each time. 250,000 entities took 1.3 s to
store alone and 18 s beside a thread parsing JSON; the replayed benchmark's snapshot was as quick
either way and took a quarter less memory in one thread (`bench.snapshot_fill` shows both). Clients come in
chunks, each followed by its CTIs, so a client row gets its CTI ids and a CTI row its client's NIC and
name in the same statement. The sort indexes are left out while the cache fills and built once at
the end (one sort each, as `Cache.finish_pull` does); the search index is built on a third
connection, into its own file, while the data arrives: after each commit it indexes the clients that
commit added.

The views can read the cache all along: the first chunk is committed at once (the first rows are on
screen while the rest arrives), then every `COMMIT_ENTITIES` entities; searches use LIKE until the
search index is complete (`Cache._search_pending`). `progress(done, total, text)` tells how far it got.

A cut line. Each commit also stores where the stream was (`{"at": …}`) and the cursor that covers a
part of a snapshot (`resume_cursor`), under the meta key `snapshot`; the cursor itself is stored only
when everything has arrived, so a cache is never taken for complete. The next sync asks a new snapshot
for the rest (`after=`); the first one's `resume_cursor` then makes the feed bring whatever changed
since (see cmdesk.server.feed). A server that refuses the resume point starts the snapshot over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests

from cmdesk.domain import clock
from cmdesk.services.api_client import NETWORK_ERRORS, ApiClient, ApiError, OfflineError, invalid_response
from cmdesk.services.cache import TYPED_ENTITIES, Cache, forecasts, sealed
from cmdesk.services.cache.rows import CLIENT_UPSERT as _CLIENT_UPSERT
from cmdesk.services.cache.rows import CTI_UPSERT as _CTI_UPSERT
from cmdesk.services.cache.rows import TYPED as _TYPED
from cmdesk.services.cache.rows import UPSERT as _UPSERT
from cmdesk.services.cache.rows import client_row as _client_row
from cmdesk.services.cache.rows import cti_params as _cti_params
from cmdesk.services.cache.rows import cti_row as _cti_row
from cmdesk.services.cache.rows import dumps as _dumps
from cmdesk.services.cache.schema import (
    CACHE_KB,
    FTS_AVAILABLE,
    INDEX_BUILD_CACHE_KB,
    OPTIMIZE_SEARCH,
    SEARCH_BUILD_CACHE_KB,
    exec_script,
)
from cmdesk.services.cache.schema import DEFERRED_INDEXES as _DEFERRED_INDEXES
from cmdesk.services.cache.schema import DROP_FTS_TRIGGERS as _DROP_FTS_TRIGGERS
from cmdesk.services.cache.schema import FTS_TRIGGERS as _FTS_TRIGGERS
from cmdesk.services.server_info import server_now

log = logging.getLogger(__name__)

PATH = "/v1/sync/snapshot"
FORMAT = "cmdesk-snapshot/1"
# Meta key of a snapshot being received: {"resume_cursor", "at"} (see the module docstring).
STATE_KEY = "snapshot"
# fts.state key: the largest clients rowid the search index holds while a snapshot fills the cache.
SEARCH_ROWID_KEY = "snapshot_rowid"
# A fill commits the first chunk of clients at once, then every COMMIT_ENTITIES entities or
# COMMIT_SECONDS, whichever comes first (each commit shows the views more, and tells the progress).
# Fewer, larger commits cost less: a commit per half second under load made 94 of them, and as many
# segments of the search index to merge (its thread took 5 s instead of 3). Each commit also writes
# again to the WAL the pages of the unique indexes that random ids touch all over (entities, clients,
# CTIs: ~40 MB): replaying the benchmark's snapshot under load (~28 on 2 cores), 25,000 / 2 s made 40
# commits, 1,646 MB written, 26.0 s of CPU; 50,000 / 6 s made 10, 1,288 MB, 22.9 s.
COMMIT_ENTITIES = 50_000
COMMIT_SECONDS = 6.0
# The search index takes the clients committed in batches of at least this many (and the rest at the
# end): each batch is a segment of the index, merged with the others as they pile up.
SEARCH_BATCH = 20_000
SEARCH_HASH_BYTES = 32 * 2**20
# Chunks read ahead of the writer (a chunk is ~1,000 clients and their CTIs: ~1 MB).
READ_AHEAD = 8
# Bytes asked of the network at a time.
READ_BYTES = 256 * 1024

Progress = Callable[[int, int, str], None]

_UPSERT_ENTITY = (
    "INSERT INTO entities (entity, id, version, data) VALUES (?, ?, ?, ?)"
    " ON CONFLICT(entity, id) DO UPDATE SET version = excluded.version, data = excluded.data"
)
_END = object()


class SnapshotUnavailable(Exception):
    """The server has no snapshot endpoint (an older version): the sync pages the feed instead."""


@dataclass
class SnapshotReport:
    entities: int = 0
    changed: set[str] = field(default_factory=set)
    resumed: bool = False
    # The cache was emptied to start over (its optimistic values too: lay them again).
    restarted: bool = False
    cursor: str | None = None
    seconds: float = 0.0
    # Seconds from the start: the header arrived, the last entity was written, the sort indexes were
    # built, the search index was complete (what a log line tells, and the benchmark shows).
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class _Prepared:
    """A chunk's lines parsed and made into the parameters of the cache's statements. Rows assume no
    optimistic value: the writer builds again the few that have one."""

    count: int = 0
    # Other lines than entities (the header, `change`, `end`), decoded, in their order.
    control: list[dict[str, Any]] = field(default_factory=list)
    # entity → its lines as (data, the entity's JSON as it came).
    entities: dict[str, list[tuple[dict[str, Any], str]]] = field(default_factory=dict)
    # entity → `_UPSERT_ENTITY`'s parameters of its lines.
    entity_params: dict[str, list[tuple[str, str, int | None, str]]] = field(default_factory=dict)
    # client id → its row (`client_row`), without the two client ids `CLIENT_UPSERT` adds.
    client_rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # `CTI_UPSERT`'s parameters, one per CTI line (same order), and the clients not in this chunk.
    cti_params: list[tuple[Any, ...]] = field(default_factory=list)
    clients_elsewhere: set[str] = field(default_factory=set)
    # entity → rows of `_UPSERT[entity]` (movements, distributors).
    typed_rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


@dataclass
class _Chunk:
    """One chunk of the stream, up to and including its `at` line (if any): its lines (the first chunk
    begins with the header)."""

    lines: list[bytes]
    at: str | None = None

    @property
    def first_line(self) -> bytes:
        return self.lines[0] if self.lines else b""


def progress_text(done: int, total: int) -> str:
    return f"Descargando la cartera: {done:,} de {total:,} registros"


class SnapshotFill:
    """One run of filling `cache` from the snapshot of the signed-in account (see the module docstring)."""

    def __init__(self, api: ApiClient, cache: Cache, progress: Progress | None = None) -> None:
        self.api = api
        self.cache = cache
        self.progress = progress
        self._search: _SearchIndexer | None = None
        self._started = time.perf_counter()

    def run(self) -> SnapshotReport:
        """Fill the cache; returns when it is complete (its cursor set). Raises `SnapshotUnavailable`
        (old server), `OfflineError` (the line dropped: what arrived is kept for the next run) or
        `ApiError`."""
        started = time.perf_counter()
        state = self._state()
        try:
            report = self._receive(state)
        except ApiError as error:
            if error.status in (404, 405) and state is None:
                raise SnapshotUnavailable() from error
            if error.status == 422 and state is not None:
                # The server does not take the resume point: start over.
                log.info("snapshot resume refused (%s); starting over", error.code)
                self.cache.reset()
                report = self._receive(None)
                report.restarted = True
            else:
                raise
        report.seconds = time.perf_counter() - started
        log.info(
            "snapshot: %d entities in %.2f s (%s)",
            report.entities,
            report.seconds,
            ", ".join(f"{name} at {seconds:.2f} s" for name, seconds in report.phases.items()),
        )
        return report

    # ---- the state of a snapshot being received ---------------------------------------------------

    def _state(self) -> dict[str, Any] | None:
        value = self.cache.get_meta(STATE_KEY)
        if not value:
            return None
        try:
            state = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        return state if isinstance(state, dict) and isinstance(state.get("resume_cursor"), str) else None

    # ---- receiving --------------------------------------------------------------------------------

    def _receive(self, state: dict[str, Any] | None) -> SnapshotReport:
        report = SnapshotReport(resumed=state is not None)
        self._started = time.perf_counter()
        params = {"after": state["at"]} if state and state.get("at") else None
        response = self.api.stream(PATH, headers={"Accept-Encoding": "zstd, gzip"}, params=params)
        chunks: queue.Queue[_Chunk | BaseException | object] = queue.Queue(maxsize=READ_AHEAD)
        stop = threading.Event()
        reader = threading.Thread(
            target=_read_chunks, args=(response, chunks, stop), name="cmdesk-snapshot-read", daemon=True
        )
        reader.start()
        try:
            self._fill(state, chunks, report)
        finally:
            stop.set()
            with contextlib.suppress(queue.Empty):
                while True:
                    chunks.get_nowait()
            response.close()
            reader.join(timeout=5)
        return report

    def _next(self, chunks: queue.Queue[_Chunk | BaseException | object]) -> _Chunk | None:
        item = chunks.get()
        if isinstance(item, BaseException):
            raise item
        return item if isinstance(item, _Chunk) else None

    def _fill(
        self,
        state: dict[str, Any] | None,
        chunks: queue.Queue[_Chunk | BaseException | object],
        report: SnapshotReport,
    ) -> None:
        first = self._next(chunks)
        if first is None or not first.first_line:
            raise OfflineError(maybe_sent=True)
        report.phases["header"] = time.perf_counter() - self._started
        header = _control(first.first_line)
        if header.get("format") != FORMAT or not isinstance(header.get("resume_cursor"), str):
            raise invalid_response()
        total = int(header.get("total") or 0)
        if state is None:
            state = {"resume_cursor": header["resume_cursor"], "at": None, "done": 0}
        done = int(state.get("done") or 0)
        writer = _Writer(self.cache, fresh=not report.resumed)
        self._search = _SearchIndexer(self.cache, writer.search_from) if FTS_AVAILABLE else None
        end: dict[str, Any] | None = None
        tail: list[dict[str, Any]] = []

        def commit() -> None:
            writer.commit(state)
            if self._search is not None:
                self._search.advance(writer.last_rowid)
            if self.progress is not None:  # outside any transaction: the callback may read or write
                self.progress(done, max(total, done), progress_text(done, max(total, done)))

        try:
            chunk: _Chunk | None = first
            pending = 0
            shown = False  # whether clients were committed yet
            last_commit = time.monotonic()
            while chunk is not None:
                prepared = _prepare(chunk.lines)
                written = writer.write(prepared)
                done += written
                pending += written
                report.entities += written
                for item in prepared.control:
                    if "change" in item:
                        tail.append(item["change"])
                    elif item.get("end"):
                        end = item
                if chunk.at is not None:
                    state["at"], state["done"] = chunk.at, done
                    # The first clients at once (the views show them), then in large transactions.
                    first_clients = not shown and chunk.at.startswith("client:")
                    now = time.monotonic()
                    if first_clients or pending >= COMMIT_ENTITIES or now - last_commit >= COMMIT_SECONDS:
                        commit()
                        shown = shown or first_clients
                        pending, last_commit = 0, now
                if end is not None:
                    break
                try:
                    chunk = self._next(chunks)
                except OfflineError:
                    commit()  # every complete chunk that arrived is kept, with where it ended
                    raise
            if end is None:
                commit()
                raise OfflineError(maybe_sent=True)
            commit()
            report.phases["received"] = time.perf_counter() - self._started
            cursor = state["resume_cursor"] if report.resumed else end.get("cursor")
            if not isinstance(cursor, str):
                raise invalid_response()
            report.cursor = cursor
            self._finish(writer, tail, cursor, report)
        finally:
            writer.close()
            if self._search is not None:
                self._search.stop()
        report.changed |= writer.changed

    def _finish(
        self, writer: _Writer, tail: list[dict[str, Any]], cursor: str, report: SnapshotReport
    ) -> None:
        """Everything arrived: the clients' forecasts and the sort indexes (while the search index
        catches up), then in one transaction the search index's triggers, the tail, and the cursor."""
        cache = self.cache
        if self._search is not None:
            # Everything is committed: the search index takes the last clients (fewer than a batch) and
            # merges its segments now, beside the sort indexes, not after them (1.9 s sooner).
            self._search.last(writer.last_rowid)
        with cache.bulk_transaction() as conn:
            # Each CTI row got its forecast as it was built (for this business day); the clients'
            # forecasts are sums over their CTIs' rows, computed once now, as a paged fill does, and
            # before the indexes on them are built (after, each row written moves three index entries).
            forecasts.refresh_clients(conn, None)
            conn.execute(f"PRAGMA cache_size = {INDEX_BUILD_CACHE_KB}")
            try:
                for statement in _DEFERRED_INDEXES.values():
                    conn.execute(statement.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            finally:
                conn.execute(f"PRAGMA cache_size = {CACHE_KB}")
        report.phases["indexes"] = time.perf_counter() - self._started
        search_ok = False
        if self._search is not None:
            search_ok = self._search.finish(writer.last_rowid) and not writer.search_stale()
        report.phases["search"] = time.perf_counter() - self._started
        with cache.bulk_transaction(immediate=True) as conn:
            if FTS_AVAILABLE:
                if search_ok:
                    exec_script(conn, _FTS_TRIGGERS)
                    generation = writer.generation_now(conn) + 1
                    Cache._set_meta(conn, "search_generation", str(generation))
                    conn.execute("UPDATE fts.state SET value = ? WHERE key = 'generation'", (generation,))
                else:
                    Cache._set_meta(conn, "search_stale", "1")
            if tail:
                writer.apply_tail(conn, tail)
                # The forecasts of the clients the tail changed (only the rows that differ are written).
                forecasts.refresh_clients(conn, None)
            conn.execute("DELETE FROM temp.search_written")  # counted above
            Cache._set_meta(conn, forecasts.FORECAST_DAY, clock.today(server_now()).isoformat())
            Cache._set_meta(conn, "cursor", cursor)
            Cache._set_meta(conn, STATE_KEY, None)
            Cache._set_meta(conn, "bulk_fill", None)
        writer.end()
        # A search index that could not be built along (someone else wrote clients meanwhile) is
        # `search_stale`: `finish_pull`, which the pull runs next, builds it again.
        cache.notify({*TYPED_ENTITIES, *writer.changed, "account"})


# ---- reading the stream ---------------------------------------------------------------------------


def _control(line: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise invalid_response() from None
    if not isinstance(value, dict):
        raise invalid_response()
    return value


def _decoded(response: requests.Response) -> Iterator[bytes]:
    """The body, decompressed as `Content-Encoding` says (urllib3 decodes zstd and gzip)."""
    yield from response.iter_content(chunk_size=READ_BYTES)


def _read_chunks(
    response: requests.Response, chunks: queue.Queue[_Chunk | BaseException | object], stop: threading.Event
) -> None:
    """Cut the body into lines, and the lines into chunks ending with an `at` line; put each chunk in
    `chunks` (an error in the place of a chunk ends the reading)."""

    def put(item: _Chunk | BaseException | object) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    rest = b""
    lines: list[bytes] = []
    try:
        for data in _decoded(response):
            if stop.is_set():
                return
            parts = (rest + data).split(b"\n")
            rest = parts.pop()
            start = 0
            for index, line in enumerate(parts):
                if line.startswith(b'{"at":'):
                    at = _control(line).get("at")
                    lines += parts[start:index]
                    if not put(_Chunk(lines, at if isinstance(at, str) else None)):
                        return
                    lines = []
                    start = index + 1
            lines += parts[start:]
        if rest:
            lines.append(rest)
        if not any(line.startswith(b'{"end":') for line in lines):
            # The server stopped before the end (a chunk cut short is never written).
            put(OfflineError(maybe_sent=True))
            return
        if put(_Chunk(lines, None)):
            put(_END)
    except NETWORK_ERRORS as exc:
        put(OfflineError(maybe_sent=True).with_traceback(exc.__traceback__))
    except BaseException as exc:
        put(exc)


def _prepare(lines: list[bytes]) -> _Prepared:
    """Parse a chunk's lines and build the parameters of its rows (see `_Prepared`)."""
    out = _Prepared()
    by_entity = out.entities
    loads = orjson.loads
    today = clock.today(server_now())  # the business day of the CTIs' forecasts, once a chunk
    for line in lines:
        if not line:
            continue
        if line[:1] != b"[":
            out.control.append(_control(line))
            continue
        try:
            entity, data = loads(line)
        except (orjson.JSONDecodeError, ValueError):
            raise invalid_response() from None
        if not isinstance(entity, str) or not isinstance(data, dict) or "id" not in data:
            raise invalid_response()
        # The line is `["<entity>",<the entity's JSON>]`: its JSON is stored as it came.
        start = len(entity) + 4
        text = line[start:-1].decode() if line[start - 2 : start] == b'",' else _dumps(data)
        by_entity.setdefault(entity, []).append((data, text))
        out.count += 1
    for entity, rows in by_entity.items():
        out.entity_params[entity] = [
            (entity, str(d["id"]), v if isinstance(v := d.get("version"), int) else None, text)
            for d, text in rows
        ]
    # The clients' rows first (a CTI row copies its client's NIC and name from them).
    client_rows = out.client_rows
    for data, _text in by_entity.get("client", ()):
        client_rows[str(data["id"])] = _client_row(data, False)
    for data, _text in by_entity.get("stamping_account", ()):
        out.cti_params.append(_cti_params_with(data, False, client_rows, today))
        client_id = str(data.get("client_id") or "")
        if client_id and client_id not in client_rows:
            out.clients_elsewhere.add(client_id)
    for entity in ("movement", "distributor"):
        if entity in by_entity:
            make_row = _TYPED[entity][2]
            out.typed_rows[entity] = [make_row(d, False) for d, _text in by_entity[entity]]
    return out


# ---- writing ----------------------------------------------------------------------------------------


class _Writer:
    """The bulk writes of a fill, in transactions of the cache's writer connection that lock its
    file only (the search index's file stays free for `_SearchIndexer`)."""

    def __init__(self, cache: Cache, *, fresh: bool) -> None:
        self.cache = cache
        self.changed: set[str] = set()
        self.last_rowid = 0
        self._conn: sqlite3.Connection | None = None
        self._transaction: contextlib.AbstractContextManager[sqlite3.Connection] | None = None
        self._links_changed = False
        with cache.bulk_transaction(immediate=True) as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if fresh or "bulk_fill" not in meta:
                for name in _DEFERRED_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
                if FTS_AVAILABLE:
                    exec_script(conn, _DROP_FTS_TRIGGERS)
                Cache._set_meta(conn, "bulk_fill", "1")
            self.last_rowid = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM clients").fetchone()[0])
            self.search_from = self.last_rowid
            if FTS_AVAILABLE:
                sql = "SELECT value FROM fts.state WHERE key = ?"
                row = conn.execute(sql, (SEARCH_ROWID_KEY,)).fetchone()
                if fresh or row is None:
                    # Clients already here (made offline before the first sync) are in the index.
                    conn.execute(
                        "INSERT INTO fts.state (key, value) VALUES (?, ?)"
                        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (SEARCH_ROWID_KEY, self.last_rowid),
                    )
                else:
                    self.search_from = int(row[0])
            self._generation = int(meta.get("search_generation") or 0)
        cache.begin_bulk_writes()
        self._bulk = True

    def _begin(self) -> sqlite3.Connection:
        if self._conn is None:
            self._transaction = self.cache.bulk_transaction()
            self._conn = self._transaction.__enter__()
        return self._conn

    def commit(self, state: Mapping[str, Any]) -> None:
        """Commit what was written, with `state` (where the stream is) in the same transaction."""
        self._begin()
        assert self._transaction is not None and self._conn is not None
        Cache._set_meta(self._conn, STATE_KEY, _dumps(state))
        self.last_rowid = int(self._conn.execute("SELECT coalesce(max(rowid), 0) FROM clients").fetchone()[0])
        transaction, self._transaction, self._conn = self._transaction, None, None
        transaction.__exit__(None, None, None)
        self.cache.notify(set(self.changed))

    def end(self) -> None:
        """The fill is complete: back to ordinary writes (`Cache.end_bulk_writes`)."""
        self._bulk = False
        self.cache.end_bulk_writes()

    def close(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction, self._conn = self._transaction, None, None
            transaction.__exit__(RuntimeError, RuntimeError("cancelled"), None)
        if self._bulk:  # a fill cut short: what it committed is made durable, as after any fill
            self._bulk = False
            with contextlib.suppress(sqlite3.Error):
                self.cache.end_bulk_writes()

    def search_stale(self) -> bool:
        """Whether someone else wrote the cache meanwhile (an optimistic value laid while the cache
        filled), or CTIs reached clients already indexed: then the search index is built again."""
        with self.cache.bulk_transaction() as conn:
            return self._links_changed or self.generation_now(conn) != self._generation

    @staticmethod
    def generation_now(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'search_generation'").fetchone()
        return int(row[0]) if row else 0

    def write(self, prepared: _Prepared) -> int:
        """Store a prepared chunk (`_prepare`); returns how many entities it held."""
        conn = self._begin()
        by_entity = prepared.entities
        for entity, params in prepared.entity_params.items():
            if entity in sealed.FIELDS:  # NIPs: never in plain text (cache.sealed)
                params = self.cache.sealed_params(entity, by_entity[entity])
            conn.executemany(_UPSERT_ENTITY, params)
            self.changed.add(entity)
        # The CTIs first: a client row takes its CTI ids from the CTIs stored.
        ctis = by_entity.get("stamping_account")
        if ctis:
            params = prepared.cti_params
            if self._has_overlays(conn, "stamping_account", [d for d, _text in ctis]):
                effective = self._effective(conn, "stamping_account", [d for d, _text in ctis])
                today = clock.today(server_now())
                params = [_cti_params_with(d, p, prepared.client_rows, today) for d, p in effective]
            conn.executemany(_CTI_UPSERT, params)
            if prepared.clients_elsewhere:
                self._relink(conn, prepared.clients_elsewhere)
        if prepared.client_rows:
            overlays = Cache._overlays(conn, "client")
            rows = []
            for ident, row in prepared.client_rows.items():
                if ident in overlays:  # an optimistic value laid over the server's data
                    merged, _pending = self._effective(conn, "client", [_server_data(by_entity, ident)])[0]
                    row = _client_row(merged, True)
                rows.append((*row, ident, ident))
            conn.executemany(_CLIENT_UPSERT, rows)
        for entity, typed in prepared.typed_rows.items():
            data = [d for d, _text in by_entity[entity]]
            if self._has_overlays(conn, entity, data):
                make_row = _TYPED[entity][2]
                typed = [make_row(d, p) for d, p in self._effective(conn, entity, data)]
            conn.executemany(_UPSERT[entity], typed)
        return prepared.count

    @staticmethod
    def _has_overlays(conn: sqlite3.Connection, entity: str, rows: list[dict[str, Any]]) -> bool:
        overlays = Cache._overlays(conn, entity)
        return bool(overlays) and any(str(d["id"]) in overlays for d in rows)

    def _relink(self, conn: sqlite3.Connection, client_ids: set[str]) -> None:
        """CTIs whose client came in another chunk (or is not in the snapshot): their clients' CTI ids
        and "any CTI active" are computed again, and the search index is rebuilt at the end."""
        marks = ",".join("?" for _ in client_ids)
        stored = conn.execute(f"SELECT count(*) FROM clients WHERE id IN ({marks})", list(client_ids))
        if stored.fetchone()[0]:
            self.cache._refresh_client_links(conn, client_ids)
            self._links_changed = True

    def _effective(
        self, conn: sqlite3.Connection, entity: str, rows: list[dict[str, Any]]
    ) -> list[tuple[Mapping[str, Any], bool]]:
        """The rows with any optimistic value laid over (queued while the cache fills), as `Cache`."""
        return self.cache._effective(conn, entity, {str(d["id"]): d for d in rows})

    def apply_tail(self, conn: sqlite3.Connection, tail: list[dict[str, Any]]) -> None:
        if tail:
            self.changed |= self.cache._apply(conn, tail, guard=False)


def _cti_params_with(
    data: Mapping[str, Any], pending: bool, client_rows: Mapping[str, tuple[Any, ...]], today: dt.date
) -> tuple[Any, ...]:
    """`_CTI_UPSERT`'s parameters, the client's NIC and name taken from its row when it came in the
    same chunk (`_cti_params` would work them out again for each CTI), else read from the cache."""
    client_id = str(data.get("client_id") or "")
    row = client_rows.get(client_id)
    if row is None:
        return _cti_params(data, pending, None, today)
    # A client row is (id, nic, nic_num, name, name_key, …): what `client_fields` gives.
    nic, nic_num, name, name_key = row[1:5]
    linked = (nic, client_id, nic_num, client_id, name, client_id, name_key, client_id)
    return (*_cti_row(data, pending, today), *linked)


def _server_data(by_entity: Mapping[str, list[tuple[dict[str, Any], str]]], ident: str) -> dict[str, Any]:
    return next(d for d, _text in by_entity["client"] if str(d["id"]) == ident)


class _SearchIndexer:
    """Builds the search index of the clients while they arrive, on a connection of its own that
    writes the search file only: after each commit of the fill it indexes the rows that commit added
    (by rowid), and records how far it got (`SEARCH_ROWID_KEY`) for a fill that resumes."""

    def __init__(self, cache: Cache, start: int) -> None:
        self.cache = cache
        self._done = start
        self._target = start
        self._final = False
        self._failed: BaseException | None = None
        self._stop = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="cmdesk-snapshot-search", daemon=True)
        self._thread.start()

    def advance(self, rowid: int) -> None:
        with self._cond:
            self._target = max(self._target, rowid)
            self._cond.notify_all()

    def last(self, rowid: int) -> None:
        """Every client is committed, up to `rowid`: index them all, however few are left."""
        with self._cond:
            self._target = max(self._target, rowid)
            self._final = True
            self._cond.notify_all()

    def finish(self, rowid: int) -> bool:
        """Index up to `rowid` and wait for it; whether the index holds every client now."""
        self.last(rowid)
        self._thread.join()
        return self._failed is None and self._done >= rowid

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = self.cache.extra_connection(INDEX_BUILD_CACHE_KB, SEARCH_BUILD_CACHE_KB)
        try:
            # Terms gathered in memory up to this size before they are written as a segment (1 MB by
            # default): a batch makes one segment instead of dozens to merge (3.0 s → 2.1 s for 100,000
            # clients). Memory used only while a batch is indexed.
            sql = "INSERT INTO clients_fts (clients_fts, rank) VALUES ('hashsize', ?)"
            conn.execute(sql, (SEARCH_HASH_BYTES,))
            while True:
                with self._cond:
                    while self._target < self._done + SEARCH_BATCH and not self._final and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    target, final = self._target, self._final
                if target > self._done:
                    conn.execute("BEGIN")
                    conn.execute(
                        "INSERT INTO clients_fts (rowid, search, cti_ids) SELECT rowid, search, cti_ids"
                        " FROM main.clients WHERE rowid > ? AND rowid <= ? ORDER BY rowid",
                        (self._done, target),
                    )
                    conn.execute("UPDATE fts.state SET value = ? WHERE key = ?", (target, SEARCH_ROWID_KEY))
                    conn.execute("COMMIT")
                    self._done = target
                if final and self._done >= self._target:
                    conn.execute(OPTIMIZE_SEARCH)
                    return
        except BaseException as exc:  # the index is then built at the end, as after any bulk fill
            log.warning("search index built along the snapshot failed: %s", exc)
            self._failed = exc
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        finally:
            conn.close()
