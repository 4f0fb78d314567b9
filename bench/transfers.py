"""Month-end at scale: transfers against `pgbench -N` in the same run, a bulk of 5,000 items, and another
distributor's stamping while that bulk runs (PostgreSQL and SQLite).

1. PostgreSQL, `cmdesk-server --workers W`: `pgbench -N` at 1, 8 and 32 clients, then
   `POST /v1/transfers` (Bearer, a new Idempotency-Key each time, quantity 1 to a CTI) at the same
   concurrency, the callers spread over several distributors (caller w acts for distributor
   w mod D, as month-end refills of several distributors do). Throughput, p50/p99, ratio to pgbench.
2. PostgreSQL: one `POST /v1/transfers/bulk` of 5,000 items (one per CTI of a distributor with
   5,000 clients) while another distributor stamps (`POST /v1/stamping/consume`, a few callers one
   request after the other): the bulk's wall time, and the stamping p99 over the requests sent
   while the bulk ran (and before it, for comparison).
3. The same on SQLite (one worker: SQLite has one writer).

    .venv/bin/python -m bench.transfers [--seconds 8] [--workers 2] [--concurrency 1,8,32]
                                        [--distributors 8] [--bulk 5000] [--no-sqlite]

Prints a table and FIGURE lines (read by `python -m bench`). Goals (issue 19): transfers at 8
callers ≥ 25 % of pgbench -N; the bulk < 1 s on PostgreSQL and < 3 s on SQLite; the other
distributor's stamping p99 < 50 ms during the bulk on both.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.http_load import drive, encode, read_response, tree_cpu_seconds
from bench.load_server import cpu_ms_per, pgbench, postmaster_pid, warm_credentials
from cmdesk.devtools import postgres, server_process
from cmdesk.domain.codes import new_id
from cmdesk.models import Client, StampingAccount
from cmdesk.server import db, migrations, security
from cmdesk.server.operations import accounts, clients, ledger
from cmdesk.server.operations.context import Actor
from cmdesk.server.seed import load_catalog

PASSWORD = "bench1234"
CTI_PASSWORD = "Bench2026pass"
TARGETS_PER_DISTRIBUTOR = 64
STAMPING_CTIS = 8
STAMPING_CALLERS = 3
READY_WITHIN = 300.0  # seconds for the workers to start on a loaded machine


@dataclass
class World:
    logins: list[str]  # distributors for single transfers
    targets: list[list[str]]  # their CTIs
    bulk_login: str = ""
    bulk_targets: list[str] = field(default_factory=list)
    stamping_ctis: list[str] = field(default_factory=list)


def _distributor(factory: db.SessionFactory, n: int, stamps_packages: int) -> tuple[str, Actor]:
    login = f"mes{n}@cmdesk.mx"
    # Argon2 before the transaction, as the server's routes do (security.prehashed): hashing inside one
    # logs "a password was hashed inside a database transaction" (that warning was this bench's).
    with security.prehashed(PASSWORD), db.transaction(factory) as s:
        out = accounts.create_distributor(
            s, name=f"Distribuidora {n}", email=login, mobile=f"55{n + 10:08d}", password=PASSWORD
        )
    actor = Actor(out["account"]["id"], out["profile"]["id"])
    if stamps_packages:
        db.run(factory, ledger.purchase, actor, "stamps_2000000", stamps_packages)
    return login, actor


def _ctis(factory: db.SessionFactory, actor: Actor, count: int, password_hash: str) -> list[str]:
    """`count` clients, each with its standard CTI, written directly (the bench needs many, fast)."""
    ids: list[str] = []
    with db.transaction(factory) as s:
        rows: list[Any] = []
        for i in range(count):
            client_id = new_id()
            rows.append(
                Client(
                    id=client_id,
                    account_id=actor.account_id,
                    nic=f"{actor.account_id[:4]}{i:06d}",
                    name=f"Cliente {i:05d}",
                    rfc="EKU9003173C9",
                )
            )
            ids.append(f"B{actor.account_id[:6].upper()}{i:05d}")
        s.add_all(rows)
        s.flush()
        s.add_all(
            StampingAccount(id=cti, account_id=actor.account_id, client_id=c.id, password_hash=password_hash)
            for cti, c in zip(ids, rows, strict=True)
        )
    return ids


def prepare(url: str, distributors: int, bulk: int) -> World:
    migrations.upgrade(url)
    engine = db.create_db_engine(url)
    factory = db.session_factory(engine)
    try:
        with db.transaction(factory) as s:
            load_catalog(s)
        unused_hash = security.hash_password(uuid.uuid4().hex)  # nobody stamps with the transfer targets
        world = World([], [])
        for n in range(distributors):
            login, actor = _distributor(factory, n, 1)
            world.logins.append(login)
            world.targets.append(_ctis(factory, actor, TARGETS_PER_DISTRIBUTOR, unused_hash))
        world.bulk_login, actor = _distributor(factory, distributors, 1)
        world.bulk_targets = _ctis(factory, actor, bulk, unused_hash)
        _, stamper = _distributor(factory, distributors + 1, 1)
        for cti in _ctis(factory, stamper, STAMPING_CTIS, unused_hash):
            with security.prehashed(CTI_PASSWORD):
                db.run(factory, clients.reset_stamping_password, stamper, cti, password=CTI_PASSWORD)
            db.run(
                factory,
                ledger.transfer,
                stamper,
                asset="stamps",
                target_type="stamping_account",
                target_id=cti,
                quantity=200_000,
            )
            world.stamping_ctis.append(cti)
        return world
    finally:
        engine.dispose()


def sign_in(url: str, login: str) -> str:
    answer = httpx.post(f"{url}/v1/auth/token", json={"login": login, "password": PASSWORD}, timeout=60)
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def _consume(cti: str) -> tuple[dict[str, str], bytes]:
    """The headers and body of a stamping request: a new CFDI on `cti`."""
    body = json.dumps({"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())}).encode()
    auth = "Basic " + base64.b64encode(f"{cti}:{CTI_PASSWORD}".encode()).decode()
    return {"Content-Type": "application/json", "Authorization": auth}, body


async def bulk_under_stamping(
    url: str, token: str, targets: list[str], ctis: list[str], pids: dict[str, int] | None = None
) -> dict[str, float]:
    """Stamp with a few callers; after a second, send the bulk; stop a second after it answered.
    Returns the bulk's seconds, the stamping p50/p99 before and during it, and the CPU seconds each
    process of `pids` (and its children) used while the bulk ran (the stamping's included)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    hostport = f"{host}:{port}"
    samples: list[tuple[float, float]] = []  # (sent at, latency)
    errors = 0
    stop = asyncio.Event()

    async def stamper(w: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            i = 0
            while not stop.is_set():
                headers, body = _consume(ctis[(w * 3 + i) % len(ctis)])
                data = encode(hostport, "POST", "/v1/stamping/consume", headers, body)
                t0 = time.perf_counter()
                writer.write(data)
                status, _ = await read_response(reader)
                samples.append((t0, time.perf_counter() - t0))
                errors += status != 200
                i += 1
        finally:
            writer.close()

    items = [
        {
            "asset": "stamps",
            "target": {"type": "stamping_account", "id": cti},
            "quantity": 3,
            "amount_cents": 150,
        }
        for cti in targets
    ]
    body = json.dumps({"items": items}).encode()
    request = encode(
        hostport,
        "POST",
        "/v1/transfers/bulk",
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Idempotency-Key": new_id()},
        body,
    )
    stampers = [asyncio.create_task(stamper(w)) for w in range(STAMPING_CALLERS)]
    await asyncio.sleep(1.5)
    reader, writer = await asyncio.open_connection(host, port)
    cpu_before = {name: tree_cpu_seconds(pid) for name, pid in (pids or {}).items()}
    started = time.perf_counter()
    writer.write(request)
    status, answer = await read_response(reader)
    ended = time.perf_counter()
    cpu = {
        f"cpu_{name}": (after or 0.0) - (cpu_before[name] or 0.0)
        for name, after in ((name, tree_cpu_seconds(pid)) for name, pid in (pids or {}).items())
    }
    writer.close()
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*stampers)
    if status != 201:
        raise RuntimeError(f"la transferencia masiva respondió {status}: {answer[:300]!r}")
    movements = len(json.loads(answer)["movements"])
    assert movements == len(targets), movements
    slow = [(t0 - started, lat) for t0, lat in samples if started <= t0 <= ended and lat > 0.05]
    if slow:  # when, in the bulk, the slow stamps were sent: which of its phases held them
        print(
            "stamps over 50 ms during the bulk (sent at +ms: took ms): "
            + ", ".join(f"+{at * 1000:.0f}: {lat * 1000:.0f}" for at, lat in slow)
        )
    before = sorted(lat for t0, lat in samples if t0 < started)
    during = sorted(lat for t0, lat in samples if started <= t0 <= ended)

    def pct(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(len(values) * q))] * 1000

    return {
        "bulk_s": ended - started,
        "before_p50": pct(before, 0.5),
        "before_p99": pct(before, 0.99),
        "during_p50": statistics.median(during) * 1000 if during else float("nan"),
        "during_p99": pct(during, 0.99),
        "during_n": len(during),
        "stamping_errors": errors,
        **cpu,
    }


