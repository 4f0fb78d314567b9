"""The desktop's local cache: a disposable SQLite mirror of what the server's change feed sends.

Every synced entity is kept as the server sent it in `entities` (JSON), and the ones the views list
have a typed table too (`clients`, `stamping_accounts`, `movements`, `distributors`) with an index on
every sort column, so sorting, filtering and paging happen in SQL even at 100,000 clients. Client
search uses an FTS5 trigram index (substring matching, API.md's `q`) when this SQLite has the trigram
tokenizer, and `LIKE` over a `search` column otherwise.

Optimistic values: `apply_local` lays a user's pending change over the server's copy (in `local`),
marks the typed row `pending`, and `restore` drops it again; the server's copy is never overwritten
by a local value, so a rejected command leaves nothing behind.

The files are disposable: a cache with another `SCHEMA_VERSION` (or unreadable) is deleted and made
anew, and the next sync fills it. Two connections (a writer and a reader) over WAL let the views read
while a sync writes.

The search index lives in a file of its own beside the cache (`<name>-search.sqlite3`, attached as
`fts`), so that after a first sync it is built on one core while the sort indexes are built on the
other (SQLite writes one file at a time). Temporary triggers of the writer connection keep it in step
with `clients`, in the same transactions. Two files do not commit atomically together: each write
transaction also counts itself in both (`search_generation`), and a cache whose counts differ on
opening (the program stopped between the two commits) searches with `LIKE` until the next sync has
built the index again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
# WAL pages between checkpoints while an empty cache is filled (the default is 1,000).
BULK_AUTOCHECKPOINT = 50_000
# Page caches (negative: KiB): of the cache's file for each connection, of the search file (searches
# read a few posting lists), the smaller one the sorts of `finish_pull` use, and the search file's
# while its index is built (merging segments: with half of it, the build takes twice as long).
CACHE_KB = -65536
SEARCH_CACHE_KB = -16384
INDEX_BUILD_CACHE_KB = -2048
SEARCH_BUILD_CACHE_KB = -32768

Listener = Callable[[set[str]], None]

# Entities with a typed table (the others live only in `entities`).
TYPED_ENTITIES = ("client", "stamping_account", "movement", "distributor")


def _trigram_available() -> bool:
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as conn:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='trigram')")
        return True
    except sqlite3.Error:
        return False


FTS_AVAILABLE = _trigram_available()
SEARCH_MODE = "fts5-trigram" if FTS_AVAILABLE else "like"


# ---- Normalization ----------------------------------------------------------------------------------


_COMBINING = re.compile("[\u0300-\u036f]")


def fold(text: str | None) -> str:
    """Text for matching: lower case, without accents (`José Peña` → `jose pena`)."""
    if not text:
        return ""
    text = text.casefold()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def sort_key(text: str | None) -> str:
    """Text for sorting names as Spanish does: like `fold`, but ñ right after n (`Ñandú` after `Nube`)."""
    if not text:
        return ""
    return fold(text.replace("ñ", "n~").replace("Ñ", "n~"))


def sortable_time(value: Any) -> str | None:
    """An ISO 8601 time as fixed-width UTC text (`2026-05-01T10:00:00.000000Z`), which sorts as text."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value[10:11] == "T":
        # UTC as the server writes it (`…:00+00:00`, `…:00.123456+00:00`, or with `Z`): pad the
        # fraction, no parsing needed (a first sync has a million of these).
        body = value[:-1] if value[-1:] == "Z" else value[:-6] if value[-6:] == "+00:00" else ""
        if len(body) == 19:
            return body + ".000000Z"
        if 19 < len(body) <= 26 and body[19] == "." and body[20:].isdigit():
            return body.ljust(26, "0") + "Z"
    try:
        parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _nic_num(nic: Any) -> int | None:
    try:
        return int(str(nic))
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `over` laid on top; nested dicts merge key by key."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = deep_merge(current, value)
        else:
            out[key] = value
    return out


# orjson writes what json.dumps(ensure_ascii=False, separators=(",", ":"), default=str) writes, several
# times faster (the first sync stores 250,000 entities): datetimes and dataclasses go to `default=str`
# as with json; what orjson refuses (non-string keys, integers beyond 64 bits) is written by json.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _dumps(data: Any) -> str:
    try:
        return orjson.dumps(data, default=str, option=_ORJSON_OPTIONS).decode("utf-8")
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


# ---- Projections: API dict → typed row ---------------------------------------------------------------

# The contacts' name, email, phone and phone_alt are searched too.
_CONTACT_SECTIONS = ("legal_representative", "financial_contact", "technical_contact")


def client_search_text(data: Mapping[str, Any]) -> str:
    """What API.md's `q` matches on a client (CTI ids are kept apart, in `cti_ids`)."""
    get = data.get
    parts = [get("nic"), get("name"), get("trade_name"), get("rfc"), get("phone"), get("email")]
    for section in _CONTACT_SECTIONS:
        values = get(section)
        if values:
            parts += (values.get("name"), values.get("email"), values.get("phone"), values.get("phone_alt"))
    # Each word once: the trigram index costs per character, and contacts often repeat the company's.
    words = dict.fromkeys(fold(" ".join([p for p in parts if p and isinstance(p, str)])).split())
    return " ".join(words)


CLIENT_COLUMNS = (
    "id",
    "nic",
    "nic_num",
    "name",
    "name_key",
    "trade_name",
    "rfc",
    "phone",
    "email",
    "favorite",
    "dropped",
    "color",
    "stamps",
    "points",
    "credited",
    "issued",
    "created_at",
    "last_purchase_at",
    "last_issue_at",
    "search",
    "version",
    "pending",
)


def _client_row(data: Mapping[str, Any], pending: bool) -> tuple[Any, ...]:
    balances = data.get("balances") or {}
    return (
        data["id"],
        data.get("nic") or "",
        _nic_num(data.get("nic")),
        data.get("name") or "",
        sort_key(data.get("name")),
        data.get("trade_name") or "",
        data.get("rfc") or "",
        data.get("phone") or "",
        data.get("email") or "",
        1 if data.get("favorite") else 0,
        1 if data.get("dropped") else 0,
        data.get("color"),
        _int(balances.get("stamps")),
        _int(balances.get("points")),
        _int(data.get("credited")),
        _int(data.get("issued")),
        sortable_time(data.get("created_at")),
        sortable_time(data.get("last_purchase_at")),
        sortable_time(data.get("last_issue_at")),
        client_search_text(data),
        data.get("version"),
        1 if pending else 0,
    )


CTI_COLUMNS = (
    "id",
    "id_key",
    "client_id",
    "kind",
    "active",
    "credited",
    "issued",
    "balance",
    "rfc_restriction",
    "paid_until",
    "created_at",
    "first_issue_at",
    "last_issue_at",
    "last_purchase_at",
    "auto_sale_enabled",
    "auto_sale_minimum",
    "auto_sale_credit",
    "auto_sale_amount_cents",
    "version",
    "pending",
)


