"""The desktop's local cache: a disposable SQLite mirror of what the server's change feed sends.

    cache = Cache(folder / "cache.sqlite3")
    cache.apply_page(changes, cursor)          # the sync engine's pull
    cache.query_clients(q="martínez", sort="stamps_desc", limit=100)

- `schema`: the tables and indexes of its two files (the cache, and its search index beside it);
- `rows`: how a record the server sends becomes a typed row (the keys its sorts and search use);
- `store`: opening, writing the feed and the commands' answers, the optimistic values' storage;
- `fills`: filling it in bulk (a snapshot, a cache image) and taking the files of another cache;
- `sealed`: the secrets the server sends (top-up codes' NIPs) kept sealed with the user's key;
- `forecasts`: C.P.D., D.R. and risk band of every CTI and client, columns computed as rows are written;
- the queries, named by entity: `clients` (the portfolio), `stamping` (CTIs and their daily usage),
  `ledger` (movements, sales to invoice), `billing` (top-up codes, invoices), `account` (settings,
  price packages, users, contracts, sub-distributors), `risk` (usual purchase and refill cost of
  clients), `entities` (any other, on its JSON); and
  `Cache.client_detail`, all of them about one client.

Which optimistic values are laid over the cache is `cmdesk.services.overlays`' business.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmdesk.domain import contracts
from cmdesk.domain.field_paths import deep_merge
from cmdesk.domain.text import fold, sort_key
from cmdesk.services.cache.account import AccountQueries
from cmdesk.services.cache.audit import AuditQueries
from cmdesk.services.cache.billing import BillingQueries
from cmdesk.services.cache.clients import CLIENT_ORDERS, ClientQueries
from cmdesk.services.cache.entities import EntityQueries
from cmdesk.services.cache.fills import BulkFills
from cmdesk.services.cache.ledger import LedgerQueries
from cmdesk.services.cache.risk import RiskQueries
from cmdesk.services.cache.rows import TYPED_ENTITIES, client_search_text, sortable_time
from cmdesk.services.cache.schema import SCHEMA_VERSION
from cmdesk.services.cache.stamping import CTI_ORDERS, StampingQueries
from cmdesk.services.cache.store import CacheStore
from cmdesk.services.server_info import server_now


class Cache(
    StampingQueries,
    ClientQueries,
    LedgerQueries,
    BillingQueries,
    AccountQueries,
    AuditQueries,
    EntityQueries,
    RiskQueries,
    BulkFills,
    CacheStore,
):
    """The local cache of one account on one server: its store and the queries of every entity."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        super().__init__(path, fresh=fresh)
        # A cache an older version wrote keeps NIPs in plain text: seal them now (cache.sealed).
        with self._read() as conn:
            plain = self.plain_rows(conn)
        if plain:
            with self._write() as conn:
                conn.execute("PRAGMA secure_delete = ON")  # the old text does not stay in free space
                try:
                    self.seal_stored(conn)
                finally:
                    conn.execute("PRAGMA secure_delete = OFF")
            with self._write_lock:
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def client_detail(self, client_id: str) -> dict[str, Any]:
        """Everything a client's window shows: the client, its CTIs, movements, invoices, policies,
        licenses and interactions (newest first), the catalog's MKL and the MKL contracted now."""
        now = server_now()
        in_force = [c for c in self.all("contract") if c.get("kind") == "mkl" and contracts.in_force(c, now)]

        def newest(entity: str, key: str) -> list[dict[str, Any]]:
            return sorted(
                self.entities_of_client(entity, client_id), key=lambda r: str(r.get(key)), reverse=True
            )

        return {
            "client": self.get("client", client_id),
            "ctis": self.query_stamping_accounts(client_id=client_id, sort="created_asc", limit=1000),
            "movements": self.query_movements(client_id=client_id, limit=5000),
            "invoices": newest("invoice", "created_at"),
            "policies": newest("support_policy", "ends_on"),
            "licenses": newest("license", "created_at"),
            "interactions": newest("interaction", "occurred_at"),
            "mkl": list((self.catalog() or {}).get("mkl") or []),
            "contracted": sorted({str(c.get("code")) for c in in_force}),
        }


__all__ = [
    "CLIENT_ORDERS",
    "CTI_ORDERS",
    "SCHEMA_VERSION",
    "TYPED_ENTITIES",
    "Cache",
    "client_search_text",
    "deep_merge",
    "fold",
    "sort_key",
    "sortable_time",
]
