"""Statements over random histories (hypothesis), on SQLite and PostgreSQL: purchases, transfers, CFDI
stamped (with auto-sales), top-up codes redeemed and cancelled, unlimited fees and contracts paid
with points, at random moments; then, for every party type and asset, over random periods:

- opening + the period's movements = closing, every page carrying the same opening and closing;
- the pages, read with a small limit, are the statement the domain function builds at once;
- the closing balance of a period that reaches today is the live balance;
- the opening balance is also what the history *before* the period adds up to, counted forward from
  zero with an independent reading of the tables (the server counts backwards from the live balance).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s
from sqlalchemy import select

from cmdesk.domain import statements as st
from cmdesk.domain.enums import StampingAccountKind
from cmdesk.domain.errors import DomainError
from cmdesk.models import Charge, IssuedCfdi, Movement, StampingAccount, utcnow
from cmdesk.server import db
from cmdesk.server.operations import clients, contracts, ledger, statements, top_up_codes, unlimited
from cmdesk.server.operations.context import Actor
from tests.server.helpers import RFC_MORAL, make_client, make_distributor

OPS = ["buy_stamps", "buy_points", "to_cti", "to_client", "stamp", "rule", "code", "redeem", "cancel", "fee",
       "contract"]
scripts = s.lists(
    s.tuples(s.sampled_from(OPS), s.integers(0, 40), s.integers(0, 24 * 60 - 1), s.integers(1, 30)),
    min_size=5, max_size=30,
)


@dataclass
class World:
    actor: Actor
    clients: list[str]
    ctis: list[str]  # A, B on client 0; C on client 1; U (unlimited) on client 0
    codes: list[dict[str, Any]] = field(default_factory=list)


def build_world(factory) -> World:
    actor = make_distributor(factory)
    c0 = make_client(factory, actor, name="Uno")
    c1 = make_client(factory, actor, name="Dos")
    b = db.run(factory, clients.create_stamping_account, actor, c0["client"]["id"], password="ClaveCti2026")
    u = db.run(factory, clients.create_stamping_account, actor, c0["client"]["id"], kind="unlimited",
               password="ClaveCti2026")
    return World(
        actor,
        [c0["client"]["id"], c1["client"]["id"]],
        [c0["stamping_account"]["id"], b["id"], c1["stamping_account"]["id"], u["id"]],
    )


def play(factory, w: World, script: list[tuple[str, int, int, int]], base: dt.datetime) -> None:
    steps = sorted(script, key=lambda x: (x[1], x[2]))
    for op, day, minute, n in steps:
        now = base + dt.timedelta(days=day, minutes=minute)
        with contextlib.suppress(DomainError):  # not enough balance...: refused, nothing changed
            _step(factory, w, op, n, now)


def _step(factory, w: World, op: str, n: int, now: dt.datetime) -> None:
    a = w.actor
    if op == "buy_stamps":
        db.run(factory, ledger.purchase, a, "test_stamps_1", n * 10, now=now)
    elif op == "buy_points":
        db.run(factory, ledger.purchase, a, "test_points_1", min(n * 100, 1000), now=now)
    elif op == "to_cti":
        db.run(factory, ledger.transfer, a, asset="stamps", target_type="stamping_account",
               target_id=w.ctis[n % 3], quantity=n, amount_cents=n * 100, now=now)
    elif op == "to_client":
        db.run(factory, ledger.transfer, a, asset="points", target_type="client", target_id=w.clients[n % 2],
               quantity=n * 20, now=now)
    elif op == "stamp":
        for i in range(n % 5 + 1):
            db.run(factory, ledger.consume, stamping_account_id=w.ctis[n % 4], emitter_rfc=RFC_MORAL,
                   cfdi_uuid=str(uuid.uuid4()), now=now + dt.timedelta(seconds=i))
    elif op == "rule":
        db.run(factory, clients.set_auto_sale, a, w.ctis[0], minimum=n % 5, credit=n, amount_cents=100)
    elif op == "code":
        w.codes.append(db.run(factory, top_up_codes.create_code, a, asset="stamps", quantity=n, amount_cents=0,
                              now=now)["code"])
    elif op in ("redeem", "cancel") and w.codes:
        code = w.codes.pop()
        if op == "redeem":
            db.run(factory, top_up_codes.redeem, code=code["code"], nip=code["nip"], stamping_account_id=w.ctis[1],
                   now=now)
        else:
            db.run(factory, top_up_codes.cancel_code, a, code["id"], now=now)
    elif op == "fee":
        db.run(factory, unlimited.pay_unlimited_fee, a, w.ctis[3], payer="client" if n % 2 else "account", now=now)
    elif op == "contract":
        db.run(factory, contracts.contract, a, "mkl_dominus", pay_with_points=n % 2 == 0, now=now)


def forward_balance(factory, w: World, party_type: str, party_id: str, asset: str, before: dt.datetime) -> int:
    """The party's balance at `before`, added up from zero over every row of the tables."""
    with db.transaction(factory) as session:
        if asset == "money":
            return sum(
                session.scalars(
                    select(Charge.amount_cents).where(
                        Charge.account_id == party_id, Charge.paid_with_points.is_(False), Charge.created_at < before
                    )
                )
            )
        if party_type == "client" and asset == "stamps":
            ctis = list(session.scalars(select(StampingAccount.id).where(
                StampingAccount.client_id == party_id, StampingAccount.kind == StampingAccountKind.STANDARD.value
            )))
            keys = [("stamping_account", c) for c in ctis]
        else:
            ctis = [party_id] if party_type == "stamping_account" else []
            keys = [(party_type, party_id)]
        total = 0
        for m in session.scalars(select(Movement).where(Movement.asset == asset, Movement.created_at < before)):
            e = st.movement_entry(
                {"id": m.id, "kind": m.kind, "quantity": m.quantity, "created_at": m.created_at,
                 "source": {"type": m.source_type, "id": m.source_id},
                 "target": {"type": m.target_type, "id": m.target_id}},
                keys,
            )
            total += e.delta if e else 0
        if asset == "stamps" and ctis:
            total -= len(session.scalars(select(IssuedCfdi.id).where(
                IssuedCfdi.stamping_account_id.in_(ctis), IssuedCfdi.debited.is_(True), IssuedCfdi.issued_at < before
            )).all())
        return total


