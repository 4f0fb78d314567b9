"""Start a throwaway PostgreSQL server for tests and benchmarks.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user and is
started through `runuser`. The server listens only on 127.0.0.1, on a free port, in a temporary
folder that `stop()` removes. `python -m cmdesk.devtools.postgres` starts one and prints its URL.

`restart()`, `halt()` and `resume()` stop and start the same cluster with `pg_ctl` (its data kept), for
tests and the soak of a database that restarts under load.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _bindir() -> Path:
    env = os.environ.get("CMDESK_PG_BINDIR")
    if env:
        return Path(env)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        cand = Path(out.stdout.strip())
        if (cand / "initdb").exists():
            return cand
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    raise RuntimeError("No se encontraron los programas de PostgreSQL (initdb, pg_ctl).")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TempPostgres:
    folder: Path
    port: int
    bindir: Path
    as_postgres_user: bool
    options: str = ""

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_postgres_user else cmd

    @property
    def log_path(self) -> Path:
        return self.folder / "postgres.log"

    def _pg_ctl(self, *args: str, timeout: float = 120) -> None:
        # -l: the server's output goes to the log, not to this process's pipes (which it would hold).
        done = subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.folder / "data"), *args),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {args[-1]} falló: {done.stderr or done.stdout}")

    def halt(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (`fast`: connections are closed, transactions rolled
        back; `immediate`: as a crash)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def resume(self) -> None:
        """Start the server again after `halt()`, with its first options."""
        self._pg_ctl("-o", self.options, "-l", str(self.log_path), "-w", "-t", "60", "start")

    def restart(self, mode: str = "fast") -> None:
        """`pg_ctl restart`: every connection is closed, the server is back when this returns."""
        self._pg_ctl("-m", mode, "-o", self.options, "-l", str(self.log_path), "-w", "-t", "60", "restart")

    def stop(self) -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"),
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def start(max_connections: int = 200, *, crash_safe: bool = False) -> TempPostgres:
    """A throwaway cluster. Fast and unsafe by default (no fsync, asynchronous commits: a crash of the
    server process may lose the last commits); `crash_safe` keeps synchronous commits, so a server
    killed with `restart("immediate")` loses nothing it acknowledged (the machine itself not crashing,
    fsync stays off)."""
    bindir = _bindir()
    as_pg = hasattr(os, "geteuid") and os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="cmdesk-pg-"))
    data = folder / "data"
    if as_pg:
        shutil.chown(folder, "postgres", "postgres")
        folder.chmod(0o700)
    port = free_port()
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c max_connections={max_connections} "
        f"-c unix_socket_directories={folder} -c fsync=off "
        f"-c synchronous_commit={'on' if crash_safe else 'off'} "
        "-c full_page_writes=off -c shared_buffers=256MB"
    )
    pg = TempPostgres(folder, port, bindir, as_pg, opts)
    init = subprocess.run(
        pg._cmd("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"),
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb falló: {init.stderr}")
    log = pg.log_path
    started = subprocess.run(
        pg._cmd("pg_ctl", "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"),
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        detail = log.read_text(errors="replace") if log.exists() else started.stderr
        raise RuntimeError(f"PostgreSQL no arrancó: {detail}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", pg.port), timeout=1):
                return pg
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("PostgreSQL no respondió a tiempo.")


def main() -> None:
    pg = start()
    print(pg.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        pg.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
