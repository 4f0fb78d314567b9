"""Statements (estados de cuenta) like a bank's: opening balance, each movement with the balance after
it, closing balance. Pure functions, no I/O: the server builds statements from its tables
(`cmdesk.server.operations.statements`), the desktop from its cache; both with these rules.

Why backwards: the live balance is exact and cheap; the history before the period may be long (or, in
the desktop's cache, partly missing). So the closing balance of a period is the live balance minus
every change after the period, and the opening balance is the closing one minus the changes inside
it. Only what happened from the period's start on is needed. When the period reaches the present, the
closing balance *is* the live balance.

What an entry is, per party (a party is the account, a client, a CTI, or a set of CTIs — a client's
stamps live on its standard CTIs):

- a ledger movement whose target is the party adds its quantity; one whose source is the party takes
  it (`movement_entry`); stamps and points each have their own statement;
- CFDI issued by a CTI take one stamp each: they come aggregated per Mexico City day
  (`issued_day_entry`), placed at the day's last instant so the day's credits come first; an unlimited
  CTI's CFDI use no stamp (`delta` 0, `quantity` still counts them);
- money charged to the account (purchases, contracts, fees, renewals) adds up as a running total.

Periods are whole Mexico City days (`period`): America/Mexico_City has kept UTC-6 all year since 2022.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

MX_OFFSET = dt.timedelta(hours=-6)

# `created_by` values that are not a profile, as a statement shows them.
AUTHOR_LABELS = {
    "system": "Sistema",
    "auto_sale": "Venta automática",
    "top_up_code": "Canje de código de abono",
}

KIND_LABELS = {
    "purchase": "Compra",
    "transfer": "Transferencia",
    "auto_sale": "Venta automática",
    "top_up": "Código de abono",
    "contract": "Contratación",
    "unlimited_fee": "Anualidad de CTI ilimitada",
    "issued": "CFDI emitidos",
    "annual_fee": "Anualidad",
    "renewal": "Renovación",
}


# ---- Days ----------------------------------------------------------------------------------------


def local_day(moment: dt.datetime) -> dt.date:
    """The Mexico City date of a UTC moment."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return (moment.astimezone(dt.UTC) + MX_OFFSET).date()


def day_start(day: dt.date) -> dt.datetime:
    """The UTC moment a Mexico City day begins."""
    return dt.datetime.combine(day, dt.time(), dt.UTC) - MX_OFFSET


