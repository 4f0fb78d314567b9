"""Low-balance alerts, the one hand-off of an alert to mail, with the daily cap per recipient.

The whole design is in the package docstring (`cmdesk.server.operations.alerts`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cmdesk.domain import usage
from cmdesk.models import (
    Account,
    Alert,
    AlertDelivery,
)

log = logging.getLogger(__name__)

# ---- Delivery: the one hand-off to mail ---------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    email: str
    kind: str  # "user" (the distributor's) or "client" (the client's contact)
    subject: str
    body: str


def deliver(
    session: Session, alert: Alert, recipients: Sequence[Recipient], *, daily_cap: int
) -> list[AlertDelivery]:
    """Hand an alert's messages to mail, once per recipient, at most `daily_cap` a day per recipient
    (Mexico City day) for the alert's account.

    Each message is recorded (`alert_deliveries`): `capped` beyond the cap, otherwise queued on the
    mail queue in this same transaction (`queued`, with the mail's id). This function is the only
    place that hands alerts to mail; a queued mail's dedupe key (alert and recipient) keeps a retried
    evaluation from mailing twice.
    """
    from cmdesk.server.mail import queue

    account = session.get(Account, alert.account_id)
    today = usage.mx_day(alert.created_at)
    made: list[AlertDelivery] = []
    for r in {r.email.strip().lower(): r for r in recipients if r.email.strip()}.values():
        email = r.email.strip().lower()
        sent_today = int(
            session.scalar(
                select(func.count())
                .select_from(AlertDelivery)
                .where(
                    AlertDelivery.account_id == alert.account_id,
                    AlertDelivery.recipient == email,
                    AlertDelivery.day == today,
                    AlertDelivery.status != "capped",
                )
            )
            or 0
        )
        row = AlertDelivery(
            alert_id=alert.id,
            account_id=alert.account_id,
            recipient=email,
            recipient_kind=r.kind,
            day=today,
            status="queued" if sent_today < daily_cap else "capped",
            subject=r.subject[:300],
            body=r.body,
            created_at=alert.created_at,
        )
        if row.status == "queued":
            row.mail_id = queue.enqueue(
                session,
                "notice",
                to_address=email,
                params={
                    "title": r.subject,
                    "paragraphs": [p.strip() for p in r.body.split("\n\n") if p.strip()],
                    "facts": [],
                    "action_label": None,
                    "action_url": None,
                    "profile_name": "",
                    "account_name": account.name if account is not None else "",
                    "account_nic": account.nic if account is not None else "",
                },
                account_id=alert.account_id,
                dedupe_key=f"alert:{alert.id}:{email}",
                now=alert.created_at,
            )
        session.add(row)
        made.append(row)
    session.flush()
    return made
