"""Server-side functions of the PostgreSQL schema: `cmdesk_consume` (stamping) and `cmdesk_transfer`
(transfers, described with its text below).

`cmdesk_consume` is the stamping fast path (`POST /v1/stamping/consume`): the whole consumption of one
stamp in one call, so a request costs one round trip and one short transaction instead of five
statements through the ORM. It keeps exactly the rules of `cmdesk.server.operations.ledger.consume`
(which stays the general path, and the only one on SQLite):

- the password is checked by the caller: it passes the stored hash it verified (`p_hash`); a missing
  or different hash answers `verify` with the current hash, and nothing is written;
- an enabled auto-sale rule answers `general`: the refill moves distributor stamps and records a sale,
  which the general path does;
- the same CFDI UUID again answers the current state and debits nothing; on another CTI, `duplicate`;
- a blocked CTI, an unlimited CTI restricted to another RFC or with its annuity unpaid refuse
  (`account_blocked`, `rfc_not_allowed`, `unlimited_expired`), except for a retry of a UUID it stamped;
- a standard CTI is debited one stamp by a conditional UPDATE (`insufficient_balance` when empty, the
  CFDI row it inserted is removed again); an unlimited one only counts the CFDI;
- the change feed gets the CTI and its client, stamped with the transaction's id like `feed.record`;
- (V2) the CTI's daily usage row (`cti_daily_usage`, the Mexico City day of `p_now`) counts the CFDI,
  by an UPSERT after the CTI's row is locked by its UPDATE, in the same lock order as the general path.

The text is versioned: a changed function is a new constant and a new migration that installs it.
`Base.metadata.create_all` installs the current one (`CONSUME_FUNCTION`) too (the tests build schemas
that way).
"""

from __future__ import annotations

from cmdesk.models.base import postgres_function

CONSUME_FUNCTION_V1 = """
CREATE OR REPLACE FUNCTION cmdesk_consume(
    p_cti text, p_hash text, p_uuid text, p_rfc text, p_now timestamptz,
    OUT status text, OUT balance bigint, OUT issued bigint, OUT password_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_owner text;
    v_refusal text;
    v_txid bigint;
BEGIN
    SELECT s.account_id, s.client_id, s.kind, s.active, s.rfc_restriction, s.paid_until,
           s.password_hash AS hash, a.stamping_account_id IS NOT NULL AS auto_sale
      INTO r
      FROM stamping_accounts s
      LEFT JOIN auto_sale_rules a ON a.stamping_account_id = s.id AND a.enabled
     WHERE s.id = p_cti;
    IF NOT FOUND THEN
        status := 'invalid_credentials';
        RETURN;
    END IF;
    IF p_hash IS NULL OR r.hash IS DISTINCT FROM p_hash THEN
        status := 'verify';
        password_hash := r.hash;
        RETURN;
    END IF;
    IF r.auto_sale THEN
        status := 'general';
        RETURN;
    END IF;
    IF NOT r.active THEN
        v_refusal := 'account_blocked';
    ELSIF r.kind = 'unlimited' AND coalesce(r.rfc_restriction, '') <> '' AND r.rfc_restriction <> p_rfc THEN
        v_refusal := 'rfc_not_allowed';
    ELSIF r.kind = 'unlimited' AND (r.paid_until IS NULL OR r.paid_until < p_now) THEN
        v_refusal := 'unlimited_expired';
    END IF;
    IF v_refusal IS NULL THEN
        INSERT INTO issued_cfdi (cfdi_uuid, stamping_account_id, account_id, emitter_rfc, debited, issued_at)
        VALUES (p_uuid, p_cti, r.account_id, left(p_rfc, 13), r.kind <> 'unlimited', p_now)
        ON CONFLICT (cfdi_uuid) DO NOTHING;
        IF FOUND THEN
            IF r.kind = 'unlimited' THEN
                UPDATE stamping_accounts s
                   SET issued = s.issued + 1, last_issue_at = p_now,
                       first_issue_at = coalesce(s.first_issue_at, p_now), version = s.version + 1
                 WHERE s.id = p_cti
                RETURNING NULL::bigint, s.issued INTO balance, issued;
            ELSE
                UPDATE stamping_accounts s
                   SET balance = s.balance - 1, issued = s.issued + 1, last_issue_at = p_now,
                       first_issue_at = coalesce(s.first_issue_at, p_now), version = s.version + 1
                 WHERE s.id = p_cti AND s.balance >= 1
                RETURNING s.balance, s.issued INTO balance, issued;
                IF NOT FOUND THEN
                    DELETE FROM issued_cfdi WHERE cfdi_uuid = p_uuid;
                    status := 'insufficient_balance';
                    RETURN;
                END IF;
            END IF;
            v_txid := pg_current_xact_id()::text::bigint;
            INSERT INTO change_log (account_id, entity, entity_id, txid, deleted, created_at)
            VALUES (r.account_id, 'stamping_account', p_cti, v_txid, false, p_now),
                   (r.account_id, 'client', r.client_id, v_txid, false, p_now);
            status := 'ok';
            RETURN;
        END IF;
    END IF;
    -- The UUID was stamped before (a retry), or the CTI refuses to stamp: a retry on the same CTI
    -- answers its current state, whatever that state is now.
    SELECT c.stamping_account_id INTO v_owner FROM issued_cfdi c WHERE c.cfdi_uuid = p_uuid;
    IF FOUND THEN
        IF v_owner <> p_cti THEN
            status := 'duplicate';
            RETURN;
        END IF;
        SELECT CASE WHEN s.kind = 'unlimited' THEN NULL ELSE s.balance END, s.issued
          INTO balance, issued
          FROM stamping_accounts s
         WHERE s.id = p_cti;
        status := 'ok';
        RETURN;
    END IF;
    status := v_refusal;
END;
$$
"""

