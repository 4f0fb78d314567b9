"""The cache's tables, indexes and search index: the SQL of its two files (see `cmdesk.services.cache`).

`FTS_AVAILABLE` tells whether this SQLite has FTS5's trigram tokenizer; without it `q` is matched with
`LIKE`, and a cache made in the other mode is rebuilt (`SEARCH_MODE` is stored in it). Code reads both
through this module (`schema.FTS_AVAILABLE`), so a test can switch them.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3

SCHEMA_VERSION = 4
# WAL pages between checkpoints while an empty cache is filled (the default is 1,000).
BULK_AUTOCHECKPOINT = 50_000
# Page caches (negative: KiB): of the cache's file for each connection, of the search file (searches
# read a few posting lists), the smaller one the sorts of `finish_pull` use, and the search file's
# while its index is built (merging segments: with half of it, the build takes twice as long).
CACHE_KB = -65536
SEARCH_CACHE_KB = -16384
INDEX_BUILD_CACHE_KB = -2048
SEARCH_BUILD_CACHE_KB = -32768


def _trigram_available() -> bool:
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as conn:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='trigram')")
        return True
    except sqlite3.Error:
        return False


FTS_AVAILABLE = _trigram_available()
SEARCH_MODE = "fts5-trigram" if FTS_AVAILABLE else "like"


SCHEMA = """
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
    version INTEGER, pending INTEGER NOT NULL DEFAULT 0,
    fc_cpd INTEGER, fc_balance INTEGER, days_left INTEGER, risk TEXT
);
-- One index per order of the manual (DESC orders scan the same index backwards; SQLite puts NULLs
-- first ascending, so the ascending date orders, which want them last, use an expression index).
-- Ties are broken by rowid, which every index holds anyway (`ORDER BY …, rowid`): with the 32-letter
-- id as a last column each index was twice the size, and building the 31 of a first sync (100,000
-- clients + 150,000 CTIs) took 5.7–6.9 s of CPU instead of 2.8–3.9 s (under load).
CREATE INDEX ix_clients_name ON clients (name_key);
CREATE INDEX ix_clients_nic ON clients (nic_num);
CREATE INDEX ix_clients_stamps ON clients (stamps);
CREATE INDEX ix_clients_points ON clients (points);
CREATE INDEX ix_clients_last_purchase ON clients (last_purchase_at);
CREATE INDEX ix_clients_last_purchase_asc ON clients (coalesce(last_purchase_at, '~'));
CREATE INDEX ix_clients_created ON clients (created_at);
CREATE INDEX ix_clients_last_issue ON clients (last_issue_at);
CREATE INDEX ix_clients_last_issue_asc ON clients (coalesce(last_issue_at, '~'));
CREATE INDEX ix_clients_rfc ON clients (rfc);
CREATE INDEX ix_clients_credited ON clients (credited);
CREATE INDEX ix_clients_issued ON clients (issued);
CREATE INDEX ix_clients_favorite ON clients (favorite, name_key) WHERE favorite = 1;
CREATE INDEX ix_clients_dropped ON clients (dropped, name_key) WHERE dropped = 1;
CREATE INDEX ix_clients_color ON clients (color, name_key) WHERE color IS NOT NULL;
-- Forecasts (`forecasts`): D.R. with "never runs out" last, C.P.D., and the "sin consumo" band.
CREATE INDEX ix_clients_days_left ON clients (coalesce(days_left, 4611686018427387904));
CREATE INDEX ix_clients_cpd ON clients (fc_cpd);
CREATE INDEX ix_clients_risk ON clients (risk, name_key) WHERE risk IS NOT NULL;

CREATE TABLE stamping_accounts (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, id_key TEXT NOT NULL, client_id TEXT NOT NULL,
    client_nic TEXT NOT NULL DEFAULT '', client_nic_num INTEGER, client_name TEXT NOT NULL DEFAULT '',
    client_name_key TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL, active INTEGER NOT NULL,
    credited INTEGER NOT NULL, issued INTEGER NOT NULL, balance INTEGER, rfc_restriction TEXT,
    paid_until TEXT, created_at TEXT, first_issue_at TEXT, last_issue_at TEXT, last_purchase_at TEXT,
    auto_sale_enabled INTEGER, auto_sale_minimum INTEGER, auto_sale_credit INTEGER,
    auto_sale_amount_cents INTEGER, version INTEGER, pending INTEGER NOT NULL DEFAULT 0,
    usage TEXT, cpd INTEGER NOT NULL DEFAULT 0, days_left INTEGER, risk TEXT
);
CREATE INDEX ix_cti_client ON stamping_accounts (client_id, created_at, id);
CREATE INDEX ix_cti_client_name ON stamping_accounts (client_name_key, client_id, created_at);
CREATE INDEX ix_cti_client_nic ON stamping_accounts (client_nic_num, created_at);
CREATE INDEX ix_cti_created ON stamping_accounts (created_at);
CREATE INDEX ix_cti_first_issue ON stamping_accounts (first_issue_at);
CREATE INDEX ix_cti_last_issue ON stamping_accounts (last_issue_at);
CREATE INDEX ix_cti_last_purchase ON stamping_accounts (last_purchase_at);
CREATE INDEX ix_cti_balance ON stamping_accounts (balance);
CREATE INDEX ix_cti_credited ON stamping_accounts (credited);
CREATE INDEX ix_cti_issued ON stamping_accounts (issued);
CREATE INDEX ix_cti_id_key ON stamping_accounts (id_key);
CREATE INDEX ix_cti_days_left ON stamping_accounts (coalesce(days_left, 4611686018427387904));
CREATE INDEX ix_cti_cpd ON stamping_accounts (cpd);
CREATE INDEX ix_cti_risk ON stamping_accounts (risk, client_name_key, client_id, created_at)
    WHERE risk IS NOT NULL;

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
SEARCH_SCHEMA = """
CREATE TABLE fts.state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO fts.state (key, value) VALUES ('generation', 0);
"""

