"""The change feed behind `GET /v1/sync/changes`: recording every change, and reading it in pages
without ever skipping one.

Writing. Every ORM flush of a `Synced` row bumps its `version` and writes one `change_log` row per
account that must see it (`feed_audience()`), in the same transaction. Code that changes rows with
Core statements (the conditional balance updates) calls `record()` itself.

Reading, and why it never skips. On PostgreSQL each change row carries the id of the transaction
that wrote it (`txid`). A plain sequence is not enough: a transaction that took number 104 can commit
after one that took 105. Instead the feed orders by (txid, id) and hands out only rows whose
transaction is older than the oldest one still running (`pg_snapshot_xmin`): everything below that
watermark has committed or aborted for good, so nothing can appear later before the cursor. A slow
writer merely holds the feed back until it commits. On SQLite there is one writer at a time
(BEGIN IMMEDIATE) and the ids are already in commit order; txid is 0 there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Select, and_, event, func, insert, literal, select, text, tuple_, union_all
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import expression
from sqlalchemy.sql.compiler import SQLCompiler

from cmdesk.domain.errors import validation_error
from cmdesk.models.base import Synced
from cmdesk.models.sync import ChangeLog

# An entity's bulk loader: ids → {id: the entity as the API shows it} (ids gone are left out).
Loader = Callable[[Session, list[str]], dict[str, dict[str, Any]]]


class current_txid(expression.FunctionElement[int]):
    """The writing transaction's id on PostgreSQL; 0 on SQLite."""

    type = BigInteger()
    inherit_cache = True


@compiles(current_txid)
def _txid_default(element: current_txid, compiler: SQLCompiler, **kw: Any) -> str:
    return "0"


@compiles(current_txid, "postgresql")
def _txid_pg(element: current_txid, compiler: SQLCompiler, **kw: Any) -> str:
    return "(pg_current_xact_id()::text::bigint)"


_PENDING = "cmdesk_feed_pending"


def install_hooks(factory: sessionmaker[Session]) -> None:
    """Attach the version bump and the change recording to every session of `factory`."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "after_flush", _after_flush)


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    pending: list[tuple[Synced, bool]] = session.info.setdefault(_PENDING, [])
    for obj in session.new:
        if isinstance(obj, Synced):
            pending.append((obj, False))
    for obj in session.dirty:
        if isinstance(obj, Synced) and session.is_modified(obj, include_collections=False):
            if hasattr(obj, "version"):
                obj.version = (obj.version or 0) + 1
            pending.append((obj, False))
    for obj in session.deleted:
        if isinstance(obj, Synced):
            pending.append((obj, True))


def _after_flush(session: Session, _ctx: Any) -> None:
    pending: list[tuple[Synced, bool]] = session.info.pop(_PENDING, [])
    rows: list[dict[str, Any]] = []
    for obj, deleted in pending:
        entity_id = str(obj.id)  # type: ignore[attr-defined]
        for audience in obj.feed_audience():
            account_id, entity = audience if isinstance(audience, tuple) else (audience, obj.__feed_entity__)
            rows.append(
                {"account_id": account_id, "entity": entity, "entity_id": entity_id, "deleted": deleted}
            )
    if rows:
        session.connection().execute(insert(ChangeLog).values(txid=current_txid()), _dedupe(rows))


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        seen[(r["account_id"], r["entity"], r["entity_id"])] = r
    return list(seen.values())


def record(
    session: Session, entity: str, entity_id: str, account_ids: Iterable[str], *, deleted: bool = False
) -> None:
    """Record a change made with a Core statement (conditional updates), in the caller's transaction."""
    rows = [
        {"account_id": a, "entity": entity, "entity_id": entity_id, "deleted": deleted}
        for a in dict.fromkeys(account_ids)
    ]
    if rows:
        session.execute(insert(ChangeLog).values(txid=current_txid()), rows)


def record_many(session: Session, changes: Iterable[tuple[str, str, str]], *, deleted: bool = False) -> None:
    """Record (account_id, entity, entity_id) triples in one statement (a Core executemany on the
    session's connection: the ORM's bulk insert costs several times more per row)."""
    rows = _dedupe(
        [{"account_id": a, "entity": e, "entity_id": i, "deleted": deleted} for a, e, i in changes]
    )
    if rows:
        session.connection().execute(insert(ChangeLog).values(txid=current_txid()), rows)


@dataclass(frozen=True)
class Cursor:
    txid: int
    id: int

    def encode(self) -> str:
        return f"{self.txid}.{self.id}"

    @classmethod
    def decode(cls, value: str | None) -> Cursor:
        if not value:
            return cls(-1, 0)
        try:
            txid, _, ident = value.partition(".")
            return cls(int(txid), int(ident))
        except ValueError:
            raise validation_error({"cursor": "El cursor de sincronización no es válido."}) from None


class ChangeRef(NamedTuple):
    # A tuple, not a dataclass: a page builds a thousand of them.
    entity: str
    entity_id: str
    deleted: bool


