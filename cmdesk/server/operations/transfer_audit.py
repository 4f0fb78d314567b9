"""The bitácora of set-based transfers: the record a bulk (or a transfer) written with Core statements
leaves, the same one `ledger.transfer` leaves through the ORM recorder.

`ledger.transfer` debits the distributor, credits the target and creates the movement; the recorder
makes of it ONE record whose main entity is the movement (`audit.routes`: "movement"), with the
balances before and after in its `changes`. A bulk through the ORM did that item after item: the
first movement the main entity, the other movements, the distributor's balance (before the first,
after the last) and each target's in `changes`. The set-based bulk (`bulk_transfers.bulk_transfer`, and on
SQLite `bulk_transfers.begin_bulk_run`) notes the same changes here (`audit.note`), so the recorder writes
the same record. PostgreSQL's fast path writes it inside `cmdesk_transfer` (`models.pg_functions`),
with the same values; `tests/server/audit` compares the three.

On SQLite's bulk in steps the record is written when the bulk is accepted (the transaction that
decides all or nothing, `begin_bulk_run`), but made before it (`prepare`, with the plan): that
transaction holds SQLite's only write lock, and building 5,000 movements' JSON in it kept every other
distributor's stamping waiting for seconds. The targets are credited later, in chunks, so their
"before" is the balance read with the plan and their "after" that plus what they receive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from cmdesk.domain.enums import Asset, MovementKind, PartyType
from cmdesk.models import Account, AuditRecord, Client, StampingAccount
from cmdesk.server import audit, db
from cmdesk.server.audit.recorder import ACCOUNT
from cmdesk.server.audit.values import json_value
from cmdesk.server.breathing import breathing

# A compact movement row of `ledger` (its `_ROW`): the positions used here.
_ID, _TYPE, _TARGET, _CLIENT, _COUNTERPART, _ASSET, _QUANTITY, _AMOUNT, _COMMENTS = range(9)
_IN_CHUNK = 500


def wanted() -> bool:
    """Whether a record is being collected (a mutating request; not the CLI, not the tests of the
    operations)."""
    return audit.current() is not None


def _column(target_type: str, asset: str) -> str:
    if target_type == PartyType.STAMPING_ACCOUNT.value:
        return "balance"
    if target_type == PartyType.CLIENT.value:
        return "points_balance"
    return "stamps_balance" if asset == Asset.STAMPS.value else "points_balance"


def received(rows: Iterable[list[Any]]) -> dict[tuple[str, str, str], tuple[int, str | None]]:
    """What each target receives, in the order the targets first appear: (type, id, asset) →
    (quantity, client)."""
    out: dict[tuple[str, str, str], tuple[int, str | None]] = {}
    for r in rows:
        key = (r[_TYPE], r[_TARGET], r[_ASSET])
        quantity, _client = out.get(key, (0, None))
        out[key] = (quantity + int(r[_QUANTITY]), r[_CLIENT])
    return out


def balances_of(session: Session, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """The current balances of targets (type, id, asset) that receive transfers."""
    by_type: dict[str, list[str]] = {}
    for target_type, ident, _asset in keys:
        by_type.setdefault(target_type, []).append(ident)
    found: dict[tuple[str, str, str], int] = {}
    conn = session.connection()
    for target_type, ids in by_type.items():
        unique = list(dict.fromkeys(ids))
        if conn.dialect.name == "sqlite":
            found.update(_sqlite_balances(conn, target_type, unique))
            continue
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            if target_type == PartyType.STAMPING_ACCOUNT.value:
                for ident, balance in conn.execute(
                    select(StampingAccount.id, StampingAccount.balance).where(StampingAccount.id.in_(chunk))
                ):
                    found[(target_type, ident, Asset.STAMPS.value)] = int(balance)
            elif target_type == PartyType.CLIENT.value:
                for ident, balance in conn.execute(
                    select(Client.id, Client.points_balance).where(Client.id.in_(chunk))
                ):
                    found[(target_type, ident, Asset.POINTS.value)] = int(balance)
            else:
                for ident, st, pt in conn.execute(
                    select(Account.id, Account.stamps_balance, Account.points_balance).where(
                        Account.id.in_(chunk)
                    )
                ):
                    found[(target_type, ident, Asset.STAMPS.value)] = int(st)
                    found[(target_type, ident, Asset.POINTS.value)] = int(pt)
    return found


# On SQLite the balances come back as ONE row (a JSON array made by SQLite): pysqlite lets go of the
# GIL at every row it steps, and thousands of quick rows in a row kept the worker's other threads
# (the event loop, another distributor's stamping) from getting it back for tens of milliseconds.
_SQLITE_BALANCES = {
    PartyType.STAMPING_ACCOUNT.value: "SELECT json_group_array(json_array(id, balance, 0))"
    " FROM stamping_accounts WHERE id IN (SELECT value FROM json_each(:ids))",
    PartyType.CLIENT.value: "SELECT json_group_array(json_array(id, 0, points_balance))"
    " FROM clients WHERE id IN (SELECT value FROM json_each(:ids))",
    PartyType.ACCOUNT.value: "SELECT json_group_array(json_array(id, stamps_balance, points_balance))"
    " FROM accounts WHERE id IN (SELECT value FROM json_each(:ids))",
}


def _sqlite_balances(conn: Any, target_type: str, ids: list[str]) -> dict[tuple[str, str, str], int]:
    text = conn.exec_driver_sql(_SQLITE_BALANCES[target_type], {"ids": orjson.dumps(ids).decode()}).scalar()
    found: dict[tuple[str, str, str], int] = {}
    for ident, stamps, points in orjson.loads(text):
        if target_type != PartyType.CLIENT.value:
            found[(target_type, ident, Asset.STAMPS.value)] = int(stamps)
        if target_type != PartyType.STAMPING_ACCOUNT.value:
            found[(target_type, ident, Asset.POINTS.value)] = int(points)
    return found


def movement_values(account_id: str, author: str, row: list[Any], created_at: Any) -> dict[str, Any]:
    """A movement as the recorder shows a created one (its columns as they were set)."""
    return {
        "id": row[_ID],
        "account_id": account_id,
        "counterpart_account_id": row[_COUNTERPART],
        "kind": MovementKind.TRANSFER.value,
        "asset": row[_ASSET],
        "quantity": row[_QUANTITY],
        "amount_cents": row[_AMOUNT],
        "source_type": PartyType.ACCOUNT.value,
        "source_id": account_id,
        "target_type": row[_TYPE],
        "target_id": row[_TARGET],
        "client_id": row[_CLIENT],
        "comments": row[_COMMENTS],
        "created_at": created_at,
        "created_by": author,
    }


def _target_entity(target_type: str) -> str:
    """The recorder's entity of a target (an Account row is "account" or "distributor" by owner)."""
    return ACCOUNT if target_type == PartyType.ACCOUNT.value else target_type


