"""Low-balance alerts: the rules a distributor sets, the alerts the server raises, who was told, and
the evaluator's bookkeeping (see `cmdesk.server.operations.alerts`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, BigInt, Synced, id_column, utcnow


class AlertRule(Synced, Base):
    """Thresholds that raise an alert, and who is told. The most specific rule of a CTI applies:
    its own (`stamping_account`), else its client's (`client`), else the account's (`account`), else
    the built-in defaults. `own_balance` is the rule of the distributor's own stamps.
    `scope_id` is the CTI or client id, or the account's own id for `account` and `own_balance`."""

    __tablename__ = "alert_rules"
    __feed_entity__ = "alert_rule"
    __table_args__ = (
        UniqueConstraint("account_id", "scope", "scope_id", name="scope_target"),
        CheckConstraint("scope IN ('account','client','stamping_account','own_balance')", name="scope_known"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    scope: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Fire when D.R. ≤ each of these (days), and when the balance ≤ each of these (stamps).
    days_thresholds: Mapped[list[int]] = mapped_column(JSON, default=list)
    balance_thresholds: Mapped[list[int]] = mapped_column(JSON, default=list)
    notify_users: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_client: Mapped[bool] = mapped_column(Boolean, default=False)
    client_message: Mapped[str] = mapped_column(Text, default="")
    # E-mails one recipient gets a day (account scope only; the others inherit it).
    daily_cap: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="system")

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class Alert(Synced, Base):
    """One threshold crossed by one subject (a CTI, or the distributor's own stamps).

    A crossing is open until the subject is refilled above its threshold (`rearmed_at`); while it is
    open the same threshold never fires again: the partial unique index makes a second open row of
    one crossing impossible, whatever number of evaluators run. `state` is the users' (new, seen,
    resolved: nueva, vista, resuelta); a refill resolves it too."""

    __tablename__ = "alerts"
    __feed_entity__ = "alert"
    __table_args__ = (
        Index(
            "uq_alerts_open_crossing",
            "account_id",
            "subject_type",
            "subject_id",
            "threshold_kind",
            "threshold",
            unique=True,
            postgresql_where=text("rearmed_at IS NULL"),
            sqlite_where=text("rearmed_at IS NULL"),
        ),
        Index("ix_alerts_account_created", "account_id", "created_at"),
        CheckConstraint("state IN ('new','seen','resolved')", name="state_known"),
        CheckConstraint("threshold_kind IN ('days','balance')", name="threshold_kind_known"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(32))
    threshold_kind: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10), default="new")
    # The figures when it fired.
    balance: Mapped[int] = mapped_column(BigInteger)
    days_remaining: Mapped[int | None] = mapped_column(BigInteger)
    cpd_centi: Mapped[int] = mapped_column(BigInteger, default=0)
    usual_purchase: Mapped[int | None] = mapped_column(BigInteger)
    refill_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")
    rule_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    rearmed_at: Mapped[dt.datetime | None]

    def feed_audience(self) -> list[str]:
        return [self.account_id]


class AlertDelivery(Base):
    """Who an alert was meant for: one row per recipient. `queued` rows went to the mail queue
    (`mail_id`); `capped` ones were over the recipient's daily cap and are not sent."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "recipient", name="alert_recipient"),
        Index("ix_alert_deliveries_cap", "account_id", "recipient", "day"),
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_kind: Mapped[str] = mapped_column(String(8))
    day: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The mail queued for it (`mail_queue.id`); None when capped.
    mail_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertCursor(Base):
    """Per account: how far the evaluator has followed its change feed (the feed's own never-skipping
    (txid, id) position), whether a whole re-evaluation is due, and its clients' combined C.P.D.
    (for the distributor's own stamps), kept for a while since it is an aggregate over every CTI."""

    __tablename__ = "alert_cursors"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger)
    change_id: Mapped[int] = mapped_column(BigInteger)
    sweep_requested_at: Mapped[dt.datetime | None]
    own_cpd_centi: Mapped[int | None] = mapped_column(BigInteger)
    own_cpd_at: Mapped[dt.datetime | None]


class AlertEvaluator(Base):
    """The evaluator's lease and schedule: one row. Each evaluation step locks it (`FOR UPDATE SKIP
    LOCKED` on PostgreSQL; SQLite has one writer at a time), so the server processes that all run the
    evaluator take turns and never evaluate, nor deliver, one thing twice."""

    __tablename__ = "alert_evaluator"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_sweep_at: Mapped[dt.datetime | None]
    # The sweep in progress (None: none): the account it is at, and the last CTI done there.
    sweep_account_id: Mapped[str | None] = mapped_column(String(32))
    sweep_after: Mapped[str | None] = mapped_column(String(64))
    sweep_started_at: Mapped[dt.datetime | None]
    held_by: Mapped[str | None] = mapped_column(String(100))
    held_at: Mapped[dt.datetime | None]
