"""Low-balance alerts, the lease, the step that follows the change feed, the sweep, the thread.

The whole design is in the package docstring (`cmdesk.server.operations.alerts`)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cmdesk.domain import forecast
from cmdesk.models import (
    Account,
    Alert,
    AlertCursor,
    AlertEvaluator,
    CtiDailyUsage,
    StampingAccount,
    utcnow,
)
from cmdesk.server import db
from cmdesk.server.operations.alerts.subjects import _Context, cti_subjects, evaluate_subjects, own_subjects

log = logging.getLogger(__name__)

# ---- The evaluator: following the change feed, sweeping on a schedule ----------------------------

EVALUATOR = "main"
CHANGES_PER_ACCOUNT = 1000
SWEEP_BATCH = 500


def _take_lease(session: Session, holder: str, now: dt.datetime) -> AlertEvaluator | None:
    """The evaluator's row, locked for this transaction; None when another process holds it."""
    row = session.scalar(
        select(AlertEvaluator).where(AlertEvaluator.name == EVALUATOR).with_for_update(skip_locked=True)
    )
    if row is not None:
        row.held_by, row.held_at = holder[:100], now
    return row


def _ensure_evaluator_row(factory: db.SessionFactory) -> None:
    with db.transaction(factory) as s:
        dialect = s.get_bind().dialect.name
        ins = pg_insert(AlertEvaluator) if dialect == "postgresql" else sqlite_insert(AlertEvaluator)
        s.execute(ins.values(name=EVALUATOR).on_conflict_do_nothing(index_elements=["name"]))


