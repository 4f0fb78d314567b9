"""Bulk transfers (Transferencia masiva): every item or none, set-based — a few statements whatever the
number of items — in one transaction (`bulk_transfer`, PostgreSQL's general path), or on SQLite in short
transactions (`plan_bulk`, `begin_bulk_run`, `finish_bulk_run`: see "Bulk transfers in steps" below).
The rules and words are those of `ledger.transfer`, applied item after item; the refusal is the one the
reference meets first. PostgreSQL's fast path (`cmdesk.server.transfer_fast`) uses `bulk_lines` and
`bulk_item_error` to check the input the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from pydantic_core import to_jsonable_python
from sqlalchemy import bindparam, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from cmdesk.domain.amounts import check_quantity
from cmdesk.domain.codes import new_ids
from cmdesk.domain.enums import Asset, MovementKind, PartyType, StampingAccountKind
from cmdesk.domain.errors import DomainError, FieldError, validation_error
from cmdesk.models import (
    Account,
    BulkTransferChunk,
    BulkTransferRun,
    Client,
    Movement,
    StampingAccount,
    utcnow,
)
from cmdesk.server import db, feed, idempotency
from cmdesk.server.breathing import breathing
from cmdesk.server.operations import balances, bulk_chunk_sql, transfer_audit
from cmdesk.server.operations.context import Actor
from cmdesk.server.operations.ledger import (
    CLOSED_ACCOUNT_STATUSES,
    TARGET_REFUSALS,
    TransferLine,
    _Target,
    movement_view,
    transfer_line,
)

MAX_BULK_ITEMS = 5000


def bulk_item_error(err: DomainError, index: int) -> DomainError:
    """A bulk transfer's refusal: the item's error, named by its place (`items[i]`, «Transferencia
    i + 1»), and the reminder that nothing was applied."""
    err.errors = [FieldError(f"items[{index}].{e.field}", e.message) for e in err.errors] or [
        FieldError(f"items[{index}]", err.detail)
    ]
    err.detail = f"Transferencia {index + 1}: {err.detail} No se aplicó ninguna transferencia."
    return err


def bulk_lines(items: Any) -> tuple[list[TransferLine], DomainError | None]:
    """The lines of a bulk transfer up to the first whose input breaks a rule, and that refusal (it
    is answered only when no earlier line is refused by the database)."""
    if not isinstance(items, list) or not items:
        raise validation_error({"items": "Indique al menos una transferencia."})
    if len(items) > MAX_BULK_ITEMS:
        raise validation_error({"items": "Como máximo 5,000 transferencias en una operación."})
    lines: list[TransferLine] = []
    ids = new_ids(len(items))
    for i, item in enumerate(breathing(items)):
        target = item.get("target") or {} if isinstance(item, dict) else {}
        get = item.get if isinstance(item, dict) else {}.get
        try:
            lines.append(
                transfer_line(
                    asset=get("asset", "stamps"),
                    target_type=target.get("type", ""),
                    target_id=target.get("id", ""),
                    quantity=get("quantity", 0),
                    amount_cents=get("amount_cents", 0),
                    comments=get("comments", "") or "",
                    no_charge=get("no_charge"),
                    movement_id=ids[i],
                )
            )
        except DomainError as err:
            return lines, bulk_item_error(err, i)
    return lines, None


def bulk_transfer(
    session: Session, actor: Actor, items: list[dict[str, Any]], *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Transferencia masiva in one transaction, set-based (a few statements whatever the number of
    items): every item or none. Each item: {"asset", "target": {"type", "id"}, "quantity",
    "amount_cents", "comments"}. The refusal is the one the reference would meet first applying
    the items one after the other. SQLite's server takes `bulk_transfer_in_steps` instead."""
    now = now or utcnow()
    rows = _accept_bulk(session, actor, items)
    _apply_rows(session, actor.account_id, actor.author, rows, now)
    transfer_audit.note_transfers(
        session, account_id=actor.account_id, author=actor.author, rows=rows, created_at=now, credited=True
    )
    return {"movements": _views(actor.account_id, actor.author, rows, now)}