def read_all(factory, actor: Actor, limit: int, **kw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of a statement: (the pages' headers, all rows)."""
    pages, rows, cursor = [], [], None
    while True:
        body, cursor = db.run(factory, statements.statement, actor, limit=limit, cursor=cursor, **kw)
        pages.append(body)
        rows.extend(body["items"])
        if cursor is None:
            return pages, rows


def parties(w: World) -> list[tuple[str, str | None, str]]:
    return [
        ("account", None, "stamps"), ("account", None, "points"), ("account", None, "money"),
        ("client", w.clients[0], "points"), ("client", w.clients[0], "stamps"),
        ("client", w.clients[1], "points"), ("client", w.clients[1], "stamps"),
        *[("stamping_account", cti, "stamps") for cti in w.ctis],
    ]


def check(factory, w: World, windows: list[tuple[dt.date, dt.date]], today: dt.date) -> dict[tuple[str, str], set[str]]:
    """Every invariant, for every party and window; returns the kinds of rows seen per (party, asset)."""
    kinds: dict[tuple[str, str], set[str]] = {}
    for party_type, party_id, asset in parties(w):
        for first, last in windows:
            kw = {"party_type": party_type, "party_id": party_id, "asset": asset, "first": first, "last": last}
            pages, rows = read_all(factory, w.actor, 3, **kw)
            head = pages[0]
            assert {(p["opening_balance"], p["closing_balance"], p["count"]) for p in pages} == {
                (head["opening_balance"], head["closing_balance"], head["count"])
            }
            opening, closing = head["opening_balance"], head["closing_balance"]
            assert opening + sum(r["delta"] for r in rows) == closing, (kw, head)
            assert head["count"] == len(rows)
            if rows:
                assert rows[-1]["balance"] == closing
            if last == today:
                assert closing == head["live_balance"], kw
            start, _ = st.period(first, last)
            pid = party_id or w.actor.account_id
            assert opening == forward_balance(factory, w, party_type, pid, asset, start), kw
            whole = db.run(factory, statements.full_statement, w.actor, **kw)
            assert (whole.opening, whole.closing) == (opening, closing)
            assert [(r.entry.ref, r.entry.delta, r.balance) for r in whole.rows] == [
                (r["ref"], r["delta"], r["balance"]) for r in rows
            ]
            kinds.setdefault((party_type + ":" + (party_id or ""), asset), set()).update(r["kind"] for r in rows)
    return kinds


@given(script=scripts, periods=s.lists(s.tuples(s.integers(-3, 45), s.integers(0, 45)), min_size=1, max_size=3))
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_statements_add_up_for_every_party(factory, script, periods):
    now = utcnow()
    today = st.local_day(now)
    base = st.day_start(today - dt.timedelta(days=42))
    w = build_world(factory)
    play(factory, w, script, base)
    first_day = st.local_day(base)
    windows = [(first_day - dt.timedelta(days=3), today)]  # everything, up to today
    for a, b in periods:
        lo, hi = sorted((a, b))
        # Both ends kept up to today (the history is 42 days long; a drawn period may start later).
        start, end = (min(first_day + dt.timedelta(days=n), today) for n in (lo, hi))
        windows.append((start, end))
    check(factory, w, windows, today)


KNOWN = [
    ("buy_stamps", 0, 10, 30), ("buy_points", 0, 20, 30), ("buy_points", 0, 21, 30), ("to_cti", 1, 0, 7),
    ("to_cti", 1, 5, 8), ("to_cti", 1, 6, 9), ("rule", 2, 0, 3), ("stamp", 3, 0, 4), ("stamp", 3, 1, 8),
    ("stamp", 4, 1, 3), ("code", 5, 0, 5), ("redeem", 6, 0, 1), ("code", 7, 0, 6), ("cancel", 8, 0, 1),
    ("to_client", 9, 0, 3), ("fee", 10, 0, 1), ("fee", 11, 0, 2), ("stamp", 20, 0, 7), ("stamp", 30, 0, 5),
    ("stamp", 31, 0, 7), ("buy_points", 32, 0, 30), ("buy_points", 32, 1, 30), ("contract", 33, 0, 2),
]


def test_a_known_history_has_every_kind_of_row(factory):
    today = st.local_day(utcnow())
    base = st.day_start(today - dt.timedelta(days=42))
    w = build_world(factory)
    play(factory, w, KNOWN, base)
    first = st.local_day(base)
    kinds = check(factory, w, [(first, today), (first + dt.timedelta(days=3), first + dt.timedelta(days=9))], today)
    account = "account:"
    assert kinds[(account, "stamps")] == {"purchase", "transfer", "auto_sale", "top_up"}
    assert kinds[(account, "points")] == {"purchase", "transfer", "unlimited_fee", "contract"}
    assert kinds[(account, "money")] == {"purchase"}  # the contract was paid with points, not money
    assert kinds[("client:" + w.clients[0], "stamps")] == {"transfer", "auto_sale", "issued", "top_up"}
    assert kinds[("client:" + w.clients[1], "points")] == {"transfer"}
    assert kinds[("stamping_account:" + w.ctis[3], "stamps")] == {"issued"}  # unlimited: counted, no balance
