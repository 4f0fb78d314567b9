"""The money trail at scale (issue 18): the bitácora at 1,000,000 records and a statement of a client
with 100,000 movements, on SQLite and on PostgreSQL.

    python -m bench.bitacora [--records 1000000] [--movements 100000] [--db sqlite,postgresql] [--quick]

Bitácora: the records (one account, five users, 20,000 clients, two years) and their subjects are
generated in bulk by the database itself; then each kind of page `GET /v1/audit` serves is timed
through the same query code (`cmdesk.server.audit.reader.list_records`): the newest page, a page deep
in the log, by user, by entity type, the history of one client, a week a year ago. The figure is the
slowest kind (median of 15 runs each). Goal: < 100 ms.

Statement: 100,000 point transfers to one client over three years. Timed: the server's first page of
the whole period (`cmdesk.server.operations.statements.statement`: live balance, one sum, a keyset
page: what opening the statement costs) and the domain function alone on 100,000 entries in memory
(what the desktop will run on its cache); goal < 500 ms for both. Also shown, without a goal: the
whole statement at once (every row read and run through `domain.statements.build`, as an export).

Figures are printed as `FIGURE {...}` lines for `python -m bench`. On a shared machine they are noisy;
quote them with the command and the load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from cmdesk.domain import statements as st
from cmdesk.models import Base, utcnow
from cmdesk.server import db
from cmdesk.server.audit import reader
from cmdesk.server.operations import accounts, clients, statements
from cmdesk.server.operations.context import Actor

PAGE_GOAL_MS = 100.0
STATEMENT_GOAL_MS = 500.0
CLIENTS = 20_000


def row(name: str, value: str, goal: str = "") -> None:
    print(f"  {name:<58} {value:>12}   {goal}", flush=True)


def figure(name: str, value: float, unit: str, goal: float | None = None, better: str = "lower") -> None:
    data: dict[str, object] = {"name": name, "value": round(value, 2), "unit": unit, "better": better}
    if goal is not None:
        data["goal"] = goal
    print("FIGURE " + json.dumps(data, ensure_ascii=False), flush=True)


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median milliseconds of `runs` calls (after one warm-up), and the last result."""
    result = fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), result


# ---- Data --------------------------------------------------------------------------------------------


def make_account(factory: db.SessionFactory) -> Actor:
    with db.transaction(factory) as s:
        out = accounts.create_distributor(
            s, name="Bitácora Grande", email="bench@bitacora.mx", mobile="5599999999", password=None
        )
    return Actor(out["account"]["id"], out["profile"]["id"])