def note_transfers(
    session: Session,
    *,
    account_id: str,
    author: str,
    rows: list[list[Any]],
    created_at: Any,
    credited: bool,
) -> None:
    """Note a set-based transfer's changes for the recorder, after the distributor was debited (its
    row is then this transaction's): its balances before and after, each target's, and the movements
    created. `credited`: whether the targets were credited already in this transaction (their
    balances are read after the credit, exact while their rows are locked), or will be later (SQLite's
    chunks: read before). No-op without an audit context."""
    if not wanted():
        return
    head = session.execute(
        select(Account.parent_id, Account.stamps_balance, Account.points_balance).where(
            Account.id == account_id
        )
    ).one()
    debited_to = {Asset.STAMPS.value: int(head[1]), Asset.POINTS.value: int(head[2])}
    spent: dict[str, int] = {}
    for r in rows:
        spent[r[_ASSET]] = spent.get(r[_ASSET], 0) + int(r[_QUANTITY])
    for asset in (Asset.STAMPS.value, Asset.POINTS.value):
        if spent.get(asset):
            audit.balance_changed(
                session,
                "account",
                account_id,
                _column(PartyType.ACCOUNT.value, asset),
                debited_to[asset],
                -spent[asset],
                owner=head[0] or account_id,
            )
    targets = received(rows)
    now_held = balances_of(session, targets)
    for (target_type, ident, asset), (quantity, client_id) in targets.items():
        new = now_held[(target_type, ident, asset)] + (0 if credited else quantity)
        cti = target_type == PartyType.STAMPING_ACCOUNT.value
        related = [("client", client_id)] if cti and client_id else []
        audit.balance_changed(
            session,
            _target_entity(target_type),
            ident,
            _column(target_type, asset),
            new,
            quantity,
            owner=account_id,
            related=related,
        )
    for r in rows:
        related = [(ACCOUNT, account_id), (_target_entity(r[_TYPE]), r[_TARGET])]
        if r[_CLIENT]:
            related.append(("client", r[_CLIENT]))
        audit.note(
            session,
            "movement",
            r[_ID],
            op="create",
            after=movement_values(account_id, author, r, created_at),
            owner=account_id,
            related=related,
        )


