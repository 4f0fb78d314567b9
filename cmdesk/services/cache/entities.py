"""The untyped entities of the cache (top-up codes, invoices, price packages, profiles, contracts…),
filtered and sorted in SQL on their JSON, with their optimistic values laid over; and the
sub-distributors by state."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cmdesk.domain.field_paths import deep_merge
from cmdesk.services.cache.store import CacheStore


class EntityQueries(CacheStore):
    def query_distributors(self, status: str | None = None) -> list[dict[str, Any]]:
        """Sub-distributors by NIC, all or those of one status (the Distribuidores tabs)."""
        if status:
            sql, params = "SELECT * FROM distributors WHERE status = ? ORDER BY nic_num, id", [status]
        else:
            sql, params = "SELECT * FROM distributors ORDER BY nic_num, id", []
        return self._rows(sql, params, drop=("rowid", "name_key", "nic_num"))

    def entities_of_client(self, entity: str, client_id: str) -> list[dict[str, Any]]:
        """The rows of an untyped entity (license, interaction, support_policy, invoice, …) that belong
        to one client (`data.client_id`), as the user sees them (pending values laid over)."""
        with self._read() as conn:
            rows = {
                r[0]: json.loads(r[1])
                for r in conn.execute(
                    "SELECT id, data FROM entities"
                    " WHERE entity = ? AND json_extract(data, '$.client_id') = ?",
                    (entity, client_id),
                )
            }
            for ident, data in conn.execute(
                "SELECT id, data FROM local WHERE entity = ? AND json_extract(data, '$.client_id') = ?",
                (entity, client_id),
            ):
                rows[ident] = deep_merge(rows.get(ident, {}), json.loads(data))
                rows[ident]["id"] = ident
        return list(rows.values())

    def query_entities(
        self,
        entity: str,
        *,
        equals: Mapping[str, Any] | None = None,
        since: tuple[str, str] | None = None,
        until: tuple[str, str] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows of an untyped entity (top-up codes, invoices, price packages, profiles, distributors…)
        as the user sees them, filtered and sorted in SQL on their JSON: `equals` = {field path: value}
        (None matches a missing/null value), `since`/`until` = (path, ISO text) bounds (until
        excluded), `order` = [(path, descending)], then id. Paths are dotted field names
        ("balances.stamps")."""
        sql, params = self._entities_sql(entity, equals, since, until)
        order_sql = "".join(f"json_extract(merged, ?) {'DESC' if desc else 'ASC'}, " for _path, desc in order)
        params += [json_path(path) for path, _desc in order]
        sql = f"SELECT id, data, overlay FROM ({sql}) ORDER BY {order_sql}id LIMIT ? OFFSET ?"
        params += [limit, offset]
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        out = []
        for ident, data, overlay in rows:
            item = json.loads(data) if data else {}
            if overlay:
                item = deep_merge(item, json.loads(overlay))
            item["id"] = ident
            out.append(item)
        return out

    def count_entities(
        self,
        entity: str,
        *,
        equals: Mapping[str, Any] | None = None,
        since: tuple[str, str] | None = None,
        until: tuple[str, str] | None = None,
    ) -> int:
        sql, params = self._entities_sql(entity, equals, since, until)
        with self._read() as conn:
            return int(conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])

    @staticmethod
    def _entities_sql(
        entity: str,
        equals: Mapping[str, Any] | None,
        since: tuple[str, str] | None,
        until: tuple[str, str] | None,
    ) -> tuple[str, list[Any]]:
        # `merged`: the server's copy with the pending values patched in, for filtering and sorting;
        # the rows themselves are merged in Python (deep_merge) like `get` does.
        base = (
            "SELECT e.id AS id, e.data AS data, l.data AS overlay, "
            "CASE WHEN l.data IS NULL THEN e.data ELSE json_patch(e.data, l.data) END AS merged "
            "FROM entities e LEFT JOIN local l ON l.entity = e.entity AND l.id = e.id WHERE e.entity = ? "
            "UNION ALL SELECT id, NULL, data, data FROM local WHERE entity = ? AND local_only = 1"
        )
        params: list[Any] = [entity, entity]
        where: list[str] = []
        for path, value in (equals or {}).items():
            if value is None:
                where.append("json_extract(merged, ?) IS NULL")
                params.append(json_path(path))
            else:
                where.append("json_extract(merged, ?) = ?")
                params.extend([json_path(path), 1 if value is True else 0 if value is False else value])
        if since is not None:
            where.append("json_extract(merged, ?) >= ?")
            params.extend([json_path(since[0]), since[1]])
        if until is not None:
            where.append("json_extract(merged, ?) < ?")
            params.extend([json_path(until[0]), until[1]])
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return f"SELECT * FROM ({base}){clause}", params


def json_path(path: str) -> str:
    """`balances.stamps` → `$.balances.stamps` (field names only: letters, digits, `_`, dots)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", path):
        raise ValueError(f"not a field path: {path!r}")
    return "$." + path
