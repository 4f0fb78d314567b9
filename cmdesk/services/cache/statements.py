"""Statements (estados de cuenta) built in the cache's SQL: a party's movements of a period, with the
lines the caller adds (CFDI per day, charges), numbered in statement order with their running sums by a
window function, in a temporary table of the reader connection that the screens read a page at a
time. No statement is ever a list of 100,000 Python objects: `cmdesk.services.statements` turns only
the page asked for into the domain's rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cmdesk.services.cache.store import CacheStore

# A line of a statement page: (running sum, index of an `extra` line or None, then the movement's id,
# kind, quantity, amount_cents, source_type, source_id, target_type, target_id, comments, created_at,
# created_by — None for an extra line). The balance after the line is the opening plus the running sum.
StatementLine = tuple[Any, ...]

# The statements kept built on the reader connection (each a temporary table of ~40 bytes a line).
STATEMENT_TABLES = 3


def _touches(side: str, keys: Sequence[tuple[str, str]], params: list[Any]) -> str:
    """Whether a movement's `side` ("source" / "target") is one of `keys`: 1 or 0."""
    if len(keys) == 1:
        params.extend(keys[0])
        return f"({side}_type = ? AND {side}_id = ?)"
    params.append(json.dumps([f"{t}:{i}" for t, i in keys]))
    return f"(({side}_type || ':' || {side}_id) IN (SELECT value FROM json_each(?)))"


def _movements(
    keys: Sequence[tuple[str, str]], asset: str, client_id: str | None, period: str, bounds: Sequence[str]
) -> tuple[str, list[Any]]:
    """The party's movements of `asset` in `period` (a condition on `created_at`), each with its signed
    change: what comes in to one of the party's `keys`, minus what goes out of one (as
    `cmdesk.domain.statements.entry_for` reads a movement). Only what the server sent."""
    keyed: list[Any] = []
    tin = _touches("target", keys, keyed)
    sin = _touches("source", keys, keyed)
    where = f"asset = ? AND created_at {period} AND id NOT LIKE 'local-%'"
    params = [*keyed, asset, *bounds]
    if client_id:
        where += " AND client_id = ?"
        params.append(client_id)
    sql = f"SELECT created_at AS at, 'm:' || id AS ref, quantity * ({tin} - {sin}) AS delta, rowid AS mrow,"
    sql += f" NULL AS xi FROM movements WHERE {where} AND ({tin} OR {sin})"
    return sql, [*params, *keyed]


@dataclass(frozen=True)
class StatementTable:
    """A statement's lines of its period, numbered in statement order (by time, then `ref`) with their
    running sums, in a temporary table of the reader connection (`Cache.statement_lines` reads a page;
    a table dropped meanwhile — more statements opened, the cache reopened — is built again). `count`,
    `total` (the sum of the changes), `credits` and `debits` are the period's; `after`, the sum of the
    movements' changes after it."""

    name: str
    count: int
    total: int
    credits: int
    debits: int
    after: int
    build: tuple[Any, ...]


class StatementQueries(CacheStore):
    def statement_table(
        self,
        asset: str,
        keys: Sequence[tuple[str, str]],
        start: str,
        end: str,
        *,
        client_id: str | None = None,
        extra: Sequence[tuple[str, str, int]] = (),
    ) -> StatementTable:
        """Build a statement in SQL: the movements of `asset` touching `keys` (type, id) in [`start`,
        `end`) (`sortable_time` texts), of one client or all, and the `extra` lines of the period
        (CFDI per day, charges: (at, ref, change), read back by their index)."""
        build = (asset, tuple(keys), start, end, client_id, tuple(extra))
        return self._statement_table(build, f"statement_{next(_NUMBERS)}")

    def _statement_table(self, build: tuple[Any, ...], name: str) -> StatementTable:
        asset, keys, start, end, client_id, extra = build
        parts: list[str] = []
        params: list[Any] = []
        if keys:
            sql, more = _movements(keys, asset, client_id, ">= ? AND created_at < ?", (start, end))
            parts.append(sql)
            params += more
        if extra:
            parts.append(
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
                " json_extract(value, '$[2]'), NULL, key FROM json_each(?)"
            )
            params.append(json.dumps(extra))
        with self._read() as conn:
            tables = _built(self)
            while len(tables) >= STATEMENT_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS temp.{tables.pop(0)}")
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
            conn.execute(
                f"CREATE TEMP TABLE {name} (seq INTEGER PRIMARY KEY, at TEXT, ref TEXT, delta INTEGER,"
                " mrow INTEGER, xi INTEGER, run INTEGER)"
            )
            tables.append(name)
            if parts:
                lines = " UNION ALL ".join(parts)
                conn.execute(
                    f"WITH lines (at, ref, delta, mrow, xi) AS ({lines}) INSERT INTO temp.{name}"
                    " SELECT row_number() OVER w, at, ref, delta, mrow, xi, sum(delta) OVER w FROM lines"
                    " WINDOW w AS (ORDER BY at, ref ROWS UNBOUNDED PRECEDING)",
                    params,
                )
            count, total, credits, debits = conn.execute(
                "SELECT count(*), coalesce(sum(delta), 0), coalesce(sum(delta) FILTER (WHERE delta > 0), 0),"
                f" coalesce(-sum(delta) FILTER (WHERE delta < 0), 0) FROM temp.{name}"
            ).fetchone()
            after = 0
            if keys:
                sql, more = _movements(keys, asset, client_id, ">= ?", (end,))
                after = int(conn.execute(f"SELECT coalesce(sum(delta), 0) FROM ({sql})", more).fetchone()[0])
        return StatementTable(name, count, total, credits, debits, after, build)

    def statement_lines(self, table: StatementTable, offset: int, limit: int) -> list[StatementLine]:
        """Lines `offset`.. of a statement (at most `limit`), with their running sums."""
        sql = (
            "SELECT s.run, s.xi, m.id, m.kind, m.quantity, m.amount_cents, m.source_type, m.source_id,"
            " m.target_type, m.target_id, m.comments, m.created_at, m.created_by"
            f" FROM temp.{table.name} s LEFT JOIN movements m ON m.rowid = s.mrow"
            " WHERE s.seq > ? ORDER BY s.seq LIMIT ?"
        )
        with self._read() as conn:
            if table.name not in _built(self):
                self._statement_table(table.build, table.name)
            return conn.execute(sql, (offset, limit)).fetchall()


_NUMBERS = itertools.count(1)


def _built(store: CacheStore) -> list[str]:
    """The statement tables on the store's reader connection, oldest first (call with its read lock).
    A reopened reader (`adopt`) has none: the list is kept with the connection it belongs to."""
    reader = store._reader
    kept: tuple[Any, list[str]] | None = store.__dict__.get("_statement_tables")
    if kept is None or kept[0] is not reader:
        kept = (reader, [])
        store.__dict__["_statement_tables"] = kept
    return kept[1]
