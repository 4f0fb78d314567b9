"""Statements (estados de cuenta) from the authoritative tables: the distributor's own account (stamps,
points, money charged), a client (points; stamps through its standard CTIs) and a CTI (stamps: credits,
auto-sales and CFDI issued per day). The rules are `cmdesk.domain.statements`; this module feeds them.

A page costs a few indexed queries whatever the history's length: the opening and closing balances
come from the live balance and two sums (changes inside the period and after it), and the rows are a
keyset page of the period's movements and daily CFDI counts, the running balance carried by the
cursor. The same statement computed whole by the domain function (`domain.statements.build`) is the
reference the tests compare with.

CFDI issued come from `cti_daily_usage` (per CTI and Mexico City day, kept by both stamping paths in
the consumption's transaction), so a CTI's statement never counts `issued_cfdi` rows.

Which movements touch a party, and how they are found fast:

- the account: movements it made (`account_id`) or received from its parent (`counterpart_account_id`);
- a client and its CTIs: movements carry the client they were for (`client_id`: transfers, auto-sales,
  redemptions, fees);

then, among those, the ones whose source or target is the party (`domain.statements.movement_entry`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    and_,
    case,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.orm import Session

from cmdesk.domain import statements as st
from cmdesk.domain.enums import Asset, StampingAccountKind
from cmdesk.domain.errors import not_found, validation_error
from cmdesk.models import (
    Account,
    CatalogContract,
    CatalogFee,
    CatalogPackage,
    Charge,
    Client,
    CtiDailyUsage,
    Movement,
    Profile,
    StampingAccount,
    TopUpCode,
    utcnow,
)
from cmdesk.server.operations.context import Actor

PARTY_ASSETS: dict[str, tuple[str, ...]] = {
    "account": ("stamps", "points", "money"),
    "client": ("points", "stamps"),
    "stamping_account": ("stamps",),
}
MAX_DAYS = 3660  # ten years in one statement


@dataclass
class _Party:
    type: str
    id: str
    name: str
    asset: str
    live: int
    keys: list[tuple[str, str]] = field(default_factory=list)  # (type, id) whose balance it is
    prefilter: Any = None  # index-friendly condition narrowing the movements to look at
    ctis: list[str] = field(default_factory=list)  # whose CFDI count
    unlimited: bool = False  # an unlimited CTI: CFDI use no stamp


def _own_client(session: Session, actor: Actor, client_id: str) -> Client:
    client = session.scalar(
        select(Client).where(Client.id == client_id, Client.account_id == actor.account_id)
    )
    if client is None:
        raise not_found("El cliente")
    return client


def _resolve(session: Session, actor: Actor, party_type: str, party_id: str | None, asset: str) -> _Party:
    if asset not in PARTY_ASSETS[party_type]:
        options = ", ".join(PARTY_ASSETS[party_type])
        raise validation_error({"asset": f"Para este estado de cuenta el activo debe ser: {options}."})
    if party_type == "account":
        account = session.get(Account, actor.account_id)
        if account is None:
            raise not_found("La cuenta")
        if asset == "money":
            live = session.scalar(
                select(func.coalesce(func.sum(Charge.amount_cents), 0)).where(
                    Charge.account_id == account.id, Charge.paid_with_points.is_(False)
                )
            )
            return _Party("account", account.id, account.name, asset, int(live or 0))
        live = account.stamps_balance if asset == Asset.STAMPS.value else account.points_balance
        return _Party(
            "account",
            account.id,
            account.name,
            asset,
            live,
            keys=[("account", account.id)],
            prefilter=or_(Movement.account_id == account.id, Movement.counterpart_account_id == account.id),
        )
    if party_type == "client":
        assert party_id is not None
        client = _own_client(session, actor, party_id)
        if asset == Asset.POINTS.value:
            return _Party(
                "client",
                client.id,
                client.name,
                asset,
                client.points_balance,
                keys=[("client", client.id)],
                prefilter=Movement.client_id == client.id,
            )
        rows = session.execute(
            select(StampingAccount.id, StampingAccount.balance).where(
                StampingAccount.client_id == client.id,
                StampingAccount.kind == StampingAccountKind.STANDARD.value,
            )
        ).all()
        return _Party(
            "client",
            client.id,
            client.name,
            asset,
            sum(int(b) for _, b in rows),
            keys=[("stamping_account", i) for i, _ in rows],
            prefilter=Movement.client_id == client.id,
            ctis=[i for i, _ in rows],
        )
    assert party_id is not None
    cti = session.scalar(
        select(StampingAccount).where(
            StampingAccount.id == party_id, StampingAccount.account_id == actor.account_id
        )
    )
    if cti is None:
        raise not_found("La cuenta de timbrado")
    unlimited = cti.kind == StampingAccountKind.UNLIMITED.value
    return _Party(
        "stamping_account",
        cti.id,
        cti.id,
        asset,
        0 if unlimited else cti.balance,
        keys=[("stamping_account", cti.id)],
        prefilter=Movement.client_id == cti.client_id,
        ctis=[cti.id],
        unlimited=unlimited,
    )


# ---- SQL pieces ------------------------------------------------------------------------------------


def _is_party(type_col: Any, id_col: Any, keys: list[tuple[str, str]]) -> ColumnElement[bool]:
    by_type: dict[str, list[str]] = {}
    for t, i in keys:
        by_type.setdefault(t, []).append(i)
    return or_(*[and_(type_col == t, id_col.in_(ids)) for t, ids in by_type.items()])


def _movements_where(party: _Party) -> list[Any]:
    incoming = _is_party(Movement.target_type, Movement.target_id, party.keys)
    outgoing = _is_party(Movement.source_type, Movement.source_id, party.keys)
    return [party.prefilter, Movement.asset == party.asset, or_(incoming, outgoing)]


def _movement_delta(party: _Party) -> Any:
    incoming = _is_party(Movement.target_type, Movement.target_id, party.keys)
    outgoing = _is_party(Movement.source_type, Movement.source_id, party.keys)
    return case((incoming, Movement.quantity), else_=0) - case((outgoing, Movement.quantity), else_=0)


def _sums(session: Session, party: _Party, start: dt.datetime, end: dt.datetime) -> tuple[int, int, int]:
    """(Σ of the changes inside [start, end), Σ of those after it, how many rows the period has), each
    source of changes read in one index range from `start` on."""
    inside = after = count = 0

    def split(at_col: Any, value: Any) -> tuple[Any, Any, Any]:
        return (
            func.coalesce(func.sum(case((at_col < end, value), else_=0)), 0),
            func.coalesce(func.sum(case((at_col >= end, value), else_=0)), 0),
            func.coalesce(func.sum(case((at_col < end, 1), else_=0)), 0),
        )

    if party.asset == "money":
        where = [
            Charge.account_id == party.id,
            Charge.paid_with_points.is_(False),
            Charge.created_at >= start,
        ]
        i, a, n = session.execute(select(*split(Charge.created_at, Charge.amount_cents)).where(*where)).one()
        return int(i), int(a), int(n)
    if party.keys:
        where = [*_movements_where(party), Movement.created_at >= start]
        i, a, n = session.execute(
            select(*split(Movement.created_at, _movement_delta(party))).where(*where)
        ).one()
        inside, after, count = int(i), int(a), int(n)
    if party.ctis and party.asset == Asset.STAMPS.value:
        # CFDI per CTI and Mexico City day (issue 17's `cti_daily_usage`): periods are whole days.
        first_day, end_day = st.local_day(start), st.local_day(end)
        u = CtiDailyUsage
        i, a, n = session.execute(
            select(
                func.coalesce(func.sum(case((u.day < end_day, u.issued), else_=0)), 0),
                func.coalesce(func.sum(case((u.day >= end_day, u.issued), else_=0)), 0),
                func.coalesce(func.sum(case((u.day < end_day, 1), else_=0)), 0),
            ).where(u.stamping_account_id.in_(party.ctis), u.day >= first_day, u.issued > 0)
        ).one()
        if not party.unlimited:  # an unlimited CTI's CFDI use no stamp
            inside, after = inside - int(i), after - int(a)
        count += int(n)
    return inside, after, count


def _raw_time(session: Session, column: Any) -> Any:
    """A time column without the per-row type conversion (100,000 rows: SQLite's text parsing through
    the ORM type costs more than the rest of the statement); `_time_parser` finishes it."""
    if session.get_bind().dialect.name == "sqlite":
        return type_coerce(column, String()) + "+00:00"
    return type_coerce(column, DateTime(timezone=True))


def _time_parser(session: Session) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return dt.datetime.fromisoformat  # "2026-11-29 06:20:00.000000+00:00": aware, UTC
    return lambda value: value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def _after_key(
    at_col: Any, id_col: Any, prefix: str, after: tuple[dt.datetime, str] | None, pg: bool
) -> list[Any]:
    """Rows whose statement key (time, "<prefix>:<id>") comes after `after`."""
    if after is None:
        return []
    at, ref = after
    if ref.startswith(prefix):
        ident = ref[len(prefix) :]
        if pg:
            return [tuple_(at_col, id_col) > tuple_(at, ident)]
        return [at_col >= at, or_(at_col > at, id_col > ident)]
    return [at_col >= at] if ref < prefix else [at_col > at]


def _page_entries(
    session: Session,
    party: _Party,
    start: dt.datetime,
    end: dt.datetime,
    after: tuple[dt.datetime, str] | None,
    limit: int,
) -> list[st.Entry]:
    """The next `limit` (+1) entries of the period in statement order, after the key `after`."""
    pg = session.get_bind().dialect.name == "postgresql"
    entries: list[st.Entry] = []
    if party.asset == "money":
        charges = session.scalars(
            select(Charge)
            .where(
                Charge.account_id == party.id,
                Charge.paid_with_points.is_(False),
                Charge.created_at >= start,
                Charge.created_at < end,
                *_after_key(Charge.created_at, Charge.id, "c:", after, pg),
            )
            .order_by(Charge.created_at, Charge.id)
            .limit(limit + 1)
        )
        for c in charges:
            entries.append(
                st.charge_entry(
                    {
                        "id": c.id,
                        "kind": c.kind,
                        "amount_cents": c.amount_cents,
                        "created_at": c.created_at,
                        "description": c.description,
                        "created_by": c.created_by,
                    }
                )
            )
        return entries
    if party.keys:
        keys = set(party.keys)
        rows = session.execute(
            select(
                Movement.id,
                Movement.kind,
                Movement.quantity,
                Movement.amount_cents,
                Movement.source_type,
                Movement.source_id,
                Movement.target_type,
                Movement.target_id,
                Movement.comments,
                _raw_time(session, Movement.created_at),
                Movement.created_by,
            )
            .where(
                *_movements_where(party),
                Movement.created_at >= start,
                Movement.created_at < end,
                *_after_key(Movement.created_at, Movement.id, "m:", after, pg),
            )
            .order_by(Movement.created_at, Movement.id)
            .limit(limit + 1)
        )
        parse = _time_parser(session)
        for mid, kind, qty, amount, s_type, s_id, t_type, t_id, comments, at, author in rows:
            entry = st.entry_for(
                keys, mid, kind, qty, amount, s_type, s_id, t_type, t_id, comments, parse(at), author
            )
            if entry is not None:
                entries.append(entry)
    if party.ctis and party.asset == Asset.STAMPS.value:
        u = CtiDailyUsage
        first_day = st.local_day(start if after is None else max(start, after[0]))
        days = session.execute(
            select(u.day, u.stamping_account_id, u.issued)
            .where(
                u.stamping_account_id.in_(party.ctis),
                u.day >= first_day,
                u.day < st.local_day(end),
                u.issued > 0,
            )
            .order_by(u.day, u.stamping_account_id)
            .limit(limit + 1 + len(party.ctis))
        ).all()
        for day, cti, issued in days:
            entry = st.issued_day_entry(day, cti, int(issued), debited=not party.unlimited)
            if after is None or entry.key > after:
                entries.append(entry)
        entries.sort()  # merge the days among the movements: by (at, ref)
    return entries[: limit + 1]


# ---- Names -----------------------------------------------------------------------------------------


def party_names(session: Session, parties: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Display names of movement parties: accounts and clients by name, a CTI by its id and client,
    a top-up code by its code, a catalog item by its name."""
    by_type: dict[str, set[str]] = {}
    for t, i in parties:
        by_type.setdefault(t, set()).add(i)
    out: dict[tuple[str, str], str] = {}
    if ids := by_type.get("account"):
        for i, name in session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))):
            out[("account", i)] = name
    if ids := by_type.get("client"):
        for i, name in session.execute(select(Client.id, Client.name).where(Client.id.in_(ids))):
            out[("client", i)] = name
    if ids := by_type.get("stamping_account"):
        for i, name in session.execute(
            select(StampingAccount.id, Client.name)
            .join(Client, Client.id == StampingAccount.client_id)
            .where(StampingAccount.id.in_(ids))
        ):
            out[("stamping_account", i)] = f"{i} ({name})"
    if ids := by_type.get("top_up_code"):
        for i, code in session.execute(select(TopUpCode.id, TopUpCode.code).where(TopUpCode.id.in_(ids))):
            out[("top_up_code", i)] = f"Código {code}"
    if ids := by_type.get("catalog"):
        for model, key in ((CatalogContract, CatalogContract.code), (CatalogFee, CatalogFee.code)):
            for i, name in session.execute(select(key, model.name).where(key.in_(ids))):  # type: ignore[attr-defined]
                out[("catalog", i)] = name
        for i, asset, quantity in session.execute(
            select(CatalogPackage.id, CatalogPackage.asset, CatalogPackage.quantity).where(
                CatalogPackage.id.in_(ids)
            )
        ):
            unit = ("timbre" if asset == "stamps" else "punto") + ("" if quantity == 1 else "s")
            out.setdefault(("catalog", i), f"Paquete de {quantity:,} {unit}")
    return out


