"""Months remaining to the account's expiry and the prorated first charge of a yearly contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cmdesk.domain.money import add_iva
from cmdesk.domain.proration import add_months, add_one_year, months_remaining, prorated_charge_cents

MEXICO_CITY = timezone(timedelta(hours=-6))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_manual_mkl_deminus_example():
    # Manual: "MKL Déminus $1,850.00", expiry 12/04/2017; "Se aplicará un cargo por $2,146 hasta el
    # 2017-04-12" when bought with the whole year left.
    months = months_remaining(utc(2016, 4, 12), utc(2017, 4, 12))
    assert months == 12
    assert prorated_charge_cents(185000, months) == 214600


@pytest.mark.parametrize(
    ("now", "expires_at", "months"),
    [
        (utc(2016, 4, 12), utc(2017, 4, 12), 12),
        (utc(2016, 4, 12, 0, 0, 1), utc(2017, 4, 12), 12),  # 11 months and a bit: a started month counts
        (utc(2016, 5, 11), utc(2017, 4, 12), 12),
        (utc(2016, 5, 12), utc(2017, 4, 12), 11),
        (utc(2016, 5, 12, 0, 0, 1), utc(2017, 4, 12), 11),
        (utc(2017, 3, 12), utc(2017, 4, 12), 1),
        (utc(2017, 4, 11, 23, 59, 59), utc(2017, 4, 12), 1),
        (utc(2017, 4, 12), utc(2017, 4, 12), 0),  # at expiry
        (utc(2017, 5, 1), utc(2017, 4, 12), 0),  # past expiry
        (utc(2016, 1, 1), utc(2017, 4, 12), 12),  # more than a year away: capped
        (utc(2016, 1, 31), utc(2016, 2, 29), 1),  # Jan 31 + 1 month = Feb 29 (leap year)
        (utc(2016, 1, 31), utc(2016, 3, 1), 2),
        (utc(2016, 2, 29), utc(2017, 2, 28), 12),
        (utc(2016, 2, 29), utc(2017, 1, 29), 11),
        # Aware datetimes in other zones are compared on the UTC calendar.
        (datetime(2016, 4, 11, 18, tzinfo=MEXICO_CITY), utc(2017, 4, 12), 12),
        (datetime(2016, 5, 11, 18, tzinfo=MEXICO_CITY), utc(2017, 4, 12), 11),
    ],
)
def test_months_remaining(now, expires_at, months):
    assert months_remaining(now, expires_at) == months


@pytest.mark.parametrize(
    ("now", "expires_at"),
    [
        (datetime(2016, 4, 12), utc(2017, 4, 12)),
        (utc(2016, 4, 12), datetime(2017, 4, 12)),
    ],
)
def test_months_remaining_needs_aware_datetimes(now, expires_at):
    with pytest.raises(ValueError):
        months_remaining(now, expires_at)


@pytest.mark.parametrize(
    ("annual_before_tax", "months", "charge"),
    [
        (185000, 12, 214600),  # manual: MKL Déminus
        (185000, 6, 107300),
        (185000, 1, 17883),  # 1850 * 1.16 / 12 = 178.8333...
        (185000, 0, 0),
        (199900, 12, 231884),  # MKL NomiCloud / Multinivel $1,999.00
        (199900, 5, 96618),  # 966.1833...
        (1500000, 7, 1015000),  # MKL MaxiComercio ERP $15,000.00: 10,150.00 exactly
        (0, 12, 0),  # the manual's $0.00 MKLs
        (1, 5, 0),  # 0.4833 -> 0
        (15, 5, 7),  # 7.25 -> 7
        (30, 5, 15),  # 14.5 -> 15: a true half rounds up
        (90, 5, 44),  # 43.5 -> 44
    ],
)
def test_prorated_charge_cents(annual_before_tax, months, charge):
    assert prorated_charge_cents(annual_before_tax, months) == charge


@pytest.mark.parametrize("annual", [0, 1, 99, 185000, 199900, 1500000, 123456789])
def test_a_full_year_is_the_annual_price_with_iva(annual):
    assert prorated_charge_cents(annual, 12) == add_iva(annual)


@pytest.mark.parametrize(("annual", "months"), [(-1, 12), (185000, -1), (185000, 13)])
def test_prorated_charge_refuses_out_of_range(annual, months):
    with pytest.raises(ValueError):
        prorated_charge_cents(annual, months)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (utc(2016, 4, 12, 6, 20), utc(2017, 4, 12, 6, 20)),
        (utc(2016, 2, 29), utc(2017, 2, 28)),
        (utc(2015, 2, 28), utc(2016, 2, 28)),
        (utc(2016, 12, 31, 23, 59, 59), utc(2017, 12, 31, 23, 59, 59)),
    ],
)
def test_add_one_year(start, expected):
    assert add_one_year(start) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (utc(2016, 1, 31), 1, utc(2016, 2, 29)),
        (utc(2017, 1, 31), 1, utc(2017, 2, 28)),
        (utc(2016, 3, 31), -1, utc(2016, 2, 29)),
        (utc(2016, 11, 30), 2, utc(2017, 1, 30)),
        (utc(2016, 5, 15), 0, utc(2016, 5, 15)),
        (utc(2016, 5, 15), -17, utc(2014, 12, 15)),
    ],
)
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected
