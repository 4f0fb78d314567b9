"""Server-side functions of the PostgreSQL schema.

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

from sqlalchemy import DDL, event

from cmdesk.models.base import Base

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
CONSUME_FUNCTION = CONSUME_FUNCTION_V2

DROP_CONSUME_FUNCTION = "DROP FUNCTION IF EXISTS cmdesk_consume(text, text, text, text, timestamptz)"

_install = DDL(CONSUME_FUNCTION)  # type: ignore[no-untyped-call]
_remove = DDL(DROP_CONSUME_FUNCTION)  # type: ignore[no-untyped-call]
event.listen(Base.metadata, "after_create", _install.execute_if(dialect="postgresql"))
event.listen(Base.metadata, "before_drop", _remove.execute_if(dialect="postgresql"))