def author_names(session: Session, authors: set[str]) -> dict[str, str]:
    """Profile names of `created_by` values (others keep their label, `domain.statements.AUTHOR_LABELS`)."""
    ids = {a for a in authors if a and a not in st.AUTHOR_LABELS}
    if not ids:
        return {}
    return {
        i: (name or email)
        for i, name, email in session.execute(
            select(Profile.id, Profile.name, Profile.email).where(Profile.id.in_(ids))
        )
    }


def annotate_movements(session: Session, views: list[dict[str, Any]]) -> None:
    """Add what a desktop needs to build statements offline to movement views (the feed's): the
    author's display name (`created_by_name`: a profile of another account, e.g. the parent's, is
    not in the desktop's cache) and the name of account and catalog parties (`source.name`,
    `target.name`: the parent distributor, a package). Additive: no field of API.md changes."""
    wanted: set[tuple[str, str]] = set()
    for v in views:
        for side in ("source", "target"):
            party = v.get(side) or {}
            if party.get("type") in ("account", "catalog") and party.get("id"):
                wanted.add((party["type"], party["id"]))
    names = party_names(session, wanted) if wanted else {}
    authors = author_names(session, {str(v.get("created_by") or "") for v in views})
    for v in views:
        author = str(v.get("created_by") or "")
        v["created_by_name"] = authors.get(author) or st.AUTHOR_LABELS.get(author, "")
        for side in ("source", "target"):
            party = v.get(side)
            if party and party.get("type") in ("account", "catalog"):
                party["name"] = names.get((party["type"], party.get("id")), "")


