"""Desktop sync benchmark: the first full sync of a large portfolio, a delta sync, and the cache's views.

Builds a server SQLite database with the demo distributor plus `--clients` synthetic clients and about
1.5 CTIs each (`cmdesk.devtools.dataset`, bulk inserts with their change-feed rows), runs cmdesk-server
on it (a separate process by default, as a central server would be; `--in-process` for the embedded
default), and measures with the real service layer:

- the server's cache image of the account, built ahead (`cmdesk-server cache-images`, as a nightly
  task or the first sync that found none would have it built), and how long that took;
- the first full sync into an empty cache from that image (goal: < 6 s for 100,000 clients + 150,000
  CTIs), with the desktop's peak memory during it (goal: < 400 MiB) and the time until the clients
  tab's first page query answers rows (goal: < 2 s);
- the same first sync from the server's snapshot (an account without an image ready), and paging the
  feed from the beginning (the fallback for an old server), to compare;
- a delta sync after `--changes` client edits made by another desktop (goal: < 300 ms for 100);
- the clients tab on the full cache: the first page of each of the twelve orders, and search keystrokes.

Each first sync runs in a process of its own (`--child`), so its memory is the desktop's alone.

    .venv/bin/python -m bench.desktop_sync [--clients 100000] [--changes 100] [--in-process] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cmdesk.devtools import portfolio, server_process
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


def figure(name: str, value: float, unit: str, goal: float | None = None) -> None:
    """A machine line for `python -m bench` (its table shows these names)."""
    print("FIGURE " + json.dumps({"name": name, "value": round(value, 3), "unit": unit, "goal": goal}))


MODES = ("image", "snapshot", "paged")


def first_sync(base_url: str, folder: Path, mode: str) -> dict[str, Any]:
    """A first full sync into an empty cache in `folder` (run in a process of its own, `--child`):
    its time, the desktop's peak memory, and when the clients tab's first page query first answered
    rows (polled every 20 ms on another thread, as the view would ask)."""
    api = ApiClient(base_url, read_timeout=120)
    cache = Cache(folder / "cache.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")
    try:
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        engine = SyncEngine(api, cache, outbox, snapshot=mode != "paged", image=mode == "image")
        done = threading.Event()
        first_rows: list[float] = []
        started = time.perf_counter()

        def watch() -> None:
            while not done.is_set():
                if cache.query_clients(sort="name", limit=200):
                    first_rows.append(time.perf_counter() - started)
                    return
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        report = engine.sync_once()
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        return {
            "seconds": seconds,
            "first_rows": first_rows[0] if first_rows else seconds,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cpu_seconds": _cpu_seconds(),
            "pages": report.pull.pages,
            "changes": report.pull.changes,
            "snapshot": report.pull.snapshot,
            "image": report.pull.image,
            "phases": report.pull.snapshot_phases,
            "counts_ok": report.counts_ok and not report.rebuilt,
        }
    finally:
        cache.close()
        outbox.close()
        api.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def first_sync_in_child(server: Any, base_url: str, folder: Path, mode: str) -> dict[str, Any]:
    """`first_sync` in a process of its own; also the server's CPU time during it (when it is a process
    of its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    server_cpu = getattr(server, "tree_cpu_seconds", None)
    before = server_cpu() if server_cpu else 0.0
    out = subprocess.run(
        [sys.executable, "-m", "bench.desktop_sync", "--child", mode, base_url, str(folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["server_cpu_seconds"] = server_cpu() - before if server_cpu else None
    return result


def _cpu_pair(result: dict[str, Any]) -> str:
    server = result.get("server_cpu_seconds")
    return f"{result['cpu_seconds']:,.1f} s / " + ("n/a" if server is None else f"{server:,.1f} s")


def _server_ms_per_1000(result: dict[str, Any]) -> float | None:
    server = result.get("server_cpu_seconds")
    entities = result.get("snapshot") or result.get("image")
    if server is None or not entities:
        return None
    return float(server) * 1000 * 1000 / entities


def build_image(url: str) -> float:
    """The demo distributor's cache image, built by `cmdesk-server cache-images` (into the server's
    default folder, beside the database); its seconds. In a process of its own: Linux keeps a process's
    peak memory across `exec`, so the first syncs' children would inherit this one's."""
    engine = db.create_db_engine(url)
    try:
        account_id = portfolio.account_id_by_email(engine, DEMO_EMAIL)
    finally:
        engine.dispose()
    started = time.perf_counter()
    command = ["cache-images", "--db", url, "--account", account_id]
    subprocess.run([sys.executable, "-m", "cmdesk.server.cli", *command], check=True, capture_output=True)
    return time.perf_counter() - started


def build_database(folder: Path, clients: int) -> str:
    url = f"sqlite:///{(folder / 'server.sqlite3').as_posix()}"
    fill_database(url, clients)
    return url


def fill_database(url: str, clients: int) -> None:
    """Migrate the (empty) database at `url`, seed the demo distributor and give it the portfolio."""
    migrations.upgrade(url)
    engine = db.create_db_engine(url)
    try:
        t = time.perf_counter()
        seed_demo(db.session_factory(engine), clients_count=5, software_store=None)
        account_id = portfolio.account_id_by_email(engine, DEMO_EMAIL)
        made = portfolio.add_portfolio(engine, account_id, clients=clients)
        print(
            f"database: {made['clients']:,} clients, {made['stamping_accounts']:,} CTIs "
            f"in {time.perf_counter() - t:.1f} s"
        )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--in-process", action="store_true", help="run the server in this process")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, url, child_folder = args.child
        print(json.dumps(first_sync(url, Path(child_folder), mode)))
        return

    folder = args.keep or Path(tempfile.mkdtemp(prefix="cmdesk-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = build_database(folder, args.clients)
    build_seconds = build_image(url)
    server: Any
    if args.in_process:
        from cmdesk.server.embedded import EmbeddedServer

        server = EmbeddedServer(url)
        base_url = server.start()
    else:
        server = server_process.start(url, workers=1, log_dir=folder)
        base_url = server.url
    other = ApiClient(base_url)
    cache: Cache | None = None
    outbox: Outbox | None = None
    api = ApiClient(base_url, read_timeout=120)
    try:
        # The same first sync, three ways, each in a process of its own and into a cache of its own.
        image = first_sync_in_child(server, base_url, folder / "image", "image")
        snap = first_sync_in_child(server, base_url, folder / "snapshot", "snapshot")
        paged = first_sync_in_child(server, base_url, folder / "paged", "paged")

        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        other.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        cache = Cache(folder / "image" / "cache.sqlite3")
        outbox = Outbox(folder / "image" / "outbox.sqlite3")
        engine = SyncEngine(api, cache, outbox)
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
        row("server: cache image built ahead (once)", f"{build_seconds:,.1f} s", "cmdesk-server cache-images")
        row("first full sync, from the cache image", f"{image['seconds']:,.2f} s", "goal < 6 s at 100k")
        row("  entities in the image / feed changes after", f"{image['image']:,} / {image['changes']:,}")
        row("  first rows on screen during it", f"{image['first_rows']:,.2f} s", "goal < 2 s")
        phases = " / ".join(f"{seconds:,.2f}" for seconds in image["phases"].values())
        row("  downloaded / complete at", f"{phases} s")
        row("  peak desktop RSS during it", f"{image['rss_mib']:,.0f} MiB", "goal < 400 MiB")
        row("  counts match the server", str(image["counts_ok"]))
        row("  CPU time: desktop / server", _cpu_pair(image))
        row("first full sync, from the snapshot (no image)", f"{snap['seconds']:,.2f} s")
        row("  entities in the snapshot / feed changes after", f"{snap['snapshot']:,} / {snap['changes']:,}")
        row("  first rows on screen during it", f"{snap['first_rows']:,.2f} s")
        # When the snapshot's header arrived, the last entity was written, the sort indexes and the
        # search index were built (seconds from its start): where the time of a first sync goes.
        phases = " / ".join(f"{seconds:,.1f}" for seconds in snap["phases"].values())
        row("  header / received / indexes / search at", f"{phases} s")
        row("  peak desktop RSS during it", f"{snap['rss_mib']:,.0f} MiB")
        row("  counts match the server", str(snap["counts_ok"]))
        row("  CPU time: desktop / server", _cpu_pair(snap), "(steadier than the clock under load)")
        server_per_1000 = _server_ms_per_1000(snap)
        if server_per_1000 is not None:
            # The whole first sync's server CPU (snapshot, then the feed after it) per 1,000 entities.
            row("  server CPU per 1,000 entities", f"{server_per_1000:,.1f} ms")
        row("first full sync, paged feed (old servers)", f"{paged['seconds']:,.2f} s")
        row("  pages / changes", f"{paged['pages']:,} / {paged['changes']:,}")
        row("  first rows on screen during it", f"{paged['first_rows']:,.2f} s")
        row("  peak desktop RSS during it", f"{paged['rss_mib']:,.0f} MiB")
        row("  counts match the server", str(paged["counts_ok"]))
        row("  CPU time: desktop / server", _cpu_pair(paged))
        row(f"delta sync ({args.changes} client edits)", ms(delta_seconds), "goal < 300 ms for 100 changes")
        row("  changes pulled", f"{delta.pull.changes:,}")
        row("clients tab first page + count", ms(first_page), "goal < 500 ms")
        row("twelve orders: first page, worst", ms(max(sorts)), "goal < 200 ms")
        keystroke = statistics.quantiles(keys, n=20)[-1]
        row("search keystroke p95 (page + count)", ms(keystroke), "goal < 50 ms")
        sizes = [path.stat().st_size / 2**20 for path in (cache.path, cache.search_path)]
        row("cache files (data + search index)", f"{sizes[0]:,.0f} + {sizes[1]:,.0f} MiB")
        print()
        figure("Primera sincronización completa (imagen de la caché)", image["seconds"], "s", 6)
        figure("Primeras filas en pantalla durante ella", image["first_rows"], "s", 2)
        figure("Memoria máxima del escritorio durante ella", image["rss_mib"], "MiB", 400)
        figure("CPU del escritorio en ella (imagen)", image["cpu_seconds"], "s")
        figure("Imagen de la caché preparada por el servidor (una vez)", build_seconds, "s")
        figure("Primera sincronización desde la instantánea (sin imagen)", snap["seconds"], "s")
        figure("CPU del escritorio en ella (instantánea)", snap["cpu_seconds"], "s")
        if server_per_1000 is not None:
            figure("CPU del servidor en ella por 1.000 entidades", server_per_1000, "ms")
        figure("Primera sincronización paginando el feed (servidor antiguo)", paged["seconds"], "s")
        figure("CPU del escritorio en ella (paginando)", paged["cpu_seconds"], "s")
        figure(f"Sincronización delta de {args.changes} cambios", delta_seconds * 1000, "ms", 300)
        figure("Pestaña Clientes lista (primera página y total)", first_page * 1000, "ms", 500)
        figure("Cambio de orden, el peor de los doce", max(sorts) * 1000, "ms", 200)
        figure("Tecleo en la búsqueda (p95, página y total)", keystroke * 1000, "ms", 50)
    finally:
        if cache is not None:
            cache.close()
        if outbox is not None:
            outbox.close()
        api.close()
        other.close()
        server.stop()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
