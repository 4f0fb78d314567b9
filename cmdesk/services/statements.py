"""Statements (estados de cuenta) in the desktop: built offline from the cache with the rules of
`cmdesk.domain.statements` (the same ones the server uses, so the same numbers), or read from the
server (`GET /v1/statements/...`) when the cache lacks what one needs.

    view = local_statement(cache, "client", client_id, "points", first, last)
    view = server_statement(api, cache, "stamping_account", cti_id, "stamps", first, last)

What the cache has: every movement and charge of the account (the change feed carries them, with the
author's name and the name of account and catalog parties), the live balances, and the daily CFDI
series of the CTIs whose usage was fetched (`Cache.stamping_usage`). A stamps statement of a CTI (or
of a client, through its standard CTIs) needs each CTI's series from the period's first day on, as
current as the CTI's `issued` count; when one is missing or out of date, `local_statement` raises
`StatementIncomplete` (the screen then asks the server, when online).

No Qt here: the screens run these in the cache pool (local) or the network pool (server).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cmdesk.domain import statements as st
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.cache.statements import StatementTable

PARTY_ASSETS = {
    "account": ("stamps", "points", "money"),
    "client": ("points", "stamps"),
    "stamping_account": ("stamps",),
}
SERVER_PAGE = 1000


class StatementIncomplete(Exception):
    """The cache lacks the daily CFDI series of some CTIs (`missing`) for this statement."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "La caché no tiene los CFDI emitidos por día de: " + ", ".join(missing) + ". "
            "Conéctese para leer el estado de cuenta del servidor."
        )
        self.missing = missing


# Reads `limit` rows of a statement from `offset` on.
Pages = Callable[[int, int], list[st.Row]]
EXPORT_PAGE = 5000


@dataclass(frozen=True, eq=False)
class StatementView:
    """A statement as the screens show and export it: its balances and sums, and its rows read a page
    at a time (`page`, `iter_rows`): a statement of the cache is a table in SQL (`Cache.statement_table`)
    and only the rows on screen, or the ones being written to a file, are Python objects. `rows` reads
    them all (tests, small statements)."""

    party_type: str
    party_id: str
    party_name: str
    asset: str
    first: dt.date
    last: dt.date
    opening: int
    closing: int
    live: int
    count: int
    credits: int
    debits: int
    pages: Pages
    source: str  # "cache" · "server"
    account_name: str = ""
    account_nic: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def page(self, offset: int, limit: int) -> list[st.Row]:
        return self.pages(offset, limit) if offset < self.count and limit > 0 else []

    def iter_rows(self, chunk: int = EXPORT_PAGE) -> Iterator[st.Row]:
        """Every row, in order, read `chunk` at a time."""
        for offset in range(0, self.count, chunk):
            yield from self.page(offset, chunk)

    @property
    def rows(self) -> list[st.Row]:
        return list(self.iter_rows())


def _listed(rows: list[st.Row]) -> Pages:
    return lambda offset, limit: rows[offset : offset + limit]


def _check(party_type: str, asset: str, first: dt.date, last: dt.date) -> None:
    if asset not in PARTY_ASSETS.get(party_type, ()):
        raise ValueError(f"asset {asset!r} for {party_type!r}")
    if last < first:
        raise ValueError("El periodo debe terminar el mismo día o después de su inicio.")


def _account_header(cache: Cache) -> tuple[str, str]:
    account = cache.account() or {}
    return str(account.get("name") or ""), str(account.get("nic") or "")


# ---- from the cache --------------------------------------------------------------------------------


def _counterpart_names(cache: Cache, entries: Iterable[st.Entry]) -> dict[tuple[str, str], str]:
    """Display names of the counterparts the cache knows, as the server writes them."""
    wanted: dict[str, set[str]] = {}
    for e in entries:
        if e.counterpart_type and e.counterpart_id and not e.counterpart_name:
            wanted.setdefault(e.counterpart_type, set()).add(e.counterpart_id)
    out: dict[tuple[str, str], str] = {}
    for ident in wanted.get("client", set()):
        client = cache.server_copy("client", ident)
        if client:
            out[("client", ident)] = str(client.get("name") or "")
    for ident in wanted.get("stamping_account", set()):
        cti = cache.server_copy("stamping_account", ident)
        client = cache.server_copy("client", str(cti.get("client_id"))) if cti else None
        if client:
            out[("stamping_account", ident)] = f"{ident} ({client.get('name') or ''})"
    for ident in wanted.get("top_up_code", set()):
        code = cache.server_copy("top_up_code", ident)
        if code:
            out[("top_up_code", ident)] = f"Código {code.get('code')}"
    for ident in wanted.get("account", set()):
        account = cache.server_copy("account", ident) or cache.server_copy("distributor", ident)
        if account:
            out[("account", ident)] = str(account.get("name") or "")
    return out


def _author_names(cache: Cache) -> dict[str, str]:
    return {str(p["id"]): str(p.get("name") or p.get("email") or "") for p in cache.all("profile")}


