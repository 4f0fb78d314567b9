"""The sender: takes due mails off the queue and hands them to the transport, each exactly once
unless a sender dies in the one window below.

Protocol, per mail (three short steps, no transaction open while talking to SMTP):

1. **Claim** (one transaction): the oldest due row — `queued` with `next_attempt_at` passed, or
   `sending` whose claim lapsed — is locked `FOR UPDATE SKIP LOCKED` on PostgreSQL (so concurrent
   senders, in any number of workers or machines, each take a different row and never wait on each
   other; on SQLite the single writer lock does the same), set to `sending` with this sender's id and
   `claimed_until = now + lease`, and rendered (its link token derived again, see `links`). A mail
   whose link was used or replaced meanwhile is `cancelled` instead: nothing worth sending.
2. **Send**: SMTP (or the .eml folder), outside any transaction.
3. **Mark** (one transaction): `sent`; or, on a failure, back to `queued` with a backoff (or
   `failed` after the last try, or at once when the server refused the recipient for good), with the
   server's answer in `last_error`.

A sender killed before (2) completes leaves its row `sending`; once the lease passes any sender
takes it again (nothing lost). Killed between the SMTP server's "250 accepted" and the commit of (3)
— one short UPDATE — the mail goes again after the lease: that is the only way a mail is sent twice,
and it keeps its Message-ID, so a receiving server or client can tell the copy. The lease must
outlast one send (all SMTP timeouts of one mail): by default 10 minutes against a 30 s timeout.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cmdesk.domain.codes import new_id
from cmdesk.models import Account, LinkToken, OutboundMail, utcnow
from cmdesk.server import db, feed
from cmdesk.server.mail import links, templates
from cmdesk.server.mail.transport import (
    Connection,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    transport_for,
)
from cmdesk.server.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF = dt.timedelta(hours=1)
REMINDER_INTERVAL = dt.timedelta(hours=1)


@dataclass
class Claimed:
    id: str
    kind: str
    to_address: str
    attempts: int
    message: EmailMessage
    file_stem: str


@dataclass
class RoundReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.cancelled


def backoff(attempts: int, base_seconds: float) -> dt.timedelta:
    """Wait before try number `attempts + 1`: base, 2×base, 4×base… at most an hour."""
    return min(dt.timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def sender_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id()[:8]}"


def file_stem(mail: OutboundMail) -> str:
    """The .eml file name (without extension) of a mail in the folder transport."""
    return f"{mail.created_at:%Y%m%d-%H%M%S}-{mail.kind}-{mail.id}"


def touch_subject(session: Session, mail: OutboundMail) -> None:
    """The rows the desktop mirrors that show this mail's state change with it."""
    if mail.kind == "confirm_email" and mail.account_id is not None:
        parent = session.scalar(select(Account.parent_id).where(Account.id == mail.account_id))
        if parent is not None:
            feed.record(session, "distributor", mail.account_id, [parent])
    elif mail.kind == "invitation" and mail.invitation_id is not None and mail.account_id is not None:
        feed.record(session, "invitation", mail.invitation_id, [mail.account_id])