FTS_TABLE = """
CREATE VIRTUAL TABLE fts.clients_fts USING fts5(search, cti_ids, content='', tokenize='trigram');
"""

# Temporary triggers (per connection: the writer's) may write a table of another attached file; the
# table is named without its schema inside a trigger, and `clients_fts` exists only in `fts`. Each
# also notes in `temp.search_written` that the transaction wrote the search file (see `SEARCH_WRITTEN`).
FTS_TRIGGERS = """
CREATE TEMP TRIGGER IF NOT EXISTS clients_fts_insert AFTER INSERT ON main.clients BEGIN
    INSERT INTO clients_fts (rowid, search, cti_ids) VALUES (new.rowid, new.search, new.cti_ids);
    INSERT OR IGNORE INTO search_written (written) VALUES (1);
END;
CREATE TEMP TRIGGER IF NOT EXISTS clients_fts_delete AFTER DELETE ON main.clients BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, search, cti_ids)
    VALUES ('delete', old.rowid, old.search, old.cti_ids);
    INSERT OR IGNORE INTO search_written (written) VALUES (1);
END;
CREATE TEMP TRIGGER IF NOT EXISTS clients_fts_update AFTER UPDATE OF search, cti_ids ON main.clients
WHEN old.search IS NOT new.search OR old.cti_ids IS NOT new.cti_ids BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, search, cti_ids)
    VALUES ('delete', old.rowid, old.search, old.cti_ids);
    INSERT INTO clients_fts (rowid, search, cti_ids) VALUES (new.rowid, new.search, new.cti_ids);
    INSERT OR IGNORE INTO search_written (written) VALUES (1);
END;
"""

# After the search index is built in bulk: its segments merged into one. Built in batches, it is left
# with a few segments and a merge half done, which the next writes go on with: measured on the
# benchmark's 100,000 clients, one delta of 100 clients in four took 1.5–2.5 s of CPU (20–60 ms
# after this, which costs ~1.3 s of CPU once, on the thread that builds the index). Searches read one
# segment instead of several.
OPTIMIZE_SEARCH = "INSERT INTO clients_fts (clients_fts) VALUES ('optimize')"

DROP_FTS_TRIGGERS = """
DROP TRIGGER IF EXISTS temp.clients_fts_insert;
DROP TRIGGER IF EXISTS temp.clients_fts_delete;
DROP TRIGGER IF EXISTS temp.clients_fts_update;
"""

SEARCH_FLAGS = "SELECT key, value FROM meta WHERE key IN ('bulk_fill', 'search_stale', 'search_generation')"

BUMP_GENERATION = (
    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'search_generation'",
    "UPDATE fts.state SET value = value + 1 WHERE key = 'generation'",
    "DELETE FROM temp.search_written",
)

# Per connection (in memory): a row while the open transaction wrote the search file through the
# triggers, or has to count as if it did (`mark_search_written`).
SEARCH_WRITTEN_TABLE = "CREATE TEMP TABLE IF NOT EXISTS search_written (written INTEGER PRIMARY KEY)"
MARK_SEARCH_WRITTEN = "INSERT OR IGNORE INTO temp.search_written (written) VALUES (1)"
# Whether a write transaction has to count itself in both files (`BUMP_GENERATION`): when it wrote the
# search file, or when the triggers are off (an index being filled or built again, which a fill
# checks the count of: see `cmdesk.services.snapshot`). A transaction that wrote the cache's file only
# leaves the search file alone: one file to commit, not two.
SEARCH_WRITTEN = (
    "SELECT 1 FROM temp.search_written UNION ALL SELECT 1 WHERE NOT EXISTS"
    " (SELECT 1 FROM temp.sqlite_master WHERE type = 'trigger' AND name = 'clients_fts_insert') LIMIT 1"
)

# The indexes built after filling an empty cache (see `Cache._bulk_fill`). `ix_cti_client` stays: the
# upserts themselves look CTIs up by client.
DEFERRED_INDEXES: dict[str, str] = {
    m.group(1): m.group(0)
    for m in re.finditer(r"CREATE INDEX (\w+) ON [^;]+", SCHEMA)
    if m.group(1) != "ix_cti_client"
}

DATA_TABLES = ("entities", "local", "clients", "stamping_accounts", "movements", "distributors")


def exec_script(conn: sqlite3.Connection, script: str) -> None:
    """Run a script's statements one by one: executescript() would commit the open transaction."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            conn.execute(buffer)
            buffer = ""


def create(conn: sqlite3.Connection) -> None:
    """Make both files' tables in an empty cache (`conn` has the search file attached as `fts`)."""
    conn.executescript(
        "BEGIN;" + SCHEMA + SEARCH_SCHEMA + (FTS_TABLE + FTS_TRIGGERS if FTS_AVAILABLE else "") + "COMMIT;"
    )
    meta = [("search_mode", SEARCH_MODE), ("search_generation", 0)]
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta)
    conn.execute(f"PRAGMA fts.user_version = {SCHEMA_VERSION}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
