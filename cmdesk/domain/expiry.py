"""When a Cuenta Maestra's expiry is announced, and when it may renew itself: one rule for the server
(the reminder mails, `GET /v1/account/renewal`) and the desktop (the header's warning, read from the
cache, so it shows offline too).

- From `RENEWAL_WINDOW` (30 days) before its expiry an active account may renew itself, and the
  header warns; an expired one may renew at once.
- Reminder mails go 30, 7 and 1 days before (`REMINDER_DAYS`); the header's warning turns urgent at
  the last two thresholds.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from cmdesk.domain.clock import parse_utc
from cmdesk.domain.enums import AccountStatus

RENEWAL_WINDOW = dt.timedelta(days=30)
REMINDER_DAYS = (30, 7, 1)
# From this many days before the expiry the warning is urgent (the 7-day reminder on).
URGENT_DAYS = sorted(REMINDER_DAYS)[-2]


class ExpiryWarning(StrEnum):
    NONE = "none"
    SOON = "soon"  # within the renewal window
    URGENT = "urgent"  # within the last reminders
    EXPIRED = "expired"


def days_left(expires_at: dt.datetime | str | None, now: dt.datetime | None = None) -> int | None:
    """Whole days (rounded up) until `expires_at`, 0 once it passed; None without a date."""
    expiry = parse_utc(expires_at)
    if expiry is None:
        return None
    moment = parse_utc(now) if now is not None else dt.datetime.now(dt.UTC)
    assert moment is not None
    return max(0, -(-int((expiry - moment).total_seconds()) // 86400))


def warning(
    status: str | None, expires_at: dt.datetime | str | None, now: dt.datetime | None = None
) -> ExpiryWarning:
    """How loudly the header announces the expiry of an account in `status`."""
    if status == AccountStatus.EXPIRED.value:
        return ExpiryWarning.EXPIRED
    if status not in (AccountStatus.ACTIVE.value, AccountStatus.SUSPENDED.value):
        return ExpiryWarning.NONE
    left = days_left(expires_at, now)
    if left is None or left > RENEWAL_WINDOW.days:
        return ExpiryWarning.NONE
    if left == 0:
        return ExpiryWarning.EXPIRED
    return ExpiryWarning.URGENT if left <= URGENT_DAYS else ExpiryWarning.SOON
