"""The cache's files on disk: the cache (`cache.sqlite3`), its search index beside it
(`cache-search.sqlite3`), their WAL and shared-memory files, and the cache a rebuild fills before it
takes the old one's place (`cache-rebuild.sqlite3`)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def search_path(path: Path) -> Path:
    """The search index's file of the cache at `path`."""
    return path.with_name(f"{path.stem}-search{path.suffix}")


def rebuild_path(path: Path) -> Path:
    """Where a rebuild of the cache at `path` fills a cache of its own."""
    return path.with_name(f"{path.stem}-rebuild{path.suffix}")


def delete_files(path: Path) -> None:
    """Delete the files of the cache at `path` (its search index's too), where they exist."""
    for base in (path, search_path(path)):
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                base.with_name(base.name + suffix).unlink()


def move_files(source: Path, target: Path) -> None:
    """Put the closed cache at `source` (and its search index) in the place of `target`, whose files
    must be gone already; a WAL left (not checkpointed) goes with its file. What is left of `source`
    (its shared-memory index) is deleted."""
    for suffix in ("", "-wal"):
        for base, into in ((source, target), (search_path(source), search_path(target))):
            moved = base.with_name(base.name + suffix)
            if moved.exists():
                os.replace(moved, into.with_name(into.name + suffix))
    delete_files(source)
