"""The business day of Mexico City and the wall clock there (`cmdesk.domain.clock`)."""

from __future__ import annotations

import datetime as dt

import pytest

from cmdesk.domain import clock


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (dt.datetime(2026, 11, 29, 5, 59, tzinfo=dt.UTC), dt.date(2026, 11, 28)),  # 23:59 the day before
        (dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC), dt.date(2026, 11, 29)),
        (dt.datetime(2026, 12, 31, 23, 0), dt.date(2026, 12, 31)),  # naive: UTC
        (dt.datetime(2027, 1, 1, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=-1))), dt.date(2027, 1, 1)),
    ],
)
def test_today_is_the_mexico_city_day(moment: dt.datetime, day: dt.date) -> None:
    assert clock.today(moment) == day


def test_a_day_and_a_month_start_at_six_utc() -> None:
    assert clock.day_start(dt.date(2026, 5, 1)) == dt.datetime(2026, 5, 1, 6, tzinfo=dt.UTC)
    assert clock.today(clock.day_start(dt.date(2026, 5, 1))) == dt.date(2026, 5, 1)
    assert clock.month_start(2026, 12) == dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("year", "month", "span"),
    [
        (None, None, None),
        (2026, None, ((2026, 1, 1), (2027, 1, 1))),
        (2026, 2, ((2026, 2, 1), (2026, 3, 1))),
        (2026, 12, ((2026, 12, 1), (2027, 1, 1))),
    ],
)
def test_period(year: int | None, month: int | None, span: object) -> None:
    got = clock.period(year, month)
    if span is None:
        assert got is None
        return
    (a, b) = span  # type: ignore[misc]
    assert got == (clock.day_start(dt.date(*a)), clock.day_start(dt.date(*b)))


def test_the_wall_clock_knows_the_summer_time_of_2021_and_the_offset_since() -> None:
    summer = clock.in_mexico_city("2021-07-01T12:00:00Z")
    winter = clock.in_mexico_city("2026-07-01T12:00:00Z")
    assert summer is not None and winter is not None
    assert winter.hour == 6
    # With a time zone database, 2021's summer time (UTC-5); without one, the fixed UTC-6.
    assert summer.hour == (6 if clock.MEXICO_CITY is clock.FIXED else 7)


@pytest.mark.parametrize("value", [None, "", "no es fecha"])
def test_parse_utc_of_nothing(value: str | None) -> None:
    assert clock.parse_utc(value) is None
    assert clock.in_mexico_city(value) is None


def test_parse_utc_reads_the_apis_texts() -> None:
    expected = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert clock.parse_utc("2026-05-01T10:00:00Z") == expected
    assert clock.parse_utc("2026-05-01T04:00:00-06:00") == expected
    assert clock.iso_utc(expected) == "2026-05-01T10:00:00Z"


def test_mexico_city_months_in_utc_text() -> None:
    assert clock.period_text(2026, 3) == ("2026-03-01T06:00:00Z", "2026-04-01T06:00:00Z")
    assert clock.period_text(2026, 12) == ("2026-12-01T06:00:00Z", "2027-01-01T06:00:00Z")
    assert clock.period_text(None, 5) is None