class Sender:
    def __init__(
        self,
        factory: db.SessionFactory,
        settings: Settings,
        *,
        transport: Transport | None = None,
        base_url: str | None = None,
        identity: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.transport = transport or transport_for(settings)
        self.base_url = (base_url or settings.public_base_url or "").rstrip("/") or None
        self.identity = identity or sender_id()
        self.clock = clock
        self.lease = dt.timedelta(seconds=settings.mail_lease_seconds)

    # ---- one round ---------------------------------------------------------------------------------

    def run_once(self, *, stop: threading.Event | None = None, max_mails: int | None = None) -> RoundReport:
        """Send every mail due now (until `stop` is set or `max_mails` were handled). A transport
        that can't be reached ends the round after recording it on the mail it was for."""
        report = RoundReport()
        conn: Connection | None = None
        try:
            while not (stop is not None and stop.is_set()):
                if max_mails is not None and report.handled >= max_mails:
                    break
                claimed = db.run(self.factory, self._claim, report)
                if claimed is None:
                    break
                if claimed == "cancelled":
                    continue
                assert isinstance(claimed, Claimed)
                try:
                    if conn is None:
                        conn = self.transport.open()
                    conn.send(claimed.message, claimed.to_address, claimed.file_stem)
                except TemporaryFailure as exc:
                    db.run(self.factory, self._mark_failure, claimed, str(exc), False, report)
                    if conn is not None:
                        conn.close()
                    conn = None
                    # Nothing answers: leave the rest for the next round instead of hammering it.
                    break
                except PermanentFailure as exc:
                    db.run(self.factory, self._mark_failure, claimed, str(exc), True, report)
                    continue
                db.run(self.factory, self._mark_sent, claimed, report)
        finally:
            if conn is not None:
                conn.close()
        return report

    def _due(self, now: dt.datetime) -> Any:
        stmt = (
            select(OutboundMail)
            .where(
                or_(
                    (OutboundMail.status == "queued") & (OutboundMail.next_attempt_at <= now),
                    (OutboundMail.status == "sending") & (OutboundMail.claimed_until <= now),
                )
            )
            .order_by(OutboundMail.next_attempt_at, OutboundMail.created_at, OutboundMail.id)
            .limit(1)
        )
        # SKIP LOCKED: another sender's claim in progress is passed over, not waited for.
        return stmt.with_for_update(skip_locked=True)

    def _claim(self, session: Session, report: RoundReport) -> Claimed | str | None:
        now = self.clock()
        mail = session.scalar(self._due(now))
        if mail is None:
            return None
        token: str | None = None
        if mail.token_id is not None:
            row = session.get(LinkToken, mail.token_id)
            if row is None or not links.usable(row, now):
                mail.status = "cancelled"
                mail.claimed_by = mail.claimed_until = None
                mail.last_error = "El enlace ya se había usado, reemplazado o vencido; no se envió."
                touch_subject(session, mail)
                report.cancelled += 1
                return "cancelled"
            token = links.token_of(session, row)
        mail.status = "sending"
        mail.claimed_by = self.identity
        mail.claimed_until = now + self.lease
        mail.attempts += 1
        mail.last_attempt_at = now
        try:
            message = self._render(mail, token)
        except Exception as exc:  # a template or address problem: retrying won't fix it
            log.exception("mail %s could not be rendered", mail.id)
            mail.status = "failed"
            mail.claimed_by = mail.claimed_until = None
            mail.last_error = f"No se pudo preparar el correo: {type(exc).__name__}: {exc}"[:1000]
            touch_subject(session, mail)
            report.failed += 1
            return "cancelled"
        session.flush()
        return Claimed(
            id=mail.id,
            kind=mail.kind,
            to_address=mail.to_address,
            attempts=mail.attempts,
            message=message,
            file_stem=file_stem(mail),
        )

    def _render(self, mail: OutboundMail, token: str | None) -> EmailMessage:
        params = templates.params_of(mail.params)
        link: str | None = None
        if token is not None:
            if self.base_url is None:
                raise ValueError("falta CMDESK_PUBLIC_BASE_URL para los enlaces de los correos")
            link = templates.link_for(mail.kind, self.base_url, token)
        elif isinstance(params.get("action_url"), str):
            link = params["action_url"]
        rendered = templates.render(mail.kind, params, subject=mail.subject, link=link)
        message = templates.build_message(
            rendered=rendered,
            mail_from=self.settings.mail_from,
            to_address=mail.to_address,
            to_name=mail.to_name,
            message_id=templates.message_id_for(mail.id, self.settings.mail_from),
            mail_id=mail.id,
            created_at=mail.created_at,
        )
        # Which sender sent it (host:pid): tracing a mail through several workers.
        message["X-Cmdesk-Sender"] = self.identity
        return message

    def _mine(self, session: Session, claimed: Claimed) -> OutboundMail | None:
        mail = session.scalar(select(OutboundMail).where(OutboundMail.id == claimed.id).with_for_update())
        if mail is None:
            return None
        if mail.status != "sending" or mail.claimed_by != self.identity:
            # Our lease ran out while sending and another sender took it: it was (or will be) sent
            # by them too. Record the send anyway; this is the documented duplicate window.
            log.warning("mail %s: claim lost while sending (lease too short for this server?)", mail.id)
        return mail

    def _mark_sent(self, session: Session, claimed: Claimed, report: RoundReport) -> None:
        now = self.clock()
        session.execute(
            update(OutboundMail)
            .where(OutboundMail.id == claimed.id)
            .values(status="sent", sent_at=now, claimed_by=None, claimed_until=None, last_error="")
            .execution_options(synchronize_session=False)
        )
        mail = session.get(OutboundMail, claimed.id)
        if mail is not None:
            touch_subject(session, mail)
        report.sent += 1

    def _mark_failure(
        self, session: Session, claimed: Claimed, error: str, permanent: bool, report: RoundReport
    ) -> None:
        now = self.clock()
        mail = self._mine(session, claimed)
        if mail is None:
            return
        mail.claimed_by = mail.claimed_until = None
        mail.last_error = error[:1000]
        if permanent or mail.attempts >= self.settings.mail_max_attempts:
            mail.status = "failed"
            report.failed += 1
            log.warning(
                "mail %s (%s) failed for good after %s tries: %s", mail.id, mail.kind, mail.attempts, error
            )
        else:
            mail.status = "queued"
            mail.next_attempt_at = now + backoff(mail.attempts, self.settings.mail_retry_seconds)
            report.retrying += 1
            log.info("mail %s (%s) will be tried again: %s", mail.id, mail.kind, error)
        report.errors.append(error)
        touch_subject(session, mail)


class MailService:
    """The sender loop in a background thread of a server process (`cmdesk-server run` workers, the
    embedded server): wakes up when this process queues a mail, polls for the others' mails, and
    queues the expiry reminders once an hour."""

    def __init__(
        self,
        factory: db.SessionFactory,
        settings: Settings,
        *,
        transport: Transport | None = None,
        base_url: str | None = None,
        reminders: bool = True,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.transport = transport
        self.base_url = base_url
        self.reminders = reminders
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_reminders = dt.datetime.min.replace(tzinfo=dt.UTC)

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, base_url: str | None = None, *, delay: float = 0.0) -> None:
        """Run in the background; the first round `delay` seconds from now, or as soon as this
        process queues a mail (the desktop's embedded server leaves its own start alone)."""
        if self.running:
            return
        if base_url is not None:
            self.base_url = base_url
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, kwargs={"delay": delay}, name="cmdesk-mail-sender", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self, delay: float = 0.0) -> None:
        if delay > 0:
            self._wake.wait(delay)
            if self._stop.is_set():
                return
        sender = Sender(self.factory, self.settings, transport=self.transport, base_url=self.base_url)
        log.info("mail sender %s started (%s)", sender.identity, sender.transport.description)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if self.reminders and utcnow() >= self._next_reminders:
                    from cmdesk.server.operations import renewal

                    db.run(self.factory, renewal.enqueue_expiry_reminders)
                    self._next_reminders = utcnow() + REMINDER_INTERVAL
                sender.run_once(stop=self._stop)
            except Exception:  # the database may be down: keep the thread, try again later
                log.exception("mail sender round failed")
            self._wake.wait(self.settings.mail_poll_seconds)
        log.info("mail sender %s stopped", sender.identity)
