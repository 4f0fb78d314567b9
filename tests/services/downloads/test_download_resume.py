"""Downloads over a bad line, against the real server's range endpoint: connections cut mid-file,
a process killed halfway, two desks sharing one folder, damaged files. Bytes are counted at a
loopback proxy between the desk and the server, so "never downloaded twice" is measured."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.services.api_client import ApiClient
from cmdesk.services.downloads import DownloadError, DownloadManager, DownloadState, DownloadStatus, FileInfo
from cmdesk.services.downloads.models import MSG_CHANGED, MSG_MISMATCH
from cmdesk.services.downloads.store import sha256_file
from cmdesk.services.downloads.transfer import RetryPolicy
from tests.services.downloads.conftest import SoftwareServer, make_bytes, quick_store
from tests.services.downloads.cutting_proxy import CuttingProxy

ROOT = Path(__file__).resolve().parents[3]
# Answer headers, and the sign-in of a child process, per request: a bound for "bytes that are not
# the file's".
OVERHEAD = 2048

FAST = RetryPolicy(attempts=6, backoff=0.02, max_backoff=0.2)


def manager(api: ApiClient, root: Path, **kw: object) -> DownloadManager:
    store = quick_store(root / "store")
    return DownloadManager(api, store, queue_path=root / "queue.sqlite3", policy=FAST, **kw)  # type: ignore[arg-type]


def test_connections_cut_mid_file_resume_without_downloading_anything_twice(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, api_via_proxy: ApiClient
) -> None:
    info = published["big"]
    proxy.cut_every = 700_000  # about eight cuts in 5 MB
    m = manager(api_via_proxy, tmp_path)
    path = m.fetch(info)
    m.shutdown()
    assert sha256_file(path) == info.sha256
    assert proxy.cuts >= 7
    assert proxy.file_requests == proxy.cuts + 1
    assert proxy.range_requests == proxy.file_requests - 1  # every request after the first resumes
    assert info.size <= proxy.bytes_down <= info.size + OVERHEAD * proxy.file_requests
    assert not (path.parent / (path.name + ".partial")).exists()


def test_a_200_instead_of_a_206_restarts_cleanly(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, api_via_proxy: ApiClient
) -> None:
    info = published["big"]
    proxy.cut_next(1_500_000)
    proxy.strip_range = True  # the server never sees the Range: it sends the whole file again
    m = manager(api_via_proxy, tmp_path)
    path = m.fetch(info)
    m.shutdown()
    assert sha256_file(path) == info.sha256
    assert proxy.file_requests == 2 and proxy.cuts == 1
    assert proxy.bytes_down <= 1_500_000 + info.size + OVERHEAD * 2


def test_a_corrupted_file_in_the_folder_is_detected_and_downloaded_again(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, api_via_proxy: ApiClient
) -> None:
    info = published["small"]
    m = manager(api_via_proxy, tmp_path)
    path = m.fetch(info)
    assert proxy.file_requests == 1
    # One byte flipped, same size: the quick check can't see it; hashing (fetch, running it) does.
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert m.status(info).state == DownloadState.AVAILABLE
    with pytest.raises(DownloadError):
        m.open_for_use(info)
    assert m.status(info).state == DownloadState.NOT_DOWNLOADED  # never offered again
    again = m.fetch(info)
    assert sha256_file(again) == info.sha256
    assert proxy.file_requests == 2
    # A truncated copy is caught even by the quick check; fetch downloads it again.
    again.write_bytes(again.read_bytes()[:1000])
    assert m.status(info).state == DownloadState.NOT_DOWNLOADED
    assert sha256_file(m.fetch(info)) == info.sha256
    assert proxy.file_requests == 3
    m.shutdown()


def test_a_damaged_partial_is_discarded_and_the_file_downloaded_whole(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, api_via_proxy: ApiClient
) -> None:
    info = published["small"]
    m = manager(api_via_proxy, tmp_path)
    partial = m.store.ensure_folder(info) / (info.file_name + ".partial")
    partial.write_bytes(b"\0" * 300_000)  # zeros, as a power cut may leave
    path = m.fetch(info)
    m.shutdown()
    assert sha256_file(path) == info.sha256
    # The rest was asked for, found wrong, and the whole file downloaded once more.
    assert proxy.file_requests == 2
    assert proxy.bytes_down <= (info.size - 300_000) + info.size + OVERHEAD * 2


def test_bytes_that_do_not_match_the_published_sha256_are_never_made_available(
    tmp_path: Path,
    software_server: SoftwareServer,
    published: dict[str, FileInfo],
    proxy: CuttingProxy,
    api_via_proxy: ApiClient,
) -> None:
    info = published["old"]
    stored = software_server.stored_path("old")
    original = stored.read_bytes()
    events: list[DownloadStatus] = []
    try:
        damaged = bytearray(original)
        damaged[12345] ^= 0x01  # the server's copy went bad: same size, another SHA-256
        stored.write_bytes(bytes(damaged))
        m = manager(api_via_proxy, tmp_path)
        with pytest.raises(DownloadError) as raised:
            m.fetch(info, on_status=events.append)
        assert str(raised.value) == MSG_MISMATCH
        assert proxy.file_requests == 2  # one clean new try, then it gives up
        assert m.store.available(info) is None
        assert not m.store.final_path(info).exists()
        assert DownloadState.AVAILABLE not in {e.state for e in events}
        # In the queue it ends as a failure with the Spanish reason.
        m.start()
        m.enqueue(info)
        deadline = time.monotonic() + 30
        while m.status(info).state != DownloadState.FAILED and time.monotonic() < deadline:
            time.sleep(0.05)
        status = m.status(info)
        assert status.state == DownloadState.FAILED and status.error == MSG_MISMATCH
        m.shutdown()
    finally:
        stored.write_bytes(original)


def test_a_416_verifies_again_and_never_publishes_what_does_not_match(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, api_via_proxy: ApiClient
) -> None:
    real = published["small"]
    # The catalog says the file is 10 bytes longer than what the server has: asking for the rest
    # gets a 416; what is held is checked again, then the whole file, which is not what the
    # catalog says: refused.
    info = FileInfo.from_view({**real.to_json(), "size": real.size + 10})
    m = manager(api_via_proxy, tmp_path)
    partial = m.store.ensure_folder(info) / (info.file_name + ".partial")
    partial.write_bytes(make_bytes("small", real.size))
    with pytest.raises(DownloadError) as raised:
        m.fetch(info)
    m.shutdown()
    assert str(raised.value) == MSG_CHANGED
    assert m.store.available(info) is None and not m.store.final_path(info).exists()


def test_a_lock_left_by_a_crashed_desk_is_recovered_and_its_bytes_reused(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, api_via_proxy: ApiClient
) -> None:
    info = published["big"]
    m = manager(api_via_proxy, tmp_path)
    store = m.store
    folder = store.ensure_folder(info)
    (folder / (info.file_name + ".partial")).write_bytes(make_bytes("big", info.size)[: 2 * 1024 * 1024])
    lock = tmp_path / "store" / "locks" / f"{info.key}.lock"
    lock.parent.mkdir(parents=True)
    # Another desk's lock whose heartbeat stopped (that desk crashed or lost the network).
    lock.write_text(json.dumps({"host": "RECEPCION", "pid": 4242, "token": "abc", "beat": 7}))
    events: list[DownloadStatus] = []
    started = time.monotonic()
    path = m.fetch(info, on_status=events.append)
    waited = time.monotonic() - started
    m.shutdown()
    assert sha256_file(path) == info.sha256
    assert waited >= store.stale_after * 0.9
    assert any(e.state == DownloadState.WAITING and e.other_host == "RECEPCION" for e in events)
    assert proxy.file_requests == 1 and proxy.range_requests == 1
    assert proxy.bytes_down <= info.size - 2 * 1024 * 1024 + OVERHEAD
    assert not lock.exists()


def test_a_live_lock_of_another_desk_is_waited_for_not_broken(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, api_via_proxy: ApiClient
) -> None:
    info = published["small"]
    m = manager(api_via_proxy, tmp_path)
    lock = tmp_path / "store" / "locks" / f"{info.key}.lock"
    lock.parent.mkdir(parents=True)
    beating = threading.Event()
    beating.set()

    def other_desk() -> None:  # beats its lock every 0.1 s for 3 s (stale_after is 2 s), then leaves
        beat = 0
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            lock.write_text(json.dumps({"host": "CAJA-2", "pid": 1, "token": "t", "beat": beat}))
            beat += 1
            time.sleep(0.1)
        lock.unlink()

    thread = threading.Thread(target=other_desk)
    thread.start()
    time.sleep(0.1)
    events: list[DownloadStatus] = []
    started = time.monotonic()
    path = m.fetch(info, on_status=events.append)
    thread.join()
    m.shutdown()
    assert time.monotonic() - started >= 2.7  # it waited for the living desk
    assert {e.other_host for e in events if e.state == DownloadState.WAITING} == {"CAJA-2"}
    assert sha256_file(path) == info.sha256
    assert proxy.file_requests == 1


# ---- other processes -------------------------------------------------------------------------------


class Child:
    """A `download_child` process whose output lines arrive in a queue."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.services.downloads.download_child", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 60.0) -> str:
        line = self.lines.get(timeout=timeout)
        self.seen.append(line)
        return line

    def wait_for(self, predicate: object, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.1, deadline - time.monotonic()))
            if callable(predicate) and predicate(line):
                return line
            if line.startswith(("failed", "Traceback")):
                raise AssertionError("\n".join(self.seen))

    def finish(self, timeout: float = 60.0) -> str:
        line = self.wait_for(lambda text: text.startswith("done "), timeout)
        assert self.proc.wait(timeout) == 0
        return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


