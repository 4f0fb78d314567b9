"""The queued flow of the download manager against the real server: queue, progress, pause, resume,
cancel, a limit of parallel downloads, the bandwidth cap, failures in Spanish, and a queue that
survives the manager closing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.api_client import ApiClient
from cmdesk.services.config import DesktopConfig, load_config, save_config
from cmdesk.services.downloads import DownloadManager, DownloadState, DownloadStatus, FileInfo
from cmdesk.services.downloads.catalog import newer_versions
from cmdesk.services.downloads.models import MSG_OFFLINE
from cmdesk.services.downloads.queue import DownloadQueue
from cmdesk.services.downloads.store import sha256_file
from cmdesk.services.downloads.transfer import RetryPolicy
from tests.services.downloads.conftest import quick_store
from tests.services.downloads.cutting_proxy import CuttingProxy

MB = 1024 * 1024
FAST = RetryPolicy(attempts=2, backoff=0.02, max_backoff=0.1)


class Recorder:
    """Collects a manager's events (they come from worker threads)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, DownloadStatus]] = []
        self._lock = threading.Lock()

    def __call__(self, status: DownloadStatus) -> None:
        with self._lock:
            self.events.append((time.monotonic(), status))

    def of(self, file_id: str) -> list[DownloadStatus]:
        with self._lock:
            return [s for _t, s in self.events if s.file_id == file_id]

    def last(self, file_id: str) -> DownloadStatus | None:
        found = self.of(file_id)
        return found[-1] if found else None


def wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(0.02)


@pytest.fixture
def make_manager(tmp_path: Path, api_via_proxy: ApiClient) -> Iterator[Callable[..., DownloadManager]]:
    made: list[DownloadManager] = []

    def make(**kw: object) -> DownloadManager:
        options: dict[str, object] = {"queue_path": tmp_path / "queue.sqlite3", "policy": FAST, **kw}
        m = DownloadManager(api_via_proxy, quick_store(tmp_path / "store"), **options)  # type: ignore[arg-type]
        made.append(m)
        return m

    yield make
    for m in made:
        if not m.closed:
            m.shutdown()


def test_queue_progress_pause_resume(
    make_manager: Callable[..., DownloadManager], published: dict[str, FileInfo], proxy: CuttingProxy
) -> None:
    info = published["big"]
    m = make_manager(rate_limit=3 * MB)
    seen = Recorder()
    m.subscribe(seen)
    m.start()
    assert m.enqueue(info).state == DownloadState.QUEUED
    wait_until(lambda: (s := seen.last(info.id)) is not None and s.received > MB)
    downloading = [s for s in seen.of(info.id) if s.state == DownloadState.DOWNLOADING]
    assert downloading[-1].speed > 0 and downloading[-1].eta is not None
    assert downloading[-1].total == info.size

    m.pause(info.id)
    assert seen.last(info.id).state == DownloadState.PAUSED  # type: ignore[union-attr]
    time.sleep(0.5)
    kept = m.store.partial_size(info)
    assert MB < kept < info.size
    assert m.status(info).state == DownloadState.PAUSED
    row = m.queue.get(info.id)  # type: ignore[union-attr]
    assert row is not None and row.state == "paused"
    time.sleep(0.3)
    assert m.store.partial_size(info) == kept  # nothing more arrives while paused

    proxy.reset_counts()
    m.resume(info.id)
    wait_until(lambda: m.status(info).state == DownloadState.AVAILABLE)
    status = m.status(info)
    assert status.path is not None and sha256_file(status.path) == info.sha256
    assert m.queue.get(info.id) is None  # type: ignore[union-attr]
    # Resumed where it paused: only the rest crossed the line again.
    assert proxy.range_requests == proxy.file_requests == 1
    assert proxy.bytes_down <= info.size - kept + 4096


