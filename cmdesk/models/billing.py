"""Billing follow-up: invoices registered for sales, and top-up codes (códigos de abono)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, Synced, id_column, utcnow


class Invoice(Synced, Base):
    """An invoice reference registered for chosen sales of one client (each sale invoiced once)."""

    __tablename__ = "invoices"
    __feed_entity__ = "invoice"
    __table_args__ = (UniqueConstraint("account_id", "reference", name="account_reference"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(default=1)
    reference: Mapped[str] = mapped_column(String(100))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class TopUpCode(Synced, Base):
    """A code + NIP that credits stamps (to a CTI) or points (to a client) once. The quantity is
    taken from the distributor when the code is made (escrow), so every code is backed."""

    __tablename__ = "top_up_codes"
    __feed_entity__ = "top_up_code"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        Index("ix_top_up_codes_account_created", "account_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    nip: Mapped[str] = mapped_column(String(4))
    asset: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    comments: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    redeemed_at: Mapped[dt.datetime | None]
    receiver_type: Mapped[str | None] = mapped_column(String(20))
    receiver_id: Mapped[str | None] = mapped_column(String(64))
    receiver_client_id: Mapped[str | None] = mapped_column(String(32))
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_at: Mapped[dt.datetime | None]
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))

    def feed_audience(self) -> list[str]:
        return [self.account_id]