def _received(line: str) -> int:
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[0] == "progress" else -1


def test_a_download_killed_halfway_resumes_after_restart_from_where_it_stopped(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, children: list[Child]
) -> None:
    info = published["big"]
    store, queue_path = tmp_path / "store", tmp_path / "queue.sqlite3"
    first = Child(
        "enqueue",
        proxy.url,
        str(store),
        str(queue_path),
        "--file",
        json.dumps(info.to_json()),
        "--rate",
        str(2 * 1024 * 1024),
    )
    children.append(first)
    first.wait_for(lambda line: _received(line) >= info.size // 2)
    first.kill()  # SIGKILL: no cleanup at all
    first_bytes = proxy.bytes_down
    partial = quick_store(store).partial_path(info)
    kept = partial.stat().st_size
    assert info.size // 2 <= kept < info.size
    assert (store / "locks" / f"{info.key}.lock").exists()  # the dead process's lock is still there

    proxy.reset_counts()
    # The restarted desk is not told what to download: its persisted queue goes on by itself.
    second = Child("resume", proxy.url, str(store), str(queue_path))
    children.append(second)
    assert second.wait_for(lambda line: line.startswith("queued")) == "queued 1"
    done = second.finish()
    path, digest = done.split()[1:]
    assert digest == info.sha256 and Path(path) == partial.with_name(info.file_name)
    assert proxy.file_requests == 1 and proxy.range_requests == 1
    # Only what the first process had not kept crossed the line again.
    assert proxy.bytes_down <= info.size - kept + OVERHEAD * 2
    assert first_bytes >= kept


def test_two_desks_sharing_a_folder_download_a_file_once(
    tmp_path: Path, published: dict[str, FileInfo], proxy: CuttingProxy, children: list[Child]
) -> None:
    info = published["big"]
    shared = tmp_path / "oficina"
    file_json = json.dumps(info.to_json())

    def desk(n: int) -> Child:
        child = Child(
            "fetch",
            proxy.url,
            str(shared),
            str(tmp_path / f"queue-{n}.sqlite3"),
            "--file",
            file_json,
            "--rate",
            str(1024 * 1024),  # ~5 s: the second desk (a new process) surely asks meanwhile
            "--host",
            f"ESCRITORIO-{n}",
        )
        children.append(child)
        return child

    first = desk(1)
    first.wait_for(lambda line: line.endswith(" downloading") and _received(line) > 0)
    second = desk(2)  # asks for the same file while the first desk is downloading it
    results = [first.finish(), second.finish()]
    paths = {r.split()[1] for r in results}
    assert {r.split()[2] for r in results} == {info.sha256}
    assert len(paths) == 1 and Path(paths.pop()).is_relative_to(shared)
    # Downloaded once: one request for the file, its bytes once (plus the two sign-ins).
    assert proxy.file_requests == 1
    assert proxy.bytes_down <= info.size + OVERHEAD * 4
    assert any(line.endswith(" waiting") for line in second.seen), second.seen
    assert not any(line.endswith(" downloading") for line in second.seen)