def test_progress_is_reported_at_most_ten_times_a_second(
    make_manager: Callable[..., DownloadManager], published: dict[str, FileInfo]
) -> None:
    info = published["big"]
    m = make_manager(rate_limit=4 * MB)
    seen = Recorder()
    m.subscribe(seen)
    m.start()
    m.enqueue(info)
    wait_until(lambda: m.status(info).state == DownloadState.AVAILABLE)
    times = [t for t, s in seen.events if s.state == DownloadState.DOWNLOADING]
    duration = times[-1] - times[0]
    assert duration > 0.8
    assert len(times) <= 11 * duration + 2
    assert len(times) >= 5  # and it does report


def test_cancel_forgets_the_bytes(
    make_manager: Callable[..., DownloadManager], published: dict[str, FileInfo]
) -> None:
    info = published["big"]
    m = make_manager(rate_limit=2 * MB)
    seen = Recorder()
    m.subscribe(seen)
    m.start()
    m.enqueue(info)
    wait_until(lambda: m.store.partial_size(info) > 200_000)
    m.cancel(info.id)
    wait_until(lambda: (s := seen.last(info.id)) is not None and s.state == DownloadState.NOT_DOWNLOADED)
    wait_until(lambda: not m.store.partial_path(info).exists())
    assert m.status(info).state == DownloadState.NOT_DOWNLOADED
    assert m.queue.get(info.id) is None  # type: ignore[union-attr]
    assert not m.store.in_use(info.key)  # the lock was released


def test_parallel_limit_and_order(
    make_manager: Callable[..., DownloadManager], published: dict[str, FileInfo]
) -> None:
    m = make_manager(parallel=1, rate_limit=8 * MB)
    seen = Recorder()
    m.subscribe(seen)
    m.start()
    files = [published["small"], published["old"], published["big"]]
    for info in files:
        m.enqueue(info)
    wait_until(lambda: all(m.status(i).state == DownloadState.AVAILABLE for i in files), 60)
    running: set[str] = set()
    most = 0
    order: list[str] = []
    for _t, s in seen.events:
        if s.state == DownloadState.DOWNLOADING:
            if s.file_id not in running:
                order.append(s.file_id)
            running.add(s.file_id)
        elif s.state == DownloadState.AVAILABLE:
            running.discard(s.file_id)
        most = max(most, len(running))
    assert most == 1
    assert order == [i.id for i in files]


def test_the_queue_survives_closing_and_goes_on_at_the_next_start(
    make_manager: Callable[..., DownloadManager], published: dict[str, FileInfo], proxy: CuttingProxy
) -> None:
    info = published["big"]
    first = make_manager(rate_limit=3 * MB)
    first.start()
    first.enqueue(info)
    wait_until(lambda: first.store.partial_size(info) > 2 * MB)
    first.shutdown()
    kept = first.store.partial_size(info)
    proxy.reset_counts()

    second = make_manager()
    seen = Recorder()
    second.subscribe(seen)
    assert second.status(info).state == DownloadState.NOT_DOWNLOADED  # not started yet
    second.start()
    wait_until(lambda: second.status(info).state == DownloadState.AVAILABLE)
    assert proxy.range_requests == 1
    assert proxy.bytes_down <= info.size - kept + 4096


def test_a_failure_is_kept_with_its_spanish_reason_and_can_be_retried(
    tmp_path: Path, software_server: object, published: dict[str, FileInfo]
) -> None:
    info = published["small"]
    with CuttingProxy(software_server.url) as line:  # type: ignore[attr-defined]
        api = ApiClient(line.url, retries=0, backoff=0.01, read_timeout=5)
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        line.cut_every = 0  # the line dies at every file request
        m = DownloadManager(
            api, quick_store(tmp_path / "store"), queue_path=tmp_path / "q.sqlite3", policy=FAST
        )
        m.start()
        m.enqueue(info)
        wait_until(lambda: m.status(info).state == DownloadState.FAILED)
        status = m.status(info)
        assert status.error == MSG_OFFLINE
        assert m.queue.get(info.id).error == MSG_OFFLINE  # type: ignore[union-attr]
        line.cut_every = None  # the line is back
        m.retry(info.id)
        wait_until(lambda: m.status(info).state == DownloadState.AVAILABLE)
        m.shutdown()


