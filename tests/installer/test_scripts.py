"""The README's commands (scripts/): what run.sh names for a missing Qt library, and the order of its
checks; the test command's parts. The scripts themselves run in CI (`.ci/run` is `scripts/test.sh`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_SH = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
TEST_SH = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")


def debian_package(soname: str) -> str:
    function = RUN_SH[
        RUN_SH.index("debian_package() {") : RUN_SH.index("\n}\n", RUN_SH.index("debian_package() {")) + 3
    ]
    # Without apt-cache the name comes from Debian's library naming policy alone.
    script = f"apt-cache() {{ return 1; }}\n{function}\ndebian_package {soname}\n"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, check=True)
    return result.stdout.strip()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash")
@pytest.mark.parametrize(
    ("soname", "package"),
    [
        # The two a fresh Debian 12 lacked (Qt blamed libxcb-cursor0 instead).
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libEGL.so.1", "libegl1"),
        ("libGLX.so.0", "libglx0"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
        ("libfontconfig.so.1", "libfontconfig1"),
    ],
)
def test_run_sh_names_the_debian_package_of_a_missing_library(soname, package):
    assert debian_package(soname) == package


def test_run_sh_checks_before_qt_starts():
    check = RUN_SH.index("missing=$(missing_qt_libraries)")
    assert RUN_SH.index("bash scripts/bootstrap.sh") < check < RUN_SH.index("exec .venv/bin/cmdesk")
    assert 'ldd "$plugin"' in RUN_SH and "libqxcb.so" in RUN_SH
    assert "exit 3" in RUN_SH[check : RUN_SH.index("exec .venv/bin/cmdesk")]


def test_the_test_command_installs_the_server_extra_and_runs_every_check():
    assert "bash scripts/bootstrap.sh server test" in TEST_SH
    for step in (
        "ruff check",
        "mypy cmdesk",
        "zizmor --offline",
        "check-jsonschema",
        "check-windows.sh",
        "pytest",
    ):
        assert step in TEST_SH, step
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").count("scripts/test.sh") == 1
