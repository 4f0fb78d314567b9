"""Server load benchmark: stamp consumption and transfers against `pgbench -N`, in the same run.

Starts a throwaway PostgreSQL, measures pgbench's simple-update TPS at 1, 8 and 32 clients, then runs
cmdesk-server on the same PostgreSQL with several uvicorn workers and drives it over HTTP (loopback)
with the same concurrency: `POST /v1/stamping/consume` (HTTP Basic, a new CFDI UUID each time, spread
over many CTIs) and `POST /v1/transfers` (Bearer, a new Idempotency-Key each time). Prints throughput,
p50/p99 latency and the ratio to pgbench.

    .venv/bin/python -m bench.load_server [--seconds 8] [--workers 2] [--concurrency 1,8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from cmdesk.devtools import postgres, server_process
from cmdesk.server import db, migrations
from cmdesk.server.operations import accounts, clients, ledger
from cmdesk.server.operations.context import Actor
from cmdesk.server.seed import load_catalog

CTIS = 64
CTI_PASSWORD = "Bench2026pass"


@dataclass
class Result:
    name: str
    concurrency: int
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int


def pgbench(pg: postgres.TempPostgres, seconds: int, concurrency: int) -> float:
    cmd = pg._cmd(
        "pgbench",
        "-h",
        "127.0.0.1",
        "-p",
        str(pg.port),
        "-U",
        "postgres",
        "-N",
        "-c",
        str(concurrency),
        "-j",
        str(min(concurrency, 2)),
        "-T",
        str(seconds),
        "bench_pgbench",
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    assert m, out
    return float(m.group(1))


def prepare(url: str) -> tuple[str, list[str]]:
    """A distributor with stamps, and CTIs loaded with stamps. Returns (login, cti ids)."""
    migrations.upgrade(url)
    engine = db.create_db_engine(url)
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        load_catalog(s)
        out = accounts.create_distributor(
            s, name="Bench", email="bench@cmdesk.mx", mobile="5500000001", password="bench1234"
        )
    actor = Actor(out["account"]["id"], out["profile"]["id"])
    db.run(factory, ledger.purchase, actor, "stamps_2000000", 5)
    ids = []
    for i in range(CTIS):
        c = db.run(factory, clients.create_client, actor, {"name": f"Cliente {i}", "rfc": "EKU9003173C9"})
        cti = c["stamping_account"]["id"]
        db.run(factory, clients.reset_stamping_password, actor, cti, password=CTI_PASSWORD)
        db.run(
            factory,
            ledger.transfer,
            actor,
            asset="stamps",
            target_type="stamping_account",
            target_id=cti,
            quantity=100_000,
        )
        ids.append(cti)
    engine.dispose()
    return "bench@cmdesk.mx", ids


async def drive(name: str, url: str, concurrency: int, seconds: float, make_request) -> Result:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(w: int) -> None:
            nonlocal errors
            i = 0
            while time.monotonic() < deadline:
                method, path, kwargs, ok = make_request(w, i)
                t0 = time.perf_counter()
                r = await client.request(method, path, **kwargs)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != ok:
                    errors += 1
                i += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(
        name, concurrency, len(latencies) / elapsed, statistics.median(latencies) * 1000, p99 * 1000, errors
    )


async def warm_credentials(url: str, ctis: list[str], rounds: int) -> None:
    """Each request on a new connection (`Connection: close`), so every worker accepts some: a
    kept-alive pool may talk to one worker only and leave the others cold."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=url, timeout=60, limits=limits, headers={"Connection": "close"}
    ) as client:
        for _ in range(rounds):
            for start in range(0, len(ctis), 8):
                await asyncio.gather(
                    *(
                        client.post(
                            "/v1/stamping/consume",
                            json={"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())},
                            auth=(cti, CTI_PASSWORD),
                        )
                        for cti in ctis[start : start + 8]
                    )
                )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", default="1,8,32")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    pg = postgres.start()
    server = None
    try:
        pg.create_database("bench_pgbench")
        subprocess.run(
            pg._cmd(
                "pgbench",
                "-h",
                "127.0.0.1",
                "-p",
                str(pg.port),
                "-U",
                "postgres",
                "-i",
                "-s",
                "10",
                "-q",
                "bench_pgbench",
            ),
            capture_output=True,
            check=True,
        )
        url = pg.create_database("bench_cmdesk")
        login, ctis = prepare(url)
        server = server_process.start(url, workers=args.workers, log_dir=Path(tempfile.mkdtemp()))
        token = httpx.post(
            f"{server.url}/v1/auth/token", json={"login": login, "password": "bench1234"}
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        results: list[tuple[Result, float]] = []
        # Each worker verifies a CTI's password with Argon2 once, then trusts it for 10 minutes
        # (security.CredentialCache): warm every CTI on every worker before measuring.
        asyncio.run(warm_credentials(server.url, ctis, rounds=6 * args.workers))
        for c in levels:
            tps = pgbench(pg, int(args.seconds), c)

            def consume(w: int, i: int, c: int = c) -> tuple[str, str, dict, int]:  # type: ignore[type-arg]
                cti = ctis[(w * 7 + i) % len(ctis)]
                body = {"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())}
                return "POST", "/v1/stamping/consume", {"json": body, "auth": (cti, CTI_PASSWORD)}, 200

            def transfer(w: int, i: int) -> tuple[str, str, dict, int]:  # type: ignore[type-arg]
                cti = ctis[(w * 13 + i) % len(ctis)]
                body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 1}
                headers = {**bearer, "Idempotency-Key": str(uuid.uuid4())}
                return "POST", "/v1/transfers", {"json": body, "headers": headers}, 201

            for name, fn in (("consume", consume), ("transfer", transfer)):
                asyncio.run(drive(name, server.url, c, 1.0, fn))  # warm-up (credential cache, pools)
                r = asyncio.run(drive(name, server.url, c, args.seconds, fn))
                results.append((r, tps))
        print(f"\nServer load on PostgreSQL, {args.workers} workers, {args.seconds:.0f} s per figure")
        fmt = "{:<10} {:>7} {:>15} {:>13} {:>7} {:>8} {:>8} {:>7}"
        heads: tuple[str, ...] = ("operation", "callers", "pgbench -N tps", "server req/s", "ratio")
        heads += ("p50 ms", "p99 ms", "errors")
        print(fmt.format(*heads))
        for r, tps in results:
            ratio = f"{r.throughput / tps:.1%}"
            p50, p99 = f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}"
            rate = f"{r.throughput:.0f}"
            print(fmt.format(r.name, r.concurrency, f"{tps:.0f}", rate, ratio, p50, p99, r.errors))
    finally:
        if server:
            server.stop()
        pg.stop()


if __name__ == "__main__":
    main()
