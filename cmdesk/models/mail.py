"""Outbound mail and what its links carry: the durable mail queue, single-use link tokens and the
invitations of people to an account.

- `OutboundMail` is written in the same transaction as the operation that causes it (no operation
  commits without its mail; no mail leaves for an operation that rolled back). Senders claim rows
  (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and render them when they send (`cmdesk.server.mail`).
- `LinkToken` is the secret a mail's link carries (confirm the e-mail, accept an invitation, reset a
  password). Only its SHA-256 is stored; the token itself is derived from the row id with the
  server's key when the mail is rendered, so neither table ever holds it.
- `Invitation` is one person's invitation to one account, by e-mail: accepting it (from the mail)
  sets the person's password if they have none and grants the membership.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, Synced, id_column, utcnow


class Invitation(Synced, Base):
    """A person invited to an account by e-mail (Herramientas → Usuarios). One row per (account,
    e-mail); inviting again re-sends it. `accepted_at` set: the person accepted from the mail."""

    __tablename__ = "invitations"
    __feed_entity__ = "invitation"
    __table_args__ = (UniqueConstraint("account_id", "email", name="account_email"),)

    id: Mapped[str] = id_column()
    version: Mapped[int] = mapped_column(default=1)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    mobile: Mapped[str] = mapped_column(String(20), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    # The person's profile: the existing one, or the one made for a new person (no password yet).
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    invited_by: Mapped[str] = mapped_column(String(32), default="system")
    # The role the person gets in the account when the membership is granted (`domain.enums.Role`).
    role: Mapped[str] = mapped_column(String(12), default="operator")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The latest link sent, and until when it works.
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class LinkToken(Base):
    """A single-use, expiring secret carried by a mail's link. `purpose` is `confirm_email`,
    `invitation` or `password_reset`. A newer token for the same thing revokes the older ones."""

    __tablename__ = "link_tokens"
    __table_args__ = (Index("ix_link_tokens_purpose_profile", "purpose", "profile_id"),)

    id: Mapped[str] = id_column()
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    invitation_id: Mapped[str | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class OutboundMail(Base):
    """One mail to send. `status`: `queued` (waiting, maybe for a retry at `next_attempt_at`),
    `sending` (claimed by a sender until `claimed_until`), `sent`, `failed` (after the last try, or
    refused for good; `last_error` has the SMTP answer), `cancelled` (its link was used or replaced
    before it left: nothing worth sending)."""

    __tablename__ = "mail_queue"
    __table_args__ = (
        Index("ix_mail_queue_due", "status", "next_attempt_at"),
        Index("ix_mail_queue_account", "account_id", "kind", "created_at"),
        Index("ix_mail_queue_requested_by", "requested_by_account_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(24))
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300))
    # The template's values (JSON): names, NIC, dates. Never a secret.
    params: Mapped[str] = mapped_column(Text, default="{}")
    token_id: Mapped[str | None] = mapped_column(ForeignKey("link_tokens.id", ondelete="SET NULL"))
    # The account the mail is about, the one whose action caused it, and the invitation it carries.
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    requested_by_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    invitation_id: Mapped[str | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"), index=True
    )
    # Mails that must go once whatever happens (expiry reminders) carry a unique key.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None]
    last_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
