"""Capacity of the central server: what each request costs, a model for N distributors, and one mixed
run at a scale this machine holds that checks the model (docs/capacity.md).

    python -m bench.capacity [--workers 2] [--seconds 12] [--distributors 20] [--clients 20000]
                             [--cfdi 400000] [--json FILE]
    python -m bench.capacity --model-only --costs FILE [--distributors-model 1000,10000]

1. A throwaway PostgreSQL filled by `cmdesk.devtools.dataset` (D distributors with C clients, their
   CTIs, a year of movements and CFDI), plus the hot-path distributor of `bench.load_server` (64 CTIs
   with stamps to spare).
2. `cmdesk-server run --workers W`. Each kind of request is driven by 8 callers for S seconds
   (`bench.http_load`); the CPU seconds of the server's process tree and of PostgreSQL's (/proc),
   divided by the requests answered, are its costs:
   consume (`POST /v1/stamping/consume`, the fast path), transfer (`POST /v1/transfers`, a new key each
   time), feed page (`GET /v1/sync/changes?limit=1000` from the beginning of a generated distributor's
   feed: a first sync's page), delta (the same with a cursor 20 changes behind: what a sync every
   few minutes brings), counts (`GET /v1/sync/counts` of a generated distributor: every sync checks
   them), me (`GET /v1/me`), snapshot (`GET /v1/sync/snapshot` of a generated distributor, zstd: how
   a first sync or a rebuild fills a desktop; its cost is kept per 1,000 entities, the model scales it
   to the mix's portfolio).
3. Disk per row of the big tables (`pg_total_relation_size` / rows), and rows written per consume and
   per transfer (counted before and after their runs).
4. The model (`model()`): peak requests per second of N distributors with the mix of `Mix`, the CPU
   they need on the API machines and on PostgreSQL, workers and machines, PostgreSQL's size after a
   year, and the first bottleneck.
5. The check: 8 callers send the mix in the model's proportions for S seconds; the CPU the model
   predicts for what was answered is compared with the CPU measured.

Figures on a shared 2-core machine are noisy (the load generator runs there too): quote them with
the command and the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import random
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.http_load import Request, drive, tree_cpu_seconds
from bench.load_server import CTI_PASSWORD, postmaster_pid, prepare, warm_credentials
from cmdesk.devtools import dataset, postgres, server_process
from cmdesk.server import db

CALLERS = 8
SNAPSHOT_UNIT = 1000  # entities: a snapshot's cost is kept per this many entities it carries
TABLES = ("issued_cfdi", "change_log", "movements", "clients", "stamping_accounts", "idempotency_records")


@dataclass
class Cost:
    """CPU milliseconds per request, of the server's processes and of PostgreSQL's."""

    name: str
    server_ms: float
    pg_ms: float
    rate: float  # requests per second answered while measured (8 callers)
    p99_ms: float
    errors: int = 0


@dataclass
class Mix:
    """What one distributor does, on average (docs/capacity.md says where each figure comes from)."""

    clients: int = 300
    ctis_per_client: float = 1.5
    cfdi_per_cti_month: float = 60.0
    # Share of a month's CFDI stamped in its last 3 days, and of a peak day's in its busiest hour.
    month_end_share: float = 0.30
    peak_hour_share: float = 0.12
    desktops: int = 2
    syncs_per_desktop_hour: float = 12.0  # every 5 minutes (the desktop's default interval)
    office_hours: float = 10.0
    transfers_per_day: float = 50.0
    edits_per_day: float = 20.0
    # Full first syncs (a new desktop, a rebuilt cache) per desktop per month.
    full_syncs_per_desktop_month: float = 1.0

    @property
    def cfdi_per_month(self) -> float:
        return self.clients * self.ctis_per_client * self.cfdi_per_cti_month


def peak_rates(n: int, mix: Mix) -> dict[str, float]:
    """Requests per second of `n` distributors in the month-end peak hour."""
    consume = n * mix.cfdi_per_month * mix.month_end_share / 3 * mix.peak_hour_share / 3600
    syncs = n * mix.desktops * mix.syncs_per_desktop_hour / 3600
    # Transfers and edits: twice the average rate of the office day at its peak.
    writes = n * (mix.transfers_per_day + mix.edits_per_day) * 2 / (mix.office_hours * 3600)
    # What a first sync brings: clients, CTIs, and a year of movements.
    entities = mix.clients * (1 + mix.ctis_per_client) + mix.transfers_per_day * 22 * 12
    # A first sync comes from the snapshot (the feed's pages are the fallback of an old server): its
    # rate in units of 1,000 entities, the unit its cost is measured in (`SNAPSHOT_UNIT`).
    full = n * mix.desktops * mix.full_syncs_per_desktop_month / (22 * mix.office_hours * 3600)
    return {
        "consume": consume,
        "delta": syncs,
        "counts": syncs,
        "me": syncs / 12,  # the header's balances, now and then
        "transfer": writes,
        "snapshot": full * max(entities, 1) / SNAPSHOT_UNIT,
    }


@dataclass
class Plan:
    distributors: int
    rates: dict[str, float]
    server_cores: float
    pg_cores: float
    workers: int
    api_machines: int
    pg_cores_provisioned: int
    connections: int
    pg_size_gb: float
    bottleneck: str
    notes: list[str] = field(default_factory=list)


def model(
    n: int,
    costs: dict[str, Cost],
    bytes_per_row: dict[str, float],
    rows_per: dict[str, dict[str, float]],
    mix: Mix | None = None,
    *,
    calibration: float = 1.0,
    utilization: float = 0.6,
    cores_per_machine: int = 8,
    pg_machine_cores: int = 32,
    volume_tb: float = 2.0,
) -> Plan:
    """What `n` distributors need at the month-end peak hour (see the module docstring). The costs are
    multiplied by `calibration` (what the check run measured over what the isolated costs predicted);
    the API machines scale out, PostgreSQL's primary scales up: the first bottleneck is the one nearest
    its limit — PostgreSQL's cores against `pg_machine_cores`, its year of data against `volume_tb`."""
    mix = mix or Mix()
    rates = peak_rates(n, mix)
    server = calibration * sum(r * costs[k].server_ms for k, r in rates.items() if k in costs) / 1000
    pg = calibration * sum(r * costs[k].pg_ms for k, r in rates.items() if k in costs) / 1000
    server_cores = server / utilization
    pg_cores = pg / utilization
    workers = max(2, math.ceil(server_cores))
    machines = max(2, math.ceil(workers / cores_per_machine) + 1)  # one spare for upgrades and failures
    # A year of data: CFDI rows, their change-log rows, movements.
    cfdi_year = n * mix.cfdi_per_month * 12
    transfers_year = n * mix.transfers_per_day * 22 * 12
    size = 0.0
    for table, per in (("consume", cfdi_year), ("transfer", transfers_year)):
        for t, rows in rows_per.get(table, {}).items():
            size += per * rows * bytes_per_row.get(t, 0.0)
    size += (
        n
        * mix.clients
        * (1 + mix.ctis_per_client)
        * max(bytes_per_row.get("clients", 0.0), bytes_per_row.get("stamping_accounts", 0.0))
    )
    connections = workers * 40  # 10 + 20 overflow of the ORM's pool, 10 of the fast path
    cpu_share, disk_share = pg_cores / pg_machine_cores, size / 1e12 / volume_tb
    bottleneck = (
        f"PostgreSQL storage ({disk_share:.0%} of {volume_tb:g} TB a year)"
        if disk_share >= cpu_share
        else f"PostgreSQL CPU ({cpu_share:.0%} of {pg_machine_cores} cores)"
    )
    notes = []
    if connections > 400:
        notes.append(
            f"{connections} connections: a pooler (PgBouncer, transaction mode) in front of PostgreSQL"
        )
    return Plan(
        n,
        rates,
        round(server_cores, 2),
        round(pg_cores, 2),
        workers,
        machines,
        max(4, 2 ** math.ceil(math.log2(max(1.0, pg_cores * 1.5)))),
        connections,
        round(size / 1e9, 1),
        bottleneck,
        notes,
    )


