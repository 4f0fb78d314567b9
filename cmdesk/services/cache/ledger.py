"""Movements in the cache: a client's history, the sales still to invoice (`cmdesk.domain.sales`), and
(through `statements`) statements built in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cmdesk.domain.sales import pending_sale_where
from cmdesk.services.cache.statements import StatementQueries


class LedgerQueries(StatementQueries):
    def query_movements(
        self,
        *,
        client_id: str | None = None,
        target_id: str | None = None,
        asset: str | None = None,
        kind: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Movements, the most recent first."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("client_id", client_id),
            ("target_id", target_id),
            ("asset", asset),
            ("kind", kind),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        sql = f"SELECT * FROM movements{clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        return self._rows(sql, [*params, limit, offset], drop=("rowid",))

    def movements_since(
        self, asset: str, since: str, *, client_id: str | None = None
    ) -> list[tuple[Any, ...]]:
        """The server's movements of `asset` from `since` on (a `sortable_time` text), of one client or
        all, for a statement (`cmdesk.services.statements`): (id, kind, quantity, amount_cents,
        source_type, source_id, target_type, target_id, comments, created_at, created_by). Only what
        the server sent (a command's optimistic record is not a movement yet)."""
        sql = (
            "SELECT m.id, m.kind, m.quantity, m.amount_cents, m.source_type, m.source_id, m.target_type,"
            " m.target_id, m.comments, m.created_at, m.created_by FROM movements m"
            " WHERE m.asset = ? AND m.created_at >= ? AND m.id NOT LIKE 'local-%'"
        )
        params: list[Any] = [asset, since]
        if client_id is not None:
            sql += " AND m.client_id = ?"
            params.append(client_id)
        with self._read() as conn:
            return conn.execute(sql + " ORDER BY m.created_at, m.id", params).fetchall()

    def movement_names(self, movement_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """Movement id → (created_by_name, source name, target name) as the server sent them (the
        names a cache may not have otherwise: the parent's users, accounts, catalog items)."""
        out: dict[str, tuple[str, str, str]] = {}
        ids = list(dict.fromkeys(movement_ids))
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" for _ in chunk)
                for ident, author, source, target in conn.execute(
                    "SELECT id, json_extract(data, '$.created_by_name'), json_extract(data, '$.source.name'),"
                    " json_extract(data, '$.target.name') FROM entities"
                    f" WHERE entity = 'movement' AND id IN ({marks})",
                    chunk,
                ):
                    out[ident] = (author or "", source or "", target or "")
        return out

    # The sales to invoice of the signed-in account (parameters: its id twice).
    _PENDING_SALES_WHERE = (
        f"{pending_sale_where('m.')} AND (m.account_id IS NULL OR m.account_id = ? OR ? IS NULL)"
    )

    def pending_sales_by_client(self) -> list[dict[str, Any]]:
        """Facturación → Timbres y Puntos: the clients with sales to invoice (client_id, nic, name,
        count, total_cents), by name — as the server's `/v1/billing/pending/by-client` answers."""
        account = self.account_id
        sql = (
            "SELECT m.client_id, coalesce(c.nic, ''), coalesce(c.name, ''), count(*), sum(m.amount_cents) "
            f"FROM movements m LEFT JOIN clients c ON c.id = m.client_id WHERE {self._PENDING_SALES_WHERE} "
            "GROUP BY m.client_id ORDER BY coalesce(c.name_key, ''), c.nic_num, m.client_id"
        )
        with self._read() as conn:
            rows = conn.execute(sql, (account, account)).fetchall()
        return [
            {"client_id": r[0], "nic": r[1], "name": r[2], "count": int(r[3]), "total_cents": int(r[4])}
            for r in rows
        ]

    def query_pending_sales(
        self, client_id: str, *, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The sales of one client still to invoice, oldest first (typed movement rows)."""
        account = self.account_id
        sql = (
            f"SELECT * FROM movements m WHERE m.client_id = ? AND {self._PENDING_SALES_WHERE} "
            "ORDER BY m.created_at, m.id LIMIT ? OFFSET ?"
        )
        return self._rows(sql, [client_id, account, account, limit, offset], drop=("rowid",))
