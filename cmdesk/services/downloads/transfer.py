"""One file's bytes from the server into its partial file: resume, retries, bandwidth cap, SHA-256.

The server (`GET /v1/software/files/{id}`) answers ranges with its SHA-256 as a strong ETag. A
transfer continues the partial file where it ends: `Range: bytes=<size of the partial>-` with
`If-Range: "<sha256>"` (if the server's bytes are not those any more it sends the whole file, 200,
and the partial starts over cleanly) and `Accept-Encoding: identity` (byte offsets are of the file
itself, never of a compressed body). The SHA-256 is computed as the bytes arrive — the partial's
existing prefix is hashed once when resuming — so the check before publishing costs no second read.

When the line drops (a reset, a read timeout, a body that ends early, a 5xx) the transfer waits
(exponential backoff with jitter, reset whenever bytes arrived) and asks again for the rest; it gives
up after `RetryPolicy.attempts` failures in a row without a byte, with a Spanish reason. A 416 (the
server has no byte past what we hold) re-verifies what is there. Writes go to explicit offsets
(`seek`, never append), so a second writer of the same partial — an owner that lost its lock while
frozen — can only write the same bytes at the same places.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import requests
import urllib3.exceptions

from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.downloads.models import (
    MSG_BAD_ANSWER,
    MSG_CHANGED,
    MSG_FOLDER,
    MSG_MISMATCH,
    MSG_NO_SPACE,
    MSG_OFFLINE,
    DownloadError,
    FileInfo,
    Stopped,
    os_error_text,
)
from cmdesk.services.downloads.store import HASH_CHUNK, StopCheck

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
MIN_CHUNK = 16 * 1024
BURST_SECONDS = 0.25
_CONTENT_RANGE_RE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+)\s*", re.IGNORECASE)

# A line that failed while the body was arriving.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


class Streamer(Protocol):
    """What a transfer needs of the API client (`ApiClient.stream`)."""

    def stream(self, path: str, headers: dict[str, str] | None = None) -> requests.Response: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8  # failures in a row, without a byte received, before giving up
    backoff: float = 0.5
    max_backoff: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.max_backoff, self.backoff * 2.0 ** max(0, failures - 1)) * random.uniform(0.8, 1.2)


class RateLimiter:
    """A bandwidth cap shared by every download of a manager (a token bucket allowing a short burst).
    `rate` in bytes per second; None or 0: no cap. The rate can change while downloads run."""

    def __init__(self, rate: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rate = rate or None
        self._tokens = 0.0
        self._last = time.monotonic()

    @property
    def rate(self) -> int | None:
        return self._rate

    def set_rate(self, rate: int | None) -> None:
        with self._lock:
            self._rate = rate if rate and rate > 0 else None
            self._tokens = 0.0
            self._last = time.monotonic()

    def chunk_size(self, default: int) -> int:
        rate = self._rate
        return default if not rate else max(MIN_CHUNK, min(default, rate // 8))

    def consume(self, n: int, stop: StopCheck) -> None:
        with self._lock:
            rate = self._rate
            if not rate:
                return
            now = time.monotonic()
            self._tokens = min(rate * BURST_SECONDS, self._tokens + (now - self._last) * rate)
            self._last = now
            self._tokens -= n
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
        _sleep(wait, stop)


def _sleep(seconds: float, stop: StopCheck) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if (reason := stop()) is not None:
            raise Stopped(reason)
        time.sleep(min(left, 0.05))


class _LineFailed(Exception):
    """The line failed (or the server had a moment): wait and ask for the rest again."""

    def __init__(self, message: str = MSG_OFFLINE) -> None:
        super().__init__(message)
        self.message = message


class Transfer:
    """Bring `partial` to the whole of `info`, its SHA-256 checked and flushed to disk (`run`)."""

    def __init__(
        self,
        api: Streamer,
        info: FileInfo,
        partial: Path,
        *,
        stop: StopCheck,
        on_progress: Callable[[int], None] | None = None,
        on_retry: Callable[[int, float, str], None] | None = None,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.api = api
        self.info = info
        self.partial = partial
        self.stop = stop
        self.on_progress = on_progress or (lambda _n: None)
        self.on_retry = on_retry or (lambda _f, _d, _m: None)
        self.limiter = limiter or RateLimiter()
        self.policy = policy or RetryPolicy()
        self.chunk_size = chunk_size
        self.requests = 0
        self.resumed_from = 0
        self.digest: Any = hashlib.sha256()  # of the partial's bytes [0, offset)
        self.offset = 0

    def run(self) -> None:
        """Raises `Stopped` (pause, cancel, shutdown: the partial is kept) or `DownloadError`."""
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        try:
            f: BinaryIO = self.partial.open("r+b", buffering=0)
        except FileNotFoundError:
            f = self.partial.open("w+b", buffering=0)
        with f:
            self._run(f)

    def _run(self, f: BinaryIO) -> None:
        info = self.info
        self._resume(f)
        self.resumed_from = self.offset
        failures = 0
        started_over = False
        while True:
            if self.offset >= info.size:
                if self.offset == info.size and self.digest.hexdigest() == info.sha256:
                    _flush(f)
                    return
                # Bytes that do not hash right (a partial damaged by a power cut, or a server sending
                # something else): one clean new try, then give up without ever publishing them.
                log.warning("%s: SHA-256 mismatch after %d bytes", info.file_name, self.offset)
                if started_over:
                    f.truncate(0)
                    raise DownloadError(MSG_MISMATCH)
                started_over = True
                self._start_over(f)
                continue
            if (reason := self.stop()) is not None:
                raise Stopped(reason)
            before = self.offset
            try:
                self._request(f)
            except _LineFailed as failed:
                # Bytes arrived before the line failed: the line works, only not for long.
                failures = 1 if self.offset > before else failures + 1
                if failures > self.policy.attempts:
                    raise DownloadError(failed.message) from None
                delay = self.policy.delay(failures)
                log.info("%s: %s; retrying in %.1f s", info.file_name, failed.message, delay)
                self.on_retry(failures, delay, failed.message)
                _sleep(delay, self.stop)
            else:
                failures = 0

    def _resume(self, f: BinaryIO) -> None:
        """Hash the bytes already in the partial (they are not asked for again)."""
        size = os.fstat(f.fileno()).st_size
        if size > self.info.size:
            self._start_over(f)
            return
        self.digest = hashlib.sha256()
        f.seek(0)
        done = 0
        while done < size:
            chunk = f.read(min(HASH_CHUNK, size - done))
            if not chunk:
                break
            self.digest.update(chunk)
            done += len(chunk)
            if (reason := self.stop()) is not None:
                raise Stopped(reason)
        self.offset = done
        if done:
            log.info("%s: resuming after %d bytes", self.info.file_name, done)

    def _start_over(self, f: BinaryIO) -> None:
        f.seek(0)
        f.truncate(0)
        self.digest = hashlib.sha256()
        self.offset = 0
        self.on_progress(0)

    def _request(self, f: BinaryIO) -> None:
        """One request for the bytes from `self.offset` on."""
        info = self.info
        headers = {"Accept-Encoding": "identity", "Accept": "*/*"}
        if self.offset > 0:
            headers["Range"] = f"bytes={self.offset}-"
            headers["If-Range"] = info.etag
        self.requests += 1
        try:
            response = self.api.stream(info.url_path, headers)
        except OfflineError as exc:
            raise _LineFailed(MSG_OFFLINE) from exc
        except ApiError as error:
            if error.status == 416:
                # The server has no byte past what we hold: check what we hold from the start.
                log.warning("%s: 416 at offset %d; verifying again", info.file_name, self.offset)
                self._reverify(f)
                return
            if error.status >= 500 or error.status in (408, 429):
                raise _LineFailed(str(error)) from error
            raise DownloadError(str(error), retryable=error.status not in (404, 410)) from error
        with response:
            etag = response.headers.get("ETag", "").strip().removeprefix("W/").strip('"')
            if etag and etag != info.sha256:
                raise DownloadError(MSG_CHANGED, retryable=False)
            if response.status_code == 206:
                match = _CONTENT_RANGE_RE.fullmatch(response.headers.get("Content-Range", ""))
                if match is None or int(match.group(3)) != info.size:
                    raise DownloadError(MSG_CHANGED, retryable=False)
                if int(match.group(1)) != self.offset:
                    raise _LineFailed(MSG_BAD_ANSWER)
            elif response.status_code == 200:
                if self.offset > 0:
                    # The whole file came (If-Range did not match, or a proxy ignored Range).
                    log.info("%s: the server sent the whole file; starting over", info.file_name)
                    self._start_over(f)
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) != info.size:
                    raise DownloadError(MSG_CHANGED, retryable=False)
            else:
                raise _LineFailed(MSG_BAD_ANSWER)
            self._receive(f, response)

    def _receive(self, f: BinaryIO, response: requests.Response) -> None:
        size = self.info.size
        f.seek(self.offset)
        raw = response.raw
        while self.offset < size:
            try:
                # read1: what has arrived, up to a chunk — never waiting to fill a whole chunk, so a
                # line cut mid-chunk loses nothing already received (read(n) would drop it).
                chunk = raw.read1(self.limiter.chunk_size(self.chunk_size), decode_content=False)
            except NETWORK_ERRORS as exc:
                log.info("%s: the line dropped after %d bytes (%s)", self.info.file_name, self.offset, exc)
                raise _LineFailed(MSG_OFFLINE) from exc
            if not chunk:
                break
            if self.offset + len(chunk) > size:
                chunk = chunk[: size - self.offset]  # never more than the file: the hash decides
            if (reason := self.stop()) is not None:
                raise Stopped(reason)
            self.limiter.consume(len(chunk), self.stop)
            _write(f, chunk)
            self.digest.update(chunk)
            self.offset += len(chunk)
            self.on_progress(self.offset)
        if self.offset < size:
            raise _LineFailed(MSG_OFFLINE)  # the body ended early

    def _reverify(self, f: BinaryIO) -> None:
        self._resume(f)
        if self.offset != self.info.size or self.digest.hexdigest() != self.info.sha256:
            self._start_over(f)


def _write(f: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            written = f.write(view)
            view = view[written:]
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise DownloadError(MSG_NO_SPACE) from exc
        raise DownloadError(MSG_FOLDER.format(error=os_error_text(exc))) from exc


def _flush(f: BinaryIO) -> None:
    """The bytes on disk before the file is published (a power cut must not publish zeros)."""
    try:
        f.flush()
        os.fsync(f.fileno())
    except OSError as exc:
        raise DownloadError(MSG_FOLDER.format(error=os_error_text(exc))) from exc
