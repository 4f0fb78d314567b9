"""Forecasts in the cache: C.P.D., D.R. and the risk band of every CTI and client, stored as columns.

They are computed when rows are written (a page of the feed, a command's answer, an optimistic value),
with `cmdesk.domain.forecast`'s rules, from the usage summary each CTI carries in the feed (`usage`,
kept in its row). So the Clientes and Timbrado tabs sort and filter on them in SQL, offline, with no
request per row, and nothing is computed while a table paints.

- A CTI's row: `usage` (the summary, JSON), `cpd` (C.P.D. in hundredths), `days_left` (D.R., NULL when
  it never runs out: unlimited, blocked, no use) and `risk` (`RiskBand` or NULL).
- A client's row: `fc_cpd`, `fc_balance`, `days_left`, `risk`: the sum over its active standard CTIs
  (`forecast.client_forecast`) in SQL that mirrors the integer formulas (NULL: no such CTI).
- Both depend on the day (the C.P.D. window moves): the day they were computed for is kept in `meta`
  (`forecast_day`); the first write of a new day, or `Cache.refresh_forecasts`, computes again the
  CTIs with use and every client.

Sorts put "never runs out" after every number (`NEVER`, in an expression index); the filters
"se agotan en ≤ N días" are `D.R. ≤ N` and "sin consumo" is the band `no_use`.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson

from cmdesk.domain import clock, forecast, usage
from cmdesk.domain.forecast import RISK_BAND_DAYS, RiskBand

log = logging.getLogger(__name__)

# The sort key of a D.R. that never comes: after every number of days.
NEVER = 1 << 62
DAYS_LEFT_KEY = f"coalesce(days_left, {NEVER})"

FORECAST_DAY = "forecast_day"

RISK_FILTERS: tuple[str, ...] = tuple(band.value for band in RiskBand)


def risk_where(risk: str | None) -> tuple[str | None, list[Any]]:
    """The SQL condition of a risk filter (`RiskBand` value), for either table."""
    if not risk:
        return None, []
    band = RiskBand(risk)
    if band is RiskBand.NO_USE:
        return "risk = ?", [band.value]
    return f"{DAYS_LEFT_KEY} <= ?", [RISK_BAND_DAYS[band]]


def created_day(created_at: Any) -> dt.date | None:
    moment = clock.parse_utc(created_at) if isinstance(created_at, str | dt.datetime) else None
    return clock.today(moment) if moment is not None else None


def cti_fields(
    summary: Mapping[str, Any] | None,
    *,
    kind: str,
    active: bool,
    balance: int | None,
    created_at: Any,
    today: dt.date,
) -> tuple[int, int | None, str | None]:
    """`(cpd, days_left, risk)` of a CTI (`forecast.cti_forecast`, summing the window in place)."""
    cpd = 0
    if summary:
        try:
            start, days = forecast.window(today, created_day(created_at))
            cpd = forecast.cpd_centi(usage.summary_total(summary, start, today), days)
        except (ValueError, TypeError) as exc:
            log.warning("usage summary unreadable (%s): taken as no use", exc)
    figures = forecast.forecast_of(kind == "standard", active, balance or 0, cpd)
    return figures.cpd_centi, figures.days_remaining, figures.band.value if figures.band else None


def cti_row_fields(data: Mapping[str, Any], today: dt.date) -> tuple[str | None, int, int | None, str | None]:
    """The forecast columns of a CTI as the feed sends it: `(usage, cpd, days_left, risk)`."""
    summary = data.get("usage")
    if not isinstance(summary, Mapping) or not summary:
        summary = None
    balance = data.get("balance")
    fields = cti_fields(
        summary,
        kind=str(data.get("kind") or "standard"),
        active=bool(data.get("active", True)),
        balance=balance if isinstance(balance, int) else None,
        created_at=data.get("created_at"),
        today=today,
    )
    return (orjson.dumps(summary).decode() if summary else None, *fields)


def _band_sql(days: str, cpd: str) -> str:
    """`forecast.risk_band` in SQL."""
    limits = " ".join(f"WHEN {days} <= {n} THEN '{band.value}'" for band, n in RISK_BAND_DAYS.items())
    return f"CASE WHEN {cpd} <= 0 THEN '{RiskBand.NO_USE.value}' {limits} END"


_CLIENT_DAYS = "(CASE WHEN f.cpd > 0 THEN (100 * max(f.balance, 0)) / f.cpd END)"
_CLIENT_BAND = _band_sql(_CLIENT_DAYS, "f.cpd")


def _client_sql(scope: str) -> list[str]:
    """`forecast.client_forecast` of the clients in `scope` (a condition on `clients.id` / a CTI's
    `client_id`, written `{id}`): the sums of their active standard CTIs, then only the rows whose
    figures differ are written (on a new day most stay as they were)."""
    return [
        "DELETE FROM client_fc",
        "INSERT INTO client_fc (id, cpd, balance) SELECT client_id, sum(cpd), sum(coalesce(balance, 0))"
        f" FROM stamping_accounts WHERE kind = 'standard' AND active = 1 AND {scope.format(id='client_id')}"
        " GROUP BY client_id",
        f"""UPDATE clients SET fc_cpd = f.cpd, fc_balance = f.balance, days_left = {_CLIENT_DAYS},
            risk = {_CLIENT_BAND}
        FROM (SELECT c.id AS id, t.cpd AS cpd, t.balance AS balance
              FROM clients c LEFT JOIN client_fc t ON t.id = c.id WHERE {scope.format(id="c.id")}) AS f
        WHERE clients.id = f.id AND (clients.fc_cpd IS NOT f.cpd OR clients.fc_balance IS NOT f.balance
            OR clients.days_left IS NOT {_CLIENT_DAYS} OR clients.risk IS NOT {_CLIENT_BAND})""",
    ]


_AFFECTED = _client_sql("{id} IN (SELECT id FROM forecast_clients)")
_EVERY = _client_sql("1 = 1")


def refresh_clients(conn: sqlite3.Connection, client_ids: set[str] | None) -> None:
    """The forecast of the clients `client_ids` (None: all of them) from their CTIs' rows."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS client_fc (id TEXT PRIMARY KEY, cpd INTEGER, balance INTEGER)"
        " WITHOUT ROWID"
    )
    if client_ids is None:
        for statement in _EVERY:
            conn.execute(statement)
        return
    ids = {i for i in client_ids if i}
    if not ids:
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS forecast_clients (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM forecast_clients")
    conn.executemany("INSERT OR IGNORE INTO forecast_clients (id) VALUES (?)", [(i,) for i in ids])
    for statement in _AFFECTED:
        conn.execute(statement)


def stored_day(conn: sqlite3.Connection) -> dt.date | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (FORECAST_DAY,)).fetchone()
    try:
        return dt.date.fromisoformat(row[0]) if row else None
    except ValueError:
        return None


