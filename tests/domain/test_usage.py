"""C.P.D. (average daily use) and D.R. (days remaining) of a stamping account."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cmdesk.domain.usage import (
    CPD_WINDOW_DAYS,
    average_daily_use,
    days_remaining,
    fill_daily_series,
    usage_window,
)


@pytest.mark.parametrize(
    ("daily", "average"),
    [
        ([], Decimal("0")),
        ([0, 0, 0], Decimal("0")),  # manual's Timbrado tab: accounts without issues show C.P.D. 0
        ([10], Decimal("10")),
        ([1, 2, 3], Decimal("2")),
        ([1, 0, 0], Decimal("0.33")),
        ([2, 0, 0], Decimal("0.67")),
        ([1] + [0] * 7, Decimal("0.13")),  # 0.125 -> half up
        ([1] + [0] * 199, Decimal("0.01")),  # 0.005 -> half up
        ([1] + [0] * 200, Decimal("0")),  # 0.004975...
        ([100] * 30, Decimal("100")),
    ],
)
def test_average_daily_use(daily, average):
    result = average_daily_use(daily)
    assert result == average
    assert result.as_tuple().exponent == -2  # always shown with two decimals


def test_average_daily_use_refuses_negative_counts():
    with pytest.raises(ValueError):
        average_daily_use([1, -1])


@pytest.mark.parametrize(
    ("balance", "average", "days"),
    [
        (None, Decimal("5"), None),  # unlimited CTI: no balance, never runs out
        (250, Decimal("0"), None),  # manual: "Pruebas" has 250 stamps and C.P.D. 0 -> no D.R.
        (0, Decimal("0"), None),
        (0, Decimal("3.5"), 0),
        (10, Decimal("3"), 3),  # 3.33 days, rounded down
        (9, Decimal("3"), 3),
        (100, Decimal("0.33"), 303),
        (1, Decimal("0.01"), 100),
        (1494, Decimal("12.45"), 120),  # exactly 120
        (1493, Decimal("12.45"), 119),
        (1245, Decimal("12.45"), 100),
        (-5, Decimal("1"), 0),
    ],
)
def test_days_remaining(balance, average, days):
    assert days_remaining(balance, average) == days


def test_days_remaining_is_floor_even_when_the_quotient_is_a_hair_below_an_integer():
    # (3e28 - 1) / 3 = 9,999...9.67 with 28 nines: a 28-digit Decimal quotient rounds it up to 1e28.
    assert days_remaining(3 * 10**28 - 1, Decimal("3")) == 10**28 - 1


def test_fill_daily_series_fills_missing_days_with_zero():
    counts = {date(2016, 4, 14): 3, date(2016, 4, 16): 5, date(2016, 4, 30): 9}
    assert fill_daily_series(counts, date(2016, 4, 13), date(2016, 4, 17)) == [
        (date(2016, 4, 13), 0),
        (date(2016, 4, 14), 3),
        (date(2016, 4, 15), 0),
        (date(2016, 4, 16), 5),
        (date(2016, 4, 17), 0),
    ]


@pytest.mark.parametrize(
    ("start", "end", "length"),
    [
        (date(2016, 2, 1), date(2016, 2, 29), 29),  # leap February
        (date(2016, 12, 31), date(2017, 1, 1), 2),
        (date(2016, 4, 14), date(2016, 4, 14), 1),
        (date(2016, 4, 15), date(2016, 4, 14), 0),
    ],
)
def test_fill_daily_series_covers_every_day_inclusive(start, end, length):
    series = fill_daily_series({}, start, end)
    assert len(series) == length
    assert all(count == 0 for _, count in series)


@pytest.mark.parametrize(
    ("today", "created_on", "window"),
    [
        (date(2016, 4, 30), None, (date(2016, 4, 1), date(2016, 4, 30))),
        (date(2016, 4, 30), date(2015, 1, 1), (date(2016, 4, 1), date(2016, 4, 30))),
        (date(2016, 4, 30), date(2016, 4, 14), (date(2016, 4, 14), date(2016, 4, 30))),  # new account
        (date(2016, 4, 30), date(2016, 4, 30), (date(2016, 4, 30), date(2016, 4, 30))),
        (date(2016, 4, 30), date(2016, 5, 2), (date(2016, 4, 30), date(2016, 4, 30))),  # clock skew
    ],
)
def test_usage_window(today, created_on, window):
    assert usage_window(today, created_on) == window


def test_usage_window_length_and_bounds():
    start, end = usage_window(date(2016, 4, 30), days=90)
    assert len(fill_daily_series({}, start, end)) == 90
    assert len(fill_daily_series({}, *usage_window(date(2016, 4, 30)))) == CPD_WINDOW_DAYS
    with pytest.raises(ValueError):
        usage_window(date(2016, 4, 30), days=0)


def test_cpd_and_dr_together():
    today = date(2016, 4, 30)
    counts = {date(2016, 4, 20): 30, date(2016, 4, 29): 15}
    series = fill_daily_series(counts, *usage_window(today))
    average = average_daily_use([count for _, count in series])
    assert average == Decimal("1.50")
    assert days_remaining(100, average) == 66
