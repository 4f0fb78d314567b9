"""Reading the bitácora: `GET /v1/audit` (a filtered page, newest first) and `GET /v1/audit/{id}`.

Pages are keyset-paginated on (created_at, id), newest first, over an index that starts with the
account and the filter: the account alone, the account and the profile, the account and the main
entity's type, the account and the action, or — for the history of one entity — `audit_subjects`
(account, type, id). A page costs one index range whatever the size of the log (1,000,000 records:
see `bench/bitacora.py`).

An account reads its own bitácora, and that of any sub-distributor below it (`account_id`); anything
else is "not found", as everywhere in the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import Select, or_, select, tuple_
from sqlalchemy.orm import Session

from cmdesk.domain.errors import not_found, validation_error
from cmdesk.models import Account, AuditRecord, AuditSubject, Profile
from cmdesk.server.audit.routes import ACTIONS
from cmdesk.server.operations.context import Actor

# Every action's Spanish label, by its machine name.
LABELS: dict[str, str] = {a.action: a.label for a in ACTIONS.values()}

EntityType = Literal[
    "account",
    "distributor",
    "profile",
    "settings",
    "client",
    "interaction",
    "support_policy",
    "stamping_account",
    "movement",
    "charge",
    "invoice",
    "top_up_code",
    "contract",
    "license",
    "price_package",
    "software_product",
    "software_file",
    "catalog_package",
    "catalog_contract",
    "catalog_fee",
    "alert",
    "alert_rule",
]
ENTITY_TYPES: tuple[str, ...] = get_args(EntityType)

MAX_DEPTH = 50  # how far below an account a sub-distributor may be (guards against a cycle)


def visible_account(session: Session, actor: Actor, account_id: str | None) -> str:
    """`account_id` if it is the actor's account or one below it in its network; else not found."""
    if not account_id or account_id == actor.account_id:
        return actor.account_id
    current: str | None = account_id
    for _ in range(MAX_DEPTH):
        current = session.scalar(select(Account.parent_id).where(Account.id == current))
        if current is None:
            break
        if current == actor.account_id:
            return account_id
    raise not_found("El distribuidor")


def _keyset(
    stmt: Select[Any], at_col: Any, id_col: Any, after: tuple[dt.datetime, int] | None, pg: bool
) -> Any:
    if after is None:
        return stmt
    at, ident = after
    if pg:
        # A row comparison: PostgreSQL seeks the index straight to the cursor.
        return stmt.where(tuple_(at_col, id_col) < tuple_(at, ident))
    # SQLite seeks only on the first column of a row comparison; this bounds the range on created_at
    # and filters the few ties.
    return stmt.where(at_col <= at, or_(at_col < at, id_col < ident))


def list_records(
    session: Session,
    actor: Actor,
    *,
    account_id: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    profile_id: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
    after: tuple[dt.datetime, int] | None = None,
) -> tuple[list[dict[str, Any]], tuple[dt.datetime, int] | None]:
    """A page of records, newest first, and the keyset of the next page (None at the end).

    `entity` alone: records whose main entity is of that type. `entity` and `entity_id`: every record
    that touched that entity (its history). `profile_id`: who acted. `action`: what was done (a record's
    `action`; a route without a label in `ACTIONS` is recorded under its endpoint's name, so any name
    is accepted, and one never recorded reads empty). `since`/`until`: [since, until)."""
    if entity_id and not entity:
        raise validation_error({"entity": "Indique el tipo de la entidad cuyo historial quiere ver."})
    if entity is not None and entity not in ENTITY_TYPES:
        raise validation_error({"entity": "Tipo de entidad desconocido: " + ", ".join(ENTITY_TYPES) + "."})
    if since is not None and until is not None and since >= until:
        raise validation_error({"from": "El inicio del periodo debe ser anterior a su fin."})
    owner = visible_account(session, actor, account_id)
    pg = session.get_bind().dialect.name == "postgresql"
    stmt: Select[Any]
    if entity and entity_id:
        s = AuditSubject
        stmt = (
            select(AuditRecord)
            .join(s, s.audit_id == AuditRecord.id)
            .where(s.account_id == owner, s.entity_type == entity, s.entity_id == entity_id)
        )
        at_col, id_col = s.created_at, s.audit_id
        if profile_id:
            stmt = stmt.where(AuditRecord.profile_id == profile_id)
        if action:
            stmt = stmt.where(AuditRecord.action == action)
    else:
        stmt = select(AuditRecord).where(AuditRecord.account_id == owner)
        at_col, id_col = AuditRecord.created_at, AuditRecord.id
        if profile_id:
            stmt = stmt.where(AuditRecord.profile_id == profile_id)
        if entity:
            stmt = stmt.where(AuditRecord.entity_type == entity)
        if action:
            stmt = stmt.where(AuditRecord.action == action)
    if since is not None:
        stmt = stmt.where(at_col >= since)
    if until is not None:
        stmt = stmt.where(at_col < until)
    stmt = _keyset(stmt, at_col, id_col, after, pg)
    rows = list(session.scalars(stmt.order_by(at_col.desc(), id_col.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    profiles = _profiles(session, {r.profile_id for r in rows if r.profile_id})
    items = [record_view(r, profiles.get(r.profile_id or "")) for r in rows]
    return items, ((rows[-1].created_at, rows[-1].id) if more else None)


def read_record(
    session: Session, actor: Actor, record_id: int, account_id: str | None = None
) -> dict[str, Any]:
    """One record with everything it changed (`changes`) and every entity it touched (`subjects`)."""
    owner = visible_account(session, actor, account_id)
    record = session.scalar(
        select(AuditRecord).where(AuditRecord.id == record_id, AuditRecord.account_id == owner)
    )
    if record is None:
        raise not_found("El registro de la bitácora")
    profiles = _profiles(session, {record.profile_id} if record.profile_id else set())
    subjects = session.execute(
        select(AuditSubject.entity_type, AuditSubject.entity_id)
        .where(AuditSubject.audit_id == record.id)
        .order_by(AuditSubject.entity_type, AuditSubject.entity_id)
    ).all()
    return {
        **record_view(record, profiles.get(record.profile_id or "")),
        "changes": record.changes or [],
        "subjects": [{"entity": e, "id": i} for e, i in subjects],
    }


def _profiles(session: Session, ids: set[str]) -> dict[str, Profile]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(ids)))}


def record_view(record: AuditRecord, profile: Profile | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "created_at": record.created_at,
        "account_id": record.account_id,
        "profile": (
            {"id": profile.id, "name": profile.name, "email": profile.email}
            if profile is not None
            else ({"id": record.profile_id, "name": "", "email": ""} if record.profile_id else None)
        ),
        "device": record.device,
        "ip": record.ip,
        "action": record.action,
        "action_label": LABELS.get(record.action, record.route or record.action),
        "route": record.route,
        "entity": record.entity_type,
        "entity_id": record.entity_id,
        "reason": record.reason,
        "before": record.before,
        "after": record.after,
        "changes_count": len(record.changes or []),
    }
