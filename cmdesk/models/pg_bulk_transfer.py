"""`cmdesk_bulk_transfer`: the bulk transfer's fast path on PostgreSQL (`POST /v1/transfers/bulk`).

It is `cmdesk_transfer` (V3, see `pg_functions`) — the same arguments, rules, words, feed, answer and
bitácora record — with two differences that matter only for thousands of items (issue 19: a bulk of
5,000 took 2.2 s on a quiet machine, 3.4 s of it in one statement under load):

- its statements are planned for the call's own arrays (`force_custom_plan`). The generic plans that
  make a single transfer cheap guess ten items; for 5,000 the targets' lookup became a nested loop
  comparing every item with every client of the distributor (25 million comparisons). Planning a
  dozen statements once per bulk costs a few milliseconds;
- the targets are found by their primary key only, and whose they are is checked on the row found
  (the same refusal when it belongs to another distributor): no plan can then scan the distributor's
  clients for each item, whatever the statistics say.

The single transfer keeps `cmdesk_transfer` (another function, owned by the transfer path); the text
here is derived from its V3, so a later version of that one does not change this one. Versioned like
the others: a changed function is a new constant and a new migration.
"""

from __future__ import annotations

from cmdesk.models.base import postgres_function
from cmdesk.models.pg_functions import TRANSFER_FUNCTION_V3

_LOOKUP_V3 = (
    (
        "CREATE OR REPLACE FUNCTION cmdesk_transfer(",
        "CREATE OR REPLACE FUNCTION cmdesk_bulk_transfer(",
    ),
    ("SET plan_cache_mode = force_generic_plan", "SET plan_cache_mode = force_custom_plan"),
    (
        "WHEN i.ttype = 'stamping_account' AND s.id IS NULL THEN 'cti_not_found'",
        "WHEN i.ttype = 'stamping_account' AND (s.id IS NULL OR s.account_id <> p_account)\n"
        "                           THEN 'cti_not_found'",
    ),
    (
        "WHEN i.ttype = 'client' AND c.id IS NULL THEN 'client_not_found'",
        "WHEN i.ttype = 'client' AND (c.id IS NULL OR c.account_id <> p_account) THEN 'client_not_found'",
    ),
    (
        "WHEN i.ttype = 'account' AND a.id IS NULL THEN 'account_not_found'",
        "WHEN i.ttype = 'account' AND (a.id IS NULL OR a.parent_id IS DISTINCT FROM p_account)\n"
        "                           THEN 'account_not_found'",
    ),
    (
        "ON i.ttype = 'stamping_account' AND s.id = i.tid AND s.account_id = p_account",
        "ON i.ttype = 'stamping_account' AND s.id = i.tid",
    ),
    (
        "LEFT JOIN clients c ON i.ttype = 'client' AND c.id = i.tid AND c.account_id = p_account",
        "LEFT JOIN clients c ON i.ttype = 'client' AND c.id = i.tid",
    ),
    (
        "LEFT JOIN accounts a ON i.ttype = 'account' AND a.id = i.tid AND a.parent_id = p_account) x;",
        "LEFT JOIN accounts a ON i.ttype = 'account' AND a.id = i.tid) x;",
    ),
)


def _derive(text: str) -> str:
    for old, new in _LOOKUP_V3:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


BULK_TRANSFER_FUNCTION_V1 = _derive(TRANSFER_FUNCTION_V3)

# The version the current schema has.
BULK_TRANSFER_FUNCTION = BULK_TRANSFER_FUNCTION_V1

DROP_BULK_TRANSFER_FUNCTION = (
    "DROP FUNCTION IF EXISTS cmdesk_bulk_transfer(text, text, text, text, text, text, timestamptz, text,"
    " timestamptz, timestamptz, boolean, jsonb, text[], text[], text[], text[], bigint[], bigint[], text[])"
)

postgres_function(BULK_TRANSFER_FUNCTION, DROP_BULK_TRANSFER_FUNCTION)
