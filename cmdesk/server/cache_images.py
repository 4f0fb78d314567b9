"""Cache images: an account's desktop cache, built by the server ahead of time, downloaded whole.

A first sync (or a rebuild) from the NDJSON snapshot (`cmdesk.server.snapshot`) makes the desktop do
all the work of a cache: parse 250,000 entities, build their typed rows, write them, sort two dozen
indexes and build the search index. On the benchmark's 100,000 clients + 150,000 CTIs that is ~19 s
of CPU on the desktop whatever the server does, ~16 s on 2 cores. Anki, which this design follows,
syncs a whole collection by sending its file; so does this: the server keeps, per account, the
desktop's own cache files (both: the cache and its search index) filled by the desktop's own code
(`cmdesk.services.snapshot.SnapshotFill`, reading the server's snapshot in-process), with the
feed cursor of the point they hold. The desktop downloads them, puts them in the place of its empty
cache (`Cache.adopt`), and goes on with the feed from that cursor. Measured: see docs/api.md.

An image never holds a secret: the top-up codes' NIPs are sealed in a desktop's cache with that
desktop's key, which the server does not have, so the entities with sealed fields (`sealed.FIELDS`)
are left out (`omitted`) and the desktop takes them from the snapshot (`only=`), sealing them itself.

The file (`<account id>.image` in the images folder): one line of JSON (the header), then one zstd
frame (with its checksum) of the cache file followed by the search file:

    {"format": "cmdesk-cache-image/1", "schema": 4, "search_mode": "fts5-trigram", "sqlite": "3.40.1",
     "cursor": "0.812",
     "account_id": "…", "entities": 250042, "omitted": ["top_up_code"], "sizes": [434393088, 94687232],
     "built_at": "2026-12-06T15:00:00+00:00"}

Which image is served (`GET /v1/sync/cache-image`): the account's, when its schema and search mode are
the desktop's and fewer than `cache_image_max_changes` changes were made after its cursor (the feed
brings those); otherwise 404 `cache_image_unavailable`, and the desktop fills its cache from the
snapshot. An account with at least `cache_image_min_entities` entities whose image is missing, of
another schema, too far behind, or `cache_image_refresh_changes` behind and older than
`cache_image_min_age_minutes` gets a new one built in the background (a build costs about a desktop's
first sync from the snapshot: a busy account is not rebuilt every few minutes); the one being
replaced is served meanwhile. `cmdesk-server cache-images` builds them at once (a nightly
task, or after an upgrade).

Consistency: the image is what the desktop's fill leaves from one snapshot (its cursor exact, see
`cmdesk.server.feed`), so the image followed by the feed from its cursor is the server's state, as
the snapshot followed by the feed is. The omitted entities come from a later snapshot; the feed from
the image's (earlier) cursor brings again any change made between the two, in order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cmdesk.models.sync import ChangeLog
from cmdesk.server import feed, snapshot

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

log = logging.getLogger(__name__)

FORMAT = "cmdesk-cache-image/1"
MEDIA_TYPE = "application/octet-stream"
SUFFIX = ".image"
# zstd level 1: the benchmark's 505 MB of cache files make 126 MB in 1.1 s and read back in 0.9 s;
# level 3 made 111 MB in 1.9 s and read back in 1.1 s (the download is rarely the slow part).
ZSTD_LEVEL = 1
_ZSTD_OPTIONS: dict[int, int] = {
    zstd.CompressionParameter.compression_level: ZSTD_LEVEL,
    zstd.CompressionParameter.checksum_flag: 1,
}
COPY_BYTES = 4 * 2**20
# A build that has not finished in this long is taken for dead (its lock file is removed).
BUILD_STALE_SECONDS = 3600.0
# A build that failed is not tried again for the same account before this long.
RETRY_AFTER_SECONDS = 600.0


@dataclass(frozen=True)
class Image:
    """An image on disk and its header."""

    path: Path
    header: Mapping[str, Any]

    @property
    def cursor(self) -> str:
        return str(self.header.get("cursor") or "")

    def age(self) -> dt.timedelta:
        try:
            built = dt.datetime.fromisoformat(str(self.header.get("built_at")))
        except ValueError:
            return dt.timedelta.max
        return dt.datetime.now(dt.UTC) - built

    def fits(self, schema: int, search_mode: str) -> bool:
        """Whether a desktop with this cache schema and search mode can take it."""
        return self.header.get("schema") == schema and self.header.get("search_mode") == search_mode


def default_folder(database_url: str) -> Path:
    """`cache-images` beside a SQLite database file, else in the server's data folder."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "cache-images"
    from platformdirs import user_data_path

    return user_data_path("cmdesk", "Induxsoft", roaming=False) / "server" / "cache-images"


