"""What the desktop says about an invitation, a sent mail and the account's expiry (cmdesk.domain.mails,
cmdesk.domain.expiry): the cache's copy of an invitation may be stale, so its date decides."""

from __future__ import annotations

import datetime as dt

from cmdesk.domain import expiry, mails

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def invitation(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "status": "sent",
        "accepted_at": None,
        "expires_at": (NOW + dt.timedelta(days=7)).isoformat(),
        "mail": {"status": "sent", "attempts": 1, "sent_at": NOW.isoformat()},
    }
    return {**base, **fields}


def test_invitation_states() -> None:
    assert mails.invitation_state(None, NOW) == ""
    assert mails.invitation_state(invitation(), NOW) == "pending"
    assert (
        mails.invitation_state(invitation(accepted_at=NOW.isoformat(), status="accepted"), NOW) == "accepted"
    )
    # Still «sent» in the cache, but its date passed: expired.
    stale = invitation(expires_at=(NOW - dt.timedelta(minutes=1)).isoformat())
    assert mails.invitation_state(stale, NOW) == "expired"
    assert mails.invitation_state(invitation(mail={"status": "failed", "attempts": 10}), NOW) == "mail_failed"
    assert mails.invitation_state(invitation(mail={"status": "queued", "attempts": 0}), NOW) == "sending"
    assert mails.can_resend_invitation(stale) and not mails.can_resend_invitation(None)
    assert not mails.can_resend_invitation(invitation(status="accepted", accepted_at=NOW.isoformat()))


def test_mail_states() -> None:
    assert mails.mail_state(None) == ""
    assert mails.mail_state({"status": "queued", "attempts": 0}) == "queued"
    assert mails.mail_state({"status": "queued", "attempts": 2}) == "retrying"
    assert mails.mail_state({"status": "sending", "attempts": 1}) == "queued"
    assert mails.mail_state({"status": "failed", "attempts": 10}) == "failed"


def test_expiry_warning_follows_the_reminder_thresholds() -> None:
    def at(days: float, status: str = "active") -> expiry.ExpiryWarning:
        return expiry.warning(status, NOW + dt.timedelta(days=days), NOW)

    assert expiry.RENEWAL_WINDOW.days == 30 and expiry.REMINDER_DAYS == (30, 7, 1)
    assert at(31) is expiry.ExpiryWarning.NONE
    assert at(30) is expiry.ExpiryWarning.SOON
    assert at(8) is expiry.ExpiryWarning.SOON
    assert at(7) is expiry.ExpiryWarning.URGENT
    assert at(0.5) is expiry.ExpiryWarning.URGENT
    assert at(-1) is expiry.ExpiryWarning.EXPIRED
    assert at(-100, "expired") is expiry.ExpiryWarning.EXPIRED
    assert at(3, "unvalidated") is expiry.ExpiryWarning.NONE
    assert expiry.days_left(NOW + dt.timedelta(hours=25), NOW) == 2
    assert expiry.days_left(NOW - dt.timedelta(days=3), NOW) == 0
    assert expiry.days_left(None, NOW) is None
