"""Background operations: work runs off the UI thread; results, errors and progress come back on it."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from cmdesk.ui.operations import Operations, Progress


def on_ui_thread() -> bool:
    app = QApplication.instance()
    assert app is not None
    return QThread.currentThread() is app.thread()


@pytest.mark.parametrize("pool", ["net", "cache"])
def test_results_arrive_on_the_ui_thread(qtbot, ops: Operations, pool: str) -> None:
    worker_threads: list[int] = []
    delivered: list[tuple[object, bool]] = []

    def work(a: int, b: int) -> int:
        worker_threads.append(threading.get_ident())
        return a + b

    handle = ops.run(work, 2, 3, on_done=lambda r: delivered.append((r, on_ui_thread())), pool=pool)
    qtbot.waitUntil(lambda: bool(delivered))
    assert delivered == [(5, True)]
    assert worker_threads and worker_threads[0] != threading.get_ident()
    assert handle.is_finished and handle.result == 5


@pytest.mark.parametrize("pool", ["net", "cache"])
def test_errors_arrive_on_the_ui_thread(qtbot, ops: Operations, pool: str) -> None:
    errors: list[tuple[BaseException, bool]] = []

    def boom() -> None:
        raise ValueError("sin saldo")

    ops.run(boom, on_error=lambda e: errors.append((e, on_ui_thread())), pool=pool)
    qtbot.waitUntil(lambda: bool(errors))
    error, ui = errors[0]
    assert isinstance(error, ValueError) and str(error) == "sin saldo" and ui


def test_run_returns_at_once_while_the_work_goes_on(qtbot, ops: Operations) -> None:
    release = threading.Event()
    done: list[str] = []
    started = time.monotonic()
    ops.run(lambda: release.wait(10) and "listo", on_done=done.append)
    assert time.monotonic() - started < 0.5  # the UI thread did not wait
    assert ops.busy == 1
    release.set()
    qtbot.waitUntil(lambda: done == ["listo"])
    qtbot.waitUntil(lambda: ops.busy == 0)


def test_the_cache_pool_is_one_thread_in_order(qtbot, ops: Operations) -> None:
    seen: list[tuple[int, int]] = []
    results: list[int] = []
    for i in range(8):
        ops.run(
            lambda i=i: seen.append((i, threading.get_ident())) or i, on_done=results.append, pool="cache"
        )
    qtbot.waitUntil(lambda: len(results) == 8)
    assert [i for i, _ in seen] == list(range(8))
    assert len({t for _, t in seen}) == 1
    assert results == list(range(8))


def test_the_network_pool_runs_jobs_side_by_side(qtbot, ops: Operations) -> None:
    barrier = threading.Barrier(4, timeout=10)
    done: list[int] = []
    for i in range(4):
        # Each job waits for the other three: this only ends if four run at the same time.
        ops.run(lambda i=i: (barrier.wait(), i)[1], on_done=done.append, pool="net")
    qtbot.waitUntil(lambda: len(done) == 4, timeout=15_000)


def test_progress_is_reported_on_the_ui_thread(qtbot, ops: Operations) -> None:
    reports: list[tuple[int, int, str, bool]] = []
    global_reports: list[tuple[str, int, int]] = []
    ops.progress.connect(lambda label, d, t, _x: global_reports.append((label, d, t)))

    def long_job(*, progress: Progress) -> str:
        for i in range(1, 4):
            progress(i, 3, f"paso {i}")
        return "fin"

    done: list[str] = []
    ops.run(
        long_job,
        progress=True,
        on_progress=lambda d, t, x: reports.append((d, t, x, on_ui_thread())),
        on_done=done.append,
        label="Descargando",
    )
    qtbot.waitUntil(lambda: done == ["fin"])
    assert [r[:3] for r in reports] == [(1, 3, "paso 1"), (2, 3, "paso 2"), (3, 3, "paso 3")]
    assert all(r[3] for r in reports)
    assert global_reports[-1] == ("Descargando", 3, 3)


def test_busy_changes_count_jobs(qtbot, ops: Operations) -> None:
    counts: list[int] = []
    ops.busy_changed.connect(counts.append)
    release = threading.Event()
    ops.run(release.wait, 10, label="uno")
    ops.run(release.wait, 10, label="dos", pool="cache")
    assert counts == [1, 2]
    assert sorted(ops.labels()) == ["dos", "uno"]
    release.set()
    qtbot.waitUntil(lambda: counts[-1] == 0)


def test_a_cancelled_job_calls_nothing(qtbot, ops: Operations) -> None:
    release = threading.Event()
    called: list[object] = []
    handle = ops.run(lambda: release.wait(10), on_done=called.append, on_error=called.append)
    handle.cancel()
    release.set()
    qtbot.waitUntil(lambda: handle.is_finished)
    assert called == [] and handle.cancelled


def test_a_job_without_on_error_is_reported(qtbot, ops: Operations) -> None:
    failures: list[tuple[str, object]] = []
    ops.job_failed.connect(lambda label, error: failures.append((label, error)))

    def boom() -> None:
        raise RuntimeError("falló")

    ops.run(boom, label="Sincronizando")
    qtbot.waitUntil(lambda: bool(failures))
    assert failures[0][0] == "Sincronizando" and str(failures[0][1]) == "falló"


def test_after_shutdown_jobs_are_refused(qtbot, ops: Operations) -> None:
    ops.shutdown()
    errors: list[BaseException] = []
    ops.run(lambda: 1, on_error=errors.append)
    assert errors and "cerrando" in str(errors[0])


def test_a_callback_of_a_deleted_object_is_dropped(qtbot) -> None:
    """A page closed while its query ran is not called back (its C++ side is gone)."""
    import threading

    from PySide6.QtCore import QObject

    from cmdesk.ui.operations import Operations

    ops = Operations()
    release = threading.Event()
    calls: list[object] = []

    class Owner(QObject):
        def arrived(self, result: object) -> None:
            calls.append(result)

    owner = Owner()
    closure_owner = Owner()
    ops.run(release.wait, 5, on_done=owner.arrived)
    ops.run(release.wait, 5, on_done=lambda r: closure_owner.arrived(r))
    owner.deleteLater()
    closure_owner.deleteLater()
    qtbot.wait(50)  # both objects are deleted now
    release.set()
    assert ops.wait_for_done(5000)
    qtbot.wait(100)
    assert calls == []
    ops.shutdown()
