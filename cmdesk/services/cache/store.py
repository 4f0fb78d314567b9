"""The cache's store: its files, the server's data written in, the optimistic values laid over it.

Every synced entity is kept as the server sent it in `entities` (JSON), and the ones the views list have
a typed row too (`rows`), so sorting, filtering and paging happen in SQL. `apply_page` writes a page of
the feed and its cursor in one transaction; an empty cache being filled puts off its sort indexes and
its search index until `finish_pull`, which builds them once (the search index on another core, into
its own file). Optimistic values (`apply_local` / `restore`) live in `local` and are laid over the
server's copy in the typed rows; what they are is decided in `cmdesk.services.overlays`.

The files are disposable: a cache with another `SCHEMA_VERSION` (or unreadable) is deleted and made anew,
and the next sync fills it. So is a damaged one: on opening, both files get SQLite's `quick_check`
when they are small (`CHECK_ALWAYS_BYTES`, a few ms) or when the last run did not close them (the
`cache.sqlite3.open` marker is still there: a crash or a power cut); a damaged page met later marks the
cache `damaged`, and the session makes it anew (`cmdesk.services.storage`). `recreated` tells the
session a cache was made anew, so the outbox's commands are laid over it again. A full disk rolls the
write back whole and raises `DiskFull` (the cursor stays with the data it covers).

Two connections (a writer and a reader) over WAL let the views read while a sync writes. Both files
count every write transaction that wrote the search file (`search_generation`): a cache whose counts
differ on opening (the program stopped between the two commits) searches with `LIKE` until the next
sync has built the search index again. The other transactions (most of a delta sync) commit the
cache's file alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cmdesk.domain import clock
from cmdesk.domain.field_paths import deep_merge
from cmdesk.services import paths, storage
from cmdesk.services.cache import files, forecasts, schema, writes
from cmdesk.services.cache.rows import (
    BOOL_COLUMNS,
    CTI_CLIENT_FIELDS_SQL,
    TYPED,
    TYPED_ENTITIES,
    active_of,
    cti_ids_of,
    dumps,
)
from cmdesk.services.cache.schema import (
    BULK_AUTOCHECKPOINT,
    BUMP_GENERATION,
    CACHE_KB,
    DATA_TABLES,
    DEFERRED_INDEXES,
    DROP_FTS_TRIGGERS,
    FTS_TRIGGERS,
    INDEX_BUILD_CACHE_KB,
    MARK_SEARCH_WRITTEN,
    OPTIMIZE_SEARCH,
    SCHEMA_VERSION,
    SEARCH_BUILD_CACHE_KB,
    SEARCH_CACHE_KB,
    SEARCH_FLAGS,
    SEARCH_WRITTEN,
    SEARCH_WRITTEN_TABLE,
    exec_script,
)
from cmdesk.services.cache.sealed import Sealing
from cmdesk.services.server_info import server_now

log = logging.getLogger(__name__)

Listener = Callable[[set[str]], None]

# A cache up to this size is checked (quick_check) at every opening: ~0.1 s on a loaded 2-core machine.
CHECK_ALWAYS_BYTES = 32 * 1024 * 1024
# An adopted cache image waiting for what it left out: its cursor, and those entities (JSON list).
IMAGE_CURSOR = "image_cursor"
IMAGE_OMITTED = "image_omitted"
IMAGE_KEYS = (IMAGE_CURSOR, IMAGE_OMITTED)
CACHE_FULL = (
    "El disco de este equipo está lleno: no se pudo actualizar la copia local de los datos. Libere "
    "espacio; no se perdió nada."
)


class CacheStore(Sealing):
    """The store of the cache (see the module docstring); `Cache` adds the queries of each entity."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        """Open (or make) the cache at `path`; `fresh` deletes what is there first."""
        self.path = Path(path)
        self.search_path = files.search_path(self.path)
        self.marker = self.path.with_name(self.path.name + ".open")
        paths.private_folder(self.path.parent)
        self._write_lock = threading.RLock()
        self._read_lock = threading.RLock()
        self._listeners: list[Listener] = []
        # Made anew on opening although a cache was there (damaged, or of another schema).
        self.recreated = False
        # A damaged page was met since opening: the session makes the cache anew.
        self.damaged = False
        if fresh:
            files.delete_files(self.path)
        with self._storage():  # a cache made on a full disk says so
            self._writer = self._open_writer()
            try:
                self._reader = self._connect()
            except BaseException:
                self._writer.close()
                raise
        for made in (self.path, self.search_path):
            paths.private_file(made)
        with contextlib.suppress(OSError):  # a full disk: the next opening checks, that is all
            self.marker.touch()

    # ---- opening ----------------------------------------------------------------------------------

    def _connect(
        self, main_cache_kb: int = CACHE_KB, search_cache_kb: int = SEARCH_CACHE_KB
    ) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("ATTACH DATABASE ? AS fts", (str(self.search_path),))
        for name, cache_kb in (("main", main_cache_kb), ("fts", search_cache_kb)):
            conn.execute(f"PRAGMA {name}.journal_mode=WAL")
            # Disposable data: a power loss may lose the last pages, which the next sync brings again.
            conn.execute(f"PRAGMA {name}.synchronous=NORMAL")
            conn.execute(f"PRAGMA {name}.cache_size = {cache_kb}")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute(SEARCH_WRITTEN_TABLE)
        return conn

    def _needs_check(self) -> bool:
        """Whether to read every page on opening: a small cache always, a large one after a run that
        did not close it (see the module docstring)."""
        if self.marker.exists():
            return True
        size = sum(p.stat().st_size for p in (self.path, self.search_path) if p.exists())
        return size <= CHECK_ALWAYS_BYTES

    def _open_writer(self, *, check: bool = True) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        existed = self.path.exists()
        try:
            check = check and existed and self._needs_check()
            conn = self._connect()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            mode = None
            if version == SCHEMA_VERSION and conn.execute("PRAGMA fts.user_version").fetchone()[0] == version:
                if check and not (storage.quick_check(conn, "main") and storage.quick_check(conn, "fts")):
                    raise sqlite3.DatabaseError("quick_check found damaged pages")
                row = conn.execute("SELECT value FROM meta WHERE key = 'search_mode'").fetchone()
                mode = row[0] if row else None
                if mode == schema.SEARCH_MODE:
                    self._check_search(conn)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            if storage.is_disk_full(exc, self.path.parent):
                raise  # not damaged: there is no room to open it (`_storage` says so)
            log.warning("cache %s unreadable or damaged (%s); it is made anew", self.path, exc)
            version, mode = 0, None
        else:
            if version == SCHEMA_VERSION and mode == schema.SEARCH_MODE:
                return conn
            if version:
                log.info(
                    "cache %s has schema %s (wanted %s); it is rebuilt", self.path, version, SCHEMA_VERSION
                )
            conn.close()
        self.recreated = existed
        files.delete_files(self.path)
        conn = self._connect()
        try:
            schema.create(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_search(self, conn: sqlite3.Connection) -> None:
        """On opening: whether the search index matches `clients` (see the module docstring); the
        triggers that keep it so are laid unless it is being filled or has to be built again."""
        if not schema.FTS_AVAILABLE:
            return
        flags = dict(conn.execute(SEARCH_FLAGS).fetchall())
        generation = conn.execute("SELECT value FROM fts.state WHERE key = 'generation'").fetchone()
        if generation is None or int(flags.get("search_generation", -1)) != generation[0]:
            if "search_stale" not in flags:
                log.warning("search index of %s out of step with the cache; it is built again", self.path)
                conn.execute("INSERT INTO meta (key, value) VALUES ('search_stale', '1')")
            return
        if "bulk_fill" not in flags and "search_stale" not in flags:
            exec_script(conn, FTS_TRIGGERS)

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._writer.close()
        if not self.damaged:
            with contextlib.suppress(OSError):
                self.marker.unlink()

    @contextlib.contextmanager
    def _storage(self) -> Iterator[None]:
        """SQLite's errors of a full disk or a damaged file as `DiskFull` / `CacheDamaged`."""
        try:
            yield
        except sqlite3.Error as exc:
            if storage.is_disk_full(exc, self.path.parent):
                raise storage.DiskFull(CACHE_FULL) from exc
            if storage.is_damaged(exc):
                self.damaged = True
                raise storage.CacheDamaged(str(exc)) from exc
            raise

    # ---- listeners ----------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(changed_entities)` after every change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, changed: set[str]) -> None:
        if not changed:
            return
        for listener in list(self._listeners):
            try:
                listener(set(changed))
            except Exception:
                log.exception("cache listener failed")

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self._storage():
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                if schema.FTS_AVAILABLE and conn.execute(SEARCH_WRITTEN).fetchone() is not None:
                    for statement in BUMP_GENERATION:
                        conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                storage.rollback(conn)
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock, self._storage():
            yield self._reader

    # ---- meta -------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        with self._write() as conn:
            self._set_meta(conn, key, value)

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                (key, value, value),
            )

    @property
    def cursor(self) -> str | None:
        return self.get_meta("cursor")

    @property
    def account_id(self) -> str | None:
        return self.get_meta("account_id")

    @property
    def last_sync_at(self) -> dt.datetime | None:
        value = self.get_meta("last_sync_at")
        return dt.datetime.fromisoformat(value) if value else None

    def mark_synced(self, when: dt.datetime | None = None) -> None:
        self.set_meta("last_sync_at", (when or server_now()).isoformat())

    def catalog(self) -> dict[str, Any] | None:
        value = self.get_meta("catalog")
        return json.loads(value) if value else None

    def set_catalog(self, catalog: Mapping[str, Any]) -> None:
        self.set_meta("catalog", dumps(catalog))
        self._notify({"catalog"})

    # ---- writing the server's data --------------------------------------------------------------------

    def apply_page(self, changes: Sequence[Mapping[str, Any]], cursor: str | None) -> set[str]:
        """Apply one page of `/v1/sync/changes` and move the cursor, in one transaction (the cursor
        never gets ahead of what the cache holds). Returns the entities that changed. A page with
        nothing new (the pull of a sync when nothing changed) writes nothing."""
        if not changes and (cursor is None or cursor == self.cursor):
            return set()
        with self._write() as conn:
            if self._bulk_fill(conn):
                # Fewer, larger checkpoints while the file grows by hundreds of MB (see finish_pull).
                conn.execute(f"PRAGMA wal_autocheckpoint = {BULK_AUTOCHECKPOINT}")
            changed = self._apply(conn, changes, guard=False)
            if cursor is not None:
                self._set_meta(conn, "cursor", cursor)
        self._notify(changed)
        return changed

    def _bulk_fill(self, conn: sqlite3.Connection) -> bool:
        """Whether an empty cache is being filled from the beginning of the feed. Then the sort
        indexes and the search index are built once at the end (`finish_pull`): inserting 250,000 rows
        into two dozen indexes row by row, page after page, is several times slower (and gets slower
        as the file outgrows the page cache) than sorting each index once."""
        meta = dict(
            conn.execute("SELECT key, value FROM meta WHERE key IN ('cursor', 'bulk_fill')").fetchall()
        )
        if "bulk_fill" in meta:
            return True
        if meta or conn.execute("SELECT 1 FROM clients LIMIT 1").fetchone() is not None:
            return False
        for name in DEFERRED_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        if schema.FTS_AVAILABLE:
            exec_script(conn, DROP_FTS_TRIGGERS)
        self._set_meta(conn, "bulk_fill", "1")
        return True

    def finish_pull(self) -> None:
        """End of a pull: build what filling an empty cache put off (the sort indexes and the search
        index), or the search index alone when it was found out of step. The search index is built
        by another connection, into its own file, while this one builds the sort indexes."""
        with self._write_lock, self._storage():
            conn = self._writer
            flags = dict(conn.execute(SEARCH_FLAGS).fetchall())
            bulk = "bulk_fill" in flags
            build_search = schema.FTS_AVAILABLE and (bulk or "search_stale" in flags)
            if not bulk and not build_search:
                return
            # A count neither file has had: the two agree again once both have committed.
            searched = conn.execute("SELECT value FROM fts.state WHERE key = 'generation'").fetchone()
            generation = max(int(flags.get("search_generation", 0)), searched[0] if searched else 0) + 1
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmdesk-search") as pool:
                search = pool.submit(self._build_search, generation) if build_search else None
                if bulk:
                    # BEGIN, not BEGIN IMMEDIATE: this transaction writes the cache's file only (the
                    # other connection writes the search file). Committed without waiting for the
                    # search index: `q` is matched with LIKE until that is there too.
                    with self._transaction(conn, "BEGIN"):
                        forecasts.refresh_clients(conn, None)
                        self._build_indexes(conn)
                        self._set_meta(conn, "bulk_fill", None)
                        if search is not None:
                            self._set_meta(conn, "search_stale", "1")
                    conn.execute("PRAGMA wal_autocheckpoint = 1000")
                    conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
                if search is not None:
                    search.result()
                    with self._transaction(conn, "BEGIN"):
                        exec_script(conn, FTS_TRIGGERS)
                        self._set_meta(conn, "search_generation", str(generation))
                        self._set_meta(conn, "search_stale", None)

    @staticmethod
    @contextlib.contextmanager
    def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
        conn.execute(begin)
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            storage.rollback(conn)
            raise

    @staticmethod
    def _build_indexes(conn: sqlite3.Connection) -> None:
        # Each index is one sort of 100,000-odd keys: SQLite sorts in runs as large as the page cache,
        # and sorting (then merging) runs of a few MB is faster than one run of 64 MB.
        conn.execute(f"PRAGMA cache_size = {INDEX_BUILD_CACHE_KB}")
        try:
            for statement in DEFERRED_INDEXES.values():
                conn.execute(statement)
        finally:
            conn.execute(f"PRAGMA cache_size = {CACHE_KB}")

    def _build_search(self, generation: int) -> None:
        """The search index of every client, anew, on a connection of its own (see `finish_pull`).
        It reads `clients` once, in order (no cache needed), and writes and merges the index."""
        conn = self._connect(main_cache_kb=INDEX_BUILD_CACHE_KB, search_cache_kb=SEARCH_BUILD_CACHE_KB)
        try:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO clients_fts (clients_fts) VALUES ('delete-all')")
            conn.execute(
                "INSERT INTO clients_fts (rowid, search, cti_ids)"
                " SELECT rowid, search, cti_ids FROM main.clients ORDER BY rowid"
            )
            conn.execute(OPTIMIZE_SEARCH)
            conn.execute("UPDATE fts.state SET value = ? WHERE key = 'generation'", (generation,))
            conn.execute("COMMIT")
        finally:
            conn.close()

    def refresh_forecasts(self) -> set[str]:
        """Compute the forecasts again when the business day changed since they were (the C.P.D.
        window moved); cheap otherwise. Returns (and announces) the entities that changed."""
        with self._write() as conn:
            changed = (
                {"stamping_account", "client"}
                if forecasts.roll_day(conn, clock.today(server_now()), clients=not self._bulk_filling(conn))
                else set()
            )
        self._notify(changed)
        return changed

    def apply_answer(self, entity: str, data: Mapping[str, Any]) -> set[str]:
        """Store an entity the server answered to a command (its current data), unless the cache
        already has a newer version of it."""
        change = {"entity": entity, "id": str(data["id"]), "version": data.get("version"), "data": data}
        with self._write() as conn:
            changed = self._apply(conn, [change], guard=True)
        self._notify(changed)
        return changed

    def _apply(
        self, conn: sqlite3.Connection, changes: Sequence[Mapping[str, Any]], *, guard: bool
    ) -> set[str]:
        upserts: dict[str, dict[str, Mapping[str, Any]]] = {}
        deletes: dict[str, set[str]] = {}
        for change in changes:
            entity, ident = str(change["entity"]), str(change["id"])
            data = change.get("data")
            if change.get("deleted") or data is None:
                deletes.setdefault(entity, set()).add(ident)
                upserts.get(entity, {}).pop(ident, None)
            else:
                upserts.setdefault(entity, {})[ident] = self.seal(entity, data)
                deletes.get(entity, set()).discard(ident)
        if guard:
            self._drop_stale(conn, upserts)
        changed = {e for e, ids in deletes.items() if ids} | {e for e, rows in upserts.items() if rows}
        # Forecasts are computed as rows are written, for the business day (see `forecasts`).
        today = clock.today(server_now())
        bulk = self._bulk_filling(conn)
        if forecasts.roll_day(conn, today, clients=not bulk):
            changed |= {"stamping_account", "client"}
        # Clients whose CTI list (searched by `q`) or "any CTI active" may have changed.
        relinked: set[str] = set()
        # Clients whose forecast may have changed (their CTIs' balance, use or state).
        forecast_clients: set[str] = set(upserts.get("client", {}))
        for entity, ids in deletes.items():
            if not ids:
                continue
            keys = [(entity, i) for i in ids]
            if entity == "stamping_account":
                relinked.update(client for client, _active in self._cti_state(conn, ids).values())
                forecast_clients.update(relinked)
            conn.executemany("DELETE FROM entities WHERE entity = ? AND id = ?", keys)
            conn.executemany("DELETE FROM local WHERE entity = ? AND id = ?", keys)
            if entity in TYPED:
                conn.executemany(f"DELETE FROM {TYPED[entity][0]} WHERE id = ?", [(i,) for i in ids])
        for entity, rows in upserts.items():
            if rows:
                conn.executemany(
                    "INSERT INTO entities (entity, id, version, data) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(entity, id) DO UPDATE SET version = excluded.version, data = excluded.data",
                    [
                        (
                            entity,
                            ident,
                            v if isinstance(v := data.get("version"), int) else None,
                            dumps(data),
                        )
                        for ident, data in rows.items()
                    ],
                )
        page_clients = upserts.get("client", {})
        # CTIs before clients: a client row computes its CTI ids from the CTIs already stored.
        ctis = upserts.get("stamping_account", {})
        if ctis:
            before = self._cti_state(conn, ctis.keys())
            effective = self._effective(conn, "stamping_account", ctis)
            for data, _pending in effective:
                ident = str(data["id"])
                client_id = str(data.get("client_id") or "")
                active = 1 if data.get("active", True) else 0
                old = before.get(ident)
                forecast_clients.add(client_id)
                if old != (client_id, active):
                    relinked.add(client_id)
                    if old is not None:
                        relinked.add(old[0])
            writes.project(conn, "stamping_account", effective, bulk=bulk, clients=page_clients, today=today)
        if page_clients:
            effective = self._effective(conn, "client", page_clients)
            # The clients inserted took their CTI ids from the CTIs stored (the others keep theirs).
            relinked.difference_update(writes.project(conn, "client", effective, bulk=bulk))
            # CTIs stored before their client changed name or arrived: bring their copy up to date.
            self._fill_temp(conn, page_clients.keys())
            conn.execute(CTI_CLIENT_FIELDS_SQL)
        for entity in ("movement", "distributor"):
            rows = upserts.get(entity, {})
            if rows:
                writes.project(conn, entity, self._effective(conn, entity, rows), bulk=bulk)
        relinked.discard("")
        if relinked:
            self._refresh_client_links(conn, relinked)
        if not bulk:
            forecasts.refresh_clients(conn, forecast_clients | relinked)
        return changed

    @staticmethod
    def _drop_stale(conn: sqlite3.Connection, upserts: dict[str, dict[str, Mapping[str, Any]]]) -> None:
        for entity, rows in upserts.items():
            for ident, data in list(rows.items()):
                row = conn.execute(
                    "SELECT version FROM entities WHERE entity = ? AND id = ?", (entity, ident)
                ).fetchone()
                incoming = data.get("version")
                if row and row[0] is not None and isinstance(incoming, int) and incoming < row[0]:
                    del rows[ident]

    def _effective(
        self, conn: sqlite3.Connection, entity: str, rows: Mapping[str, Mapping[str, Any]]
    ) -> list[tuple[Mapping[str, Any], bool]]:
        """The rows as the views show them: with any optimistic value laid over, marked pending."""
        overlays = self._overlays(conn, entity)
        if not overlays:
            return [(data, False) for data in rows.values()]
        out: list[tuple[Mapping[str, Any], bool]] = []
        for ident, data in rows.items():
            if ident in overlays:
                merged = deep_merge(data, overlays[ident])
                merged["id"] = ident
                out.append((merged, True))
            else:
                out.append((data, False))
        return out

    @staticmethod
    def _overlays(conn: sqlite3.Connection, entity: str) -> dict[str, dict[str, Any]]:
        return {
            row[0]: json.loads(row[1])
            for row in conn.execute("SELECT id, data FROM local WHERE entity = ?", (entity,))
        }

    @staticmethod
    def _cti_state(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """CTI id → (client id, active) of the CTIs the cache holds."""
        out: dict[str, tuple[str, int]] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" for _ in chunk)
            sql = f"SELECT id, client_id, active FROM stamping_accounts WHERE id IN ({marks})"
            out.update({r[0]: (r[1], r[2]) for r in conn.execute(sql, chunk)})
        return out

    @staticmethod
    def _fill_temp(conn: sqlite3.Connection, client_ids: Iterable[str]) -> None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS affected_clients (id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM affected_clients")
        conn.executemany("INSERT OR IGNORE INTO affected_clients (id) VALUES (?)", [(i,) for i in client_ids])

    def _refresh_client_links(self, conn: sqlite3.Connection, client_ids: set[str]) -> None:
        """The denormalized links between clients and their CTIs: a client's CTI ids (searched with
        `q`) and whether any CTI is active; a CTI's client NIC and name (shown and sorted on)."""
        self._fill_temp(conn, client_ids)
        conn.execute(
            f"UPDATE clients SET cti_ids = {cti_ids_of('clients.id')}, active = {active_of('clients.id')} "
            "WHERE id IN (SELECT id FROM affected_clients)"
        )
        conn.execute(CTI_CLIENT_FIELDS_SQL)
        if not self._bulk_filling(conn):
            forecasts.refresh_clients(conn, client_ids)

    def reset(self) -> None:
        """Forget everything the server sent (and the optimistic values): the next pull starts over."""
        with self._write() as conn:
            if schema.FTS_AVAILABLE:
                # Emptied at once rather than client by client (and so in step again if it was not).
                exec_script(conn, DROP_FTS_TRIGGERS)
                conn.execute("INSERT INTO clients_fts (clients_fts) VALUES ('delete-all')")
                conn.execute(MARK_SEARCH_WRITTEN)
                conn.execute(
                    "UPDATE fts.state SET value ="
                    " (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_generation')"
                    " WHERE key = 'generation'"
                )
            for table in DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")
            for key in ("cursor", "last_sync_at", "catalog", "search_stale", "snapshot", *IMAGE_KEYS):
                self._set_meta(conn, key, None)
            if schema.FTS_AVAILABLE and not self._bulk_filling(conn):
                exec_script(conn, FTS_TRIGGERS)
        self._notify({*TYPED_ENTITIES, "account"})

    @staticmethod
    def _bulk_filling(conn: sqlite3.Connection) -> bool:
        return conn.execute("SELECT 1 FROM meta WHERE key = 'bulk_fill'").fetchone() is not None

    # ---- optimistic values --------------------------------------------------------------------------

    def apply_local(self, entity: str, ident: str, data: Mapping[str, Any]) -> set[str]:
        """Lay a pending change over the server's copy (`data` holds the changed fields; for a record
        created offline, all of them). The typed row shows it, marked `pending`."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT data FROM local WHERE entity = ? AND id = ?", (entity, ident)
            ).fetchone()
            server = self._server_copy(conn, entity, ident)
            overlay = deep_merge(json.loads(row[0]), data) if row else dict(data)
            conn.execute(
                "INSERT INTO local (entity, id, data, local_only) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(entity, id) DO UPDATE SET data = excluded.data",
                (entity, ident, dumps(overlay), 0 if server else 1),
            )
            if entity in TYPED:
                effective = deep_merge(server or {}, overlay)
                effective["id"] = ident
                writes.project(conn, entity, [(effective, True)])
                if entity == "client":
                    self._refresh_client_links(conn, {ident})
                elif entity == "stamping_account":
                    self._refresh_client_links(conn, {str(effective.get("client_id") or "")})
        self._notify({entity})
        return {entity}

    def restore(self, entity: str, ident: str) -> set[str]:
        """Drop the optimistic value: back to the server's copy (or gone, if it was created here)."""
        with self._write() as conn:
            conn.execute("DELETE FROM local WHERE entity = ? AND id = ?", (entity, ident))
            if entity in TYPED:
                server = self._server_copy(conn, entity, ident)
                table = TYPED[entity][0]
                client_id = None
                if entity == "stamping_account":
                    client_id = self._cti_state(conn, [ident]).get(ident, ("", 0))[0]
                if server is None:
                    conn.execute(f"DELETE FROM {table} WHERE id = ?", (ident,))
                else:
                    writes.project(conn, entity, [(server, False)])
                if client_id is not None:
                    self._refresh_client_links(conn, {client_id, str((server or {}).get("client_id") or "")})
        self._notify({entity})
        return {entity}

    def local_ids(self, entity: str | None = None) -> list[tuple[str, str]]:
        """(entity, id) of every optimistic value."""
        with self._read() as conn:
            if entity is None:
                return [
                    (r[0], r[1]) for r in conn.execute("SELECT entity, id FROM local ORDER BY entity, id")
                ]
            return [
                (r[0], r[1]) for r in conn.execute("SELECT entity, id FROM local WHERE entity = ?", (entity,))
            ]

    @staticmethod
    def _server_copy(conn: sqlite3.Connection, entity: str, ident: str) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT data FROM entities WHERE entity = ? AND id = ?", (entity, ident)
        ).fetchone()
        return json.loads(row[0]) if row else None

    # ---- reading ------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many rows of each entity the server sent (optimistic records not included)."""
        with self._read() as conn:
            return {
                r[0]: int(r[1]) for r in conn.execute("SELECT entity, count(*) FROM entities GROUP BY entity")
            }

    def server_copy(self, entity: str, ident: str) -> dict[str, Any] | None:
        """The server's copy, without optimistic values."""
        with self._read() as conn:
            return self._server_copy(conn, entity, ident)

    def get(self, entity: str, ident: str) -> dict[str, Any] | None:
        """The entity as the user sees it: the server's copy with any pending change laid over it."""
        with self._read() as conn:
            server = self._server_copy(conn, entity, ident)
            row = conn.execute(
                "SELECT data FROM local WHERE entity = ? AND id = ?", (entity, ident)
            ).fetchone()
        if row is None:
            return server
        merged = deep_merge(server or {}, json.loads(row[0]))
        merged["id"] = ident
        return merged

    def all(self, entity: str) -> list[dict[str, Any]]:
        """Every row of an entity as the user sees it (for the small lists: settings, packages, …)."""
        with self._read() as conn:
            rows = {
                r[0]: json.loads(r[1])
                for r in conn.execute("SELECT id, data FROM entities WHERE entity = ? ORDER BY id", (entity,))
            }
            for ident, data in conn.execute("SELECT id, data FROM local WHERE entity = ?", (entity,)):
                rows[ident] = deep_merge(rows.get(ident, {}), json.loads(data))
                rows[ident]["id"] = ident
        return list(rows.values())

    def account(self) -> dict[str, Any] | None:
        """The signed-in account (its balances included)."""
        account_id = self.account_id
        if account_id:
            return self.get("account", account_id)
        accounts = self.all("account")
        return accounts[0] if len(accounts) == 1 else None

    def _rows(self, sql: str, params: Sequence[Any], drop: Sequence[str]) -> list[dict[str, Any]]:
        with self._read() as conn:
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        keep = [(i, n) for i, n in enumerate(names) if n not in drop]
        out = []
        for row in rows:
            item = {n: row[i] for i, n in keep}
            for column in BOOL_COLUMNS.intersection(item):
                if item[column] is not None:
                    item[column] = bool(item[column])
            out.append(item)
        return out

    def apply_deleted(self, entity: str, ident: str) -> set[str]:
        """The server answered that a record is gone (a deleted price package, a removed user): drop it
        now instead of waiting for the next pull, which brings the same tombstone."""
        return self.apply_page([{"entity": entity, "id": ident, "deleted": True, "data": None}], None)