# V2 = V1 + the daily usage UPSERT right after the stamp is counted (both kinds of CTI), so a retry,
# a refusal or an empty CTI (whose CFDI row is deleted again) adds nothing.
_COUNTED = """
            v_txid := pg_current_xact_id()::text::bigint;
"""
_COUNT_DAILY_USAGE = """
            INSERT INTO cti_daily_usage AS u (stamping_account_id, day, issued)
            VALUES (p_cti, ((p_now AT TIME ZONE 'UTC') - interval '6 hours')::date, 1)
            ON CONFLICT (stamping_account_id, day) DO UPDATE SET issued = u.issued + 1;
"""
assert CONSUME_FUNCTION_V1.count(_COUNTED) == 1
CONSUME_FUNCTION_V2 = CONSUME_FUNCTION_V1.replace(_COUNTED, _COUNT_DAILY_USAGE + _COUNTED)

# The version the current schema has (installed by create_all; migrations install each in turn).
# V3: index scans whatever the statistics say (migration i25_function_index_scans). A plan is kept for
# the life of the connection (an hour in the fast pools); one made while `issued_cfdi` or
# `idempotency_records` were small (a new server, a test, a bench) scanned the whole table for every
# key, slower with every row added: the transfer function's first run under pgbench did 1,579
# transfers/s, 2,574 with index scans (`python -m bench.transfer_function`). Every statement of
# these functions reads by key, so a sequential scan is never the plan wanted.
INDEX_SCANS = "SET enable_seqscan = off"
CONSUME_FUNCTION_V3 = CONSUME_FUNCTION_V2.replace(
    "LANGUAGE plpgsql AS $$", f"LANGUAGE plpgsql {INDEX_SCANS} AS $$", 1
)
assert CONSUME_FUNCTION_V3 != CONSUME_FUNCTION_V2
CONSUME_FUNCTION = CONSUME_FUNCTION_V3

DROP_CONSUME_FUNCTION = "DROP FUNCTION IF EXISTS cmdesk_consume(text, text, text, text, timestamptz)"

