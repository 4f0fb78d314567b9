"""Statements, the pure rules: opening + movements = closing = the live balance minus what came later;
consecutive periods chain; a movement seen from each side; CFDI days at the day's end; Mexico City days."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from cmdesk.domain import statements as st

T0 = dt.datetime(2026, 1, 1, 6, tzinfo=dt.UTC)  # Mexico City midnight


def entry(minutes: int, delta: int, n: int) -> st.Entry:
    return st.Entry(
        at=T0 + dt.timedelta(minutes=minutes), ref=f"m:{n:06d}", kind="transfer", delta=delta, quantity=abs(delta)
    )


histories = s.lists(s.tuples(s.integers(0, 60 * 24 * 30), s.integers(-50, 50)), max_size=60)


@given(histories, s.integers(0, 10_000), s.integers(0, 30), s.integers(0, 30))
@settings(max_examples=300)
def test_opening_plus_movements_is_closing_is_live_minus_later(history, live, a, b):
    entries = [entry(m, d, i) for i, (m, d) in enumerate(history)]
    first, last = sorted((a, b))
    start, end = T0 + dt.timedelta(days=first), T0 + dt.timedelta(days=last + 1)
    stmt = st.build(live, entries, start, end)
    inside = [e for e in entries if start <= e.at < end]
    later = sum(e.delta for e in entries if e.at >= end)
    assert stmt.closing == live - later
    assert stmt.opening + sum(e.delta for e in inside) == stmt.closing
    assert [r.entry for r in stmt.rows] == sorted(inside, key=lambda e: e.key)
    balance = stmt.opening
    for row in stmt.rows:
        balance += row.entry.delta
        assert row.balance == balance
    assert stmt.credits - stmt.debits == stmt.closing - stmt.opening
    # The same period, given only the entries inside it and the later sum: the same statement.
    again = st.build(live, inside, start, end, after_end_total=later)
    assert (again.opening, again.closing, again.rows) == (stmt.opening, stmt.closing, stmt.rows)
    # Entries before the period don't matter (it counts back from the live balance).
    earlier = [e for e in entries if e.at < start]
    assert st.build(live, inside + earlier, start, end, after_end_total=later) == again


@given(histories, s.integers(0, 10_000), s.lists(s.integers(1, 29), min_size=1, max_size=5, unique=True))
@settings(max_examples=200)
def test_consecutive_periods_chain_and_the_present_closes_at_the_live_balance(history, live, cuts):
    entries = [entry(m, d, i) for i, (m, d) in enumerate(history)]
    days = [0, *sorted(cuts), 31]
    statements = [
        st.build(live, entries, T0 + dt.timedelta(days=a), T0 + dt.timedelta(days=b))
        for a, b in itertools.pairwise(days)
    ]
    for before, after in itertools.pairwise(statements):
        assert before.closing == after.opening
    assert statements[-1].closing == live  # the last period reaches past every entry
    assert statements[0].opening == live - sum(e.delta for e in entries)


def test_a_movement_from_each_side():
    m = {
        "id": "m1", "kind": "transfer", "quantity": 7, "amount_cents": 812, "comments": "venta",
        "source": {"type": "account", "id": "A", "name": "Distribuidora"},
        "target": {"type": "stamping_account", "id": "CTI-1"},
        "created_at": "2026-03-01T18:00:00Z", "created_by": "auto_sale",
    }
    mine = st.movement_entry(m, [("account", "A")])
    assert mine is not None and mine.delta == -7 and mine.counterpart_id == "CTI-1"
    assert mine.created_by_name == "Venta automática" and mine.stamping_account_id is None
    theirs = st.movement_entry(m, [("stamping_account", "CTI-1"), ("stamping_account", "CTI-2")])
    assert theirs is not None and theirs.delta == 7 and theirs.counterpart_name == "Distribuidora"
    assert theirs.stamping_account_id == "CTI-1" and theirs.at == dt.datetime(2026, 3, 1, 18, tzinfo=dt.UTC)
    assert st.movement_entry(m, [("client", "C")]) is None


def test_cfdi_days_close_their_mexico_city_day():
    e = st.issued_day_entry(dt.date(2026, 3, 1), "CTI-1", 12)
    assert e.delta == -12 and e.quantity == 12 and e.kind == "issued"
    assert e.at == dt.datetime(2026, 3, 2, 5, 59, 59, 999999, tzinfo=dt.UTC)
    assert st.local_day(e.at) == dt.date(2026, 3, 1)
    credit = entry(0, 5, 1)
    assert sorted([e, credit], key=lambda x: x.key)[0] == credit
    assert st.issued_day_entry(dt.date(2026, 3, 1), "U", 4, debited=False).delta == 0


def test_periods_are_mexico_city_days():
    start, end = st.period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert start == dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)
    assert st.local_day(dt.datetime(2026, 12, 1, 5, 59, tzinfo=dt.UTC)) == dt.date(2026, 11, 30)
    with pytest.raises(ValueError):
        st.period(dt.date(2026, 2, 1), dt.date(2026, 1, 31))
    with pytest.raises(ValueError):
        st.build(0, [], end, start)


def test_names_fill_what_is_missing():
    e = st.Entry(at=T0, ref="m:1", kind="transfer", delta=1, quantity=1, counterpart_type="client",
                 counterpart_id="C", created_by="p1")
    named = st.with_names(e, {("client", "C"): "Cliente Uno"}, {"p1": "Ana"})
    assert (named.counterpart_name, named.created_by_name) == ("Cliente Uno", "Ana")
    system = st.with_names(st.Entry(at=T0, ref="m:2", kind="transfer", delta=1, quantity=1, created_by="system"), {}, {})
    assert system.created_by_name == "Sistema"
    charge = st.charge_entry({"id": "c1", "kind": "annual_fee", "amount_cents": 348000,
                              "created_at": "2026-01-02T00:00:00Z", "description": "Anualidad"})
    assert charge.delta == charge.amount_cents == 348000 and charge.ref == "c:c1"
