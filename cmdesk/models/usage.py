"""Daily stamp use per CTI: the compact record behind C.P.D., D.R., the usage report and the feed's
usage summary, so none of them has to count issued CFDI rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cmdesk.models.base import Base


class CtiDailyUsage(Base):
    """CFDI a CTI issued on one Mexico City calendar day (`cmdesk.domain.usage.mx_day`).

    Both stamping paths add to it in the consumption's own transaction (`ledger.consume`, and the
    PostgreSQL function `cmdesk_consume`), with an UPSERT on this primary key; a retry of a stamped
    UUID adds nothing. Σ issued over a CTI's days == its count of issued_cfdi rows == its `issued`.
    """

    __tablename__ = "cti_daily_usage"

    stamping_account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("stamping_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
