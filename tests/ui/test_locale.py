"""Spanish (Mexico) formats: money from centavos, numbers, dates in America/Mexico_City."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QLocale

from cmdesk.ui import locale as fmt


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "$0.00"),
        (5, "$0.05"),
        (100, "$1.00"),
        (214_600, "$2,146.00"),
        (123_456_789, "$1,234,567.89"),
        (-500, "-$5.00"),
        (-123_456_789, "-$1,234,567.89"),
        (10**17 + 1, "$1,000,000,000,000,000.01"),  # no float anywhere: exact at any size
        (None, ""),
    ],
)
def test_money(cents: int | None, text: str) -> None:
    assert fmt.money(cents) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (999, "999"), (1000, "1,000"), (1_234_567, "1,234,567"), (-2500, "-2,500"), (None, "")],
)
def test_number(value: int | None, text: str) -> None:
    assert fmt.number(value) == text


@pytest.mark.parametrize(
    ("value", "date", "date_time"),
    [
        # Mexico City is UTC-6 all year since October 2022: 05:30 UTC is still the day before there.
        ("2026-11-29T05:30:00Z", "28/11/2026", "28/11/2026 23:30"),
        ("2026-11-29T06:20:00Z", "29/11/2026", "29/11/2026 00:20"),
        ("2026-11-29T06:20:00.123456+00:00", "29/11/2026", "29/11/2026 00:20"),
        (dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC), "01/01/2027", "01/01/2027 06:00"),
        (dt.datetime(2027, 1, 1, 12, 0), "01/01/2027", "01/01/2027 06:00"),  # naive = UTC
        (
            dt.datetime(2027, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "01/01/2027",
            "01/01/2027 00:00",
        ),
        # Summer time still existed in 2021 (UTC-5).
        ("2021-07-01T12:00:00Z", "01/07/2021", "01/07/2021 07:00"),
        (None, "", ""),
        ("", "", ""),
        ("no es fecha", "", ""),
    ],
)
def test_dates_in_mexico_city(value: object, date: str, date_time: str) -> None:
    assert fmt.date(value) == date  # type: ignore[arg-type]
    assert fmt.date_time(value) == date_time  # type: ignore[arg-type]


def test_the_locale_is_spanish_mexico_with_a_four_digit_year() -> None:
    loc = fmt.locale()
    assert (loc.language(), loc.territory()) == (QLocale.Language.Spanish, QLocale.Country.Mexico)
    assert loc.currencySymbol() == "$"
    assert fmt.DATE_FORMAT == "dd/MM/yyyy"  # es-MX's short format has a 2-digit year: not used
    assert fmt.time_zone().isValid()


def test_the_app_default_locale_is_es_mx() -> None:
    assert QLocale().name() == "es_MX"


def test_text_key_sorts_as_in_spanish() -> None:
    names = ["Ñandú", "nube", "Óscar", "oso", "Ana", "álamo", "Zapata"]
    assert sorted(names, key=fmt.text_key) == ["álamo", "Ana", "nube", "Ñandú", "Óscar", "oso", "Zapata"]


def test_sort_key_orders_moments_and_puts_missing_first() -> None:
    values = ["2026-01-02T00:00:00Z", None, "2025-12-31T23:59:59Z"]
    assert sorted(values, key=fmt.sort_key) == [None, "2025-12-31T23:59:59Z", "2026-01-02T00:00:00Z"]


_SHOWN_IN = r"""
import datetime as dt, json, sys
from cmdesk.domain import clock
from cmdesk.ui import locale as fmt

moments = ["2026-11-29T05:59:00Z", "2026-11-29T06:00:00Z", "2021-07-01T12:00:00Z", "2027-01-01T05:30:00Z"]
print(json.dumps({
    "shown": [fmt.date_time(m) for m in moments] + [fmt.date(m) for m in moments],
    "days": [str(clock.today(clock.parse_utc(m))) for m in moments],
    "order": sorted(moments, key=fmt.sort_key),
    "computer": dt.datetime.fromtimestamp(0).hour,  # this computer's own zone: it does change
}))
"""


def test_what_is_shown_does_not_move_with_the_computers_time_zone() -> None:
    """A PC set to Tokyo, Tijuana or Auckland time (or whose zone changed) shows and decides the same
    Mexico City dates and the same order as one in UTC."""
    import json
    import os
    import subprocess
    import sys

    def shown(zone: str) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-c", _SHOWN_IN],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TZ": zone},
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, object] = json.loads(done.stdout)
        return result

    base = shown("UTC")
    assert base["shown"][0] == "28/11/2026 23:59"  # type: ignore[index]
    for zone in ("Asia/Tokyo", "America/Tijuana", "Pacific/Auckland"):
        there = shown(zone)
        assert there["computer"] != base["computer"], zone  # the zone really was this computer's
        assert {k: v for k, v in there.items() if k != "computer"} == {
            k: v for k, v in base.items() if k != "computer"
        }, zone
