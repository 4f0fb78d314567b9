"""The clock of the business: times are stored in UTC and the days are Mexico City's.

Two rules, each written only here:

- **The business day** (`today`, `day_start`, `month_start`, `period`): a calendar day of
  America/Mexico_City, which has kept UTC-6 all year since October 2022. It is computed with that fixed
  offset so the server (in Python and in SQL: `OFFSET_HOURS`) and the desktop count the same days on
  every platform (Windows has no time zone database without the `tzdata` package).
- **The wall clock** (`in_mexico_city`): how a stored moment reads in Mexico City, with the zone's
  history where the platform has it (summer time existed until 2022), the fixed offset otherwise.

`parse_utc` reads what the API and the cache carry (ISO 8601 text with `Z` or an offset, or a datetime;
naive ones are UTC).
"""

from __future__ import annotations

import datetime as dt

TIME_ZONE = "America/Mexico_City"
OFFSET_HOURS = -6
OFFSET = dt.timedelta(hours=OFFSET_HOURS)
FIXED = dt.timezone(OFFSET, "CST")


def _zone() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(TIME_ZONE)
    except Exception:  # no time zone database on this platform
        return FIXED


MEXICO_CITY: dt.tzinfo = _zone()


def parse_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    """An aware UTC datetime from a datetime (naive ones are taken as UTC) or an ISO 8601 text; None
    for None, "" or text that is not a time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def in_mexico_city(value: dt.datetime | str | None) -> dt.datetime | None:
    """The moment as Mexico City's wall clock reads it (aware), or None."""
    moment = parse_utc(value)
    return moment.astimezone(MEXICO_CITY) if moment is not None else None


def today(now: dt.datetime | None = None) -> dt.date:
    """The business day of `now` (default: this moment)."""
    moment = now or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment.astimezone(dt.UTC) + OFFSET).date()


def day_start(day: dt.date) -> dt.datetime:
    """The first moment of a business day, in UTC."""
    return dt.datetime.combine(day, dt.time(), dt.UTC) - OFFSET


def month_start(year: int, month: int) -> dt.datetime:
    """The first moment of a month of business days, in UTC."""
    return day_start(dt.date(year, month, 1))


def period(year: int | None, month: int | None = None) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end) in UTC of a year, or of one of its months; None for "every date"."""
    if year is None:
        return None
    if month is None:
        return month_start(year, 1), month_start(year + 1, 1)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return month_start(year, month), month_start(*following)


def iso_utc(moment: dt.datetime) -> str:
    """`2026-05-01T06:00:00Z`: a moment as the API writes UTC times (to compare with stored text)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def period_text(year: int | None, month: int | None = None) -> tuple[str, str] | None:
    """`period` as the UTC text records carry (to compare with stored times); None for every date."""
    span = period(year, month)
    return (iso_utc(span[0]), iso_utc(span[1])) if span is not None else None
