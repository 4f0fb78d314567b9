"""`cmdesk_transfer_one`: the fourth version of the transfer function, for one transfer
(`POST /v1/transfers`); `cmdesk_transfer` (`cmdesk.models.pg_functions`, V3) keeps the bulks.

Issue 19 asks single transfers to reach a quarter of `pgbench -N`. V3 answers one transfer with the
machinery of a bulk of thousands: it unnests seven one-element arrays, aggregates them, joins three
tables to find the target, groups the credits and builds every JSON with `string_agg` — about a
dozen statements each paying for a plan made for sets. This one takes the item's values as plain
parameters and writes the same rows with one short statement each:

- who (the account `active` and not past its expiry date, the session open, the profile a member)
  and the key (`replay`, `reused`, `in_progress`, a stale claim taken over or handed to the general
  path) exactly as V3 decides them;
- the distributor debited by a conditional UPDATE, then the target credited by an UPDATE that also
  checks it (this distributor's standard CTI, its client, its sub-distributor not cancelled nor
  unvalidated): the happy path never reads the target twice. Either failing raises SQLSTATE CM001
  with the refusal V3 gives (a target's refusal before the balance's, as the reference meets them),
  everything rolled back;
- the movement, the feed rows (stamped with the transaction's id), the bitácora's record and its
  subjects (`p_audit`, NULL: none), the answer and the stored key: the same rows, columns and JSON
  as V3 writes for one item (the record's JSON and the answer are V3's texts, value for value).

Rolling upgrade (docs/deploy.md): a new function under a new name, so workers of the previous release
keep calling V3 while the new ones call this; V3 stays for bulks. Generic plans, as V3.
"""

from __future__ import annotations

from cmdesk.models.base import postgres_function
from cmdesk.models.pg_functions import INDEX_SCANS, TRANSFER_FUNCTION_V3

# Who calls and what its key holds: V3's first statements, word for word (the same decisions).
_V3_BEGIN = TRANSFER_FUNCTION_V3.index("BEGIN\n") + len("BEGIN\n")
_WHO_AND_KEY = TRANSFER_FUNCTION_V3[_V3_BEGIN : TRANSFER_FUNCTION_V3.index("    -- Each item's target")]
# The answer stored with its key (or a stale claim completed), to the end: V3's last statements.
_STORE_ANSWER = TRANSFER_FUNCTION_V3[TRANSFER_FUNCTION_V3.index("    status := 'ok';\n") :]

