"""The desktop install (`pip install cmdesk`, no extras) runs without the server-only packages.

psycopg, psycopg-pool, httptools and uvloop are the `server` extra (pyproject.toml): the central
server's PostgreSQL fast path and uvicorn's C parser and event loop. The desktop's embedded server is
SQLite with uvicorn's pure-Python defaults. This runs the desktop's own `--self-test` (the embedded
server started and migrated, a first sync, the main window offscreen) in a Python where importing any
of those packages fails, so a top-level import of one of them on the desktop path breaks the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("psycopg", "psycopg_pool", "psycopg_binary", "psycopg_c", "httptools", "uvloop")

BLOCKED_RUN = f"""
import sys

BLOCKED = {SERVER_ONLY!r}


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the desktop install)", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from cmdesk.app import main

code = main(["--self-test"])
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("leaked:", leaked)
sys.exit(code or (3 if leaked else 0))
"""


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_server_only_packages_are_the_server_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    desktop = requirement_names(project["dependencies"])
    server = requirement_names(project["optional-dependencies"]["server"])
    for name in ("psycopg", "psycopg-pool", "httptools", "uvloop"):
        assert name not in desktop, name
        assert name in server, name


@pytest.mark.slow
def test_desktop_self_test_without_the_server_extra(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMDESK_")}
    env |= {"QT_QPA_PLATFORM": "offscreen", "CMDESK_HOME": str(tmp_path / "home"), "PYTHONUTF8": "1"}
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        encoding="utf-8",
        errors="replace",
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "Autoprueba correcta." in out
    assert "leaked: []" in out
