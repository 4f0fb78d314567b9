"""The renewal calendar as iCalendar (RFC 5545), for Outlook or Google Calendar. Pure: the server's
`GET /v1/calendar.ics` and the desktop (offline, from its cache) write the same file.

Each renewal is an all-day event on its Mexico City date (`DTSTART;VALUE=DATE`, `DTEND` the next day),
with the amount in its summary and description, a stable `UID` (the same renewal keeps its UID from
one export to the next, so importing again updates instead of duplicating), and reminders
`REMINDER_DAYS` days before. Written with `icalendar`, the maintained reference library (escaping,
line folding at 75 octets, CRLF), not by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cmdesk.domain.money import format_mxn

PRODID = "-//Induxsoft//cmdesk Cuenta Maestra//ES"
REMINDER_DAYS = (7, 1)


@dataclass(frozen=True)
class RenewalEvent:
    """One thing that expires: its date (Mexico City), what it is and what renewing it costs."""

    uid: str
    on: date
    kind: str
    title: str
    description: str = ""
    amount_cents: int | None = None
    points: int | None = None


def summary(event: RenewalEvent) -> str:
    if event.amount_cents is not None:
        return f"{event.title} — {format_mxn(event.amount_cents)}"
    if event.points is not None:
        return f"{event.title} — {event.points:,} puntos"
    return event.title


def to_ics(events: Iterable[RenewalEvent], *, calendar_name: str, generated_at: datetime) -> bytes:
    """An iCalendar file of `events`; `generated_at` (aware) is every event's DTSTAMP."""
    # Imported here: icalendar takes a tenth of a second, and the desktop's embedded server starts
    # with this module imported (its routes) long before anyone exports a calendar.
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", "America/Mexico_City")
    for e in events:
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", generated_at)
        ev.add("dtstart", e.on)
        ev.add("dtend", e.on + timedelta(days=1))
        ev.add("summary", summary(e))
        if e.description:
            ev.add("description", e.description)
        ev.add("categories", [e.kind])
        ev.add("transp", "TRANSPARENT")
        for days in REMINDER_DAYS:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{e.title}: vence en {days} día{'s' if days > 1 else ''}")
            alarm.add("trigger", timedelta(days=-days))
            ev.add_component(alarm)
        cal.add_component(ev)
    return bytes(cal.to_ical())