def _issued_entries(
    cache: Cache, ctis: Mapping[str, Mapping[str, Any]], start: dt.datetime
) -> list[st.Entry]:
    """The CFDI issued per day by `ctis` (id → the CTI's record) from `start`'s day on, from the fetched
    series; `StatementIncomplete` when a series is missing, older than the CTI's count, or too short."""
    first_day = st.local_day(start)
    usage = cache.stamping_usage(list(ctis))
    entries: list[st.Entry] = []
    missing: list[str] = []
    for cti_id, cti in ctis.items():
        issued = int(cti.get("issued") or 0)
        series = usage.get(cti_id)
        if issued == 0 and series is None:
            continue  # never issued: nothing to count
        if series is None or series.get("issued") != issued:
            missing.append(cti_id)
            continue
        days = [(dt.date.fromisoformat(str(d["date"])), int(d.get("issued") or 0)) for d in series["daily"]]
        covered = sum(n for _, n in days) == issued or (bool(days) and days[0][0] <= first_day)
        if not covered:
            missing.append(cti_id)
            continue
        unlimited = cti.get("kind") == "unlimited"
        entries.extend(
            st.issued_day_entry(day, cti_id, n, debited=not unlimited)
            for day, n in days
            if n > 0 and day >= first_day
        )
    if missing:
        raise StatementIncomplete(sorted(missing))
    return entries


