"""What can be bought: Induxsoft's catalog, contracts and licenses, and a distributor's own prices."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.domain.enums import ContractStatus
from cmdesk.models.base import Base, Synced, id_column, utcnow


class CatalogPackage(Base):
    """A package of stamps or points sold by Induxsoft (Compras → Timbres CFDI / Puntos)."""

    __tablename__ = "catalog_packages"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    asset: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    demo_price: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CatalogContract(Base):
    """A yearly product: an MKL (Master Key License) or a subscription such as Multinivel."""

    __tablename__ = "catalog_contracts"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # Listed price before IVA (the manual lists "$1,850.00" and charges $2,146 with IVA).
    annual_price_before_tax_cents: Mapped[int] = mapped_column(BigInteger)
    demo_price: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CatalogFee(Base):
    """Fixed fees: the distributor account's annual fee, the unlimited CTI's yearly fee (in points)."""

    __tablename__ = "catalog_fees"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    demo_price: Mapped[bool] = mapped_column(Boolean, default=False)


class Contract(Synced, Base):
    """An MKL or subscription a distributor contracted, aligned with the account's expiry."""

    __tablename__ = "contracts"
    __feed_entity__ = "contract"
    __table_args__ = (Index("ix_contracts_account_code", "account_id", "catalog_code"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    catalog_code: Mapped[str] = mapped_column(ForeignKey("catalog_contracts.code"))
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(12), default=ContractStatus.ACTIVE.value)
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    first_charge_cents: Mapped[int] = mapped_column(BigInteger)
    months_charged: Mapped[int]
    paid_with_points: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(64), default="system")

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class License(Synced, Base):
    """A yearly license generated for a client with a contracted MKL ("Usar MKL")."""

    __tablename__ = "licenses"
    __feed_entity__ = "license"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    product_code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)
    license_key: Mapped[str] = mapped_column(String(64), unique=True)
    valid_from: Mapped[dt.datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class PricePackage(Synced, Base):
    """Herramientas → Precios: a distributor's package for its clients (or its sub-distributors)."""

    __tablename__ = "price_packages"
    __feed_entity__ = "price_package"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    asset: Mapped[str] = mapped_column(String(8), default="stamps")
    quantity: Mapped[int] = mapped_column(BigInteger)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text, default="")
    for_distributors: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def feed_audience(self) -> list[str]:
        return [self.account_id]
