"""Forecasts per CTI, per client and for the distributor's own stamps; usual purchase; refill cost;
and the feed's usage summary (encode/decode)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmdesk.domain import forecast as fc
from cmdesk.domain import usage
from cmdesk.domain.forecast import CtiUsage, Forecast, PriceSource, Refill, RiskBand

TODAY = date(2026, 12, 5)
LONG_AGO = date(2025, 1, 1)


def cti(
    ident: str = "CTI",
    *,
    balance: int = 0,
    daily: dict[date, int] | None = None,
    created_on: date = LONG_AGO,
    standard: bool = True,
    active: bool = True,
) -> CtiUsage:
    return CtiUsage(ident, standard, active, balance, created_on, daily or {})


def every_day(n: int, days: int = 30) -> dict[date, int]:
    return {TODAY - timedelta(days=i): n for i in range(days)}


# ---- one CTI -----------------------------------------------------------------------------------


def test_a_steady_cti() -> None:
    f = fc.cti_forecast(cti(balance=100, daily=every_day(10)), TODAY)
    assert f == Forecast(cpd_centi=1000, balance=100, days_remaining=10, band=RiskBand.LE15)
    assert f.average_daily_use == Decimal("10.00")


def test_only_the_window_counts() -> None:
    daily = {TODAY: 3, TODAY - timedelta(days=29): 3, TODAY - timedelta(days=30): 1000, TODAY + timedelta(days=1): 9}
    f = fc.cti_forecast(cti(balance=10, daily=daily), TODAY)
    assert f.cpd_centi == 20  # 6 / 30 = 0.20
    assert f.days_remaining == 50


def test_a_new_cti_is_not_diluted_by_days_it_did_not_exist() -> None:
    created = TODAY - timedelta(days=1)
    f = fc.cti_forecast(cti(balance=10, daily={created: 4, TODAY: 6}, created_on=created), TODAY)
    assert f.cpd_centi == 500 and f.days_remaining == 2 and f.band == RiskBand.LE7


def test_a_cti_created_today_with_no_use_yet() -> None:
    f = fc.cti_forecast(cti(balance=0, created_on=TODAY), TODAY)
    assert f == Forecast(0, 0, None, RiskBand.NO_USE)


def test_zero_use() -> None:
    f = fc.cti_forecast(cti(balance=500), TODAY)
    assert f == Forecast(0, 500, None, RiskBand.NO_USE)
    assert f.average_daily_use == Decimal("0.00")


def test_an_unlimited_cti_keeps_its_cpd_but_never_runs_out() -> None:
    f = fc.cti_forecast(cti(standard=False, daily=every_day(7)), TODAY)
    assert f == Forecast(700, None, None, None)


def test_a_blocked_cti_keeps_its_cpd_and_balance_but_does_not_run_out() -> None:
    f = fc.cti_forecast(cti(balance=5, daily=every_day(10), active=False), TODAY)
    assert f == Forecast(1000, 5, None, None)


def test_an_empty_cti_in_use_is_at_zero_days() -> None:
    f = fc.cti_forecast(cti(balance=0, daily=every_day(1)), TODAY)
    assert f.days_remaining == 0 and f.band == RiskBand.LE7


@pytest.mark.parametrize(
    ("days", "cpd", "band"),
    [
        (0, 100, RiskBand.LE7),
        (7, 100, RiskBand.LE7),
        (8, 100, RiskBand.LE15),
        (15, 100, RiskBand.LE15),
        (16, 100, RiskBand.LE30),
        (30, 100, RiskBand.LE30),
        (31, 100, None),
        (None, 0, RiskBand.NO_USE),
        (None, 100, None),
    ],
)
def test_risk_bands(days: int | None, cpd: int, band: RiskBand | None) -> None:
    assert fc.risk_band(days, cpd) == band


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60),
    st.integers(min_value=0, max_value=10**9),
)
def test_the_integer_formulas_are_the_usage_rules(daily: list[int], balance: int) -> None:
    """cpd_centi / 100 is `usage.average_daily_use` and D.R. is `usage.days_remaining`, exactly."""
    cpd = fc.cpd_centi(sum(daily), len(daily))
    average = usage.average_daily_use(daily)
    assert Decimal(cpd) / 100 == average
    assert fc.days_remaining(balance, cpd) == usage.days_remaining(balance, average)


def test_cpd_rounds_half_up() -> None:
    assert fc.cpd_centi(1, 8) == 13  # 0.125
    assert fc.cpd_centi(1, 200) == 1  # 0.005
    assert fc.cpd_centi(1, 201) == 0
    with pytest.raises(ValueError):
        fc.cpd_centi(1, 0)


# ---- per client --------------------------------------------------------------------------------


def test_a_client_sums_its_active_standard_ctis() -> None:
    ctis = [
        cti("A", balance=100, daily=every_day(10)),  # 10.00 a day
        cti("B", balance=50, daily=every_day(5)),  # 5.00
        cti("U", standard=False, daily=every_day(1000)),  # unlimited: not counted
        cti("X", balance=9999, daily=every_day(1000), active=False),  # blocked: not counted
    ]
    f = fc.client_forecast(ctis, TODAY)
    assert f == Forecast(cpd_centi=1500, balance=150, days_remaining=10, band=RiskBand.LE15)


def test_a_client_whose_busy_cti_is_empty_still_has_the_other_s_stamps() -> None:
    f = fc.client_forecast([cti("A", balance=0, daily=every_day(10)), cti("B", balance=300)], TODAY)
    assert f == Forecast(1000, 300, 30, RiskBand.LE30)


def test_a_client_with_a_new_cti_and_no_use() -> None:
    f = fc.client_forecast([cti("A", balance=0, created_on=TODAY)], TODAY)
    assert f == Forecast(0, 0, None, RiskBand.NO_USE)


def test_a_client_with_only_unlimited_or_blocked_ctis_has_no_forecast() -> None:
    ctis = [cti("U", standard=False, daily=every_day(3)), cti("B", balance=4, active=False)]
    assert fc.client_forecast(ctis, TODAY) is None
    assert fc.client_forecast([], TODAY) is None


def test_the_distributor_s_own_stock_against_all_its_clients() -> None:
    ctis = [cti("A", balance=10, daily=every_day(10)), cti("B", daily=every_day(20)), cti("U", standard=False, daily=every_day(99))]
    assert fc.distributor_forecast(450, ctis, TODAY) == Forecast(3000, 450, 15, RiskBand.LE15)
    assert fc.distributor_forecast(450, [], TODAY) == Forecast(0, 450, None, RiskBand.NO_USE)


# ---- usual purchase and refill cost ------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantities", "usual"),
    [
        ([], None),
        ([500], 500),
        ([500, 100], 100),  # low median of two
        ([1000, 100, 500], 500),
        ([1000, 1000, 100, 100, 500], 500),
        ([100, 100, 100, 5000, 5000, 5000, 5000], 100),  # only the last five: 100, 100, 100, 5000, 5000
    ],
)
def test_usual_purchase(quantities: list[int], usual: int | None) -> None:
    assert fc.usual_purchase(quantities) == usual


PACKAGES = [(100, 50_000), (500, 200_000)]


@pytest.mark.parametrize(
    ("quantity", "client", "global_", "packages", "expected"),
    [
        (500, 65, 80, PACKAGES, Refill(500, 32_500, PriceSource.CLIENT_BULK)),
        (500, 0, 80, PACKAGES, Refill(500, 0, PriceSource.CLIENT_BULK)),  # the client's price is free
        (500, None, 80, PACKAGES, Refill(500, 40_000, PriceSource.GLOBAL_BULK)),
        (500, None, 0, PACKAGES, Refill(500, 200_000, PriceSource.PACKAGE)),
        (300, None, None, PACKAGES, Refill(300, 150_000, PriceSource.PACKAGE_UNIT)),  # 100 at $5.00
        (1000, None, None, PACKAGES, Refill(1000, 400_000, PriceSource.PACKAGE_UNIT)),  # 500 at $4.00
        (50, None, None, PACKAGES, Refill(50, 25_000, PriceSource.PACKAGE_UNIT)),  # smallest package
        (7, None, None, [(3, 1000)], Refill(7, 2331, PriceSource.PACKAGE_UNIT)),  # $3.33 each, half up
        (500, None, None, [], None),
        (0, 65, None, PACKAGES, None),
    ],
)
def test_refill_cost(
    quantity: int,
    client: int | None,
    global_: int | None,
    packages: list[tuple[int, int]],
    expected: Refill | None,
) -> None:
    got = fc.refill_cost(quantity, client_bulk_price_cents=client, global_bulk_price_cents=global_, packages=packages)
    assert got == expected


# ---- the feed's usage summary ------------------------------------------------------------------


def test_mexico_city_days() -> None:
    assert usage.mx_day(datetime(2026, 12, 5, 5, 59, tzinfo=UTC)) == date(2026, 12, 4)
    assert usage.mx_day(datetime(2026, 12, 5, 6, 0, tzinfo=UTC)) == date(2026, 12, 5)
    assert usage.mx_day_start(date(2026, 12, 5)) == datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        usage.mx_day(datetime(2026, 12, 5))


def test_summary_runs_of_days_without_use() -> None:
    counts = {TODAY - timedelta(days=5): 4, TODAY - timedelta(days=4): 1, TODAY - timedelta(days=1): 7}
    summary = usage.encode_summary(counts, TODAY)
    assert summary == {"since": "2026-11-30", "daily": [4, 1, -2, 7]}
    assert usage.decode_summary(summary) == counts


def test_summary_of_no_use_and_of_days_out_of_the_window() -> None:
    assert usage.encode_summary({}, TODAY) is None
    old = TODAY - timedelta(days=usage.SUMMARY_DAYS)
    assert usage.encode_summary({old: 5, TODAY + timedelta(days=1): 2}, TODAY) is None
    assert usage.encode_summary({old + timedelta(days=1): 5}, TODAY) == {"since": "2026-09-07", "daily": [5]}
    assert usage.decode_summary(None) == {}


@pytest.mark.parametrize(
    "bad", [{"since": "2026-12-01"}, {"since": 3, "daily": []}, {"since": "2026-12-01", "daily": [0]}, {"since": "2026-12-01", "daily": [True]}]
)
def test_decode_refuses_what_is_not_a_summary(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        usage.decode_summary(bad)


@given(st.dictionaries(st.integers(min_value=0, max_value=89), st.integers(min_value=0, max_value=10**6)))
def test_summary_round_trip(offsets: dict[int, int]) -> None:
    counts = {TODAY - timedelta(days=o): n for o, n in offsets.items()}
    assert usage.decode_summary(usage.encode_summary(counts, TODAY)) == {d: n for d, n in counts.items() if n}


def test_a_cti_forecast_from_its_summary() -> None:
    """What the desktop does: decode the summary, then forecast with the CTI's creation day."""
    summary = {"since": "2026-11-20", "daily": [10, -9, 20]}
    f = fc.cti_forecast(cti(balance=60, daily=usage.decode_summary(summary)), TODAY)
    assert f == Forecast(100, 60, 60, None)  # 30 in 30 days
