"""The renewal calendar's iCalendar file: all-day events on Mexico City dates that a standard parser
(icalendar, and a plain reading of the lines) reads back with the right dates, amounts and reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar

from cmdesk.domain.calendar_export import RenewalEvent, to_ics

EVENTS = [
    RenewalEvent("account-1-2027-04-12@cmdesk", date(2027, 4, 12), "account", "Renovación de la Cuenta Maestra", "Anualidad; contratos aparte.", 348000),
    RenewalEvent("unlimited-X-2027-01-31@cmdesk", date(2027, 1, 31), "unlimited_fee", "Anualidad de la CTI ilimitada X (Taller, S.A.; Ruiz)", "", None, 1500),
    RenewalEvent("policy-9-2026-12-31@cmdesk", date(2026, 12, 31), "support_policy", "Vence la póliza Soporte de Ñandú"),
]
NOW = datetime(2026, 12, 5, 18, 30, tzinfo=UTC)


def test_a_standard_parser_reads_the_dates_back() -> None:
    data = to_ics(EVENTS, calendar_name="Renovaciones — Solucont", generated_at=NOW)
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["x-wr-calname"]) == "Renovaciones — Solucont"
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {e.uid for e in EVENTS}
    for e in EVENTS:
        ev = events[e.uid]
        start, end = ev.decoded("dtstart"), ev.decoded("dtend")
        # All-day: plain dates (no time, no time zone to shift them), one day long.
        assert type(start) is date and start == e.on and end == e.on + timedelta(days=1)
        assert [a.decoded("trigger") for a in ev.walk("VALARM")] == [timedelta(days=-7), timedelta(days=-1)]
    assert str(events[EVENTS[0].uid]["summary"]) == "Renovación de la Cuenta Maestra — $3,480.00"
    assert str(events[EVENTS[1].uid]["summary"]) == "Anualidad de la CTI ilimitada X (Taller, S.A.; Ruiz) — 1,500 puntos"
    assert events[EVENTS[0].uid].decoded("dtstamp") == NOW


def test_the_file_is_rfc_5545_text() -> None:
    data = to_ics(EVENTS, calendar_name="Renovaciones", generated_at=NOW)
    text = data.decode("utf-8")
    lines = text.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and "VERSION:2.0" in lines and text.endswith("END:VCALENDAR\r\n")
    assert "DTSTART;VALUE=DATE:20270412" in lines and "DTEND;VALUE=DATE:20270413" in lines
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)  # folded
    assert "Taller\\, S.A.\\; Ruiz" in text.replace("\r\n ", "")  # escaped


def test_an_empty_calendar() -> None:
    cal = icalendar.Calendar.from_ical(to_ics([], calendar_name="Renovaciones", generated_at=NOW))
    assert cal.walk("VEVENT") == []