# `cmdesk_transfer`: the transfer fast path (`POST /v1/transfers` and `/v1/transfers/bulk`), one
# call — one round trip, one short transaction — for one transfer or a bulk of thousands, set-based.
# It keeps the rules of `cmdesk.server.operations.ledger.transfer` (the reference) and of the API's
# idempotency (`cmdesk.server.idempotency`):
#
# - who: the account must be `active` and, with `p_session`, the bearer token's session still open
#   and its profile still a member of the account (`operations.auth.authenticate`), checked here in
#   the same round trip on every call; otherwise `general` (the general path decides and words it);
# - the key: a key already stored answers from it — the same body its answer (`replay`), another body
#   `reused`, a claim still running `in_progress`; a stale claim (older than `p_stale`) is taken over,
#   unless a bulk the general path accepted holds it (`general`). A new key is stored, completed with
#   the answer, at the end of the transaction: a request with the same key that committed meanwhile
#   makes it raise SQLSTATE CM002 (everything rolls back; the caller calls again and gets `replay`);
# - the caller checked every rule that needs no database; the targets are looked up, and a refusal
#   raises SQLSTATE CM001 with the refusal code of `ledger.TARGET_REFUSALS` (or
#   `insufficient_balance`) and the item's number as detail, the one the reference meets first item
#   by item: everything rolls back, and the caller stores the refusal with the key;
# - the distributor is debited once per asset by a conditional UPDATE (its version bumped once per
#   item, as the reference does), each target credited once, the movements inserted (a sale "por
#   facturar" when it has an amount), the feed written (stamped with the transaction's id, like
#   `feed.record`) and the answer (the movement, or {"movements": [...]}) returned and stored.
TRANSFER_FUNCTION_V1 = """
CREATE OR REPLACE FUNCTION cmdesk_transfer(
    p_account text, p_profile text, p_session text,
    p_key text, p_hash text, p_path text,
    p_now timestamptz, p_now_text text, p_expires timestamptz, p_stale timestamptz, p_bulk boolean,
    p_ids text[], p_assets text[], p_types text[], p_targets text[],
    p_quantities bigint[], p_amounts bigint[], p_comments text[],
    OUT status text, OUT http_status integer, OUT body text)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    v_rec bigint;
    v_parent text;
    v_state text;
    v_open boolean;
    v_item integer;
    v_low integer;
    v_clients text[];
    v_counterparts text[];
    v_refusals text[];
    v_stamps bigint;
    v_points bigint;
    v_txid bigint;
BEGIN
    SELECT a.status, a.parent_id,
           p_session IS NULL
           OR (EXISTS (SELECT 1 FROM memberships m
                        WHERE m.account_id = p_account AND m.profile_id = p_profile)
               AND NOT EXISTS (SELECT 1 FROM refresh_tokens t
                                WHERE t.family_id = p_session AND t.revoked_at IS NOT NULL))
      INTO v_state, v_parent, v_open
      FROM accounts a
     WHERE a.id = p_account;
    IF NOT FOUND OR NOT v_open OR v_state <> 'active' THEN
        status := 'general';
        RETURN;
    END IF;

    SELECT r.id, r.request_hash, r.completed, r.status_code, r.response_body, r.created_at INTO e
      FROM idempotency_records r
     WHERE r.scope = p_account AND r.key = p_key;
    IF FOUND THEN
        IF e.request_hash <> p_hash THEN
            status := 'reused';
            RETURN;
        END IF;
        IF e.completed THEN
            status := 'replay';
            http_status := e.status_code;
            body := e.response_body;
            RETURN;
        END IF;
        IF e.created_at >= p_stale THEN
            status := 'in_progress';
            RETURN;
        END IF;
        PERFORM 1 FROM bulk_transfer_runs b WHERE b.idempotency_record_id = e.id;
        IF FOUND THEN
            status := 'general';  -- a bulk the general path accepted: it finishes it
            RETURN;
        END IF;
        UPDATE idempotency_records r SET created_at = p_now
         WHERE r.id = e.id AND NOT r.completed AND r.created_at = e.created_at;
        IF NOT FOUND THEN
            status := 'in_progress';
            RETURN;
        END IF;
        v_rec := e.id;
    END IF;

    -- Each item's target, or why it refuses (the codes of ledger.TARGET_REFUSALS), and the totals.
    SELECT array_agg(x.refusal ORDER BY x.n), array_agg(x.client ORDER BY x.n),
           array_agg(x.counterpart ORDER BY x.n), min(x.n) FILTER (WHERE x.refusal IS NOT NULL),
           coalesce(sum(x.q) FILTER (WHERE x.asset = 'stamps'), 0),
           coalesce(sum(x.q) FILTER (WHERE x.asset = 'points'), 0)
      INTO v_refusals, v_clients, v_counterparts, v_item, v_stamps, v_points
      FROM (SELECT i.n, i.asset, i.q,
                   CASE
                       WHEN i.ttype = 'stamping_account' AND s.id IS NULL THEN 'cti_not_found'
                       WHEN i.ttype = 'stamping_account' AND s.kind <> 'standard' THEN 'cti_unlimited'
                       WHEN i.ttype = 'client' AND c.id IS NULL THEN 'client_not_found'
                       WHEN i.ttype = 'account' AND a.id IS NULL THEN 'account_not_found'
                       WHEN i.ttype = 'account' AND a.status IN ('cancelled', 'unvalidated')
                           THEN 'account_closed'
                   END AS refusal,
                   coalesce(s.client_id, c.id) AS client,
                   a.id AS counterpart
              FROM unnest(p_types, p_targets, p_assets, p_quantities)
                   WITH ORDINALITY AS i(ttype, tid, asset, q, n)
              LEFT JOIN stamping_accounts s
                     ON i.ttype = 'stamping_account' AND s.id = i.tid AND s.account_id = p_account
              LEFT JOIN clients c ON i.ttype = 'client' AND c.id = i.tid AND c.account_id = p_account
              LEFT JOIN accounts a ON i.ttype = 'account' AND a.id = i.tid AND a.parent_id = p_account) x;

    IF v_item IS NULL THEN
        UPDATE accounts a
           SET stamps_balance = a.stamps_balance - v_stamps, points_balance = a.points_balance - v_points,
               version = a.version + cardinality(p_ids)
         WHERE a.id = p_account AND a.stamps_balance >= v_stamps AND a.points_balance >= v_points;
    END IF;
    IF v_item IS NOT NULL OR NOT FOUND THEN
        -- The first item whose quantity the balance no longer covers, taken in order.
        SELECT min(x.n) INTO v_low
          FROM (SELECT u.n, u.asset, sum(u.q) OVER (PARTITION BY u.asset ORDER BY u.n) AS spent
                  FROM unnest(p_assets, p_quantities) WITH ORDINALITY AS u(asset, q, n)) x,
               accounts a
         WHERE a.id = p_account
           AND x.spent > CASE WHEN x.asset = 'stamps' THEN a.stamps_balance ELSE a.points_balance END;
        IF v_low IS NOT NULL AND (v_item IS NULL OR v_low < v_item) THEN
            RAISE EXCEPTION USING ERRCODE = 'CM001', MESSAGE = 'insufficient_balance', DETAIL = v_low::text;
        END IF;
        IF v_item IS NULL THEN  -- spent meanwhile, and covered again at once: answer as if refused
            RAISE EXCEPTION USING ERRCODE = 'CM001', MESSAGE = 'insufficient_balance',
                                  DETAIL = cardinality(p_ids)::text;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'CM001', MESSAGE = v_refusals[v_item], DETAIL = v_item::text;
    END IF;

    IF 'stamping_account' = ANY (p_types) THEN
        UPDATE stamping_accounts s
           SET balance = s.balance + t.q, credited = s.credited + t.q, version = s.version + t.k,
               last_credit_at = p_now
          FROM (SELECT u.tid, sum(u.q) AS q, count(*) AS k
                  FROM unnest(p_types, p_targets, p_quantities) AS u(ttype, tid, q)
                 WHERE u.ttype = 'stamping_account'
                 GROUP BY u.tid) t
         WHERE s.id = t.tid;
    END IF;
    IF 'client' = ANY (p_types) THEN
        UPDATE clients c
           SET points_balance = c.points_balance + t.q, version = c.version + t.k
          FROM (SELECT u.tid, sum(u.q) AS q, count(*) AS k
                  FROM unnest(p_types, p_targets, p_quantities) AS u(ttype, tid, q)
                 WHERE u.ttype = 'client'
                 GROUP BY u.tid) t
         WHERE c.id = t.tid;
    END IF;
    IF 'account' = ANY (p_types) THEN
        UPDATE accounts a
           SET stamps_balance = a.stamps_balance + t.s, points_balance = a.points_balance + t.p,
               version = a.version + t.k
          FROM (SELECT u.tid, coalesce(sum(u.q) FILTER (WHERE u.asset = 'stamps'), 0) AS s,
                       coalesce(sum(u.q) FILTER (WHERE u.asset = 'points'), 0) AS p, count(*) AS k
                  FROM unnest(p_types, p_targets, p_assets, p_quantities) AS u(ttype, tid, asset, q)
                 WHERE u.ttype = 'account'
                 GROUP BY u.tid) t
         WHERE a.id = t.tid;
    END IF;

    INSERT INTO movements (id, account_id, counterpart_account_id, version, kind, asset, quantity,
                           amount_cents, source_type, source_id, target_type, target_id, client_id,
                           comments, created_at, created_by)
    SELECT u.id, p_account, u.counterpart, 1, 'transfer', u.asset, u.q, u.amount, 'account', p_account,
           u.ttype, u.tid, u.client, u.comments, p_now, p_profile
      FROM unnest(p_ids, p_assets, p_types, p_targets, p_quantities, p_amounts, p_comments, v_clients,
                  v_counterparts) AS u(id, asset, ttype, tid, q, amount, comments, client, counterpart);

    v_txid := pg_current_xact_id()::text::bigint;
    INSERT INTO change_log (account_id, entity, entity_id, txid, deleted, created_at)
    SELECT f.account_id, f.entity, f.entity_id, v_txid, false, p_now
      FROM (SELECT p_account AS account_id, 'account' AS entity, p_account AS entity_id
            UNION ALL
            SELECT v_parent, 'distributor', p_account WHERE v_parent IS NOT NULL
            UNION ALL
            SELECT DISTINCT f.account_id, f.entity, f.entity_id
              FROM unnest(p_types, p_targets, v_clients) AS u(ttype, tid, client)
             CROSS JOIN LATERAL (VALUES (p_account, 'stamping_account', u.tid, u.ttype = 'stamping_account'),
                                        (p_account, 'client', u.client, u.ttype <> 'account'),
                                        (u.tid, 'account', u.tid, u.ttype = 'account'),
                                        (p_account, 'distributor', u.tid, u.ttype = 'account'))
                   AS f(account_id, entity, entity_id, wanted)
             WHERE f.wanted
            UNION ALL
            SELECT p_account, 'movement', u.id FROM unnest(p_ids) AS u(id)
            UNION ALL
            SELECT u.counterpart, 'movement', u.id
              FROM unnest(p_ids, v_counterparts) AS u(id, counterpart)
             WHERE u.counterpart IS NOT NULL) f;

    -- The answer as text, concatenated (json_build_object per movement cost more than writing the
    -- movements); every value that is not a fixed word or a number goes through to_json.
    SELECT string_agg(
               '{"id":' || to_json(u.id)::text || ',"version":1,"kind":"transfer","asset":'
               || to_json(u.asset)::text || ',"quantity":' || u.q || ',"amount_cents":' || u.amount
               || ',"source":{"type":"account","id":' || to_json(p_account)::text
               || '},"target":{"type":' || to_json(u.ttype)::text || ',"id":' || to_json(u.tid)::text
               || '},"client_id":' || coalesce(to_json(u.client)::text, 'null')
               || ',"account_id":' || to_json(p_account)::text
               || ',"comments":' || to_json(u.comments)::text
               || ',"created_at":' || to_json(p_now_text)::text
               || ',"created_by":' || to_json(p_profile)::text
               || ',"invoice_id":null,"top_up_code_id":null,"contract_id":null}',
               ',' ORDER BY u.n)
      INTO body
      FROM unnest(p_ids, p_assets, p_types, p_targets, p_quantities, p_amounts, p_comments, v_clients)
           WITH ORDINALITY AS u(id, asset, ttype, tid, q, amount, comments, client, n);
    IF p_bulk THEN
        body := '{"movements":[' || body || ']}';
    END IF;
    status := 'ok';
    http_status := 201;
    IF v_rec IS NOT NULL THEN  -- a stale claim taken over
        UPDATE idempotency_records r
           SET completed = true, status_code = 201, response_body = body
         WHERE r.id = v_rec;
        RETURN;
    END IF;
    INSERT INTO idempotency_records (scope, key, request_hash, method, path, completed, status_code,
                                     response_body, created_at, expires_at)
    VALUES (p_account, p_key, p_hash, 'POST', p_path, true, 201, body, p_now, p_expires)
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING id INTO v_rec;
    IF v_rec IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'CM002', MESSAGE = 'key_taken';
    END IF;
END;
$$
"""


