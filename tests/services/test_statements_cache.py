"""Statements built from the cache, for random histories (hypothesis): for the account, a client and a
CTI, opening + movements = closing, and closing = the live balance when the period reaches today; a
past period's closing is the live balance minus what came after; each row's balance follows the last."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s

from cmdesk.domain import statements as st
from cmdesk.services.cache import Cache
from cmdesk.services.statements import local_statement

ACCOUNT, CLIENT, CTI = "a" * 32, "c" * 32, "CTI0000000000000000000000000001"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TODAY = st.local_day(NOW)

# (days ago, kind of movement, quantity): 0 = stamps account → CTI, 1 = points account → client,
# 2 = stamps parent → account (a purchase), 3 = CFDI issued by the CTI that day.
EVENTS = s.lists(s.tuples(s.integers(0, 90), s.integers(0, 3), s.integers(1, 500)), max_size=60)


def _record(entity: str, ident: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"entity": entity, "id": ident, "version": 1, "deleted": False, "data": {"id": ident, **data}}


def build_cache(folder: Path, events: list[tuple[int, int, int]]) -> Cache:
    cache = Cache(folder / "cache.sqlite3")
    stamps = points = cti_balance = client_points = issued = 0
    movements: list[dict[str, Any]] = []
    daily: dict[str, int] = {}
    for n, (days, kind, qty) in enumerate(events):
        at = (NOW - dt.timedelta(days=days, minutes=n)).isoformat().replace("+00:00", "Z")
        source, target, asset = {
            0: ({"type": "account", "id": ACCOUNT}, {"type": "stamping_account", "id": CTI}, "stamps"),
            1: ({"type": "account", "id": ACCOUNT}, {"type": "client", "id": CLIENT}, "points"),
            2: ({"type": "account", "id": "parent"}, {"type": "account", "id": ACCOUNT}, "stamps"),
        }.get(kind, (None, None, ""))
        if kind == 3:
            day = st.local_day(NOW - dt.timedelta(days=days, minutes=n)).isoformat()
            daily[day] = daily.get(day, 0) + qty
            cti_balance -= qty
            issued += qty
            continue
        stamps += {0: -qty, 2: qty}.get(kind, 0)
        points -= qty if kind == 1 else 0
        cti_balance += qty if kind == 0 else 0
        client_points += qty if kind == 1 else 0
        movements.append(
            _record(
                "movement",
                f"m{n:04d}",
                {
                    "kind": "transfer",
                    "asset": asset,
                    "quantity": qty,
                    "amount_cents": qty * 50,
                    "source": source,
                    "target": target,
                    "client_id": CLIENT if kind in (0, 1) else None,
                    "account_id": ACCOUNT,
                    "comments": "",
                    "created_at": at,
                    "created_by": "system",
                },
            )
        )
    cache.apply_page(
        [
            _record(
                "account",
                ACCOUNT,
                {"nic": "200000", "name": "Distribuidor", "balances": {"stamps": stamps, "points": points}},
            ),
            _record(
                "client",
                CLIENT,
                {
                    "nic": "200001",
                    "name": "Cliente",
                    "balances": {"stamps": cti_balance, "points": client_points},
                },
            ),
            _record(
                "stamping_account",
                CTI,
                {
                    "client_id": CLIENT,
                    "kind": "standard",
                    "active": True,
                    "balance": cti_balance,
                    "issued": issued,
                    "credited": 0,
                },
            ),
            *movements,
        ],
        None,
    )
    cache.finish_pull()
    series = [{"date": d, "issued": daily[d]} for d in sorted(daily)]
    cache.set_stamping_usage(CTI, series, issued=issued)
    return cache


PARTIES = [
    ("account", None, "stamps"),
    ("account", None, "points"),
    ("client", CLIENT, "points"),
    ("client", CLIENT, "stamps"),
    ("stamping_account", CTI, "stamps"),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=EVENTS, back=s.integers(0, 100), length=s.integers(0, 60))
def test_random_histories_balance(events: list[tuple[int, int, int]], back: int, length: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cache = build_cache(Path(folder), events)
        try:
            for party_type, party_id, asset in PARTIES:
                whole = local_statement(
                    cache, party_type, party_id, asset, TODAY - dt.timedelta(days=100), TODAY
                )
                assert whole.closing == whole.live
                assert whole.opening + whole.credits - whole.debits == whole.closing
                first = TODAY - dt.timedelta(days=back)
                last = min(TODAY, first + dt.timedelta(days=length))
                part = local_statement(cache, party_type, party_id, asset, first, last)
                assert part.opening + part.credits - part.debits == part.closing
                later = sum(r.entry.delta for r in whole.rows if r.entry.at >= st.period(first, last)[1])
                assert part.closing == whole.live - later
                balance = part.opening
                for row in part.rows:
                    balance += row.entry.delta
                    assert row.balance == balance
        finally:
            cache.close()


def test_pages_read_from_sql_and_built_again_when_dropped(tmp_path: Path) -> None:
    """A statement of the cache is a table in SQL read a page at a time: pages in any size make up its
    rows; a statement whose table was dropped (more statements opened since) reads the same rows."""
    events = [(days % 80, kind, 7 + days) for days in range(0, 240, 3) for kind in range(4)]
    cache = build_cache(tmp_path, events)
    try:
        first = TODAY - dt.timedelta(days=90)
        view = local_statement(cache, "client", CLIENT, "stamps", first, TODAY)
        rows = view.rows
        assert view.count == len(rows) > 100 and rows[-1].balance == view.closing == view.live
        assert {r.entry.kind for r in rows} == {"transfer", "issued"}
        for size in (1, 7, 50):
            paged = [r for offset in range(0, view.count, size) for r in view.page(offset, size)]
            assert paged == rows
        assert view.page(view.count, 10) == [] and list(view.iter_rows(chunk=9)) == rows
        for party_type, party_id, asset in PARTIES:  # more statements than the cache keeps built
            local_statement(cache, party_type, party_id, asset, first, TODAY)
        assert view.rows == rows
    finally:
        cache.close()
