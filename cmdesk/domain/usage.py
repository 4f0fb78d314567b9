"""Stamp consumption forecast of a stamping account: C.P.D. and D.R. of the Timbrado tab.

- C.P.D. (consumo promedio diario): stamps issued per calendar day, averaged over a window of days
  (days without issues count as 0), to the hundredth.
- D.R. (días restantes): how many whole days the balance lasts at that pace.

The window is the last `CPD_WINDOW_DAYS` calendar days up to today, but never before the account was
created, so a new account is not diluted by days it did not exist (`usage_window`).

Days are Mexico City calendar days (`mx_day`): UTC − 6 h, the fixed offset Mexico City keeps since it
dropped daylight saving time in 2022. The server's daily usage table, the usage report and the change
feed's usage summary all cut days this way.

The usage summary (`encode_summary` / `decode_summary`) is how a CTI's recent daily use travels in the
change feed (`"usage"` of a stamping account), so the desktop computes C.P.D. and D.R. offline:
`{"since": "YYYY-MM-DD", "daily": [...]}`, or `None` when the CTI issued nothing in the last
`SUMMARY_DAYS` days. `since` is the first day with use; in `daily` a positive number is one day's CFDI
and a negative number `-k` stands for `k` days in a row with none; the days after the last entry had
none (a stamp always changes the CTI, so a summary is re-sent with every new day of use). Usage is
Pareto-skewed: most CTIs issue on a few days, a few issue every day. Runs of zeros cost a quiet CTI a
few bytes (like sparse `[day, n]` pairs) and cost a busy one nothing (like a dense array), so this is
the smallest of the encodings measured on the benchmark dataset's distribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from cmdesk.domain import clock

CPD_WINDOW_DAYS = 30
# Days of use the change feed's summary of a CTI covers (today included).
SUMMARY_DAYS = 90
# Mexico City's offset from UTC (no daylight saving time since 2022): `cmdesk.domain.clock`'s.
MX_UTC_OFFSET = clock.OFFSET
_HUNDREDTH = Decimal("0.01")


def mx_day(moment: datetime) -> date:
    """The Mexico City calendar day of an aware moment (`clock.today`)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be timezone-aware")
    return clock.today(moment)


def mx_day_start(day: date) -> datetime:
    """The UTC moment a Mexico City calendar day begins (`clock.day_start`)."""
    return clock.day_start(day)


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


def encode_summary(
    counts: Mapping[date, int], today: date, days: int = SUMMARY_DAYS
) -> dict[str, Any] | None:
    """The feed's usage summary of the days `today - days + 1 .. today` in `counts` (see the module
    docstring); None when none of those days has use. Days outside the window are ignored."""
    start = today - timedelta(days=days - 1)
    used = sorted((d, n) for d, n in counts.items() if start <= d <= today and n > 0)
    if not used:
        return None
    daily: list[int] = []
    previous = used[0][0]
    for day, issued in used:
        gap = (day - previous).days - 1
        if gap > 0:
            daily.append(-gap)
        daily.append(int(issued))
        previous = day
    return {"since": used[0][0].isoformat(), "daily": daily}


def decode_summary(summary: Mapping[str, Any] | None) -> dict[date, int]:
    """The days with use of a feed usage summary: `{day: issued}` (days without use are absent).
    Raises ValueError on anything that is not a summary."""
    if summary is None:
        return {}
    since, daily = summary.get("since"), summary.get("daily")
    if not isinstance(since, str) or not isinstance(daily, list):
        raise ValueError("a usage summary has a `since` date and a `daily` list")
    day = date.fromisoformat(since)
    out: dict[date, int] = {}
    for value in daily:
        if not isinstance(value, int) or isinstance(value, bool) or value == 0:
            raise ValueError("usage summary entries are non-zero integers")
        if value < 0:
            day += timedelta(days=-value)
        else:
            out[day] = value
            day += timedelta(days=1)
    return out


def summary_total(summary: Mapping[str, Any] | None, start: date, end: date) -> int:
    """CFDI a usage summary counts on the days `start .. end` (inclusive): what `decode_summary`
    gives summed over those days, without building a date per day (the desktop's cache adds up the
    C.P.D. window of every CTI of a first sync this way). Raises ValueError as `decode_summary`."""
    if summary is None:
        return 0
    since, daily = summary.get("since"), summary.get("daily")
    if not isinstance(since, str) or not isinstance(daily, list):
        raise ValueError("a usage summary has a `since` date and a `daily` list")
    day = date.fromisoformat(since).toordinal()
    first, last = start.toordinal(), end.toordinal()
    total = 0
    for value in daily:
        if not isinstance(value, int) or isinstance(value, bool) or value == 0:
            raise ValueError("usage summary entries are non-zero integers")
        if value < 0:
            day -= value
        else:
            if first <= day <= last:
                total += value
            day += 1
    return total
