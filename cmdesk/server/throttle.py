"""Throttling of every password check: sign-in, CTI passwords (stamping), top-up NIPs, and any other
check that is added (password-reset requests use `Kind.RESET`).

The rule (docs/security.md explains it to operators):

- **Per source** (the client address, per kind of check): the first `source_free` attempts in a
  window of `source_window` are free; after that each attempt must wait a growing delay after the
  previous one (1 s, 2 s, 4 s … up to `max_delay`). Refused attempts answer 429 `too_many_attempts`
  with `Retry-After` before any password is hashed, so a guessing source costs a cheap query.
- **Per subject** (the profile, whatever spelling of its login was typed — e-mail or mobile —, the
  CTI, the code): at most `subject_limit` attempts per `subject_window` from sources that are not
  *known-good* for that subject. Past it those sources get 429, even with the right password.
- **Known-good sources**: a source that passed this subject's check in the last `trust_for` is exempt
  from the subject limit (but not from its own delays). So guesses from elsewhere cannot lock the real
  owner out: the office that signed in yesterday, the invoicing server that stamps every day, keep
  working while an attacker is refused. A device that holds a session never sends the password again
  (it refreshes its token), so it is not affected at all.

Atomicity. Counters live in `throttle_counters` (shared by every server process) and are changed only
by single-statement UPSERTs that return the new value (`INSERT … ON CONFLICT DO UPDATE … RETURNING`):
PostgreSQL takes the row lock, so of 40 parallel guesses under READ COMMITTED exactly `limit` get a
count ≤ limit; no count-then-insert race. An attempt is counted *before* the password is checked and
the count is given back when it succeeds (`succeeded`), so parallel guesses cannot all slip in while
Argon2 runs.

Use: `admit()` in a transaction that commits even when it refuses (the ticket carries the refusal;
raise it after the commit), check the password outside any transaction, then `succeeded()` in the
transaction that finishes the successful request. A failure needs nothing more: the counted attempt
is its record.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import StampingAccount, ThrottleCounter, utcnow
from cmdesk.models.base import UTCDateTime
from cmdesk.server import db, security
from cmdesk.server.db import SessionFactory
from cmdesk.server.security import CredentialCache

SOURCE_MAX = 64
SUBJECT_MAX = 96


class Kind(StrEnum):
    LOGIN = "login"
    CTI = "cti"
    NIP = "nip"
    RESET = "reset"


@dataclass(frozen=True)
class Policy:
    subject_limit: int = 5
    subject_window: dt.timedelta = dt.timedelta(minutes=1)
    source_free: int = 30
    source_window: dt.timedelta = dt.timedelta(hours=1)
    max_delay: dt.timedelta = dt.timedelta(minutes=5)
    trust_for: dt.timedelta = dt.timedelta(days=30)


# What a refused attempt is told, per kind; the wait is said in words and in `retry_after` (and the
# Retry-After header).
_REFUSALS = {
    Kind.LOGIN: "Demasiados intentos fallidos de inicio de sesión.",
    Kind.CTI: "Demasiados intentos con credenciales incorrectas para esta cuenta de timbrado.",
    Kind.NIP: "Demasiados intentos de canje.",
    Kind.RESET: "Demasiadas solicitudes para restablecer la contraseña.",
}


def wait_phrase(seconds: int) -> str:
    if seconds <= 1:
        return "Espere un segundo e intente de nuevo."
    if seconds < 50:
        return f"Espere {seconds} segundos e intente de nuevo."
    if seconds <= 90:
        return "Espere un minuto e intente de nuevo."
    return f"Espere {round(seconds / 60)} minutos e intente de nuevo."


def refusal(kind: Kind, seconds: float) -> DomainError:
    wait = max(1, math.ceil(seconds))
    return DomainError(
        ErrorCode.TOO_MANY_ATTEMPTS, f"{_REFUSALS[kind]} {wait_phrase(wait)}", extra={"retry_after": wait}
    )


@dataclass
class Ticket:
    """What `admit` counted for one attempt, so `succeeded` can give exactly that back."""

    kind: Kind
    subject: str
    source: str
    now: dt.datetime
    trusted: bool = False
    refusal: DomainError | None = None
    source_window: dt.datetime | None = None  # window_start of the source count this attempt took
    source_blocked: dt.datetime | None = None  # the blocked_until this attempt set, if any
    subject_window: dt.datetime | None = None  # window_start of the subject count, if it took one
    refused_until: dt.datetime | None = None  # when a refusal ends (for the per-process memory)
    refused_scope: str = ""  # "source" or "subject"


def source_key(kind: Kind, source: str) -> str:
    return f"src:{kind.value}:{(source or 'unknown')[:SOURCE_MAX]}"


def subject_key(kind: Kind, subject: str) -> str:
    return f"sub:{kind.value}:{subject[:SUBJECT_MAX]}"


def trust_key(kind: Kind, subject: str, source: str) -> str:
    return f"ok:{kind.value}:{subject[:SUBJECT_MAX]}@{(source or 'unknown')[:SOURCE_MAX]}"


def delay(policy: Policy, beyond: int) -> dt.timedelta:
    """The wait after the `beyond`-th attempt past the free ones (1-based): 1 s, 2 s, 4 s … capped."""
    cap = policy.max_delay.total_seconds()
    return dt.timedelta(seconds=min(cap, 2.0 ** min(beyond - 1, 30)))


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _count(
    session: Session, bucket: str, now: dt.datetime, window: dt.timedelta, *, unless_blocked: bool
) -> tuple[int, dt.datetime, dt.datetime | None] | None:
    """Add one to `bucket` in its current window (a new window when the old one is over), atomically.
    Returns (count, window_start, blocked_until) after the change; None when `unless_blocked` and the
    bucket is blocked until after `now` (then nothing changed)."""
    t = ThrottleCounter.__table__
    now_p = bindparam("now_p", now, type_=UTCDateTime())
    cutoff = bindparam("cutoff_p", now - window, type_=UTCDateTime())
    stmt = _insert(session)(t).values(bucket=bucket, window_start=now, count=1, blocked_until=None)
    expired = t.c.window_start <= cutoff
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.bucket],
        set_={
            "count": case((expired, 1), else_=t.c.count + 1),
            "window_start": case((expired, now_p), else_=t.c.window_start),
        },
        where=or_(t.c.blocked_until.is_(None), t.c.blocked_until <= now_p) if unless_blocked else None,
    ).returning(t.c.count, t.c.window_start, t.c.blocked_until)
    row = session.execute(stmt).first()
    if row is None:
        return None
    return int(row[0]), row[1], row[2]


def _blocked_until(session: Session, bucket: str) -> dt.datetime | None:
    value: dt.datetime | None = session.scalar(
        select(ThrottleCounter.blocked_until).where(ThrottleCounter.bucket == bucket)
    )
    return value


def is_trusted(
    session: Session, policy: Policy, kind: Kind, subject: str, source: str, now: dt.datetime
) -> bool:
    seen = session.scalar(
        select(ThrottleCounter.window_start).where(ThrottleCounter.bucket == trust_key(kind, subject, source))
    )
    return seen is not None and seen > now - policy.trust_for


def admit(
    session: Session,
    policy: Policy,
    *,
    kind: Kind,
    subject: str,
    source: str,
    now: dt.datetime | None = None,
) -> Ticket:
    """Count one attempt to check `subject`'s secret from `source`. The ticket's `refusal` is set when
    the attempt must not be checked (429); the caller commits this transaction either way (the count
    is the record) and raises the refusal afterwards."""
    now = now or utcnow()
    ticket = Ticket(kind, subject, source, now)
    src = source_key(kind, source)
    counted = _count(session, src, now, policy.source_window, unless_blocked=True)
    if counted is None:
        until = _blocked_until(session, src) or now
        ticket.refusal = refusal(kind, (until - now).total_seconds())
        ticket.refused_until, ticket.refused_scope = until, "source"
        return ticket
    count, window_start, _ = counted
    ticket.source_window = window_start
    if count >= policy.source_free:
        # This attempt is admitted; the next one from this source waits.
        until = now + delay(policy, count - policy.source_free + 1)
        session.execute(
            update(ThrottleCounter).where(ThrottleCounter.bucket == src).values(blocked_until=until)
        )
        ticket.source_blocked = until
    ticket.trusted = is_trusted(session, policy, kind, subject, source, now)
    if ticket.trusted:
        return ticket
    counted = _count(session, subject_key(kind, subject), now, policy.subject_window, unless_blocked=False)
    assert counted is not None
    count, window_start, _ = counted
    ticket.subject_window = window_start
    if count > policy.subject_limit:
        until = window_start + policy.subject_window
        ticket.refusal = refusal(kind, (until - now).total_seconds())
        ticket.refused_until, ticket.refused_scope = until, "subject"
    return ticket


def succeeded(session: Session, ticket: Ticket) -> None:
    """The secret was right: give back what the attempt counted, and remember the source as
    known-good for this subject."""
    not_checked(session, ticket)
    t = ThrottleCounter
    table = t.__table__
    stmt = _insert(session)(table).values(
        bucket=trust_key(ticket.kind, ticket.subject, ticket.source),
        window_start=ticket.now,
        count=1,
        blocked_until=None,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={"window_start": stmt.excluded.window_start, "count": table.c.count + 1},
        )
    )


def not_checked(session: Session, ticket: Ticket) -> None:
    """The secret was never compared (the server was too busy to hash it: 503): give back what the
    attempt counted — it was no guess — without trusting the source."""
    t = ThrottleCounter
    src = source_key(ticket.kind, ticket.source)
    if ticket.source_window is not None:
        session.execute(
            update(t)
            .where(t.bucket == src, t.window_start == ticket.source_window, t.count > 0)
            .values(count=t.count - 1)
        )
    if ticket.source_blocked is not None:
        session.execute(
            update(t)
            .where(t.bucket == src, t.blocked_until == ticket.source_blocked)
            .values(blocked_until=None)
        )
    if ticket.subject_window is not None:
        session.execute(
            update(t)
            .where(
                t.bucket == subject_key(ticket.kind, ticket.subject),
                t.window_start == ticket.subject_window,
                t.count > 0,
            )
            .values(count=t.count - 1)
        )


def take(
    session: Session, bucket: str, limit: int, window: dt.timedelta, now: dt.datetime | None = None
) -> tuple[float | None, dt.datetime]:
    """A plain limit: count one request in `bucket`'s fixed window, atomically. Returns (seconds to
    wait or None when within `limit`, the window's start — for `give_back`). A refused request is
    counted too, which changes nothing: the window ends when it ends."""
    now = now or utcnow()
    counted = _count(session, bucket, now, window, unless_blocked=False)
    assert counted is not None
    count, window_start, _ = counted
    if count > limit:
        return (window_start + window - now).total_seconds(), window_start
    return None, window_start


def give_back(session: Session, bucket: str, window_start: dt.datetime) -> None:
    """Undo one `take` of `bucket` (the request turned out not to be what the limit counts)."""
    t = ThrottleCounter
    session.execute(
        update(t)
        .where(t.bucket == bucket, t.window_start == window_start, t.count > 0)
        .values(count=t.count - 1)
    )


def purge(session: Session, policy: Policy | None = None, now: dt.datetime | None = None) -> int:
    """Delete counters nobody needs any more (maintenance): windows and blocks long over, known-good
    pairs older than `trust_for`."""
    policy = policy or Policy()
    now = now or utcnow()
    t = ThrottleCounter
    longest = max(policy.source_window, policy.subject_window, dt.timedelta(days=1))
    result = session.execute(
        delete(t).where(
            or_(
                and_(
                    ~t.bucket.startswith("ok:"),
                    t.window_start < now - longest,
                    or_(t.blocked_until.is_(None), t.blocked_until < now),
                ),
                and_(t.bucket.startswith("ok:"), t.window_start < now - policy.trust_for),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


class LocalRefusals:
    """What this process learned from the shared counters about refused sources and locked subjects,
    for a check that does not go to the database: a CTI password found in the `CredentialCache`.

    Without it, a refused attacker could keep guessing at wire speed: a wrong guess answers 429 from
    the counters, the right one 200 from the cache. Every wrong guess does go through `admit` (it
    misses the cache), which teaches this process the refusal; from then on the cache path refuses a
    blocked source at once, and sends a locked subject's password through `admit` again unless this
    process knows the source is known-good (the shared counters know it in any case).
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self._max = max_entries
        self._until: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._trusted: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _monotonic_deadline(until: dt.datetime, now: dt.datetime) -> float:
        return time.monotonic() + max(0.0, (until - now).total_seconds())

    def _put(self, table: OrderedDict[tuple[str, ...], float], key: tuple[str, ...], deadline: float) -> None:
        with self._lock:
            table[key] = max(deadline, table.get(key, 0.0))
            table.move_to_end(key)
            while len(table) > self._max:
                table.popitem(last=False)

    def learn(self, ticket: Ticket, policy: Policy) -> None:
        if ticket.trusted:
            self.learn_success(ticket, policy)
        if ticket.refusal is None or ticket.refused_until is None:
            return
        deadline = self._monotonic_deadline(ticket.refused_until, ticket.now)
        if ticket.refused_scope == "source":
            self._put(self._until, ("src", ticket.kind.value, ticket.source), deadline)
        else:
            self._put(self._until, ("sub", ticket.kind.value, ticket.subject), deadline)

    def learn_success(self, ticket: Ticket, policy: Policy) -> None:
        key = (ticket.kind.value, ticket.subject, ticket.source)
        self._put(self._trusted, key, time.monotonic() + policy.trust_for.total_seconds())

    def _live(self, table: OrderedDict[tuple[str, ...], float], key: tuple[str, ...]) -> bool:
        with self._lock:
            deadline = table.get(key)
            if deadline is None:
                return False
            if deadline <= time.monotonic():
                del table[key]
                return False
            return True

    def refused(self, kind: Kind, source: str) -> DomainError | None:
        """A 429 when this process knows `source` is refused right now (its growing delay); None
        otherwise. Cheap: no database."""
        if not self._until:
            return None
        key = ("src", kind.value, source)
        if not self._live(self._until, key):
            return None
        with self._lock:
            left = self._until.get(key, 0.0) - time.monotonic()
        return refusal(kind, left)

    def must_check(self, kind: Kind, subject: str, source: str) -> bool:
        """True when this process knows `subject` is locked for sources not known-good and does not
        know `source` to be one: the password must then go through the counters (`admit` decides,
        with the shared record of known-good sources) even if it is in the credential cache."""
        if not self._until or not self._live(self._until, ("sub", kind.value, subject)):
            return False
        return not self._live(self._trusted, (kind.value, subject, source))

    def clear(self) -> None:
        with self._lock:
            self._until.clear()
            self._trusted.clear()


