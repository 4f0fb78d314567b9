"""Clients of a distributor, with every field of the manual's form, their tags and their records."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, Synced, id_column, utcnow


class Client(Synced, Base):
    """A client of a distributor. Stamp totals live on its stamping accounts; points live here."""

    __tablename__ = "clients"
    __feed_entity__ = "client"
    __table_args__ = (
        CheckConstraint("points_balance >= 0", name="points_balance_not_negative"),
        CheckConstraint(
            "color IS NULL OR color IN ('red','orange','yellow','green','blue','purple','gray')",
            name="color_known",
        ),
        Index("ix_clients_account_name", "account_id", "name"),
        Index("ix_clients_account_rfc", "account_id", "rfc"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    nic: Mapped[str] = mapped_column(String(12), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    # Datos generales
    name: Mapped[str] = mapped_column(String(200))
    trade_name: Mapped[str] = mapped_column(String(200), default="")
    rfc: Mapped[str] = mapped_column(String(13))
    phone: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    client_type: Mapped[str] = mapped_column(String(60), default="")
    address_state: Mapped[str] = mapped_column(String(40), default="")
    address_city: Mapped[str] = mapped_column(String(100), default="")
    address_postal_code: Mapped[str] = mapped_column(String(5), default="")
    address_neighborhood: Mapped[str] = mapped_column(String(100), default="")
    address_street: Mapped[str] = mapped_column(String(200), default="")
    address_exterior_number: Mapped[str] = mapped_column(String(20), default="")
    address_interior_number: Mapped[str] = mapped_column(String(20), default="")
    address_reference: Mapped[str] = mapped_column(String(200), default="")
    # Representante legal
    legal_person_type: Mapped[str] = mapped_column(String(6), default="moral")
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    legal_position: Mapped[str] = mapped_column(String(100), default="")
    legal_email: Mapped[str] = mapped_column(String(254), default="")
    legal_phone: Mapped[str] = mapped_column(String(20), default="")
    legal_phone_alt: Mapped[str] = mapped_column(String(20), default="")
    legal_curp: Mapped[str] = mapped_column(String(18), default="")
    # Contacto financiero
    financial_name: Mapped[str] = mapped_column(String(200), default="")
    financial_position: Mapped[str] = mapped_column(String(100), default="")
    financial_email: Mapped[str] = mapped_column(String(254), default="")
    financial_phone: Mapped[str] = mapped_column(String(20), default="")
    financial_phone_alt: Mapped[str] = mapped_column(String(20), default="")
    # Contacto técnico
    technical_name: Mapped[str] = mapped_column(String(200), default="")
    technical_position: Mapped[str] = mapped_column(String(100), default="")
    technical_email: Mapped[str] = mapped_column(String(254), default="")
    technical_phone: Mapped[str] = mapped_column(String(20), default="")
    technical_phone_alt: Mapped[str] = mapped_column(String(20), default="")
    # Otros
    bulk_stamp_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    discount_percent: Mapped[int] = mapped_column(default=0)
    credit_days: Mapped[int] = mapped_column(default=0)
    fax: Mapped[str] = mapped_column(String(20), default="")
    business_activity: Mapped[str] = mapped_column(String(200), default="")
    comments: Mapped[str] = mapped_column(Text, default="")
    # Tags
    favorite: Mapped[bool] = mapped_column(Boolean, default=False)
    dropped: Mapped[bool] = mapped_column(Boolean, default=False)
    color: Mapped[str | None] = mapped_column(String(8))
    # Balances and dates (stamps are summed from the client's CTIs)
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    admin_profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="SET NULL"))
    # Set when the client was converted into a sub-distributor.
    converted_account_id: Mapped[str | None] = mapped_column(String(32))

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class ClientInteraction(Synced, Base):
    """The manual's "Interacciones" tab: a dated note about a client."""

    __tablename__ = "client_interactions"
    __feed_entity__ = "interaction"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class SupportPolicy(Synced, Base):
    """The manual's "Pólizas" tab: a support contract a client holds for a product."""

    __tablename__ = "support_policies"
    __feed_entity__ = "support_policy"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    product: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def feed_audience(self) -> list[str]:
        return [self.account_id]
