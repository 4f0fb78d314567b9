"""Filling a cache in bulk (issue 20): what the snapshot's loader (`cmdesk.services.snapshot`) and a
cache image (`cmdesk.services.cache_image`) need of the store — a transaction of the writer for a
bulk fill, another connection for the search index, fewer checkpoints while the file grows — and
taking the place of a cache with the files of another one (`adopt`)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cmdesk.services import storage
from cmdesk.services.cache import files
from cmdesk.services.cache.rows import TYPED_ENTITIES
from cmdesk.services.cache.schema import BULK_AUTOCHECKPOINT
from cmdesk.services.cache.store import IMAGE_KEYS, CacheStore

log = logging.getLogger(__name__)

# Meta keys of the cache a rebuild or an image replaces that the new files keep (see `adopt`).
KEPT_ON_ADOPT = ("account_id", "catalog")


class BulkFills(CacheStore):
    def rebuild_path(self) -> Path:
        """Where a rebuild fills a cache of its own before it takes this one's place (`adopt`)."""
        return files.rebuild_path(self.path)

    def adopt(self, source: Path) -> None:
        """Go on with the files of another cache, closed (a rebuild filled them while the views read
        these, or a cache image was downloaded into them), in the place of this one's. This cache's
        files go first, its WAL with them: a stop midway leaves the old cache, the new one, or none
        (the next sync fills it), never a mix. The account it belongs to and the catalog stay. The new
        files are not read whole again (`quick_check`): this program just wrote and closed them."""
        with self._write_lock, self._read_lock:
            entities = {row[0] for row in self._reader.execute("SELECT DISTINCT entity FROM entities")}
            marks = ",".join("?" for _ in KEPT_ON_ADOPT)
            kept = self._reader.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", KEPT_ON_ADOPT)
            kept_meta = kept.fetchall()
            self._reader.close()
            self._writer.close()
            files.delete_files(self.path)
            files.move_files(source, self.path)
            self._writer = self._open_writer(check=False)
            self._reader = self._connect()
            entities |= {row[0] for row in self._reader.execute("SELECT DISTINCT entity FROM entities")}
        with self._write() as conn:
            for key, value in kept_meta:
                self._set_meta(conn, key, value)
        self._notify({*TYPED_ENTITIES, *entities})

    def complete_image(self, changes: Sequence[Mapping[str, Any]], cursor: str) -> set[str]:
        """An adopted cache image gets what it left out (`cmdesk.services.cache_image`) and, in the
        same transaction, its cursor: from then on the cache is complete."""
        with self._write() as conn:
            changed = self._apply(conn, changes, guard=False) if changes else set()
            self._set_meta(conn, "cursor", cursor)
            for key in IMAGE_KEYS:
                self._set_meta(conn, key, None)
        self._notify(changed)
        return changed

    @contextlib.contextmanager
    def bulk_transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """A transaction of the writer connection for a bulk fill, without the generation count of
        `_write` (the fill keeps the search index in step itself). `BEGIN` locks the cache's file
        only, when it first writes: the search file stays free for the connection that builds the
        index meanwhile; `immediate` locks both files at once (for what writes the search file)."""
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        with self._write_lock, self._storage(), self._transaction(self._writer, begin):
            yield self._writer

    def extra_connection(self, main_cache_kb: int, search_cache_kb: int) -> sqlite3.Connection:
        """Another connection to both files (the search index built on a thread of its own)."""
        return self._connect(main_cache_kb=main_cache_kb, search_cache_kb=search_cache_kb)

    def notify(self, changed: set[str]) -> None:
        """Tell the listeners what a bulk fill changed (the views show the rows already there)."""
        self._notify(changed)

    def begin_bulk_writes(self) -> None:
        """Filling an empty cache in bulk (a snapshot): fewer, larger checkpoints, and no fsync until
        `end_bulk_writes`. A program stopped midway loses nothing (what was committed is with the OS);
        a power cut may damage the file, which the next opening finds (the `.open` marker makes it
        check) and makes anew: it was being filled, the next sync fills it again. Measured on the
        benchmark's 250,000 entities (2 cores under load): the fill's COMMITs and checkpoints took
        ~15 % of the writer's time with fsyncs."""
        with self._write_lock:
            self._writer.execute(f"PRAGMA wal_autocheckpoint = {BULK_AUTOCHECKPOINT}")
            self._writer.execute("PRAGMA main.synchronous = OFF")

    def end_bulk_writes(self) -> None:
        """Back to ordinary checkpoints and fsyncs after a bulk fill (see `apply_page`,
        `begin_bulk_writes`); the checkpoint then makes what the fill wrote durable."""
        with self._write_lock:
            self._writer.execute("PRAGMA main.synchronous = NORMAL")
            self._writer.execute("PRAGMA wal_autocheckpoint = 1000")
            try:
                self._writer.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                # Everything is committed in the WAL already; a later checkpoint moves it.
                if not storage.is_disk_full(exc, self.path.parent):
                    raise
                log.warning("checkpoint after a bulk fill put off: the disk is full")