# ---- Measuring ----------------------------------------------------------------------------------------


def _cpu(server_pid: int, postmaster: int) -> tuple[float, float]:
    return tree_cpu_seconds(server_pid) or 0.0, tree_cpu_seconds(postmaster) or 0.0


def measure(name: str, url: str, pids: tuple[int, int], seconds: float, make: Any, ok: int = 200) -> Cost:
    asyncio.run(drive(name, url, CALLERS, min(2.0, seconds / 4), make))  # warm-up
    before = _cpu(*pids)
    result = asyncio.run(drive(name, url, CALLERS, seconds, make))
    after = _cpu(*pids)
    done = max(1.0, result.throughput * seconds)
    return Cost(
        name,
        round((after[0] - before[0]) * 1000 / done, 3),
        round((after[1] - before[1]) * 1000 / done, 3),
        round(result.throughput, 1),
        round(result.p99_ms, 1),
        result.errors,
    )


def _count_rows(engine: Any) -> dict[str, int]:
    with engine.connect() as c:
        return {t: int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}


def _bytes_per_row(engine: Any) -> dict[str, float]:
    out = {}
    with engine.connect() as c:
        for t in TABLES:
            rows = int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            size = int(c.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one())
            out[t] = round(size / rows, 1) if rows else 0.0
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    pg = postgres.start()
    server = None
    try:
        url = pg.create_database("capacity")
        login, ctis = prepare(url)  # migrates, and the hot-path distributor
        engine = db.create_db_engine(url)
        started = time.monotonic()
        made = dataset.generate(
            engine,
            dataset.DatasetSpec(
                distributors=args.distributors,
                clients=args.clients,
                ctis=int(args.clients * 1.5),
                cfdi=args.cfdi,
                months=12,
            ),
        )
        print(f"dataset: {made.counts} in {time.monotonic() - started:.0f} s", flush=True)
        server = server_process.start(url, workers=args.workers, log_dir=Path(tempfile.mkdtemp()))
        pids = (server.process.pid, postmaster_pid(pg))
        http = httpx.Client(base_url=server.url, timeout=120)

        def bearer(email: str, password: str) -> str:
            answer = http.post("/v1/auth/token", json={"login": email, "password": password})
            answer.raise_for_status()
            return f"Bearer {answer.json()['access_token']}"

        hot = bearer(login, "bench1234")
        someone = made.distributors[len(made.distributors) // 2]
        generated = bearer(someone["email"], someone["password"])
        basic = {cti: "Basic " + base64.b64encode(f"{cti}:{CTI_PASSWORD}".encode()).decode() for cti in ctis}
        asyncio.run(warm_credentials(server.url, ctis, rounds=6 * args.workers))

        # The feed of a generated distributor: every page's cursor (a first sync walks them all).
        cursors: list[str | None] = [None]
        while True:
            params: dict[str, str | int] = {"limit": 1000}
            if cursors[-1]:
                params["cursor"] = cursors[-1]
            page = http.get("/v1/sync/changes", params=params, headers={"Authorization": generated}).json()
            if not page["has_more"]:
                break
            cursors.append(page["cursor"])
        # A delta of ~20 changes: the hot distributor's cursor now, then 10 consumptions.
        tail = http.get("/v1/sync/changes", params={"limit": 1000}, headers={"Authorization": hot}).json()
        while tail["has_more"]:
            tail = http.get(
                "/v1/sync/changes",
                params={"limit": 1000, "cursor": tail["cursor"]},
                headers={"Authorization": hot},
            ).json()
        delta_cursor = tail["cursor"]
        for cti in ctis[:10]:
            http.post(
                "/v1/stamping/consume",
                json={"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())},
                headers={"Authorization": basic[cti]},
            )

        def consume(w: int, i: int) -> Request:
            cti = ctis[(w * 7 + i) % len(ctis)]
            body = json.dumps({"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())}).encode()
            return (
                "POST",
                "/v1/stamping/consume",
                {"Content-Type": "application/json", "Authorization": basic[cti]},
                body,
                200,
            )

        def transfer(w: int, i: int) -> Request:
            cti = ctis[(w * 13 + i) % len(ctis)]
            body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 1}
            headers = {
                "Content-Type": "application/json",
                "Authorization": hot,
                "Idempotency-Key": uuid.uuid4().hex,
            }
            return "POST", "/v1/transfers", headers, json.dumps(body).encode(), 201

        def page(w: int, i: int) -> Request:
            cursor = cursors[(w * 5 + i) % len(cursors)]
            path = "/v1/sync/changes?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            return "GET", path, {"Authorization": generated}, b"", 200

        def delta(_w: int, _i: int) -> Request:
            return (
                "GET",
                f"/v1/sync/changes?limit=1000&cursor={delta_cursor}",
                {"Authorization": hot},
                b"",
                200,
            )

        def counts(_w: int, _i: int) -> Request:
            return "GET", "/v1/sync/counts", {"Authorization": generated}, b"", 200

        def me(_w: int, _i: int) -> Request:
            return "GET", "/v1/me", {"Authorization": hot}, b"", 200

        snapshot_headers = {"Authorization": generated, "Accept-Encoding": "zstd"}

        def snapshot(_w: int, _i: int) -> Request:
            return "GET", "/v1/sync/snapshot", snapshot_headers, b"", 200

        # How many entities the generated distributor's snapshot carries (its lines but the header
        # and the end): the snapshot's cost is divided by them, per `SNAPSHOT_UNIT`.
        with http.stream("GET", "/v1/sync/snapshot", headers={"Authorization": generated}) as answer:
            answer.raise_for_status()
            snapshot_entities = sum(1 for line in answer.iter_lines() if line.strip()) - 2
        print(f"snapshot of a generated distributor: {snapshot_entities:,} entities", flush=True)
        units = {"snapshot": max(snapshot_entities, 1) / SNAPSHOT_UNIT}

        costs: dict[str, Cost] = {}
        rows_per: dict[str, dict[str, float]] = {}
        for name, make, ok in (
            ("delta", delta, 200),
            ("feed page", page, 200),
            ("counts", counts, 200),
            ("me", me, 200),
            ("consume", consume, 200),
            ("transfer", transfer, 201),
            ("snapshot", snapshot, 200),
        ):
            before = _count_rows(engine)
            cost = measure(name, server.url, pids, args.seconds, make, ok)
            after = _count_rows(engine)
            if name in units:  # per unit of the model, not per request
                cost.server_ms = round(cost.server_ms / units[name], 3)
                cost.pg_ms = round(cost.pg_ms / units[name], 3)
            costs[name] = cost
            answered = max(1.0, cost.rate * (args.seconds + min(2.0, args.seconds / 4)))
            if name in ("consume", "transfer"):
                rows_per[name] = {t: round((after[t] - before[t]) / answered, 2) for t in TABLES}
            print(
                f"  {name:<10} server {cost.server_ms:7.3f} ms  pg {cost.pg_ms:7.3f} ms  "
                f"{cost.rate:8.1f} req/s  p99 {cost.p99_ms:6.1f} ms  errors {cost.errors}",
                flush=True,
            )
        bytes_per_row = _bytes_per_row(engine)

        # ---- the check: the mix in the model's proportions ----
        shares = peak_rates(1000, Mix())
        kinds = list(shares)
        requests = {k: shares[k] / units.get(k, 1.0) for k in kinds}  # a snapshot request is many units
        total = sum(requests.values())
        weights = [requests[k] / total for k in kinds]
        makers = {
            "consume": consume,
            "transfer": transfer,
            "feed page": page,
            "delta": delta,
            "counts": counts,
            "me": me,
            "snapshot": snapshot,
        }
        sent: dict[str, int] = dict.fromkeys(kinds, 0)
        rng = random.Random(7)
        oks = {"transfer": 201}

        def mixed(w: int, i: int) -> Request:
            kind = rng.choices(kinds, weights)[0]
            sent[kind] += 1
            method, path, headers, body, _ok = makers[kind](w, i)
            return method, path, headers, body, oks.get(kind, 200)

        before_cpu = _cpu(*pids)
        result = asyncio.run(drive("mix", server.url, CALLERS, args.seconds * 2, mixed))
        after_cpu = _cpu(*pids)
        predicted_server = sum(sent[k] * units.get(k, 1.0) * costs[k].server_ms for k in kinds) / 1000
        predicted_pg = sum(sent[k] * units.get(k, 1.0) * costs[k].pg_ms for k in kinds) / 1000
        check = {
            "requests": sent,
            "throughput": round(result.throughput, 1),
            "errors": result.errors,
            "server_cpu_s": {
                "measured": round(after_cpu[0] - before_cpu[0], 2),
                "predicted": round(predicted_server, 2),
            },
            "pg_cpu_s": {
                "measured": round(after_cpu[1] - before_cpu[1], 2),
                "predicted": round(predicted_pg, 2),
            },
        }
        http.close()
        engine.dispose()
        return {
            "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
            "config": {k: str(v) for k, v in vars(args).items()},
            "dataset": made.counts,
            "snapshot_entities": snapshot_entities,
            "costs": {k: asdict(v) for k, v in costs.items()},
            "bytes_per_row": bytes_per_row,
            "rows_per": rows_per,
            "check": check,
        }
    finally:
        if server is not None:
            server.stop()
        pg.stop()


def print_model(measured: dict[str, Any], sizes: list[int]) -> None:
    costs = {k: Cost(**v) for k, v in measured["costs"].items()}
    mix = Mix()
    check = measured["check"]
    s, g = check["server_cpu_s"], check["pg_cpu_s"]
    calibration = max(
        1.0, s["measured"] / max(s["predicted"], 1e-9), g["measured"] / max(g["predicted"], 1e-9)
    )
    print(f"\nModel (month-end peak hour; costs ×{calibration:.2f} from the check; mix: {asdict(mix)})")
    names: tuple[str, ...] = ("distributors", "consume/s", "syncs/s", "writes/s", "API cores", "PG cores")
    names += ("workers", "machines", "PG GB/yr")
    head = "{:>12} {:>10} {:>8} {:>9} {:>10} {:>9} {:>8} {:>9} {:>9}  first bottleneck".format(*names)
    print(head)
    for n in sizes:
        p = model(n, costs, measured["bytes_per_row"], measured["rows_per"], mix, calibration=calibration)
        print(
            f"{n:>12,} {p.rates['consume']:>10.1f} {p.rates['delta']:>8.1f} {p.rates['transfer']:>9.2f} "
            f"{p.server_cores:>10.1f} {p.pg_cores:>9.1f} {p.workers:>8} {p.api_machines:>9} "
            f"{p.pg_size_gb:>9.1f}  "
            f"{p.bottleneck}" + ("; " + "; ".join(p.notes) if p.notes else "")
        )
    print(
        f"\nCheck (mixed load, {check['throughput']} req/s, {check['errors']} errors): server CPU measured "
        f"{s['measured']} s vs predicted {s['predicted']} s "
        f"({s['measured'] / max(s['predicted'], 1e-9):.2f}×); "
        f"PostgreSQL CPU measured {g['measured']} s vs predicted {g['predicted']} s "
        f"({g['measured'] / max(g['predicted'], 1e-9):.2f}×)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--distributors", type=int, default=20)
    ap.add_argument("--clients", type=int, default=20_000)
    ap.add_argument("--cfdi", type=int, default=400_000)
    ap.add_argument("--json", type=Path, help="write the measurements here")
    ap.add_argument("--model-only", action="store_true", help="only the model, from --costs")
    ap.add_argument("--costs", type=Path, help="measurements written earlier with --json")
    ap.add_argument("--distributors-model", default="100,1000,10000", help="N of the model's rows")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.distributors_model.split(",")]
    if args.model_only:
        if args.costs is None:
            ap.error("--model-only needs --costs FILE")
        measured = json.loads(args.costs.read_text())
    else:
        measured = run(args)
        if args.json:
            args.json.write_text(json.dumps(measured, indent=2))
    print_model(measured, sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
