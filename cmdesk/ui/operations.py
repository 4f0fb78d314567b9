"""Background work for the UI: the UI thread never waits on the network or the disk.

    handle = ops.run(session.sync_now, on_done=self._synced, on_error=self._sync_failed)
    ops.run(cache.all, "client", on_done=model.set_rows, pool="cache")

Two pools (as Anki does it): `"cache"` has ONE thread that never expires, so every read of the
SQLite cache happens in order on the same thread; `"net"` has up to four threads for HTTP calls (and
anything else that may block for long). Results, errors and progress come back on the UI thread:
each job's `OperationHandle` lives on the UI thread and the worker reaches it only through queued
signals, so the callbacks given to `run` may touch widgets.

A long job asks for progress with `progress=True`: it is then called with a `Progress` reporter as
the keyword argument `progress` (`progress(done, total, text)`; `progress.cancelled` tells it that
the user gave up waiting). `Operations.busy_changed` drives the busy indicator of the status bar.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

NET_THREADS = 4


class Pool(StrEnum):
    NET = "net"
    CACHE = "cache"


class Progress:
    """Given to a job run with `progress=True`: report how far it got; check `cancelled`."""

    def __init__(self, handle: OperationHandle) -> None:
        self._handle = handle

    def __call__(self, done: int, total: int = 0, text: str = "") -> None:
        # Emitted from the worker thread; the handle's queued connection brings it to the UI thread.
        self._handle._progress_from_worker.emit(int(done), int(total), text)

    @property
    def cancelled(self) -> bool:
        return self._handle.cancelled


class OperationHandle(QObject):
    """One job: its outcome arrives on the UI thread as `done(result)` or `failed(exception)`, then
    `finished()`. Lives on the UI thread; the worker only emits its private signals."""

    done = Signal(object)
    failed = Signal(object)
    progress = Signal(int, int, str)
    finished = Signal()

    _done_from_worker = Signal(object)
    _failed_from_worker = Signal(object)
    _progress_from_worker = Signal(int, int, str)

    def __init__(self, label: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self._cancel = threading.Event()
        self._finished = False
        self.result: Any = None
        self.error: BaseException | None = None
        queued = Qt.ConnectionType.QueuedConnection
        self._done_from_worker.connect(self._on_done, queued)
        self._failed_from_worker.connect(self._on_failed, queued)
        self._progress_from_worker.connect(self._on_progress, queued)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_finished(self) -> bool:
        return self._finished

    def cancel(self) -> None:
        """Ask the job to stop (it checks `progress.cancelled`) and drop its outcome: no callback runs."""
        self._cancel.set()

    @Slot(object)
    def _on_done(self, result: object) -> None:
        self.result = result
        self._finished = True
        if not self.cancelled:
            self.done.emit(result)
        self.finished.emit()

    @Slot(object)
    def _on_failed(self, error: object) -> None:
        self.error = error if isinstance(error, BaseException) else RuntimeError(str(error))
        self._finished = True
        if not self.cancelled:
            self.failed.emit(self.error)
        self.finished.emit()

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, text: str) -> None:
        if not self.cancelled and not self._finished:
            self.progress.emit(done, total, text)


class _Job(QRunnable):
    def __init__(
        self,
        handle: OperationHandle,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._handle = handle
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    def run(self) -> None:
        handle = self._handle
        if handle.cancelled:
            handle._failed_from_worker.emit(_Cancelled())
            return
        try:
            result = self._fn(*self._args, **self._kwargs)
        except BaseException as exc:  # delivered to on_error on the UI thread, never lost in a thread
            handle._failed_from_worker.emit(exc)
        else:
            handle._done_from_worker.emit(result)


def _owner_of(callback: Callable[..., Any]) -> QObject | None:
    """The QObject a callback belongs to: the object of a bound method, or the first QObject a
    lambda/closure captured (typically `self` of the page that started the job)."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, QObject):
        return owner
    for cell in getattr(callback, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, QObject):
            return value
    return None