# V2 = V1 + the issue 15 and 18 rules the general path keeps (see `cmdesk.server.transfer_fast`):
# - an account past its expiry date (Vencido between two runs of the maintenance) is handed to the
#   general path, which refuses it (`account_blocked`) as it refuses every other operation;
# - `p_audit` ({"action", "route", "device", "ip", "reason"}, or NULL: no record) makes the call write
#   the bitácora's record the ORM recorder writes for `ledger.transfer` (one per call, a bulk's too):
#   the first movement its main entity; in `changes` the distributor's balances before and after,
#   each target's (read after the credit, while this transaction holds their rows), and the other
#   movements; its subjects the distributor, the targets and their clients
#   (`cmdesk.server.operations.transfer_audit` notes the same for the general path's set-based bulk).
_V1_SIGNATURE = (
    "p_now timestamptz, p_now_text text, p_expires timestamptz, p_stale timestamptz, p_bulk boolean,"
)
_V1_DECLARE = "    v_txid bigint;\n"
_V1_WHO = """    SELECT a.status, a.parent_id,
           p_session IS NULL"""
_V1_WHO_INTO = """      INTO v_state, v_parent, v_open
      FROM accounts a
     WHERE a.id = p_account;
    IF NOT FOUND OR NOT v_open OR v_state <> 'active' THEN"""
