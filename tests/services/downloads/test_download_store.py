"""The download folder on the real file system: exclusive locks with heartbeats, stale locks broken
once, manifests that decide what is available, and eviction that spares pinned and busy files."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from cmdesk.services.downloads import DownloadError, FileInfo, FileStore
from cmdesk.services.downloads.models import safe_file_name
from cmdesk.services.downloads.store import HeldLock, pid_alive
from tests.services.downloads.conftest import quick_store


def info_for(data: bytes, name: str = "setup.exe", ident: str = "f1") -> FileInfo:
    return FileInfo(id=ident, sha256=hashlib.sha256(data).hexdigest(), size=len(data), file_name=name)


def put(store: FileStore, data: bytes, name: str, ident: str) -> FileInfo:
    """A verified file in the store, published the way downloads are."""
    info = info_for(data, name, ident)
    lock = store.try_lock(info.key)
    assert lock is not None
    try:
        store.ensure_folder(info)
        store.partial_path(info).write_bytes(data)
        store.publish(lock, info, store.partial_path(info))
    finally:
        lock.release()
    return info


def never() -> None:
    return None


def test_file_names_from_the_server_stay_inside_the_folder() -> None:
    assert safe_file_name("..\\..\\Windows\\evil.exe") == "evil.exe"
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("CON.txt") == "_CON.txt"
    assert safe_file_name('a<b>:"c|?*.zip') == "a_b___c___.zip"
    assert safe_file_name("..") == "archivo"


def test_a_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    store = quick_store(tmp_path)
    first = store.try_lock("abc")
    assert first is not None
    assert store.try_lock("abc") is None
    assert quick_store(tmp_path, host="OTRO").try_lock("abc") is None
    first.release()
    second = store.try_lock("abc")
    assert second is not None
    second.release()
    assert not (tmp_path / "locks" / "abc.lock").exists()


def test_the_heartbeat_changes_the_lock_and_notices_when_it_is_taken(tmp_path: Path) -> None:
    store = quick_store(tmp_path)
    lock = store.try_lock("abc")
    assert lock is not None
    path = tmp_path / "locks" / "abc.lock"
    before = path.read_bytes()
    time.sleep(0.5)
    assert path.read_bytes() != before
    assert json.loads(path.read_bytes())["beat"] >= 1
    # Another desk judged it stale and took it (this desk froze): the owner finds out and stops.
    path.unlink()
    path.write_text(json.dumps({"host": "OTRO", "pid": 1, "token": "otro"}))
    assert lock.lost.wait(2)
    lock.release()
    assert path.exists()  # releasing a lost lock never deletes the new owner's


def test_a_lock_of_a_dead_process_of_this_computer_is_stale_at_once(tmp_path: Path) -> None:
    store = quick_store(tmp_path, stale_after=30.0, heartbeat_interval=1.0)
    info = info_for(b"x" * 10)
    dead = 2**22 + 12345
    assert not pid_alive(dead)
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / f"{info.key}.lock").write_text(
        json.dumps({"host": store.host, "pid": dead, "token": "t"})
    )
    started = time.monotonic()
    lock = store.acquire(info, stop=never)
    assert isinstance(lock, HeldLock) and time.monotonic() - started < 1.0
    lock.release()


def test_a_stale_lock_is_broken_by_one_desk_only(tmp_path: Path) -> None:
    info = info_for(b"y" * 10)
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / f"{info.key}.lock").write_text(
        json.dumps({"host": "MUERTO", "pid": 9, "token": "z"})
    )
    holders: list[str] = []
    go = threading.Barrier(4)
    mutex = threading.Lock()
    inside = [0]
    overlaps: list[str] = []

    def desk(n: int) -> None:
        store = quick_store(tmp_path, stale_after=0.6, heartbeat_interval=0.1, host=f"ESCRITORIO-{n}")
        go.wait()
        lock = store.acquire(info, stop=never)
        assert lock is not None
        with mutex:
            if inside[0]:
                overlaps.append(store.host)
            inside[0] += 1
            holders.append(store.host)
        time.sleep(0.3)  # while it holds the lock nobody else may
        with mutex:
            inside[0] -= 1
        lock.release()

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(holders) == [f"ESCRITORIO-{n}" for n in range(4)]
    assert overlaps == []


def test_the_manifest_decides_what_is_available(tmp_path: Path) -> None:
    store = quick_store(tmp_path)
    data = os.urandom(5000)
    info = put(store, data, "Manual.pdf", "m1")
    assert store.available(info) == tmp_path / "files" / info.key / "Manual.pdf"
    assert store.available(info, full=True) is not None
    # The same name with other bytes is another file: not available.
    assert store.available(info_for(b"otro", "Manual.pdf", "m2")) is None
    # A file without its manifest (crash after the rename) is never taken as whole...
    (store.folder(info) / "manifest.json").unlink()
    assert store.available(info) is None
    # ... until an owner verifies it again.
    lock = store.try_lock(info.key)
    assert lock is not None
    assert store.adopt_unmarked(lock, info) is not None
    lock.release()
    assert store.available(info) is not None
    # A damaged file without a manifest is deleted.
    (store.folder(info) / "manifest.json").unlink()
    store.final_path(info).write_bytes(b"\0" * len(data))
    lock = store.try_lock(info.key)
    assert lock is not None
    assert store.adopt_unmarked(lock, info) is None
    lock.release()
    assert not store.final_path(info).exists()


def test_eviction_takes_old_versions_first_then_least_used_never_pinned_or_busy(tmp_path: Path) -> None:
    store = quick_store(tmp_path)
    kb = 1024
    old = put(store, b"o" * 100 * kb, "setup-1.0.exe", "old")
    time.sleep(0.02)
    used_long_ago = put(store, b"u" * 100 * kb, "tool.zip", "tool")
    time.sleep(0.02)
    pinned = put(store, b"p" * 100 * kb, "manual.pdf", "man")
    store.set_pinned(pinned, True)
    leased = put(store, b"l" * 100 * kb, "fix.zip", "fix")
    store.lease(leased, 60)
    time.sleep(0.02)
    recent = put(store, b"r" * 100 * kb, "setup-2.0.exe", "new")
    store.touch_used(used_long_ago)  # used now: the most recently used
    time.sleep(0.02)
    store.touch_used(recent)

    # 500 kB held, room for 350: the old version goes first (although used more recently than
    # nothing else), then the least recently used that is not pinned nor leased.
    removed = store.evict(350 * kb, superseded={old.sha256})
    assert [e.sha256 for e in removed] == [old.sha256, used_long_ago.sha256]
    assert store.available(old) is None and store.available(used_long_ago) is None
    assert all(store.available(i) is not None for i in (pinned, leased, recent))
    # Even a tiny limit spares the pinned and the leased files; a file being downloaded (locked)
    # is spared too.
    lock = store.try_lock(recent.key)
    assert store.evict(1) == []
    assert lock is not None
    lock.release()
    assert [e.sha256 for e in store.evict(1)] == [recent.sha256]
    assert store.available(pinned) is not None and store.available(leased) is not None


def test_removing_a_file_in_use_is_refused(tmp_path: Path) -> None:
    store = quick_store(tmp_path)
    info = put(store, b"z" * 1000, "setup.exe", "z")
    lease = store.lease(info, 60)
    with pytest.raises(DownloadError):
        store.remove(info)
    lease.release()
    store.remove(info)
    assert store.available(info) is None and not store.folder(info).exists()
