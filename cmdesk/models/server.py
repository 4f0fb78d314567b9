"""Server-wide values shared by every server process (the token signing key when none is configured)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base, utcnow


class ServerSecret(Base):
    """A named secret generated once and read by every worker process, so all of them sign and check
    tokens with the same key. Never part of the change feed nor of any answer."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