def guarded[**P](callback: Callable[P, None] | None) -> Callable[P, None] | None:
    """A callback that belongs to a QObject is dropped once that object is deleted: a page closed
    while its query ran must not be called back (its C++ side is gone)."""
    owner = _owner_of(callback) if callback is not None else None
    if callback is None or owner is None:
        return callback
    target = callback

    def call(*args: P.args, **kwargs: P.kwargs) -> None:
        if shiboken6.isValid(owner):
            target(*args, **kwargs)
        else:
            log.debug("dropped the callback of a deleted %s", type(owner).__name__)

    return call


class _Cancelled(Exception):
    """The job was cancelled before it started."""


class Operations(QObject):
    """The two pools and the jobs in flight. One per main window."""

    busy_changed = Signal(int)  # how many jobs are running or queued
    progress = Signal(str, int, int, str)  # label, done, total, text of a job reporting progress
    job_failed = Signal(str, object)  # label, exception — for jobs without their own on_error

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache_pool = QThreadPool(self)
        self._cache_pool.setMaxThreadCount(1)
        # The cache's thread never expires: SQLite connections stay on the thread that made them.
        self._cache_pool.setExpiryTimeout(-1)
        self._net_pool = QThreadPool(self)
        self._net_pool.setMaxThreadCount(NET_THREADS)
        self._active: set[OperationHandle] = set()
        self._closed = False

    @property
    def busy(self) -> int:
        return len(self._active)

    @property
    def closed(self) -> bool:
        """Whether `shutdown` ran (new jobs are refused)."""
        return self._closed

    def labels(self) -> list[str]:
        return [h.label for h in self._active if h.label]

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        pool: str = Pool.NET,
        label: str = "",
        progress: bool = False,
        **kwargs: Any,
    ) -> OperationHandle:
        """Run `fn(*args, **kwargs)` in `pool` ("net" or "cache"); callbacks run on the UI thread."""
        handle = OperationHandle(label, self)
        on_done, on_error, on_progress = guarded(on_done), guarded(on_error), guarded(on_progress)
        if on_done is not None:
            handle.done.connect(on_done)
        if on_error is not None:
            handle.failed.connect(on_error)
        else:
            handle.failed.connect(lambda exc, h=handle: self._unhandled(h, exc))
        if on_progress is not None:
            handle.progress.connect(on_progress)
        handle.progress.connect(lambda d, t, x, h=handle: self.progress.emit(h.label, d, t, x))
        handle.finished.connect(lambda h=handle: self._finished(h))
        if progress:
            kwargs["progress"] = Progress(handle)
        if self._closed:
            handle._on_failed(RuntimeError("la aplicación se está cerrando"))
            return handle
        self._active.add(handle)
        self.busy_changed.emit(len(self._active))
        target = self._cache_pool if Pool(pool) is Pool.CACHE else self._net_pool
        target.start(_Job(handle, fn, args, kwargs))
        return handle

    def _finished(self, handle: OperationHandle) -> None:
        if handle in self._active:
            self._active.discard(handle)
            self.busy_changed.emit(len(self._active))
        handle.deleteLater()

    def _unhandled(self, handle: OperationHandle, exc: BaseException) -> None:
        if isinstance(exc, _Cancelled):
            return
        log.warning("background job %r failed: %s", handle.label or "?", exc, exc_info=exc)
        self.job_failed.emit(handle.label, exc)

    def wait_for_done(self, msecs: int = 10_000) -> bool:
        """Block until every job ended (on exit, and in tests). Their callbacks still need the event
        loop to run."""
        ok_net = self._net_pool.waitForDone(msecs)
        ok_cache = self._cache_pool.waitForDone(msecs)
        return bool(ok_net and ok_cache)

    def shutdown(self, msecs: int = 10_000) -> None:
        """Refuse new jobs, drop the queued ones, and wait for the running ones."""
        self._closed = True
        for handle in list(self._active):
            handle.cancel()
        self._net_pool.clear()
        self._cache_pool.clear()
        self.wait_for_done(msecs)
