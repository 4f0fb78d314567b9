"""Single-use, expiring link tokens (confirm an e-mail, accept an invitation, reset a password).

A token is never stored. Its row (`link_tokens`) keeps the SHA-256 of the token; the token itself is
`HMAC-SHA256(key, "link:" + row id)`, so the sender derives it again when it renders the mail, and
neither the queue nor the token table ever holds it. The key is derived from `CMDESK_SECRET_KEY`
(set it in production: then a copy of the database alone opens no link) or, without it, from the
server secret kept in the database — the one that signs access tokens.

`session.info[SECRET_INFO]` carries the configured secret into operations (`configure_factory`);
sessions without it (tests, the seed) use the secret in the database.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Literal

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from cmdesk.domain.codes import new_id
from cmdesk.domain.errors import DomainError, validation_error
from cmdesk.models import LinkToken, ServerSecret, utcnow
from cmdesk.server import security

Purpose = Literal["confirm_email", "invitation", "password_reset"]

VALIDITY: dict[str, dt.timedelta] = {
    "confirm_email": dt.timedelta(days=7),
    "invitation": dt.timedelta(days=7),
    "password_reset": dt.timedelta(hours=1),
}

SECRET_INFO = "cmdesk_link_secret"
_KEY_CACHE = "cmdesk_link_key"
# The name under which operations.auth keeps the generated server secret (same row, same value).
STORED_SECRET_NAME = "access_token_key"
KEY_PURPOSE = "cmdesk link token v1"


def configure_factory(factory: sessionmaker[Session], secret: str | None) -> None:
    """Make every session of `factory` derive link tokens from `secret` (CMDESK_SECRET_KEY)."""
    factory.configure(info={SECRET_INFO: secret})


def _stored_secret(session: Session) -> str:
    """The server secret in the database, created in this transaction if it is the first."""
    value = session.scalar(select(ServerSecret.value).where(ServerSecret.name == STORED_SECRET_NAME))
    if value is not None:
        return value
    table = ServerSecret
    dialect = session.get_bind().dialect.name
    row = {"name": STORED_SECRET_NAME, "value": security.new_secret_key(), "created_at": utcnow()}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(table).values(row).on_conflict_do_nothing())
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(table).values(row).on_conflict_do_nothing())
    else:  # pragma: no cover - only the two engines are supported
        session.execute(insert(table).values(row))
    stored = session.scalar(select(ServerSecret.value).where(ServerSecret.name == STORED_SECRET_NAME))
    assert stored is not None
    return stored


def link_key(session: Session) -> bytes:
    """The key link tokens are derived with (cached for the session)."""
    cached = session.info.get(_KEY_CACHE)
    if isinstance(cached, bytes):
        return cached
    secret = session.info.get(SECRET_INFO) or _stored_secret(session)
    key = security.derive_key(secret, KEY_PURPOSE)
    session.info[_KEY_CACHE] = key
    return key


def derive_token(key: bytes, token_id: str) -> str:
    mac = hmac.new(key, ("link:" + token_id).encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def issue(
    session: Session,
    purpose: Purpose,
    *,
    profile_id: str | None = None,
    account_id: str | None = None,
    invitation_id: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[LinkToken, str]:
    """A new token row (hash only) and the token. Older unused tokens for the same purpose and the
    same profile/account/invitation stop working: only the latest mail's link opens."""
    now = now or utcnow()
    stmt = update(LinkToken).where(
        LinkToken.purpose == purpose, LinkToken.used_at.is_(None), LinkToken.revoked_at.is_(None)
    )
    if invitation_id is not None:
        stmt = stmt.where(LinkToken.invitation_id == invitation_id)
    else:
        stmt = stmt.where(LinkToken.profile_id == profile_id)
        if account_id is not None:
            stmt = stmt.where(LinkToken.account_id == account_id)
    session.execute(stmt.values(revoked_at=now).execution_options(synchronize_session=False))
    row = LinkToken(
        purpose=purpose,
        profile_id=profile_id,
        account_id=account_id,
        invitation_id=invitation_id,
        created_at=now,
        expires_at=now + VALIDITY[purpose],
    )
    row.id = new_id()
    token = derive_token(link_key(session), row.id)
    row.token_hash = security.token_digest(token)
    session.add(row)
    session.flush()
    return row, token


def token_of(session: Session, row: LinkToken) -> str:
    """The token of an existing row (what the mail's link carries)."""
    return derive_token(link_key(session), row.id)


ProblemKind = Literal["unknown", "used", "revoked", "expired"]

PROBLEM_TEXT: dict[str, str] = {
    "unknown": "El enlace no es válido: revise que lo copió completo del correo.",
    "used": "Este enlace ya se usó.",
    "revoked": "Este enlace se reemplazó por uno más reciente: use el del último correo que recibió.",
    "expired": "Este enlace venció.",
}


class LinkProblem(Exception):
    """Why a token can't be used; nothing was changed."""

    def __init__(self, kind: ProblemKind, purpose: str | None = None) -> None:
        super().__init__(kind)
        self.kind: ProblemKind = kind
        self.purpose = purpose

    @property
    def text(self) -> str:
        return PROBLEM_TEXT[self.kind]

    def as_domain_error(self) -> DomainError:
        return validation_error({"token": self.text})


def check(
    session: Session, token: str, purpose: Purpose, now: dt.datetime | None = None, *, lock: bool = True
) -> LinkToken:
    """The usable token row for `token` (locked, so two uses race to one), or `LinkProblem`."""
    now = now or utcnow()
    stmt = select(LinkToken).where(LinkToken.token_hash == security.token_digest(token or ""))
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None or row.purpose != purpose:
        raise LinkProblem("unknown", purpose)
    if row.used_at is not None:
        raise LinkProblem("used", purpose)
    if row.revoked_at is not None:
        raise LinkProblem("revoked", purpose)
    if row.expires_at <= now:
        raise LinkProblem("expired", purpose)
    return row


def usable(row: LinkToken, now: dt.datetime) -> bool:
    return row.used_at is None and row.revoked_at is None and row.expires_at > now