def _new_cursors(session: Session, now: dt.datetime) -> None:
    """Accounts the evaluator has not seen yet start at the feed's head (a sweep of the account,
    requested now, covers what is already there)."""
    missing = session.scalars(
        select(Account.id).where(
            ~select(AlertCursor.account_id).where(AlertCursor.account_id == Account.id).exists()
        )
    ).all()
    if not missing:
        return
    if session.get_bind().dialect.name == "postgresql":
        xmin = int(session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")) or 0)
        heads = {a: (xmin - 1, 0) for a in missing}
    else:
        from cmdesk.models import ChangeLog

        found = dict(
            session.execute(
                select(ChangeLog.account_id, func.max(ChangeLog.id))
                .where(ChangeLog.account_id.in_(missing))
                .group_by(ChangeLog.account_id)
            ).all()
        )
        heads = {a: (0, int(found.get(a) or 0)) for a in missing}
    dialect = session.get_bind().dialect.name
    ins = pg_insert(AlertCursor) if dialect == "postgresql" else sqlite_insert(AlertCursor)
    session.execute(
        ins.on_conflict_do_nothing(index_elements=["account_id"]),
        [
            {"account_id": a, "txid": t, "change_id": i, "sweep_requested_at": now}
            for a, (t, i) in heads.items()
        ],
    )


_LATERAL = text(
    """
    SELECT k.account_id, c.txid, c.id, c.entity, c.entity_id
      FROM alert_cursors k
     CROSS JOIN LATERAL (
           SELECT l.txid, l.id, l.entity, l.entity_id
             FROM change_log l
            WHERE l.account_id = k.account_id
              AND (l.txid, l.id) > (k.txid, k.change_id)
              AND l.txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
            ORDER BY l.txid, l.id
            LIMIT :limit) c
    """
)


def _changes(session: Session) -> tuple[dict[str, set[str]], set[str], dict[str, tuple[int, int]], bool]:
    """What changed since each account's cursor: (CTI ids by account, accounts whose own balance
    changed, each moved account's new cursor, whether some account has more)."""
    ctis: dict[str, set[str]] = defaultdict(set)
    own: set[str] = set()
    moved: dict[str, tuple[int, int]] = {}
    counts: dict[str, int] = defaultdict(int)

    def take(account_id: str, txid: int, change_id: int, entity: str, entity_id: str) -> None:
        counts[account_id] += 1
        moved[account_id] = max(moved.get(account_id, (txid, change_id)), (txid, change_id))
        if entity == "stamping_account":
            ctis[account_id].add(entity_id)
        elif entity == "account" and entity_id == account_id:
            own.add(account_id)

    if session.get_bind().dialect.name == "postgresql":
        for row in session.execute(_LATERAL, {"limit": CHANGES_PER_ACCOUNT}):
            take(row[0], int(row[1]), int(row[2]), row[3], row[4])
    else:
        # SQLite serves one distributor (the embedded default) or a few: one read each; its single
        # writer commits change-log ids in order (txid is 0), so nothing commits behind a cursor.
        from cmdesk.models import ChangeLog

        for cur in session.scalars(select(AlertCursor)):
            rows = session.execute(
                select(ChangeLog.txid, ChangeLog.id, ChangeLog.entity, ChangeLog.entity_id)
                .where(
                    ChangeLog.account_id == cur.account_id,
                    or_(
                        ChangeLog.txid > cur.txid,
                        and_(ChangeLog.txid == cur.txid, ChangeLog.id > cur.change_id),
                    ),
                )
                .order_by(ChangeLog.txid, ChangeLog.id)
                .limit(CHANGES_PER_ACCOUNT)
            ).all()
            for txid, change_id, entity, entity_id in rows:
                take(cur.account_id, int(txid), int(change_id), entity, entity_id)
    more = any(n >= CHANGES_PER_ACCOUNT for n in counts.values())
    return ctis, own, moved, more


@dataclass
class StepReport:
    ran: bool = False  # False: another process held the lease
    evaluated: int = 0
    created: int = 0
    more: bool = False


def tick(
    factory: db.SessionFactory,
    *,
    now: dt.datetime | None = None,
    holder: str = "",
    sweep_every: dt.timedelta = dt.timedelta(minutes=15),
) -> StepReport:
    """One evaluation step, in one transaction under the lease: follow the feed, then one sweep batch
    when a sweep is due or going on. `more` says another step has work right away."""
    now = now or utcnow()
    for attempt in (1, 2):
        try:
            with db.transaction(factory) as s:
                lease = _take_lease(s, holder or _holder(), now)
                if lease is None:
                    if attempt == 1 and s.get(AlertEvaluator, EVALUATOR) is None:
                        raise _NoEvaluatorRow
                    return StepReport()
                return _step(s, lease, now, sweep_every)
        except _NoEvaluatorRow:
            _ensure_evaluator_row(factory)
    return StepReport()


class _NoEvaluatorRow(Exception):
    pass


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _step(s: Session, lease: AlertEvaluator, now: dt.datetime, sweep_every: dt.timedelta) -> StepReport:
    report = StepReport(ran=True)
    _new_cursors(s, now)
    ctx = _Context(s, now)
    ctis, own, moved, report.more = _changes(s)
    subjects = cti_subjects(ctx, sorted({c for ids in ctis.values() for c in ids}))
    subjects += own_subjects(ctx, sorted(own))
    report.created += len(evaluate_subjects(ctx, subjects))
    report.evaluated += len(subjects)
    for account_id, (txid, change_id) in moved.items():
        s.execute(
            update(AlertCursor)
            .where(AlertCursor.account_id == account_id)
            .values(txid=txid, change_id=change_id)
        )
    # The sweep: every account on schedule; one account when a rule changed or it is new.
    if lease.last_sweep_at is None or now - lease.last_sweep_at >= sweep_every:
        s.execute(update(AlertCursor).values(sweep_requested_at=now))
        lease.last_sweep_at = now
    evaluated, created, more = _sweep_batch(s, lease, ctx)
    report.evaluated += evaluated
    report.created += created
    report.more = report.more or more
    return report


def _sweep_batch(s: Session, lease: AlertEvaluator, ctx: _Context) -> tuple[int, int, bool]:
    """The next batch of the sweep: for an account with a sweep requested (in id order), its own
    stamps, then its CTIs with consumption in the window or an open crossing, `SWEEP_BATCH` at a time.
    Returns (evaluated, created, more to do)."""
    requested = select(AlertCursor.account_id).where(AlertCursor.sweep_requested_at.is_not(None))
    account_id = lease.sweep_account_id or s.scalar(requested.order_by(AlertCursor.account_id).limit(1))
    if not account_id:
        return 0, 0, False
    after = lease.sweep_after or ""
    evaluated = created = 0
    if lease.sweep_account_id is None:
        lease.sweep_account_id, lease.sweep_started_at = account_id, ctx.now
        subjects = own_subjects(ctx, [account_id], fresh=True)
        created += len(evaluate_subjects(ctx, subjects))
        evaluated += len(subjects)
    start = forecast.window(ctx.today)[0]
    in_use = select(CtiDailyUsage.stamping_account_id).where(CtiDailyUsage.day >= start)
    open_ones = select(Alert.subject_id).where(
        Alert.account_id == account_id, Alert.subject_type == "stamping_account", Alert.rearmed_at.is_(None)
    )
    ids = s.scalars(
        select(StampingAccount.id)
        .where(
            StampingAccount.account_id == account_id,
            StampingAccount.id > after,
            or_(StampingAccount.id.in_(in_use), StampingAccount.id.in_(open_ones)),
        )
        .order_by(StampingAccount.id)
        .limit(SWEEP_BATCH)
    ).all()
    subjects = cti_subjects(ctx, list(ids))
    created += len(evaluate_subjects(ctx, subjects))
    evaluated += len(subjects)
    if len(ids) == SWEEP_BATCH:
        lease.sweep_after = ids[-1]
        return evaluated, created, True
    # This account is done; a request made since its sweep began stays for another pass.
    s.execute(
        update(AlertCursor)
        .where(AlertCursor.account_id == account_id, AlertCursor.sweep_requested_at <= lease.sweep_started_at)
        .values(sweep_requested_at=None)
    )
    lease.sweep_account_id = lease.sweep_after = lease.sweep_started_at = None
    more = s.scalar(requested.limit(1)) is not None
    return evaluated, created, more


class EvaluatorThread:
    """Runs `tick` every `interval` seconds in a daemon thread, in the one worker that leads
    (`cmdesk.server.leadership`; the lease still guards against two at once). `stop()` waits for the
    step in progress; `start()` again resumes."""

    def __init__(
        self,
        factory: db.SessionFactory,
        *,
        interval: float = 5.0,
        sweep_every: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        self.factory = factory
        self.interval = interval
        self.sweep_every = sweep_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.holder = _holder()

    def start(self, delay: float = 0.0) -> None:
        """Run in the background; the first step `delay` seconds from now (the desktop's embedded
        server leaves its own start and the first sync alone)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, kwargs={"delay": delay}, name="cmdesk-alerts", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, delay: float = 0.0) -> None:
        if delay > 0 and self._stop.wait(delay):
            return
        while not self._stop.is_set():
            more = False
            try:
                more = tick(self.factory, holder=self.holder, sweep_every=self.sweep_every).more
            except Exception:  # a failed step is logged and retried at the next one
                log.exception("alerts: the evaluation step failed; it is retried")
            if not more:
                self._stop.wait(self.interval)
