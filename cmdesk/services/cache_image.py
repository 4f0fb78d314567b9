"""A first sync from the server's cache image (`GET /v1/sync/cache-image`, cmdesk.server.cache_images).

For a large account the server keeps the desktop's cache ready: both files, filled by this program's
own code from one snapshot, with the feed cursor of that point. Taking it costs a download and the
decompression of the files (no entity is parsed, no row built, no index sorted here); then the cache
takes the downloaded files' place (`Cache.adopt`) and the feed goes on from the image's cursor.

    image = download(api, cache.rebuild_path(), progress)   # ImageUnavailable: use the snapshot
    cache.adopt(cache.rebuild_path())
    complete(api, cache)                                     # the entities the image leaves out

What the image leaves out (the top-up codes: their NIPs are sealed with this computer's key, which
the server does not have) comes from the snapshot limited to them (`only=`), sealed here as they are
written. The image comes with its cursor under `IMAGE_CURSOR` (and no `cursor`) until those have
arrived: a cache without its `cursor` is never taken for complete, and the next sync asks for the
left-out entities again (see `pending`).

A cut line while downloading deletes what arrived; the next sync starts the download over (a few
seconds of a fast line) or, when the server has no image any more, fills the cache from the snapshot.
A damaged download (a checksum or a size that do not match) is an invalid answer, never a cache.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from cmdesk.services.api_client import NETWORK_ERRORS, ApiClient, ApiError, OfflineError, invalid_response
from cmdesk.services.cache import Cache, files
from cmdesk.services.cache.schema import SCHEMA_VERSION, SEARCH_MODE
from cmdesk.services.cache.store import IMAGE_CURSOR, IMAGE_OMITTED

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

log = logging.getLogger(__name__)

PATH = "/v1/sync/cache-image"
SNAPSHOT_PATH = "/v1/sync/snapshot"
FORMAT = "cmdesk-cache-image/1"
READ_BYTES = 1024 * 1024
# Decompressed pieces (~4 MB each) waiting for the writer.
WRITE_AHEAD = 8
MAX_HEADER = 64 * 1024

Progress = Callable[[int, int, str], None]


class ImageUnavailable(Exception):
    """The server has no image for this cache (none ready, too old, another schema, an older server)."""


def progress_text(done: int, total: int) -> str:
    """"Descargando la copia de la cuenta: 45 de 132 MB" (a decimal below 10 MB)."""
    digits = 1 if total < 10_000_000 else 0
    return f"Descargando la copia de la cuenta: {done / 1e6:,.{digits}f} de {total / 1e6:,.{digits}f} MB"


def download(api: ApiClient, target: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Download the account's image into closed cache files at `target` (and its search file); returns
    the image's header. Raises `ImageUnavailable`, `OfflineError` (nothing is left at `target`) or
    `ApiError`."""
    files.delete_files(target)
    params = {"schema": SCHEMA_VERSION, "search": SEARCH_MODE}
    try:
        response = api.stream(PATH, headers={"Accept-Encoding": "identity"}, params=params)
    except ApiError as error:
        if error.status in (404, 405, 422):
            raise ImageUnavailable() from error
        raise
    try:
        return _receive(response, target, progress)
    except BaseException:
        files.delete_files(target)
        raise
    finally:
        response.close()


class _Writer:
    """Writes the decompressed image into its two files on a thread of its own: the decompression and
    the writes each let go of Python's lock, so they overlap (505 MB: 0.9 s instead of 1.3–1.7 s)."""

    def __init__(self, paths: list[Path], sizes: list[int]) -> None:
        self.sizes = sizes
        self.written = [0, 0]
        self._paths = paths
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=WRITE_AHEAD)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cmdesk-image-write", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        """Wait for every write; raises what a write raised (a full disk)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        index = 0
        out = self._paths[0].open("wb")
        try:
            while (data := self._queue.get()) is not None:
                if self._error is not None:
                    continue  # drained until close()
                view = memoryview(data)
                while view:
                    room = self.sizes[index] - self.written[index]
                    if room <= 0:
                        if index == 1:
                            raise invalid_response()  # more than the header said
                        out.close()
                        index, out = 1, self._paths[1].open("wb")
                        continue
                    part = view[:room]
                    out.write(part)
                    self.written[index] += len(part)
                    view = view[len(part) :]
            if index == 0:  # the search file is empty (or nothing came after the cache's)
                out.close()
                out = self._paths[1].open("wb")
        except BaseException as exc:
            self._error = exc
            while self._queue.get() is not None:
                pass
        finally:
            out.close()


