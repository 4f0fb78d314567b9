"""Stamping accounts (CTI), their auto-sale rules and the CFDI issued through them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.domain.enums import StampingAccountKind
from cmdesk.models.base import Base, BigInt, Synced, utcnow


class StampingAccount(Synced, Base):
    """A CTI: credentials invoicing applications use to stamp. `id` is the CTI id, globally unique."""

    __tablename__ = "stamping_accounts"
    __feed_entity__ = "stamping_account"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("kind IN ('standard','unlimited')", name="kind_known"),
        CheckConstraint("kind = 'standard' OR balance = 0", name="unlimited_has_no_balance"),
        Index("ix_stamping_accounts_account", "account_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=StampingAccountKind.STANDARD.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(default=1)
    password_hash: Mapped[str] = mapped_column(String(200))
    credited: Mapped[int] = mapped_column(BigInteger, default=0)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    rfc_restriction: Mapped[str | None] = mapped_column(String(13))
    paid_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    first_issue_at: Mapped[dt.datetime | None]
    last_issue_at: Mapped[dt.datetime | None]
    last_credit_at: Mapped[dt.datetime | None]

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class AutoSaleRule(Base):
    """Venta automática: when the CTI's balance falls below `minimum`, credit `credit` stamps and
    record a sale of `amount_cents`. Shown inside the CTI's feed entry (`auto_sale`)."""

    __tablename__ = "auto_sale_rules"
    __table_args__ = (
        CheckConstraint("minimum >= 0", name="minimum_not_negative"),
        CheckConstraint("credit > 0", name="credit_positive"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    )

    stamping_account_id: Mapped[str] = mapped_column(
        ForeignKey("stamping_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    minimum: Mapped[int] = mapped_column(BigInteger)
    credit: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IssuedCfdi(Base):
    """One CFDI stamped: one stamp of a standard CTI. The UUID is unique, so a retry debits nothing."""

    __tablename__ = "issued_cfdi"
    __table_args__ = (Index("ix_issued_cfdi_cti_at", "stamping_account_id", "issued_at"),)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    cfdi_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    # No foreign keys: an issued CFDI is a permanent fact of the ledger; purging a cancelled account
    # must not erase what was issued (the invariant counts these rows).
    stamping_account_id: Mapped[str] = mapped_column(String(64))
    # Not indexed: no query reads CFDI by account, and every consumption would pay for the index.
    account_id: Mapped[str] = mapped_column(String(32))
    emitter_rfc: Mapped[str] = mapped_column(String(13))
    # False on unlimited CTIs: the CFDI used no stamp.
    debited: Mapped[bool] = mapped_column(Boolean, default=True)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