def _accept_bulk(session: Session, actor: Actor, items: Any) -> list[list[Any]]:
    return _accept_lines(session, actor, *bulk_lines(items))


def _accept_lines(
    session: Session, actor: Actor, lines: list[TransferLine], late: DomainError | None
) -> list[list[Any]]:
    """Check a bulk transfer and debit the distributor for all of it; its movements to write, as
    compact rows (`_ROW`). `late`: the first refusal of the items' input (after `lines`)."""
    targets = _load_targets(session, actor, lines)
    if (
        late is None
        and all(isinstance(t, _Target) for t in targets.values())
        and _debit_for(session, actor, lines)
    ):
        return [_row(line, targets) for line in lines]  # the usual case: no need to find a refusal
    for _attempt in range(3):
        refusal = _first_refusal(lines, targets, _balances_of(session, actor.account_id))
        if refusal is not None:
            raise refusal
        if late is not None:
            raise late
        if _debit_for(session, actor, lines):
            return [_row(line, targets) for line in lines]
        # Another operation spent the balance between the reading and the debit (PostgreSQL): the
        # refusal is found again on the new balance.
    last = lines[-1]
    raise bulk_item_error(balances.insufficient(last.asset, last.quantity), len(lines) - 1)


_IN_CHUNK = 500  # ids per IN (...) list: far below SQLite's limit of bound variables


def _load_targets(
    session: Session, actor: Actor, lines: list[TransferLine]
) -> dict[tuple[str, str], _Target | str]:
    """Each line's target, or the code of its refusal (`TARGET_REFUSALS`)."""
    wanted: dict[PartyType, list[str]] = {}
    for line in lines:
        wanted.setdefault(line.target_type, []).append(line.target_id)
    found: dict[tuple[str, str], _Target | str] = {}
    conn = session.connection()  # Core rows: the ORM's result handling costs more than the query
    for party, ids in wanted.items():
        unique = list(dict.fromkeys(ids))
        for row in _target_rows(conn, party, actor.account_id, unique):
            if party == PartyType.STAMPING_ACCOUNT:
                ident, client_id, kind = row
                found[(party, ident)] = (
                    _Target(party, ident, client_id, None)
                    if kind == StampingAccountKind.STANDARD.value
                    else "cti_unlimited"
                )
            elif party == PartyType.CLIENT:
                found[(party, row[0])] = _Target(party, row[0], row[0], None)
            else:
                ident, status = row
                found[(party, ident)] = (
                    "account_closed"
                    if status in CLOSED_ACCOUNT_STATUSES
                    else _Target(party, ident, None, ident)
                )
        missing = {
            PartyType.STAMPING_ACCOUNT: "cti_not_found",
            PartyType.CLIENT: "client_not_found",
            PartyType.ACCOUNT: "account_not_found",
        }[party]
        for ident in unique:
            found.setdefault((party, ident), missing)
    return found


# On SQLite the targets of a bulk come back as ONE row (a JSON array made by SQLite): pysqlite lets go
# of the GIL at every row it steps, and 5,000 quick rows in a row kept this worker's other threads
# (the event loop, another distributor's stamping) from getting it back for tens of milliseconds.
_SQLITE_TARGETS = {
    PartyType.STAMPING_ACCOUNT: "SELECT json_group_array(json_array(id, client_id, kind))"
    " FROM stamping_accounts WHERE account_id = :account AND id IN (SELECT value FROM json_each(:ids))",
    PartyType.CLIENT: "SELECT json_group_array(json_array(id)) FROM clients"
    " WHERE account_id = :account AND id IN (SELECT value FROM json_each(:ids))",
    PartyType.ACCOUNT: "SELECT json_group_array(json_array(id, status)) FROM accounts"
    " WHERE parent_id = :account AND id IN (SELECT value FROM json_each(:ids))",
}


