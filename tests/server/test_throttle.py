"""The password-check throttle (`cmdesk.server.throttle`): per-source delays, per-subject limits for
sources that are not known-good, atomic counting under a parallel burst on PostgreSQL, and the
per-process memory that keeps a cached password from bypassing a refusal."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from cmdesk.domain.errors import ErrorCode
from cmdesk.models import ThrottleCounter, utcnow
from cmdesk.server import db, throttle
from cmdesk.server.throttle import Kind, Policy

T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
POLICY = Policy(subject_limit=5, source_free=10, max_delay=dt.timedelta(seconds=60))


def attempt(factory, subject="perfil-1", source="10.0.0.1", *, now=T0, policy=POLICY, kind=Kind.LOGIN):
    return db.run(factory, throttle.admit, policy, kind=kind, subject=subject, source=source, now=now)


def test_subject_limit_then_refused_until_the_window_ends(factory):
    for n in range(5):
        assert attempt(factory, source=f"10.0.0.{n}").refusal is None
    ticket = attempt(factory, source="10.0.0.99", now=T0 + dt.timedelta(seconds=20))
    assert ticket.refusal is not None and ticket.refusal.code == ErrorCode.TOO_MANY_ATTEMPTS
    assert ticket.refusal.extra["retry_after"] == 40
    assert ticket.refusal.detail == "Demasiados intentos fallidos de inicio de sesión. Espere 40 segundos e intente de nuevo."
    # Another subject is not affected; a minute later this one is free again.
    assert attempt(factory, subject="perfil-2", source="10.0.0.99").refusal is None
    assert attempt(factory, source="10.0.0.99", now=T0 + dt.timedelta(seconds=61)).refusal is None


def test_a_known_good_source_is_not_locked_out_by_guesses_from_elsewhere(factory):
    owner = attempt(factory, source="192.0.2.7")
    db.run(factory, throttle.succeeded, owner)
    for n in range(20):  # an attacker from many addresses exhausts the profile's limit
        attempt(factory, source=f"203.0.113.{n}", now=T0 + dt.timedelta(seconds=1))
    assert attempt(factory, source="203.0.113.200", now=T0 + dt.timedelta(seconds=2)).refusal is not None
    trusted = attempt(factory, source="192.0.2.7", now=T0 + dt.timedelta(seconds=2))
    assert trusted.refusal is None and trusted.trusted
    # Trust ends after `trust_for`.
    later = T0 + POLICY.trust_for + dt.timedelta(seconds=5)
    for n in range(6):
        attempt(factory, source=f"203.0.113.{n}", now=later)
    assert attempt(factory, source="192.0.2.7", now=later).refusal is not None


def test_a_source_gets_growing_delays_after_its_free_attempts(factory):
    now = T0
    for n in range(10):  # ten free attempts, on ten subjects (the per-subject limit stays out of it)
        assert attempt(factory, subject=f"s{n}", now=now).refusal is None
    # The tenth set a 1 s wait; each next admitted attempt doubles it.
    waits = []
    for n in range(4):
        refused = attempt(factory, subject=f"t{n}", now=now)
        assert refused.refusal is not None
        wait = refused.refusal.extra["retry_after"]
        waits.append(wait)
        now = now + dt.timedelta(seconds=wait)
        assert attempt(factory, subject=f"t{n}", now=now).refusal is None
    assert waits == [1, 2, 4, 8]
    # Capped at max_delay.
    for n in range(10):
        ticket = attempt(factory, subject=f"u{n}", now=now)
        if ticket.refusal is not None:
            now += dt.timedelta(seconds=ticket.refusal.extra["retry_after"])
    blocked = db.run(factory, lambda s: s.scalar(select(ThrottleCounter.blocked_until).where(ThrottleCounter.bucket == "src:login:10.0.0.1")))
    assert blocked - now <= POLICY.max_delay


def test_a_success_gives_its_attempt_back(factory):
    for _ in range(4):
        attempt(factory)
    ok = attempt(factory)
    db.run(factory, throttle.succeeded, ok)
    counts = dict(db.run(factory, lambda s: s.execute(select(ThrottleCounter.bucket, ThrottleCounter.count)).all()))
    assert counts["sub:login:perfil-1"] == 4
    assert counts["src:login:10.0.0.1"] == 4
    assert counts["ok:login:perfil-1@10.0.0.1"] == 1


def test_kinds_are_separate(factory):
    for n in range(5):
        attempt(factory, subject="X", source=f"10.1.0.{n}", kind=Kind.CTI)
    assert attempt(factory, subject="X", source="10.1.0.9", kind=Kind.CTI).refusal is not None
    assert attempt(factory, subject="X", source="10.1.0.9", kind=Kind.LOGIN).refusal is None


def test_take_and_give_back(factory):
    for _ in range(3):
        wait, _ = db.run(factory, throttle.take, "public:x", 3, dt.timedelta(minutes=1), T0)
        assert wait is None
    wait, start = db.run(factory, throttle.take, "public:x", 3, dt.timedelta(minutes=1), T0 + dt.timedelta(seconds=15))
    assert wait == 45
    db.run(factory, throttle.give_back, "public:x", start)
    db.run(factory, throttle.give_back, "public:x", start)
    wait, _ = db.run(factory, throttle.take, "public:x", 3, dt.timedelta(minutes=1), T0 + dt.timedelta(seconds=16))
    assert wait is None


def test_purge_keeps_what_still_matters(factory):
    old = utcnow() - dt.timedelta(days=3)
    attempt(factory, now=old)
    db.run(factory, throttle.succeeded, attempt(factory, subject="p9", now=old))
    attempt(factory, subject="fresh", source="10.9.9.9")
    removed = db.run(factory, throttle.purge, POLICY)
    left = db.run(factory, lambda s: set(s.scalars(select(ThrottleCounter.bucket))))
    assert removed == 3
    assert left == {"ok:login:p9@10.0.0.1", "sub:login:fresh", "src:login:10.9.9.9"}


@pytest.mark.postgres_only
def test_forty_parallel_attempts_on_postgresql_admit_exactly_the_limit(engine, factory, db_kind):
    """The race of the old count-then-insert (40 parallel guesses, 20 checked against a limit of 5):
    here every attempt is one UPSERT returning its count, so exactly 5 get through."""
    assert engine.dialect.name == "postgresql"
    barrier = threading.Barrier(40)
    policy = Policy(subject_limit=5, source_free=1000)

    def one(n: int):
        barrier.wait()
        return db.run(factory, throttle.admit, policy, kind=Kind.LOGIN, subject="victima", source=f"198.51.100.{n}")

    with ThreadPoolExecutor(40) as pool:
        tickets = list(pool.map(one, range(40)))
    assert sum(t.refusal is None for t in tickets) == 5
    assert sum(t.refusal is not None for t in tickets) == 35
    counted = db.run(factory, lambda s: s.scalar(select(ThrottleCounter.count).where(ThrottleCounter.bucket == "sub:login:victima")))
    assert counted == 40

    # One source, 40 parallel attempts on 40 subjects: its free attempts and not one more.
    barrier2 = threading.Barrier(40)
    source_policy = Policy(subject_limit=1000, source_free=10)

    def from_one_source(n: int):
        barrier2.wait()
        return db.run(factory, throttle.admit, source_policy, kind=Kind.CTI, subject=f"cti{n}", source="203.0.113.66")

    with ThreadPoolExecutor(40) as pool:
        tickets = list(pool.map(from_one_source, range(40)))
    assert sum(t.refusal is None for t in tickets) == 10
    rows = db.run(factory, lambda s: s.scalar(select(func.count()).select_from(ThrottleCounter)))
    assert rows >= 41


def test_local_refusals_are_learned_and_expire(factory, monkeypatch):
    local = throttle.LocalRefusals()
    assert local.refused(Kind.CTI, "10.0.0.1") is None
    assert not local.must_check(Kind.CTI, "CTI1", "10.0.0.1")
    now = utcnow()
    for n in range(5):
        attempt(factory, subject="CTI1", source=f"10.0.0.{n}", kind=Kind.CTI, now=now)
    locked = attempt(factory, subject="CTI1", source="10.0.0.50", kind=Kind.CTI, now=now)
    local.learn(locked, POLICY)
    # The subject is locked: its password goes through the counters again, whatever the cache says...
    assert local.must_check(Kind.CTI, "CTI1", "10.0.0.77")
    assert not local.must_check(Kind.CTI, "CTI2", "10.0.0.77")
    # ...except from a source this process knows to be good for it.
    good = attempt(factory, subject="CTI1", source="10.0.0.1", kind=Kind.CTI, now=now)
    local.learn_success(good, POLICY)
    assert not local.must_check(Kind.CTI, "CTI1", "10.0.0.1")
    # A blocked source is refused outright.
    for n in range(10):
        attempt(factory, subject=f"otra{n}", source="10.0.0.66", kind=Kind.CTI, now=now)
    blocked = attempt(factory, subject="otra", source="10.0.0.66", kind=Kind.CTI, now=now)
    local.learn(blocked, POLICY)
    error = local.refused(Kind.CTI, "10.0.0.66")
    assert error is not None and error.code == ErrorCode.TOO_MANY_ATTEMPTS
    assert local.refused(Kind.LOGIN, "10.0.0.66") is None
    # Both end with their windows.
    clock = throttle.time.monotonic() + 61
    monkeypatch.setattr(throttle.time, "monotonic", lambda: clock)
    assert local.refused(Kind.CTI, "10.0.0.66") is None
    assert not local.must_check(Kind.CTI, "CTI1", "10.0.0.77")
