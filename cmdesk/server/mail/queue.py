"""The mail queue: enqueueing inside an operation's transaction, and what the API, the CLI and the
desktop read of it.

`enqueue()` adds a row to the caller's transaction: the mail exists if and only if the operation
commits. It marks the session so that, after the commit, the sender of this process is woken up
(`install_wakeup`); other processes find the row at their next poll.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cmdesk.domain.codes import new_id
from cmdesk.domain.errors import validation_error
from cmdesk.models import Account, OutboundMail, utcnow
from cmdesk.server.leadership import notify_mail
from cmdesk.server.mail import templates

ENQUEUED_INFO = "cmdesk_mail_enqueued"


def enqueue(
    session: Session,
    kind: str,
    *,
    to_address: str,
    to_name: str = "",
    params: dict[str, Any],
    token_id: str | None = None,
    account_id: str | None = None,
    requested_by_account_id: str | None = None,
    invitation_id: str | None = None,
    dedupe_key: str | None = None,
    now: dt.datetime | None = None,
) -> str | None:
    """Queue one mail in the caller's transaction; returns its id. With `dedupe_key`, a mail with
    the same key already queued (by anyone, ever) makes this a no-op that returns None."""
    if kind not in templates.KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    now = now or utcnow()
    mail_id = new_id()
    row = {
        "id": mail_id,
        "kind": kind,
        "to_address": to_address,
        "to_name": to_name[:200],
        "subject": templates.subject_for(kind, params),
        "params": json.dumps(params, ensure_ascii=False, default=str),
        "token_id": token_id,
        "account_id": account_id,
        "requested_by_account_id": requested_by_account_id,
        "invitation_id": invitation_id,
        "dedupe_key": dedupe_key,
        "status": "queued",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "last_error": "",
    }
    if dedupe_key is not None:
        dialect = session.get_bind().dialect.name
        insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = session.execute(insert_fn(OutboundMail).values(row).on_conflict_do_nothing())
        if not getattr(result, "rowcount", 0):
            return None
    else:
        session.execute(insert(OutboundMail).values(row))
    _mark_enqueued(session)
    return mail_id


def _mark_enqueued(session: Session) -> None:
    """This transaction queued a mail: wake this process's sender after the commit, and the leader
    worker's (`cmdesk.server.leadership`) when the sender runs in another worker."""
    if not session.info.get(ENQUEUED_INFO):
        notify_mail(session)
    session.info[ENQUEUED_INFO] = True


def install_wakeup(factory: sessionmaker[Session], wake: Callable[[], None]) -> None:
    """Call `wake()` after every commit that queued a mail (this process's sender sends it now)."""
    from sqlalchemy import event

    def after_commit(session: Session) -> None:
        if session.info.pop(ENQUEUED_INFO, False):
            wake()

    def after_rollback(session: Session) -> None:
        session.info.pop(ENQUEUED_INFO, None)

    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", lambda s, _t: after_rollback(s))


# ---------------------------------------------------------------------------------------------------
# Views


def status_label(mail: OutboundMail) -> str:
    if mail.status == "queued" and mail.attempts > 0:
        return "En espera de reintento"
    return templates.STATUS_LABEL.get(mail.status, mail.status)


def mail_view(mail: OutboundMail) -> dict[str, Any]:
    """A mail as the desktop shows it (never its link)."""
    return {
        "id": mail.id,
        "kind": mail.kind,
        "kind_label": templates.KINDS[mail.kind].label if mail.kind in templates.KINDS else mail.kind,
        "to": mail.to_address,
        "subject": mail.subject,
        "status": mail.status,
        "status_label": status_label(mail),
        "attempts": mail.attempts,
        "created_at": mail.created_at,
        "last_attempt_at": mail.last_attempt_at,
        "next_attempt_at": mail.next_attempt_at if mail.status == "queued" else None,
        "sent_at": mail.sent_at,
        "last_error": mail.last_error or None,
        "account_id": mail.account_id,
        "invitation_id": mail.invitation_id,
    }


