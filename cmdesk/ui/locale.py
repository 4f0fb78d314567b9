"""How money, numbers and dates look on screen: Spanish (Mexico) through `QLocale("es_MX")`.

Money arrives as integer centavos and is formatted with integer arithmetic (never through a float):
`money(123456789)` → `$1,234,567.89`. Times are stored and sent in UTC (aware datetimes, or ISO 8601
strings such as `2026-11-29T06:20:00Z`) and shown in America/Mexico_City: `date(...)` → `29/11/2026`,
`date_time(...)` → `29/11/2026 00:20`. The time zone comes from Qt (`QTimeZone`), which also works on
Windows without the `tzdata` package that `zoneinfo` would need there.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDateTime, QLocale, QTimeZone

from cmdesk.domain import clock
from cmdesk.domain.clock import parse_utc as parse_utc
from cmdesk.domain.text import sort_key as _spanish_key

DATE_FORMAT = "dd/MM/yyyy"
DATE_TIME_FORMAT = "dd/MM/yyyy HH:mm"
TIME_ZONE_ID = clock.TIME_ZONE.encode()
# Used only if Qt lacks the zone database (see `cmdesk.domain.clock`).
_FALLBACK_OFFSET_SECONDS = clock.OFFSET_HOURS * 3600

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_locale: QLocale | None = None
_zone: QTimeZone | None = None


def locale() -> QLocale:
    """The application's locale: Spanish (Mexico), whatever the system's is."""
    global _locale
    if _locale is None:
        _locale = QLocale(QLocale.Language.Spanish, QLocale.Country.Mexico)
    return _locale


def time_zone() -> QTimeZone:
    """America/Mexico_City (or a fixed UTC-6 where the zone database is missing)."""
    global _zone
    if _zone is None:
        zone = QTimeZone(TIME_ZONE_ID)
        _zone = zone if zone.isValid() else QTimeZone(_FALLBACK_OFFSET_SECONDS)
    return _zone


def number(value: int | None) -> str:
    """An integer with thousands separators: `1,234,567`; empty for None."""
    if value is None:
        return ""
    return locale().toString(int(value))


def counted(n: int, one: str, many: str, **more: object) -> str:
    """A count in Spanish's two numerus forms: `one` when `n` is 1, else `many` (both already
    translated by the caller's `tr`, so both are in the catalog), formatted with `n` (thousands
    separators) and `more`: `counted(n, tr("1 distribuidor"), tr("{n} distribuidores"))`."""
    return (one if n == 1 else many).format(n=number(n), **more)


def money(cents: int | None) -> str:
    """Centavos as pesos: `$1,234,567.89`, `-$5.00`; empty for None."""
    if cents is None:
        return ""
    cents = int(cents)
    loc = locale()
    sign = loc.negativeSign() if cents < 0 else ""
    pesos, rest = divmod(abs(cents), 100)
    return f"{sign}{loc.currencySymbol()}{loc.toString(pesos)}{loc.decimalPoint()}{rest:02d}"


def to_local(value: dt.datetime | str | None) -> QDateTime | None:
    """The moment as a QDateTime in America/Mexico_City, or None when there is none."""
    moment = parse_utc(value)
    if moment is None:
        return None
    # Integer arithmetic, so no float rounding moves a time across a minute.
    delta = moment - _EPOCH
    millis = (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return QDateTime.fromMSecsSinceEpoch(millis, QTimeZone.utc()).toTimeZone(time_zone())


def date(value: dt.datetime | str | None) -> str:
    """`dd/MM/yyyy` in Mexico City time; empty for None or an unreadable value."""
    local = to_local(value)
    return locale().toString(local, DATE_FORMAT) if local is not None else ""


def date_time(value: dt.datetime | str | None) -> str:
    """`dd/MM/yyyy HH:mm` in Mexico City time; empty for None or an unreadable value."""
    local = to_local(value)
    return locale().toString(local, DATE_TIME_FORMAT) if local is not None else ""


def sort_key(value: dt.datetime | str | None) -> float:
    """A number that orders moments (missing ones first), for sorting table columns."""
    moment = parse_utc(value)
    return moment.timestamp() if moment is not None else float("-inf")


def text_key(text: str | None) -> str:
    """A key that sorts text as a Spanish reader expects: case and accents ignored, ñ after n."""
    return _spanish_key(text)
