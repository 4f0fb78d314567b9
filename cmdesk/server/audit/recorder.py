"""The recorder: one audit record per operation, written in the operation's own transaction.

How it works:

1. **Context.** A request to a mutating route binds an `AuditContext` (route, action, device, address,
   reason; `cmdesk.server.api.deps.audit_scope`), and the authentication fills in the actor
   (`set_actor`). It lives in a context variable, so it reaches the worker thread that runs the
   operation without passing through the operations' signatures. Without a context (reads, the
   stamping route, the CLI, the tests of the operations) nothing is recorded and the hooks cost one
   lookup of the variable.
2. **Collection.** Session hooks (`install_hooks`, next to the change feed's) collect every change of
   an audited model the ORM flushes: values before (from the attribute history) and after, per
   (entity, id). Balances change with Core statements, so `cmdesk.server.operations.balances` notes
   them (`balance_changed`); other Core updates are noted by their operation (`note`). A savepoint
   that rolls back takes its changes with it.
3. **One record.** Just before the transaction commits, the collected changes become ONE record: its
   main entity is the one the route is about (`routes.ACTIONS`), or an operation's explicit
   `note(..., primary=True)`, or the first row created, or the first changed; the other changes go
   in `changes`, and every entity touched is indexed in `audit_subjects`. A transaction that rolls
   back writes nothing, since the record is part of it. Secrets are stripped (`values.scrub`).

A fast path that bypasses the ORM writes its record itself, in its own transaction: from Python with
`write_record` (any database), or in SQL with the function `cmdesk_audit(...)` (PostgreSQL; arguments
from `sql_arguments`). If it also runs ORM code in the same session, it calls `mark_recorded` so the
hooks do not write a second record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, event, insert, inspect, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from cmdesk.models import (
    Account,
    AccountSettings,
    Alert,
    AlertRule,
    AuditRecord,
    AuditSubject,
    AutoSaleRule,
    CatalogContract,
    CatalogFee,
    CatalogPackage,
    Charge,
    Client,
    ClientInteraction,
    Contract,
    Invitation,
    Invoice,
    License,
    LinkToken,
    Membership,
    Movement,
    PricePackage,
    Profile,
    SoftwareFile,
    SoftwareProduct,
    StampingAccount,
    SupportPolicy,
    TopUpCode,
    utcnow,
)
from cmdesk.server.audit.values import NOISE_FIELDS, json_value, scrub

# An Account row is an "account" in its own bitácora and a "distributor" in its parent's; which one is
# known only when the record's owner is, so changes keep this placeholder until then.
ACCOUNT = "@account"


@dataclass
class AuditContext:
    """Who acts, from where, through which route, and why. Mutable: the actor is set after binding."""

    action: str
    label: str = ""
    entity: str = ""  # the main entity type the route is about ("" = the first row created)
    method: str = ""
    route: str = ""
    device: str = ""
    ip: str = ""
    reason: str = ""
    account_id: str | None = None
    profile_id: str | None = None
    # A system job touching many accounts at once (the CLI's maintenance): one record per account whose
    # rows changed, instead of one for the whole transaction.
    per_owner: bool = False


_CURRENT: ContextVar[AuditContext | None] = ContextVar("cmdesk_audit_context", default=None)


def bind(ctx: AuditContext | None) -> None:
    """Make `ctx` the context of the current request (or task, or thread)."""
    _CURRENT.set(ctx)


def current() -> AuditContext | None:
    return _CURRENT.get()


def set_actor(account_id: str, profile_id: str | None) -> None:
    """Name who acts, once authenticated (no-op without a context)."""
    ctx = _CURRENT.get()
    if ctx is not None:
        ctx.account_id = account_id
        ctx.profile_id = None if profile_id in (None, "", "system") else profile_id


@contextlib.contextmanager
def context(action: str, label: str = "", entity: str = "", **fields: Any) -> Iterator[AuditContext]:
    """Audit what runs inside (the CLI's maintenance, scripts, tests): `with context("x.y", ...)`."""
    ctx = AuditContext(action=action, label=label or action, entity=entity, **fields)
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


# ---- Which models are audited, under which entity ------------------------------------------------

# model → (entity, attribute holding its id, field prefix). A prefix folds a dependent row into its
# parent's change: a CTI's auto-sale rule shows as the CTI's `auto_sale.minimum`, a user's membership
# as the profile's `membership.role`, a confirmation e-mail as the account's `confirmation.expires_at`.
_SPECS: dict[type, tuple[str, str, str]] = {
    Account: (ACCOUNT, "id", ""),
    AccountSettings: ("settings", "account_id", ""),
    Profile: ("profile", "id", ""),
    Membership: ("profile", "profile_id", "membership."),
    # A distributor's e-mail confirmation link (its hash scrubbed); other links are a person's own
    # (password reset) or an invitation's, which is audited as the invitation.
    LinkToken: (ACCOUNT, "account_id", "confirmation."),
    Invitation: ("invitation", "id", ""),
    Client: ("client", "id", ""),
    ClientInteraction: ("interaction", "id", ""),
    SupportPolicy: ("support_policy", "id", ""),
    StampingAccount: ("stamping_account", "id", ""),
    AutoSaleRule: ("stamping_account", "stamping_account_id", "auto_sale."),
    Movement: ("movement", "id", ""),
    Charge: ("charge", "id", ""),
    Invoice: ("invoice", "id", ""),
    TopUpCode: ("top_up_code", "id", ""),
    Contract: ("contract", "id", ""),
    License: ("license", "id", ""),
    PricePackage: ("price_package", "id", ""),
    SoftwareProduct: ("software_product", "id", ""),
    SoftwareFile: ("software_file", "id", ""),
    CatalogPackage: ("catalog_package", "id", ""),
    CatalogContract: ("catalog_contract", "code", ""),
    CatalogFee: ("catalog_fee", "code", ""),
    AlertRule: ("alert_rule", "id", ""),
    Alert: ("alert", "id", ""),
}

# Parties of a movement or a code, as entities (catalog and issued are not entities of an account).
_PARTY_ENTITY = {
    "account": ACCOUNT,
    "client": "client",
    "stamping_account": "stamping_account",
    "top_up_code": "top_up_code",
}

# Entities too many to index as subjects when they are not the main one (a bulk transfer's movements
# are in its `changes`; its subjects are the CTIs, clients and distributors that received them).
_NOT_SUBJECTS = frozenset({"movement", "charge"})


def _related(obj: Any) -> set[tuple[str, str]]:
    """Other entities a row belongs to, so their history shows it (a CTI's client, a sale's CTI)."""
    out: set[tuple[str, str]] = set()
    client_id = getattr(obj, "client_id", None)
    if client_id:
        out.add(("client", client_id))
    if isinstance(obj, Movement):
        for kind, ident in ((obj.source_type, obj.source_id), (obj.target_type, obj.target_id)):
            entity = _PARTY_ENTITY.get(kind or "")
            if entity and ident:
                out.add((entity, ident))
    elif isinstance(obj, TopUpCode):
        entity = _PARTY_ENTITY.get(obj.receiver_type or "")
        if entity and obj.receiver_id and obj.receiver_type != "account":
            out.add((entity, obj.receiver_id))
        if obj.receiver_client_id:
            out.add(("client", obj.receiver_client_id))
    elif isinstance(obj, License | Charge) and obj.contract_id:
        out.add(("contract", obj.contract_id))
    elif isinstance(obj, Alert | AlertRule):
        kind, ident = (
            (obj.subject_type, obj.subject_id) if isinstance(obj, Alert) else (obj.scope, obj.scope_id)
        )
        entity = _PARTY_ENTITY.get(kind or "")
        if entity and ident:
            out.add((entity, ident))
    return out


# ---- Collected changes --------------------------------------------------------------------------


@dataclass
class _Change:
    entity: str
    id: str
    op: str  # "create" | "update" | "delete"
    before: dict[str, Any]
    after: dict[str, Any]
    seq: int
    owner: str | None = None  # the account whose row it is
    owner_of: str | None = None  # ...or: the owner is that of this account (its parent, else itself)
    related: set[tuple[str, str]] = field(default_factory=set)

    def copy(self) -> _Change:
        return dataclasses.replace(
            self, before=dict(self.before), after=dict(self.after), related=set(self.related)
        )


@dataclass
class _Collector:
    changes: dict[tuple[str, str], _Change] = field(default_factory=dict)
    pending_new: list[Any] = field(default_factory=list)
    primary: tuple[str, str] | None = None
    recorded: bool = False
    seq: int = 0
    savepoints: dict[int, tuple[dict[tuple[str, str], _Change], tuple[str, str] | None]] = field(
        default_factory=dict
    )

    def register(
        self,
        entity: str,
        ident: str,
        op: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        prefix: str = "",
        owner: str | None = None,
        owner_of: str | None = None,
        related: Iterable[tuple[str, str]] = (),
    ) -> None:
        key = (entity, ident)
        change = self.changes.get(key)
        if change is None:
            self.seq += 1
            change = _Change(entity, ident, "update", {}, {}, self.seq)
            self.changes[key] = change
        change.owner = change.owner or owner
        change.owner_of = change.owner_of or owner_of
        change.related.update(related)
        before = {prefix + k: v for k, v in (before or {}).items()}
        after = {prefix + k: v for k, v in (after or {}).items()}
        if prefix:
            # A dependent row: its fields change inside the parent's change.
            if op == "create":
                before = dict.fromkeys(after)
            elif op == "delete":
                after = dict.fromkeys(before)
            for k, v in before.items():
                change.before.setdefault(k, v)
            change.after.update(after)
            return
        if op == "create":
            change.op = "create"
            change.before = {}
            change.after = {**after, **change.after} if change.after else after
        elif op == "update":
            for k, v in before.items():
                if change.op != "create":
                    change.before.setdefault(k, v)
            change.after.update(after)
        elif op == "delete":
            if change.op == "create":
                del self.changes[key]
                return
            change.op = "delete"
            change.before = {**before, **change.before}
            change.after = {}

    def snapshot(self) -> tuple[dict[tuple[str, str], _Change], tuple[str, str] | None]:
        return {k: c.copy() for k, c in self.changes.items()}, self.primary


_KEY = "cmdesk_audit"


def _collector(session: Session) -> _Collector:
    col: _Collector | None = session.info.get(_KEY)
    if col is None:
        col = session.info[_KEY] = _Collector()
    return col


# ---- Explicit notes (Core statements, fast paths) ------------------------------------------------


def note(
    session: Session,
    entity: str,
    entity_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    op: str = "update",
    owner: str | None = None,
    related: Iterable[tuple[str, str]] = (),
    primary: bool = False,
) -> None:
    """Record a change the ORM does not see (a Core UPDATE), in the current operation's record.
    `entity` "account"/"distributor" both mean an Account row. `primary=True` makes it the main entity."""
    if _CURRENT.get() is None:
        return
    if entity in ("account", "distributor"):
        entity = ACCOUNT
    col = _collector(session)
    col.register(
        entity,
        entity_id,
        op,
        before,
        after,
        owner=owner,
        owner_of=entity_id if entity == ACCOUNT and owner is None else None,
        related=related,
    )
    if primary:
        col.primary = (entity, entity_id)


def balance_changed(
    session: Session,
    entity: str,
    entity_id: str,
    column: str,
    new_value: int,
    delta: int,
    *,
    owner: str | None = None,
    related: Iterable[tuple[str, str]] = (),
) -> None:
    """A conditional balance UPDATE moved `column` by `delta` to `new_value` (balances.debit/credit)."""
    if _CURRENT.get() is None:
        return
    note(
        session,
        entity,
        entity_id,
        before={column: int(new_value) - delta},
        after={column: int(new_value)},
        owner=owner,
        related=related,
    )


def mark_recorded(session: Session) -> None:
    """This transaction's record was written by other means (`write_record`, `cmdesk_audit`)."""
    _collector(session).recorded = True


# ---- Session hooks ------------------------------------------------------------------------------


def install_hooks(factory: sessionmaker[Session]) -> None:
    """Attach the recorder to every session of `factory` (after the feed's hooks)."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_transaction_create", _after_transaction_create)
    event.listen(factory, "after_soft_rollback", _after_soft_rollback)
    event.listen(factory, "after_transaction_end", _after_transaction_end)


def _spec(obj: Any) -> tuple[str, str, str] | None:
    spec = _SPECS.get(type(obj))
    if spec is None or (isinstance(obj, LinkToken) and obj.purpose != "confirm_email"):
        return None
    entity, id_attr, prefix = spec
    ident = getattr(obj, id_attr, None)
    if ident is None:
        return None
    return entity, str(ident), prefix


def _owner(obj: Any) -> tuple[str | None, str | None]:
    """(owner, owner_of): a row's account, or for accounts and confirmations whose owner is their parent,
    the account to look the parent up from."""
    if isinstance(obj, Account):
        return (obj.parent_id or obj.id), None
    if isinstance(obj, LinkToken):
        return None, obj.account_id
    return getattr(obj, "account_id", None), None


def _values(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    loaded = state.dict
    spec = _SPECS[type(obj)]
    # A dependent row leaves out the column that links it to its parent (the parent is the entity).
    skip = spec[1] if spec[2] else None
    return {a.key: loaded[a.key] for a in state.mapper.column_attrs if a.key in loaded and a.key != skip}


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    if _CURRENT.get() is None:
        return
    col: _Collector | None = None
    for obj in session.new:
        if type(obj) in _SPECS:
            col = col or _collector(session)
            col.pending_new.append(obj)
    for obj in session.dirty:
        if type(obj) in _SPECS:
            col = col or _collector(session)
            _collect_update(session, col, obj)
    for obj in session.deleted:
        spec = _spec(obj)
        if spec is not None:
            col = col or _collector(session)
            entity, ident, prefix = spec
            owner, owner_of = _owner(obj)
            col.register(
                entity,
                ident,
                "delete",
                _values(obj),
                None,
                prefix=prefix,
                owner=owner,
                owner_of=owner_of,
                related=_related(obj),
            )


def _collect_update(session: Session, col: _Collector, obj: Any) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    unknown: list[str] = []
    for attr in state.mapper.column_attrs:
        if attr.key in NOISE_FIELDS:
            continue
        history = state.attrs[attr.key].history
        if not history.added and not history.deleted:
            continue
        after[attr.key] = history.added[0] if history.added else None
        if history.deleted:
            before[attr.key] = history.deleted[0]
        else:
            unknown.append(attr.key)
    if not after:
        return
    if unknown:
        # Set without having been loaded: the database still holds the old values (not flushed yet).
        mapper = state.mapper
        pk = mapper.primary_key_from_instance(obj)
        cols = [mapper.columns[k] for k in unknown]
        where = [c == v for c, v in zip(mapper.primary_key, pk, strict=True)]
        row = session.connection().execute(select(*cols).where(*where)).first()
        for key, value in zip(unknown, row or [None] * len(unknown), strict=True):
            before[key] = value
    entity, ident, prefix = spec
    owner, owner_of = _owner(obj)
    col.register(
        entity,
        ident,
        "update",
        before,
        after,
        prefix=prefix,
        owner=owner,
        owner_of=owner_of,
        related=_related(obj),
    )


def _after_flush(session: Session, _ctx: Any) -> None:
    col: _Collector | None = session.info.get(_KEY)
    if col is None or not col.pending_new:
        return
    pending, col.pending_new = col.pending_new, []
    for obj in pending:
        spec = _spec(obj)
        if spec is None:
            continue
        entity, ident, prefix = spec
        owner, owner_of = _owner(obj)
        col.register(
            entity,
            ident,
            "create",
            None,
            _values(obj),
            prefix=prefix,
            owner=owner,
            owner_of=owner_of,
            related=_related(obj),
        )


def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and _CURRENT.get() is not None:
        col = _collector(session)
        col.savepoints[id(transaction)] = col.snapshot()


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    col: _Collector | None = session.info.get(_KEY)
    if col is None:
        return
    if previous_transaction.nested:
        saved = col.savepoints.pop(id(previous_transaction), None)
        if saved is not None:
            col.changes, col.primary = saved
        col.pending_new = []
    else:
        session.info.pop(_KEY, None)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # `after_commit` also fires for a savepoint's release; only the end of the outermost transaction
    # closes the operation.
    if transaction.parent is None:
        session.info.pop(_KEY, None)


def _before_commit(session: Session) -> None:
    ctx = _CURRENT.get()
    if ctx is None or session.in_nested_transaction():
        return
    session.flush()  # what commit would flush anyway, so that its changes are collected too
    col: _Collector | None = session.info.get(_KEY)
    if col is None or col.recorded:
        return
    _write_collected(session, ctx, col)
    col.recorded = True


# ---- Writing ------------------------------------------------------------------------------------


def _meaningful(change: _Change) -> bool:
    if change.op != "update":
        return True
    for key in list(change.after):
        if key in change.before and json_value(change.before[key]) == json_value(change.after[key]):
            del change.after[key]
            del change.before[key]
    return bool(change.after or change.before)


def _resolve_owner(session: Session, change: _Change, cache: dict[str, str | None]) -> str | None:
    if change.owner is not None:
        return change.owner
    if change.owner_of is None:
        return None
    if change.owner_of not in cache:
        parent = (
            session.connection()
            .execute(select(Account.parent_id).where(Account.id == change.owner_of))
            .first()
        )
        cache[change.owner_of] = (parent[0] or change.owner_of) if parent is not None else None
    return cache[change.owner_of]


def _entity_name(entity: str, ident: str, owner: str) -> str:
    if entity == ACCOUNT:
        return "account" if ident == owner else "distributor"
    return entity


def _matches(change: _Change, wanted: str) -> bool:
    if change.entity == ACCOUNT:
        return wanted in ("account", "distributor")
    return change.entity == wanted


def _write_collected(session: Session, ctx: AuditContext, col: _Collector) -> None:
    changes = [c for c in sorted(col.changes.values(), key=lambda c: c.seq) if _meaningful(c)]
    if not changes:
        return
    if ctx.per_owner and ctx.account_id is None:
        owners: dict[str, str | None] = {}
        groups: dict[str | None, list[_Change]] = {}
        for c in changes:
            groups.setdefault(_resolve_owner(session, c, owners), []).append(c)
        for owner, group in groups.items():
            if owner is not None:
                _write_one(session, ctx, col, group, owner)
        return
    _write_one(session, ctx, col, changes, None)


def _write_one(
    session: Session, ctx: AuditContext, col: _Collector, changes: list[_Change], owner: str | None
) -> None:
    # The main entity: named by the operation, else the route's kind of entity (created first), else
    # the first row created, else the first changed.
    main: _Change | None = col.changes.get(col.primary) if col.primary else None
    if main is not None and main not in changes:
        main = None
    if main is None and ctx.entity:
        of_kind = [c for c in changes if _matches(c, ctx.entity)]
        main = next((c for c in of_kind if c.op == "create"), of_kind[0] if of_kind else None)
    if main is None:
        main = next((c for c in changes if c.op == "create"), changes[0])
    owners: dict[str, str | None] = {}
    owner = owner or ctx.account_id or _resolve_owner(session, main, owners)
    if owner is None:
        owner = next((o for c in changes if (o := _resolve_owner(session, c, owners)) is not None), None)
    if owner is None:
        return  # nothing of any account changed (e.g. the global catalog from a script)
    others = [
        {
            "entity": _entity_name(c.entity, c.id, owner),
            "id": c.id,
            "op": c.op,
            "before": scrub(c.before) if c.op != "create" else None,
            "after": scrub(c.after) if c.op != "delete" else None,
        }
        for c in changes
        if c is not main
    ]
    subjects: set[tuple[str, str]] = set()
    for c in changes:
        if c is main or c.entity not in _NOT_SUBJECTS:
            subjects.add((_entity_name(c.entity, c.id, owner), c.id))
        for entity, ident in c.related:
            subjects.add((_entity_name(entity, ident, owner), ident))
    write_record(
        session.connection(),
        account_id=owner,
        profile_id=ctx.profile_id,
        device=ctx.device,
        ip=ctx.ip,
        action=ctx.action,
        route=f"{ctx.method} {ctx.route}".strip(),
        entity_type=_entity_name(main.entity, main.id, owner),
        entity_id=main.id,
        reason=ctx.reason,
        before=scrub(main.before) if main.op != "create" else None,
        after=scrub(main.after) if main.op != "delete" else None,
        changes=others or None,
        subjects=subjects,
    )


def _scrub_changes(changes: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not changes:
        return None
    return [{**c, "before": scrub(c.get("before")), "after": scrub(c.get("after"))} for c in changes]


def write_record(
    conn: Connection | Session,
    *,
    account_id: str,
    action: str,
    entity_type: str,
    entity_id: str,
    profile_id: str | None = None,
    device: str = "",
    ip: str = "",
    route: str = "",
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    changes: list[dict[str, Any]] | None = None,
    subjects: Iterable[tuple[str, str]] = (),
    scrubbed: bool = False,
    changes_text: str | None = None,
) -> int:
    """Insert one record and its subjects (the main entity is one of them); returns its id.

    For fast paths on any database, in the caller's transaction. `before`/`after`/`changes` are
    scrubbed of secrets here too, unless the caller made them JSON-ready and free of secrets
    beforehand (`scrubbed`: a bulk's record prepared before its transaction, which then only
    inserts it). `changes_text`: the changes already encoded as JSON text, scrubbed (SQLite only, which
    stores JSON as text: a bulk's 10,000 changes are encoded before its transaction)."""
    now = utcnow()
    stored_changes: Any = (changes or None) if scrubbed else _scrub_changes(changes)
    if changes_text is not None:
        stored_changes = type_coerce(changes_text, Text)
    record_id = conn.execute(
        insert(AuditRecord)
        .values(
            account_id=account_id,
            created_at=now,
            profile_id=profile_id,
            device=device[:200],
            ip=ip[:64],
            action=action[:60],
            route=route[:200],
            entity_type=entity_type,
            entity_id=entity_id,
            reason=reason,
            before=before if scrubbed else scrub(before),
            after=after if scrubbed else scrub(after),
            changes=stored_changes,
        )
        .returning(AuditRecord.id)
    ).scalar_one()
    _insert_subjects(conn, record_id, account_id, now, sorted({*subjects, (entity_type, entity_id)}))
    return int(record_id)


_SUBJECTS_SQL = (
    "INSERT INTO audit_subjects (audit_id, entity_type, entity_id, account_id, created_at)"
    " VALUES ({0}, {0}, {0}, {0}, {0})"
)


def add_subjects(
    conn: Connection | Session, record_id: int, account_id: str, at: Any, subjects: list[tuple[str, str]]
) -> None:
    """More subjects for a record written before (a bulk's chunks add theirs); those it has already
    are skipped."""
    if subjects:
        _insert_subjects(conn, record_id, account_id, at, subjects, skip_existing=True)


def _insert_subjects(
    conn: Connection | Session,
    record_id: int,
    account_id: str,
    now: Any,
    subjects: list[tuple[str, str]],
    *,
    skip_existing: bool = False,
) -> None:
    """The record's subjects in one executemany, its time converted once (a bulk's record has 10,000
    of them: SQLAlchemy's per-row parameter processing took most of the time)."""
    connection = conn.connection() if isinstance(conn, Session) else conn
    column = AuditSubject.__table__.c.created_at
    process = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    at = process(now) if process is not None else now
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = _SUBJECTS_SQL.format(mark) + (" ON CONFLICT DO NOTHING" if skip_existing else "")
    connection.exec_driver_sql(sql, [(record_id, e, i, account_id, at) for e, i in subjects])


# The call a PostgreSQL fast path makes (as a statement of its own, or inside its function):
AUDIT_CALL_SQL = (
    "SELECT cmdesk_audit(:account_id, :profile_id, :device, :ip, :action, :route, :reason, "
    ":entity_type, :entity_id, CAST(:before AS jsonb), CAST(:after AS jsonb), CAST(:changes AS jsonb), "
    "CAST(:subjects AS jsonb))"
)


def sql_arguments(
    ctx: AuditContext,
    *,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    changes: list[dict[str, Any]] | None = None,
    subjects: Iterable[tuple[str, str]] = (),
    account_id: str | None = None,
) -> dict[str, Any]:
    """The parameters of `AUDIT_CALL_SQL` for the current context (JSON scrubbed and encoded)."""

    def enc(value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False)

    owner = account_id or ctx.account_id
    if owner is None:
        raise ValueError("an audit record needs the account it belongs to")
    return {
        "account_id": owner,
        "profile_id": ctx.profile_id,
        "device": ctx.device,
        "ip": ctx.ip,
        "action": ctx.action,
        "route": f"{ctx.method} {ctx.route}".strip(),
        "reason": ctx.reason,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": enc(scrub(before)),
        "after": enc(scrub(after)),
        "changes": enc(_scrub_changes(changes)),
        "subjects": enc([list(s) for s in subjects]),
    }