def latest_by(session: Session, column: Any, ids: Iterable[str], kind: str) -> dict[str, dict[str, Any]]:
    """The newest mail of `kind` for each id of `column` (e.g. each sub-distributor's confirmation)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    newest = (
        select(column.label("key"), func.max(OutboundMail.created_at).label("at"))
        .where(column.in_(wanted), OutboundMail.kind == kind)
        .group_by(column)
        .subquery()
    )
    rows = session.scalars(
        select(OutboundMail)
        .join(newest, (column == newest.c.key) & (OutboundMail.created_at == newest.c.at))
        .where(OutboundMail.kind == kind)
        .order_by(OutboundMail.id)
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for mail in rows:
        key = getattr(mail, column.key)
        out.setdefault(key, mail_view(mail))
    return out


def list_for_account(
    session: Session,
    account_id: str,
    *,
    kind: str | None = None,
    status: str | None = None,
    about_account_id: str | None = None,
    invitation_id: str | None = None,
    limit: int = 100,
    before: tuple[dt.datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Mails that concern an account: caused by it (its sub-distributors' confirmations, its
    invitations) or about it (its expiry reminders, notices). Newest first."""
    children = select(Account.id).where(Account.parent_id == account_id)
    stmt = select(OutboundMail).where(
        or_(
            OutboundMail.requested_by_account_id == account_id,
            OutboundMail.account_id == account_id,
            # A sub-distributor's mails, e.g. from a self-registration through the account's site.
            OutboundMail.account_id.in_(children),
        )
    )
    if kind is not None:
        if kind not in templates.KINDS:
            raise validation_error({"kind": "Tipo de correo desconocido."})
        stmt = stmt.where(OutboundMail.kind == kind)
    if status is not None:
        if status not in templates.STATUS_LABEL:
            raise validation_error({"status": "Estado de correo desconocido."})
        stmt = stmt.where(OutboundMail.status == status)
    if about_account_id is not None:
        stmt = stmt.where(OutboundMail.account_id == about_account_id)
    if invitation_id is not None:
        stmt = stmt.where(OutboundMail.invitation_id == invitation_id)
    if before is not None:
        stmt = stmt.where(
            (OutboundMail.created_at < before[0])
            | ((OutboundMail.created_at == before[0]) & (OutboundMail.id < before[1]))
        )
    stmt = stmt.order_by(OutboundMail.created_at.desc(), OutboundMail.id.desc()).limit(limit)
    return [mail_view(m) for m in session.scalars(stmt)]


# ---------------------------------------------------------------------------------------------------
# Administration (cmdesk-server mail status / retry)


def queue_status(session: Session, now: dt.datetime | None = None, failures: int = 20) -> dict[str, Any]:
    """Counts by status, the oldest mail still waiting, and the latest failures with their answer."""
    now = now or utcnow()
    counts = {s: 0 for s in templates.STATUS_LABEL}
    for status, count in session.execute(
        select(OutboundMail.status, func.count()).group_by(OutboundMail.status)
    ).all():
        counts[status] = int(count)
    waiting = session.execute(
        select(OutboundMail.created_at, OutboundMail.last_error, OutboundMail.attempts)
        .where(OutboundMail.status.in_(["queued", "sending"]))
        .order_by(OutboundMail.created_at)
        .limit(1)
    ).first()
    last_error = session.scalar(
        select(OutboundMail.last_error)
        .where(OutboundMail.status.in_(["queued", "failed"]), OutboundMail.last_error != "")
        .order_by(OutboundMail.last_attempt_at.desc())
        .limit(1)
    )
    failed = session.scalars(
        select(OutboundMail)
        .where(OutboundMail.status == "failed")
        .order_by(OutboundMail.last_attempt_at.desc())
        .limit(failures)
    ).all()
    return {
        "counts": counts,
        "oldest_waiting_seconds": int((now - waiting[0]).total_seconds()) if waiting else None,
        "last_error": last_error or None,
        "failed": [mail_view(m) for m in failed],
    }


def retry(session: Session, mail_ids: list[str] | None = None, now: dt.datetime | None = None) -> int:
    """Queue failed mails again (all of them, or the given ones) for an immediate try."""
    now = now or utcnow()
    stmt = update(OutboundMail).where(OutboundMail.status == "failed")
    if mail_ids is not None:
        stmt = stmt.where(OutboundMail.id.in_(mail_ids))
    result = session.execute(
        stmt.values(status="queued", attempts=0, next_attempt_at=now).execution_options(
            synchronize_session=False
        )
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        _mark_enqueued(session)
    return count


MAIL_RETENTION = dt.timedelta(days=180)
TOKEN_RETENTION = dt.timedelta(days=30)


def purge(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Maintenance: forget mails that left (or gave up) more than 180 days ago, and link tokens past
    their expiry by 30 days (used or not, they open nothing any more)."""
    from sqlalchemy import delete

    from cmdesk.models import LinkToken

    now = now or utcnow()
    mails = session.execute(
        delete(OutboundMail).where(
            OutboundMail.status.in_(["sent", "failed", "cancelled"]),
            OutboundMail.created_at < now - MAIL_RETENTION,
        )
    )
    tokens = session.execute(delete(LinkToken).where(LinkToken.expires_at < now - TOKEN_RETENTION))
    return {
        "mails_purged": int(getattr(mails, "rowcount", 0) or 0),
        "link_tokens_purged": int(getattr(tokens, "rowcount", 0) or 0),
    }