def _text(moment: dt.datetime) -> str:
    """A moment as the cache's `sortable_time` text (fixed width: it sorts as the moment)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cache_pages(
    cache: Cache,
    table: StatementTable,
    opening: int,
    keys: set[tuple[str, str]],
    extra: list[st.Entry],
    authors: Mapping[str, str],
) -> Pages:
    """Pages of a statement built in the cache, as the domain's rows with the author's and the
    counterpart's names: local profiles by id; the names only the server knows (the parent's users,
    accounts, catalog items) read once per author or party from a movement of the page that carries
    them; the rest from the cache's records (`_counterpart_names`). Only the page's rows are read."""

    def read(offset: int, limit: int) -> list[st.Row]:
        lines = cache.statement_lines(table, offset, limit)
        need_author: dict[str, str] = {}  # author → a movement of theirs
        need_party: dict[tuple[str, str], tuple[str, int]] = {}  # party → (a movement, 1 source / 2 target)
        for line in lines:
            mid, s_type, s_id, t_type, t_id, author = line[2], line[6], line[7], line[8], line[9], line[12]
            if mid is None:
                continue
            if author and author not in authors and author not in need_author:
                need_author[author] = mid
            for party, side in (((s_type, s_id), 1), ((t_type, t_id), 2)):
                if party[0] in ("account", "catalog") and party not in keys and party not in need_party:
                    need_party[party] = (mid, side)
        names = cache.movement_names([*need_author.values(), *(m for m, _ in need_party.values())])
        all_authors = {**authors, **{a: names.get(m, ("", "", ""))[0] for a, m in need_author.items()}}
        parties = {p: names.get(m, ("", "", ""))[side] for p, (m, side) in need_party.items()}
        parse = dt.datetime.fromisoformat
        entries: list[st.Entry] = []
        runs: list[int] = []
        for run, xi, mid, kind, qty, amount, s_type, s_id, t_type, t_id, comments, at, author in lines:
            if xi is not None:
                entry: st.Entry | None = extra[xi]
            elif mid is None:
                continue  # the movement left the cache since (a sync): the screen reads it again
            else:
                entry = st.entry_for(
                    keys,
                    mid,
                    kind,
                    qty,
                    amount or 0,
                    s_type,
                    s_id,
                    t_type,
                    t_id,
                    comments or "",
                    parse(at),
                    author or "",
                    all_authors.get(author or "", ""),
                    parties,
                )
            if entry is not None:
                entries.append(entry)
                runs.append(run)
        counterparts = _counterpart_names(cache, entries)
        new = tuple.__new__
        return [
            new(st.Row, (st.with_names(e, counterparts, authors), opening + run))
            for e, run in zip(entries, runs, strict=True)
        ]

    return read


def local_statement(
    cache: Cache,
    party_type: str,
    party_id: str | None,
    asset: str,
    first: dt.date,
    last: dt.date,
) -> StatementView:
    """The statement of `first`..`last` (Mexico City days, both included) from the cache: its sums and
    running balances in SQL; its rows read a page at a time (`StatementView.page`)."""
    _check(party_type, asset, first, last)
    start, end = st.period(first, last)
    keys: set[tuple[str, str]] = set()
    client_id: str | None = None
    ctis: dict[str, Mapping[str, Any]] = {}
    extra: list[st.Entry] = []
    if party_type == "account":
        account = cache.account() or {}
        party_id = str(account.get("id") or cache.account_id or "")
        name = str(account.get("name") or "")
        if asset == "money":
            charges = [c for c in cache.all("charge") if not c.get("paid_with_points")]
            live = sum(int(c.get("amount_cents") or 0) for c in charges)
            extra = [e for e in map(st.charge_entry, charges) if e.at >= start]
        else:
            live = int((account.get("balances") or {}).get(asset) or 0)
            keys = {("account", party_id)}
    elif party_type == "client":
        assert party_id is not None
        client = cache.server_copy("client", party_id)
        if client is None:
            raise LookupError("El cliente no está en la caché.")
        name = str(client.get("name") or "")
        client_id = party_id
        if asset == "points":
            live = int((client.get("balances") or {}).get("points") or 0)
            keys = {("client", party_id)}
        else:
            for row in cache.query_stamping_accounts(client_id=party_id, limit=100_000):
                cti = cache.server_copy("stamping_account", str(row["id"]))
                if cti and cti.get("kind") == "standard":
                    ctis[str(cti["id"])] = cti
            live = sum(int(c.get("balance") or 0) for c in ctis.values())
            keys = {("stamping_account", i) for i in ctis}
    else:
        assert party_id is not None
        cti = cache.server_copy("stamping_account", party_id)
        if cti is None:
            raise LookupError("La cuenta de timbrado no está en la caché.")
        name = party_id
        client_id = str(cti.get("client_id") or "")
        ctis = {party_id: cti}
        live = 0 if cti.get("kind") == "unlimited" else int(cti.get("balance") or 0)
        keys = {("stamping_account", party_id)}
    if ctis and asset == "stamps":
        extra += _issued_entries(cache, ctis, start)
    inside = [e for e in extra if e.at < end]
    table = cache.statement_table(
        asset,
        sorted(keys),
        _text(start),
        _text(end),
        client_id=client_id,
        extra=[(_text(e.at), e.ref, e.delta) for e in inside],
    )
    later = table.after + sum(e.delta for e in extra if e.at >= end)
    opening, closing = st.bounds(live, table.total, later)
    account_name, account_nic = _account_header(cache)
    return StatementView(
        party_type,
        str(party_id),
        name,
        asset,
        first,
        last,
        opening,
        closing,
        live,
        table.count,
        table.credits,
        table.debits,
        _cache_pages(cache, table, opening, keys, inside, _author_names(cache)),
        "cache",
        account_name,
        account_nic,
    )


# ---- from the server -------------------------------------------------------------------------------


def statement_path(party_type: str, party_id: str | None) -> str:
    if party_type == "account":
        return "/v1/statements/account"
    assert party_id is not None
    base = "/v1/statements/clients/" if party_type == "client" else "/v1/statements/stamping-accounts/"
    return base + quote(party_id, safe="")


def item_entry(item: Mapping[str, Any]) -> st.Row:
    """A row of the server's answer as the domain's `Row`."""
    at = item["at"]
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) else at
    other = item.get("counterpart") or {}
    entry = st.Entry(
        at=moment,
        ref=str(item["ref"]),
        kind=str(item["kind"]),
        delta=int(item["delta"]),
        quantity=int(item["quantity"]),
        amount_cents=int(item.get("amount_cents") or 0),
        counterpart_type=other.get("type"),
        counterpart_id=other.get("id"),
        counterpart_name=str(other.get("name") or ""),
        comments=str(item.get("comments") or ""),
        created_by=str(item.get("created_by") or ""),
        created_by_name=str(item.get("created_by_name") or ""),
        stamping_account_id=item.get("stamping_account_id"),
    )
    return st.Row(entry, int(item["balance"]))


def server_statement(
    api: ApiClient,
    cache: Cache | None,
    party_type: str,
    party_id: str | None,
    asset: str,
    first: dt.date,
    last: dt.date,
) -> StatementView:
    """The whole statement as the server computes it (every page)."""
    _check(party_type, asset, first, last)
    path = statement_path(party_type, party_id)
    params: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat(), "limit": SERVER_PAGE}
    if party_type != "stamping_account":
        params["asset"] = asset
    rows: list[st.Row] = []
    answer: Mapping[str, Any] = {}
    while True:
        answer = api.get(path, params)
        rows.extend(item_entry(i) for i in answer.get("items") or [])
        cursor = answer.get("next_cursor")
        if not cursor:
            break
        params["cursor"] = cursor
    party = answer.get("party") or {}
    account_name, account_nic = _account_header(cache) if cache is not None else ("", "")
    return StatementView(
        party_type,
        str(party.get("id") or party_id or ""),
        str(party.get("name") or ""),
        asset,
        first,
        last,
        int(answer["opening_balance"]),
        int(answer["closing_balance"]),
        int(answer["live_balance"]),
        len(rows),
        st.credits(rows),
        st.debits(rows),
        _listed(rows),
        "server",
        account_name,
        account_nic,
    )


def statement(
    api: ApiClient,
    cache: Cache,
    party_type: str,
    party_id: str | None,
    asset: str,
    first: dt.date,
    last: dt.date,
) -> StatementView:
    """Online: the cache's statement when it has what it needs, else the server's."""
    try:
        return local_statement(cache, party_type, party_id, asset, first, last)
    except StatementIncomplete:
        return server_statement(api, cache, party_type, party_id, asset, first, last)
