"""The stamping accounts (CTI) in the cache: the Timbrado tab's pages, and the daily usage of each CTI.

The feed carries no daily series of issued CFDI: the usage of the CTIs a person looks at is fetched
(`cmdesk.services.commands.stamping.fetch_usage`) and kept here, so C.P.D., D.R. and the consumption
chart work offline with the last value. Its table is created on first use, so caches made before it
need no rebuild.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from cmdesk.domain.text import fold
from cmdesk.services.cache.clients import ClientQueries
from cmdesk.services.cache.forecasts import DAYS_LEFT_KEY, risk_where
from cmdesk.services.cache.rows import dumps, like_pattern, whole
from cmdesk.services.server_info import server_now

CTI_ORDERS: dict[str, str] = {
    "client": "client_name_key, client_id, created_at, rowid",
    "client_desc": "client_name_key DESC, client_id DESC, created_at DESC, rowid DESC",
    "nic": "client_nic_num, created_at, rowid",
    "nic_desc": "client_nic_num DESC, created_at DESC, rowid DESC",
    "id": "id",
    "id_desc": "id DESC",
    "created_asc": "created_at, rowid",
    "created_desc": "created_at DESC, rowid DESC",
    "first_issue_asc": "first_issue_at, rowid",
    "first_issue_desc": "first_issue_at DESC, rowid DESC",
    "last_issue_asc": "last_issue_at, rowid",
    "last_issue_desc": "last_issue_at DESC, rowid DESC",
    "last_purchase_asc": "last_purchase_at, rowid",
    "last_purchase_desc": "last_purchase_at DESC, rowid DESC",
    "balance_asc": "balance, rowid",
    "balance_desc": "balance DESC, rowid DESC",
    "credited_asc": "credited, rowid",
    "credited_desc": "credited DESC, rowid DESC",
    "issued_asc": "issued, rowid",
    "issued_desc": "issued DESC, rowid DESC",
    # Forecasts (`forecasts`): D.R. with "never runs out" last, C.P.D.
    "dr_asc": f"{DAYS_LEFT_KEY}, rowid",
    "dr_desc": f"{DAYS_LEFT_KEY} DESC, rowid DESC",
    "cpd_asc": "cpd, rowid",
    "cpd_desc": "cpd DESC, rowid DESC",
}


class StampingQueries(ClientQueries):
    """(A CTI is also found by its client's search: `ClientQueries`.)"""

    def _cti_where(
        self,
        q: str | None,
        client_id: str | None,
        kind: str | None,
        active: bool | None,
        risk: str | None = None,
    ) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        risk_sql, risk_params = risk_where(risk)
        if risk_sql:
            where.append(risk_sql)
            params.extend(risk_params)
        if client_id:
            where.append("client_id = ?")
            params.append(client_id)
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if active is not None:
            where.append("active = ?")
            params.append(1 if active else 0)
        if q and q.strip():
            client_where, client_params = self._client_where(q, "all", None)
            words = fold(q).split()
            id_match = " AND ".join("id_key LIKE ? ESCAPE '\\'" for _ in words)
            where.append(f"(client_id IN (SELECT id FROM clients{client_where}) OR ({id_match}))")
            params.extend(client_params)
            params.extend(like_pattern(w) for w in words)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def query_stamping_accounts(
        self,
        *,
        q: str | None = None,
        client_id: str | None = None,
        kind: str | None = None,
        active: bool | None = None,
        risk: str | None = None,
        sort: str = "client",
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """A page of the Timbrado tab: CTIs with their client's NIC and name (see `CTI_ORDERS`);
        `risk`: a `RiskBand` value ("se agotan en ≤ N días", "sin consumo")."""
        order = CTI_ORDERS.get(sort)
        if order is None:
            raise ValueError(f"unknown stamping account sort {sort!r}")
        where, params = self._cti_where(q, client_id, kind, active, risk)
        sql = f"SELECT * FROM stamping_accounts{where} ORDER BY {order} LIMIT ? OFFSET ?"
        return self._rows(
            sql,
            [*params, limit, offset],
            drop=("rowid", "id_key", "client_name_key", "client_nic_num", "usage"),
        )

    def explain_stamping_accounts(self, *, risk: str | None = None, sort: str = "client") -> list[str]:
        """SQLite's plan of a Timbrado page (for tests and benchmarks)."""
        where, params = self._cti_where(None, None, None, None, risk)
        sql = f"SELECT * FROM stamping_accounts{where} ORDER BY {CTI_ORDERS[sort]} LIMIT ? OFFSET ?"
        with self._read() as conn:
            return [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, [*params, 200, 0])]

    def count_stamping_accounts(
        self,
        *,
        q: str | None = None,
        client_id: str | None = None,
        kind: str | None = None,
        active: bool | None = None,
        risk: str | None = None,
    ) -> int:
        where, params = self._cti_where(q, client_id, kind, active, risk)
        with self._read() as conn:
            return int(conn.execute(f"SELECT count(*) FROM stamping_accounts{where}", params).fetchone()[0])

    _USAGE_TABLE = (
        "CREATE TABLE IF NOT EXISTS stamping_usage (id TEXT PRIMARY KEY, fetched_at TEXT NOT NULL, "
        "issued INTEGER, daily TEXT NOT NULL) WITHOUT ROWID"
    )

    def set_stamping_usage(
        self,
        cti_id: str,
        daily: Sequence[Mapping[str, Any]],
        *,
        issued: int | None,
        fetched_at: dt.datetime | None = None,
    ) -> None:
        """Keep a CTI's daily series (`[{"date", "issued"}]`, oldest first) with the CTI's `issued`
        count when it was fetched (a different count later means the series is out of date)."""
        when = (fetched_at or server_now()).astimezone(dt.UTC).isoformat()
        series = [{"date": str(d.get("date")), "issued": whole(d.get("issued"))} for d in daily]
        with self._write() as conn:
            conn.execute(self._USAGE_TABLE)
            conn.execute(
                "INSERT INTO stamping_usage (id, fetched_at, issued, daily) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET fetched_at = excluded.fetched_at, issued = excluded.issued, "
                "daily = excluded.daily",
                (cti_id, when, issued, dumps(series)),
            )

    def stamping_usage(self, cti_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """CTI id → {"daily": [...], "issued": int | None, "fetched_at": aware datetime} of the CTIs
        whose usage was fetched (the others are missing)."""
        out: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(cti_ids))
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" for _ in chunk)
                try:
                    sql = f"SELECT id, fetched_at, issued, daily FROM stamping_usage WHERE id IN ({marks})"
                    rows = conn.execute(sql, chunk).fetchall()
                except sqlite3.OperationalError:  # no usage fetched yet on this cache
                    return {}
                for ident, fetched_at, issued, daily in rows:
                    out[ident] = {
                        "daily": json.loads(daily),
                        "issued": issued,
                        "fetched_at": dt.datetime.fromisoformat(fetched_at),
                    }
        return out