def _cti_row(data: Mapping[str, Any], pending: bool) -> tuple[Any, ...]:
    rule = data.get("auto_sale") or None
    balance = data.get("balance")
    return (
        data["id"],
        fold(data["id"]),
        data.get("client_id") or "",
        data.get("kind") or "standard",
        1 if data.get("active", True) else 0,
        _int(data.get("credited")),
        _int(data.get("issued")),
        balance if isinstance(balance, int) else None,
        data.get("rfc_restriction"),
        sortable_time(data.get("paid_until")),
        sortable_time(data.get("created_at")),
        sortable_time(data.get("first_issue_at")),
        sortable_time(data.get("last_issue_at")),
        sortable_time(data.get("last_purchase_at")),
        None if rule is None else (1 if rule.get("enabled") else 0),
        None if rule is None else rule.get("minimum"),
        None if rule is None else rule.get("credit"),
        None if rule is None else rule.get("amount_cents"),
        data.get("version"),
        1 if pending else 0,
    )


MOVEMENT_COLUMNS = (
    "id",
    "kind",
    "asset",
    "quantity",
    "amount_cents",
    "source_type",
    "source_id",
    "target_type",
    "target_id",
    "client_id",
    "account_id",
    "comments",
    "created_at",
    "created_by",
    "invoice_id",
    "top_up_code_id",
    "contract_id",
    "version",
    "pending",
)


def _movement_row(data: Mapping[str, Any], pending: bool) -> tuple[Any, ...]:
    source = data.get("source") or {}
    target = data.get("target") or {}
    return (
        data["id"],
        data.get("kind") or "",
        data.get("asset") or "",
        _int(data.get("quantity")),
        _int(data.get("amount_cents")),
        source.get("type"),
        source.get("id"),
        target.get("type"),
        target.get("id"),
        data.get("client_id"),
        data.get("account_id"),
        data.get("comments") or "",
        sortable_time(data.get("created_at")),
        data.get("created_by"),
        data.get("invoice_id"),
        data.get("top_up_code_id"),
        data.get("contract_id"),
        data.get("version"),
        1 if pending else 0,
    )


DISTRIBUTOR_COLUMNS = (
    "id",
    "nic",
    "nic_num",
    "name",
    "name_key",
    "rfc",
    "email",
    "phone",
    "status",
    "stamps",
    "points",
    "created_at",
    "expires_at",
    "version",
    "pending",
)


def _distributor_row(data: Mapping[str, Any], pending: bool) -> tuple[Any, ...]:
    balances = data.get("balances") or {}
    return (
        data["id"],
        data.get("nic") or "",
        _nic_num(data.get("nic")),
        data.get("name") or "",
        sort_key(data.get("name")),
        data.get("rfc") or "",
        data.get("email") or "",
        data.get("phone") or "",
        data.get("status") or "",
        _int(balances.get("stamps")),
        _int(balances.get("points")),
        sortable_time(data.get("created_at")),
        sortable_time(data.get("expires_at")),
        data.get("version"),
        1 if pending else 0,
    )


_TYPED: dict[str, tuple[str, tuple[str, ...], Callable[[Mapping[str, Any], bool], tuple[Any, ...]]]] = {
    "client": ("clients", CLIENT_COLUMNS, _client_row),
    "stamping_account": ("stamping_accounts", CTI_COLUMNS, _cti_row),
    "movement": ("movements", MOVEMENT_COLUMNS, _movement_row),
    "distributor": ("distributors", DISTRIBUTOR_COLUMNS, _distributor_row),
}


