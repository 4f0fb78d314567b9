"""Secrets of the server: password hashing (Argon2id), the stamping credential cache, access tokens
(HMAC-SHA256, JWT-compatible compact form) and refresh-token material.

Nothing here touches the database or logs a secret; `operations.auth` stores refresh tokens (as
SHA-256 digests) and the server-wide signing key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cmdesk.domain.codes import generate_token, new_id
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models.base import utcnow

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------
# Passwords

# argon2-cffi's defaults are RFC 9106's low-memory profile (t=3, 64 MiB, p=4): ~0.1 s per hash here.
_hasher = PasswordHasher()


class HashingGate:
    """Bounds how many Argon2 computations run at once in this process, and how many wait.

    Each one takes `memory_cost` KiB (64 MiB by default) for its duration: without a bound, 40 parallel
    wrong passwords took a server from ~330 MB to ~2.6 GB. `slots` run at once; up to `queue` more wait
    at most `wait_seconds` for a slot; anything beyond answers at once 503 `server_busy` with
    `Retry-After` (a small request, no memory held), instead of piling threads and memory up.
    """

    def __init__(self, slots: int, *, queue: int, wait_seconds: float) -> None:
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self.refused = 0  # requests turned away since start (a figure for logs and tests)

    def __enter__(self) -> HashingGate:
        if self._semaphore.acquire(blocking=False):
            return self
        with self._lock:
            if self._waiting >= self.queue:
                self.refused += 1
                raise server_busy()
            self._waiting += 1
        try:
            acquired = self._semaphore.acquire(timeout=self.wait_seconds)
        finally:
            with self._lock:
                self._waiting -= 1
        if not acquired:
            with self._lock:
                self.refused += 1
            raise server_busy()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._semaphore.release()


def server_busy() -> DomainError:
    return DomainError(
        ErrorCode.SERVER_BUSY,
        "El servidor está ocupado verificando contraseñas; intente de nuevo en un momento.",
        extra={"retry_after": 1},
    )


def default_hashing_slots() -> int:
    """One Argon2 at a time per core (each already uses `parallelism` lanes): more only adds memory."""
    return max(1, min(os.cpu_count() or 2, 8))


# Unbounded-looking defaults for scripts (seeding, the CLI); the server sets its own in `create_app`.
_gate = HashingGate(default_hashing_slots(), queue=1_000_000, wait_seconds=3600.0)


def configure_hashing_gate(slots: int, *, queue: int, wait_seconds: float) -> HashingGate:
    """Set this process's bound on concurrent Argon2 computations (see `HashingGate`)."""
    global _gate
    _gate = HashingGate(slots, queue=queue, wait_seconds=wait_seconds)
    return _gate


def hashing_gate() -> HashingGate:
    return _gate