def _receive(response: Any, target: Path, progress: Progress | None) -> dict[str, Any]:
    total = int(response.headers.get("Content-Length") or 0)
    decompressor = zstd.ZstdDecompressor()
    header: dict[str, Any] | None = None
    writer: _Writer | None = None
    pending = b""
    received = 0
    last_told = 0.0
    try:
        try:
            for data in response.iter_content(chunk_size=READ_BYTES):
                received += len(data)
                if writer is None:
                    pending += data
                    end = pending.find(b"\n")
                    if end < 0:
                        if len(pending) > MAX_HEADER:
                            raise invalid_response()
                        continue
                    header = _header(pending[:end])
                    writer = _Writer([target, files.search_path(target)], [int(n) for n in header["sizes"]])
                    data, pending = pending[end + 1 :], b""
                if decompressor.eof:
                    raise invalid_response()  # bytes after the frame
                writer.put(decompressor.decompress(data))
                now = time.monotonic()
                if progress is not None and now - last_told >= 0.25:
                    last_told = now
                    progress(received, max(total, received), progress_text(received, max(total, received)))
        finally:
            if writer is not None:
                writer.close()
    except zstd.ZstdError:
        raise invalid_response() from None
    except NETWORK_ERRORS as exc:
        raise OfflineError(maybe_sent=True) from exc
    if header is None or writer is None or not decompressor.eof:
        raise OfflineError(maybe_sent=True)  # it ended early: a cut line the server closed cleanly
    if writer.written != writer.sizes:
        raise invalid_response()
    if progress is not None:
        progress(received, max(total, received), progress_text(received, max(total, received)))
    return header


def _version(text: object) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return (0,)


def _header(line: bytes) -> dict[str, Any]:
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise invalid_response() from None
    if (
        not isinstance(header, dict)
        or header.get("format") != FORMAT
        or header.get("schema") != SCHEMA_VERSION
        or header.get("search_mode") != SEARCH_MODE
        or not isinstance(header.get("cursor"), str)
        or not isinstance(header.get("sizes"), list)
        or len(header["sizes"]) != 2
        or not all(isinstance(size, int) and size >= 0 for size in header["sizes"])
    ):
        raise invalid_response()
    if _version(header.get("sqlite", "0")) > _version(sqlite3.sqlite_version):
        # Files a newer SQLite wrote may use what this one cannot read (its search index's format).
        log.info("cache image of SQLite %s (this one: %s)", header["sqlite"], sqlite3.sqlite_version)
        raise ImageUnavailable()
    return header


def pending(cache: Cache) -> bool:
    """Whether the cache is an adopted image whose left-out entities have not arrived yet."""
    return cache.get_meta(IMAGE_CURSOR) is not None


def complete(api: ApiClient, cache: Cache) -> set[str]:
    """Bring what the adopted image left out, then set its cursor (one transaction); the entities
    that changed. Raises `OfflineError` (the next sync asks again) or `ApiError`."""
    cursor = cache.get_meta(IMAGE_CURSOR)
    if cursor is None:
        return set()
    try:
        omitted = [str(e) for e in orjson.loads(cache.get_meta(IMAGE_OMITTED) or "[]")]
    except orjson.JSONDecodeError:
        omitted = []
    changes = _snapshot_of(api, omitted) if omitted else []
    return cache.complete_image(changes, cursor)


def _snapshot_of(api: ApiClient, entities: list[str]) -> list[dict[str, Any]]:
    """The snapshot limited to `entities`, as feed changes (its entities, then its tail)."""
    params = {"only": ",".join(sorted(entities))}
    response = api.stream(SNAPSHOT_PATH, headers={"Accept-Encoding": "zstd, gzip"}, params=params)
    try:
        body = b"".join(response.iter_content(chunk_size=READ_BYTES))
    except NETWORK_ERRORS as exc:
        raise OfflineError(maybe_sent=True) from exc
    finally:
        response.close()
    changes: list[dict[str, Any]] = []
    tail: list[dict[str, Any]] = []
    ended = False
    for line in body.split(b"\n"):
        if not line:
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise invalid_response() from None
        if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict) and "id" in value[1]:
            entity, data = value
            if entity in entities:
                version = data.get("version")
                changes.append({"entity": entity, "id": str(data["id"]), "version": version, "data": data})
        elif isinstance(value, dict) and isinstance(value.get("change"), dict):
            tail.append(value["change"])
        elif isinstance(value, dict) and value.get("end"):
            ended = True
    if not ended:
        raise OfflineError(maybe_sent=True)
    return changes + tail
