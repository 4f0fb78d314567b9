"""Forecasts in the cache: every CTI's and client's C.P.D., D.R. and risk band computed as rows are
written, equal to `cmdesk.domain.forecast`'s, sorted and filtered in SQL, computed again on a new day."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdesk.domain import clock, forecast, usage
from cmdesk.services.cache import Cache
from tests.services.test_cache import change, client, cti

TODAY = dt.date(2026, 12, 5)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.date]]:
    """The business day the cache sees (a list, so a test can move it)."""
    day = [TODAY]
    real = clock.today
    monkeypatch.setattr(clock, "today", lambda now=None: day[0] if now is None else real(now))
    # The cache takes its day from the server's clock (issue 22): noon in Mexico City of that day.
    from cmdesk.services import server_info

    monkeypatch.setattr(
        server_info.default_clock,
        "now",
        lambda: dt.datetime.combine(day[0], dt.time(18, 0), tzinfo=dt.UTC),
    )
    yield day


@pytest.fixture
def cache(tmp_path: Path, today: list[dt.date]) -> Iterator[Cache]:
    c = Cache(tmp_path / "cache.sqlite3")
    yield c
    c.close()


def summary(days: dict[int, int]) -> dict[str, Any] | None:
    """A feed usage summary of `{days before TODAY: issued}`."""
    return usage.encode_summary({TODAY - dt.timedelta(days=k): n for k, n in days.items()}, TODAY)


def fill(cache: Cache, *records: tuple[str, dict[str, Any]]) -> None:
    cache.apply_page([change(entity, data) for entity, data in records], "c1")
    cache.finish_pull()


def domain(data: dict[str, Any], today: dt.date = TODAY) -> forecast.Forecast:
    created = clock.today(clock.parse_utc(data["created_at"]))
    return forecast.cti_forecast(
        forecast.CtiUsage(
            data["id"],
            data["kind"] == "standard",
            data["active"],
            data["balance"] or 0,
            created,
            usage.decode_summary(data.get("usage")),
        ),
        today,
    )


def rows(cache: Cache, **filters: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in cache.query_stamping_accounts(limit=1000, **filters)}


def test_edge_cases_match_the_domain(cache: Cache) -> None:
    busy = cti("busy", "cl00001", balance=100, usage=summary({0: 10, 1: 20, 40: 500}))
    new = cti("new", "cl00001", balance=30, created_at="2026-12-04T18:00:00Z", usage=summary({0: 6, 1: 4}))
    idle = cti("idle", "cl00001", balance=50, usage=None)
    blocked = cti("blocked", "cl00002", balance=10, active=False, usage=summary({2: 30}))
    unlimited = cti("unl", "cl00002", kind="unlimited", balance=None, usage=summary({0: 90}))
    fill(
        cache,
        *(("stamping_account", c) for c in (busy, new, idle, blocked, unlimited)),
        ("client", client(1)),
        ("client", client(2)),
    )
    got = rows(cache)
    for data in (busy, new, idle, blocked, unlimited):
        expected = domain(data)
        row = got[data["id"]]
        assert (row["cpd"], row["days_left"], row["risk"]) == (
            expected.cpd_centi,
            expected.days_remaining,
            expected.band.value if expected.band else None,
        ), data["id"]
    # busy: 30 in 30 days → 1.00 a day, 100 days; new (created yesterday, Mexico City): 10 in 2 days.
    assert (got["busy"]["cpd"], got["busy"]["days_left"]) == (100, 100)
    assert (got["new"]["cpd"], got["new"]["days_left"], got["new"]["risk"]) == (500, 6, "le7")
    assert (got["idle"]["cpd"], got["idle"]["days_left"], got["idle"]["risk"]) == (0, None, "no_use")
    assert (got["blocked"]["cpd"], got["blocked"]["days_left"], got["blocked"]["risk"]) == (100, None, None)
    assert (got["unl"]["cpd"], got["unl"]["days_left"], got["unl"]["risk"]) == (300, None, None)
    assert "usage" not in got["busy"]

    clients = {c["id"]: c for c in cache.query_clients(limit=10)}
    one = forecast.client_forecast([_usage(d) for d in (busy, new, idle)], TODAY)
    assert one is not None
    assert (clients["cl00001"]["fc_cpd"], clients["cl00001"]["fc_balance"]) == (600, 180)
    assert clients["cl00001"]["days_left"] == one.days_remaining == 30
    assert clients["cl00001"]["risk"] == "le30"
    # Only a blocked and an unlimited CTI: no forecast.
    assert forecast.client_forecast([_usage(d) for d in (blocked, unlimited)], TODAY) is None
    assert (clients["cl00002"]["fc_cpd"], clients["cl00002"]["days_left"], clients["cl00002"]["risk"]) == (
        None,
        None,
        None,
    )


def _usage(data: dict[str, Any]) -> forecast.CtiUsage:
    return forecast.CtiUsage(
        data["id"],
        data["kind"] == "standard",
        data["active"],
        data["balance"] or 0,
        clock.today(clock.parse_utc(data["created_at"])),
        usage.decode_summary(data.get("usage")),
    )


def test_random_portfolio_matches_the_domain_and_sorts_and_filters(cache: Cache) -> None:
    rng = random.Random(17)
    ctis: list[dict[str, Any]] = []
    for i in range(300):
        days = {k: rng.randint(1, 40) for k in rng.sample(range(90), rng.choice([0, 0, 1, 3, 10, 40]))}
        ctis.append(
            cti(
                f"c{i:03d}",
                f"cl{i % 60:05d}",
                kind="unlimited" if i % 23 == 0 else "standard",
                active=i % 17 != 0,
                balance=None if i % 23 == 0 else rng.choice([0, 5, 50, 500, 5000]),
                created_at=(TODAY - dt.timedelta(days=rng.choice([0, 3, 20, 400]))).isoformat()
                + "T12:00:00Z",
                usage=summary(days),
            )
        )
    fill(cache, *(("stamping_account", c) for c in ctis), *(("client", client(i)) for i in range(60)))
    got = rows(cache)
    for data in ctis:
        expected = domain(data)
        assert (got[data["id"]]["cpd"], got[data["id"]]["days_left"]) == (
            expected.cpd_centi,
            expected.days_remaining,
        )
    clients = {c["id"]: c for c in cache.query_clients(limit=100)}
    for i in range(60):
        mine = [_usage(c) for c in ctis if c["client_id"] == f"cl{i:05d}"]
        expected_client = forecast.client_forecast(mine, TODAY)
        row = clients[f"cl{i:05d}"]
        assert row["days_left"] == (expected_client.days_remaining if expected_client else None)
        assert row["fc_cpd"] == (expected_client.cpd_centi if expected_client else None)

    # D.R. ascending: numbers first in order, "never runs out" last; descending the other way round.
    ordered = cache.query_stamping_accounts(sort="dr_asc", limit=1000)
    values = [r["days_left"] for r in ordered]
    numbers = [v for v in values if v is not None]
    assert values == numbers + [None] * (len(values) - len(numbers))
    assert numbers == sorted(numbers)
    descending = [r["id"] for r in cache.query_stamping_accounts(sort="dr_desc", limit=1000)]
    assert descending == [r["id"] for r in reversed(ordered)]
    cpds = [r["cpd"] for r in cache.query_stamping_accounts(sort="cpd_desc", limit=1000)]
    assert cpds == sorted(cpds, reverse=True)

    # The risk filters: cumulative "≤ N days", and "sin consumo".
    for band, limit in forecast.RISK_BAND_DAYS.items():
        ids = set(rows(cache, risk=band.value))
        assert ids == {i for i, r in got.items() if r["days_left"] is not None and r["days_left"] <= limit}
        assert cache.count_stamping_accounts(risk=band.value) == len(ids)
        client_ids = {c["id"] for c in cache.query_clients(risk=band.value, sort="days_left", limit=100)}
        assert client_ids == {
            i for i, c in clients.items() if c["days_left"] is not None and c["days_left"] <= limit
        }
    no_use = set(rows(cache, risk="no_use"))
    assert no_use == {i for i, r in got.items() if r["risk"] == "no_use"} != set()
    assert all(got[i]["cpd"] == 0 for i in no_use)
    risky = [c["days_left"] for c in cache.query_clients(sort="days_left", limit=100)]
    assert [d for d in risky if d is not None] == sorted(d for d in risky if d is not None)


def test_sorts_and_filters_use_indexes(cache: Cache) -> None:
    fill(cache, ("stamping_account", cti("a", "cl00001")), ("client", client(1)))
    for sort in ("dr_asc", "dr_desc", "cpd_asc", "cpd_desc"):
        plan = " ".join(cache.explain_stamping_accounts(sort=sort))
        assert "TEMP B-TREE" not in plan, (sort, plan)
    plan = " ".join(cache.explain_stamping_accounts(risk="le7", sort="dr_asc"))
    assert "ix_cti_days_left" in plan and "TEMP B-TREE" not in plan
    plan = " ".join(cache.explain_clients(risk="le15", sort="days_left"))
    assert "ix_clients_days_left" in plan and "TEMP B-TREE" not in plan
    # "Sin consumo" in the tabs' default orders: the band's index, in order.
    plan = " ".join(cache.explain_stamping_accounts(risk="no_use", sort="client"))
    assert "ix_cti_risk" in plan and "TEMP B-TREE" not in plan
    plan = " ".join(cache.explain_clients(risk="no_use", sort="name"))
    assert "ix_clients_risk" in plan and "TEMP B-TREE" not in plan


def test_a_change_updates_the_cti_and_its_client(cache: Cache) -> None:
    fill(
        cache,
        ("stamping_account", cti("a", "cl00001", balance=10, usage=summary({0: 30}))),
        ("client", client(1)),
    )
    assert rows(cache)["a"]["days_left"] == 10
    # A later page (not a first fill): a transfer raised the balance.
    cache.apply_page(
        [change("stamping_account", cti("a", "cl00001", balance=70, usage=summary({0: 30})))], "c2"
    )
    assert rows(cache)["a"]["days_left"] == 70
    assert cache.query_clients(limit=1)[0]["days_left"] == 70
    # An optimistic value (a balance laid over while a command is on its way) moves it too.
    cache.apply_local("stamping_account", "a", {"balance": 3})
    assert (rows(cache)["a"]["days_left"], rows(cache)["a"]["risk"]) == (3, "le7")
    assert cache.query_clients(risk="le7", limit=1)[0]["id"] == "cl00001"
    cache.restore("stamping_account", "a")
    assert cache.query_clients(limit=1)[0]["days_left"] == 70
    # Blocked: no longer counts towards its client.
    cache.apply_page([change("stamping_account", cti("a", "cl00001", active=False, balance=70))], "c3")
    assert cache.query_clients(limit=1)[0]["days_left"] is None
    # Gone: neither.
    cache.apply_page([{"entity": "stamping_account", "id": "a", "deleted": True, "data": None}], "c4")
    assert cache.query_clients(limit=1)[0]["fc_cpd"] is None


def test_a_new_day_moves_the_window(cache: Cache, today: list[dt.date]) -> None:
    fill(
        cache,
        ("stamping_account", cti("a", "cl00001", balance=100, usage=summary({0: 30}))),
        ("stamping_account", cti("b", "cl00001", balance=100, usage=None)),
        ("client", client(1)),
    )
    assert (rows(cache)["a"]["cpd"], rows(cache)["a"]["days_left"]) == (100, 100)
    assert cache.refresh_forecasts() == set()  # same day: nothing to do
    today[0] = TODAY + dt.timedelta(days=29)
    assert cache.refresh_forecasts() == {"stamping_account", "client"}
    assert (rows(cache)["a"]["cpd"], rows(cache)["a"]["days_left"]) == (100, 100)
    today[0] = TODAY + dt.timedelta(days=30)  # the day of use left the window
    seen: list[set[str]] = []
    cache.subscribe(seen.append)
    cache.refresh_forecasts()
    assert (rows(cache)["a"]["cpd"], rows(cache)["a"]["days_left"], rows(cache)["a"]["risk"]) == (
        0,
        None,
        "no_use",
    )
    assert cache.query_clients(limit=1)[0]["risk"] == "no_use"
    assert seen == [{"stamping_account", "client"}]


def test_an_unreadable_summary_counts_as_no_use(cache: Cache) -> None:
    fill(
        cache,
        ("stamping_account", cti("a", "cl00001", balance=5, usage={"since": "ayer", "daily": [1]})),
        ("client", client(1)),
    )
    assert (rows(cache)["a"]["cpd"], rows(cache)["a"]["risk"]) == (0, "no_use")


def test_summary_total_matches_decode() -> None:
    rng = random.Random(3)
    for _ in range(200):
        days = {
            TODAY - dt.timedelta(days=k): rng.randint(1, 9) for k in rng.sample(range(90), rng.randint(0, 30))
        }
        encoded = usage.encode_summary(days, TODAY)
        start = TODAY - dt.timedelta(days=rng.randint(0, 100))
        decoded = usage.decode_summary(encoded)
        assert usage.summary_total(encoded, start, TODAY) == sum(
            n for d, n in decoded.items() if start <= d <= TODAY
        )
    with pytest.raises(ValueError):
        usage.summary_total({"since": "2026-01-01", "daily": [0]}, TODAY, TODAY)


def movement(ident: str, client_id: str, quantity: int, when: str, kind: str = "transfer") -> dict[str, Any]:
    return {
        "id": ident,
        "kind": kind,
        "asset": "stamps",
        "quantity": quantity,
        "amount_cents": 0,
        "source": {"type": "account", "id": "acc"},
        "target": {"type": "stamping_account", "id": "a"},
        "client_id": client_id,
        "comments": "",
        "created_at": when,
    }


def test_usual_purchase_and_refill_cost(cache: Cache) -> None:
    sales = [
        movement("m1", "cl00001", 100, "2026-11-01T10:00:00Z"),
        movement("m2", "cl00001", 500, "2026-11-02T10:00:00Z", "auto_sale"),
        movement("m3", "cl00001", 300, "2026-11-03T10:00:00Z", "top_up"),
        movement("m4", "cl00001", 9999, "2026-11-04T10:00:00Z", "reversal"),  # not a sale
        movement("m5", "cl00002", 50, "2026-11-04T10:00:00Z"),
    ]
    fill(
        cache,
        ("client", client(1)),
        ("client", client(2, other={"bulk_stamp_price_cents": 80})),
        ("client", client(3)),
        *(("movement", m) for m in sales),
        (
            "price_package",
            {"id": "p1", "asset": "stamps", "quantity": 300, "price_cents": 27000, "for_distributors": False},
        ),
        (
            "price_package",
            {"id": "p2", "asset": "stamps", "quantity": 300, "price_cents": 1, "for_distributors": True},
        ),
    )
    got = cache.purchases(["cl00001", "cl00002", "cl00003"])
    # Low median of 100, 500, 300 → 300; the package of exactly 300 for clients.
    assert got["cl00001"].usual == 300
    assert got["cl00001"].refill == forecast.Refill(300, 27000, forecast.PriceSource.PACKAGE)
    # Its own bulk price wins.
    assert got["cl00002"].refill == forecast.Refill(50, 4000, forecast.PriceSource.CLIENT_BULK)
    assert got["cl00003"].usual is None and got["cl00003"].refill is None
    # The account's global bulk price (Configuraciones globales), when it is set.
    cache.apply_page([change("settings", {"id": "s", "bulk_stamp_price_cents": 95})], "c9")
    assert cache.purchases(["cl00001"])["cl00001"].refill == forecast.Refill(
        300, 28500, forecast.PriceSource.GLOBAL_BULK
    )
