"""The client portfolio in the cache: the Clientes tab's pages, searched, filtered and sorted in SQL.

Every order (the manual's twelve, `ClientSort`, and the column sorts of the table) is satisfied by an
index of `schema`: no sorting step, whatever the number of clients. `q` (API.md's search) uses the
trigram index for words of three letters or more and the name index for the first keystrokes. A search
that matches many clients is read by walking the order's index (its page fills within a few hundred
rows); a rare one from the trigram index's rowids, sorted (`_walks`). The trigram index counts its own
matches (`count_clients`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cmdesk.domain.portfolio import CATEGORIES
from cmdesk.domain.text import fold, sort_key
from cmdesk.services.cache import schema
from cmdesk.services.cache.forecasts import DAYS_LEFT_KEY, risk_where
from cmdesk.services.cache.rows import fts_phrase, like_pattern
from cmdesk.services.cache.store import CacheStore


def _match(words: list[str]) -> str:
    """The trigram index's query for every word (each a phrase)."""
    return " AND ".join(fts_phrase(w) for w in words)


# ---- Queries: the orders --------------------------------------------------------------------------

# The manual's twelve orders (API.md `sort`) plus column sorts (`<column>` / `<column>_desc`).
# Every one is satisfied by an index above: no sorting step, whatever the number of clients.
CLIENT_ORDERS: dict[str, str] = {
    "name": "name_key, rowid",
    "name_desc": "name_key DESC, rowid DESC",
    "nic": "nic_num, rowid",
    "nic_desc": "nic_num DESC, rowid DESC",
    "stamps_desc": "stamps DESC, rowid DESC",
    "stamps_asc": "stamps, rowid",
    "points_desc": "points DESC, rowid DESC",
    "points_asc": "points, rowid",
    "last_purchase_desc": "last_purchase_at DESC, rowid DESC",
    "last_purchase_asc": "coalesce(last_purchase_at, '~'), rowid",
    "created_desc": "created_at DESC, rowid DESC",
    "created_asc": "created_at, rowid",
    "last_issue_desc": "last_issue_at DESC, rowid DESC",
    "last_issue_asc": "coalesce(last_issue_at, '~'), rowid",
    "rfc": "rfc, rowid",
    "rfc_desc": "rfc DESC, rowid DESC",
    "credited": "credited, rowid",
    "credited_desc": "credited DESC, rowid DESC",
    "issued": "issued, rowid",
    "issued_desc": "issued DESC, rowid DESC",
    # Forecasts (`forecasts`): D.R. with "never runs out" last (the Riesgo order), C.P.D.
    "days_left": f"{DAYS_LEFT_KEY}, rowid",
    "days_left_desc": f"{DAYS_LEFT_KEY} DESC, rowid DESC",
    "cpd": "fc_cpd, rowid",
    "cpd_desc": "fc_cpd DESC, rowid DESC",
}
# Aliases so a table header can ask for `<column>` / `<column>_desc` with the column's own name.
for _alias, _target in {
    "stamps": "stamps_asc",
    "points": "points_asc",
    "created_at": "created_asc",
    "created_at_desc": "created_desc",
    "last_purchase_at": "last_purchase_asc",
    "last_purchase_at_desc": "last_purchase_desc",
    "last_issue_at": "last_issue_asc",
    "last_issue_at_desc": "last_issue_desc",
}.items():
    CLIENT_ORDERS[_alias] = CLIENT_ORDERS[_target]


