"""The audit log (bitácora): one record per operation that changed something, written in the same
transaction as the operation (see `cmdesk.server.audit`).

`AuditRecord` is the record: who (profile, device, address), when, which route, the main entity with
its values before and after, the reason the user gave, and the other rows the operation changed.
`AuditSubject` indexes every entity a record touched (the main one included), so "the history of this
client or this CTI" is one index range even when the change came from a bulk operation or a transfer.

Secrets never reach these tables: the recorder strips password hashes, NIPs and tokens before writing
(`cmdesk.server.audit.values.scrub`). Records have no foreign keys: they outlive what they describe
(a purged account, a deleted price package).

`cmdesk_audit(...)` is the same write as one PostgreSQL function, for fast paths that bypass the ORM
(a transfer done by a database function, a set-based bulk): they call it in their own transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, BigInt, postgres_function

# JSONB on PostgreSQL (compact, and queryable by the functions), JSON text on SQLite.
JsonValue = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class AuditRecord(Base):
    """One operation: who, when, what (the main entity before and after), why, and what else it touched."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # Keyset pages newest first, by account, optionally by profile, main entity type or action.
        Index("ix_audit_log_account_at", "account_id", "created_at", "id"),
        Index("ix_audit_log_account_profile_at", "account_id", "profile_id", "created_at", "id"),
        Index("ix_audit_log_account_entity_at", "account_id", "entity_type", "created_at", "id"),
        Index("ix_audit_log_account_action_at", "account_id", "action", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    # Whose bitácora this is: the acting account, or for public routes the owner of what changed.
    account_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]
    # The profile that acted; None for public routes (a redemption, a self-registration) and the system.
    profile_id: Mapped[str | None] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(60))
    # "PATCH /v1/clients/{client_id}": the route template, not the concrete path.
    route: Mapped[str] = mapped_column(String(200), default="")
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    # The main entity's fields: all of them when created (before is None) or deleted (after is None),
    # only the changed ones when updated.
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    # The other rows the operation changed: [{"entity", "id", "before", "after"}, ...].
    changes: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonValue)


class AuditSubject(Base):
    """An entity a record touched, with the record's account and time, for per-entity history."""

    __tablename__ = "audit_subjects"
    __table_args__ = (
        Index("ix_audit_subjects_entity", "account_id", "entity_type", "entity_id", "created_at", "audit_id"),
    )

    audit_id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]


# ---- The SQL-level write, for fast paths that bypass the ORM (PostgreSQL) -------------------------

AUDIT_FUNCTION_V1 = """
CREATE OR REPLACE FUNCTION cmdesk_audit(
    p_account_id text, p_profile_id text, p_device text, p_ip text, p_action text, p_route text,
    p_reason text, p_entity_type text, p_entity_id text, p_before jsonb, p_after jsonb,
    p_changes jsonb DEFAULT NULL, p_subjects jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
-- One audit record (and its subjects) in the caller's transaction; returns its id.
-- p_subjects: [["client", "<id>"], ["stamping_account", "<id>"], ...]; the main entity is added.
-- The caller passes values already free of secrets (no password, hash, NIP or token).
DECLARE
    v_id bigint;
    v_at timestamptz := clock_timestamp();
BEGIN
    INSERT INTO audit_log (account_id, created_at, profile_id, device, ip, action, route,
                           entity_type, entity_id, reason, before, after, changes)
    VALUES (p_account_id, v_at, p_profile_id, left(coalesce(p_device, ''), 200),
            left(coalesce(p_ip, ''), 64), left(p_action, 60), left(coalesce(p_route, ''), 200),
            p_entity_type, p_entity_id, coalesce(p_reason, ''), p_before, p_after, p_changes)
    RETURNING id INTO v_id;
    INSERT INTO audit_subjects (audit_id, entity_type, entity_id, account_id, created_at)
    SELECT DISTINCT v_id, s.value ->> 0, s.value ->> 1, p_account_id, v_at
      FROM jsonb_array_elements(
               coalesce(p_subjects, '[]'::jsonb)
               || jsonb_build_array(jsonb_build_array(p_entity_type, p_entity_id))
           ) AS s(value)
     WHERE s.value ->> 0 IS NOT NULL AND s.value ->> 1 IS NOT NULL;
    RETURN v_id;
END;
$$
"""

DROP_AUDIT_FUNCTION = (
    "DROP FUNCTION IF EXISTS cmdesk_audit(text, text, text, text, text, text, text, text, text, "
    "jsonb, jsonb, jsonb, jsonb)"
)

postgres_function(AUDIT_FUNCTION_V1, DROP_AUDIT_FUNCTION)