def test_a_file_the_server_no_longer_offers_fails_with_the_servers_reason(
    make_manager: Callable[..., DownloadManager], published: dict[str, FileInfo]
) -> None:
    gone = FileInfo.from_view({**published["small"].to_json(), "id": "no-existe"})
    m = make_manager()
    m.start()
    m.enqueue(gone)
    wait_until(lambda: m.status(gone).state == DownloadState.FAILED)
    assert "no existe" in (m.status(gone).error or "").lower()


def test_bandwidth_cap(make_manager: Callable[..., DownloadManager], published: dict[str, FileInfo]) -> None:
    info = published["old"]  # 2 MB
    m = make_manager(rate_limit=1 * MB)
    started = time.monotonic()
    m.fetch(info)
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed <= 6.0


def test_a_file_already_in_a_shared_folder_is_not_downloaded_again(
    tmp_path: Path,
    make_manager: Callable[..., DownloadManager],
    published: dict[str, FileInfo],
    proxy: CuttingProxy,
) -> None:
    info = published["small"]
    m = make_manager()
    m.fetch(info)
    requests_before = proxy.file_requests
    other = DownloadManager(m.api, quick_store(tmp_path / "store"), queue_path=tmp_path / "other.sqlite3")
    assert other.status(info).state == DownloadState.AVAILABLE
    assert other.enqueue(info).state == DownloadState.AVAILABLE
    other.fetch(info)
    other.shutdown()
    assert proxy.file_requests == requests_before


def test_newer_versions_of_the_catalog() -> None:
    def f(ident: str, kind: str, title: str, version: str, product: str = "p") -> dict[str, object]:
        return {"id": ident, "product_id": product, "kind": kind, "title": title, "file_version": version}

    files = [
        f("a", "installer", "Instalador", "10.2.1"),
        f("b", "installer", "Instalador (versión anterior)", "10.1.8"),
        f("c", "fix", "Corrección de timbrado", "10.2.1.3"),
        f("d", "fix", "Corrección de cortes", "10.2.1.1"),
        f("e", "documentation", "Manual", "10.2"),
        f("g", "documentation", "Manual", "9.9"),
        f("h", "installer", "Instalador", "2.0-beta", product="q"),
        f("i", "installer", "Instalador", "2.0", product="q"),
    ]
    newer = newer_versions(files)
    assert {k: v["id"] for k, v in newer.items()} == {"b": "a", "g": "e", "h": "i"}


def test_download_settings_are_kept_in_the_config(home: Path) -> None:
    cfg = DesktopConfig(
        software_folder=r"\\SERVIDOR\cmdesk",
        software_limit_mb=500,
        download_parallel=3,
        download_rate_kbps=256,
    )
    save_config(cfg)
    assert load_config() == cfg
    assert DesktopConfig.from_json({"download_parallel": 99, "software_limit_mb": -5}).download_parallel == 8
    assert DesktopConfig.from_json({"software_limit_mb": -5}).software_limit_mb == 0


def test_the_queue_file_keeps_rows_in_order(tmp_path: Path, published: dict[str, FileInfo]) -> None:
    q = DownloadQueue(tmp_path / "q.sqlite3")
    for info in published.values():
        q.add(info)
    q.set_state(published["small"].id, "failed", error="Falló", received=10)
    q.add(published["small"])  # retried: back to queued, same place
    rows = q.rows()
    assert [r.info.id for r in rows] == [i.id for i in published.values()]
    assert rows[1].state == "queued" and rows[1].error is None and rows[1].received == 10
    q.close()
    again = DownloadQueue(tmp_path / "q.sqlite3")
    assert len(again.rows()) == 3
    again.close()
