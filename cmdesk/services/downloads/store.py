"""The folder of downloaded files: this desk's own, or one shared by the desks of an office (a network
share on Windows), used by several cmdesk processes at once.

Layout (plain files only — SQLite and byte-range locks are unreliable on SMB shares):

    <root>/files/<key>/<file name>          the verified file (key = start of its SHA-256)
    <root>/files/<key>/<file name>.partial  the bytes received so far (only the lock owner writes)
    <root>/files/<key>/manifest.json        the verified marker: SHA-256, size, what the file is
    <root>/files/<key>/pinned               present: never evicted
    <root>/files/<key>/last-used            its modification time: when a desk last used the file
    <root>/locks/<key>.lock                 who is downloading (or evicting) the file
    <root>/leases/<key>.<token>.lease       a desk is using the file (running the installer…)

Rules that keep a damaged or half-written file from ever being handed out:
- A file is *available* only when its manifest names the SHA-256 asked for and the file has the
  manifest's size (`available`); `available(full=True)` hashes it again (before running it).
- Bytes arrive in `<name>.partial`; the file is published by renaming it (`os.replace`, atomic on
  NTFS and SMB) after its SHA-256 matched, and the manifest is written after that, atomically too.
  A crash between the two leaves a file without a manifest, which the next owner re-verifies.
- Only the owner of `<key>.lock` writes the partial or publishes. The lock is created with exclusive
  create (`open(path, "x")` — CREATE_NEW on Windows, atomic on the file server), never fcntl. It
  holds the owner's host, pid and a token, and a heartbeat thread rewrites it every
  `heartbeat_interval` seconds (a counter, so its bytes change). A waiting desk judges it stale when
  its bytes have not changed for `stale_after` seconds *of the waiter's own clock* (desks' clocks
  disagree; a changing counter does not), or at once when the owner is a dead process of this same
  host. Breaking a stale lock happens under a short-lived `<key>.lock.break` file, and only if the
  lock still holds the very bytes judged stale, so two desks never both break it, nor break a fresh
  one. An owner whose lock was taken (it froze longer than `stale_after`) notices at its next
  heartbeat and stops; until then it writes at explicit offsets the same bytes the new owner would,
  so the partial stays right, and the new owner's SHA-256 check has the last word anyway.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmdesk.services.downloads.models import (
    MSG_IN_USE,
    DownloadError,
    FileInfo,
    Stopped,
)
from cmdesk.services.server_info import server_now

log = logging.getLogger(__name__)

FILES_DIR = "files"
LOCKS_DIR = "locks"
LEASES_DIR = "leases"
MANIFEST = "manifest.json"
PINNED = "pinned"
USED = "last-used"
PARTIAL_SUFFIX = ".partial"
HASH_CHUNK = 1024 * 1024
MANIFEST_FORMAT = 1

StopCheck = Callable[[], str | None]


def now_utc() -> dt.datetime:
    """The server's time (cmdesk.services.server_info): leases written by one desk are read by the
    others of the office, whose clocks may be days apart."""
    return server_now()


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this computer still runs (True when unsure: the safe side)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.OpenProcess.restype = wintypes.HANDLE
        kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
        kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
        kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(ctypes.get_last_error() == 5)  # access denied: it exists
        try:
            code = wintypes.DWORD()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return bool(code.value == 259)  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sha256_file(path: Path, stop: StopCheck | None = None) -> str:
    """The SHA-256 of a file, read in chunks (never whole in memory)."""
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
            if stop is not None and (reason := stop()):
                raise Stopped(reason)
    return digest.hexdigest()


def _retrying(action: Callable[[], Any], attempts: int = 8) -> Any:
    """Run a file operation Windows may refuse for a moment (an antivirus or a reader holding the
    file: PermissionError)."""
    for attempt in range(attempts):
        try:
            return action()
        except PermissionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` through a temporary file and a rename: readers see the old or the new
    file, never half of one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        _retrying(lambda: os.replace(tmp, path))
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return b""  # being written or held: "changing", never stale on this read


def _parse(raw: bytes | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock, as its file says."""

    host: str
    pid: int
    token: str
    purpose: str = "download"

    @classmethod
    def parse(cls, raw: bytes | None) -> LockOwner | None:
        data = _parse(raw)
        if data is None:
            return None
        try:
            return cls(str(data["host"]), int(data["pid"]), str(data["token"]), str(data.get("purpose", "")))
        except (KeyError, TypeError, ValueError):
            return None


