"""Low-balance alerts, alert views, lists and states (nueva, vista, resuelta), and the feed loaders.

The whole design is in the package docstring (`cmdesk.server.operations.alerts`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.models import (
    Alert,
    AlertDelivery,
    AlertRule,
    utcnow,
)
from cmdesk.server.operations.alerts.rules import STATES, rule_view
from cmdesk.server.operations.context import Actor

log = logging.getLogger(__name__)

# ---- Alerts: views, lists, states ---------------------------------------------------------------


def alert_view(a: Alert, deliveries: Sequence[AlertDelivery] = ()) -> dict[str, Any]:
    return {
        "id": a.id,
        "version": a.version,
        "subject": {"type": a.subject_type, "id": a.subject_id},
        "client_id": a.client_id,
        "threshold": {"kind": a.threshold_kind, "value": a.threshold},
        "state": a.state,
        "balance": a.balance,
        "days_remaining": a.days_remaining,
        "average_daily_use": a.cpd_centi / 100,
        "usual_purchase": a.usual_purchase,
        "refill_cost_cents": a.refill_cost_cents,
        "title": a.title,
        "detail": a.detail,
        "created_at": a.created_at,
        "seen_at": a.seen_at,
        "resolved_at": a.resolved_at,
        "resolved_by": a.resolved_by,
        "rearmed_at": a.rearmed_at,
        "deliveries": [
            {"recipient": d.recipient, "kind": d.recipient_kind, "day": d.day.isoformat(), "status": d.status}
            for d in deliveries
        ],
    }


def _views(session: Session, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    by_alert: dict[str, list[AlertDelivery]] = defaultdict(list)
    ids = [a.id for a in alerts]
    if ids:
        for d in session.scalars(
            select(AlertDelivery).where(AlertDelivery.alert_id.in_(ids)).order_by(AlertDelivery.id)
        ):
            by_alert[d.alert_id].append(d)
    return [alert_view(a, by_alert.get(a.id, ())) for a in alerts]


def load_alerts(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(Alert).where(Alert.id.in_(ids))).all()
    return {v["id"]: v for v in _views(session, rows)}


def load_rules(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {r.id: rule_view(r) for r in session.scalars(select(AlertRule).where(AlertRule.id.in_(ids)))}


FEED_LOADERS: dict[str, Callable[[Session, list[str]], dict[str, dict[str, Any]]]] = {
    "alert": load_alerts,
    "alert_rule": load_rules,
}


def list_alerts(
    session: Session,
    actor: Actor,
    *,
    state: str | None = None,
    client_id: str | None = None,
    limit: int = 100,
    after: tuple[dt.datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """The account's alerts, newest first, keyset-paginated by (created_at, id)."""
    stmt = select(Alert).where(Alert.account_id == actor.account_id)
    if state is not None:
        if state not in STATES:
            raise validation_error({"state": "El estado debe ser nueva, vista o resuelta."})
        stmt = stmt.where(Alert.state == state)
    if client_id:
        stmt = stmt.where(Alert.client_id == client_id)
    if after is not None:
        stmt = stmt.where(
            or_(Alert.created_at < after[0], and_(Alert.created_at == after[0], Alert.id < after[1]))
        )
    rows = session.scalars(stmt.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)).all()
    return _views(session, rows)


def read_alert(session: Session, actor: Actor, alert_id: str) -> dict[str, Any]:
    return _views(session, [_own_alert(session, actor, alert_id)])[0]


def _own_alert(session: Session, actor: Actor, alert_id: str, *, for_update: bool = False) -> Alert:
    stmt = select(Alert).where(Alert.id == alert_id, Alert.account_id == actor.account_id)
    found = session.scalar(stmt.with_for_update() if for_update else stmt)
    if found is None:
        raise not_found("La alerta")
    return found


def _set_state(a: Alert, state: str, actor: Actor, now: dt.datetime) -> None:
    if state == a.state:
        return
    if state == "new":
        a.seen_at = a.resolved_at = a.resolved_by = None
    elif state == "seen":
        a.seen_at = a.seen_at or now
        a.resolved_at = a.resolved_by = None
    else:
        a.seen_at = a.seen_at or now
        a.resolved_at, a.resolved_by = now, actor.author
    a.state = state


def set_state(
    session: Session, actor: Actor, alert_id: str, state: str, *, expected_version: int | None = None
) -> dict[str, Any]:
    """Nueva / Vista / Resuelta, as the user marks it (any state to any other)."""
    if state not in STATES:
        raise validation_error({"state": "El estado debe ser nueva, vista o resuelta."})
    a = _own_alert(session, actor, alert_id, for_update=True)
    if expected_version is not None and expected_version != a.version:
        raise DomainError(
            ErrorCode.VERSION_CONFLICT,
            "La alerta cambió mientras la veía; revise su estado y vuelva a intentarlo.",
            extra={"current": read_alert(session, actor, alert_id)},
        )
    _set_state(a, state, actor, utcnow())
    session.flush()
    return read_alert(session, actor, alert_id)


def set_states(session: Session, actor: Actor, alert_ids: list[str], state: str) -> list[dict[str, Any]]:
    """Mark many alerts at once (all or none: an id that is not the account's is a 404)."""
    if state not in STATES:
        raise validation_error({"state": "El estado debe ser nueva, vista o resuelta."})
    ids = list(dict.fromkeys(alert_ids))
    if not ids or len(ids) > 1000:
        raise validation_error({"ids": "Indique de 1 a 1,000 alertas."})
    rows = session.scalars(
        select(Alert).where(Alert.id.in_(ids), Alert.account_id == actor.account_id).with_for_update()
    ).all()
    if len(rows) != len(ids):
        raise not_found("Alguna de las alertas")
    now = utcnow()
    for a in rows:
        _set_state(a, state, actor, now)
    session.flush()
    views = {v["id"]: v for v in _views(session, rows)}
    return [views[i] for i in ids]