def fill_audit(engine: Engine, account_id: str, records: int) -> None:
    """`records` records over two years, newest last, and their subjects, generated in SQL."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as c:
        if pg:
            series = "generate_series(1, :n) AS g(i)"
            at = "timestamptz '2025-01-01 00:00:00+00' + (i * (63072000.0 / :n)) * interval '1 second'"
            cast = "::jsonb"
            c.execute(
                text(
                    f"""INSERT INTO audit_log (account_id, created_at, profile_id, device, ip, action, route,
                        entity_type, entity_id, reason, before, after, changes)
                    SELECT :acc, {at}, 'p' || (i % 5), 'cmdesk/1.0 (PC-' || (i % 40) || ')',
                        '10.0.0.' || (i % 250),
                        (ARRAY['client.update', 'ledger.transfer', 'stamping_account.state',
                               'price_package.update', 'distributor.suspend'])[1 + i % 5], 'PATCH /v1/x',
                        (ARRAY['client', 'movement', 'stamping_account', 'price_package',
                               'distributor'])[1 + i % 5],
                        CASE WHEN i % 5 = 0 THEN 'c' || (i % {CLIENTS}) ELSE 'e' || i END, '',
                        '{{"name": "antes"}}'{cast}, '{{"name": "después"}}'{cast}, NULL
                    FROM {series}"""
                ),
                {"acc": account_id, "n": records},
            )
        else:
            c.execute(
                text(
                    f"""INSERT INTO audit_log (account_id, created_at, profile_id, device, ip, action, route,
                        entity_type, entity_id, reason, before, after, changes)
                    WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n)
                    SELECT :acc,
                        printf('%s.000000', datetime('2025-01-01',
                               '+' || CAST(i * (63072000.0 / :n) AS INTEGER) || ' seconds')),
                        'p' || (i % 5), 'cmdesk/1.0 (PC-' || (i % 40) || ')', '10.0.0.' || (i % 250),
                        CASE i % 5 WHEN 0 THEN 'client.update' WHEN 1 THEN 'ledger.transfer'
                             WHEN 2 THEN 'stamping_account.state' WHEN 3 THEN 'price_package.update'
                             ELSE 'distributor.suspend' END, 'PATCH /v1/x',
                        CASE i % 5 WHEN 0 THEN 'client' WHEN 1 THEN 'movement' WHEN 2 THEN 'stamping_account'
                             WHEN 3 THEN 'price_package' ELSE 'distributor' END,
                        CASE WHEN i % 5 = 0 THEN 'c' || (i % {CLIENTS}) ELSE 'e' || i END, '',
                        '{{"name": "antes"}}', '{{"name": "después"}}', NULL
                    FROM g"""
                ),
                {"acc": account_id, "n": records},
            )
        # Each record's main entity, and for the others a client they touched (a CTI's, a sale's).
        c.execute(
            text(
                """INSERT INTO audit_subjects (audit_id, entity_type, entity_id, account_id, created_at)
                SELECT id, entity_type, entity_id, account_id, created_at FROM audit_log"""
            )
        )
        c.execute(
            text(
                f"""INSERT INTO audit_subjects (audit_id, entity_type, entity_id, account_id, created_at)
                SELECT id, 'client', 'c' || (id % {CLIENTS}), account_id, created_at FROM audit_log
                WHERE entity_type <> 'client'"""
            )
        )
        c.execute(text("ANALYZE"))


def fill_movements(engine: Engine, actor: Actor, client_id: str, count: int) -> None:
    """`count` point transfers to one client over three years, and the client's matching balance."""
    pg = engine.dialect.name == "postgresql"
    cols = (
        "id, account_id, counterpart_account_id, version, kind, asset, quantity, amount_cents, source_type, "
        "source_id, target_type, target_id, client_id, comments, created_at, created_by"
    )
    with engine.begin() as c:
        if pg:
            c.execute(
                text(
                    f"""INSERT INTO movements ({cols})
                    SELECT 'bm' || i, :acc, NULL, 1, 'transfer', 'points', 1 + i % 9, (1 + i % 9) * 100,
                        'account', :acc, 'client', :cli, :cli, 'venta ' || i,
                        now() - interval '1095 days' + (i * (94608000.0 / :n)) * interval '1 second', :who
                    FROM generate_series(1, :n) AS g(i)"""
                ),
                {"acc": actor.account_id, "cli": client_id, "n": count, "who": actor.profile_id},
            )
        else:
            start = (utcnow() - dt.timedelta(days=1095)).replace(tzinfo=None).isoformat(sep=" ")
            c.execute(
                text(
                    f"""INSERT INTO movements ({cols})
                    WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n)
                    SELECT 'bm' || i, :acc, NULL, 1, 'transfer', 'points', 1 + i % 9, (1 + i % 9) * 100,
                        'account', :acc, 'client', :cli, :cli, 'venta ' || i,
                        printf('%s.000000', datetime(:start, '+' || CAST(i * (94608000.0 / :n) AS INTEGER)
                               || ' seconds')), :who
                    FROM g"""
                ),
                {
                    "acc": actor.account_id,
                    "cli": client_id,
                    "n": count,
                    "who": actor.profile_id,
                    "start": start,
                },
            )
        c.execute(
            text(
                """UPDATE clients
                SET points_balance = (SELECT sum(quantity) FROM movements WHERE client_id = :cli)
                WHERE id = :cli"""
            ),
            {"cli": client_id},
        )
        c.execute(text("ANALYZE"))


# ---- Measures ---------------------------------------------------------------------------------------


def bench_audit(factory: db.SessionFactory, actor: Actor, records: int, runs: int) -> float:
    newest = db.run(factory, reader.list_records, actor, limit=100)[0]
    assert len(newest) == 100, "the log is empty"
    middle_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    year_ago = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    cases: dict[str, dict[str, Any]] = {
        "la más reciente": {},
        "a la mitad (cursor)": {"after": (middle_at, 2**62)},
        "por usuario": {"profile_id": "p3"},
        "por tipo de entidad": {"entity": "stamping_account"},
        "historial de un cliente": {"entity": "client", "entity_id": "c1234"},
        "una semana de hace un año": {"since": year_ago, "until": year_ago + dt.timedelta(days=7)},
        "usuario en una semana de hace un año": {
            "profile_id": "p2",
            "since": year_ago,
            "until": year_ago + dt.timedelta(days=7),
        },
    }
    worst = 0.0
    for name, kw in cases.items():
        ms, (items, _nxt) = timed(
            lambda kw=kw: db.run(factory, reader.list_records, actor, limit=100, **kw), runs
        )
        assert items, name
        row(f"página de 100: {name}", f"{ms:.1f} ms")
        worst = max(worst, ms)
    return worst