def configure_password_hashing(*, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
    """Change the Argon2id cost of new hashes (tests use a cheap one). Old hashes keep verifying, and a
    login re-hashes them with the current cost (`needs_rehash`)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _DUMMY_HASH = None


# Argon2 never runs inside a database transaction (on SQLite a write transaction holds the database's
# only write lock, so every stamping would wait the ~0.1 s of a hash; on PostgreSQL it holds a
# connection and row locks meanwhile). `db.transaction` counts the open ones here; a request that
# stores a new password hashes it first (`prehashed`), and the operation's `hash_password` then finds
# it. With `STRICT_HASHING` (the tests) a hash inside a transaction raises; otherwise it is logged.
STRICT_HASHING = False
_open_transactions: ContextVar[int] = ContextVar("cmdesk_open_transactions", default=0)
_prehashed: ContextVar[dict[str, str] | None] = ContextVar("cmdesk_prehashed", default=None)


def transaction_opened() -> Token[int]:
    return _open_transactions.set(_open_transactions.get() + 1)


def transaction_closed(token: Token[int]) -> None:
    _open_transactions.reset(token)


def in_transaction() -> bool:
    return _open_transactions.get() > 0


@contextmanager
def prehashed(*passwords: str | None, check: Callable[[str], object] | None = None) -> Iterator[None]:
    """Hash `passwords` now, before the transaction that stores them opens; inside the block,
    `hash_password` of one of them returns its hash without running Argon2 again. A password that
    `check` refuses (the policy) is not hashed: the operation refuses it anyway."""
    hashes = dict(_prehashed.get() or {})
    for password in passwords:
        if not password or password in hashes:
            continue
        if check is not None:
            try:
                check(password)
            except DomainError:
                continue
        hashes[password] = hash_password(password)
    token = _prehashed.set(hashes)
    try:
        yield
    finally:
        _prehashed.reset(token)


def hash_password(password: str) -> str:
    """An Argon2id hash (PHC string, salt and parameters included) of `password` as typed. Runs under
    the process's `HashingGate` (503 `server_busy` when it is full), outside any transaction (see
    `prehashed`)."""
    known = (_prehashed.get() or {}).get(password)
    if known is not None:
        return known
    if in_transaction():
        if STRICT_HASHING:
            raise RuntimeError("Argon2 inside a database transaction: hash first (security.prehashed)")
        log.warning("a password was hashed inside a database transaction")
    with _gate:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`. A missing or malformed hash never matches. Runs
    under the process's `HashingGate` (503 `server_busy` when it is full)."""
    if not password_hash:
        return False
    with _gate:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones (hash it again after a
    successful verification)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


_DUMMY_HASH: str | None = None


