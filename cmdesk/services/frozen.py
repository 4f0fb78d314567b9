"""The installed app's process: keyring backend, crash log, and the mutex the installer looks for.

`prepare(log_folder)` runs once at the start of the desktop (cmdesk.ui.app.main, and --self-test):

- **Keyring.** In the frozen (PyInstaller) app on Windows, the Windows Credential Manager
  (`keyring.backends.Windows.WinVaultKeyring`) is set explicitly: keyring otherwise picks its backend
  through package metadata and entry points, which a frozen app may lack, and would then fall back to
  "no keyring" without a word. Secrets stay under its 2,560-byte blob limit
  (`cmdesk.services.credentials`). Elsewhere keyring's own choice stands.
- **Crash log.** `faulthandler` writes the Python stacks of every thread to `crash.log` in the log
  folder when the process dies of a fatal signal or a Windows exception (an access violation in a
  Qt DLL, say), which the rotating log and `sys.excepthook` (cmdesk.ui.errors) cannot record; a
  windowed app has no console to print them to. `record_crash()` adds a Python traceback there for an
  exception nobody caught (cmdesk.app.main). The user sends that file with `cmdesk.log`.
- **Mutex.** On Windows the app holds a named mutex for its whole life: the installer's `AppMutex`
  (installer/cmdesk.iss) uses it to know cmdesk is running and wait for it to close before replacing
  its files (a silent self-update starts the installer and quits).

No Qt here; everything is a no-op where it does not apply.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import faulthandler
import logging
import sys
import traceback
from pathlib import Path
from typing import IO, Any

import cmdesk

log = logging.getLogger(__name__)

CRASH_LOG = "crash.log"
# Both names: "Global\" lets an installer running in another session (all-users install) see it.
APP_MUTEX = "Induxsoft.cmdesk.AppMutex"
APP_MUTEX_NAMES = (APP_MUTEX, "Global\\" + APP_MUTEX)
WINDOWS_KEYRING = "keyring.backends.Windows.WinVaultKeyring"

_crash_file: IO[str] | None = None
_mutex_handles: list[Any] = []


def is_frozen() -> bool:
    """Running from the PyInstaller build (not from a Python installation)."""
    return bool(getattr(sys, "frozen", False))


def choose_keyring(*, frozen: bool | None = None, platform: str | None = None) -> str | None:
    """Set the keyring backend the frozen Windows app uses; returns its name, or None when keyring's
    own choice stands (not frozen, not Windows, or the backend cannot load — then cmdesk works
    without remembering the session, as `CredentialStore.available()` reports)."""
    frozen = is_frozen() if frozen is None else frozen
    platform = platform or sys.platform
    if not frozen or not platform.startswith("win"):
        return None
    try:
        import keyring
        from keyring.backends.Windows import WinVaultKeyring

        backend = WinVaultKeyring()  # type: ignore[no-untyped-call]
        keyring.set_keyring(backend)
    except Exception as exc:
        log.warning("the Windows Credential Manager is not usable (%s)", exc)
        return None
    return WINDOWS_KEYRING


def enable_crash_log(folder: Path) -> Path:
    """Send `faulthandler`'s report of a fatal error to `folder/crash.log` (appended)."""
    global _crash_file
    path = folder / CRASH_LOG
    folder.mkdir(parents=True, exist_ok=True)
    if _crash_file is not None and not _crash_file.closed and Path(_crash_file.name) == path:
        return path
    previous = _crash_file
    # Kept open for the life of the process: faulthandler writes to its descriptor when it crashes.
    _crash_file = path.open("a", encoding="utf-8")
    faulthandler.enable(file=_crash_file, all_threads=True)
    if previous is not None:
        previous.close()
    return path


def disable_crash_log() -> None:
    """Stop writing to the crash log (tests; the end of a self-test in a temporary folder)."""
    global _crash_file
    if _crash_file is None:
        return
    faulthandler.disable()
    _crash_file.close()
    _crash_file = None
    if sys.stderr is not None:
        # No usable stderr (a windowed app, a captured one): then no fault handler at all.
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            faulthandler.enable()


def record_crash(exc: BaseException, folder: Path | None = None) -> Path | None:
    """Append an uncaught exception's traceback to the crash log; returns its path (None if it could
    not be written: the crash must not hide behind a second one)."""
    try:
        if folder is None:
            from cmdesk.services.paths import log_dir

            folder = log_dir()
        path = folder / CRASH_LOG
        folder.mkdir(parents=True, exist_ok=True)
        when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with path.open("a", encoding="utf-8") as f:
            f.write(f"\n=== cmdesk {cmdesk.__version__} — error no controlado, {when} ===\n")
            f.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return path
    except Exception:
        return None


def hold_app_mutex() -> bool:
    """Create the named mutex the installer waits on (Windows); True when held."""
    if sys.platform != "win32" or _mutex_handles:
        return bool(_mutex_handles)
    try:
        import ctypes

        kernel32 = ctypes.windll.kernel32
        kernel32.CreateMutexW.restype = ctypes.c_void_p
        for name in APP_MUTEX_NAMES:
            handle = kernel32.CreateMutexW(None, False, name)
            if handle:
                _mutex_handles.append(handle)
    except (AttributeError, OSError) as exc:
        log.warning("could not create the application mutex: %s", exc)
    return bool(_mutex_handles)


def prepare(log_folder: Path) -> dict[str, Any]:
    """Everything above, once, at the start of the desktop; returns what was set (for the log)."""
    done: dict[str, Any] = {"frozen": is_frozen()}
    done["keyring"] = choose_keyring()
    try:
        done["crash_log"] = str(enable_crash_log(log_folder))
    except OSError as exc:
        log.warning("no crash log in %s: %s", log_folder, exc)
    done["mutex"] = hold_app_mutex()
    log.info("process prepared: %s", done)
    return done


__all__ = [
    "APP_MUTEX",
    "CRASH_LOG",
    "choose_keyring",
    "disable_crash_log",
    "enable_crash_log",
    "hold_app_mutex",
    "is_frozen",
    "prepare",
    "record_crash",
]
