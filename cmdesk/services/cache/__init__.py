"""The desktop's local cache: a disposable SQLite mirror of what the server's change feed sends.

    cache = Cache(folder / "cache.sqlite3")
    cache.apply_page(changes, cursor)          # the sync engine's pull
    cache.query_clients(q="martínez", sort="stamps_desc", limit=100)

- `schema`: the tables and indexes of its two files (the cache, and its search index beside it);
- `rows`: how a record the server sends becomes a typed row (the keys its sorts and search use);
- `store`: opening, writing the feed and the commands' answers, the optimistic values' storage;
- the queries, named by entity: `clients` (the portfolio), `stamping` (CTIs and their daily usage),
  `ledger` (movements, sales to invoice), `entities` (everything else, on its JSON).

Which optimistic values are laid over the cache is `cmdesk.services.overlays`' business.
"""

from __future__ import annotations

from cmdesk.domain.field_paths import deep_merge
from cmdesk.domain.text import fold, sort_key
from cmdesk.services.cache.clients import CLIENT_ORDERS, ClientQueries
from cmdesk.services.cache.entities import EntityQueries
from cmdesk.services.cache.ledger import LedgerQueries
from cmdesk.services.cache.rows import TYPED_ENTITIES, client_search_text, sortable_time
from cmdesk.services.cache.schema import SCHEMA_VERSION
from cmdesk.services.cache.stamping import CTI_ORDERS, StampingQueries
from cmdesk.services.cache.store import CacheStore


class Cache(StampingQueries, ClientQueries, LedgerQueries, EntityQueries, CacheStore):
    """The local cache of one account on one server: its store and the queries of every entity."""


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