@dataclass(frozen=True)
class ChangePage:
    changes: list[ChangeRef]
    cursor: str
    has_more: bool


def read(session: Session, account_id: str, cursor: str | None, limit: int) -> ChangePage:
    """The next page of changes for `account_id` after `cursor` (entity references only; the
    caller loads the current data). Duplicates inside a page are folded to the last one."""
    cur = Cursor.decode(cursor)
    cols = (ChangeLog.id, ChangeLog.txid, ChangeLog.entity, ChangeLog.entity_id, ChangeLog.deleted)
    mine = ChangeLog.account_id == account_id
    stmt: Select[int, int, str, str, bool]
    if session.get_bind().dialect.name == "postgresql":
        # A row comparison: PostgreSQL seeks the (account_id, txid, id) index straight to the cursor.
        stmt = (
            select(*cols)
            .where(mine, tuple_(ChangeLog.txid, ChangeLog.id) > tuple_(literal(cur.txid), literal(cur.id)))
            .where(ChangeLog.txid < text("(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"))
            .order_by(ChangeLog.txid, ChangeLog.id)
            .limit(limit + 1)
        )
    else:
        # SQLite seeks an index only on the first column of a row comparison (or of an OR), so it
        # walked every earlier entry of the account on each page (12 ms a page at 250,000 entries,
        # growing with the cursor). Two seeks instead: the rest of the cursor's transaction, then
        # the later ones (txid is always 0 on SQLite, but the query does not rely on it).
        same = (
            select(*cols)
            .where(mine, ChangeLog.txid == cur.txid, ChangeLog.id > cur.id)
            .order_by(ChangeLog.id)
            .limit(limit + 1)
        )
        later = (
            select(*cols)
            .where(mine, ChangeLog.txid > cur.txid)
            .order_by(ChangeLog.txid, ChangeLog.id)
            .limit(limit + 1)
        )
        both = union_all(select(same.subquery()), select(later.subquery())).subquery()
        stmt = select(both).order_by(both.c.txid, both.c.id).limit(limit + 1)
    rows = session.execute(stmt).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    new_cursor = Cursor(rows[-1].txid, rows[-1].id).encode() if rows else (cursor or Cursor(-1, 0).encode())
    return ChangePage(_fold((e, i, d) for _id, _txid, e, i, d in rows), new_cursor, has_more)


def _fold(rows: Iterable[tuple[str, str, bool]]) -> list[ChangeRef]:
    """Changes in feed order, each row once: the last change of a row decides its place."""
    folded: dict[tuple[str, str], bool] = {}
    for entity, entity_id, deleted in rows:
        key = (entity, entity_id)
        folded.pop(key, None)
        folded[key] = bool(deleted)
    return [ChangeRef(e, i, d) for (e, i), d in folded.items()]


# ---- Snapshots (GET /v1/sync/snapshot, cmdesk.server.snapshot) ---------------------------------------
#
# A snapshot is the state that replaying the whole feed of an account leaves, read in ONE transaction
# (REPEATABLE READ on PostgreSQL, a read transaction on SQLite), plus the cursor from which the feed
# goes on. Which change rows the snapshot covers, and which the feed from its cursor hands out:
#
# - SQLite: the transaction sees every row up to the largest id it sees, and none after (one writer
#   at a time, ids in commit order). The cursor is (0, that id): exact.
# - PostgreSQL: the transaction's snapshot is (xmin, xmax, xip): it sees the rows of every transaction
#   below xmax that is not in xip (those below xmin all ended), and none of the others. The feed from
#   (xmax, 0) hands out exactly the rows of transactions from xmax on. The rows of the transactions
#   in xip (running when the snapshot was taken, committing later, below xmax) are in neither: the
#   snapshot sends them itself, at its end, once those transactions have ended (`pending_changes`).
#   So every change row is covered once: seen by the snapshot, in its tail, or by the feed after it.
#   When a transaction in xip does not end in time (10 s), the snapshot ends with `resume_cursor`
#   instead, (xmin, 0): the feed then hands out every row from xmin on, which covers xip too; the rows from
#   xmin that the snapshot already saw come again (with the current data, so nothing goes wrong:
#   only work is repeated).
#
# `resume_cursor` is also what a snapshot cut mid-stream keeps: the part received, completed by the
# rest of a LATER snapshot (`after=`), then the feed from the FIRST one's `resume_cursor`, leaves the
# server's state: every change after the first snapshot comes again from the feed.


@dataclass(frozen=True)
class SnapshotPoint:
    """Where a snapshot transaction stands in the feed (see above)."""

    cursor: str
    resume_cursor: str
    # PostgreSQL: the transactions running when the snapshot was taken (their rows are its tail).
    pending: tuple[int, ...] = ()