def roll_day(conn: sqlite3.Connection, today: dt.date, *, clients: bool = True) -> bool:
    """Inside a write transaction: when the forecasts were computed for another day, compute again
    the CTIs with use (the others have no C.P.D. whatever the day) and, with `clients`, the clients
    of those whose figures changed (a client's are sums over its CTIs', which do not depend on the
    day by themselves: at 150,000 CTIs, computing every client again took 3.4 s); every client when
    no day was stored. Returns whether anything was computed again."""
    day = stored_day(conn)
    if day == today:
        return False
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (FORECAST_DAY, today.isoformat()),
    )
    if day is None and conn.execute("SELECT 1 FROM stamping_accounts LIMIT 1").fetchone() is None:
        return False
    rows = conn.execute(
        "SELECT id, client_id, usage, kind, active, balance, created_at, cpd, days_left, risk"
        " FROM stamping_accounts WHERE usage IS NOT NULL"
    ).fetchall()
    changed = []
    their_clients: set[str] = set()
    for ident, client_id, summary, kind, active, balance, created_at, *before in rows:
        fields = cti_fields(
            orjson.loads(summary),
            kind=kind,
            active=bool(active),
            balance=balance,
            created_at=created_at,
            today=today,
        )
        if list(fields) != before:  # most CTIs keep their figures from one day to the next
            changed.append((*fields, ident))
            their_clients.add(client_id)
    conn.executemany("UPDATE stamping_accounts SET cpd = ?, days_left = ?, risk = ? WHERE id = ?", changed)
    if clients:
        refresh_clients(conn, None if day is None else their_clients)
    return True