def figure(name: str, value: float, unit: str, goal: float | None, better: str = "lower", **kw: Any) -> None:
    print(
        "FIGURE "
        + json.dumps(
            {"name": name, "value": round(value, 3), "unit": unit, "goal": goal, "better": better, **kw}
        )
    )


def run_postgres(args: argparse.Namespace, levels: list[int]) -> None:
    pg = postgres.start()
    server = None
    try:
        pg.create_database("bench_pgbench")
        pg_cmd = ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres"]
        import subprocess

        subprocess.run(
            pg._cmd("pgbench", *pg_cmd, "-i", "-s", "10", "-q", "bench_pgbench"),
            capture_output=True,
            check=True,
        )
        url = pg.create_database("bench_cmdesk")
        world = prepare(url, args.distributors, args.bulk)
        server = server_process.start(
            url, workers=args.workers, log_dir=Path(tempfile.mkdtemp()), ready_within=READY_WITHIN
        )
        tokens = [sign_in(server.url, login) for login in world.logins]
        bearer = [f"Bearer {t}" for t in tokens]
        postmaster, server_pid = postmaster_pid(pg), server.process.pid
        rows = []

        def transfer(w: int, i: int) -> tuple[str, str, dict[str, str], bytes, int]:
            d = w % len(world.logins)
            cti = world.targets[d][(w * 13 + i) % TARGETS_PER_DISTRIBUTOR]
            body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 1}
            headers = {
                "Content-Type": "application/json",
                "Authorization": bearer[d],
                "Idempotency-Key": new_id(),
            }
            return "POST", "/v1/transfers", headers, json.dumps(body).encode(), 201

        for c in levels:
            pg_before = tree_cpu_seconds(postmaster)
            tps = pgbench(pg, int(args.seconds), c)
            pg_cost = cpu_ms_per(postmaster, pg_before, tps * int(args.seconds))
            asyncio.run(drive("transfer", server.url, c, 1.0, transfer))  # warm-up (pools, token caches)
            server_before, pg_before = tree_cpu_seconds(server_pid), tree_cpu_seconds(postmaster)
            r = asyncio.run(drive("transfer", server.url, c, args.seconds, transfer))
            done = r.throughput * args.seconds
            rows.append(
                (
                    r,
                    tps,
                    pg_cost,
                    cpu_ms_per(server_pid, server_before, done),
                    cpu_ms_per(postmaster, pg_before, done),
                )
            )
            if r.errors:
                print(f"transfer ({c}): {r.errors} errores; el primero: {r.first_error}")
        # For reading the figures under load: stamping (the other fast path) at 8 callers, same run.
        asyncio.run(warm_credentials(server.url, world.stamping_ctis, rounds=6 * args.workers))

        if levels:

            def consume(w: int, i: int) -> tuple[str, str, dict[str, str], bytes, int]:
                headers, body = _consume(world.stamping_ctis[(w * 3 + i) % len(world.stamping_ctis)])
                return "POST", "/v1/stamping/consume", headers, body, 200

            tps = pgbench(pg, int(args.seconds), 8)
            asyncio.run(drive("consume", server.url, 8, 1.0, consume))
            server_before, pg_before = tree_cpu_seconds(server_pid), tree_cpu_seconds(postmaster)
            r = asyncio.run(drive("consume", server.url, 8, args.seconds, consume))
            done = r.throughput * args.seconds
            rows.append(
                (
                    r,
                    tps,
                    "",
                    cpu_ms_per(server_pid, server_before, done),
                    cpu_ms_per(postmaster, pg_before, done),
                )
            )
            print(
                f"\nTransfers on PostgreSQL, {args.workers} workers, {args.seconds:.0f} s per figure, "
                f"callers over {len(tokens)} distributors"
            )
            fmt = "{:<10} {:>7} {:>15} {:>13} {:>7} {:>8} {:>8} {:>7} {:>11} {:>14}"
            print(
                fmt.format(
                    "operation",
                    "callers",
                    "pgbench -N tps",
                    "server req/s",
                    "ratio",
                    "p50 ms",
                    "p99 ms",
                    "errors",
                    "server cpu",
                    "pg cpu",
                )
            )
            for r, tps, pg_cost, server_cost, pg_server_cost in rows:
                print(
                    fmt.format(
                        r.name,
                        r.concurrency,
                        f"{tps:.0f}",
                        f"{r.throughput:.0f}",
                        f"{r.throughput / tps:.1%}",
                        f"{r.p50_ms:.1f}",
                        f"{r.p99_ms:.1f}",
                        r.errors,
                        server_cost,
                        f"{pg_server_cost} ({pg_cost})" if pg_cost else pg_server_cost,
                    )
                )
                if r.name != "transfer":
                    continue
                figure(
                    f"Transferencias, {r.concurrency} llamadas en {len(tokens)} distribuidores: "
                    "proporción de pgbench -N",
                    100 * r.throughput / tps,
                    "%",
                    25.0 if r.concurrency == 8 else None,
                    "higher",
                    goal_text="≥ 25 % de pgbench -N" if r.concurrency == 8 else "proporción de pgbench -N",
                )
        result = asyncio.run(
            bulk_under_stamping(
                server.url,
                sign_in(server.url, world.bulk_login),
                world.bulk_targets,
                world.stamping_ctis,
                {"server": server_pid, "postgres": postmaster},
            )
        )
        report_bulk("PostgreSQL", args.bulk, result, 1.0)
    finally:
        if server:
            server.stop()
        pg.stop()