_V1_DEBIT = (
    "         WHERE a.id = p_account AND a.stamps_balance >= v_stamps AND a.points_balance >= v_points;\n"
)
_V1_ANSWER = "    -- The answer as text, concatenated"
# The record's JSON is written as text and parsed once (jsonb_build_object per movement and per target
# cost more); every value that is not a fixed word or a number goes through to_json, as in the answer.
# A 5,000-item bulk's record holds its 5,000 movements and targets, as the general path's does: about
# 3 MB of JSON and 10,000 subjects, some 0.3 s of the call on a loaded machine.
_AUDIT = """    IF p_audit IS NOT NULL THEN
        SELECT max(x.mv) FILTER (WHERE x.n = 1),
               string_agg('{"entity":"movement","id":' || x.idj || ',"op":"create","before":null,"after":'
                          || x.mv || '}', ',' ORDER BY x.n) FILTER (WHERE x.n > 1)
          INTO v_main, v_moves
          FROM (SELECT u.n, to_json(u.id)::text AS idj,
                       '{"id":' || to_json(u.id)::text || ',"account_id":' || v_me
                       || ',"counterpart_account_id":' || coalesce(to_json(u.counterpart)::text, 'null')
                       || ',"kind":"transfer","asset":' || to_json(u.asset)::text
                       || ',"quantity":' || u.q || ',"amount_cents":' || u.amount
                       || ',"source_type":"account","source_id":' || v_me
                       || ',"target_type":' || to_json(u.ttype)::text
                       || ',"target_id":' || to_json(u.tid)::text
                       || ',"client_id":' || coalesce(to_json(u.client)::text, 'null')
                       || ',"comments":' || to_json(u.comments)::text
                       || ',"created_at":' || to_json(p_now_text)::text
                       || ',"created_by":' || to_json(p_profile)::text || '}' AS mv
                  FROM unnest(p_ids, p_assets, p_types, p_targets, p_quantities, p_amounts, p_comments,
                              v_clients, v_counterparts) WITH ORDINALITY
                       AS u(id, asset, ttype, tid, q, amount, comments, client, counterpart, n)) x;
        SELECT string_agg(
                   '{"entity":'
                   || CASE t.ttype WHEN 'account' THEN '"distributor"' ELSE to_json(t.ttype)::text END
                   || ',"id":' || to_json(t.tid)::text || ',"op":"update","before":{'
                   || concat_ws(',', '"balance":' || (s.balance - t.st),
                                '"stamps_balance":' || CASE WHEN t.st > 0 THEN a.stamps_balance - t.st END,
                                '"points_balance":' || CASE WHEN t.pt > 0 THEN p.points - t.pt END)
                   || '},"after":{'
                   || concat_ws(',', '"balance":' || s.balance,
                                '"stamps_balance":' || CASE WHEN t.st > 0 THEN a.stamps_balance END,
                                '"points_balance":' || CASE WHEN t.pt > 0 THEN p.points END)
                   || '}}', ',' ORDER BY t.pos),
               string_agg(DISTINCT
                   '["' || CASE t.ttype WHEN 'account' THEN 'distributor' ELSE t.ttype END || '",'
                   || to_json(t.tid)::text || ']'
                   || CASE WHEN s.client_id IS NOT NULL
                           THEN ',["client",' || to_json(s.client_id)::text || ']' ELSE '' END, ',')
          INTO v_targets, v_subjects
          FROM (SELECT u.ttype, u.tid, min(u.n) AS pos,
                       coalesce(sum(u.q) FILTER (WHERE u.asset = 'stamps'), 0) AS st,
                       coalesce(sum(u.q) FILTER (WHERE u.asset = 'points'), 0) AS pt
                  FROM unnest(p_types, p_targets, p_assets, p_quantities)
                       WITH ORDINALITY AS u(ttype, tid, asset, q, n)
                 GROUP BY u.ttype, u.tid) t
          LEFT JOIN stamping_accounts s ON t.ttype = 'stamping_account' AND s.id = t.tid
          LEFT JOIN clients c ON t.ttype = 'client' AND c.id = t.tid
          LEFT JOIN accounts a ON t.ttype = 'account' AND a.id = t.tid
         CROSS JOIN LATERAL (SELECT coalesce(c.points_balance, a.points_balance) AS points) p;
        PERFORM cmdesk_audit(
            p_account, p_profile, p_audit ->> 'device', p_audit ->> 'ip', p_audit ->> 'action',
            p_audit ->> 'route', p_audit ->> 'reason', 'movement', p_ids[1], NULL, v_main::jsonb,
            ('[{"entity":"account","id":' || v_me || ',"op":"update","before":{'
             || concat_ws(',',
                          '"stamps_balance":' || CASE WHEN v_stamps > 0
                                                      THEN v_debited.stamps_balance + v_stamps END,
                          '"points_balance":' || CASE WHEN v_points > 0
                                                      THEN v_debited.points_balance + v_points END)
             || '},"after":{'
             || concat_ws(',',
                          '"stamps_balance":' || CASE WHEN v_stamps > 0 THEN v_debited.stamps_balance END,
                          '"points_balance":' || CASE WHEN v_points > 0 THEN v_debited.points_balance END)
             || '}},' || v_targets || coalesce(',' || v_moves, '') || ']')::jsonb,
            ('[["account",' || v_me || '],' || v_subjects || ']')::jsonb);
    END IF;

"""
for part in (_V1_SIGNATURE, _V1_DECLARE, _V1_WHO, _V1_WHO_INTO, _V1_DEBIT, _V1_ANSWER):
    assert TRANSFER_FUNCTION_V1.count(part) == 1, part