def _upsert_sql(table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {sets}"


_UPSERT = {entity: _upsert_sql(table, cols) for entity, (table, cols, _) in _TYPED.items()}


def _CTI_IDS_OF(client: str) -> str:
    return (
        "coalesce((SELECT group_concat(s.id_key, ' ') FROM stamping_accounts s"
        f" WHERE s.client_id = {client}), '')"
    )


def _ACTIVE_OF(client: str) -> str:
    return f"coalesce((SELECT max(s.active) FROM stamping_accounts s WHERE s.client_id = {client}), 0)"


def _client_upsert_sql() -> str:
    cols = [*CLIENT_COLUMNS, "cti_ids", "active"]
    marks = ", ".join("?" for _ in CLIENT_COLUMNS) + f", {_CTI_IDS_OF('?')}, {_ACTIVE_OF('?')}"
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
    return f"INSERT INTO clients ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {sets}"


# A client row takes its CTI ids and "any CTI active" from the CTIs stored (parameters: the row, then
# the client id twice).
_CLIENT_UPSERT = _client_upsert_sql()

_CLIENT_LINK_COLUMNS = ("client_nic", "client_nic_num", "client_name", "client_name_key")


def _client_fields(client: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """A CTI's copy of its client's NIC and name, when the client comes in the same page."""
    if client is None:
        return (None, None, None, None)
    return (
        client.get("nic") or "",
        _nic_num(client.get("nic")),
        client.get("name") or "",
        sort_key(client.get("name")),
    )


def _cti_upsert_sql() -> str:
    cols = [*CTI_COLUMNS, *_CLIENT_LINK_COLUMNS]
    sources = {
        "client_nic": "nic",
        "client_nic_num": "nic_num",
        "client_name": "name",
        "client_name_key": "name_key",
    }
    marks = (
        ", ".join("?" for _ in CTI_COLUMNS)
        + ", "
        + ", ".join(
            f"coalesce(?, (SELECT c.{sources[c]} FROM clients c WHERE c.id = ?)"
            + ("" if c == "client_nic_num" else ", ''")
            + ")"
            for c in _CLIENT_LINK_COLUMNS
        )
    )
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
    return (
        f"INSERT INTO stamping_accounts ({', '.join(cols)}) VALUES ({marks})"
        f" ON CONFLICT(id) DO UPDATE SET {sets}"
    )


_CTI_UPSERT = _cti_upsert_sql()


def _cti_params(data: Mapping[str, Any], pending: bool, client: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """`_CTI_UPSERT`'s parameters: the row, then for each client field its value from the page (or
    None: read from the stored client) and the client id."""
    client_id = data.get("client_id")
    linked = [value for field in _client_fields(client) for value in (field, client_id)]
    return (*_cti_row(data, pending), *linked)


_CTI_CLIENT_FIELDS_SQL = """
UPDATE stamping_accounts SET client_nic = c.nic, client_nic_num = c.nic_num, client_name = c.name,
    client_name_key = c.name_key
FROM clients c
WHERE c.id = stamping_accounts.client_id AND c.id IN (SELECT id FROM affected_clients)
    AND (stamping_accounts.client_name IS NOT c.name OR stamping_accounts.client_nic IS NOT c.nic)
"""


# ---- Schema -----------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
-- A rowid table: its rows (JSON of ~1 KB) are too big for a WITHOUT ROWID b-tree.
CREATE TABLE entities (
    rowid INTEGER PRIMARY KEY, entity TEXT NOT NULL, id TEXT NOT NULL, version INTEGER, data TEXT NOT NULL,
    UNIQUE (entity, id)
);
CREATE TABLE local (
    entity TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, local_only INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;

CREATE TABLE clients (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, nic TEXT NOT NULL, nic_num INTEGER,
    name TEXT NOT NULL, name_key TEXT NOT NULL, trade_name TEXT NOT NULL, rfc TEXT NOT NULL,
    phone TEXT NOT NULL, email TEXT NOT NULL, favorite INTEGER NOT NULL, dropped INTEGER NOT NULL,
    color TEXT, stamps INTEGER NOT NULL, points INTEGER NOT NULL, credited INTEGER NOT NULL,
    issued INTEGER NOT NULL, created_at TEXT, last_purchase_at TEXT, last_issue_at TEXT,
    active INTEGER NOT NULL DEFAULT 0, cti_ids TEXT NOT NULL DEFAULT '', search TEXT NOT NULL,
    version INTEGER, pending INTEGER NOT NULL DEFAULT 0
);
-- One index per order of the manual (DESC orders scan the same index backwards; SQLite puts NULLs
-- first ascending, so the ascending date orders, which want them last, use an expression index).
CREATE INDEX ix_clients_name ON clients (name_key, id);
CREATE INDEX ix_clients_nic ON clients (nic_num, id);
CREATE INDEX ix_clients_stamps ON clients (stamps, id);
CREATE INDEX ix_clients_points ON clients (points, id);
CREATE INDEX ix_clients_last_purchase ON clients (last_purchase_at, id);
CREATE INDEX ix_clients_last_purchase_asc ON clients (coalesce(last_purchase_at, '~'), id);
CREATE INDEX ix_clients_created ON clients (created_at, id);
CREATE INDEX ix_clients_last_issue ON clients (last_issue_at, id);
CREATE INDEX ix_clients_last_issue_asc ON clients (coalesce(last_issue_at, '~'), id);
CREATE INDEX ix_clients_rfc ON clients (rfc, id);
CREATE INDEX ix_clients_credited ON clients (credited, id);
CREATE INDEX ix_clients_issued ON clients (issued, id);
CREATE INDEX ix_clients_favorite ON clients (favorite, name_key, id) WHERE favorite = 1;
CREATE INDEX ix_clients_dropped ON clients (dropped, name_key, id) WHERE dropped = 1;
CREATE INDEX ix_clients_color ON clients (color, name_key, id) WHERE color IS NOT NULL;

CREATE TABLE stamping_accounts (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, id_key TEXT NOT NULL, client_id TEXT NOT NULL,
    client_nic TEXT NOT NULL DEFAULT '', client_nic_num INTEGER, client_name TEXT NOT NULL DEFAULT '',
    client_name_key TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL, active INTEGER NOT NULL,
    credited INTEGER NOT NULL, issued INTEGER NOT NULL, balance INTEGER, rfc_restriction TEXT,
    paid_until TEXT, created_at TEXT, first_issue_at TEXT, last_issue_at TEXT, last_purchase_at TEXT,
    auto_sale_enabled INTEGER, auto_sale_minimum INTEGER, auto_sale_credit INTEGER,
    auto_sale_amount_cents INTEGER, version INTEGER, pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_cti_client ON stamping_accounts (client_id, created_at, id);
CREATE INDEX ix_cti_client_name ON stamping_accounts (client_name_key, client_id, created_at, id);
CREATE INDEX ix_cti_client_nic ON stamping_accounts (client_nic_num, created_at, id);
CREATE INDEX ix_cti_created ON stamping_accounts (created_at, id);
CREATE INDEX ix_cti_first_issue ON stamping_accounts (first_issue_at, id);
CREATE INDEX ix_cti_last_issue ON stamping_accounts (last_issue_at, id);
CREATE INDEX ix_cti_last_purchase ON stamping_accounts (last_purchase_at, id);
CREATE INDEX ix_cti_balance ON stamping_accounts (balance, id);
CREATE INDEX ix_cti_credited ON stamping_accounts (credited, id);
CREATE INDEX ix_cti_issued ON stamping_accounts (issued, id);
CREATE INDEX ix_cti_id_key ON stamping_accounts (id_key);

CREATE TABLE movements (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, asset TEXT NOT NULL,
    quantity INTEGER NOT NULL, amount_cents INTEGER NOT NULL, source_type TEXT, source_id TEXT,
    target_type TEXT, target_id TEXT, client_id TEXT, account_id TEXT, comments TEXT NOT NULL,
    created_at TEXT, created_by TEXT, invoice_id TEXT, top_up_code_id TEXT, contract_id TEXT,
    version INTEGER, pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_movements_created ON movements (created_at, id);
CREATE INDEX ix_movements_client ON movements (client_id, created_at, id);
CREATE INDEX ix_movements_target ON movements (target_id, created_at, id);

CREATE TABLE distributors (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, nic TEXT NOT NULL, nic_num INTEGER,
    name TEXT NOT NULL, name_key TEXT NOT NULL, rfc TEXT NOT NULL, email TEXT NOT NULL,
    phone TEXT NOT NULL, status TEXT NOT NULL, stamps INTEGER NOT NULL, points INTEGER NOT NULL,
    created_at TEXT, expires_at TEXT, version INTEGER, pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_distributors_nic ON distributors (nic_num, id);
CREATE INDEX ix_distributors_status ON distributors (status, nic_num, id);
"""

# The search file (attached as `fts`): the trigram index of `clients` (contentless: the text is in
# `clients`; the index holds the rowids) and the count of write transactions (see the module docstring).
_SEARCH_SCHEMA = """
CREATE TABLE fts.state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO fts.state (key, value) VALUES ('generation', 0);
"""

_FTS_TABLE = """
CREATE VIRTUAL TABLE fts.clients_fts USING fts5(search, cti_ids, content='', tokenize='trigram');
"""

# Temporary triggers (per connection: the writer's) may write a table of another attached file; the
# table is named without its schema inside a trigger, and `clients_fts` exists only in `fts`.
_FTS_TRIGGERS = """
CREATE TEMP TRIGGER IF NOT EXISTS clients_fts_insert AFTER INSERT ON main.clients BEGIN
    INSERT INTO clients_fts (rowid, search, cti_ids) VALUES (new.rowid, new.search, new.cti_ids);
END;
CREATE TEMP TRIGGER IF NOT EXISTS clients_fts_delete AFTER DELETE ON main.clients BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, search, cti_ids)
    VALUES ('delete', old.rowid, old.search, old.cti_ids);
END;
CREATE TEMP TRIGGER IF NOT EXISTS clients_fts_update AFTER UPDATE OF search, cti_ids ON main.clients
WHEN old.search IS NOT new.search OR old.cti_ids IS NOT new.cti_ids BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, search, cti_ids)
    VALUES ('delete', old.rowid, old.search, old.cti_ids);
    INSERT INTO clients_fts (rowid, search, cti_ids) VALUES (new.rowid, new.search, new.cti_ids);
END;
"""

_DROP_FTS_TRIGGERS = """
DROP TRIGGER IF EXISTS temp.clients_fts_insert;
DROP TRIGGER IF EXISTS temp.clients_fts_delete;
DROP TRIGGER IF EXISTS temp.clients_fts_update;
"""

_SEARCH_FLAGS = "SELECT key, value FROM meta WHERE key IN ('bulk_fill', 'search_stale', 'search_generation')"

_BUMP_GENERATION = (
    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'search_generation'",
    "UPDATE fts.state SET value = value + 1 WHERE key = 'generation'",
)

# The indexes built after filling an empty cache (see `Cache._bulk_fill`). `ix_cti_client` stays: the
# upserts themselves look CTIs up by client.
_DEFERRED_INDEXES: dict[str, str] = {
    m.group(1): m.group(0)
    for m in re.finditer(r"CREATE INDEX (\w+) ON [^;]+", _SCHEMA)
    if m.group(1) != "ix_cti_client"
}

_DATA_TABLES = ("entities", "local", "clients", "stamping_accounts", "movements", "distributors")


# ---- Queries: the orders --------------------------------------------------------------------------

# The manual's twelve orders (API.md `sort`) plus column sorts (`<column>` / `<column>_desc`).
# Every one is satisfied by an index above: no sorting step, whatever the number of clients.
CLIENT_ORDERS: dict[str, str] = {
    "name": "name_key, id",
    "name_desc": "name_key DESC, id DESC",
    "nic": "nic_num, id",
    "nic_desc": "nic_num DESC, id DESC",
    "stamps_desc": "stamps DESC, id DESC",
    "stamps_asc": "stamps, id",
    "points_desc": "points DESC, id DESC",
    "points_asc": "points, id",
    "last_purchase_desc": "last_purchase_at DESC, id DESC",
    "last_purchase_asc": "coalesce(last_purchase_at, '~'), id",
    "created_desc": "created_at DESC, id DESC",
    "created_asc": "created_at, id",
    "last_issue_desc": "last_issue_at DESC, id DESC",
    "last_issue_asc": "coalesce(last_issue_at, '~'), id",
    "rfc": "rfc, id",
    "rfc_desc": "rfc DESC, id DESC",
    "credited": "credited, id",
    "credited_desc": "credited DESC, id DESC",
    "issued": "issued, id",
    "issued_desc": "issued DESC, id DESC",
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

CATEGORIES = ("all", "favorites", "dropped")

CTI_ORDERS: dict[str, str] = {
    "client": "client_name_key, client_id, created_at, id",
    "client_desc": "client_name_key DESC, client_id DESC, created_at DESC, id DESC",
    "nic": "client_nic_num, created_at, id",
    "nic_desc": "client_nic_num DESC, created_at DESC, id DESC",
    "id": "id",
    "id_desc": "id DESC",
    "created_asc": "created_at, id",
    "created_desc": "created_at DESC, id DESC",
    "first_issue_asc": "first_issue_at, id",
    "first_issue_desc": "first_issue_at DESC, id DESC",
    "last_issue_asc": "last_issue_at, id",
    "last_issue_desc": "last_issue_at DESC, id DESC",
    "last_purchase_asc": "last_purchase_at, id",
    "last_purchase_desc": "last_purchase_at DESC, id DESC",
    "balance_asc": "balance, id",
    "balance_desc": "balance DESC, id DESC",
    "credited_asc": "credited, id",
    "credited_desc": "credited DESC, id DESC",
    "issued_asc": "issued, id",
    "issued_desc": "issued DESC, id DESC",
}

_BOOL_COLUMNS = {"favorite", "dropped", "active", "pending", "auto_sale_enabled"}


def _like_pattern(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


class Cache:
    """The local cache of one account on one server (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.search_path = self.path.with_name(f"{self.path.stem}-search{self.path.suffix}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.RLock()
        self._read_lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._writer = self._open_writer()
        self._reader = self._connect()

    # ---- opening ----------------------------------------------------------------------------------

    def _connect(
        self, main_cache_kb: int = CACHE_KB, search_cache_kb: int = SEARCH_CACHE_KB
    ) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("ATTACH DATABASE ? AS fts", (str(self.search_path),))
        for schema, cache_kb in (("main", main_cache_kb), ("fts", search_cache_kb)):
            conn.execute(f"PRAGMA {schema}.journal_mode=WAL")
            # Disposable data: a power loss may lose the last pages, which the next sync brings again.
            conn.execute(f"PRAGMA {schema}.synchronous=NORMAL")
            conn.execute(f"PRAGMA {schema}.cache_size = {cache_kb}")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            mode = None
            if version == SCHEMA_VERSION and conn.execute("PRAGMA fts.user_version").fetchone()[0] == version:
                row = conn.execute("SELECT value FROM meta WHERE key = 'search_mode'").fetchone()
                mode = row[0] if row else None
                if mode == SEARCH_MODE:
                    self._check_search(conn)
        except sqlite3.DatabaseError as exc:
            log.warning("cache %s unreadable (%s); it is rebuilt", self.path, exc)
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            version, mode = 0, None
        else:
            if version == SCHEMA_VERSION and mode == SEARCH_MODE:
                return conn
            if version:
                log.info(
                    "cache %s has schema %s (wanted %s); it is rebuilt", self.path, version, SCHEMA_VERSION
                )
            conn.close()
        self._delete_files()
        conn = self._connect()
        conn.executescript(
            "BEGIN;"
            + _SCHEMA
            + _SEARCH_SCHEMA
            + (_FTS_TABLE + _FTS_TRIGGERS if FTS_AVAILABLE else "")
            + "COMMIT;"
        )
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("search_mode", SEARCH_MODE), ("search_generation", 0)],
        )
        conn.execute(f"PRAGMA fts.user_version = {SCHEMA_VERSION}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return conn

    def _check_search(self, conn: sqlite3.Connection) -> None:
        """On opening: whether the search index matches `clients` (see the module docstring); the
        triggers that keep it so are laid unless it is being filled or has to be built again."""
        if not FTS_AVAILABLE:
            return
        flags = dict(conn.execute(_SEARCH_FLAGS).fetchall())
        generation = conn.execute("SELECT value FROM fts.state WHERE key = 'generation'").fetchone()
        if generation is None or int(flags.get("search_generation", -1)) != generation[0]:
            if "search_stale" not in flags:
                log.warning("search index of %s out of step with the cache; it is built again", self.path)
                conn.execute("INSERT INTO meta (key, value) VALUES ('search_stale', '1')")
            return
        if "bulk_fill" not in flags and "search_stale" not in flags:
            self._exec_script(conn, _FTS_TRIGGERS)

    def _delete_files(self) -> None:
        for base in (self.path, self.search_path):
            for suffix in ("", "-wal", "-shm", "-journal"):
                candidate = base.with_name(base.name + suffix)
                with contextlib.suppress(FileNotFoundError):
                    candidate.unlink()

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._writer.close()

    # ---- listeners ----------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(changed_entities)` after every change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, changed: set[str]) -> None:
        if not changed:
            return
        for listener in list(self._listeners):
            try:
                listener(set(changed))
            except Exception:
                log.exception("cache listener failed")

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                for statement in _BUMP_GENERATION:
                    conn.execute(statement)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock:
            yield self._reader

    # ---- meta -------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        with self._write() as conn:
            self._set_meta(conn, key, value)

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                (key, value, value),
            )

    @property
    def cursor(self) -> str | None:
        return self.get_meta("cursor")

    @property
    def account_id(self) -> str | None:
        return self.get_meta("account_id")

    @property
    def last_sync_at(self) -> dt.datetime | None:
        value = self.get_meta("last_sync_at")
        return dt.datetime.fromisoformat(value) if value else None

    def mark_synced(self, when: dt.datetime | None = None) -> None:
        self.set_meta("last_sync_at", (when or dt.datetime.now(dt.UTC)).isoformat())

    def catalog(self) -> dict[str, Any] | None:
        value = self.get_meta("catalog")
        return json.loads(value) if value else None

    def set_catalog(self, catalog: Mapping[str, Any]) -> None:
        self.set_meta("catalog", _dumps(catalog))
        self._notify({"catalog"})

    # ---- writing the server's data --------------------------------------------------------------------

    def apply_page(self, changes: Sequence[Mapping[str, Any]], cursor: str | None) -> set[str]:
        """Apply one page of `/v1/sync/changes` and move the cursor, in one transaction (the cursor
        never gets ahead of what the cache holds). Returns the entities that changed."""
        with self._write() as conn:
            if self._bulk_fill(conn):
                # Fewer, larger checkpoints while the file grows by hundreds of MB (see finish_pull).
                conn.execute(f"PRAGMA wal_autocheckpoint = {BULK_AUTOCHECKPOINT}")
            changed = self._apply(conn, changes, guard=False)
            if cursor is not None:
                self._set_meta(conn, "cursor", cursor)
        self._notify(changed)
        return changed

    def _bulk_fill(self, conn: sqlite3.Connection) -> bool:
        """Whether an empty cache is being filled from the beginning of the feed. Then the sort
        indexes and the search index are built once at the end (`finish_pull`): inserting 250,000 rows
        into two dozen indexes row by row, page after page, is several times slower (and gets slower
        as the file outgrows the page cache) than sorting each index once."""
        meta = dict(
            conn.execute("SELECT key, value FROM meta WHERE key IN ('cursor', 'bulk_fill')").fetchall()
        )
        if "bulk_fill" in meta:
            return True
        if meta or conn.execute("SELECT 1 FROM clients LIMIT 1").fetchone() is not None:
            return False
        for name in _DEFERRED_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        if FTS_AVAILABLE:
            self._exec_script(conn, _DROP_FTS_TRIGGERS)
        self._set_meta(conn, "bulk_fill", "1")
        return True

    @staticmethod
    def _exec_script(conn: sqlite3.Connection, script: str) -> None:
        # executescript() would commit the open transaction: run the statements one by one.
        buffer = ""
        for line in script.splitlines(keepends=True):
            buffer += line
            if sqlite3.complete_statement(buffer):
                conn.execute(buffer)
                buffer = ""

    def finish_pull(self) -> None:
        """End of a pull: build what filling an empty cache put off (the sort indexes and the search
        index), or the search index alone when it was found out of step. The search index is built
        by another connection, into its own file, while this one builds the sort indexes."""
        with self._write_lock:
            conn = self._writer
            flags = dict(conn.execute(_SEARCH_FLAGS).fetchall())
            bulk = "bulk_fill" in flags
            build_search = FTS_AVAILABLE and (bulk or "search_stale" in flags)
            if not bulk and not build_search:
                return
            # A count neither file has had: the two agree again once both have committed.
            searched = conn.execute("SELECT value FROM fts.state WHERE key = 'generation'").fetchone()
            generation = max(int(flags.get("search_generation", 0)), searched[0] if searched else 0) + 1
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmdesk-search") as pool:
                search = pool.submit(self._build_search, generation) if build_search else None
                if bulk:
                    # BEGIN, not BEGIN IMMEDIATE: this transaction writes the cache's file only (the
                    # other connection writes the search file). Committed without waiting for the
                    # search index: `q` is matched with LIKE until that is there too.
                    with self._transaction(conn, "BEGIN"):
                        self._build_indexes(conn)
                        self._set_meta(conn, "bulk_fill", None)
                        if search is not None:
                            self._set_meta(conn, "search_stale", "1")
                    conn.execute("PRAGMA wal_autocheckpoint = 1000")
                    conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
                if search is not None:
                    search.result()
                    with self._transaction(conn, "BEGIN"):
                        self._exec_script(conn, _FTS_TRIGGERS)
                        self._set_meta(conn, "search_generation", str(generation))
                        self._set_meta(conn, "search_stale", None)

    @staticmethod
    @contextlib.contextmanager
    def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
        conn.execute(begin)
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @staticmethod
    def _build_indexes(conn: sqlite3.Connection) -> None:
        # Each index is one sort of 100,000-odd keys: SQLite sorts in runs as large as the page cache,
        # and sorting (then merging) runs of a few MB is faster than one run of 64 MB.
        conn.execute(f"PRAGMA cache_size = {INDEX_BUILD_CACHE_KB}")
        try:
            for statement in _DEFERRED_INDEXES.values():
                conn.execute(statement)
        finally:
            conn.execute(f"PRAGMA cache_size = {CACHE_KB}")

    def _build_search(self, generation: int) -> None:
        """The search index of every client, anew, on a connection of its own (see `finish_pull`).
        It reads `clients` once, in order (no cache needed), and writes and merges the index."""
        conn = self._connect(main_cache_kb=INDEX_BUILD_CACHE_KB, search_cache_kb=SEARCH_BUILD_CACHE_KB)
        try:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO clients_fts (clients_fts) VALUES ('delete-all')")
            conn.execute(
                "INSERT INTO clients_fts (rowid, search, cti_ids)"
                " SELECT rowid, search, cti_ids FROM main.clients ORDER BY rowid"
            )
            conn.execute("UPDATE fts.state SET value = ? WHERE key = 'generation'", (generation,))
            conn.execute("COMMIT")
        finally:
            conn.close()

    def apply_answer(self, entity: str, data: Mapping[str, Any]) -> set[str]:
        """Store an entity the server answered to a command (its current data), unless the cache
        already has a newer version of it."""
        change = {"entity": entity, "id": str(data["id"]), "version": data.get("version"), "data": data}
        with self._write() as conn:
            changed = self._apply(conn, [change], guard=True)
        self._notify(changed)
        return changed

    def _apply(
        self, conn: sqlite3.Connection, changes: Sequence[Mapping[str, Any]], *, guard: bool
    ) -> set[str]:
        upserts: dict[str, dict[str, Mapping[str, Any]]] = {}
        deletes: dict[str, set[str]] = {}
        for change in changes:
            entity, ident = str(change["entity"]), str(change["id"])
            data = change.get("data")
            if change.get("deleted") or data is None:
                deletes.setdefault(entity, set()).add(ident)
                upserts.get(entity, {}).pop(ident, None)
            else:
                upserts.setdefault(entity, {})[ident] = data
                deletes.get(entity, set()).discard(ident)
        if guard:
            self._drop_stale(conn, upserts)
        changed = {e for e, ids in deletes.items() if ids} | {e for e, rows in upserts.items() if rows}
        # Clients whose CTI list (searched by `q`) or "any CTI active" may have changed.
        relinked: set[str] = set()
        for entity, ids in deletes.items():
            if not ids:
                continue
            keys = [(entity, i) for i in ids]
            if entity == "stamping_account":
                relinked.update(client for client, _active in self._cti_state(conn, ids).values())
            conn.executemany("DELETE FROM entities WHERE entity = ? AND id = ?", keys)
            conn.executemany("DELETE FROM local WHERE entity = ? AND id = ?", keys)
            if entity in _TYPED:
                conn.executemany(f"DELETE FROM {_TYPED[entity][0]} WHERE id = ?", [(i,) for i in ids])
        for entity, rows in upserts.items():
            if rows:
                conn.executemany(
                    "INSERT INTO entities (entity, id, version, data) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(entity, id) DO UPDATE SET version = excluded.version, data = excluded.data",
                    [
                        (
                            entity,
                            ident,
                            v if isinstance(v := data.get("version"), int) else None,
                            _dumps(data),
                        )
                        for ident, data in rows.items()
                    ],
                )
        page_clients = upserts.get("client", {})
        # CTIs before clients: a client row computes its CTI ids from the CTIs already stored.
        ctis = upserts.get("stamping_account", {})
        if ctis:
            before = self._cti_state(conn, ctis.keys())
            effective = self._effective(conn, "stamping_account", ctis)
            for data, _pending in effective:
                ident = str(data["id"])
                client_id = str(data.get("client_id") or "")
                active = 1 if data.get("active", True) else 0
                old = before.get(ident)
                if old != (client_id, active):
                    relinked.add(client_id)
                    if old is not None:
                        relinked.add(old[0])
            conn.executemany(
                _CTI_UPSERT,
                [
                    _cti_params(data, pending, page_clients.get(str(data.get("client_id") or "")))
                    for data, pending in effective
                ],
            )
        if page_clients:
            effective = self._effective(conn, "client", page_clients)
            conn.executemany(_CLIENT_UPSERT, [(*_client_row(d, p), d["id"], d["id"]) for d, p in effective])
            # CTIs stored before their client changed name or arrived: bring their copy up to date.
            self._fill_temp(conn, page_clients.keys())
            conn.execute(_CTI_CLIENT_FIELDS_SQL)
        for entity in ("movement", "distributor"):
            rows = upserts.get(entity, {})
            if rows:
                self._project(conn, entity, self._effective(conn, entity, rows))
        relinked.difference_update(page_clients)
        relinked.discard("")
        if relinked:
            self._refresh_client_links(conn, relinked)
        return changed

    @staticmethod
    def _drop_stale(conn: sqlite3.Connection, upserts: dict[str, dict[str, Mapping[str, Any]]]) -> None:
        for entity, rows in upserts.items():
            for ident, data in list(rows.items()):
                row = conn.execute(
                    "SELECT version FROM entities WHERE entity = ? AND id = ?", (entity, ident)
                ).fetchone()
                incoming = data.get("version")
                if row and row[0] is not None and isinstance(incoming, int) and incoming < row[0]:
                    del rows[ident]

    def _effective(
        self, conn: sqlite3.Connection, entity: str, rows: Mapping[str, Mapping[str, Any]]
    ) -> list[tuple[Mapping[str, Any], bool]]:
        """The rows as the views show them: with any optimistic value laid over, marked pending."""
        overlays = self._overlays(conn, entity)
        if not overlays:
            return [(data, False) for data in rows.values()]
        out: list[tuple[Mapping[str, Any], bool]] = []
        for ident, data in rows.items():
            if ident in overlays:
                merged = deep_merge(data, overlays[ident])
                merged["id"] = ident
                out.append((merged, True))
            else:
                out.append((data, False))
        return out

    @staticmethod
    def _overlays(conn: sqlite3.Connection, entity: str) -> dict[str, dict[str, Any]]:
        return {
            row[0]: json.loads(row[1])
            for row in conn.execute("SELECT id, data FROM local WHERE entity = ?", (entity,))
        }

    @staticmethod
    def _cti_state(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """CTI id → (client id, active) of the CTIs the cache holds."""
        out: dict[str, tuple[str, int]] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" for _ in chunk)
            sql = f"SELECT id, client_id, active FROM stamping_accounts WHERE id IN ({marks})"
            out.update({r[0]: (r[1], r[2]) for r in conn.execute(sql, chunk)})
        return out

    @staticmethod
    def _project(
        conn: sqlite3.Connection, entity: str, rows: Iterable[tuple[Mapping[str, Any], bool]]
    ) -> None:
        if entity == "client":
            conn.executemany(_CLIENT_UPSERT, [(*_client_row(d, p), d["id"], d["id"]) for d, p in rows])
        elif entity == "stamping_account":
            conn.executemany(_CTI_UPSERT, [_cti_params(d, p, None) for d, p in rows])
        else:
            conn.executemany(_UPSERT[entity], [_TYPED[entity][2](data, pending) for data, pending in rows])

    @staticmethod
    def _fill_temp(conn: sqlite3.Connection, client_ids: Iterable[str]) -> None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS affected_clients (id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM affected_clients")
        conn.executemany("INSERT OR IGNORE INTO affected_clients (id) VALUES (?)", [(i,) for i in client_ids])

    def _refresh_client_links(self, conn: sqlite3.Connection, client_ids: set[str]) -> None:
        """The denormalized links between clients and their CTIs: a client's CTI ids (searched with
        `q`) and whether any CTI is active; a CTI's client NIC and name (shown and sorted on)."""
        self._fill_temp(conn, client_ids)
        conn.execute(
            f"UPDATE clients SET cti_ids = {_CTI_IDS_OF('clients.id')}, active = {_ACTIVE_OF('clients.id')} "
            "WHERE id IN (SELECT id FROM affected_clients)"
        )
        conn.execute(_CTI_CLIENT_FIELDS_SQL)

    def reset(self) -> None:
        """Forget everything the server sent (and the optimistic values): the next pull starts over."""
        with self._write() as conn:
            if FTS_AVAILABLE:
                # Emptied at once rather than client by client (and so in step again if it was not).
                self._exec_script(conn, _DROP_FTS_TRIGGERS)
                conn.execute("INSERT INTO clients_fts (clients_fts) VALUES ('delete-all')")
                conn.execute(
                    "UPDATE fts.state SET value ="
                    " (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_generation')"
                    " WHERE key = 'generation'"
                )
            for table in _DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")
            for key in ("cursor", "last_sync_at", "catalog", "search_stale", "snapshot"):
                self._set_meta(conn, key, None)
            if FTS_AVAILABLE and not self._bulk_filling(conn):
                self._exec_script(conn, _FTS_TRIGGERS)
        self._notify({*TYPED_ENTITIES, "account"})

    @staticmethod
    def _bulk_filling(conn: sqlite3.Connection) -> bool:
        return conn.execute("SELECT 1 FROM meta WHERE key = 'bulk_fill'").fetchone() is not None

    # ---- filling from a snapshot (issue 20: the loader is cmdesk.services.snapshot) ---------------------

    @contextlib.contextmanager
    def bulk_transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """A transaction of the writer connection for a bulk fill, without the generation count of
        `_write` (the fill keeps the search index in step itself). `BEGIN` locks the cache's file
        only, when it first writes: the search file stays free for the connection that builds the
        index meanwhile; `immediate` locks both files at once (for what writes the search file)."""
        with self._write_lock, self._transaction(self._writer, "BEGIN IMMEDIATE" if immediate else "BEGIN"):
            yield self._writer

    def extra_connection(self, main_cache_kb: int, search_cache_kb: int) -> sqlite3.Connection:
        """Another connection to both files (the search index built on a thread of its own)."""
        return self._connect(main_cache_kb=main_cache_kb, search_cache_kb=search_cache_kb)

    def notify(self, changed: set[str]) -> None:
        """Tell the listeners what a bulk fill changed (the views show the rows already there)."""
        self._notify(changed)

    def end_bulk_writes(self) -> None:
        """Back to ordinary checkpoints after a bulk fill (see `apply_page`)."""
        with self._write_lock:
            self._writer.execute("PRAGMA wal_autocheckpoint = 1000")
            self._writer.execute("PRAGMA main.wal_checkpoint(PASSIVE)")

    # ---- optimistic values --------------------------------------------------------------------------

    def apply_local(self, entity: str, ident: str, data: Mapping[str, Any]) -> set[str]:
        """Lay a pending change over the server's copy (`data` holds the changed fields; for a record
        created offline, all of them). The typed row shows it, marked `pending`."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT data FROM local WHERE entity = ? AND id = ?", (entity, ident)
            ).fetchone()
            server = self._server_copy(conn, entity, ident)
            overlay = deep_merge(json.loads(row[0]), data) if row else dict(data)
            conn.execute(
                "INSERT INTO local (entity, id, data, local_only) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(entity, id) DO UPDATE SET data = excluded.data",
                (entity, ident, _dumps(overlay), 0 if server else 1),
            )
            if entity in _TYPED:
                effective = deep_merge(server or {}, overlay)
                effective["id"] = ident
                self._project(conn, entity, [(effective, True)])
                if entity == "client":
                    self._refresh_client_links(conn, {ident})
                elif entity == "stamping_account":
                    self._refresh_client_links(conn, {str(effective.get("client_id") or "")})
        self._notify({entity})
        return {entity}

    def restore(self, entity: str, ident: str) -> set[str]:
        """Drop the optimistic value: back to the server's copy (or gone, if it was created here)."""
        with self._write() as conn:
            conn.execute("DELETE FROM local WHERE entity = ? AND id = ?", (entity, ident))
            if entity in _TYPED:
                server = self._server_copy(conn, entity, ident)
                table = _TYPED[entity][0]
                if server is None:
                    conn.execute(f"DELETE FROM {table} WHERE id = ?", (ident,))
                else:
                    self._project(conn, entity, [(server, False)])
        self._notify({entity})
        return {entity}

    def local_ids(self, entity: str | None = None) -> list[tuple[str, str]]:
        """(entity, id) of every optimistic value."""
        with self._read() as conn:
            if entity is None:
                return [
                    (r[0], r[1]) for r in conn.execute("SELECT entity, id FROM local ORDER BY entity, id")
                ]
            return [
                (r[0], r[1]) for r in conn.execute("SELECT entity, id FROM local WHERE entity = ?", (entity,))
            ]

    @staticmethod
    def _server_copy(conn: sqlite3.Connection, entity: str, ident: str) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT data FROM entities WHERE entity = ? AND id = ?", (entity, ident)
        ).fetchone()
        return json.loads(row[0]) if row else None

    # ---- reading ------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many rows of each entity the server sent (optimistic records not included)."""
        with self._read() as conn:
            return {
                r[0]: int(r[1]) for r in conn.execute("SELECT entity, count(*) FROM entities GROUP BY entity")
            }

    def server_copy(self, entity: str, ident: str) -> dict[str, Any] | None:
        """The server's copy, without optimistic values."""
        with self._read() as conn:
            return self._server_copy(conn, entity, ident)

    def get(self, entity: str, ident: str) -> dict[str, Any] | None:
        """The entity as the user sees it: the server's copy with any pending change laid over it."""
        with self._read() as conn:
            server = self._server_copy(conn, entity, ident)
            row = conn.execute(
                "SELECT data FROM local WHERE entity = ? AND id = ?", (entity, ident)
            ).fetchone()
        if row is None:
            return server
        merged = deep_merge(server or {}, json.loads(row[0]))
        merged["id"] = ident
        return merged

    def all(self, entity: str) -> list[dict[str, Any]]:
        """Every row of an entity as the user sees it (for the small lists: settings, packages, …)."""
        with self._read() as conn:
            rows = {
                r[0]: json.loads(r[1])
                for r in conn.execute("SELECT id, data FROM entities WHERE entity = ? ORDER BY id", (entity,))
            }
            for ident, data in conn.execute("SELECT id, data FROM local WHERE entity = ?", (entity,)):
                rows[ident] = deep_merge(rows.get(ident, {}), json.loads(data))
                rows[ident]["id"] = ident
        return list(rows.values())

    def account(self) -> dict[str, Any] | None:
        """The signed-in account (its balances included)."""
        account_id = self.account_id
        if account_id:
            return self.get("account", account_id)
        accounts = self.all("account")
        return accounts[0] if len(accounts) == 1 else None

    def _client_where(self, q: str | None, category: str, color: str | None) -> tuple[str, list[Any]]:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        where: list[str] = []
        params: list[Any] = []
        if category == "favorites":
            where.append("favorite = 1")
        elif category == "dropped":
            where.append("dropped = 1")
        if color:
            where.append("color = ?")
            params.append(color)
        words = fold(q).split() if q else []
        use_fts = FTS_AVAILABLE and not self._search_pending()
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
            where.append("rowid IN (SELECT rowid FROM clients_fts WHERE clients_fts MATCH ?)")
            params.append(" AND ".join(_fts_phrase(w) for w in long_words))
        for word in words:
            if word in long_words:
                continue
            where.append("(search LIKE ? ESCAPE '\\' OR cti_ids LIKE ? ESCAPE '\\')")
            params.extend([_like_pattern(word)] * 2)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def _search_pending(self) -> bool:
        """Whether the search index is not there yet (a first sync) or out of step (see `finish_pull`):
        `q` is then matched with LIKE."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM meta WHERE key IN ('bulk_fill', 'search_stale') LIMIT 1"
            ).fetchone()
        return row is not None

    def query_clients(
        self,
        *,
        q: str | None = None,
        category: str = "all",
        color: str | None = None,
        sort: str = "name",
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """A page of the portfolio, filtered and sorted in SQL (see `CLIENT_ORDERS`)."""
        order = CLIENT_ORDERS.get(sort)
        if order is None:
            raise ValueError(f"unknown client sort {sort!r}")
        where, params = self._client_where(q, category, color)
        sql = f"SELECT * FROM clients{where} ORDER BY {order} LIMIT ? OFFSET ?"
        return self._rows(
            sql, [*params, limit, offset], drop=("rowid", "search", "name_key", "nic_num", "cti_ids")
        )

    def count_clients(self, *, q: str | None = None, category: str = "all", color: str | None = None) -> int:
        where, params = self._client_where(q, category, color)
        with self._read() as conn:
            return int(conn.execute(f"SELECT count(*) FROM clients{where}", params).fetchone()[0])

    def explain_clients(self, **filters: Any) -> list[str]:
        """SQLite's plan of `query_clients(**filters)` (for tests and benchmarks)."""
        sort = filters.pop("sort", "name")
        where, params = self._client_where(
            filters.get("q"), filters.get("category", "all"), filters.get("color")
        )
        sql = f"SELECT * FROM clients{where} ORDER BY {CLIENT_ORDERS[sort]} LIMIT ? OFFSET ?"
        with self._read() as conn:
            return [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, [*params, 200, 0])]

    def _cti_where(
        self, q: str | None, client_id: str | None, kind: str | None, active: bool | None
    ) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
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
            params.extend(_like_pattern(w) for w in words)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def query_stamping_accounts(
        self,
        *,
        q: str | None = None,
        client_id: str | None = None,
        kind: str | None = None,
        active: bool | None = None,
        sort: str = "client",
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """A page of the Timbrado tab: CTIs with their client's NIC and name (see `CTI_ORDERS`)."""
        order = CTI_ORDERS.get(sort)
        if order is None:
            raise ValueError(f"unknown stamping account sort {sort!r}")
        where, params = self._cti_where(q, client_id, kind, active)
        sql = f"SELECT * FROM stamping_accounts{where} ORDER BY {order} LIMIT ? OFFSET ?"
        return self._rows(
            sql, [*params, limit, offset], drop=("rowid", "id_key", "client_name_key", "client_nic_num")
        )

    def count_stamping_accounts(
        self,
        *,
        q: str | None = None,
        client_id: str | None = None,
        kind: str | None = None,
        active: bool | None = None,
    ) -> int:
        where, params = self._cti_where(q, client_id, kind, active)
        with self._read() as conn:
            return int(conn.execute(f"SELECT count(*) FROM stamping_accounts{where}", params).fetchone()[0])

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

    def query_distributors(self, status: str | None = None) -> list[dict[str, Any]]:
        """Sub-distributors by NIC, all or those of one status (the Distribuidores tabs)."""
        if status:
            sql, params = "SELECT * FROM distributors WHERE status = ? ORDER BY nic_num, id", [status]
        else:
            sql, params = "SELECT * FROM distributors ORDER BY nic_num, id", []
        return self._rows(sql, params, drop=("rowid", "name_key", "nic_num"))

    def _rows(self, sql: str, params: Sequence[Any], drop: Sequence[str]) -> list[dict[str, Any]]:
        with self._read() as conn:
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        keep = [(i, n) for i, n in enumerate(names) if n not in drop]
        out = []
        for row in rows:
            item = {n: row[i] for i, n in keep}
            for column in _BOOL_COLUMNS.intersection(item):
                if item[column] is not None:
                    item[column] = bool(item[column])
            out.append(item)
        return out

    # ---- additions for the Clientes tab (cmdesk.ui.clientes) -----------------------------------------

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

    # A search page read by walking the view's order: how many rows in order it may look at.
    SEARCH_SCAN_BUDGET = 3000

    def query_clients_page(
        self,
        *,
        q: str | None = None,
        category: str = "all",
        color: str | None = None,
        sort: str = "name",
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """The same rows as `query_clients`, faster for the first pages of a search that matches many
        clients (the Clientes tab's keystrokes: "mar", a phone prefix).

        `query_clients` reads every client the trigram index matches and sorts them all: ~100 ms when
        a third of 100,000 clients match. Here the view's order index is walked first, testing each
        row with LIKE, over at most `SEARCH_SCAN_BUDGET` rows: when the page fills within them it is
        exactly the page `query_clients` returns (the rows come in order, so the first matches are
        the first matches), in a few ms. A rarer search (the page does not fill) falls back to
        `query_clients`, whose match set is then small."""
        order = CLIENT_ORDERS.get(sort)
        if order is None:
            raise ValueError(f"unknown client sort {sort!r}")
        words = fold(q).split() if q else []
        if (
            not words
            or all(len(w) < 3 for w in words)  # the name-prefix search: already an index range
            or offset + limit > self.SEARCH_SCAN_BUDGET
        ):
            return self.query_clients(
                q=q, category=category, color=color, sort=sort, limit=limit, offset=offset
            )
        where, params = self._client_where(None, category, color)
        like = " AND ".join("(search LIKE ? ESCAPE '\\' OR cti_ids LIKE ? ESCAPE '\\')" for _ in words)
        for word in words:
            params.extend([_like_pattern(word)] * 2)
        sql = (
            f"SELECT * FROM (SELECT * FROM clients{where} ORDER BY {order} LIMIT {self.SEARCH_SCAN_BUDGET})"
            f" WHERE {like} ORDER BY {order} LIMIT ? OFFSET ?"
        )
        drop = ("rowid", "search", "name_key", "nic_num", "cti_ids")
        rows = self._rows(sql, [*params, limit, offset], drop=drop)
        if len(rows) == limit:
            return rows
        return self.query_clients(q=q, category=category, color=color, sort=sort, limit=limit, offset=offset)

    # ---- additions for Distribuidores, Facturación, Compras, Herramientas (cmdesk.ui.*) ---------------

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
        params += [_json_path(path) for path, _desc in order]
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
                params.append(_json_path(path))
            else:
                where.append("json_extract(merged, ?) = ?")
                params.extend([_json_path(path), 1 if value is True else 0 if value is False else value])
        if since is not None:
            where.append("json_extract(merged, ?) >= ?")
            params.extend([_json_path(since[0]), since[1]])
        if until is not None:
            where.append("json_extract(merged, ?) < ?")
            params.extend([_json_path(until[0]), until[1]])
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return f"SELECT * FROM ({base}){clause}", params

    _PENDING_SALES_WHERE = (
        "kind IN ('transfer', 'auto_sale') AND amount_cents > 0 AND client_id IS NOT NULL "
        "AND invoice_id IS NULL AND (account_id IS NULL OR account_id = ? OR ? IS NULL)"
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
            f"SELECT * FROM movements WHERE client_id = ? AND {self._PENDING_SALES_WHERE} "
            "ORDER BY created_at, id LIMIT ? OFFSET ?"
        )
        return self._rows(sql, [client_id, account, account, limit, offset], drop=("rowid",))

    def apply_deleted(self, entity: str, ident: str) -> set[str]:
        """The server answered that a record is gone (a deleted price package, a removed user): drop it
        now instead of waiting for the next pull, which brings the same tombstone."""
        return self.apply_page([{"entity": entity, "id": ident, "deleted": True, "data": None}], None)

    # ---- additions for the Timbrado tab (cmdesk.ui.timbrado): daily usage of CTIs ---------------------
    # The feed carries no daily series, so the tab fetches `GET /v1/stamping-accounts/{id}/usage` for
    # the rows on screen and keeps the answer here (C.P.D., D.R. and the consumption chart then work
    # offline with the last value). Created on first use, so caches made before it need no rebuild.

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
        when = (fetched_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat()
        series = [{"date": str(d.get("date")), "issued": _int(d.get("issued"))} for d in daily]
        with self._write() as conn:
            conn.execute(self._USAGE_TABLE)
            conn.execute(
                "INSERT INTO stamping_usage (id, fetched_at, issued, daily) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET fetched_at = excluded.fetched_at, issued = excluded.issued, "
                "daily = excluded.daily",
                (cti_id, when, issued, _dumps(series)),
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


def _json_path(path: str) -> str:
    """`balances.stamps` → `$.balances.stamps` (field names only: letters, digits, `_`, dots)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", path):
        raise ValueError(f"not a field path: {path!r}")
    return "$." + path
