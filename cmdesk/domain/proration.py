"""Yearly contracts (MKL, subscriptions) and their prorated first charge.

Contracts are paid yearly and end with the distributor account's expiry, so a contract taken mid-year
pays only for the months left: `annual price × months remaining / 12`, plus IVA. A started month counts
as a whole one. Manual: MKL Déminus listed at $1,850.00 + IVA with 12 months left is charged $2,146.00.

All datetimes here must be timezone-aware; months are counted on the UTC calendar, where they are stored.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from cmdesk.domain.money import IVA_RATE_PERCENT, div_round_half_up

MONTHS_PER_YEAR = 12


def _utc(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return dt.astimezone(UTC)


def add_months(dt: datetime, months: int) -> datetime:
    """`dt` moved by whole calendar months; a day the target month lacks becomes its last day."""
    month_index = dt.month - 1 + months
    year, month = dt.year + month_index // 12, month_index % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def add_one_year(dt: datetime) -> datetime:
    """The same moment one year later; 29 February becomes 28 February."""
    return add_months(dt, MONTHS_PER_YEAR)


def months_remaining(now: datetime, expires_at: datetime) -> int:
    """Whole months from `now` to `expires_at`, a started month counting as a full one, within 0..12.

    The count is the smallest n with `now + n months ≥ expires_at`: from 2016-04-12 to 2017-04-12 is 12;
    from 2016-04-12 00:00:01 it is still 12 (eleven months and a bit); from 2016-05-12 it is 11.
    At or past expiry it is 0.
    """
    now_utc, expiry_utc = _utc(now, "now"), _utc(expires_at, "expires_at")
    for months in range(MONTHS_PER_YEAR + 1):
        if add_months(now_utc, months) >= expiry_utc:
            return months
    # An expiry more than a year away (renewed early) still charges at most a year.
    return MONTHS_PER_YEAR


def prorated_charge_cents(annual_price_before_tax_cents: int, months_remaining: int) -> int:
    """The first charge of a yearly contract, IVA included, for the months remaining (0..12).

    Rounded once, half up to the centavo, on the final amount: 12 months is exactly `add_iva(annual)`.
    """
    if annual_price_before_tax_cents < 0:
        raise ValueError("annual price must not be negative")
    if not 0 <= months_remaining <= MONTHS_PER_YEAR:
        raise ValueError("months_remaining must be within 0..12")
    return div_round_half_up(
        annual_price_before_tax_cents * months_remaining * (100 + IVA_RATE_PERCENT),
        MONTHS_PER_YEAR * 100,
    )