TRANSFER_FUNCTION_V2 = (
    TRANSFER_FUNCTION_V1.replace(_V1_SIGNATURE, _V1_SIGNATURE + " p_audit jsonb,")
    .replace(
        _V1_DECLARE,
        _V1_DECLARE
        + "    v_expires timestamptz;\n    v_debited record;\n    v_me text := to_json(p_account)::text;\n"
        "    v_main text;\n    v_moves text;\n    v_targets text;\n    v_subjects text;\n",
    )
    .replace(_V1_WHO, _V1_WHO.replace("a.parent_id,", "a.parent_id, a.expires_at,"))
    .replace(
        _V1_WHO_INTO,
        _V1_WHO_INTO.replace("v_parent, v_open", "v_parent, v_expires, v_open").replace(
            "v_state <> 'active'", "v_state <> 'active' OR v_expires <= p_now"
        ),
    )
    .replace(
        _V1_DEBIT,
        _V1_DEBIT[:-2] + "\n         RETURNING a.stamps_balance, a.points_balance INTO v_debited;\n",
    )
    .replace(_V1_ANSWER, _AUDIT + _V1_ANSWER)
)

# V3 = V2, cheaper per call (issue 19: a transfer cost ~2.8 ms of database CPU, six times a stamp):
# - the bitácora's record is inserted here rather than through `cmdesk_audit`, and its subjects straight
#   from the items' arrays (the distributor, the first movement, each target and its client, once each),
#   instead of a JSON text of 10,000 pairs for a 5,000-item bulk that was parsed again and taken apart;
#   the record and its subjects are those `cmdesk_audit` writes (same columns, limits and time);
# - the function's statements run with generic plans (`plan_cache_mode`): planning its dozen
#   statements again on each call, for the custom plans PL/pgSQL tries first, was half of its CPU.
#   Every statement looks rows up by primary key or joins the items' arrays to them, so one plan fits
#   a transfer and a bulk of thousands alike.
_V2_SUBJECTS = """,
               string_agg(DISTINCT
                   '["' || CASE t.ttype WHEN 'account' THEN 'distributor' ELSE t.ttype END || '",'
                   || to_json(t.tid)::text || ']'
                   || CASE WHEN s.client_id IS NOT NULL
                           THEN ',["client",' || to_json(s.client_id)::text || ']' ELSE '' END, ',')
          INTO v_targets, v_subjects
"""
_V2_RECORD_START = """        PERFORM cmdesk_audit(
            p_account, p_profile, p_audit ->> 'device', p_audit ->> 'ip', p_audit ->> 'action',
            p_audit ->> 'route', p_audit ->> 'reason', 'movement', p_ids[1], NULL, v_main::jsonb,
"""
_V3_RECORD_START = """        v_audit_at := clock_timestamp();
        INSERT INTO audit_log (account_id, created_at, profile_id, device, ip, action, route,
                               entity_type, entity_id, reason, before, after, changes)
        VALUES (
            p_account, v_audit_at, p_profile, left(coalesce(p_audit ->> 'device', ''), 200),
            left(coalesce(p_audit ->> 'ip', ''), 64), left(p_audit ->> 'action', 60),
            left(coalesce(p_audit ->> 'route', ''), 200), 'movement', p_ids[1],
            coalesce(p_audit ->> 'reason', ''), NULL, v_main::jsonb,
"""
_V2_RECORD_END = """             || '}},' || v_targets || coalesce(',' || v_moves, '') || ']')::jsonb,
            ('[["account",' || v_me || '],' || v_subjects || ']')::jsonb);
"""
_V3_RECORD_END = """             || '}},' || v_targets || coalesce(',' || v_moves, '') || ']')::jsonb)
        RETURNING id INTO v_audit;
        INSERT INTO audit_subjects (audit_id, entity_type, entity_id, account_id, created_at)
        SELECT DISTINCT v_audit, x.entity, x.id, p_account, v_audit_at
          FROM (SELECT 'account' AS entity, p_account AS id
                UNION ALL
                SELECT 'movement', p_ids[1]
                UNION ALL
                SELECT CASE u.ttype WHEN 'account' THEN 'distributor' ELSE u.ttype END, u.tid
                  FROM unnest(p_types, p_targets) AS u(ttype, tid)
                UNION ALL
                SELECT 'client', u.client FROM unnest(v_clients) AS u(client) WHERE u.client IS NOT NULL) x;
"""
_V2_DECLARE = "    v_subjects text;\n"
_V2_LANGUAGE = "    OUT status text, OUT http_status integer, OUT body text)\nLANGUAGE plpgsql AS $$\n"
for _part in (_V2_SUBJECTS, _V2_RECORD_START, _V2_RECORD_END, _V2_DECLARE, _V2_LANGUAGE):
    assert TRANSFER_FUNCTION_V2.count(_part) == 1, _part
