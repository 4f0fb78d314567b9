"""Desktop sync benchmark: the first full sync of a large portfolio, a delta sync, and the cache's views.

Builds a server SQLite database with the demo distributor plus `--clients` synthetic clients and about
1.5 CTIs each (`cmdesk.devtools.dataset`, bulk inserts with their change-feed rows), runs cmdesk-server
on it (a separate process by default, as a central server would be; `--in-process` for the embedded
default), and measures with the real service layer:

- the first full sync into an empty cache (goal: < 20 s for 100,000 clients + 150,000 CTIs);
- a delta sync after `--changes` client edits made by another desktop (goal: < 300 ms for 100);
- the clients tab on the full cache: the first page of each of the twelve orders, and search keystrokes.

    .venv/bin/python -m bench.desktop_sync [--clients 100000] [--changes 100] [--in-process] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cmdesk.devtools import dataset, server_process
from cmdesk.server import db, migrations
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Outbox
from cmdesk.services.sync import SyncEngine

TWELVE = [
    "name",
    "nic",
    "stamps_desc",
    "stamps_asc",
    "points_desc",
    "points_asc",
    "last_purchase_desc",
    "last_purchase_asc",
    "created_desc",
    "created_asc",
    "last_issue_desc",
    "last_issue_asc",
]
KEYSTROKES = ["m", "ma", "mar", "mart", "marti", "martin", "martine", "martinez"]


def row(name: str, value: str, goal: str = "") -> None:
    print(f"  {name:<44} {value:>14}   {goal}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def build_database(folder: Path, clients: int) -> str:
    url = f"sqlite:///{(folder / 'server.sqlite3').as_posix()}"
    migrations.upgrade(url)
    engine = db.create_db_engine(url)
    try:
        t = time.perf_counter()
        seed_demo(db.session_factory(engine), clients_count=5, software_store=None)
        account_id = dataset.account_id_by_email(engine, DEMO_EMAIL)
        made = dataset.add_portfolio(engine, account_id, clients=clients)
        print(
            f"database: {made['clients']:,} clients, {made['stamping_accounts']:,} CTIs "
            f"in {time.perf_counter() - t:.1f} s"
        )
    finally:
        engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--in-process", action="store_true", help="run the server in this process")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="cmdesk-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = build_database(folder, args.clients)
    server: Any
    if args.in_process:
        from cmdesk.server.embedded import EmbeddedServer

        server = EmbeddedServer(url)
        base_url = server.start()
    else:
        server = server_process.start(url, workers=1, log_dir=folder)
        base_url = server.url
    api = ApiClient(base_url, read_timeout=120)
    other = ApiClient(base_url)
    cache = Cache(folder / "cache.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")
    try:
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        other.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        engine = SyncEngine(api, cache, outbox)

        t = time.perf_counter()
        full = engine.sync_once()
        full_seconds = time.perf_counter() - t
        counts = cache.counts()

        ids = [r["id"] for r in cache.query_clients(sort="nic", limit=args.changes)]
        for i, client_id in enumerate(ids):
            other.patch(f"/v1/clients/{client_id}", {"trade_name": f"Cambio de benchmark {i}"})
        t = time.perf_counter()
        delta = engine.sync_once()
        delta_seconds = time.perf_counter() - t

        sorts = []
        for sort in TWELVE:
            t = time.perf_counter()
            cache.query_clients(sort=sort, limit=200)
            sorts.append(time.perf_counter() - t)
        keys = []
        for _ in range(3):
            for text in KEYSTROKES:
                t = time.perf_counter()
                cache.query_clients(q=text, limit=200)
                cache.count_clients(q=text)
                keys.append(time.perf_counter() - t)
        t = time.perf_counter()
        cache.query_clients(sort="name", limit=200)
        cache.count_clients()
        first_page = time.perf_counter() - t

        where = "in-process" if args.in_process else "server process"
        print(f"\ncmdesk desktop sync — {args.clients:,} clients ({where})")
        row(
            "cache rows (client / CTI / movement)",
            f"{counts.get('client', 0):,} / {counts.get('stamping_account', 0):,} / "
            f"{counts.get('movement', 0):,}",
        )
        row("first full sync", f"{full_seconds:,.2f} s", "goal < 20 s at 100k clients")
        row("  pages / changes", f"{full.pull.pages:,} / {full.pull.changes:,}")
        row("  counts match the server", str(full.counts_ok and not full.rebuilt))
        row(f"delta sync ({args.changes} client edits)", ms(delta_seconds), "goal < 300 ms for 100 changes")
        row("  changes pulled", f"{delta.pull.changes:,}")
        row("clients tab first page + count", ms(first_page), "goal < 500 ms")
        row("twelve orders: first page, worst", ms(max(sorts)), "goal < 200 ms")
        row("search keystroke p95 (page + count)", ms(statistics.quantiles(keys, n=20)[-1]), "goal < 50 ms")
        sizes = [path.stat().st_size / 2**20 for path in (cache.path, cache.search_path)]
        row("cache files (data + search index)", f"{sizes[0]:,.0f} + {sizes[1]:,.0f} MiB")
    finally:
        cache.close()
        outbox.close()
        api.close()
        other.close()
        server.stop()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