class Guard:
    """The throttle of one app: a policy per kind of check, the session factory, and what this process
    learned (`LocalRefusals`). Lives in `app.state.password_guard`."""

    def __init__(self, factory: SessionFactory, policies: Mapping[Kind, Policy]) -> None:
        self.factory = factory
        self.policies = dict(policies)
        self.local = LocalRefusals()
        self._flights: dict[tuple[str, str, bytes], _Flight] = {}
        self._flights_lock = threading.Lock()

    def policy(self, kind: Kind) -> Policy:
        return self.policies.get(kind) or Policy()

    def cached_cti_hash(self, cache: CredentialCache, cti_id: str, password: str, source: str) -> str | None:
        """The hash this password was verified against recently (`CredentialCache.known_hash`), unless
        this process knows the source is refused (429) or the CTI is locked for sources it does not
        know to be good (None: the password goes through `check_cti`)."""
        refused = self.local.refused(Kind.CTI, source)
        if refused is not None:
            raise refused
        if self.local.must_check(Kind.CTI, cti_id, source):
            return None
        return cache.known_hash(cti_id, password)

    def check_cti(self, cache: CredentialCache, cti_id: str, password: str, source: str) -> str:
        """The stored hash of CTI `cti_id` once `password` is verified against it — throttled, with
        Argon2 outside any transaction and the same work for an unknown id —, or 429 / 401. Blocking:
        call it in a worker thread.

        Concurrent checks of the same CTI, password and source in this process share one check: an
        invoicing application that starts stamping with 50 parallel requests (its password not yet
        in the cache) costs one Argon2 and one counted attempt, not 50 — which would also run into
        the per-CTI limit with the right password. Different guesses never share."""
        key = (cti_id, source, cache.digest(password))
        with self._flights_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            if flight.done.wait(timeout=60):
                if flight.error is not None:
                    raise _copy(flight.error)
                if flight.result is not None:
                    return flight.result
            return self._check_cti(cache, cti_id, password, source)
        try:
            flight.result = self._check_cti(cache, cti_id, password, source)
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._flights_lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _check_cti(self, cache: CredentialCache, cti_id: str, password: str, source: str) -> str:
        from cmdesk.server.operations.ledger import consume_refusal

        policy = self.policy(Kind.CTI)

        def start(session: Session) -> tuple[Ticket, str | None]:
            ticket = admit(session, policy, kind=Kind.CTI, subject=cti_id, source=source)
            if ticket.refusal is not None:
                return ticket, None
            password_hash: str | None = session.scalar(
                select(StampingAccount.password_hash).where(StampingAccount.id == cti_id)
            )
            return ticket, password_hash

        ticket, password_hash = db.run(self.factory, start)
        self.local.learn(ticket, policy)
        if ticket.refusal is not None:
            raise ticket.refusal
        try:
            if password_hash is None:
                security.dummy_verify(password)
                raise consume_refusal(ErrorCode.INVALID_CREDENTIALS)
            if not cache.verify(cti_id, password, password_hash):
                raise consume_refusal(ErrorCode.INVALID_CREDENTIALS)
        except DomainError as error:
            if error.code == ErrorCode.SERVER_BUSY:  # never compared: no guess to count
                db.run(self.factory, not_checked, ticket)
            raise
        db.run(self.factory, succeeded, ticket)
        self.local.learn_success(ticket, policy)
        return password_hash


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: str | None = None
        self.error: BaseException | None = None


def _copy(error: BaseException) -> BaseException:
    """The leader's error for a follower thread (a fresh instance: one exception object is not raised
    in several threads at once)."""
    if isinstance(error, DomainError):
        return DomainError(error.code, error.detail, list(error.errors), dict(error.extra))
    return error
