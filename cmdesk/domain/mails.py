"""What the desktop says about a mail the server sends (a sub-distributor's confirmation, a user's
invitation) and about an invitation: one reading of the API's Mail and Invitation for every screen.

- `mail_state(mail)`: `queued` (not tried yet), `retrying` (tried, waits for another try: the mail
  server's answer is in `last_error`), `sent`, `failed` (no more tries), `cancelled` (its link was
  used or replaced before it left).
- `invitation_state(invitation, now)`: `pending` (sent, not accepted yet), `accepted`, `expired`
  (its link passed its date: the cache's copy may say `sent` after the date, so the date decides),
  `mail_failed` (its mail could not be sent), `sending` (its mail is still waiting in the queue), or
  "" for a user never invited by mail (the master).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cmdesk.domain.clock import parse_utc


def mail_state(mail: Mapping[str, Any] | None) -> str:
    if not mail:
        return ""
    status = str(mail.get("status") or "")
    if status == "queued" and int(mail.get("attempts") or 0) > 0:
        return "retrying"
    if status == "sending":
        return "queued"
    return status


def invitation_state(invitation: Mapping[str, Any] | None, now: dt.datetime | None = None) -> str:
    if not invitation:
        return ""
    if invitation.get("accepted_at") or invitation.get("status") == "accepted":
        return "accepted"
    mail = mail_state(invitation.get("mail"))
    if mail == "failed":
        return "mail_failed"
    expires = parse_utc(invitation.get("expires_at"))
    if invitation.get("status") == "expired" or (
        expires is not None and expires <= (now or dt.datetime.now(dt.UTC))
    ):
        return "expired"
    if mail in ("queued", "retrying"):
        return "sending"
    return "pending"


def can_resend_invitation(invitation: Mapping[str, Any] | None) -> bool:
    """Reenviar invitación: any invitation not accepted yet (a new link for 7 days)."""
    return invitation_state(invitation) not in ("", "accepted")
