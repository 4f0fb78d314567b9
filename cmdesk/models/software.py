"""The software catalog: Induxsoft products and their downloadable files (Software menu)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, Synced, id_column, utcnow


class SoftwareProduct(Synced, Base):
    __tablename__ = "software_products"
    __feed_entity__ = "software_product"

    id: Mapped[str] = id_column()
    code: Mapped[str] = mapped_column(String(60), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)

    def feed_audience(self) -> list[str]:
        # Global catalog: the operations record it for every account (see operations.software).
        return []


class SoftwareFile(Synced, Base):
    """A download option of a product: installer, fix, improvement, documentation or tool."""

    __tablename__ = "software_files"
    __feed_entity__ = "software_file"

    id: Mapped[str] = id_column()
    product_id: Mapped[str] = mapped_column(
        ForeignKey("software_products.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(default=1)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    file_version: Mapped[str] = mapped_column(String(40))
    file_name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Path relative to the server's file store.
    storage_path: Mapped[str] = mapped_column(String(400))
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Release manifest and its Ed25519 signature (cmdesk's own releases, for self-update).
    manifest: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(String(200))

    def feed_audience(self) -> list[str]:
        return []
