"""A bulk transfer's chunk written set-based on SQLite: a few statements that read the chunk's rows
from its own JSON (`bulk_transfer_chunks.rows`), with no Python work per item inside the write lock.

On SQLite every writer waits for the one before it, another distributor's stamping included (issue
19: stamping p99 131 ms during a 5,000-item bulk). Writing a chunk of movements through SQLAlchemy
cost its Python per row (parameters, type processing, the feed's rows) while holding the lock; here
SQLite reads the chunk's JSON itself (`json_each`) and writes, in one statement each: the credits
(one UPDATE per kind of target), the movements (one INSERT ... SELECT), the feed, and the bitácora's
subjects. They write what `bulk_transfers._apply_rows` and `transfer_audit.write_subjects` write
(the steps' tests compare them with the one-transaction path, row for row).

A chunk's row (`bulk_transfers._ROW`): [id, target_type, target_id, client_id, counterpart, asset,
quantity, amount, comments].
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from cmdesk.server.bulk_rows import sqlite_time

# The chunk's items, one row each, in their order (`n`).
_ITEMS = """
WITH r AS (
    SELECT j.key AS n,
           json_extract(j.value, '$[0]') AS id,
           json_extract(j.value, '$[1]') AS ttype,
           json_extract(j.value, '$[2]') AS tid,
           json_extract(j.value, '$[3]') AS client,
           json_extract(j.value, '$[4]') AS counterpart,
           json_extract(j.value, '$[5]') AS asset,
           json_extract(j.value, '$[6]') AS q,
           json_extract(j.value, '$[7]') AS amount,
           json_extract(j.value, '$[8]') AS comments
      FROM bulk_transfer_chunks ch, json_each(ch.rows) j
     WHERE ch.id = :chunk
)
"""

# Each target credited once (its version bumped once per transfer), as `_credit_all` does.
_CREDIT_CTIS = (
    _ITEMS
    + """
UPDATE stamping_accounts
   SET balance = balance + t.q, credited = credited + t.q, version = version + t.k, last_credit_at = :now
  FROM (SELECT tid, sum(q) AS q, count(*) AS k FROM r WHERE ttype = 'stamping_account' GROUP BY tid) AS t
 WHERE stamping_accounts.id = t.tid AND stamping_accounts.kind = 'standard'
"""
)
_CREDIT_CLIENTS = (
    _ITEMS
    + """
UPDATE clients
   SET points_balance = points_balance + t.q, version = version + t.k
  FROM (SELECT tid, sum(q) AS q, count(*) AS k FROM r WHERE ttype = 'client' GROUP BY tid) AS t
 WHERE clients.id = t.tid
"""
)
_CREDIT_SUBS = (
    _ITEMS
    + """
UPDATE accounts
   SET stamps_balance = stamps_balance + t.s, points_balance = points_balance + t.p, version = version + t.k
  FROM (SELECT tid, coalesce(sum(q) FILTER (WHERE asset = 'stamps'), 0) AS s,
               coalesce(sum(q) FILTER (WHERE asset = 'points'), 0) AS p, count(*) AS k
          FROM r WHERE ttype = 'account' GROUP BY tid) AS t
 WHERE accounts.id = t.tid
"""
)
_MOVEMENTS = (
    _ITEMS
    + """
INSERT INTO movements (id, account_id, counterpart_account_id, version, kind, asset, quantity, amount_cents,
                       source_type, source_id, target_type, target_id, client_id, comments, created_at,
                       created_by, invoice_id, top_up_code_id, contract_id)
SELECT id, :account, counterpart, 1, 'transfer', asset, q, amount, 'account', :account, ttype, tid, client,
       comments, :now, :author, NULL, NULL, NULL
  FROM r ORDER BY n
"""
)
# The feed: each movement (for its counterpart too), each target and its client; once each.
_FEED = (
    _ITEMS
    + """
INSERT INTO change_log (account_id, entity, entity_id, txid, deleted, created_at)
SELECT account_id, entity, entity_id, 0, 0, :at
  FROM (SELECT :account AS account_id, 'movement' AS entity, id AS entity_id, n * 8 AS o FROM r
        UNION ALL SELECT counterpart, 'movement', id, n * 8 + 1 FROM r WHERE counterpart IS NOT NULL
        UNION ALL SELECT :account, 'stamping_account', tid, n * 8 + 2 FROM r WHERE ttype = 'stamping_account'
        UNION ALL SELECT :account, 'client', client, n * 8 + 3 FROM r WHERE ttype = 'stamping_account'
        UNION ALL SELECT :account, 'client', tid, n * 8 + 4 FROM r WHERE ttype = 'client'
        UNION ALL SELECT tid, 'account', tid, n * 8 + 5 FROM r WHERE ttype = 'account'
        UNION ALL SELECT :account, 'distributor', tid, n * 8 + 6 FROM r WHERE ttype = 'account')
 GROUP BY account_id, entity, entity_id
 ORDER BY min(o)
"""
)
# The bitácora record's subjects of these items: each target (a sub-distributor as "distributor") and
# its client, with the record's account and time; those another chunk added already are left.
_SUBJECTS = (
    _ITEMS
    + """
INSERT INTO audit_subjects (audit_id, entity_type, entity_id, account_id, created_at)
SELECT DISTINCT :audit, s.entity, s.id, a.account_id, a.created_at
  FROM (SELECT CASE ttype WHEN 'account' THEN 'distributor' ELSE ttype END AS entity, tid AS id FROM r
        UNION ALL SELECT 'client', client FROM r WHERE client IS NOT NULL) AS s,
       audit_log a
 WHERE a.id = :audit
ON CONFLICT DO NOTHING
"""
)


def write_chunk(
    session: Session, chunk_id: int, audit_id: int | None, account_id: str, author: str, now: dt.datetime
) -> None:
    """Write the chunk `chunk_id` (already taken by the caller): credits, movements, feed, and the
    subjects of the bitácora record `audit_id` (None: no record)."""
    conn = session.connection()
    at = sqlite_time(now)
    params = {"chunk": chunk_id, "account": account_id, "author": author, "now": at}
    for sql in (_CREDIT_CTIS, _CREDIT_CLIENTS, _CREDIT_SUBS, _MOVEMENTS):
        conn.exec_driver_sql(sql, params)  # sqlite3's named parameters: `:name`, as written
    conn.exec_driver_sql(_FEED, {**params, "at": sqlite_time(dt.datetime.now(dt.UTC))})
    if audit_id is not None:
        conn.exec_driver_sql(_SUBJECTS, {**params, "audit": audit_id})