def run_sqlite(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="cmdesk-bench-sqlite-"))
    url = f"sqlite:///{(folder / 'server.db').as_posix()}"
    world = prepare(url, 1, args.bulk)
    server = server_process.start(url, workers=1, log_dir=folder, ready_within=READY_WITHIN)
    try:
        asyncio.run(warm_credentials(server.url, world.stamping_ctis, rounds=2))
        result = asyncio.run(
            bulk_under_stamping(
                server.url,
                sign_in(server.url, world.bulk_login),
                world.bulk_targets,
                world.stamping_ctis,
                {"server": server.process.pid},
            )
        )
        report_bulk("SQLite", args.bulk, result, 3.0)
    finally:
        server.stop()


def report_bulk(database: str, size: int, r: dict[str, float], goal_s: float) -> None:
    print(
        f"\nBulk of {size:,} on {database}: {r['bulk_s']:.2f} s; another distributor's stamping "
        f"p50/p99 {r['before_p50']:.1f}/{r['before_p99']:.1f} ms before, "
        f"{r['during_p50']:.1f}/{r['during_p99']:.1f} ms during ({r['during_n']:.0f} requests, "
        f"{r['stamping_errors']:.0f} errors)"
    )
    cpu = ", ".join(f"{k[4:]} {v:.2f} s" for k, v in r.items() if k.startswith("cpu_"))
    if cpu:
        print(f"  CPU while the bulk ran (the stamping's included): {cpu}")
    figure(f"Transferencia masiva de {size:,} en {database}", r["bulk_s"], "s", goal_s)
    figure(f"Timbrado de otro distribuidor durante la masiva, p99, {database}", r["during_p99"], "ms", 50.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--distributors", type=int, default=8)
    ap.add_argument("--bulk", type=int, default=5000)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument(
        "--bulk-only", action="store_true", help="only the bulk under stamping (no single transfers)"
    )
    args = ap.parse_args()
    levels = [] if args.bulk_only else [int(x) for x in args.concurrency.split(",")]
    if not args.no_postgres:
        run_postgres(args, levels)
    if not args.no_sqlite:
        run_sqlite(args)


if __name__ == "__main__":
    main()