def bench_statement(
    factory: db.SessionFactory, actor: Actor, client_id: str, runs: int
) -> tuple[float, float, float]:
    today = st.local_day(utcnow())
    first = today - dt.timedelta(days=1100)
    kw = {"party_type": "client", "party_id": client_id, "asset": "points", "first": first, "last": today}
    page_ms, (body, _cursor) = timed(
        lambda: db.run(factory, statements.statement, actor, limit=1000, **kw), runs
    )
    assert body["closing_balance"] == body["live_balance"] and body["count"] > 0
    row(f"estado de cuenta: primera página de 1,000 ({body['count']:,} renglones)", f"{page_ms:.1f} ms")
    full_ms, whole = timed(lambda: db.run(factory, statements.full_statement, actor, **kw), max(3, runs // 3))
    assert whole.closing == body["closing_balance"] and len(whole.rows) == body["count"]
    row(f"estado de cuenta completo ({len(whole.rows):,} renglones, servidor + dominio)", f"{full_ms:.1f} ms")
    entries = [r.entry for r in whole.rows]
    live = whole.closing
    domain_ms, built = timed(lambda: st.build(live, entries, whole.start, whole.end), runs)
    assert built.rows == whole.rows
    row(f"función de dominio sola ({len(entries):,} movimientos)", f"{domain_ms:.1f} ms")
    return page_ms, full_ms, domain_ms


def run(kind: str, url: str, records: int, movements: int, runs: int) -> None:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    print(f"\n{label}", flush=True)
    engine = db.create_db_engine(url)
    Base.metadata.create_all(engine)
    factory = db.session_factory(engine)
    actor = make_account(factory)
    t = time.perf_counter()
    fill_audit(engine, actor.account_id, records)
    row(f"generar {records:,} registros de bitácora", f"{time.perf_counter() - t:.1f} s")
    worst = bench_audit(factory, actor, records, runs)
    figure(f"Bitácora: página con {records:,} registros ({label})", worst, "ms", PAGE_GOAL_MS)

    client_id = db.run(
        factory, clients.create_client, actor, {"name": "Cliente Grande", "rfc": "EKU9003173C9"}
    )["client"]["id"]
    t = time.perf_counter()
    fill_movements(engine, actor, client_id, movements)
    row(f"generar {movements:,} movimientos de un cliente", f"{time.perf_counter() - t:.1f} s")
    page_ms, full_ms, domain_ms = bench_statement(factory, actor, client_id, runs)
    figure(
        f"Estado de cuenta de {movements:,} movimientos: página ({label})", page_ms, "ms", STATEMENT_GOAL_MS
    )
    # Every row at once (an export): informative; the goal is for opening the statement.
    figure(f"Estado de cuenta de {movements:,} movimientos: completo ({label})", full_ms, "ms")
    figure(
        f"Estado de cuenta de {movements:,} movimientos: dominio ({label})",
        domain_ms,
        "ms",
        STATEMENT_GOAL_MS,
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--movements", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="50,000 records and 10,000 movements")
    args = parser.parse_args()
    if args.quick:
        args.records, args.movements, args.runs = 50_000, 10_000, 5
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    with tempfile.TemporaryDirectory(prefix="cmdesk-bitacora-") as tmp:
        for kind in kinds:
            if kind == "sqlite":
                run(
                    kind,
                    f"sqlite:///{(Path(tmp) / 'bitacora.db').as_posix()}",
                    args.records,
                    args.movements,
                    args.runs,
                )
            elif kind == "postgresql":
                from cmdesk.devtools import postgres

                server = postgres.start()
                try:
                    run(kind, server.create_database("bitacora"), args.records, args.movements, args.runs)
                finally:
                    server.stop()
            else:
                sys.exit(f"base de datos desconocida: {kind}")


if __name__ == "__main__":
    main()