def path_of(folder: Path, account_id: str) -> Path:
    return folder / f"{account_id}{SUFFIX}"


def read_header(path: Path) -> dict[str, Any] | None:
    """The header of the image at `path` (None when there is none, or it is not an image)."""
    try:
        with path.open("rb") as file:
            line = file.readline(64 * 1024)
    except OSError:
        return None
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None
    return header


def current(folder: Path, account_id: str) -> Image | None:
    path = path_of(folder, account_id)
    header = read_header(path)
    return None if header is None else Image(path, header)


def changes_after(session: Session, account_id: str, cursor: str, limit: int) -> int:
    """How many changes of `account_id` the feed has after `cursor`, counting up to `limit`
    (more than `limit`: `limit + 1`)."""
    page = feed.read(session, account_id, cursor, limit)
    return len(page.changes) + (1 if page.has_more else 0)


def large_accounts(session: Session, min_entities: int) -> list[str]:
    """The accounts with at least `min_entities` change rows (what `cmdesk-server cache-images` builds)."""
    stmt = (
        select(ChangeLog.account_id)
        .group_by(ChangeLog.account_id)
        .having(func.count() >= min_entities)
        .order_by(ChangeLog.account_id)
    )
    return [str(account) for account in session.execute(stmt).scalars()]


def account_size(session: Session, account_id: str) -> int:
    """The account's change rows: an upper bound of its entities, cheap (the feed's index)."""
    stmt = select(func.count()).select_from(ChangeLog).where(ChangeLog.account_id == account_id)
    return int(session.execute(stmt).scalar_one())


# ---- building -----------------------------------------------------------------------------------------


class _Response:
    """The server's own snapshot, read as `SnapshotFill` reads a response."""

    def __init__(self, body: Iterator[bytes]) -> None:
        self._body = body

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        yield from self._body

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


class _LocalApi:
    """What `SnapshotFill` asks of the API client, answered from the database in this process."""

    def __init__(self, engine: Engine, account_id: str, omitted: list[str]) -> None:
        self.engine = engine
        self.account_id = account_id
        self.omitted = omitted

    def stream(self, path: str, headers: Any = None, params: Any = None) -> _Response:
        from cmdesk.server.api.sync import _fallback, feed_loaders

        after = snapshot.parse_after((params or {}).get("after"))
        loaders = {entity: load for entity, load in feed_loaders().items() if entity not in self.omitted}
        body = snapshot.stream(self.engine, self.account_id, loaders, after=after, default=_fallback)
        return _Response(body)