TRANSFER_ONE_FUNCTION_V4 = (
    """
CREATE OR REPLACE FUNCTION cmdesk_transfer_one(
    p_account text, p_profile text, p_session text, p_key text, p_hash text, p_path text,
    p_now timestamptz, p_now_text text, p_expires timestamptz, p_stale timestamptz, p_audit jsonb,
    p_id text, p_asset text, p_type text, p_target text, p_quantity bigint, p_amount bigint,
    p_comments text,
    OUT status text, OUT http_status integer, OUT body text)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    e record;
    v_rec bigint;
    v_parent text;
    v_state text;
    v_expires timestamptz;
    v_open boolean;
    v_stamps boolean := p_asset = 'stamps';
    v_left bigint;
    v_after bigint;
    v_client text;
    v_counterpart text;
    v_kind text;
    v_refusal text;
    v_txid bigint;
    v_me text := to_json(p_account)::text;
    v_id text := to_json(p_id)::text;
    v_main text;
    v_field text;
    v_audit bigint;
    v_audit_at timestamptz;
BEGIN
"""
    + _WHO_AND_KEY
    + """    -- The debit, then the credit that checks its target; a refusal rolls both back.
    UPDATE accounts a
       SET stamps_balance = a.stamps_balance - CASE WHEN v_stamps THEN p_quantity ELSE 0 END,
           points_balance = a.points_balance - CASE WHEN v_stamps THEN 0 ELSE p_quantity END,
           version = a.version + 1
     WHERE a.id = p_account
       AND CASE WHEN v_stamps THEN a.stamps_balance ELSE a.points_balance END >= p_quantity
    RETURNING CASE WHEN v_stamps THEN a.stamps_balance ELSE a.points_balance END INTO v_left;
    IF FOUND THEN
        IF p_type = 'stamping_account' THEN
            UPDATE stamping_accounts s
               SET balance = s.balance + p_quantity, credited = s.credited + p_quantity,
                   version = s.version + 1, last_credit_at = p_now
             WHERE s.id = p_target AND s.account_id = p_account AND s.kind = 'standard'
            RETURNING s.client_id, s.balance INTO v_client, v_after;
        ELSIF p_type = 'client' THEN
            UPDATE clients c
               SET points_balance = c.points_balance + p_quantity, version = c.version + 1
             WHERE c.id = p_target AND c.account_id = p_account
            RETURNING c.id, c.points_balance INTO v_client, v_after;
        ELSE
            UPDATE accounts a
               SET stamps_balance = a.stamps_balance + CASE WHEN v_stamps THEN p_quantity ELSE 0 END,
                   points_balance = a.points_balance + CASE WHEN v_stamps THEN 0 ELSE p_quantity END,
                   version = a.version + 1
             WHERE a.id = p_target AND a.parent_id = p_account
               AND a.status NOT IN ('cancelled', 'unvalidated')
            RETURNING a.id, CASE WHEN v_stamps THEN a.stamps_balance ELSE a.points_balance END
                 INTO v_counterpart, v_after;
        END IF;
    END IF;
    IF v_after IS NULL THEN
        -- Why: the target's refusal (the codes of ledger.TARGET_REFUSALS) comes first, then the balance.
        IF p_type = 'stamping_account' THEN
            SELECT s.kind INTO v_kind FROM stamping_accounts s
             WHERE s.id = p_target AND s.account_id = p_account;
            v_refusal := CASE WHEN v_kind IS NULL THEN 'cti_not_found'
                              WHEN v_kind <> 'standard' THEN 'cti_unlimited' END;
        ELSIF p_type = 'client' THEN
            PERFORM 1 FROM clients c WHERE c.id = p_target AND c.account_id = p_account;
            v_refusal := CASE WHEN NOT FOUND THEN 'client_not_found' END;
        ELSE
            SELECT a.status INTO v_kind FROM accounts a WHERE a.id = p_target AND a.parent_id = p_account;
            v_refusal := CASE WHEN v_kind IS NULL THEN 'account_not_found'
                              WHEN v_kind IN ('cancelled', 'unvalidated') THEN 'account_closed' END;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'CM001', MESSAGE = coalesce(v_refusal, 'insufficient_balance'),
                              DETAIL = '1';
    END IF;

    INSERT INTO movements (id, account_id, counterpart_account_id, version, kind, asset, quantity,
                           amount_cents, source_type, source_id, target_type, target_id, client_id,
                           comments, created_at, created_by)
    VALUES (p_id, p_account, v_counterpart, 1, 'transfer', p_asset, p_quantity, p_amount, 'account',
            p_account, p_type, p_target, v_client, p_comments, p_now, p_profile);

    v_txid := pg_current_xact_id()::text::bigint;
    INSERT INTO change_log (account_id, entity, entity_id, txid, deleted, created_at)
    SELECT f.account_id, f.entity, f.entity_id, v_txid, false, p_now
      FROM (VALUES (1, p_account, 'account', p_account, true),
                   (2, v_parent, 'distributor', p_account, v_parent IS NOT NULL),
                   (3, p_account, 'stamping_account', p_target, p_type = 'stamping_account'),
                   (4, p_account, 'client', v_client, v_client IS NOT NULL),
                   (5, p_target, 'account', p_target, p_type = 'account'),
                   (6, p_account, 'distributor', p_target, p_type = 'account'),
                   (7, p_account, 'movement', p_id, true),
                   (8, v_counterpart, 'movement', p_id, v_counterpart IS NOT NULL))
           AS f(n, account_id, entity, entity_id, wanted)
     WHERE f.wanted
     ORDER BY f.n;

    IF p_audit IS NOT NULL THEN
        v_field := CASE WHEN p_type = 'stamping_account' THEN '"balance":'
                        WHEN v_stamps THEN '"stamps_balance":' ELSE '"points_balance":' END;
        v_main := '{"id":' || v_id || ',"account_id":' || v_me
                  || ',"counterpart_account_id":' || coalesce(to_json(v_counterpart)::text, 'null')
                  || ',"kind":"transfer","asset":' || to_json(p_asset)::text
                  || ',"quantity":' || p_quantity || ',"amount_cents":' || p_amount
                  || ',"source_type":"account","source_id":' || v_me
                  || ',"target_type":' || to_json(p_type)::text
                  || ',"target_id":' || to_json(p_target)::text
                  || ',"client_id":' || coalesce(to_json(v_client)::text, 'null')
                  || ',"comments":' || to_json(p_comments)::text
                  || ',"created_at":' || to_json(p_now_text)::text
                  || ',"created_by":' || to_json(p_profile)::text || '}';
        v_audit_at := clock_timestamp();
        INSERT INTO audit_log (account_id, created_at, profile_id, device, ip, action, route,
                               entity_type, entity_id, reason, before, after, changes)
        VALUES (
            p_account, v_audit_at, p_profile, left(coalesce(p_audit ->> 'device', ''), 200),
            left(coalesce(p_audit ->> 'ip', ''), 64), left(p_audit ->> 'action', 60),
            left(coalesce(p_audit ->> 'route', ''), 200), 'movement', p_id,
            coalesce(p_audit ->> 'reason', ''), NULL, v_main::jsonb,
            ('[{"entity":"account","id":' || v_me || ',"op":"update","before":{'
             || CASE WHEN v_stamps THEN '"stamps_balance":' ELSE '"points_balance":' END
             || (v_left + p_quantity) || '},"after":{'
             || CASE WHEN v_stamps THEN '"stamps_balance":' ELSE '"points_balance":' END || v_left
             || '}},{"entity":'
             || CASE p_type WHEN 'account' THEN '"distributor"' ELSE to_json(p_type)::text END
             || ',"id":' || to_json(p_target)::text || ',"op":"update","before":{' || v_field
             || (v_after - p_quantity) || '},"after":{' || v_field || v_after || '}}]')::jsonb)
        RETURNING id INTO v_audit;
        INSERT INTO audit_subjects (audit_id, entity_type, entity_id, account_id, created_at)
        SELECT v_audit, x.entity, x.id, p_account, v_audit_at
          FROM (VALUES ('account', p_account, true), ('movement', p_id, true),
                       (CASE p_type WHEN 'account' THEN 'distributor' ELSE p_type END, p_target, true),
                       ('client', v_client, v_client IS NOT NULL AND p_type <> 'client'))
               AS x(entity, id, wanted)
         WHERE x.wanted;
    END IF;

    body := '{"id":' || v_id || ',"version":1,"kind":"transfer","asset":' || to_json(p_asset)::text
            || ',"quantity":' || p_quantity || ',"amount_cents":' || p_amount
            || ',"source":{"type":"account","id":' || v_me
            || '},"target":{"type":' || to_json(p_type)::text || ',"id":' || to_json(p_target)::text
            || '},"client_id":' || coalesce(to_json(v_client)::text, 'null')
            || ',"account_id":' || v_me
            || ',"comments":' || to_json(p_comments)::text
            || ',"created_at":' || to_json(p_now_text)::text
            || ',"created_by":' || to_json(p_profile)::text
            || ',"invoice_id":null,"top_up_code_id":null,"contract_id":null}';
"""
    + _STORE_ANSWER
)

# V5: V4 with index scans whatever the statistics say (`pg_functions.INDEX_SCANS`, migration
# i25_function_index_scans).
TRANSFER_ONE_FUNCTION_V5 = TRANSFER_ONE_FUNCTION_V4.replace(
    "SET plan_cache_mode = force_generic_plan AS $$",
    f"SET plan_cache_mode = force_generic_plan {INDEX_SCANS} AS $$",
    1,
)
assert TRANSFER_ONE_FUNCTION_V5 != TRANSFER_ONE_FUNCTION_V4
TRANSFER_ONE_FUNCTION = TRANSFER_ONE_FUNCTION_V5

DROP_TRANSFER_ONE_FUNCTION = (
    "DROP FUNCTION IF EXISTS cmdesk_transfer_one(text, text, text, text, text, text, timestamptz, text,"
    " timestamptz, timestamptz, jsonb, text, text, text, text, bigint, bigint, text)"
)

postgres_function(TRANSFER_ONE_FUNCTION, DROP_TRANSFER_ONE_FUNCTION)