# ---- A record prepared before its transaction (SQLite's bulk in steps) ----------------------------


@dataclass(frozen=True)
class Prepared:
    """A bulk's record but for the distributor's balances (known only once debited), JSON-ready."""

    main_id: str
    main_after: dict[str, Any]
    changes: list[dict[str, Any]]  # the targets', then the other movements'
    subjects: frozenset[tuple[str, str]]
    spent: dict[str, int]
    # `changes` as JSON text, made before the transaction: on SQLite encoding 10,000 changes (some
    # 3 MB) inside it held the write lock, and another distributor's stamping, for tens of ms.
    changes_json: str = field(default="", repr=False)
    # The whole text with the distributor's change as it will be when nothing else moved its balance
    # meanwhile (its balances after the debit, and the text): joining 3 MB of text in the transaction
    # took ~10 ms of SQLite's write lock (a fresh allocation of that size page-faults).
    expected: tuple[dict[str, int], str] | None = field(default=None, repr=False)


def _entity_name(target_type: str) -> str:
    return "distributor" if target_type == PartyType.ACCOUNT.value else target_type


def prepare(
    factory: db.SessionFactory, *, account_id: str, author: str, rows: list[list[Any]], created_at: Any
) -> Prepared | None:
    """The record of a bulk about to be accepted, made out of any transaction (the targets' balances
    read in short ones); None without an audit context."""
    if not wanted() or not rows:
        return None
    targets = received(rows)
    keys = list(targets)
    held: dict[tuple[str, str, str], int] = {}
    step = len(keys) or 1 if factory.kw["bind"].dialect.name == "sqlite" else _IN_CHUNK  # one read
    for start in range(0, len(keys), step):
        held.update(db.read(factory, balances_of, keys[start : start + step]))
    by_target: dict[tuple[str, str], dict[str, Any]] = {}
    subjects: set[tuple[str, str]] = {("account", account_id)}
    for (target_type, ident, asset), (quantity, client_id) in breathing(targets.items()):
        change = by_target.setdefault(
            (target_type, ident),
            {"entity": _entity_name(target_type), "id": ident, "op": "update", "before": {}, "after": {}},
        )
        column, before = _column(target_type, asset), held[(target_type, ident, asset)]
        change["before"][column], change["after"][column] = before, before + quantity
        subjects.add((_entity_name(target_type), ident))
        if client_id:
            subjects.add(("client", client_id))
    when = json_value(created_at)
    moves = []
    for r in breathing(rows):
        after = movement_values(account_id, author, r, when)
        moves.append({"entity": "movement", "id": r[_ID], "op": "create", "before": None, "after": after})
    spent: dict[str, int] = {}
    for r in rows:
        spent[r[_ASSET]] = spent.get(r[_ASSET], 0) + int(r[_QUANTITY])
    changes = list(by_target.values()) + moves[1:]
    text = orjson.dumps(changes).decode()
    prepared = Prepared(rows[0][_ID], moves[0]["after"], changes, frozenset(subjects), spent, text)
    if factory.kw["bind"].dialect.name != "sqlite":
        return prepared
    stamps, points = db.read(factory, _held, account_id)
    after = {Asset.STAMPS.value: stamps - spent.get(Asset.STAMPS.value, 0)}
    after[Asset.POINTS.value] = points - spent.get(Asset.POINTS.value, 0)
    expected = _joined(_account_change(account_id, after, prepared), text)
    return replace(prepared, expected=(after, expected))