def _target_rows(conn: Any, party: PartyType, account_id: str, ids: list[str]) -> list[Any]:
    """The rows of the distributor's targets among `ids` (distinct): (id, client, kind) of CTIs, (id,)
    of clients, (id, status) of sub-distributors."""
    if conn.dialect.name == "sqlite":
        params = {"account": account_id, "ids": orjson.dumps(ids).decode()}
        return list(orjson.loads(conn.exec_driver_sql(_SQLITE_TARGETS[party], params).scalar()))
    stmt: Any
    if party == PartyType.STAMPING_ACCOUNT:
        stmt = select(StampingAccount.id, StampingAccount.client_id, StampingAccount.kind).where(
            StampingAccount.account_id == account_id
        )
        column: Any = StampingAccount.id
    elif party == PartyType.CLIENT:
        stmt, column = select(Client.id).where(Client.account_id == account_id), Client.id
    else:
        stmt = select(Account.id, Account.status).where(Account.parent_id == account_id)
        column = Account.id
    rows: list[Any] = []
    for start in range(0, len(ids), _IN_CHUNK):
        rows += conn.execute(stmt.where(column.in_(ids[start : start + _IN_CHUNK]))).all()
    return rows


def _balances_of(session: Session, account_id: str) -> dict[Asset, int]:
    row = session.execute(
        select(Account.stamps_balance, Account.points_balance).where(Account.id == account_id)
    ).first()
    stamps, points = (int(row[0]), int(row[1])) if row else (0, 0)
    return {Asset.STAMPS: stamps, Asset.POINTS: points}


def _first_refusal(
    lines: list[TransferLine], targets: dict[tuple[str, str], _Target | str], balance: dict[Asset, int]
) -> DomainError | None:
    """The refusal the reference would meet first: a target, a quantity, or the balance running out."""
    spent = {Asset.STAMPS: 0, Asset.POINTS: 0}
    for i, line in enumerate(lines):
        target = targets[(line.target_type, line.target_id)]  # StrEnum: the same key as its value
        if isinstance(target, str):
            return bulk_item_error(TARGET_REFUSALS[target](), i)
        try:
            check_quantity(line.quantity)
        except DomainError as err:
            return bulk_item_error(err, i)
        spent[line.asset] += line.quantity
        if spent[line.asset] > balance[line.asset]:
            return bulk_item_error(balances.insufficient(line.asset, line.quantity), i)
    return None


# A movement still to write, compact (what a `BulkTransferChunk` keeps as JSON): the rest of its columns
# are the bulk's (distributor, author, time).
_ROW = (
    "id",
    "target_type",
    "target_id",
    "client_id",
    "counterpart",
    "asset",
    "quantity",
    "amount",
    "comments",
)


def _row(line: TransferLine, targets: dict[tuple[str, str], _Target | str]) -> list[Any]:
    target = targets[(line.target_type, line.target_id)]
    assert isinstance(target, _Target)
    return [
        line.movement_id,
        target.party.value,
        target.id,
        target.client_id,
        target.counterpart_account_id,
        line.asset.value,
        line.quantity,
        line.amount_cents,
        line.comments,
    ]


def _debit_for(session: Session, actor: Actor, lines: list[TransferLine]) -> bool:
    """Debit the distributor once per asset for all the lines (its version bumped once per line, as
    the reference does), with its feed entries; False, with nothing written, without enough."""
    spent = {Asset.STAMPS: 0, Asset.POINTS: 0}
    for line in lines:
        spent[line.asset] += line.quantity
    debited = session.execute(
        update(Account)
        .where(
            Account.id == actor.account_id,
            Account.stamps_balance >= spent[Asset.STAMPS],
            Account.points_balance >= spent[Asset.POINTS],
        )
        .values(
            stamps_balance=Account.stamps_balance - spent[Asset.STAMPS],
            points_balance=Account.points_balance - spent[Asset.POINTS],
            version=Account.version + len(lines),
        )
        .returning(Account.parent_id),
        execution_options={"synchronize_session": False},
    ).first()
    if debited is None:
        return False
    changes = [(actor.account_id, "account", actor.account_id)]
    if debited.parent_id:
        changes.append((debited.parent_id, "distributor", actor.account_id))
    feed.record_many(session, changes)
    return True


def _views(account_id: str, author: str, rows: list[list[Any]], now: dt.datetime) -> list[dict[str, Any]]:
    return [movement_view(SimpleNamespace(**_columns(account_id, author, r, now))) for r in rows]


