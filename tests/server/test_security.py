"""Password hashing, the stamping credential cache, and access/refresh token material."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from argon2 import PasswordHasher

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.server import security

KEY = b"k" * 32


@pytest.fixture(autouse=True)
def cheap_hashes():
    security.configure_password_hashing(time_cost=1, memory_cost=1024, parallelism=1)


# ---------------------------------------------------------------------------------------------------
# Passwords


def test_hash_and_verify():
    h = security.hash_password("secreto123")
    assert h.startswith("$argon2id$")
    assert "secreto123" not in h
    assert security.verify_password(h, "secreto123")
    assert not security.verify_password(h, "secreto124")
    assert not security.verify_password(h, "")
    assert security.hash_password("secreto123") != h  # salted


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$xx$yy", "$2b$12$abc"])
def test_missing_or_malformed_hashes_never_match(stored):
    assert not security.verify_password(stored, "secreto123")


def test_needs_rehash_when_parameters_change():
    h = security.hash_password("x1x1x1x1")
    assert not security.needs_rehash(h)
    old = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).hash("x1x1x1x1")
    assert security.needs_rehash(old)
    assert security.verify_password(old, "x1x1x1x1")  # still verifies
    assert security.needs_rehash("garbage")


def test_dummy_verify_runs():
    security.dummy_verify("anything")


# ---------------------------------------------------------------------------------------------------
# Credential cache


@pytest.fixture
def counted(monkeypatch):
    calls = {"n": 0}
    real = security.verify_password

    def counting(password_hash, password):
        calls["n"] += 1
        return real(password_hash, password)

    monkeypatch.setattr(security, "verify_password", counting)
    return calls


def test_cache_skips_argon2_for_a_recent_password(counted):
    cache = security.CredentialCache(ttl_seconds=60)
    h = security.hash_password("clave1234")
    assert cache.verify("CTI1", "clave1234", h)
    assert cache.verify("CTI1", "clave1234", h)
    assert cache.verify("CTI1", "clave1234", h)
    assert counted["n"] == 1
    assert len(cache) == 1


def test_cache_misses_on_another_password_or_a_changed_hash(counted):
    cache = security.CredentialCache(ttl_seconds=60)
    h = security.hash_password("clave1234")
    assert cache.verify("CTI1", "clave1234", h)
    assert not cache.verify("CTI1", "otra1234", h)
    assert counted["n"] == 2
    new_hash = security.hash_password("clave1234")  # password reset (same text, new hash)
    assert cache.verify("CTI1", "clave1234", new_hash)
    assert counted["n"] == 3
    changed = security.hash_password("nueva1234")
    assert not cache.verify("CTI1", "clave1234", changed)  # the old password no longer opens it
    assert not cache.verify("CTI1", "clave1234", None)


def test_cache_entries_expire(counted, monkeypatch):
    clock = {"t": 1000.0}
    monkeypatch.setattr(security.time, "monotonic", lambda: clock["t"])
    cache = security.CredentialCache(ttl_seconds=10)
    h = security.hash_password("clave1234")
    cache.verify("CTI1", "clave1234", h)
    clock["t"] += 9
    cache.verify("CTI1", "clave1234", h)
    assert counted["n"] == 1
    clock["t"] += 2
    cache.verify("CTI1", "clave1234", h)
    assert counted["n"] == 2


def test_cache_is_bounded_and_forgets(counted):
    cache = security.CredentialCache(ttl_seconds=60, max_entries=2)
    h = security.hash_password("clave1234")
    for cti in ("A", "B", "C"):
        cache.verify(cti, "clave1234", h)
    assert len(cache) == 2
    cache.verify("A", "clave1234", h)  # evicted: verified again
    assert counted["n"] == 4
    cache.forget("A")
    cache.verify("A", "clave1234", h)
    assert counted["n"] == 5
    cache.clear()
    assert len(cache) == 0


def test_cache_keeps_no_password_text():
    cache = security.CredentialCache()
    h = security.hash_password("clave1234")
    cache.verify("CTI1", "clave1234", h)
    assert b"clave1234" not in repr(cache._entries).encode()


# ---------------------------------------------------------------------------------------------------
# Access tokens

NOW = dt.datetime(2026, 11, 29, 6, 20, tzinfo=dt.UTC)


def issue(**kw):
    args = {
        "profile_id": "p1",
        "account_id": "a1",
        "session_id": "s1",
        "lifetime": dt.timedelta(minutes=15),
        "now": NOW,
    }
    args.update(kw)
    return security.issue_access_token(KEY, **args)


def test_token_round_trip():
    token, claims = issue()
    read = security.read_access_token(KEY, token, now=NOW + dt.timedelta(minutes=14))
    assert read == claims
    assert (read.profile_id, read.account_id, read.session_id) == ("p1", "a1", "s1")
    assert read.expires_at == NOW + dt.timedelta(minutes=15)
    assert issue()[1].token_id != claims.token_id
    # A standard JWT: any HS256 library can read it.
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}


def test_expired_token():
    token, _ = issue()
    with pytest.raises(DomainError) as info:
        security.read_access_token(KEY, token, now=NOW + dt.timedelta(minutes=15))
    assert info.value.code == ErrorCode.TOKEN_EXPIRED
    assert (
        security.read_access_token(KEY, token, now=NOW + dt.timedelta(days=1), allow_expired=True).profile_id
        == "p1"
    )


def _forge(payload: dict, header: dict | None = None, key: bytes = KEY) -> str:
    enc = security._b64encode
    h = enc(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = enc(json.dumps(payload).encode())
    return f"{h}.{p}." + enc(security._sign(key, f"{h}.{p}"))


GOOD = {"sub": "p1", "acc": "a1", "sid": "s1", "jti": "j", "iat": 1, "exp": 4_000_000_000}


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "x" * 5000,
        issue()[0][:-2] + "AA",  # signature changed
        issue()[0].replace(".", ".x", 1),  # payload changed
        _forge(GOOD, key=b"other-key"),
        _forge(GOOD, header={"alg": "none", "typ": "JWT"}),
        _forge(GOOD, header={"alg": "HS512", "typ": "JWT"}),
        _forge({**GOOD, "sub": ""}),
        _forge({**GOOD, "acc": 5}),
        _forge({k: v for k, v in GOOD.items() if k != "sid"}),
        _forge({**GOOD, "exp": "tomorrow"}),
        _forge({**GOOD, "exp": True}),
        _forge({**GOOD, "exp": 10**30}),
        _forge([1, 2, 3]),  # type: ignore[arg-type]
        security._HEADER_B64 + ".!!!." + "AAAA",
    ],
)
def test_invalid_tokens_are_401(token):
    with pytest.raises(DomainError) as info:
        security.read_access_token(KEY, token, now=NOW)
    assert info.value.code == ErrorCode.INVALID_CREDENTIALS


def test_forged_with_the_right_key_is_accepted():
    assert security.read_access_token(KEY, _forge(GOOD), now=NOW).account_id == "a1"


# ---------------------------------------------------------------------------------------------------
# Opaque tokens and keys


def test_refresh_tokens_are_random_and_stored_as_digests():
    tokens = {security.new_refresh_token() for _ in range(50)}
    assert len(tokens) == 50
    token = tokens.pop()
    assert len(token) >= 43
    digest = security.token_digest(token)
    assert len(digest) == 64 and token not in digest
    assert digest == security.token_digest(token)


def test_derived_keys_differ_by_purpose():
    assert security.derive_key("s", "a") != security.derive_key("s", "b")
    assert security.derive_key("s", "a") == security.derive_key("s", "a")
    assert security.new_secret_key() != security.new_secret_key()


# ---------------------------------------------------------------------------------------------------
# The hashing gate


def test_the_gate_bounds_concurrent_argon2_and_refuses_the_excess_quickly(monkeypatch):
    import threading
    import time

    gate = security.HashingGate(2, queue=3, wait_seconds=5.0)
    monkeypatch.setattr(security, "_gate", gate)
    running = {"now": 0, "peak": 0}
    lock = threading.Lock()
    release = threading.Event()
    real = security._hasher

    class Slow:
        def verify(self, h, p):
            with lock:
                running["now"] += 1
                running["peak"] = max(running["peak"], running["now"])
            release.wait(10)
            with lock:
                running["now"] -= 1
            return real.verify(h, p)

    h = security.hash_password("clave1234")
    monkeypatch.setattr(security, "_hasher", Slow())
    results: list[object] = []

    def one():
        try:
            results.append(security.verify_password(h, "clave1234"))
        except DomainError as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    # 2 run, 3 wait, 5 were answered at once.
    busy = [r for r in results if isinstance(r, DomainError)]
    assert len(busy) == 5 and running["peak"] == 2
    assert all(e.code == ErrorCode.SERVER_BUSY and e.status == 503 and e.extra["retry_after"] == 1 for e in busy)
    release.set()
    for t in threads:
        t.join()
    assert results.count(True) == 5 and gate.refused == 5


def test_a_waiter_gives_up_after_its_wait(monkeypatch):
    import threading

    gate = security.HashingGate(1, queue=5, wait_seconds=0.2)
    monkeypatch.setattr(security, "_gate", gate)
    out: list[object] = []

    def one():
        try:
            security.hash_password("x1x1x1x1")
        except DomainError as exc:
            out.append(exc.code)

    with gate:
        t = threading.Thread(target=one)
        t.start()
        t.join()
    assert out == [ErrorCode.SERVER_BUSY]
    assert security.verify_password(security.hash_password("x1x1x1x1"), "x1x1x1x1")  # free again


def test_verify_or_dummy_does_the_work_of_a_verification(monkeypatch):
    calls: list[str | None] = []
    real = security.verify_password
    monkeypatch.setattr(security, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    assert security.verify_or_dummy(None, "clave1234") is False
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")
    h = security.hash_password("clave1234")
    assert security.verify_or_dummy(h, "clave1234") is True
    assert calls[-1] == h
