"""The layers: the core (`cmdesk.domain`, `cmdesk.services`) imports neither Qt nor the server.

Checked in a fresh interpreter whose import system refuses `PySide6`, `shiboken6` and `cmdesk.server`
(a meta-path finder that raises), importing every module of both packages: a module that needs either,
even indirectly, fails to import there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cmdesk

ROOT = Path(cmdesk.__file__).resolve().parent.parent

SCRIPT = r"""
import importlib, pkgutil, sys

BLOCKED = ("PySide6", "shiboken6", "cmdesk.server")

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Blocker())
imported = []
for package_name in ("cmdesk.domain", "cmdesk.services"):
    package = importlib.import_module(package_name)
    imported.append(package_name)
    for info in pkgutil.walk_packages(package.__path__, package_name + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
leaked = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED))
print(len(imported))
print(",".join(leaked))
"""


def test_domain_and_services_import_without_qt_and_without_the_server() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    count, leaked = (
        done.stdout.strip().split(" ", 1) if " " in done.stdout.strip() else (done.stdout.strip(), "")
    )
    assert int(count) > 40  # every module of both packages was imported
    assert leaked == ""


def test_the_blocker_does_block() -> None:
    """The same script over a module that imports the server fails: the check can fail."""
    script = SCRIPT.replace('("cmdesk.domain", "cmdesk.services")', '("cmdesk.devtools",)')
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode != 0 and "blocked: cmdesk.server" in done.stderr
