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
import base64
import json
import re
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx

from bench.http_load import Request, Result, drive, tree_cpu_seconds
from cmdesk.devtools import postgres, server_process
from cmdesk.server import db, migrations, security
from cmdesk.server.operations import accounts, clients, ledger
from cmdesk.server.operations.context import Actor
from cmdesk.server.seed import load_catalog

CTIS = 64
CTI_PASSWORD = "Bench2026pass"


def postmaster_pid(pg: postgres.TempPostgres) -> int:
    return int((pg.folder / "data" / "postmaster.pid").read_text().split()[0])


def cpu_ms_per(pid: int, before: float | None, count: float) -> str:
    after = tree_cpu_seconds(pid)
    if before is None or after is None or not count:
        return "n/a"
    return f"{(after - before) * 1000 / count:.2f}"


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
    with security.prehashed("bench1234"), db.transaction(factory) as s:  # Argon2 before the transaction
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
        with security.prehashed(CTI_PASSWORD):
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
        bearer = f"Bearer {token}"
        basic = {cti: "Basic " + base64.b64encode(f"{cti}:{CTI_PASSWORD}".encode()).decode() for cti in ctis}
        results: list[tuple[Result, float, str, tuple[str, str]]] = []
        postmaster, server_pid = postmaster_pid(pg), server.process.pid
        # Each worker verifies a CTI's password with Argon2 once, then trusts it for 10 minutes
        # (security.CredentialCache): warm every CTI on every worker before measuring.
        asyncio.run(warm_credentials(server.url, ctis, rounds=6 * args.workers))
        for c in levels:
            pg_before = tree_cpu_seconds(postmaster)
            tps = pgbench(pg, int(args.seconds), c)
            pg_cost = cpu_ms_per(postmaster, pg_before, tps * int(args.seconds))

            def consume(w: int, i: int) -> Request:
                cti = ctis[(w * 7 + i) % len(ctis)]
                body = json.dumps({"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())})
                headers = {"Content-Type": "application/json", "Authorization": basic[cti]}
                return "POST", "/v1/stamping/consume", headers, body.encode(), 200

            def transfer(w: int, i: int) -> Request:
                cti = ctis[(w * 13 + i) % len(ctis)]
                body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 1}
                headers = {
                    "Content-Type": "application/json",
                    "Authorization": bearer,
                    "Idempotency-Key": str(uuid.uuid4()),
                }
                return "POST", "/v1/transfers", headers, json.dumps(body).encode(), 201

            for name, fn in (("consume", consume), ("transfer", transfer)):
                asyncio.run(drive(name, server.url, c, 1.0, fn))  # warm-up (credential cache, pools)
                server_before, pg_before = tree_cpu_seconds(server_pid), tree_cpu_seconds(postmaster)
                r = asyncio.run(drive(name, server.url, c, args.seconds, fn))
                done = r.throughput * args.seconds
                costs = (cpu_ms_per(server_pid, server_before, done), cpu_ms_per(postmaster, pg_before, done))
                results.append((r, tps, pg_cost, costs))
                if r.errors:
                    print(f"{name} ({c}): {r.errors} errores; el primero: {r.first_error}")
        print(f"\nServer load on PostgreSQL, {args.workers} workers, {args.seconds:.0f} s per figure")
        fmt = "{:<10} {:>7} {:>15} {:>13} {:>7} {:>8} {:>8} {:>7} {:>11} {:>10}"
        heads: tuple[str, ...] = ("operation", "callers", "pgbench -N tps", "server req/s", "ratio")
        heads += ("p50 ms", "p99 ms", "errors", "server cpu", "pg cpu")
        print(fmt.format(*heads))
        for r, tps, pg_cost, (server_cost, pg_server_cost) in results:
            ratio = f"{r.throughput / tps:.1%}"
            p50, p99 = f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}"
            rate = f"{r.throughput:.0f}"
            row = (r.name, r.concurrency, f"{tps:.0f}", rate, ratio, p50, p99, r.errors)
            print(fmt.format(*row, server_cost, f"{pg_server_cost} ({pg_cost})"))
        print(
            "server cpu / pg cpu: CPU milliseconds per request of cmdesk-server's processes and of "
            "PostgreSQL's\n(in brackets: PostgreSQL's per pgbench transaction). Both run on the same cores."
        )
    finally:
        if server:
            server.stop()
        pg.stop()


if __name__ == "__main__":
    main()
