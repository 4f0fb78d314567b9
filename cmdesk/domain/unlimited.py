"""Whether an unlimited CTI (CTI Ilimitada) may stamp: its yearly fee, paid in points (manual, "Las CTI
Ilimitadas están sujetas a un pago anual (en puntos)").

An unlimited CTI is *unpaid* until its first fee is paid (no `paid_until`), *expired* once `paid_until`
has passed (stamping then answers `unlimited_expired`), and *paid* before that; a paid one is *due soon*
in its last `DUE_SOON_DAYS` days, when the desktop invites renewing it. A standard CTI pays no fee.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from cmdesk.domain import clock

FeeState = Literal["none", "unpaid", "expired", "due_soon", "paid"]
DUE_SOON_DAYS = 30
MAX_YEARS = 5  # years paid at once


def fee_state(kind: str, paid_until: dt.datetime | str | None, now: dt.datetime | None = None) -> FeeState:
    """The fee's state of a CTI of `kind` ("standard" / "unlimited") paid until `paid_until` (UTC)."""
    if kind != "unlimited":
        return "none"
    until = clock.parse_utc(paid_until)
    if until is None:
        return "unpaid"
    now = clock.parse_utc(now) or dt.datetime.now(dt.UTC)
    if until < now:
        return "expired"
    if until - now <= dt.timedelta(days=DUE_SOON_DAYS):
        return "due_soon"
    return "paid"


def can_stamp(kind: str, paid_until: dt.datetime | str | None, now: dt.datetime | None = None) -> bool:
    """Whether the fee lets the CTI stamp (a standard CTI: always, as far as the fee goes)."""
    return fee_state(kind, paid_until, now) not in ("unpaid", "expired")
