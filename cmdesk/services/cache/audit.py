"""The pages of the bitácora the desktop has read (`cmdesk.services.audit`): the server keeps the log
(it is not in the change feed); the desktop keeps what it fetched, per filter, so the Bitácora's table
pages in SQL like every other table and what was read stays readable offline.

- `audit_records`: one row per record (its JSON in `data`, and the columns the table sorts and filters);
- `audit_lists`: per filter (a key made of the server's filters), the records the server listed for it
  in its order, the cursor of its next page and whether the list is complete.

The tables are made on first use (a cache without them has read no bitácora).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from cmdesk.services.cache.rows import sortable_time
from cmdesk.services.cache.store import CacheStore

_TABLES = (
    "CREATE TABLE IF NOT EXISTS audit_records (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL,"
    " profile_id TEXT, action TEXT NOT NULL, entity TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_lists (key TEXT NOT NULL, position INTEGER NOT NULL,"
    " record_id INTEGER NOT NULL, PRIMARY KEY (key, position)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS audit_state (key TEXT PRIMARY KEY, next_cursor TEXT, complete INTEGER"
    " NOT NULL, fetched_at TEXT NOT NULL) WITHOUT ROWID",
)


class AuditQueries(CacheStore):
    def keep_audit_page(
        self,
        key: str,
        items: Sequence[Mapping[str, Any]],
        next_cursor: str | None,
        fetched_at: str,
        *,
        restart: bool,
    ) -> None:
        """Keep one page the server listed for the filter `key` (`restart`: its first page, the list
        read again from the top)."""
        with self._write() as conn:
            for statement in _TABLES:
                conn.execute(statement)
            if restart:
                conn.execute("DELETE FROM audit_lists WHERE key = ?", (key,))
            start = conn.execute(
                "SELECT coalesce(max(position), -1) + 1 FROM audit_lists WHERE key = ?", (key,)
            ).fetchone()[0]
            conn.executemany(
                "INSERT INTO audit_records (id, created_at, profile_id, action, entity, entity_id, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                [
                    (
                        int(item["id"]),
                        sortable_time(item.get("created_at")) or "",
                        (item.get("profile") or {}).get("id"),
                        str(item.get("action") or ""),
                        str(item.get("entity") or ""),
                        str(item.get("entity_id") or ""),
                        json.dumps(item, ensure_ascii=False, default=str),
                    )
                    for item in items
                ],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO audit_lists (key, position, record_id) VALUES (?, ?, ?)",
                [(key, start + i, int(item["id"])) for i, item in enumerate(items)],
            )
            conn.execute(
                "INSERT OR REPLACE INTO audit_state (key, next_cursor, complete, fetched_at)"
                " VALUES (?, ?, ?, ?)",
                (key, next_cursor, 0 if next_cursor else 1, fetched_at),
            )

    def audit_state(self, key: str) -> tuple[bool, str | None, int, str | None]:
        """(whether the filter was read, the cursor of its next page, records kept, when read)."""
        with self._read() as conn:
            try:
                row = conn.execute(
                    "SELECT next_cursor, complete, fetched_at FROM audit_state WHERE key = ?", (key,)
                ).fetchone()
                count = conn.execute("SELECT count(*) FROM audit_lists WHERE key = ?", (key,)).fetchone()[0]
            except sqlite3.OperationalError:  # no bitácora read on this cache yet
                return False, None, 0, None
        if row is None:
            return False, None, 0, None
        return True, row[0], int(count), row[2]

    def query_audit(
        self, key: str, *, action: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The records kept for the filter `key`, in the server's order (newest first); `action`: only
        those whose action starts with it (`client.`, `ledger.transfer`)."""
        sql = "SELECT r.data FROM audit_lists l JOIN audit_records r ON r.id = l.record_id WHERE l.key = ?"
        params: list[Any] = [key]
        if action:
            sql += " AND r.action LIKE ? ESCAPE '\\'"
            params.append(action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        sql += " ORDER BY l.position LIMIT ? OFFSET ?"
        params += [limit, offset]
        with self._read() as conn:
            try:
                rows = conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                return []
        return [json.loads(r[0]) for r in rows]

    def audit_actions(self, key: str) -> list[tuple[str, str]]:
        """(action, its Spanish label) of the records kept for the filter `key`, by label."""
        sql = (
            "SELECT DISTINCT r.action, json_extract(r.data, '$.action_label') FROM audit_lists l"
            " JOIN audit_records r ON r.id = l.record_id WHERE l.key = ?"
        )
        with self._read() as conn:
            try:
                rows = conn.execute(sql, (key,)).fetchall()
            except sqlite3.OperationalError:
                return []
        return sorted(((str(a), str(b or a)) for a, b in rows), key=lambda r: r[1])