def period(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the Mexico City days `first` to `last`, both included."""
    if last < first:
        raise ValueError("the period ends before it starts")
    return day_start(first), day_start(last + dt.timedelta(days=1))


# ---- Entries -------------------------------------------------------------------------------------


class Entry(NamedTuple):
    """One line of a statement before its running balance: what happened, and by how much it changed
    the party's balance (`delta`, signed). `ref` identifies it ("m:<movement id>", "c:<charge id>",
    "d:<day>:<cti>") and breaks ties of time, so the order — by (`at`, `ref`), the first two fields,
    hence a plain sort — is total and the same everywhere. A tuple: a statement builds 100,000."""

    at: dt.datetime
    ref: str
    kind: str
    delta: int
    quantity: int
    amount_cents: int = 0
    counterpart_type: str | None = None
    counterpart_id: str | None = None
    counterpart_name: str = ""
    comments: str = ""
    created_by: str = ""
    created_by_name: str = ""
    stamping_account_id: str | None = None  # for a client's stamps: which of its CTIs

    @property
    def key(self) -> tuple[dt.datetime, str]:
        return (self.at, self.ref)


class Row(NamedTuple):
    entry: Entry
    balance: int  # after the entry


@dataclass(frozen=True)
class Statement:
    start: dt.datetime
    end: dt.datetime
    opening: int
    closing: int
    rows: list[Row]

    @property
    def credits(self) -> int:
        return credits(self.rows)

    @property
    def debits(self) -> int:
        return debits(self.rows)


def credits(rows: Iterable[Row]) -> int:
    """What the rows added to the balance."""
    return sum(r.entry.delta for r in rows if r.entry.delta > 0)


def debits(rows: Iterable[Row]) -> int:
    """What the rows took from the balance (a positive number)."""
    return -sum(r.entry.delta for r in rows if r.entry.delta < 0)


def _party(value: Mapping[str, Any] | None) -> tuple[str, str] | None:
    if not value:
        return None
    return (str(value.get("type")), str(value.get("id")))


def movement_entry(movement: Mapping[str, Any], parties: Iterable[tuple[str, str]]) -> Entry | None:
    """A movement (the API's shape: `source`/`target` as `{"type", "id"}`) as seen by `parties` — the
    (type, id) pairs whose balance is the statement's. None when it does not touch them."""
    source = movement.get("source") or {}
    target = movement.get("target") or {}
    at = movement["created_at"]
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    author = str(movement.get("created_by") or "")
    own = parties if isinstance(parties, set | frozenset) else set(parties)
    entry = entry_for(
        own,
        str(movement["id"]),
        str(movement["kind"]),
        int(movement["quantity"]),
        int(movement.get("amount_cents") or 0),
        str(source.get("type")),
        str(source.get("id")),
        str(target.get("type")),
        str(target.get("id")),
        str(movement.get("comments") or ""),
        at,
        author,
        str(movement.get("created_by_name") or AUTHOR_LABELS.get(author, "")),
    )
    if entry is None:
        return None
    other = source if (str(target.get("type")), str(target.get("id"))) in own else target
    name = str(other.get("name") or "")
    return entry._replace(counterpart_name=name) if name else entry


def entry_for(
    parties: set[tuple[str, str]] | frozenset[tuple[str, str]],
    movement_id: str,
    kind: str,
    quantity: int,
    amount_cents: int,
    source_type: str,
    source_id: str,
    target_type: str,
    target_id: str,
    comments: str,
    at: dt.datetime,
    created_by: str,
    created_by_name: str = "",
    counterpart_names: Mapping[tuple[str, str], str] | None = None,
) -> Entry | None:
    """`movement_entry` from a movement's fields (the server's rows), for speed; `counterpart_names`:
    the display names of counterparts already known (the desktop's cache)."""
    incoming = (target_type, target_id) in parties
    outgoing = (source_type, source_id) in parties
    if not incoming and not outgoing:
        return None
    delta = (quantity if incoming else 0) - (quantity if outgoing else 0)
    if incoming:
        other_type, other_id, mine_type, mine_id = source_type, source_id, target_type, target_id
    else:
        other_type, other_id, mine_type, mine_id = target_type, target_id, source_type, source_id
    # tuple.__new__: the NamedTuple's own __new__ (keyword defaults) costs twice as much, per row.
    return tuple.__new__(
        Entry,
        (
            at,
            "m:" + movement_id,
            kind,
            delta,
            quantity,
            amount_cents,
            other_type,
            other_id,
            counterpart_names.get((other_type, other_id), "") if counterpart_names else "",
            comments,
            created_by,
            created_by_name,
            mine_id if mine_type == "stamping_account" else None,
        ),
    )


def issued_day_entry(day: dt.date, stamping_account_id: str, issued: int, *, debited: bool = True) -> Entry:
    """The CFDI a CTI issued on one Mexico City day, at the day's last instant (its credits first)."""
    return Entry(
        at=day_start(day + dt.timedelta(days=1)) - dt.timedelta(microseconds=1),
        ref=f"d:{day.isoformat()}:{stamping_account_id}",
        kind="issued",
        delta=-issued if debited else 0,
        quantity=issued,
        counterpart_type="issued",
        counterpart_id=stamping_account_id,
        stamping_account_id=stamping_account_id,
    )


def charge_entry(charge: Mapping[str, Any]) -> Entry:
    """A charge (purchase, contract, annual fee, renewal) to the account's money statement."""
    at = charge["created_at"]
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    amount = int(charge["amount_cents"])
    author = str(charge.get("created_by") or "")
    return Entry(
        at=at,
        ref="c:" + str(charge["id"]),
        kind=str(charge["kind"]),
        delta=amount,
        quantity=amount,
        amount_cents=amount,
        comments=str(charge.get("description") or ""),
        created_by=author,
        created_by_name=str(charge.get("created_by_name") or AUTHOR_LABELS.get(author, "")),
    )


# ---- Balances ------------------------------------------------------------------------------------


def bounds(live_balance: int, in_period: int, after_period: int) -> tuple[int, int]:
    """(opening, closing) from the live balance and the sums of the changes inside and after the period."""
    closing = live_balance - after_period
    return closing - in_period, closing


def running(opening: int, entries: Sequence[Entry]) -> list[Row]:
    """Each entry (already in statement order) with the balance after it."""
    balances = itertools.accumulate((e.delta for e in entries), initial=opening)
    next(balances)
    # tuple.__new__: the NamedTuple's own __new__ costs twice as much, per row of 100,000.
    new = tuple.__new__
    return [new(Row, pair) for pair in zip(entries, balances, strict=False)]


def build(
    live_balance: int,
    entries: Iterable[Entry],
    start: dt.datetime,
    end: dt.datetime,
    *,
    after_end_total: int = 0,
) -> Statement:
    """The statement of [start, end) from the live balance and the entries from `start` on (in any
    order; earlier ones are ignored, later ones count back from the live balance). `after_end_total`:
    the sum of changes after `end` that are not among `entries` (a caller that summed them in SQL)."""
    if end <= start:
        raise ValueError("the period must end after it starts")
    inside = [e for e in entries if e.at >= start]
    later = after_end_total + sum(e.delta for e in inside if e.at >= end)
    inside = [e for e in inside if e.at < end]
    inside.sort()  # by (at, ref): the first two fields, unique by ref
    opening, closing = bounds(live_balance, sum(e.delta for e in inside), later)
    rows = running(opening, inside)
    assert not rows or rows[-1].balance == closing
    return Statement(start, end, opening, closing, rows)


def with_names(
    entry: Entry, counterparts: Mapping[tuple[str, str], str], authors: Mapping[str, str]
) -> Entry:
    """The entry with its counterpart's and its author's display names filled in (when known)."""
    name = entry.counterpart_name
    if not name and entry.counterpart_type and entry.counterpart_id:
        name = counterparts.get((entry.counterpart_type, entry.counterpart_id), "")
    author = (
        entry.created_by_name or authors.get(entry.created_by, "") or AUTHOR_LABELS.get(entry.created_by, "")
    )
    return entry._replace(counterpart_name=name, created_by_name=author)
