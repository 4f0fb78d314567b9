"""Server CPU of one snapshot (`GET /v1/sync/snapshot`) of a large portfolio, per 1,000 entities.

Builds the benchmark's portfolio (the demo distributor plus `--clients` synthetic clients and about
1.5 CTIs each, as `bench.desktop_sync` does) in SQLite and/or a throwaway PostgreSQL, then streams
one whole snapshot in this process (zstd, as the desktop asks for it) and measures CPU time, not the
clock: this process's (`time.process_time`) and, on PostgreSQL, the cluster's processes (/proc).
The phases: the header (the feed point and `feed.live_entities`), the body (entities read, their
JSON, compression), the end.

    .venv/bin/python -m bench.snapshot_server [--clients 100000] [--db sqlite,postgresql]
                                              [--repeat 3] [--keep DIR] [--profile]

The best of `--repeat` runs is kept (the least disturbed by other load on the machine).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.desktop_sync import fill_database
from bench.http_load import tree_cpu_seconds
from cmdesk.devtools import portfolio
from cmdesk.server import db, snapshot
from cmdesk.server.api.sync import _fallback, feed_loaders
from cmdesk.server.seed import DEMO_EMAIL


def figure(name: str, value: float, unit: str, goal: float | None = None) -> None:
    """A machine line for `python -m bench`."""
    print("FIGURE " + json.dumps({"name": name, "value": round(value, 3), "unit": unit, "goal": goal}))


def one_snapshot(url: str, db_cpu: Callable[[], float | None]) -> dict[str, Any]:
    """One whole snapshot, streamed and thrown away; CPU seconds of its phases."""
    engine = db.create_db_engine(url)
    try:
        account_id = portfolio.account_id_by_email(engine, DEMO_EMAIL)
        loaders = feed_loaders()
        with engine.connect():  # a connection ready in the pool, as in a running server
            pass
        db_before = db_cpu()
        wall = time.perf_counter()
        start = time.process_time()
        body = snapshot.stream(engine, account_id, loaders, encoding="zstd", default=_fallback)
        size = len(next(body))
        header = time.process_time() - start
        for piece in body:
            size += len(piece)
        total = time.process_time() - start
        wall = time.perf_counter() - wall
        db_after = db_cpu()
    finally:
        engine.dispose()
    return {
        "header": header,
        "total": total,
        "db": (db_after - db_before) if db_after is not None and db_before is not None else None,
        "wall": wall,
        "bytes": size,
    }


def count_entities(url: str) -> int:
    engine = db.create_db_engine(url)
    try:
        account_id = portfolio.account_id_by_email(engine, DEMO_EMAIL)
        body = b"".join(snapshot.stream(engine, account_id, feed_loaders(), default=_fallback))
    finally:
        engine.dispose()
    return sum(1 for line in body.splitlines() if line.startswith(b"["))


def measure(name: str, url: str, db_cpu: Callable[[], float | None], repeat: int, profile: bool) -> None:
    entities = count_entities(url)  # also warms the caches (pages, statements) like a running server
    runs = [one_snapshot(url, db_cpu) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["total"] + (r["db"] or 0.0))
    per = 1000 / max(entities, 1)
    print(f"\nsnapshot server CPU — {name}, {entities:,} entities, zstd ({best['bytes'] / 2**20:,.1f} MiB)")
    print(f"  runs (python CPU s): {', '.join(format(r['total'], '.2f') for r in runs)}")
    print(f"  header (feed point + live entities)   {best['header']:8.2f} s CPU")
    print(f"  body (entities, JSON, zstd) and end   {best['total'] - best['header']:8.2f} s CPU")
    print(f"  server process, whole snapshot        {best['total']:8.2f} s CPU")
    if best["db"] is not None:
        print(f"  PostgreSQL processes                  {best['db']:8.2f} s CPU")
    print(f"  wall clock (under the machine's load) {best['wall']:8.2f} s")
    server_ms = best["total"] * 1000 * per
    print(f"  server CPU per 1,000 entities         {server_ms:8.1f} ms")
    if best["db"] is not None:
        print(f"  PostgreSQL CPU per 1,000 entities     {best['db'] * 1000 * per:8.1f} ms")
    figure(f"CPU del servidor por 1.000 entidades de la instantánea ({name})", server_ms, "ms")
    if best["db"] is not None:
        pg_ms = best["db"] * 1000 * per
        figure(f"CPU de PostgreSQL por 1.000 entidades de la instantánea ({name})", pg_ms, "ms")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one_snapshot(url, lambda: None)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the SQLite database in this folder (and reuse it)")
    parser.add_argument("--profile", action="store_true", help="also print a profile of one snapshot")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="cmdesk-snapsrv-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if "sqlite" in kinds:
            path = folder / f"server-{args.clients}.sqlite3"
            url = f"sqlite:///{path.as_posix()}"
            if not path.exists():
                fill_database(url, args.clients)
            measure("SQLite", url, lambda: None, args.repeat, args.profile)
        if "postgresql" in kinds:
            from bench.load_server import postmaster_pid
            from cmdesk.devtools import postgres

            pg = postgres.start()
            try:
                url = pg.create_database("snapshot")
                fill_database(url, args.clients)
                root = postmaster_pid(pg)
                measure("PostgreSQL", url, lambda: tree_cpu_seconds(root), args.repeat, args.profile)
            finally:
                pg.stop()
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