def build(engine: Engine, account_id: str, folder: Path) -> Image:
    """Build the image of `account_id` into `folder` (it takes the old one's place when complete)."""
    from cmdesk.services import paths
    from cmdesk.services.cache import Cache, schema, sealed, store
    from cmdesk.services.snapshot import SnapshotFill

    paths.private_folder(folder)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{account_id}-", dir=folder))
    try:
        path = work / "cache.sqlite3"
        cache = Cache(path)
        try:
            # No key: a sealed field is dropped (and its entity left out below), never kept plain.
            cache._sealer = sealed.Sealer(None)
            omitted = sorted(sealed.FIELDS)  # not even read (see the module docstring)
            report = SnapshotFill(_LocalApi(engine, account_id, omitted), cache).run()  # type: ignore[arg-type]
            with cache.bulk_transaction(immediate=True) as conn:
                conn.execute("DELETE FROM meta WHERE key IN ('last_sync_at', 'account_id', 'catalog')")
                # A desktop takes the cache complete once it has what was left out (`IMAGE_CURSOR`).
                conn.execute("DELETE FROM meta WHERE key = 'cursor'")
                held = orjson.dumps(omitted).decode()
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [(store.IMAGE_CURSOR, report.cursor), (store.IMAGE_OMITTED, held)],
                )
                entities = int(conn.execute("SELECT count(*) FROM entities").fetchone()[0])
        finally:
            cache.close()
        _checkpoint(path)
        search = cache.search_path
        sizes = [path.stat().st_size, search.stat().st_size]
        header = {
            "format": FORMAT,
            "schema": schema.SCHEMA_VERSION,
            "search_mode": schema.SEARCH_MODE,
            # The SQLite that wrote the files: a desktop with an older one takes the snapshot instead.
            "sqlite": sqlite3.sqlite_version,
            "cursor": report.cursor,
            "account_id": account_id,
            "entities": entities,
            "omitted": omitted,
            "sizes": sizes,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        packed = work / "packed"
        with packed.open("wb") as out:
            out.write(orjson.dumps(header) + b"\n")
            compressor = zstd.ZstdCompressor(options=_ZSTD_OPTIONS)
            for part in (path, search):
                with part.open("rb") as source:
                    while data := source.read(COPY_BYTES):
                        out.write(compressor.compress(data))
            out.write(compressor.flush())
        # The account's data: readable by the server's user only, as the database is.
        paths.private_file(packed)
        target = path_of(folder, account_id)
        _replace(packed, target)
        log.info(
            "cache image of %s: %d entities, %.0f MB in %.1f s",
            account_id,
            entities,
            target.stat().st_size / 1e6,
            time.perf_counter() - started,
        )
        return Image(target, header)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _replace(source: Path, target: Path, wait: float = 120.0) -> None:
    """`os.replace`, waiting while the old image is being sent (Windows refuses to replace an open
    file; elsewhere the download goes on with the old one)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _checkpoint(path: Path) -> None:
    """Everything of the closed cache at `path` in its two files (no WAL left beside them)."""
    from cmdesk.services.cache import files

    for file in (path, files.search_path(path)):
        conn = sqlite3.connect(file, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                file.with_name(file.name + suffix).unlink()


# ---- building in the background --------------------------------------------------------------------------


class Builder:
    """Builds images in the background, one at a time in this process; a lock file in the folder keeps
    two processes (the workers of a server) from building the same account's at once."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self.engine = engine
        self.folder = folder
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._queue: list[str] = []
        # When an account's last build failed (a full disk, a lost database): not tried again before
        # RETRY_AFTER_SECONDS, or every first sync of the account would start a build that fails.
        self._failed: dict[str, float] = {}

    def request(self, account_id: str) -> None:
        with self._lock:
            if account_id in self._queue:
                return
            if time.monotonic() - self._failed.get(account_id, -RETRY_AFTER_SECONDS) < RETRY_AFTER_SECONDS:
                return
            self._queue.append(account_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cmdesk-cache-images", daemon=True)
                self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the builds requested so far (tests, the CLI)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                account_id = self._queue[0]
            try:
                with build_lock(self.folder, account_id) as acquired:
                    if acquired:
                        build(self.engine, account_id, self.folder)
                self._failed.pop(account_id, None)
            except Exception:
                log.exception("building the cache image of %s failed", account_id)
                self._failed[account_id] = time.monotonic()
            finally:
                with self._lock:
                    self._queue.remove(account_id)


@contextlib.contextmanager
def build_lock(folder: Path, account_id: str) -> Iterator[bool]:
    """Whether this process may build the account's image now (False: another one is building it)."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / f"{account_id}.building"
    with contextlib.suppress(OSError):
        if time.time() - lock.stat().st_mtime > BUILD_STALE_SECONDS:
            lock.unlink()
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        yield False
        return
    os.close(fd)
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def choose(
    session: Session,
    account_id: str,
    folder: Path,
    *,
    schema: int,
    search_mode: str,
    max_changes: int,
    refresh_changes: int,
    min_entities: int,
    min_age: dt.timedelta = dt.timedelta(0),
) -> tuple[Image | None, bool]:
    """(the image to serve, or None; whether a new one should be built) for a desktop's request.
    Nothing is built for a desktop whose cache differs from the one this server's code makes."""
    from cmdesk.services.cache import schema as cache_schema

    ours = schema == cache_schema.SCHEMA_VERSION and search_mode == cache_schema.SEARCH_MODE
    image = current(folder, account_id)
    if image is not None and image.fits(schema, search_mode):
        behind = changes_after(session, account_id, image.cursor, max_changes)
        if behind > max_changes:
            return None, ours
        return image, ours and behind > refresh_changes and image.age() >= min_age
    return None, ours and account_size(session, account_id) >= min_entities
