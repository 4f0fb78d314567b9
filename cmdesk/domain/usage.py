"""Stamp consumption forecast of a stamping account: C.P.D. and D.R. of the Timbrado tab.

- C.P.D. (consumo promedio diario): stamps issued per calendar day, averaged over a window of days
  (days without issues count as 0), to the hundredth.
- D.R. (días restantes): how many whole days the balance lasts at that pace.

The window is the last `CPD_WINDOW_DAYS` calendar days up to today, but never before the account was
created, so a new account is not diluted by days it did not exist (`usage_window`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

CPD_WINDOW_DAYS = 30
_HUNDREDTH = Decimal("0.01")


def usage_window(
    today: date, created_on: date | None = None, days: int = CPD_WINDOW_DAYS
) -> tuple[date, date]:
    """`(start, end)`, both inclusive: the last `days` days up to today, not starting before creation."""
    if days < 1:
        raise ValueError("days must be at least 1")
    start = today - timedelta(days=days - 1)
    if created_on is not None and created_on > start:
        start = min(created_on, today)
    return start, today


def fill_daily_series(counts: Mapping[date, int], start: date, end: date) -> list[tuple[date, int]]:
    """One `(day, issued)` per calendar day from `start` to `end` inclusive, 0 where `counts` has none."""
    series: list[tuple[date, int]] = []
    day = start
    while day <= end:
        series.append((day, counts.get(day, 0)))
        day += timedelta(days=1)
    return series


def average_daily_use(daily_issued: Sequence[int]) -> Decimal:
    """C.P.D.: the mean of one count per calendar day, rounded half up to 0.01; 0.00 for no days."""
    if not daily_issued:
        return Decimal("0.00")
    if any(count < 0 for count in daily_issued):
        raise ValueError("daily counts must not be negative")
    mean = Decimal(sum(daily_issued)) / Decimal(len(daily_issued))
    return mean.quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def days_remaining(balance: int | None, average: Decimal) -> int | None:
    """D.R.: whole days the balance lasts at `average` stamps a day (rounded down).

    None when it cannot run out: an unlimited account (no balance) or no consumption.
    """
    if balance is None or average <= 0:
        return None
    # Exact rational division: a Decimal quotient rounded to 28 digits could land on the next integer.
    return math.floor(Fraction(max(balance, 0)) / Fraction(average))