def _held(session: Session, account_id: str) -> tuple[int, int]:
    stamps, points = session.execute(
        select(Account.stamps_balance, Account.points_balance).where(Account.id == account_id)
    ).one()
    return int(stamps), int(points)


def _account_change(account_id: str, now_held: dict[str, int], prepared: Prepared) -> dict[str, Any]:
    """The distributor's change in a bulk's record: its balances before and after the debit."""
    columns = [
        (_column(PartyType.ACCOUNT.value, asset), now_held[asset], prepared.spent[asset])
        for asset in (Asset.STAMPS.value, Asset.POINTS.value)
        if prepared.spent.get(asset)
    ]
    return {
        "entity": "account",
        "id": account_id,
        "op": "update",
        "before": {column: held + spent for column, held, spent in columns},
        "after": {column: held for column, held, _spent in columns},
    }


def _joined(account: dict[str, Any], changes_json: str) -> str:
    rest = changes_json[1:-1]
    head = orjson.dumps(account).decode()
    return "[" + head + ("," + rest if rest else "") + "]"


def write_prepared(
    session: Session, prepared: Prepared, account_id: str, *, subjects_later: bool = False
) -> int | None:
    """Write a prepared record in the transaction that debited the distributor (its balances read
    now: its row is this transaction's), instead of the recorder's; returns its id. With
    `subjects_later` only the distributor and the main movement are its subjects here: the chunks
    that write the movements add the others (`write_subjects`), each in its own short transaction."""
    ctx = audit.current()
    if ctx is None:
        return None
    stamps, points = session.execute(
        select(Account.stamps_balance, Account.points_balance).where(Account.id == account_id)
    ).one()
    now_held = {Asset.STAMPS.value: int(stamps), Asset.POINTS.value: int(points)}
    account = _account_change(account_id, now_held, prepared)
    record_id = audit.write_record(
        session.connection(),
        account_id=ctx.account_id or account_id,
        profile_id=ctx.profile_id,
        device=ctx.device,
        ip=ctx.ip,
        action=ctx.action,
        route=f"{ctx.method} {ctx.route}".strip(),
        entity_type="movement",
        entity_id=prepared.main_id,
        reason=ctx.reason,
        after=prepared.main_after,
        changes=[account, *prepared.changes],
        changes_text=_changes_text(session, account, now_held, prepared),
        subjects=[("account", account_id)] if subjects_later else prepared.subjects,
        scrubbed=True,
    )
    audit.mark_recorded(session)
    return record_id


def _changes_text(
    session: Session, account: dict[str, Any], now_held: dict[str, int], prepared: Prepared
) -> str | None:
    """On SQLite (JSON stored as text) the record's changes as text: the distributor's, then the
    prepared ones encoded beforehand, so nothing is encoded in the transaction (the whole text made
    beforehand, when the balances are those expected). None elsewhere."""
    if session.get_bind().dialect.name != "sqlite" or not prepared.changes_json:
        return None
    if prepared.expected is not None and prepared.expected[0] == now_held:
        return prepared.expected[1]
    return _joined(account, prepared.changes_json)


def row_subjects(rows: Iterable[list[Any]]) -> set[tuple[str, str]]:
    """The bitácora subjects the items `rows` give a bulk's record: each target, and its client."""
    out: set[tuple[str, str]] = set()
    for r in rows:
        out.add((_entity_name(r[_TYPE]), r[_TARGET]))
        if r[_CLIENT]:
            out.add(("client", r[_CLIENT]))
    return out


def write_subjects(session: Session, record_id: int, rows: Iterable[list[Any]]) -> None:
    """Add the subjects of `rows` to the record `record_id` (with the record's account and time); a
    subject another chunk added already is left as it is."""
    record = session.execute(
        select(AuditRecord.account_id, AuditRecord.created_at).where(AuditRecord.id == record_id)
    ).first()
    if record is not None:
        audit.add_subjects(session, record_id, record[0], record[1], sorted(row_subjects(rows)))
