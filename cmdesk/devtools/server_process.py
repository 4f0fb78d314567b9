"""Run `cmdesk-server` as a separate process (several uvicorn workers), for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from cmdesk.devtools.postgres import free_port


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def tree_rss(self) -> int:
        """Resident memory of the server and its worker processes, in bytes (Linux: /proc)."""
        return sum(_rss(pid) for pid in _tree(self.process.pid))

    def tree_cpu_seconds(self) -> float:
        """CPU time (user + system) the server and its worker processes used so far (Linux: /proc);
        under a loaded machine a fairer measure of work than the wall clock."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.process.pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(
    database_url: str,
    *,
    workers: int = 2,
    log_dir: Path,
    env: dict[str, str] | None = None,
    log_level: str = "warning",
    ready_within: float = 60.0,
) -> ServerProcess:
    """Start `cmdesk-server run` on a free port and wait until its health answers 200 (at most
    `ready_within` seconds: on a loaded machine, W workers importing the app take a while)."""
    port = free_port()
    log_path = log_dir / f"cmdesk-server-{port}.log"
    full_env = {**os.environ, **(env or {}), "CMDESK_DATABASE_URL": database_url}
    full_env.setdefault("CMDESK_SECRET_KEY", "bench-and-test-secret-key-not-for-production")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cmdesk.server.cli",
                "run",
                "--db",
                database_url,
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                log_level,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cmdesk-server terminó al arrancar:\n{log_path.read_text(errors='replace')}")
        try:
            if requests.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return ServerProcess(proc, url, log_path)
        except requests.RequestException:
            pass
        time.sleep(0.2)
    # The supervisor and the workers it spawned (killing the supervisor alone leaves them orphaned).
    for pid in reversed(_tree(proc.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(5)
    raise RuntimeError("cmdesk-server no respondió a tiempo.")


def _tree(root: int) -> list[int]:
    """`root` and its descendants, from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # Fields 14 and 15 of stat (utime, stime), counted after the command's closing parenthesis.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