def entry_view(row: st.Row) -> dict[str, Any]:
    e = row.entry
    return {
        "at": e.at,
        "ref": e.ref,
        "kind": e.kind,
        "kind_label": st.KIND_LABELS.get(e.kind, e.kind),
        "quantity": e.quantity,
        "delta": e.delta,
        "amount_cents": e.amount_cents,
        "counterpart": (
            {"type": e.counterpart_type, "id": e.counterpart_id, "name": e.counterpart_name}
            if e.counterpart_type
            else None
        ),
        "stamping_account_id": e.stamping_account_id,
        "comments": e.comments,
        "created_by": e.created_by,
        "created_by_name": e.created_by_name,
        "balance": row.balance,
    }


# ---- The statement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageCursor:
    at: dt.datetime
    ref: str
    balance: int  # the running balance after the row at (at, ref)
    opening: int  # the statement's, as its first page computed them
    closing: int
    count: int
    live: int


def _check_days(first: dt.date, last: dt.date) -> None:
    if last < first:
        raise validation_error({"to": "El periodo debe terminar el mismo día o después de su inicio."})
    if (last - first).days >= MAX_DAYS:
        raise validation_error({"from": "El periodo admite como máximo diez años."})


def statement(
    session: Session,
    actor: Actor,
    *,
    party_type: str,
    party_id: str | None = None,
    asset: str,
    first: dt.date | None = None,
    last: dt.date | None = None,
    limit: int = 100,
    cursor: PageCursor | None = None,
    now: dt.datetime | None = None,
) -> tuple[dict[str, Any], PageCursor | None]:
    """One page of a statement over the Mexico City days `first`..`last` (default: this month up to
    today), and the cursor of the next page. Every page carries the opening and closing balances."""
    if session.get_bind().dialect.name == "postgresql":
        # One snapshot for the live balance and the sums: a CFDI stamped in between can't skew them.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    now = now or utcnow()
    today = st.local_day(now)
    last = last or today
    first = first or last.replace(day=1)
    _check_days(first, last)
    start, end = st.period(first, last)
    party = _resolve(session, actor, party_type, party_id, asset)
    if cursor is None:
        in_period, after_period, count = _sums(session, party, start, end)
        opening, closing = st.bounds(party.live, in_period, after_period)
        live = party.live
    else:
        # Later pages are the statement the first page opened: its balances travel in the cursor.
        opening, closing, count, live = cursor.opening, cursor.closing, cursor.count, cursor.live
    entries = _page_entries(session, party, start, end, (cursor.at, cursor.ref) if cursor else None, limit)
    more = len(entries) > limit
    entries = entries[:limit]
    parties = {
        (e.counterpart_type, e.counterpart_id) for e in entries if e.counterpart_type and e.counterpart_id
    }
    names = party_names(session, parties)  # type: ignore[arg-type]
    authors = author_names(session, {e.created_by for e in entries})
    entries = [st.with_names(e, names, authors) for e in entries]
    rows = st.running(cursor.balance if cursor else opening, entries)
    answer = {
        "party": {"type": party.type, "id": party.id, "name": party.name},
        "asset": party.asset,
        "from": first,
        "to": last,
        "opening_balance": opening,
        "closing_balance": closing,
        "live_balance": live,
        "count": count,
        "items": [entry_view(r) for r in rows],
    }
    nxt = (
        PageCursor(rows[-1].entry.at, rows[-1].entry.ref, rows[-1].balance, opening, closing, count, live)
        if more and rows
        else None
    )
    return answer, nxt


def full_statement(
    session: Session,
    actor: Actor,
    *,
    party_type: str,
    party_id: str | None = None,
    asset: str,
    first: dt.date,
    last: dt.date,
) -> st.Statement:
    """The whole statement computed at once by the domain function from every entry since `first`
    (the reference the paged one must equal; also what the benchmark measures)."""
    _check_days(first, last)
    start, end = st.period(first, last)
    party = _resolve(session, actor, party_type, party_id, asset)
    far = end + dt.timedelta(days=366 * 200)
    entries: list[st.Entry] = []
    cursor: tuple[dt.datetime, str] | None = None
    while True:
        page = _page_entries(session, party, start, far, cursor, 50_000)
        entries.extend(page[:50_000])
        if len(page) <= 50_000:
            break
        cursor = page[49_999].key
    return st.build(party.live, entries, start, end)
