"""A statement opened in the desktop from its cache (issue 18): a client with 100,000 point movements
over three years, the whole period, built offline by `cmdesk.services.statements.local_statement`
(its sums and running balances in SQL) and its first page read (the domain's rules, the names) — what
"Estado de cuenta" costs before its first rows show. Goal: < 500 ms. The CPU time of the process is
printed too (on a shared machine the wall time includes waiting for a core).

    python -m bench.statement_cache [--movements 100000] [--runs 5]

The cache is filled through its own feed path (`Cache.apply_page`), as a sync would. Figures are
printed as `FIGURE {...}` lines for `python -m bench`; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bitacora import figure
from cmdesk.domain import statements as st
from cmdesk.services.cache import Cache
from cmdesk.services.statements import local_statement

ACCOUNT = "a" * 32
CLIENT = "c" * 32
PROFILE = "p" * 32
PAGE = 500  # the statement table's page (`cmdesk.ui.estados.panel`)


def fill(cache: Cache, movements: int, now: dt.datetime) -> None:
    start = now - dt.timedelta(days=3 * 365)
    step = (now - start) / movements
    cache.apply_page(
        [
            {
                "entity": "account",
                "id": ACCOUNT,
                "version": 1,
                "deleted": False,
                "data": {
                    "id": ACCOUNT,
                    "nic": "200000",
                    "name": "Distribuidor de prueba",
                    "balances": {"stamps": 0, "points": 0},
                },
            },
            {
                "entity": "profile",
                "id": PROFILE,
                "version": 1,
                "deleted": False,
                "data": {"id": PROFILE, "name": "Luz Clara", "email": "luz@example.mx"},
            },
            {
                "entity": "client",
                "id": CLIENT,
                "version": 1,
                "deleted": False,
                "data": {
                    "id": CLIENT,
                    "nic": "200001",
                    "name": "Cliente con historia",
                    "balances": {"stamps": 0, "points": movements * 3},
                },
            },
        ],
        None,
    )
    page: list[dict[str, Any]] = []
    for i in range(movements):
        at = (start + step * i).isoformat().replace("+00:00", "Z")
        page.append(
            {
                "entity": "movement",
                "id": f"m{i:08d}",
                "version": 1,
                "deleted": False,
                "data": {
                    "id": f"m{i:08d}",
                    "kind": "transfer",
                    "asset": "points",
                    "quantity": 3,
                    "amount_cents": 150,
                    "source": {"type": "account", "id": ACCOUNT, "name": "Distribuidor"},
                    "target": {"type": "client", "id": CLIENT},
                    "client_id": CLIENT,
                    "account_id": ACCOUNT,
                    "comments": "puntos",
                    "created_at": at,
                    "created_by": PROFILE,
                    "created_by_name": "Luz Clara",
                },
            }
        )
        if len(page) == 5000:
            cache.apply_page(page, None)
            page = []
    if page:
        cache.apply_page(page, None)
    cache.finish_pull()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--movements", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20,000 movements, 3 runs")
    args = parser.parse_args(argv)
    movements, runs = (20_000, 3) if args.quick else (args.movements, args.runs)
    now = dt.datetime.now(dt.UTC)
    today = st.local_day(now)
    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(Path(folder) / "cache.sqlite3")
        try:
            began = time.perf_counter()
            fill(cache, movements, now)
            print(f"  cache filled with {movements:,} movements in {time.perf_counter() - began:.1f} s")
            first = today - dt.timedelta(days=3 * 365 + 1)
            samples, cpu = [], []
            view = None
            for _ in range(runs + 1):
                began, began_cpu = time.perf_counter(), time.process_time()
                view = local_statement(cache, "client", CLIENT, "points", first, today)
                page = view.page(0, PAGE)
                samples.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            assert view is not None and view.count == movements and view.closing == view.live
            assert len(page) == min(PAGE, movements)
            assert view.page(movements - 1, 1)[0].balance == view.closing
            value = statistics.median(samples[1:])
            print(f"  statement of {movements:,} movements from the cache: {value:.0f} ms (goal < 500 ms)")
            print(f"    CPU time of the process: {statistics.median(cpu[1:]):.0f} ms")
            began = time.perf_counter()
            rows = sum(1 for _ in view.iter_rows())
            print(f"    every row read (what an export reads): {time.perf_counter() - began:.1f} s, {rows:,}")
            figure(f"Estado de cuenta de {movements:,} movimientos desde la caché", value, "ms", 500.0)
        finally:
            cache.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
