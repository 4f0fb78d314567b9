"""The frozen app's process setup: keyring choice, crash log, uncaught-exception record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cmdesk.services import frozen


def test_keyring_left_alone_unless_frozen_on_windows():
    assert frozen.choose_keyring(frozen=False, platform="win32") is None
    assert frozen.choose_keyring(frozen=True, platform="linux") is None


def test_crash_log_records_a_fatal_error(tmp_path: Path):
    """A hard crash (here a segfault faulthandler provokes) leaves the Python stacks in crash.log."""
    code = (
        "import faulthandler, sys\n"
        "from pathlib import Path\n"
        "from cmdesk.services import frozen\n"
        f"frozen.enable_crash_log(Path({str(tmp_path)!r}))\n"
        "faulthandler._sigsegv()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode != 0
    text = (tmp_path / frozen.CRASH_LOG).read_text(encoding="utf-8", errors="replace")
    assert "Fatal Python error: Segmentation fault" in text or "Windows fatal exception" in text
    assert "most recent call first" in text


def test_uncaught_exception_is_recorded(tmp_path: Path):
    try:
        raise RuntimeError("se rompió algo")
    except RuntimeError as exc:
        path = frozen.record_crash(exc, tmp_path)
    assert path == tmp_path / frozen.CRASH_LOG
    text = path.read_text(encoding="utf-8")
    assert "error no controlado" in text and "RuntimeError: se rompió algo" in text


def test_prepare_enables_the_crash_log(tmp_path: Path):
    try:
        done = frozen.prepare(tmp_path)
        assert done["crash_log"] == str(tmp_path / frozen.CRASH_LOG)
        assert done["keyring"] is None and done["frozen"] is False
    finally:
        frozen.disable_crash_log()
