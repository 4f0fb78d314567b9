"""Server-side bookkeeping: the change feed's log and the idempotency records."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, BigInt, utcnow


class ChangeLog(Base):
    """One row per (account, changed row). `txid` is the writing transaction's id on PostgreSQL
    (0 on SQLite, whose single writer commits in id order); the feed orders by (txid, id) and only
    hands out rows of transactions older than every one still running, so it never skips a change
    that commits late (see cmdesk.server.feed). Ids are never handed out twice: a desktop's cursor
    is an id, so an id reused after a purge of the top rows would be skipped by the desktops past it
    (SQLite's AUTOINCREMENT; PostgreSQL's sequence never goes back)."""

    __tablename__ = "change_log"
    __table_args__ = (
        Index("ix_change_log_feed", "account_id", "txid", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(64))
    txid: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """A POST's Idempotency-Key and the answer it got, replayed for the same key and body."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key", name="scope_key"),)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    # The account (or "public:<route>") the key belongs to: keys of two accounts never collide.
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
