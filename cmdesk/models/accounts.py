"""Distributor accounts (Cuentas Maestras), the people who sign in (profiles) and their sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.domain.enums import AccountStatus, Role
from cmdesk.models.base import Base, BigInt, Synced, id_column, utcnow


class Account(Synced, Base):
    """A distributor. `parent_id` is set for sub-distributors (Multinivel)."""

    __tablename__ = "accounts"
    __feed_entity__ = "account"
    __table_args__ = (
        CheckConstraint("stamps_balance >= 0", name="stamps_balance_not_negative"),
        CheckConstraint("points_balance >= 0", name="points_balance_not_negative"),
        Index("ix_accounts_parent_status", "parent_id", "status"),
    )

    id: Mapped[str] = id_column()
    nic: Mapped[str] = mapped_column(String(12), unique=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE.value)
    name: Mapped[str] = mapped_column(String(200))
    trade_name: Mapped[str] = mapped_column(String(200), default="")
    rfc: Mapped[str] = mapped_column(String(13), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(40), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(5), default="")
    neighborhood: Mapped[str] = mapped_column(String(100), default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    exterior_number: Mapped[str] = mapped_column(String(20), default="")
    interior_number: Mapped[str] = mapped_column(String(20), default="")
    business_activity: Mapped[str] = mapped_column(String(200), default="")
    comments: Mapped[str] = mapped_column(Text, default="")
    stamps_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    activated_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    # Set when the account was made from an existing client (convert-to-distributor).
    source_client_id: Mapped[str | None] = mapped_column(String(32))
    # Set for self-registrations from an external web site: the referring distributor's NIC.
    referred_by_nic: Mapped[str | None] = mapped_column(String(12))

    def feed_audience(self) -> list[str | tuple[str, str]]:
        # The account sees itself as "account"; its parent sees it as a "distributor".
        return [self.id] + ([(self.parent_id, "distributor")] if self.parent_id else [])


class Profile(Synced, Base):
    """A person who signs in, by e-mail or mobile. Members of accounts through `Membership`."""

    __tablename__ = "profiles"
    __feed_entity__ = "profile"

    id: Mapped[str] = id_column()
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), unique=True)
    mobile: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    email_confirmed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def feed_audience(self) -> list[str]:
        # Profiles reach the feed through their memberships; the operations record those changes.
        return []


class Membership(Base):
    """A profile's access to an account: the master user, or another user the master admitted."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("account_id", "profile_id", name="account_profile"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(12), default=Role.OPERATOR.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """Rotating refresh tokens; using one twice revokes its whole family (token theft)."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class AccountSettings(Synced, Base):
    """Herramientas → Configuraciones globales of one account."""

    __tablename__ = "account_settings"
    __feed_entity__ = "settings"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    bulk_stamp_price_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_panel_stamp_purchase: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_panel_point_purchase: Mapped[bool] = mapped_column(Boolean, default=False)
    # Compra automática de timbres: buy the covering catalog package when a panel order lacks stamps.
    auto_stamp_purchase: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def id(self) -> str:
        return self.account_id

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class Counter(Base):
    """Named counters taken under a row lock (e.g. the NIC sequence shared by clients and accounts)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInt)


class AttemptLog(Base):
    """Failed logins, wrong NIPs and public calls, for throttling across server processes."""

    __tablename__ = "attempt_log"
    __table_args__ = (Index("ix_attempt_log_bucket_at", "bucket", "attempted_at"),)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(300))
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