TRANSFER_FUNCTION_V3 = (
    TRANSFER_FUNCTION_V2.replace(_V2_SUBJECTS, "\n          INTO v_targets\n")
    .replace(_V2_RECORD_START, _V3_RECORD_START)
    .replace(_V2_RECORD_END, _V3_RECORD_END)
    .replace(_V2_DECLARE, "    v_audit bigint;\n    v_audit_at timestamptz;\n")
    .replace(
        _V2_LANGUAGE,
        _V2_LANGUAGE.replace("LANGUAGE plpgsql", "LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan"),
    )
)

# The version the current schema has (bulks; a single transfer calls V4, `cmdesk_transfer_one`, in
# `cmdesk.models.pg_transfer_one`).
TRANSFER_FUNCTION = TRANSFER_FUNCTION_V3

DROP_TRANSFER_FUNCTION_V1 = (
    "DROP FUNCTION IF EXISTS cmdesk_transfer(text, text, text, text, text, text, timestamptz, text,"
    " timestamptz, timestamptz, boolean, text[], text[], text[], text[], bigint[], bigint[], text[])"
)
DROP_TRANSFER_FUNCTION = (
    "DROP FUNCTION IF EXISTS cmdesk_transfer(text, text, text, text, text, text, timestamptz, text,"
    " timestamptz, timestamptz, boolean, jsonb, text[], text[], text[], text[], bigint[], bigint[], text[])"
)

postgres_function(CONSUME_FUNCTION, DROP_CONSUME_FUNCTION)
postgres_function(TRANSFER_FUNCTION, DROP_TRANSFER_FUNCTION)
