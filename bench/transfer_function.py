"""The database's share of a transfer: `cmdesk_transfer_one` called by `pgbench` itself, side by side
with `pgbench -N`, on the same throwaway PostgreSQL (no HTTP server, no Python on the way).

Issue 19 asks single transfers over HTTP to reach 25 % of `pgbench -N` at 8 callers. This bench shows
how much of that the database's own work leaves: each pgbench client is a distributor (client c acts
for distributor c mod D, as `bench.transfers` spreads its callers), calls the function with a new
idempotency key and a new movement id, 1 stamp to one of its 64 CTIs, with the session the server's
fast lane checks and the bitácora's record the lane asks for. A second run without the record
(`p_audit` NULL) shows the record's share. PostgreSQL's CPU per transfer is read from /proc (Linux).

    .venv/bin/python -m bench.transfer_function [--seconds 5] [--clients 1,8] [--distributors 8]

Prints a table and FIGURE lines. There is no goal of its own: the figure bounds `bench.transfers`'
(a transfer over HTTP adds the server's work, on the same cores).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import psycopg

from bench.http_load import tree_cpu_seconds
from bench.load_server import postmaster_pid
from bench.transfers import TARGETS_PER_DISTRIBUTOR, figure, prepare, sign_in
from cmdesk.devtools import postgres, server_process

_AUDIT = json.dumps(
    {"action": "transfer", "route": "POST /v1/transfers", "device": "bench", "ip": "127.0.0.1", "reason": ""}
)

# One transfer of pgbench's client :client_id (the callers and their CTIs are in two tables of the
# bench's database, written below).
_SCRIPT = """\\set d :client_id % {distributors}
\\set t random(0, {last_target})
SELECT f.status
  FROM bench_callers c JOIN bench_targets g ON g.d = c.d AND g.t = :t,
       LATERAL cmdesk_transfer_one(
           c.account, c.profile, c.session, md5(random()::text), 'bench', '/v1/transfers',
           now(), to_json(now())::text, now() + interval '90 days', now() - interval '60 seconds',
           {audit}, md5(random()::text), 'stamps', 'stamping_account', g.cti, 1, 0, '') f
 WHERE c.d = :d;
"""


def _callers(dsn: str, logins: list[str], targets: list[list[str]]) -> None:
    """The distributors' account, profile and open session (their sign-in's refresh family), and
    their CTIs, as tables pgbench's script reads."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE bench_callers (d int PRIMARY KEY, account text, profile text, session text)")
        c.execute("CREATE TABLE bench_targets (d int, t int, cti text, PRIMARY KEY (d, t))")
        for d, login in enumerate(logins):
            row = c.execute(
                "SELECT m.account_id, p.id, t.family_id FROM profiles p"
                " JOIN memberships m ON m.profile_id = p.id"
                " JOIN refresh_tokens t ON t.profile_id = p.id AND t.revoked_at IS NULL"
                " WHERE p.email = %s LIMIT 1",
                (login,),
            ).fetchone()
            assert row is not None, login
            c.execute("INSERT INTO bench_callers VALUES (%s, %s, %s, %s)", (d, *row))
            for t, cti in enumerate(targets[d]):
                c.execute("INSERT INTO bench_targets VALUES (%s, %s, %s)", (d, t, cti))
        c.execute("VACUUM ANALYZE")


def _pgbench(pg: postgres.TempPostgres, database: str, clients: int, seconds: int, *args: str) -> float:
    cmd = pg._cmd("pgbench", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-n", *args)
    cmd += ["-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), database]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"pgbench falló ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    out = done.stdout
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed.group(1)):
        raise SystemExit(f"pgbench: {failed.group(1)} transacciones fallaron:\n{out}")
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    assert m, out
    return float(m.group(1))


def _scripts(folder: Path, distributors: int) -> dict[str, Path]:
    """pgbench's scripts: a transfer with the bitácora's record, and one without."""
    scripts: dict[str, Path] = {}
    for name, audit in (("con bitácora", f"'{_AUDIT}'::jsonb"), ("sin bitácora", "NULL::jsonb")):
        path = folder / f"transfer-{len(scripts)}.sql"
        last = TARGETS_PER_DISTRIBUTOR - 1
        path.write_text(_SCRIPT.format(distributors=distributors, last_target=last, audit=audit))
        scripts[name] = path
    return scripts


def _prepare(pg: postgres.TempPostgres, folder: Path, distributors: int) -> None:
    """pgbench's tables, then cmdesk's: the distributors, their CTIs and their open sessions."""
    pg.create_database("bench_pgbench")
    init = ("pgbench", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-i", "-s", "10", "-q")
    subprocess.run([*pg._cmd(*init), "bench_pgbench"], capture_output=True, check=True)
    url = pg.create_database("bench_cmdesk")
    world = prepare(url, distributors, 1)
    server = server_process.start(url, workers=1, log_dir=folder)
    try:
        for login in world.logins:
            sign_in(server.url, login)  # an open session each, as the lane checks it
    finally:
        server.stop()
    _callers(f"host=127.0.0.1 port={pg.port} user=postgres dbname=bench_cmdesk", world.logins, world.targets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--distributors", type=int, default=8)
    args = ap.parse_args()
    levels = [int(x) for x in args.clients.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="cmdesk-bench-fn-"))
    folder.chmod(0o755)  # pgbench runs as the cluster's user (postgres.start: never root)
    pg = postgres.start()
    try:
        _prepare(pg, folder, args.distributors)
        scripts = _scripts(folder, args.distributors)
        postmaster = postmaster_pid(pg)
        per = f"{args.seconds} s per figure, {args.distributors} distributors"
        print(f"\ncmdesk_transfer_one under pgbench, {per}")
        fmt = "{:<14} {:>8} {:>15} {:>14} {:>7} {:>10}"
        print(fmt.format("transfer", "clients", "pgbench -N tps", "transfers/s", "ratio", "pg cpu"))
        for clients in levels:
            tps = _pgbench(pg, "bench_pgbench", clients, args.seconds, "-N")
            for name, script in scripts.items():
                before = tree_cpu_seconds(postmaster)
                rate = _pgbench(pg, "bench_cmdesk", clients, args.seconds, "-f", str(script))
                after = tree_cpu_seconds(postmaster)
                done = rate * args.seconds
                cpu = "n/a" if before is None or after is None else f"{(after - before) * 1000 / done:.3f}"
                print(fmt.format(name, clients, f"{tps:.0f}", f"{rate:.0f}", f"{rate / tps:.1%}", cpu))
                if clients == 8 and name == "con bitácora":
                    figure(
                        "Transferencias sin HTTP (la función sola), 8 clientes: proporción de pgbench -N",
                        100 * rate / tps,
                        "%",
                        None,
                        better="higher",
                    )
        print(
            "The function's work alone, PostgreSQL on every core; over HTTP the server's work shares them\n"
            "(bench.transfers). pg cpu: CPU milliseconds of PostgreSQL's processes per transfer."
        )
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
