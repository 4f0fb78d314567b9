"""Issue 15: a sign-in or CTI check answered 503 `server_busy` (the bounded hashing was full) never
compared the password, so it is no guess: it does not count toward the per-address nor the
per-profile throttle. Both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import ThrottleCounter
from cmdesk.server import db, security, throttle
from cmdesk.server.operations import auth
from cmdesk.server.security import CredentialCache
from cmdesk.server.throttle import Kind, Policy
from tests.server.helpers import make_distributor

POLICY = Policy(subject_limit=2, source_free=2, max_delay=dt.timedelta(seconds=60))


def counts(factory: db.SessionFactory) -> dict[str, int]:
    with db.transaction(factory) as s:
        return {row.bucket: row.count for row in s.scalars(select(ThrottleCounter)) if not row.bucket.startswith("ok:")}


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> security.HashingGate:
    """A hashing gate of one slot and no queue: while a test holds its slot, every hash answers 503
    at once."""
    one = security.HashingGate(1, queue=0, wait_seconds=0.05)
    monkeypatch.setattr(security, "_gate", one)
    return one


def test_a_busy_sign_in_is_not_a_failed_guess(factory: db.SessionFactory, gate: security.HashingGate) -> None:
    actor = make_distributor(factory, email="ana@example.com", mobile="5512340001")
    config = auth.AuthConfig(signing_key=b"k" * 32, throttle=POLICY)
    with gate:
        for _ in range(5):  # more than the per-address free attempts and the per-profile limit
            with pytest.raises(DomainError) as caught:
                auth.sign_in(factory, config, login="ana@example.com", password="x", client_ip="10.0.0.9")
            assert caught.value.code == ErrorCode.SERVER_BUSY
    assert counts(factory) and all(count == 0 for count in counts(factory).values())
    # Nothing was held against the profile or the address: wrong guesses still get their quota.
    for _ in range(2):
        with pytest.raises(DomainError) as caught:
            auth.sign_in(factory, config, login="ana@example.com", password="mala", client_ip="10.0.0.9")
        assert caught.value.code == ErrorCode.INVALID_CREDENTIALS
    assert counts(factory)[throttle.subject_key(Kind.LOGIN, actor.profile_id)] == 2


def test_a_busy_cti_check_is_not_a_failed_guess(factory: db.SessionFactory, gate: security.HashingGate) -> None:
    guard = throttle.Guard(factory, {Kind.CTI: POLICY})
    with gate:
        for _ in range(5):
            with pytest.raises(DomainError) as caught:
                guard.check_cti(CredentialCache(ttl_seconds=0), "cti-desconocida", "mala", "10.0.0.9")
            assert caught.value.code == ErrorCode.SERVER_BUSY
    assert counts(factory) and all(count == 0 for count in counts(factory).values())
    with pytest.raises(DomainError) as caught:  # a real guess counts
        guard.check_cti(CredentialCache(ttl_seconds=0), "cti-desconocida", "mala", "10.0.0.9")
    assert caught.value.code == ErrorCode.INVALID_CREDENTIALS
    assert counts(factory)[throttle.subject_key(Kind.CTI, "cti-desconocida")] == 1
