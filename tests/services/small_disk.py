"""A folder on a small disk that fills up, for the tests of a full disk.

As root, a small tmpfs is mounted on the folder and filled with a filler file (a real ENOSPC for every
writer: SQLite, the download manager). Elsewhere (a CI runner without root) `fill` limits the given
SQLite connections with SQLite's own page limit (`PRAGMA max_page_count`), which fails their writes
with the same `SQLITE_FULL`; tests that need a real disk check `mounted` and skip otherwise.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path


class SmallDisk:
    """A folder on a small disk that can be filled up and freed again."""

    def __init__(self, folder: Path, size_mb: int = 16) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.filler = folder / "filler.bin"
        self.mounted = False
        self.limited: list[sqlite3.Connection] = []
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)],
                capture_output=True,
            )
            self.mounted = done.returncode == 0

    def fill(self, leave: int, *connections: sqlite3.Connection) -> None:
        """Leave about `leave` bytes free (a real disk), or let the given SQLite connections grow by
        about that much (the fallback)."""
        if self.mounted:
            with self.filler.open("ab") as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            free = os.statvfs(self.folder).f_bavail * os.statvfs(self.folder).f_frsize
            if free < leave:
                with self.filler.open("r+b") as f:
                    f.truncate(max(0, self.filler.stat().st_size - (leave - free)))
            return
        for conn in connections:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + max(1, leave // size)}")
            self.limited.append(conn)

    def free(self) -> None:
        if self.mounted:
            self.filler.unlink(missing_ok=True)
        for conn in self.limited:
            conn.execute("PRAGMA max_page_count = 1073741823")
        self.limited.clear()

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.folder)], capture_output=True)