def answer_views(
    account_id: str, author: str, rows: list[list[Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    """The movements of compact rows as the answer gives them, JSON-ready: what
    `to_jsonable_python(movement_view(...))` gives, made straight from each row (pydantic per movement
    cost some 70 ms of this worker's GIL for 5,000; a Python loop lets its other requests in)."""
    created_at = to_jsonable_python(now)
    kind, source = MovementKind.TRANSFER.value, {"type": PartyType.ACCOUNT.value, "id": account_id}
    return [
        {
            "id": ident,
            "version": 1,
            "kind": kind,
            "asset": asset,
            "quantity": quantity,
            "amount_cents": amount,
            "source": dict(source),
            "target": {"type": kind_of, "id": target},
            "client_id": client_id,
            "account_id": account_id,
            "comments": comments,
            "created_at": created_at,
            "created_by": author,
            "invoice_id": None,
            "top_up_code_id": None,
            "contract_id": None,
        }
        for ident, kind_of, target, client_id, _counterpart, asset, quantity, amount, comments in breathing(
            rows
        )
    ]


def _columns(account_id: str, author: str, row: list[Any], now: dt.datetime) -> dict[str, Any]:
    """A compact row as `Movement` columns."""
    ident, target_type, target_id, client_id, counterpart, asset, quantity, amount, comments = row
    return {
        "id": ident,
        "account_id": account_id,
        "counterpart_account_id": counterpart,
        "version": 1,
        "kind": MovementKind.TRANSFER.value,
        "asset": asset,
        "quantity": quantity,
        "amount_cents": amount,
        "source_type": PartyType.ACCOUNT.value,
        "source_id": account_id,
        "target_type": target_type,
        "target_id": target_id,
        "client_id": client_id,
        "comments": comments,
        "created_at": now,
        "created_by": author,
        "invoice_id": None,
        "top_up_code_id": None,
        "contract_id": None,
    }


def _apply_rows(
    session: Session, account_id: str, author: str, rows: list[list[Any]], now: dt.datetime
) -> None:
    """Write movements whose distributor was debited: each target credited once, the movements
    inserted together, and their feed entries."""
    changes: list[tuple[str, str, str]] = []
    received: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        ident, target_type, target_id, client_id, counterpart, asset = r[:6]
        total = received.setdefault((target_type, target_id, asset), [0, 0, client_id])
        total[0] += r[6]
        total[1] += 1
        changes.append((account_id, "movement", ident))
        if counterpart:
            changes.append((counterpart, "movement", ident))
    _credit_all(session.connection(), account_id, received, changes, now)
    session.connection().execute(insert(Movement), [_columns(account_id, author, r, now) for r in rows])
    feed.record_many(session, changes)


def _credit_all(
    conn: Any,
    account_id: str,
    received: dict[tuple[str, str, str], list[Any]],
    changes: list[tuple[str, str, str]],
    now: dt.datetime,
) -> None:
    """Credit every target once (one executemany per kind of target), and note its feed entries.
    `received`: (target type, id, asset) → [quantity, transfers, client id]."""
    ctis: list[dict[str, Any]] = []
    clients: list[dict[str, Any]] = []
    subs: dict[str, list[dict[str, Any]]] = {Asset.STAMPS.value: [], Asset.POINTS.value: []}
    for (target_type, ident, asset), (quantity, count, client_id) in received.items():
        params = {"b_id": ident, "b_qty": quantity, "b_n": count}
        if target_type == PartyType.STAMPING_ACCOUNT.value:
            ctis.append(params)
            changes += [(account_id, "stamping_account", ident), (account_id, "client", client_id)]
        elif target_type == PartyType.CLIENT.value:
            clients.append(params)
            changes.append((account_id, "client", ident))
        else:
            subs[asset].append(params)
            changes += [(ident, "account", ident), (account_id, "distributor", ident)]
    if ctis:
        conn.execute(
            update(StampingAccount)
            .where(
                StampingAccount.id == bindparam("b_id"),
                StampingAccount.kind == StampingAccountKind.STANDARD.value,
            )
            .values(
                balance=StampingAccount.balance + bindparam("b_qty"),
                credited=StampingAccount.credited + bindparam("b_qty"),
                version=StampingAccount.version + bindparam("b_n"),
                last_credit_at=now,
            ),
            ctis,
        )
    if clients:
        conn.execute(
            update(Client)
            .where(Client.id == bindparam("b_id"))
            .values(
                points_balance=Client.points_balance + bindparam("b_qty"),
                version=Client.version + bindparam("b_n"),
            ),
            clients,
        )
    for asset, credits in subs.items():
        if credits:
            col = Account.stamps_balance if asset == Asset.STAMPS.value else Account.points_balance
            conn.execute(
                update(Account)
                .where(Account.id == bindparam("b_id"))
                .values({col: col + bindparam("b_qty"), Account.version: Account.version + bindparam("b_n")}),
                credits,
            )


# ---- Bulk transfers in steps (SQLite) -----------------------------------------------------------
#
# SQLite has one writer: a 5,000-item bulk in one transaction would hold every other distributor's
# stamping for a good part of a second. So the general path accepts the bulk in one short
# transaction — every check, the distributor debited for all of it, and a `BulkTransferRun` whose
# chunks hold the movements still to write and what was debited for them — and writes the chunks
# in short transactions of their own (`BULK_STEP` movements each). All or nothing is decided in the
# first transaction: before it commits nothing happened (a refusal, or a crash, changes nothing);
# after it nothing can refuse any more (the targets were checked, the stamps and points are taken),
# and the run is finished whatever happens: by this request, by whoever takes its idempotency key
# over when the worker died, or at the next start of the server (`finish_bulk_runs`). At every
# commit the books balance: the ledger's invariant counts what the chunks hold.

BULK_STEP = 100
# After each chunk the writer waits this many times the CPU its transaction took (`time.thread_time`):
# a bulk that took the lock back at once would keep the writers queued behind it (stamping) waiting
# for the whole bulk. The CPU, not the wall time: that one counted the wait for the lock and for the
# GIL behind this worker's other requests, and a bulk slowed by stamping paused all the longer.
BULK_PAUSE_FACTOR = 1.0


@dataclass(frozen=True)
class BulkPlan:
    """A bulk transfer read before its accepting transaction (`plan_bulk`): its lines, the first
    refusal of its input, its targets as they were read, and — when nothing refused — its movements
    to write, already in chunks."""

    lines: list[TransferLine]
    late: DomainError | None
    targets: dict[tuple[str, str], _Target | str]
    chunks: list[tuple[str, int, int]] | None  # (rows as JSON, stamps, points)
    now: dt.datetime  # the movements' time
    record: transfer_audit.Prepared | None = None  # the bitácora's, when wanted


def plan_bulk(
    factory: db.SessionFactory, actor: Actor, items: Any, *, now: dt.datetime | None = None
) -> BulkPlan:
    """Read a bulk transfer's targets in a transaction that only reads (on SQLite it takes no write
    lock) and prepare its chunks and its bitácora record, out of any transaction."""
    now = now or utcnow()
    lines, late = bulk_lines(items)
    targets = db.read(factory, _load_targets, actor, lines)
    chunks, record = None, None
    if late is None and all(isinstance(t, _Target) for t in targets.values()):
        rows = [_row(line, targets) for line in lines]
        chunks = [_chunk(rows[start : start + BULK_STEP]) for start in range(0, len(rows), BULK_STEP)]
        record = transfer_audit.prepare(
            factory, account_id=actor.account_id, author=actor.author, rows=rows, created_at=now
        )
    return BulkPlan(lines, late, targets, chunks, now, record)


def _chunk(rows: list[list[Any]]) -> tuple[str, int, int]:
    return (
        orjson.dumps(rows).decode(),  # compact, UTF-8 as is: what json.dumps gave, several times faster
        sum(r[6] for r in rows if r[5] == Asset.STAMPS.value),
        sum(r[6] for r in rows if r[5] == Asset.POINTS.value),
    )


def _still_valid(session: Session, actor: Actor, targets: dict[tuple[str, str], _Target | str]) -> bool:
    """Whether the targets read before still take the transfers (counted, not read again): one
    statement per kind of target, its ids passed as one JSON array (no list of thousands of bound
    values to process, and no IN list to split)."""
    conn = session.connection()
    wanted: dict[str, list[str]] = {}
    for party, ident in targets:
        wanted.setdefault(party, []).append(ident)
    for party, ids in wanted.items():
        given = _id_set(conn.dialect.name, ids)
        stmt: Any
        if party == PartyType.STAMPING_ACCOUNT:
            stmt = select(func.count()).where(
                StampingAccount.id.in_(given),
                StampingAccount.account_id == actor.account_id,
                StampingAccount.kind == StampingAccountKind.STANDARD.value,
            )
        elif party == PartyType.CLIENT:
            stmt = select(func.count()).where(Client.id.in_(given), Client.account_id == actor.account_id)
        else:
            stmt = select(func.count()).where(
                Account.id.in_(given),
                Account.parent_id == actor.account_id,
                Account.status.not_in(CLOSED_ACCOUNT_STATUSES),
            )
        if conn.execute(stmt).scalar() != len(ids):
            return False
    return True


def _id_set(dialect: str, ids: list[str]) -> Any:
    """`ids` (distinct) as a subquery of one column, from one bound JSON array."""
    if dialect == "postgresql":
        values = func.jsonb_array_elements_text(literal(ids, JSONB)).table_valued("value")
    else:
        values = func.json_each(json.dumps(ids, separators=(",", ":"))).table_valued("value")
    return select(values.c.value)


def begin_bulk_run(
    session: Session,
    actor: Actor,
    plan: BulkPlan,
    *,
    record_id: int | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Accept a bulk transfer (`plan_bulk`, read beforehand): the checks that need the database, the
    debit, and its run; returns the run's id. Under an idempotency claim (`record_id`) whose run
    exists already, that run's id (it is resumed). The usual case holds the write lock only to
    count that the targets still take the transfers, debit, and write the prepared chunks; anything
    else (a refusal, a target changed meanwhile) is decided as `bulk_transfer` decides it."""
    if record_id is not None:
        existing = session.scalar(
            select(BulkTransferRun.id).where(BulkTransferRun.idempotency_record_id == record_id)
        )
        if existing is not None:
            return existing
    chunks = plan.chunks
    now = now or plan.now
    audit_id: int | None = None
    # The bitácora's record (when wanted) is part of the transaction that decides the bulk: the one
    # prepared with the plan, or (the targets changed meanwhile) the recorder's.
    if (
        chunks is not None
        and _still_valid(session, actor, plan.targets)
        and _debit_for(session, actor, plan.lines)
    ):
        if plan.record is not None:
            # The record's subjects of the items are written with their chunks (short steps).
            audit_id = transfer_audit.write_prepared(
                session, plan.record, actor.account_id, subjects_later=True
            )
    else:
        rows = _accept_lines(session, actor, plan.lines, plan.late)
        chunks = [_chunk(rows[start : start + BULK_STEP]) for start in range(0, len(rows), BULK_STEP)]
        transfer_audit.note_transfers(
            session,
            account_id=actor.account_id,
            author=actor.author,
            rows=rows,
            created_at=now,
            credited=False,
        )
    run = BulkTransferRun(
        account_id=actor.account_id,
        created_by=actor.author,
        idempotency_record_id=record_id,
        created_at=now,
    )
    session.add(run)
    session.flush()
    session.connection().execute(
        insert(BulkTransferChunk),
        [
            {
                "run_id": run.id,
                "rows": text,
                "written": False,
                "stamps": st,
                "points": pt,
                "audit_id": audit_id,
            }
            for text, st, pt in chunks
        ],
    )
    return run.id


def finish_bulk_run(factory: db.SessionFactory, run_id: str) -> dict[str, Any] | None:
    """Write the chunks of a run, each in its own transaction, then close it: its answer stored for
    its idempotency key and the run removed. Returns the answer (JSON-ready, as it is stored); None
    when another worker closed it first (the answer is then the one stored with the key)."""
    head = db.read(factory, _run_head, run_id)
    if head is None:
        return None
    account_id, author, now, chunk_ids = head
    for chunk_id in chunk_ids:
        spent = time.thread_time()
        db.run(factory, _write_chunk, chunk_id, account_id, author, now)
        time.sleep((time.thread_time() - spent) * BULK_PAUSE_FACTOR)
    # The answer is built out of any transaction (on SQLite every one holds the write lock).
    texts = db.read(factory, _chunk_rows, run_id)
    rows = [row for text in texts for row in orjson.loads(text)]
    answer: dict[str, Any] = {"movements": answer_views(account_id, author, rows, now)}
    body = orjson.dumps(answer).decode()
    return answer if db.run(factory, _close_run, run_id, body) else None


def run_of_claim(session: Session, record_id: int) -> str | None:
    return session.scalar(
        select(BulkTransferRun.id).where(BulkTransferRun.idempotency_record_id == record_id)
    )


def bulk_transfer_in_steps(
    factory: db.SessionFactory, actor: Actor, items: Any, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """`bulk_transfer` in short transactions (see above), without an idempotency key."""
    plan = plan_bulk(factory, actor, items, now=now)
    run_id = db.run(factory, begin_bulk_run, actor, plan)
    answer = finish_bulk_run(factory, run_id)
    assert answer is not None
    return answer


def finish_bulk_runs(factory: db.SessionFactory) -> int:
    """Finish every run left unfinished (a worker died in the middle): at a server's start. Safe
    while other workers run theirs: each chunk and the close are taken by one transaction only."""
    with db.transaction(factory) as session:
        ids = list(session.scalars(select(BulkTransferRun.id).order_by(BulkTransferRun.created_at)))
    for run_id in ids:
        finish_bulk_run(factory, run_id)
    return len(ids)


def _run_head(session: Session, run_id: str) -> tuple[str, str, dt.datetime, list[int]] | None:
    row = session.execute(
        select(BulkTransferRun.account_id, BulkTransferRun.created_by, BulkTransferRun.created_at).where(
            BulkTransferRun.id == run_id
        )
    ).first()
    if row is None:
        return None
    chunks = session.scalars(
        select(BulkTransferChunk.id)
        .where(BulkTransferChunk.run_id == run_id, BulkTransferChunk.written.is_(False))
        .order_by(BulkTransferChunk.id)
    )
    return row[0], row[1], row[2], list(chunks)


def _write_chunk(session: Session, chunk_id: int, account_id: str, author: str, now: dt.datetime) -> None:
    # Taken by marking it written: a worker finishing the same run meanwhile finds it taken.
    sqlite = session.get_bind().dialect.name == "sqlite"
    taken = session.execute(
        update(BulkTransferChunk)
        .where(BulkTransferChunk.id == chunk_id, BulkTransferChunk.written.is_(False))
        .values(written=True, stamps=0, points=0)
        .returning(literal("") if sqlite else BulkTransferChunk.rows, BulkTransferChunk.audit_id),
        execution_options={"synchronize_session": False},
    ).first()
    if taken is not None and sqlite:
        # Set-based, from the chunk's own JSON (not read back): no Python per item in the write lock.
        bulk_chunk_sql.write_chunk(session, chunk_id, taken[1], account_id, author, now)
    elif taken is not None:
        rows = json.loads(taken[0])
        _apply_rows(session, account_id, author, rows, now)
        if taken[1] is not None:
            transfer_audit.write_subjects(session, int(taken[1]), rows)


def _chunk_rows(session: Session, run_id: str) -> list[str]:
    return list(
        session.scalars(
            select(BulkTransferChunk.rows)
            .where(BulkTransferChunk.run_id == run_id)
            .order_by(BulkTransferChunk.id)
        )
    )


def _close_run(session: Session, run_id: str, body: str) -> bool:
    run = session.scalar(select(BulkTransferRun).where(BulkTransferRun.id == run_id).with_for_update())
    if run is None:
        return False
    if run.idempotency_record_id is not None:
        idempotency.complete(session, run.idempotency_record_id, 201, body)
    session.execute(delete(BulkTransferChunk).where(BulkTransferChunk.run_id == run_id))
    session.execute(delete(BulkTransferRun).where(BulkTransferRun.id == run_id))
    return True