def snapshot_point(session: Session) -> SnapshotPoint:
    """Must be the FIRST statement of a REPEATABLE READ (PostgreSQL) or read (SQLite) transaction:
    it fixes what the transaction sees, and tells where that is in the feed."""
    if session.get_bind().dialect.name == "postgresql":
        value = str(session.execute(text("SELECT pg_current_snapshot()::text")).scalar_one())
        xmin_text, xmax_text, xip_text = value.split(":")
        xmin, xmax = int(xmin_text), int(xmax_text)
        pending = tuple(sorted(int(x) for x in xip_text.split(",") if x))
        return SnapshotPoint(Cursor(xmax, 0).encode(), Cursor(xmin, 0).encode(), pending)
    last = int(session.execute(select(func.coalesce(func.max(ChangeLog.id), 0))).scalar_one())
    cursor = Cursor(0, last).encode()
    return SnapshotPoint(cursor, cursor)


def live_entities(
    session: Session, account_id: str, entities: Collection[str] | None = None
) -> dict[str, list[str]]:
    """entity → ids (ascending) of what replaying every change of `account_id` the transaction sees
    would leave in a cache: the (entity, id) pairs whose last change, in the feed's (txid, id) order,
    is not a deletion. (Whether the row still exists is for the loaders to say, as in the feed.)
    `entities`: only those (a snapshot limited to them)."""
    mine = ChangeLog.account_id == account_id
    if entities is not None:
        mine = and_(mine, ChangeLog.entity.in_(sorted(entities)))
    if session.get_bind().dialect.name == "postgresql":
        last = (
            select(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.deleted)
            .where(mine)
            .ext(distinct_on(ChangeLog.entity, ChangeLog.entity_id))
            .order_by(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.txid.desc(), ChangeLog.id.desc())
            .subquery()
        )
        stmt = (
            select(last.c.entity, last.c.entity_id)
            .where(last.c.deleted.is_(False))
            .order_by(last.c.entity, last.c.entity_id)
        )
        rows = session.execute(stmt)
    else:
        # txid is 0 on SQLite, so the last change is the one of largest id; SQLite takes the other
        # columns of a max() aggregate from the row holding the max.
        only = ""
        params: dict[str, Any] = {"account": account_id}
        if entities is not None:
            names = sorted(entities)
            only = " AND entity IN (" + ", ".join(f":e{n}" for n in range(len(names))) + ")"
            params.update({f"e{n}": name for n, name in enumerate(names)})
        rows = session.execute(
            text(
                "SELECT entity, entity_id FROM (SELECT entity, entity_id, deleted, max(id) AS last"
                f" FROM change_log WHERE account_id = :account{only} GROUP BY entity, entity_id)"
                " WHERE NOT deleted ORDER BY entity, entity_id"
            ),
            params,
        )
    out: dict[str, list[str]] = {}
    for entity, entity_id in rows.all():  # fetched at once: row by row cost more than the query
        out.setdefault(entity, []).append(entity_id)
    return out


def transactions_running(session: Session, txids: Iterable[int]) -> set[int]:
    """Which of `txids` (PostgreSQL transaction ids) have not ended yet."""
    ids = list(txids)
    if not ids:
        return set()
    rows = session.execute(
        text(
            "SELECT x FROM unnest(CAST(:ids AS bigint[])) AS x"
            " WHERE pg_xact_status(x::text::xid8) = 'in progress'"
        ),
        {"ids": ids},
    )
    return {int(r[0]) for r in rows}


def pending_changes(session: Session, account_id: str, txids: Iterable[int]) -> list[ChangeRef]:
    """The changes of `account_id` written by the (ended) transactions `txids`, folded like a page."""
    ids = list(txids)
    if not ids:
        return []
    rows = session.execute(
        select(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.deleted)
        .where(ChangeLog.account_id == account_id, ChangeLog.txid.in_(ids))
        .order_by(ChangeLog.txid, ChangeLog.id)
    ).all()
    return _fold((e, i, d) for e, i, d in rows)


def load_changes(
    session: Session, refs: Iterable[ChangeRef], loaders: Mapping[str, Loader]
) -> list[dict[str, Any]]:
    """Changes as the API sends them, each with its entity's current data (one query per entity); a
    row that no longer exists is a tombstone (`deleted: true, data: null`). Entities without a loader
    are left out."""
    refs = [ref for ref in refs if ref.entity in loaders]
    wanted: dict[str, list[str]] = {}
    for ref in refs:
        if not ref.deleted:
            wanted.setdefault(ref.entity, []).append(ref.entity_id)
    loaded = {entity: loaders[entity](session, ids) for entity, ids in wanted.items()}
    changes: list[dict[str, Any]] = []
    for ref in refs:
        data = None if ref.deleted else loaded.get(ref.entity, {}).get(ref.entity_id)
        changes.append(
            {
                "entity": ref.entity,
                "id": ref.entity_id,
                "version": data.get("version") if data else None,
                "deleted": data is None,
                "data": data,
            }
        )
    return changes
