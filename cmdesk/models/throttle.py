"""Counters of the password-check throttle (`cmdesk.server.throttle`), shared by every server process."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base


class ThrottleCounter(Base):
    """One row per bucket: a per-source or per-subject attempt counter in a fixed window, or a
    known-good (subject, source) pair. Updated only with single-statement UPSERTs, so parallel
    requests never read-then-write a count."""

    __tablename__ = "throttle_counters"
    __table_args__ = (Index("ix_throttle_counters_window_start", "window_start"),)

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[dt.datetime]
    count: Mapped[int] = mapped_column(default=0)
    # Per-source buckets: no attempt from this source before this time (the growing delay).
    blocked_until: Mapped[dt.datetime | None]