class ClientQueries(CacheStore):
    def _client_where(
        self,
        q: str | None,
        category: str,
        color: str | None,
        risk: str | None = None,
        *,
        walk: bool = False,
    ) -> tuple[str, list[Any]]:
        """The WHERE clause of a page or a count. `walk`: the search's rows are tested one by one as
        the order's index is walked (`+rowid`: SQLite may not start from the trigram index's rowids
        and sort them; see `_walks`)."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        where: list[str] = []
        params: list[Any] = []
        risk_sql, risk_params = risk_where(risk)
        if risk_sql:
            where.append(risk_sql)
            params.extend(risk_params)
        if category == "favorites":
            where.append("favorite = 1")
        elif category == "dropped":
            where.append("dropped = 1")
        if color:
            where.append("color = ?")
            params.append(color)
        words = fold(q).split() if q else []
        use_fts = schema.FTS_AVAILABLE and not self._search_pending()
        if use_fts and words and all(len(w) < 3 for w in words):
            # One or two letters (the first keystrokes): names that START with them, from the name
            # index, like a phone book. As a substring they would match nearly every client, and
            # scanning 100,000 rows on each keystroke is what the trigram index is there to avoid.
            prefix = sort_key(" ".join((q or "").split()))
            where.append("name_key >= ? AND name_key < ?")
            params.extend([prefix, prefix + "\uffff"])
            return " WHERE " + " AND ".join(where), params
        long_words = [w for w in words if len(w) >= 3] if use_fts else []
        if long_words:
            rowid = "+rowid" if walk else "rowid"
            where.append(f"{rowid} IN (SELECT rowid FROM clients_fts WHERE clients_fts MATCH ?)")
            params.append(_match(long_words))
        for word in words:
            if word in long_words:
                continue
            where.append("(search LIKE ? ESCAPE '\\' OR cti_ids LIKE ? ESCAPE '\\')")
            params.extend([like_pattern(word)] * 2)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def _search_pending(self) -> bool:
        """Whether the search index is not there yet (a first sync) or out of step (see `finish_pull`):
        `q` is then matched with LIKE."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM meta WHERE key IN ('bulk_fill', 'search_stale') LIMIT 1"
            ).fetchone()
        return row is not None

    def _fts_words(self, q: str | None) -> list[str] | None:
        """The words of `q` the trigram index answers alone (every word of three letters or more),
        when the index is usable; else None."""
        words = fold(q).split() if q else []
        if not words or any(len(w) < 3 for w in words) or not schema.FTS_AVAILABLE:
            return None
        return None if self._search_pending() else words

    def _fts_count(self, words: list[str]) -> int:
        """How many clients the trigram index matches: it counts its own rowids (a millisecond for
        23,000 of 100,000), without reading `clients`."""
        with self._read() as conn:
            return int(
                conn.execute(
                    "SELECT count(*) FROM clients_fts WHERE clients_fts MATCH ?", (_match(words),)
                ).fetchone()[0]
            )

    # A search page read by walking the order's index costs ~0.2 µs a row walked; read from the trigram
    # index's rowids and sorted, ~5 µs a match (the whole row read, then sorted): the walk wins while
    # it walks fewer than this many rows per match.
    WALK_PER_MATCH = 25

    def _walks(self, q: str | None, filtered: bool, limit: int, offset: int) -> bool:
        """Whether a search page is read by walking the view's order index, testing each row against
        the trigram index's rowids (a search that matches many clients: "mar", a phone prefix — the
        page fills within a few hundred rows), rather than by reading every match and sorting them (a
        rare search: "20005"). Decided on the match count and the number of clients; with a category,
        color or risk filter SQLite's own plan is kept (the filter's index may be the shorter walk)."""
        words = self._fts_words(q)
        if words is None or filtered:
            return False
        matches = self._fts_count(words)
        if matches == 0:
            return False
        with self._read() as conn:
            size = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM clients").fetchone()[0])
        walked = min(size, (offset + limit) * size // matches)
        return walked < self.WALK_PER_MATCH * matches

    def query_clients(
        self,
        *,
        q: str | None = None,
        category: str = "all",
        color: str | None = None,
        risk: str | None = None,
        sort: str = "name",
        limit: int = 200,
        offset: int = 0,
        walk: bool | None = None,
    ) -> list[dict[str, Any]]:
        """A page of the portfolio, filtered and sorted in SQL (see `CLIENT_ORDERS`). A search page
        takes the cheaper of two plans (`_walks`; `walk` forces one, for tests)."""
        order = CLIENT_ORDERS.get(sort)
        if order is None:
            raise ValueError(f"unknown client sort {sort!r}")
        if walk is None:
            walk = self._walks(q, category != "all" or bool(color) or bool(risk), limit, offset)
        where, params = self._client_where(q, category, color, risk, walk=walk)
        sql = f"SELECT * FROM clients{where} ORDER BY {order} LIMIT ? OFFSET ?"
        return self._rows(
            sql, [*params, limit, offset], drop=("rowid", "search", "name_key", "nic_num", "cti_ids")
        )

    # The Clientes tab's pages (the same rows: the plan is chosen per page).
    query_clients_page = query_clients

    def count_clients(
        self,
        *,
        q: str | None = None,
        category: str = "all",
        color: str | None = None,
        risk: str | None = None,
    ) -> int:
        """How many clients a query shows. A search alone is counted by the trigram index itself."""
        words = self._fts_words(q) if category == "all" and not color and not risk else None
        if words is not None:
            return self._fts_count(words)
        where, params = self._client_where(q, category, color, risk)
        with self._read() as conn:
            return int(conn.execute(f"SELECT count(*) FROM clients{where}", params).fetchone()[0])

    def explain_clients(self, **filters: Any) -> list[str]:
        """SQLite's plan of `query_clients(**filters)` (for tests and benchmarks)."""
        sort = filters.pop("sort", "name")
        q, category = filters.get("q"), filters.get("category", "all")
        color, risk = filters.get("color"), filters.get("risk")
        walk = filters.get("walk")
        if walk is None:
            walk = self._walks(q, category != "all" or bool(color) or bool(risk), 200, 0)
        where, params = self._client_where(q, category, color, risk, walk=walk)
        sql = f"SELECT * FROM clients{where} ORDER BY {CLIENT_ORDERS[sort]} LIMIT ? OFFSET ?"
        with self._read() as conn:
            return [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, [*params, 200, 0])]

    def cti_ids_by_client(self, client_ids: Sequence[str]) -> dict[str, list[str]]:
        """The CTI ids (as the server spells them) of each client, oldest CTI first: what the clients
        table shows under each name. One indexed query per 500 clients."""
        out: dict[str, list[str]] = {i: [] for i in client_ids}
        ids = list(out)
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" for _ in chunk)
                sql = (
                    f"SELECT client_id, id FROM stamping_accounts WHERE client_id IN ({marks})"
                    " ORDER BY client_id, created_at, id"
                )
                for client_id, cti_id in conn.execute(sql, chunk):
                    out[client_id].append(cti_id)
        return out
