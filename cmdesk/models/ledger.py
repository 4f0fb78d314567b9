"""The ledger: every change of a balance is an irreversible movement; charges form the statement."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, BigInt, Synced, id_column, utcnow


class Movement(Synced, Base):
    """Stamps or points moving from a source to a target (never created nor destroyed but by the
    catalog and by issued CFDI). `account_id` is the distributor that made it; `counterpart_account_id`
    is a sub-distributor that received it (it sees the movement too)."""

    __tablename__ = "movements"
    __feed_entity__ = "movement"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        Index("ix_movements_account_created", "account_id", "created_at"),
        # A client's movements in time order: "por facturar", and its statements' keyset pages.
        Index("ix_movements_client", "client_id", "created_at", "id"),
        Index("ix_movements_counterpart", "counterpart_account_id"),
    )

    id: Mapped[str] = id_column()
    # No foreign key: movements are permanent; purging a cancelled account keeps its history.
    account_id: Mapped[str] = mapped_column(String(32))
    counterpart_account_id: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(default=1)
    kind: Mapped[str] = mapped_column(String(16))
    asset: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(64))
    # The client the sale was made to (billing: "por facturar" per client).
    client_id: Mapped[str | None] = mapped_column(String(32))
    comments: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    top_up_code_id: Mapped[str | None] = mapped_column(String(32))
    contract_id: Mapped[str | None] = mapped_column(String(32))

    def feed_audience(self) -> list[str]:
        out = [self.account_id]
        if self.counterpart_account_id and self.counterpart_account_id != self.account_id:
            out.append(self.counterpart_account_id)
        return out


class Charge(Synced, Base):
    """A line of the account's statement: purchases, contracts, annual fees and renewals."""

    __tablename__ = "charges"
    __feed_entity__ = "charge"
    __table_args__ = (CheckConstraint("amount_cents >= 0", name="amount_not_negative"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(300))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    paid_with_points: Mapped[bool] = mapped_column(Boolean, default=False)
    movement_id: Mapped[str | None] = mapped_column(String(32))
    contract_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class BulkTransferRun(Base):
    """A bulk transfer applied in short transactions, so that on SQLite the write lock is never held
    for long (`bulk_transfers.begin_bulk_run`). Created in the transaction that accepts the bulk, with the
    distributor already debited: its chunks hold the movements to write and, until they are
    written, what was debited for them. The transaction that closes it stores the answer for the
    idempotency key (`idempotency_record_id`) and removes it. The ledger counts what the chunks
    hold, so the books balance at every commit; a run a dead worker left is finished by whoever
    takes its key over, or at the next start of the server (`bulk_transfers.finish_bulk_runs`)."""

    __tablename__ = "bulk_transfer_runs"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    idempotency_record_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BulkTransferChunk(Base):
    """A few hundred movements of a `BulkTransferRun` (JSON rows, in the items' order) and, until
    they are written (`written`), the stamps and points they carry (counted by the ledger)."""

    __tablename__ = "bulk_transfer_chunks"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("bulk_transfer_runs.id", ondelete="CASCADE"), index=True)
    rows: Mapped[str] = mapped_column(Text)
    written: Mapped[bool] = mapped_column(Boolean, default=False)
    stamps: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    # Its bitácora record (when one was written): the chunk adds the record's subjects of its items.
    audit_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
