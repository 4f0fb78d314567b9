"""The download manager: this desk's queue of Software downloads into the (maybe shared) file store.

    manager = DownloadManager(api, FileStore(folder), queue_path=server_folder / "downloads.sqlite3")
    manager.subscribe(on_status)        # DownloadStatus events, from worker threads
    manager.start()                     # workers; the queue left by the last run goes on by itself
    manager.enqueue(info)               # the Software tab's "Descargar"
    manager.pause(info.id) / resume / cancel / retry
    path = manager.fetch(info)          # blocking: the verified file (self-update uses this)
    manager.shutdown()

Two ways in, one path through: `enqueue` puts the file in the persisted queue, where up to
`parallel` worker threads take them in order; `fetch` runs the same steps in the caller's thread
and returns the verified file (or raises `DownloadError` with a Spanish reason). Each download:
the store's lock (waiting while another desk downloads the same file, and taking the file once it
is verified there), a `Transfer` that resumes the partial, then publishing by rename.

Events are `DownloadStatus` values, emitted on state changes and, while bytes arrive, at most once
every `progress_interval` seconds per download (10 a second by default). They come from worker
threads: a UI marshals them to its own thread.

Stopping: `pause` keeps the partial and the queue row (paused); `cancel` deletes the partial and the
row; `shutdown` keeps both as queued, so the next start resumes them. A killed process leaves the
same (its lock goes stale and the partial is resumed).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cmdesk.services.downloads import queue as q
from cmdesk.services.downloads.models import (
    ACTIVE_STATES,
    MSG_FOLDER,
    DownloadError,
    DownloadState,
    DownloadStatus,
    FileInfo,
    Stopped,
    os_error_text,
)
from cmdesk.services.downloads.store import FileStore, HeldLock, LockOwner
from cmdesk.services.downloads.transfer import CHUNK_SIZE, RateLimiter, RetryPolicy, Streamer, Transfer

log = logging.getLogger(__name__)

Listener = Callable[[DownloadStatus], None]

MSG_STOPPED = "Se interrumpió la descarga."
MSG_UNEXPECTED = (
    "Ocurrió un error inesperado al descargar el archivo; el registro de cmdesk tiene el detalle."
)
MSG_GONE = "El archivo guardado estaba dañado o ya no está en la carpeta; descárguelo de nuevo."
SPEED_WINDOW = 3.0
SAVE_EVERY = 2.0  # seconds between writes of the received count to the queue


@dataclass(eq=False)
class _Job:
    info: FileInfo
    state: DownloadState
    received: int = 0
    error: str | None = None
    other_host: str | None = None
    path: Path | None = None
    foreground: bool = False
    running: bool = False
    pause: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    samples: deque[tuple[float, int]] = field(default_factory=deque)
    last_emit: float = 0.0
    last_save: float = 0.0
    listener: Listener | None = None


class DownloadManager:
    def __init__(
        self,
        api: Streamer,
        store: FileStore,
        *,
        queue_path: Path | None = None,
        parallel: int = 2,
        rate_limit: int | None = None,
        max_bytes: int | None = None,
        policy: RetryPolicy | None = None,
        progress_interval: float = 0.1,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.api = api
        self.store = store
        self.queue = q.DownloadQueue(queue_path) if queue_path is not None else None
        self.limiter = RateLimiter(rate_limit)
        self.policy = policy or RetryPolicy()
        self.progress_interval = progress_interval
        self.chunk_size = chunk_size
        self.max_bytes = max_bytes
        self._parallel = max(1, parallel)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._jobs: dict[str, _Job] = {}  # the queue, in order (background jobs only)
        self._workers: dict[int, threading.Thread] = {}
        self._listeners: list[Listener] = []
        self._closing = threading.Event()
        self._superseded: set[str] = set()
        self._started = False

    # ---- life -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the queue left by the last run and start the workers (queued rows go on by themselves)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for row in self.queue.rows() if self.queue is not None else []:
                state = {
                    q.QUEUED: DownloadState.QUEUED,
                    q.PAUSED: DownloadState.PAUSED,
                    q.FAILED: DownloadState.FAILED,
                }.get(row.state, DownloadState.QUEUED)
                self._jobs[row.info.id] = _Job(row.info, state, received=row.received, error=row.error)
            self._spawn_workers()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every download (kept as queued, resumed at the next start) and close the files."""
        self._closing.set()
        with self._wake:
            self._wake.notify_all()
            workers = list(self._workers.values())
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self.store.close()
        if self.queue is not None:
            self.queue.close()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    # ---- settings ---------------------------------------------------------------------------------------

    @property
    def parallel(self) -> int:
        return self._parallel

    def set_parallel(self, n: int) -> None:
        with self._wake:
            self._parallel = max(1, int(n))
            if self._started:
                self._spawn_workers()
            self._wake.notify_all()

    def set_rate_limit(self, bytes_per_second: int | None) -> None:
        self.limiter.set_rate(bytes_per_second)

    def set_max_bytes(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes

    def set_superseded(self, superseded: Iterable[str]) -> None:
        """What the catalog says, for eviction: the SHA-256s of files a newer version replaced."""
        with self._lock:
            self._superseded = set(superseded)

    # ---- events -----------------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, status: DownloadStatus, job: _Job | None = None) -> None:
        targets = [job.listener] if job is not None and job.listener is not None else []
        if job is None or not job.foreground:
            with self._lock:
                targets += list(self._listeners)
        for listener in targets:
            try:
                listener(status)
            except Exception:
                log.exception("a download listener failed")

    def _status(self, job: _Job) -> DownloadStatus:
        speed = 0.0
        samples = job.samples
        if len(samples) >= 2 and samples[-1][0] - samples[0][0] >= 0.2:
            speed = max(0.0, (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0]))
        left = max(0, job.info.size - job.received)
        eta = left / speed if speed > 0 and job.state == DownloadState.DOWNLOADING else None
        return DownloadStatus(
            file_id=job.info.id,
            state=job.state,
            received=job.received,
            total=job.info.size,
            speed=speed if job.state == DownloadState.DOWNLOADING else 0.0,
            eta=eta,
            error=job.error,
            path=job.path,
            other_host=job.other_host,
        )

    def _set(self, job: _Job, state: DownloadState, *, error: str | None = None) -> None:
        with self._lock:
            job.state = state
            job.error = error
            job.samples.clear()
            job.last_emit = time.monotonic()
            status = self._status(job)
        self._emit(status, job)

    def _progress(self, job: _Job, received: int) -> None:
        now = time.monotonic()
        with self._lock:
            job.received = received
            job.samples.append((now, received))
            while len(job.samples) > 2 and now - job.samples[0][0] > SPEED_WINDOW:
                job.samples.popleft()
            if now - job.last_emit < self.progress_interval:
                return
            job.last_emit = now
            status = self._status(job)
            save = not job.foreground and now - job.last_save >= SAVE_EVERY
            if save:
                job.last_save = now
        if save and self.queue is not None:
            with contextlib.suppress(Exception):
                self.queue.set_received(job.info.id, received)
        self._emit(status, job)

    # ---- what the UI asks -------------------------------------------------------------------------------

    def status(self, info: FileInfo) -> DownloadStatus:
        """Where `info` stands (reads the store: call it off the UI thread)."""
        with self._lock:
            job = self._jobs.get(info.id)
            if job is not None and job.state != DownloadState.AVAILABLE:
                return self._status(job)
        path = self.store.available(info)
        if path is not None:
            return DownloadStatus(
                info.id,
                DownloadState.AVAILABLE,
                received=info.size,
                total=info.size,
                path=path,
                pinned=self.store.is_pinned(info),
            )
        return DownloadStatus(info.id, DownloadState.NOT_DOWNLOADED, total=info.size)

    def statuses(self, infos: Iterable[FileInfo]) -> dict[str, DownloadStatus]:
        return {info.id: self.status(info) for info in infos}

    def enqueue(self, info: FileInfo) -> DownloadStatus:
        """Descargar: queue `info` (nothing happens if it is already queued or available)."""
        with self._lock:
            job = self._jobs.get(info.id)
            if job is not None and (job.running or job.state in ACTIVE_STATES):
                return self._status(job)
        if self.store.available(info) is not None:
            return self.status(info)
        if self.queue is not None:
            row = self.queue.add(info)
            received = row.received
        else:
            received = 0
        with self._wake:
            job = self._jobs.get(info.id)
            if job is None or not job.running:
                job = _Job(info, DownloadState.QUEUED, received=received)
                self._jobs[info.id] = job
            else:
                job.pause.clear()
            job.state = DownloadState.QUEUED
            job.error = None
            self._wake.notify_all()
            status = self._status(job)
        self._emit(status)
        return status

    def pause(self, file_id: str) -> None:
        with self._lock:
            job = self._jobs.get(file_id)
            if job is None or job.state not in ACTIVE_STATES:
                return
            job.pause.set()
        if self.queue is not None:
            self.queue.set_state(file_id, q.PAUSED, received=job.received)
        self._set(job, DownloadState.PAUSED)

    def resume(self, file_id: str) -> None:
        """Reanudar (a paused download) or Reintentar (a failed one)."""
        with self._wake:
            job = self._jobs.get(file_id)
            if job is None or job.state not in (DownloadState.PAUSED, DownloadState.FAILED):
                return
            job.pause.clear()
            job.cancel.clear()
            # Still stopping (paused a moment ago): the worker simply goes on.
            state = DownloadState.DOWNLOADING if job.running else DownloadState.QUEUED
        if self.queue is not None:
            self.queue.add(job.info)
        self._set(job, state)
        with self._wake:
            self._wake.notify_all()

    retry = resume

    def cancel(self, file_id: str) -> None:
        """Cancelar: stop, and forget the bytes received (the partial is deleted)."""
        with self._lock:
            job = self._jobs.get(file_id)
            if job is None:
                return
            job.cancel.set()
            running = job.running
            if not running:
                self._jobs.pop(file_id, None)
        if not running:
            self._forget(job)

    def _forget(self, job: _Job) -> None:
        """A cancelled download: its row, and its partial if no other desk is writing it."""
        if self.queue is not None:
            self.queue.remove(job.info.id)
        lock = self.store.try_lock(job.info.key)
        if lock is not None:
            try:
                with contextlib.suppress(OSError):
                    self.store.partial_path(job.info).unlink(missing_ok=True)
            finally:
                lock.release()
        job.received = 0
        self._set(job, DownloadState.NOT_DOWNLOADED)

    def verify(self, info: FileInfo) -> bool:
        """Hash the stored file again; a damaged one is discarded (and shown as not downloaded)."""
        ok = self.store.available(info, full=True) is not None
        if not ok:
            self._emit(DownloadStatus(info.id, DownloadState.NOT_DOWNLOADED, total=info.size))
        return ok

    def open_for_use(self, info: FileInfo, lease_seconds: float = 3600.0) -> Path:
        """The verified file, hashed again and marked in use for `lease_seconds` (running an installer
        from it): never a damaged file. Raises `DownloadError` when it is not there (any more)."""
        path = self.store.available(info, full=True)
        if path is None:
            self._emit(DownloadStatus(info.id, DownloadState.NOT_DOWNLOADED, total=info.size))
            raise DownloadError(MSG_GONE)
        self.store.lease(info, lease_seconds)
        self.store.touch_used(info)
        return path

    def remove(self, info: FileInfo) -> None:
        """Delete a downloaded file from the folder (refused while in use)."""
        self.store.remove(info)
        self._emit(DownloadStatus(info.id, DownloadState.NOT_DOWNLOADED, total=info.size))

    def set_pinned(self, info: FileInfo, pinned: bool) -> None:
        self.store.set_pinned(info, pinned)
        self._emit(self.status(info))

    def evict(self) -> list[str]:
        """Apply the size limit now; returns the SHA-256s removed."""
        if not self.max_bytes:
            return []
        with self._lock:
            superseded = set(self._superseded)
            keep = {j.info.sha256 for j in self._jobs.values() if j.running}
        removed = self.store.evict(self.max_bytes, superseded=superseded, keep=keep)
        return [e.sha256 for e in removed]

    # ---- fetch: the blocking way in ---------------------------------------------------------------------

    def fetch(
        self,
        info: FileInfo,
        *,
        on_status: Listener | None = None,
        lease_seconds: float | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """The verified file of `info`, downloading it if needed (blocking, in the caller's thread).
        A stored copy is hashed again first; a damaged one is downloaded again. Raises
        `DownloadError` (Spanish reason) when it cannot be had."""
        path = self.store.available(info, full=True)
        if path is None:
            job = _Job(info, DownloadState.QUEUED, foreground=True, listener=on_status)
            if cancel is not None:
                job.cancel = cancel
            try:
                path = self._execute(job)
            except Stopped:
                raise DownloadError(MSG_STOPPED) from None
            except OSError as exc:
                raise DownloadError(MSG_FOLDER.format(error=os_error_text(exc))) from exc
            job.path = path
            job.received = info.size
            self._set(job, DownloadState.AVAILABLE)
            self._emit(self.status(info))
        self.store.touch_used(info)
        if lease_seconds:
            self.store.lease(info, lease_seconds)
        return path

    # ---- the workers ------------------------------------------------------------------------------------

    def _spawn_workers(self) -> None:
        # Caller holds the lock.
        for index in range(self._parallel):
            worker = self._workers.get(index)
            if worker is None or not worker.is_alive():
                worker = threading.Thread(
                    target=self._work, args=(index,), name=f"cmdesk-download-{index}", daemon=True
                )
                self._workers[index] = worker
                worker.start()

    def _next(self, index: int) -> _Job | None:
        with self._wake:
            while True:
                if self._closing.is_set() or index >= self._parallel:
                    return None
                # The limit counts running downloads, not workers: a worker lowered out of the limit
                # finishes its download while the others wait.
                running = sum(1 for j in self._jobs.values() if j.running)
                job = None
                if running < self._parallel:
                    job = next(
                        (j for j in self._jobs.values() if j.state == DownloadState.QUEUED and not j.running),
                        None,
                    )
                if job is not None:
                    job.running = True
                    job.done.clear()
                    return job
                self._wake.wait(0.5)

    def _work(self, index: int) -> None:
        while (job := self._next(index)) is not None:
            try:
                self._run_job(job)
            except Exception:
                log.exception("download worker failed")
            finally:
                with self._wake:
                    job.running = False
                    job.done.set()
                    self._wake.notify_all()

    def _run_job(self, job: _Job) -> None:
        info = job.info
        try:
            path = self._execute(job)
        except Stopped as stopped:
            self._stopped(job, stopped.reason)
            return
        except DownloadError as error:
            log.info("download of %s failed: %s", info.file_name, error)
            if self.queue is not None:
                self.queue.set_state(info.id, q.FAILED, error=error.message, received=job.received)
            self._set(job, DownloadState.FAILED, error=error.message)
            return
        except Exception as exc:
            log.exception("download of %s failed", info.file_name)
            message = (
                MSG_FOLDER.format(error=os_error_text(exc)) if isinstance(exc, OSError) else MSG_UNEXPECTED
            )
            if self.queue is not None:
                self.queue.set_state(info.id, q.FAILED, error=message, received=job.received)
            self._set(job, DownloadState.FAILED, error=message)
            return
        if self.queue is not None:
            self.queue.remove(info.id)
        with self._lock:
            job.path = path
            job.received = info.size
            if self._jobs.get(info.id) is job:
                del self._jobs[info.id]
        self._set(job, DownloadState.AVAILABLE)
        try:
            self.evict()
        except OSError:
            log.warning("could not apply the size limit of the download folder", exc_info=True)

    def _stopped(self, job: _Job, reason: str) -> None:
        info = job.info
        if reason == "cancel":
            with self._lock:
                if self._jobs.get(info.id) is job:
                    del self._jobs[info.id]
            self._forget(job)
        elif reason == "pause" and not job.pause.is_set():
            # Resumed while it was stopping: back in the queue, the next free worker takes it.
            self._set(job, DownloadState.QUEUED)
        elif reason == "pause":
            if self.queue is not None:
                self.queue.set_state(info.id, q.PAUSED, received=job.received)
            self._set(job, DownloadState.PAUSED)
        else:  # shutdown (the next start goes on), or the lock was taken by another desk (wait for it)
            if self.queue is not None:
                self.queue.set_state(info.id, q.QUEUED, received=job.received)
            if reason != "shutdown":
                self._set(job, DownloadState.QUEUED)

    def _stop_reason(self, job: _Job) -> str | None:
        if job.cancel.is_set():
            return "cancel"
        if job.pause.is_set():
            return "pause"
        if self._closing.is_set():
            return "shutdown"
        return None

    def _execute(self, job: _Job) -> Path:
        """One download, start to end (any thread): the verified file's path."""
        info = job.info
        store = self.store

        def stop() -> str | None:
            return self._stop_reason(job)

        path = store.available(info)
        if path is not None:
            return path
        lock = store.acquire(info, stop=stop, on_wait=lambda owner, n: self._waiting(job, owner, n))
        if lock is None:  # another desk finished it meanwhile
            path = store.available(info)
            if path is None:
                raise DownloadError(MSG_GONE)
            return path
        try:
            return self._download(job, lock, stop)
        except Stopped as stopped:
            if stopped.reason == "cancel" and not lock.lost.is_set():
                with contextlib.suppress(OSError):
                    store.partial_path(info).unlink(missing_ok=True)
            raise
        finally:
            lock.release()

    def _download(self, job: _Job, lock: HeldLock, stop: Callable[[], str | None]) -> Path:
        info = job.info
        store = self.store

        def stop_or_lost() -> str | None:
            return "lost" if lock.lost.is_set() else stop()

        path = store.available(info)
        if path is not None:
            return path
        store.ensure_folder(info)
        if store.final_path(info).exists():
            self._set(job, DownloadState.VERIFYING)
            path = store.adopt_unmarked(lock, info, stop_or_lost)
            if path is not None:
                return path
        job.other_host = None
        job.received = store.partial_size(info)
        self._set(job, DownloadState.DOWNLOADING)
        transfer = Transfer(
            self.api,
            info,
            store.partial_path(info),
            stop=stop_or_lost,
            on_progress=lambda n: self._progress(job, n),
            limiter=self.limiter,
            policy=self.policy,
            chunk_size=self.chunk_size,
        )
        transfer.run()
        self._set(job, DownloadState.VERIFYING)
        return store.publish(lock, info, store.partial_path(info))

    def _waiting(self, job: _Job, owner: LockOwner | None, partial: int) -> None:
        if job.state in (DownloadState.PAUSED,) or job.cancel.is_set():
            return
        # An unreadable lock (being rewritten this moment) says nothing new: keep what we knew.
        host = job.other_host if owner is None else (owner.host if owner.host != self.store.host else None)
        changed = job.state != DownloadState.WAITING or job.other_host != host
        with self._lock:
            job.other_host = host
            job.received = partial
            job.state = DownloadState.WAITING
        if changed:
            self._set(job, DownloadState.WAITING)
        else:
            self._progress(job, partial)