def dummy_verify(password: str) -> None:
    """Spend the time (and the memory) of a verification when there is no hash to check (an unknown
    login or CTI id), so neither the answer time nor the load tells whether an id exists."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    verify_password(_DUMMY_HASH, password)


def verify_or_dummy(password_hash: str | None, password: str) -> bool:
    """`verify_password`, or `dummy_verify` (and False) when there is no hash: the same work either way."""
    if not password_hash:
        dummy_verify(password)
        return False
    return verify_password(password_hash, password)


class CredentialCache:
    """Remembers, per CTI id, a password verified in the last `ttl_seconds`, so stamping one CFDI after
    another does not pay Argon2 each time.

    An entry holds the stored hash it was verified against and an HMAC of the password under a key
    that lives only in this process (never the password): a changed hash (password reset) or another
    password is a miss and goes through Argon2 again. A least-recently-used bound keeps it small.
    """

    def __init__(self, *, ttl_seconds: float = 600.0, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[str, tuple[bytes, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    def digest(self, password: str) -> bytes:
        """An HMAC of `password` under this process's key: tells equal passwords apart, reveals none."""
        return self._digest(password)

    def verify(self, cti_id: str, password: str, password_hash: str | None) -> bool:
        """Like `verify_password`, answered from the cache when this password was verified recently."""
        if not password_hash:
            return False
        digest = self._digest(password)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(cti_id)
            if entry is not None:
                cached_digest, cached_hash, verified_at = entry
                if (
                    now - verified_at < self.ttl_seconds
                    and cached_hash == password_hash
                    and hmac.compare_digest(cached_digest, digest)
                ):
                    self._entries.move_to_end(cti_id)
                    return True
        if not verify_password(password_hash, password):
            return False
        with self._lock:
            self._entries[cti_id] = (digest, password_hash, now)
            self._entries.move_to_end(cti_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return True

    def known_hash(self, cti_id: str, password: str) -> str | None:
        """The stored hash this password was verified against in the last `ttl_seconds`, if any: the
        stamping fast path hands it to the database, which compares it with the current one."""
        digest = self._digest(password)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(cti_id)
            if entry is None:
                return None
            cached_digest, cached_hash, verified_at = entry
            if now - verified_at < self.ttl_seconds and hmac.compare_digest(cached_digest, digest):
                self._entries.move_to_end(cti_id)
                return cached_hash
        return None

    def forget(self, cti_id: str) -> None:
        with self._lock:
            self._entries.pop(cti_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# ---------------------------------------------------------------------------------------------------
# Access tokens: a JWT (RFC 7519) signed with HS256, written by hand because it is this small. Only
# the exact header below is accepted, so "alg: none" and algorithm confusion are impossible.

_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER_B64 = _b64encode(json.dumps(_HEADER, separators=(",", ":")).encode())


@dataclass(frozen=True)
class AccessClaims:
    """What an access token says: who (profile) acts for which account, in which session (the refresh
    token family, so logging out ends the session), until when."""

    profile_id: str
    account_id: str
    session_id: str
    token_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def _sign(secret: bytes, signing_input: str) -> bytes:
    return hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()


def issue_access_token(
    secret: bytes,
    *,
    profile_id: str,
    account_id: str,
    session_id: str,
    lifetime: dt.timedelta,
    now: dt.datetime | None = None,
) -> tuple[str, AccessClaims]:
    """A signed access token and its claims."""
    now = now or utcnow()
    issued = int(now.timestamp())
    expires = issued + int(lifetime.total_seconds())
    claims = AccessClaims(
        profile_id=profile_id,
        account_id=account_id,
        session_id=session_id,
        token_id=new_id(),
        issued_at=dt.datetime.fromtimestamp(issued, dt.UTC),
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
    )
    payload = {
        "sub": profile_id,
        "acc": account_id,
        "sid": session_id,
        "jti": claims.token_id,
        "iat": issued,
        "exp": expires,
    }
    signing_input = _HEADER_B64 + "." + _b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return signing_input + "." + _b64encode(_sign(secret, signing_input)), claims


def _invalid() -> DomainError:
    return DomainError(ErrorCode.INVALID_CREDENTIALS, "La sesión no es válida; inicie sesión de nuevo.")


def read_access_token(
    secret: bytes, token: str, *, now: dt.datetime | None = None, allow_expired: bool = False
) -> AccessClaims:
    """The claims of a token this server signed, or 401 `invalid_credentials` / `token_expired`."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _HEADER_B64 or len(token) > 4096:
        raise _invalid()
    signing_input = parts[0] + "." + parts[1]
    try:
        signature = _b64decode(parts[2])
        payload: Any = json.loads(_b64decode(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid() from None
    if not hmac.compare_digest(signature, _sign(secret, signing_input)):
        raise _invalid()
    try:
        claims = AccessClaims(
            profile_id=_str_claim(payload, "sub"),
            account_id=_str_claim(payload, "acc"),
            session_id=_str_claim(payload, "sid"),
            token_id=_str_claim(payload, "jti"),
            issued_at=dt.datetime.fromtimestamp(_int_claim(payload, "iat"), dt.UTC),
            expires_at=dt.datetime.fromtimestamp(_int_claim(payload, "exp"), dt.UTC),
        )
    except (TypeError, ValueError, OverflowError, OSError):
        raise _invalid() from None
    if not allow_expired and (now or utcnow()) >= claims.expires_at:
        raise DomainError(
            ErrorCode.TOKEN_EXPIRED, "La sesión expiró; renueve el token o inicie sesión de nuevo."
        )
    return claims


def _str_claim(payload: Any, name: str) -> str:
    value = payload.get(name) if isinstance(payload, dict) else None
    if not isinstance(value, str) or not value:
        raise ValueError(name)
    return value


def _int_claim(payload: Any, name: str) -> int:
    value = payload.get(name) if isinstance(payload, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(name)
    return value


# ---------------------------------------------------------------------------------------------------
# Opaque secrets stored only as digests (refresh tokens)


def new_refresh_token() -> str:
    """256 random bits, URL-safe. Stored only as `token_digest()`."""
    return generate_token()


def token_digest(token: str) -> str:
    """SHA-256 hex of an opaque token: what the database keeps (the token is random, so no salt)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_secret_key() -> str:
    """A signing key for access tokens: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose from the server secret, so one secret can sign several kinds of things."""
    return hmac.new(secret.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()