class HeldLock:
    """A lock this process owns. `lost` is set when the heartbeat finds it taken by another desk."""

    def __init__(self, store: FileStore, key: str, path: Path, token: str, purpose: str) -> None:
        self.store = store
        self.key = key
        self.path = path
        self.token = token
        self.purpose = purpose
        self.beat = 0
        self.started_at = now_utc()
        self.lost = threading.Event()
        self.released = False

    def content(self) -> bytes:
        data = {
            "host": self.store.host,
            "pid": os.getpid(),
            "token": self.token,
            "purpose": self.purpose,
            "started_at": self.started_at.isoformat(),
            "heartbeat_at": now_utc().isoformat(),
            "beat": self.beat,
        }
        return json.dumps(data).encode("utf-8")

    def release(self) -> None:
        self.store._release(self)

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Lease:
    """Marks a file in use (never evicted) until `release()` or its end time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredFile:
    """One folder of the store, as `entries()` finds it."""

    key: str
    folder: Path
    manifest: dict[str, Any] | None
    bytes: int  # everything in the folder (file and partial)
    pinned: bool
    last_used: float

    @property
    def sha256(self) -> str:
        return str((self.manifest or {}).get("sha256", ""))

    @property
    def path(self) -> Path | None:
        name = (self.manifest or {}).get("file_name")
        return self.folder / str(name) if name else None


class FileStore:
    """The download folder (see the module docstring). Thread-safe; several processes and desks may
    use the same `root` at once."""

    def __init__(
        self,
        root: Path,
        *,
        stale_after: float = 60.0,
        heartbeat_interval: float = 5.0,
        poll_interval: float = 0.5,
        host: str | None = None,
    ) -> None:
        if heartbeat_interval * 3 > stale_after:
            raise ValueError("the heartbeat must beat several times within stale_after")
        self.root = Path(root)
        self.stale_after = stale_after
        self.heartbeat_interval = heartbeat_interval
        self.poll_interval = poll_interval
        self.host = host or socket.gethostname() or "equipo"
        self._lock = threading.Lock()
        self._held: dict[str, HeldLock] = {}
        self._heart: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    # ---- paths --------------------------------------------------------------------------------------

    def folder(self, info: FileInfo) -> Path:
        return self.root / FILES_DIR / info.key

    def ensure_folder(self, info: FileInfo) -> Path:
        folder = self.folder(info)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def final_path(self, info: FileInfo) -> Path:
        return self.folder(info) / info.file_name

    def partial_path(self, info: FileInfo) -> Path:
        return self.folder(info) / (info.file_name + PARTIAL_SUFFIX)

    def _lock_path(self, key: str) -> Path:
        return self.root / LOCKS_DIR / f"{key}.lock"

    # ---- what is there ------------------------------------------------------------------------------

    def manifest(self, info: FileInfo) -> dict[str, Any] | None:
        """The verified marker of `info`'s bytes (None when absent or about other bytes)."""
        data = _parse(_read_bytes(self.folder(info) / MANIFEST))
        if data is None or data.get("sha256") != info.sha256 or data.get("size") != info.size:
            return None
        name = data.get("file_name")
        if not isinstance(name, str) or not name or Path(name).name != name:
            return None
        return data

    def available(self, info: FileInfo, *, full: bool = False, stop: StopCheck | None = None) -> Path | None:
        """The verified file, or None. Quick: the manifest and the size; `full`: its SHA-256 too (a
        damaged file is then discarded, so it is downloaded again)."""
        data = self.manifest(info)
        if data is None:
            return None
        path = self.folder(info) / str(data["file_name"])
        try:
            if path.stat().st_size != info.size:
                return None
        except OSError:
            return None
        if full:
            try:
                actual = sha256_file(path, stop)
            except OSError:
                return None
            if actual != info.sha256:
                log.warning("%s is damaged in the store (SHA-256 %s); discarding it", path, actual[:12])
                self.discard(info)
                return None
        return path

    def partial_size(self, info: FileInfo) -> int:
        try:
            return self.partial_path(info).stat().st_size
        except OSError:
            return 0

    def is_pinned(self, info: FileInfo) -> bool:
        return (self.folder(info) / PINNED).exists()

    def set_pinned(self, info: FileInfo, pinned: bool) -> None:
        marker = self.ensure_folder(info) / PINNED
        if pinned:
            marker.write_text(now_utc().isoformat(), encoding="utf-8")
        else:
            marker.unlink(missing_ok=True)

    def touch_used(self, info: FileInfo) -> None:
        with contextlib.suppress(OSError):
            marker = self.folder(info) / USED
            marker.write_text(f"{self.host} {now_utc().isoformat()}", encoding="utf-8")

    # ---- publishing ---------------------------------------------------------------------------------

    def publish(self, lock: HeldLock, info: FileInfo, partial: Path) -> Path:
        """Put a verified partial in place (rename) and write its manifest. The caller checked the
        SHA-256 and holds the lock."""
        self._check_owner(lock)
        final = self.final_path(info)
        _retrying(lambda: os.replace(partial, final))
        self._write_manifest(info)
        self.touch_used(info)
        return final

    def _write_manifest(self, info: FileInfo) -> None:
        write_json_atomic(
            self.folder(info) / MANIFEST,
            {
                "format": MANIFEST_FORMAT,
                "sha256": info.sha256,
                "size": info.size,
                "file_name": info.file_name,
                "file_id": info.id,
                "title": info.title,
                "file_version": info.file_version,
                "kind": info.kind,
                "product_name": info.product_name,
                "verified_at": now_utc().isoformat(),
                "verified_by": self.host,
            },
        )

    def adopt_unmarked(self, lock: HeldLock, info: FileInfo, stop: StopCheck | None = None) -> Path | None:
        """A final file without its manifest (a crash between publishing and marking it): verify it
        and mark it, or delete it. Under the lock."""
        self._check_owner(lock)
        final = self.final_path(info)
        try:
            if final.stat().st_size != info.size:
                raise ValueError
            good = sha256_file(final, stop) == info.sha256
        except (OSError, ValueError):
            good = False
        if good:
            self._write_manifest(info)
            return final
        with contextlib.suppress(FileNotFoundError):
            _retrying(final.unlink)
        return None

    def discard(self, info: FileInfo) -> None:
        """Forget a damaged file: its manifest first (so nobody takes it any more), then the file."""
        folder = self.folder(info)
        names = {info.file_name}
        recorded = (_parse(_read_bytes(folder / MANIFEST)) or {}).get("file_name")
        if isinstance(recorded, str) and recorded and Path(recorded).name == recorded:
            names.add(recorded)
        with contextlib.suppress(OSError):
            (folder / MANIFEST).unlink(missing_ok=True)
        for name in names:
            with contextlib.suppress(OSError):
                _retrying((folder / name).unlink)

    def _check_owner(self, lock: HeldLock) -> None:
        owner = LockOwner.parse(_read_bytes(lock.path))
        if lock.lost.is_set() or owner is None or owner.token != lock.token:
            lock.lost.set()
            raise Stopped("lost")

    # ---- locks --------------------------------------------------------------------------------------

    def try_lock(self, key: str, purpose: str = "download") -> HeldLock | None:
        """Take the lock of `key` if nobody holds it (breaking a stale one); None if it is held."""
        path = self._lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = HeldLock(self, key, path, secrets.token_hex(8), purpose)
        try:
            with path.open("xb") as f:
                f.write(lock.content())
                f.flush()
        except FileExistsError:
            return None
        with self._lock:
            self._held[lock.token] = lock
            self._start_heart()
        return lock

    def acquire(
        self,
        info: FileInfo,
        *,
        stop: StopCheck,
        on_wait: Callable[[LockOwner | None, int], None] | None = None,
    ) -> HeldLock | None:
        """The download lock of `info`, waiting while another desk (or thread) holds a live one.
        Returns None when the file became available meanwhile; raises `Stopped` when `stop()` says."""
        path = self._lock_path(info.key)
        observed: dict[Path, tuple[bytes, float]] = {}
        while True:
            if (reason := stop()) is not None:
                raise Stopped(reason)
            if self.available(info) is not None:
                return None
            lock = self.try_lock(info.key)
            if lock is not None:
                return lock
            raw = _read_bytes(path)
            if raw is None:
                continue  # released just now: try again at once
            owner = LockOwner.parse(raw)
            if self._stale(path, raw, owner, observed):
                log.info("breaking the stale lock of %s (owner %s)", info.key, owner)
                self._break(path, raw, observed)
                continue
            if on_wait is not None:
                on_wait(owner, self.partial_size(info))
            self._sleep(self.poll_interval, stop)

    def _sleep(self, seconds: float, stop: StopCheck) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if (reason := stop()) is not None:
                raise Stopped(reason)
            time.sleep(min(left, 0.05))

    def _stale(
        self, path: Path, raw: bytes, owner: LockOwner | None, observed: dict[Path, tuple[bytes, float]]
    ) -> bool:
        if owner is not None and owner.host == self.host and not pid_alive(owner.pid):
            return True
        now = time.monotonic()
        seen = observed.get(path)
        if seen is None or seen[0] != raw:
            observed[path] = (raw, now)
            return False
        return now - seen[1] >= self.stale_after

    def _break(self, path: Path, raw: bytes, observed: dict[Path, tuple[bytes, float]]) -> None:
        breaker = path.with_name(path.name + ".break")
        try:
            with breaker.open("xb") as f:
                f.write(json.dumps({"host": self.host, "pid": os.getpid()}).encode("utf-8"))
        except FileExistsError:
            # Another desk is breaking it; a breaker left by a crash is itself stale after a while.
            breaker_raw = _read_bytes(breaker)
            if breaker_raw is not None and self._stale(
                breaker, breaker_raw, LockOwner.parse(breaker_raw), observed
            ):
                with contextlib.suppress(OSError):
                    breaker.unlink()
            return
        try:
            if _read_bytes(path) == raw:
                with contextlib.suppress(FileNotFoundError, PermissionError):
                    path.unlink()
        finally:
            observed.pop(path, None)
            with contextlib.suppress(OSError):
                _retrying(breaker.unlink)

    def _release(self, lock: HeldLock) -> None:
        with self._lock:
            if lock.released:
                return
            lock.released = True
            self._held.pop(lock.token, None)
        if lock.lost.is_set():
            return
        owner = LockOwner.parse(_read_bytes(lock.path))
        if owner is not None and owner.token == lock.token:
            with contextlib.suppress(FileNotFoundError):
                _retrying(lock.path.unlink)

    def _start_heart(self) -> None:
        # Caller holds self._lock.
        if self._heart is None or not self._heart.is_alive():
            self._heart = threading.Thread(target=self._heartbeat, name="cmdesk-download-locks", daemon=True)
            self._heart.start()

    def _heartbeat(self) -> None:
        while True:
            self._wake.wait(self.heartbeat_interval)
            self._wake.clear()
            with self._lock:
                if self._closed or not self._held:
                    self._heart = None
                    return
                held = list(self._held.values())
            for lock in held:
                self._beat(lock)

    def _beat(self, lock: HeldLock) -> None:
        try:
            with lock.path.open("r+b") as f:
                owner = LockOwner.parse(f.read())
                if owner is not None and owner.token != lock.token:
                    raise FileNotFoundError
                if owner is None:
                    return  # unreadable this time (a reader's moment): beat at the next round
                lock.beat += 1
                f.seek(0)
                f.write(lock.content())
                f.truncate()
                f.flush()
        except FileNotFoundError:
            log.warning("the lock %s was taken by another desk; stopping", lock.path.name)
            lock.lost.set()
            with self._lock:
                self._held.pop(lock.token, None)
        except OSError as exc:
            log.info("could not beat the lock %s: %s", lock.path.name, exc)

    # ---- use and eviction ---------------------------------------------------------------------------

    def lease(self, info: FileInfo, seconds: float) -> Lease:
        """Mark the file in use for `seconds` (a running installer, a file handed to a caller)."""
        folder = self.root / LEASES_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{info.key}.{secrets.token_hex(6)}.lease"
        until = now_utc() + dt.timedelta(seconds=seconds)
        path.write_text(
            json.dumps({"until": until.isoformat(), "host": self.host, "pid": os.getpid()}), encoding="utf-8"
        )
        return Lease(path)

    def in_use(self, key: str) -> bool:
        """Whether a download, an eviction or a lease holds `key`."""
        if self._lock_path(key).exists():
            return True
        folder = self.root / LEASES_DIR
        now = now_utc()
        for lease in folder.glob(f"{key}.*.lease") if folder.is_dir() else ():
            data = _parse(_read_bytes(lease))
            try:
                until = dt.datetime.fromisoformat(str((data or {})["until"]))
            except (KeyError, ValueError):
                continue
            if until > now:
                return True
            with contextlib.suppress(OSError):
                lease.unlink()  # over
        return False

    def entries(self) -> list[StoredFile]:
        """Every file folder of the store (verified or not)."""
        out: list[StoredFile] = []
        base = self.root / FILES_DIR
        if not base.is_dir():
            return out
        for folder in base.iterdir():
            if not folder.is_dir():
                continue
            total = 0
            last_used = 0.0
            for item in folder.iterdir():
                with contextlib.suppress(OSError):
                    st = item.stat()
                    if item.name not in (MANIFEST, PINNED, USED):
                        total += st.st_size
                    if item.name in (MANIFEST, USED):
                        last_used = max(last_used, st.st_mtime)
            out.append(
                StoredFile(
                    key=folder.name,
                    folder=folder,
                    manifest=_parse(_read_bytes(folder / MANIFEST)),
                    bytes=total,
                    pinned=(folder / PINNED).exists(),
                    last_used=last_used,
                )
            )
        return out

    def total_bytes(self) -> int:
        return sum(e.bytes for e in self.entries())

    def evict(
        self, max_bytes: int, *, superseded: Iterable[str] = (), keep: Iterable[str] = ()
    ) -> list[StoredFile]:
        """Remove verified files until the store holds at most `max_bytes`: first the ones a newer
        version replaced (`superseded`: SHA-256s), then the least recently used. Never a pinned file,
        one in `keep` (SHA-256s), nor one in use (locked, leased, or open on Windows)."""
        entries = self.entries()
        total = sum(e.bytes for e in entries)
        if total <= max_bytes:
            return []
        old = set(superseded)
        kept = set(keep)
        candidates = [
            e
            for e in entries
            if e.manifest is not None and not e.pinned and e.sha256 not in kept and e.path is not None
        ]
        candidates.sort(key=lambda e: (e.sha256 not in old, e.last_used))
        removed: list[StoredFile] = []
        for entry in candidates:
            if total <= max_bytes:
                break
            if self._remove_entry(entry):
                total -= entry.bytes
                removed.append(entry)
        return removed

    def _remove_entry(self, entry: StoredFile) -> bool:
        if self.in_use(entry.key):
            return False
        lock = self.try_lock(entry.key, purpose="evict")
        if lock is None:
            return False
        try:
            if self.in_use_by_lease(entry.key):
                return False
            path = entry.path
            if path is not None:
                try:
                    # Windows refuses to delete a file that is open (an installer running from it).
                    _retrying(lambda: path.unlink(missing_ok=True), attempts=2)
                except PermissionError:
                    return False
            for item in list(entry.folder.iterdir()):
                with contextlib.suppress(OSError):
                    item.unlink()
            with contextlib.suppress(OSError):
                entry.folder.rmdir()
            log.info("evicted %s from the download folder", entry.folder.name)
            return True
        finally:
            lock.release()

    def in_use_by_lease(self, key: str) -> bool:
        folder = self.root / LEASES_DIR
        now = now_utc()
        for lease in folder.glob(f"{key}.*.lease") if folder.is_dir() else ():
            data = _parse(_read_bytes(lease))
            with contextlib.suppress(KeyError, ValueError):
                if dt.datetime.fromisoformat(str((data or {})["until"])) > now:
                    return True
        return False

    def remove(self, info: FileInfo) -> None:
        """Delete a downloaded file at the user's request (refused while in use)."""
        entry = next((e for e in self.entries() if e.key == info.key), None)
        if entry is None:
            return
        if entry.manifest is None:
            entry = StoredFile(entry.key, entry.folder, {"file_name": info.file_name}, 0, False, 0.0)
        if not self._remove_entry(entry):
            raise DownloadError(MSG_IN_USE, retryable=False)

    def close(self) -> None:
        """Stop the heartbeat (the locks still held are released by their owners)."""
        with self._lock:
            self._closed = True
        self._wake.set()
