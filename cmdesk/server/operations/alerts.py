"""Low-balance alerts, server side: the rules, the alerts and their states, the evaluator that raises
them where the data is authoritative, and the hand-off of who is told (`deliver`).

Rules (Herramientas). A CTI is governed by its most specific rule: its own, else its client's, else
the account's, else `DEFAULT_RULE`. A rule is a set of thresholds — days remaining (D.R. ≤ n) and/or
balance (≤ n stamps) — and who is told: the account's users (every member profile's e-mail) and,
optionally, the client's contact with a message the distributor edits (`MESSAGE_FIELDS`). The
distributor's own stamps have their rule too (`own_balance`, default `DEFAULT_OWN_RULE`): its D.R. is
its stamps over what all its clients' active standard CTIs consume (`forecast.distributor_forecast`).

What fires. Only what is being used can run out: a subject with no consumption in the C.P.D. window
(C.P.D. 0), an unlimited CTI or a blocked one never fires. A threshold fires once per crossing: the
alert row is the open crossing (`rearmed_at` null, unique per subject and threshold), so it cannot
fire again until it is re-armed, which happens when the condition no longer holds AND the balance is
above the balance the alert fired at (a refill; a slower pace alone does not re-arm). Re-arming
resolves the alert (by "system") unless a user already did. Thresholds crossed together notify once,
for the most severe; each gets its row.

Where and when (`tick`). Every server process runs the evaluator (`EvaluatorThread`, started with the
app) every few seconds; each step takes the lease first — the one `alert_evaluator` row locked
`FOR UPDATE SKIP LOCKED` on PostgreSQL (a process that finds it locked skips the step), SQLite's
single writer elsewhere — so the processes take turns. A step follows each account's change feed from
its own cursor (`feed.read`'s never-skipping (txid, id) order; on PostgreSQL one LATERAL query for all
accounts) and evaluates the CTIs and own balances that changed: nothing is added to the stamping path.
On a schedule (`sweep_minutes`) it also sweeps every CTI with consumption and every open crossing, a
batch per step, which catches what only time changes (the distributor's combined C.P.D.) and a rule
edited. Alerts reach the desktop through the change feed (entity `alert`).

Delivery. `deliver()` is the one hand-off to mail: it records each intended message in
`alert_deliveries`, enforcing the daily cap per recipient (`capped` beyond it), and queues the others
on the durable mail queue (`cmdesk.server.mail.queue`, a "notice" mail) in the same transaction
(`queued`): an alert never commits without its mails, and a rolled-back evaluation sends none.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import string
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cmdesk.domain import forecast, usage
from cmdesk.domain.enums import Asset, MovementKind, PartyType, Role, StampingAccountKind
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.domain.money import format_mxn
from cmdesk.models import (
    Account,
    AccountSettings,
    Alert,
    AlertCursor,
    AlertDelivery,
    AlertEvaluator,
    AlertRule,
    Client,
    CtiDailyUsage,
    IssuedCfdi,
    Membership,
    Movement,
    PricePackage,
    Profile,
    StampingAccount,
    utcnow,
)
from cmdesk.server import db, feed
from cmdesk.server.operations.context import Actor

log = logging.getLogger(__name__)

# ---- Rules ----------------------------------------------------------------------------------------

SCOPES = ("account", "client", "stamping_account", "own_balance")
STATES = ("new", "seen", "resolved")
STATE_LABELS = {"new": "Nueva", "seen": "Vista", "resolved": "Resuelta"}
MAX_THRESHOLDS = 5
MAX_DAYS_THRESHOLD = 365
MAX_DAILY_CAP = 1000
DEFAULT_DAILY_CAP = 20
MESSAGE_MAX_LENGTH = 2000
# The client's message may name these (`{cliente}`...); anything else in braces is refused.
MESSAGE_FIELDS = {
    "cliente": "el nombre del cliente",
    "cuenta": "el id de la cuenta de timbrado",
    "saldo": "los timbres que le quedan",
    "dias": "los días que le alcanzan (un número)",
    "distribuidor": "el nombre de su distribuidor",
}
DEFAULT_CLIENT_MESSAGE = (
    "Estimado(a) {cliente}: a su cuenta de timbrado {cuenta} le quedan {saldo} timbres, "
    "suficientes para unos {dias} días al ritmo actual. Comuníquese con nosotros para recargarla "
    "a tiempo y no interrumpir su facturación.\n\n{distribuidor}"
)


@dataclass(frozen=True)
class Rule:
    """The rule in force for a subject (a stored `AlertRule`, or a default: `id` None)."""

    scope: str
    scope_id: str
    enabled: bool = True
    days_thresholds: tuple[int, ...] = (7,)
    balance_thresholds: tuple[int, ...] = (0,)
    notify_users: bool = True
    notify_client: bool = False
    client_message: str = DEFAULT_CLIENT_MESSAGE
    daily_cap: int | None = None
    id: str | None = None
    version: int | None = None


# Defaults that make sense: a week's warning and "ran out" for clients; the distributor, who must buy
# from Induxsoft before it can refill them, is warned a fortnight ahead.
DEFAULT_RULE = Rule("account", "", days_thresholds=(7,), balance_thresholds=(0,))
DEFAULT_OWN_RULE = Rule("own_balance", "", days_thresholds=(15,), balance_thresholds=(0,))


def _rule_from_row(row: AlertRule) -> Rule:
    return Rule(
        scope=row.scope,
        scope_id=row.scope_id,
        enabled=row.enabled,
        days_thresholds=tuple(sorted(set(row.days_thresholds or []))),
        balance_thresholds=tuple(sorted(set(row.balance_thresholds or []))),
        notify_users=row.notify_users,
        notify_client=row.notify_client,
        client_message=row.client_message or DEFAULT_CLIENT_MESSAGE,
        daily_cap=row.daily_cap,
        id=row.id,
        version=row.version,
    )


def rule_view(rule: Rule | AlertRule, *, account_id: str | None = None) -> dict[str, Any]:
    r = _rule_from_row(rule) if isinstance(rule, AlertRule) else rule
    return {
        "id": r.id,
        "version": r.version,
        "scope": r.scope,
        "scope_id": r.scope_id or account_id,
        "enabled": r.enabled,
        "days_thresholds": list(r.days_thresholds),
        "balance_thresholds": list(r.balance_thresholds),
        "notify_users": r.notify_users,
        "notify_client": r.notify_client,
        "client_message": r.client_message,
        "daily_cap": r.daily_cap if r.scope != "account" else (r.daily_cap or DEFAULT_DAILY_CAP),
        "stored": r.id is not None,
    }


def _check_thresholds(v: dict[str, str], name: str, values: Any, limit: int | None) -> tuple[int, ...]:
    if not isinstance(values, list) or len(values) > MAX_THRESHOLDS:
        v[name] = f"Indique hasta {MAX_THRESHOLDS} umbrales (una lista de números enteros)."
        return ()
    out: list[int] = []
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (limit and value > limit):
            v[name] = "Cada umbral debe ser un número entero mayor o igual a cero" + (
                f" y de hasta {limit}." if limit else "."
            )
            return ()
        out.append(value)
    return tuple(sorted(set(out)))


def check_message(message: str) -> str:
    """The client's message template: text whose `{fields}` are all in `MESSAGE_FIELDS`."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(message) if name is not None}
    except ValueError:
        raise validation_error(
            {"client_message": "Revise las llaves { } del mensaje: cada campo va entre una { y una }."}
        ) from None
    unknown = sorted(n for n in names if n not in MESSAGE_FIELDS)
    if unknown:
        known = ", ".join("{" + n + "}" for n in MESSAGE_FIELDS)
        raise validation_error(
            {"client_message": f"Campo desconocido en el mensaje: {{{unknown[0]}}}. Puede usar {known}."}
        )
    return message


def render_message(template: str, values: dict[str, str]) -> str:
    return template.format_map(values)


def _scope_target(session: Session, actor: Actor, scope: Any, scope_id: Any) -> str:
    if scope not in SCOPES:
        raise validation_error(
            {"scope": "El alcance debe ser la cuenta, un cliente, una cuenta de timbrado o el saldo propio."}
        )
    if scope in ("account", "own_balance"):
        return actor.account_id
    if not isinstance(scope_id, str) or not scope_id:
        raise validation_error({"scope_id": "Indique el cliente o la cuenta de timbrado de la regla."})
    model: Any = Client if scope == "client" else StampingAccount
    found = session.scalar(select(model.id).where(model.id == scope_id, model.account_id == actor.account_id))
    if found is None:
        raise not_found("El cliente" if scope == "client" else "La cuenta de timbrado")
    return str(found)


def list_rules(session: Session, actor: Actor) -> dict[str, Any]:
    """The stored rules, and the account-wide ones in force (stored or default)."""
    rows = session.scalars(
        select(AlertRule)
        .where(AlertRule.account_id == actor.account_id)
        .order_by(AlertRule.scope, AlertRule.id)
    ).all()
    stored = {(r.scope, r.scope_id): r for r in rows}
    effective = {
        scope: rule_view(stored.get((scope, actor.account_id)) or default, account_id=actor.account_id)
        for scope, default in (("account", DEFAULT_RULE), ("own_balance", DEFAULT_OWN_RULE))
    }
    return {"items": [rule_view(r) for r in rows], "effective": effective}


def save_rule(
    session: Session,
    actor: Actor,
    *,
    scope: str,
    scope_id: str | None = None,
    expected_version: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Create or replace the rule of a scope; the fields not given keep their value (or default)."""
    target = _scope_target(session, actor, scope, scope_id)
    row = session.scalar(
        select(AlertRule)
        .where(
            AlertRule.account_id == actor.account_id, AlertRule.scope == scope, AlertRule.scope_id == target
        )
        .with_for_update()
    )
    if expected_version is not None and (row is None or row.version != expected_version):
        raise DomainError(
            ErrorCode.VERSION_CONFLICT,
            "Otra persona modificó esta regla; revise los cambios y vuelva a intentarlo.",
            extra={"current": rule_view(row) if row is not None else None},
        )
    base = (
        _rule_from_row(row)
        if row is not None
        else (DEFAULT_OWN_RULE if scope == "own_balance" else DEFAULT_RULE)
    )
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, limit in (("days_thresholds", MAX_DAYS_THRESHOLD), ("balance_thresholds", None)):
        if fields.get(name) is not None:
            values[name] = list(_check_thresholds(errors, name, fields[name], limit))
    for name in ("enabled", "notify_users", "notify_client"):
        if fields.get(name) is not None:
            if not isinstance(fields[name], bool):
                errors[name] = "Debe ser verdadero o falso."
            values[name] = fields[name]
    if fields.get("client_message") is not None:
        message = fields["client_message"]
        if not isinstance(message, str) or len(message) > MESSAGE_MAX_LENGTH or not message.strip():
            errors["client_message"] = f"El mensaje es un texto de 1 a {MESSAGE_MAX_LENGTH:,} caracteres."
        else:
            values["client_message"] = check_message(message.strip())
    if fields.get("daily_cap") is not None:
        cap = fields["daily_cap"]
        if scope != "account":
            errors["daily_cap"] = "El límite diario de avisos se define en la regla de toda la cuenta."
        elif not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_DAILY_CAP:
            errors["daily_cap"] = f"El límite diario es un número entero de 1 a {MAX_DAILY_CAP:,}."
        else:
            values["daily_cap"] = cap
    if scope == "own_balance" and values.get("notify_client"):
        errors["notify_client"] = "El aviso de su propio saldo no se envía a clientes."
    if errors:
        raise validation_error(errors)
    if row is None:
        row = AlertRule(
            account_id=actor.account_id,
            scope=scope,
            scope_id=target,
            enabled=base.enabled,
            days_thresholds=list(base.days_thresholds),
            balance_thresholds=list(base.balance_thresholds),
            notify_users=base.notify_users,
            notify_client=base.notify_client,
            client_message=base.client_message,
            daily_cap=base.daily_cap,
        )
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    if not row.days_thresholds and not row.balance_thresholds and row.enabled:
        raise validation_error(
            {"days_thresholds": "Indique al menos un umbral (días restantes o saldo), o desactive la regla."}
        )
    row.updated_at = utcnow()
    row.updated_by = actor.author
    session.flush()
    _request_sweep(session, actor.account_id)
    return rule_view(row)


def delete_rule(session: Session, actor: Actor, rule_id: str) -> None:
    """Remove a rule: its scope follows the next rule up again (the account's: the defaults)."""
    row = session.scalar(
        select(AlertRule).where(AlertRule.id == rule_id, AlertRule.account_id == actor.account_id)
    )
    if row is None:
        raise not_found("La regla")
    session.delete(row)
    session.flush()
    _request_sweep(session, actor.account_id)


def _request_sweep(session: Session, account_id: str) -> None:
    """A rule changed: the evaluator re-evaluates the whole account at its next step."""
    session.execute(
        update(AlertCursor).where(AlertCursor.account_id == account_id).values(sweep_requested_at=utcnow())
    )


class _Rules:
    """The rules of some accounts, resolved per subject (most specific first)."""

    def __init__(self, session: Session, account_ids: Iterable[str]) -> None:
        self.by_key: dict[tuple[str, str, str], Rule] = {}
        ids = list(set(account_ids))
        if ids:
            for row in session.scalars(select(AlertRule).where(AlertRule.account_id.in_(ids))):
                self.by_key[(row.account_id, row.scope, row.scope_id)] = _rule_from_row(row)

    def for_cti(self, account_id: str, client_id: str, cti_id: str) -> Rule:
        rule = (
            self.by_key.get((account_id, "stamping_account", cti_id))
            or self.by_key.get((account_id, "client", client_id))
            or self.by_key.get((account_id, "account", account_id))
            or DEFAULT_RULE
        )
        return replace(rule, daily_cap=self.daily_cap(account_id))

    def for_own(self, account_id: str) -> Rule:
        rule = self.by_key.get((account_id, "own_balance", account_id)) or DEFAULT_OWN_RULE
        return replace(rule, daily_cap=self.daily_cap(account_id))

    def daily_cap(self, account_id: str) -> int:
        account_rule = self.by_key.get((account_id, "account", account_id))
        return (account_rule.daily_cap if account_rule else None) or DEFAULT_DAILY_CAP


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
        raise validation_error(
            {"state": "El estado debe ser nueva, vista o resuelta."}
        )
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
        raise validation_error(
            {"state": "El estado debe ser nueva, vista o resuelta."}
        )
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


# ---- Evaluation -----------------------------------------------------------------------------------


@dataclass
class Subject:
    """A CTI or the distributor's own stamps, with the figures the rules look at."""

    type: str  # "stamping_account" or "own_balance"
    id: str
    account_id: str
    client_id: str | None
    forecast: forecast.Forecast
    balance: int
    eligible: bool  # in use (C.P.D. > 0), standard and active
    rule: Rule
    last_credit_at: dt.datetime | None = None


@dataclass
class _Context:
    """What one evaluation step may need, loaded on demand and shared."""

    session: Session
    now: dt.datetime
    today: dt.date = field(init=False)
    rules: _Rules | None = None

    def __post_init__(self) -> None:
        self.today = usage.mx_day(self.now)


def _holds(kind: str, threshold: int, s: Subject) -> bool:
    if not s.eligible:
        return False
    if kind == "days":
        return s.forecast.days_remaining is not None and s.forecast.days_remaining <= threshold
    return s.balance <= threshold


def _holds_at(kind: str, threshold: int, s: Subject, balance: int) -> bool:
    """Whether the condition held with `balance` (at the subject's current C.P.D.)."""
    if kind == "days":
        remaining = forecast.days_remaining(balance, s.forecast.cpd_centi)
        return remaining is not None and remaining <= threshold
    return balance <= threshold


def _after_credits(session: Session, s: Subject, since: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """`(time, balance right after)` of each credit a CTI received since `since`: its balance now,
    plus the CFDI it issued after the credit, minus the credits after it. Only for a CTI credited
    since then (a refill consumed before the evaluator looked must still re-arm its alerts)."""
    if s.type != "stamping_account" or s.last_credit_at is None or s.last_credit_at <= since:
        return []
    credits = session.execute(
        select(Movement.created_at, Movement.quantity)
        .where(
            Movement.target_type == PartyType.STAMPING_ACCOUNT.value,
            Movement.target_id == s.id,
            Movement.asset == Asset.STAMPS.value,
            Movement.created_at > since,
        )
        .order_by(Movement.created_at.desc())
    ).all()
    out: list[tuple[dt.datetime, int]] = []
    credited_later = 0
    for at, quantity in credits:
        issued_later = int(
            session.scalar(
                select(func.count())
                .select_from(IssuedCfdi)
                .where(IssuedCfdi.stamping_account_id == s.id, IssuedCfdi.issued_at > at)
            )
            or 0
        )
        out.append((at, s.balance + issued_later - credited_later))
        credited_later += int(quantity)
    return out


def _insert_alert(session: Session, values: dict[str, Any]) -> bool:
    """Insert an open crossing unless one is open already (any evaluator); True when this call did."""
    dialect = session.get_bind().dialect.name
    ins = pg_insert(Alert) if dialect == "postgresql" else sqlite_insert(Alert)
    stmt = (
        ins.values(**values)
        .on_conflict_do_nothing(
            index_elements=["account_id", "subject_type", "subject_id", "threshold_kind", "threshold"],
            index_where=text("rearmed_at IS NULL"),
        )
        .returning(Alert.id)
    )
    return session.execute(stmt).first() is not None


def _severity(kind: str, threshold: int) -> tuple[int, int]:
    return (0 if kind == "balance" else 1, threshold)


def evaluate_subjects(ctx: _Context, subjects: Sequence[Subject]) -> list[Alert]:
    """Fire what crossed, re-arm what was refilled; returns the alerts created."""
    session = ctx.session
    if not subjects:
        return []
    open_rows = session.scalars(
        select(Alert).where(
            Alert.account_id.in_({s.account_id for s in subjects}),
            Alert.subject_id.in_({s.id for s in subjects}),
            Alert.rearmed_at.is_(None),
        )
    ).all()
    open_by: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for a in open_rows:
        open_by[(a.subject_type, a.subject_id)].append(a)
    created: list[Alert] = []
    for s in subjects:
        current = open_by.get((s.type, s.id), [])
        # Re-arm: refilled above the threshold since it fired — seen now (the condition no longer
        # holds and the balance is above the one it fired at), or right after a credit that was
        # used up again before this step looked (`_after_credits`).
        peaks = _after_credits(session, s, min(a.created_at for a in current)) if current else []
        for a in current:
            refilled = not _holds(a.threshold_kind, a.threshold, s) and s.balance > a.balance
            if not refilled:
                refilled = any(
                    at > a.created_at and not _holds_at(a.threshold_kind, a.threshold, s, balance)
                    for at, balance in peaks
                )
            if refilled:
                a.rearmed_at = ctx.now
                if a.state != "resolved":
                    a.state, a.resolved_at, a.resolved_by = "resolved", ctx.now, "system"
        if any(a.rearmed_at is not None for a in current):
            session.flush()  # re-armed before the same threshold may fire again below
        if not s.rule.enabled or not s.eligible:
            continue
        still_open = {(a.threshold_kind, a.threshold) for a in current if a.rearmed_at is None}
        fired: list[tuple[str, int]] = [
            (kind, t)
            for kind, limits in (("days", s.rule.days_thresholds), ("balance", s.rule.balance_thresholds))
            for t in limits
            if (kind, t) not in still_open and _holds(kind, t, s)
        ]
        new_rows: list[Alert] = []
        for kind, t in sorted(fired, key=lambda k: _severity(*k)):
            ident = _new_id()
            title, detail = _texts(ctx, s, kind, t)
            values: dict[str, Any] = {
                "id": ident,
                "account_id": s.account_id,
                "version": 1,
                "subject_type": s.type,
                "subject_id": s.id,
                "client_id": s.client_id,
                "threshold_kind": kind,
                "threshold": t,
                "state": "new",
                "balance": s.balance,
                "days_remaining": s.forecast.days_remaining,
                "cpd_centi": s.forecast.cpd_centi,
                "usual_purchase": None,
                "refill_cost_cents": None,
                "title": title,
                "detail": detail,
                "rule_id": s.rule.id,
                "created_at": ctx.now,
            }
            if s.type == "stamping_account" and s.client_id:
                usual, refill = purchase_info(session, s.account_id, s.client_id)
                values["usual_purchase"] = usual
                values["refill_cost_cents"] = refill.amount_cents if refill else None
                if usual:
                    values["detail"] += f" Compra habitual: {usual:,} timbres" + (
                        f" ({format_mxn(refill.amount_cents)} a su precio)." if refill else "."
                    )
            if _insert_alert(session, values):
                row = session.get(Alert, ident)
                assert row is not None
                new_rows.append(row)
        if new_rows:
            feed.record_many(session, [(s.account_id, "alert", a.id) for a in new_rows])
            # Crossed together: one message, for the most severe.
            deliver(
                session,
                new_rows[0],
                _recipients(ctx, s, new_rows[0]),
                daily_cap=s.rule.daily_cap or DEFAULT_DAILY_CAP,
            )
            created.extend(new_rows)
    session.flush()  # the re-armed rows: their version bump and feed entries come with the flush
    return created


def _new_id() -> str:
    from cmdesk.domain.codes import new_id

    return new_id()


def _days_text(days: int | None) -> str:
    if days is None:
        return "—"
    return "hoy" if days == 0 else ("1 día" if days == 1 else f"{days:,} días")


def _names(ctx: _Context, s: Subject) -> tuple[str, str]:
    """(client name, distributor name) of a subject."""
    account = ctx.session.get(Account, s.account_id)
    client = ctx.session.get(Client, s.client_id) if s.client_id else None
    return (client.name if client else ""), (account.name if account else "")


def _texts(ctx: _Context, s: Subject, kind: str, threshold: int) -> tuple[str, str]:
    f = s.forecast
    figures = (
        f"Saldo: {s.balance:,} timbres. Consumo promedio diario: {f.average_daily_use}. "
        f"Días restantes: {_days_text(f.days_remaining)}."
    )
    if s.type == "own_balance":
        if kind == "balance":
            title = "Se agotaron sus timbres" if s.balance == 0 else f"Le quedan {s.balance:,} timbres"
        else:
            title = f"Sus timbres alcanzan para {_days_text(f.days_remaining)} de consumo de sus clientes"
        return title, figures + " Compre timbres para seguir abasteciendo a sus clientes."
    client_name, _ = _names(ctx, s)
    who = f"{client_name}: la cuenta de timbrado {s.id}"
    if kind == "balance":
        title = f"{who} se quedó sin timbres" if s.balance == 0 else f"{who} tiene {s.balance:,} timbres"
    elif f.days_remaining == 0:
        title = f"{who} se agota hoy"
    else:
        title = f"{who} se agota en {_days_text(f.days_remaining)}"
    return title, figures


def _recipients(ctx: _Context, s: Subject, a: Alert) -> list[Recipient]:
    session = ctx.session
    out: list[Recipient] = []
    if s.rule.notify_users:
        emails = session.scalars(
            select(Profile.email)
            .join(Membership, Membership.profile_id == Profile.id)
            .where(Membership.account_id == s.account_id)
            .order_by(Membership.role != Role.MASTER.value, Profile.email)
        ).all()
        body = f"{a.title}.\n\n{a.detail}\n\nRevise la lista de Alertas en cmdesk para transferir timbres."
        out += [Recipient(e, "user", a.title, body) for e in emails if e]
    if s.rule.notify_client and s.type == "stamping_account" and s.client_id:
        client = session.get(Client, s.client_id)
        email = (client.financial_email or client.email or client.technical_email) if client else ""
        if client is not None and email:
            _, distributor = _names(ctx, s)
            values = {
                "cliente": client.name,
                "cuenta": s.id,
                "saldo": f"{s.balance:,}",
                "dias": f"{s.forecast.days_remaining or 0:,}",
                "distribuidor": distributor,
            }
            body = render_message(s.rule.client_message, values)
            out.append(Recipient(email, "client", f"Aviso de saldo de su cuenta de timbrado {s.id}", body))
    return out


def purchase_info(
    session: Session, account_id: str, client_id: str
) -> tuple[int | None, forecast.Refill | None]:
    """The client's usual purchase (`forecast.usual_purchase`) and what it costs at its price."""
    quantities = session.scalars(
        select(Movement.quantity)
        .where(
            Movement.account_id == account_id,
            Movement.client_id == client_id,
            Movement.asset == Asset.STAMPS.value,
            Movement.target_type == PartyType.STAMPING_ACCOUNT.value,
            Movement.kind.in_(
                [MovementKind.TRANSFER.value, MovementKind.AUTO_SALE.value, MovementKind.TOP_UP.value]
            ),
        )
        .order_by(Movement.created_at.desc(), Movement.id.desc())
        .limit(forecast.USUAL_PURCHASE_SAMPLE)
    ).all()
    usual = forecast.usual_purchase([int(q) for q in quantities])
    if usual is None:
        return None, None
    client_price = session.scalar(select(Client.bulk_stamp_price_cents).where(Client.id == client_id))
    global_price = session.scalar(
        select(AccountSettings.bulk_stamp_price_cents).where(AccountSettings.account_id == account_id)
    )
    packages = session.execute(
        select(PricePackage.quantity, PricePackage.price_cents).where(
            PricePackage.account_id == account_id,
            PricePackage.asset == Asset.STAMPS.value,
            PricePackage.for_distributors.is_(False),
        )
    ).all()
    refill = forecast.refill_cost(
        usual,
        client_bulk_price_cents=client_price,
        global_bulk_price_cents=global_price,
        packages=[(int(q), int(p)) for q, p in packages],
    )
    return usual, refill


def _window_sums(session: Session, cti_ids: Sequence[str], today: dt.date) -> dict[str, int]:
    """CFDI each CTI issued in the C.P.D. window's longest reach (no CTI issues before it exists, so
    the days before a young CTI's creation hold nothing)."""
    start = forecast.window(today)[0]
    out: dict[str, int] = {}
    for i in range(0, len(cti_ids), 1000):
        chunk = cti_ids[i : i + 1000]
        for cti, total in session.execute(
            select(CtiDailyUsage.stamping_account_id, func.sum(CtiDailyUsage.issued))
            .where(
                CtiDailyUsage.stamping_account_id.in_(chunk),
                CtiDailyUsage.day >= start,
                CtiDailyUsage.day <= today,
            )
            .group_by(CtiDailyUsage.stamping_account_id)
        ):
            out[cti] = int(total or 0)
    return out


def _cti_cpd(today: dt.date, created_at: dt.datetime, issued: int) -> int:
    _, days = forecast.window(today, usage.mx_day(created_at))
    return forecast.cpd_centi(issued, days)


def cti_subjects(ctx: _Context, cti_ids: Sequence[str]) -> list[Subject]:
    session = ctx.session
    ids = list(dict.fromkeys(cti_ids))
    if not ids:
        return []
    rows: list[Any] = []
    for i in range(0, len(ids), 1000):
        rows += session.execute(
            select(
                StampingAccount.id,
                StampingAccount.account_id,
                StampingAccount.client_id,
                StampingAccount.kind,
                StampingAccount.active,
                StampingAccount.balance,
                StampingAccount.created_at,
                StampingAccount.last_credit_at,
            ).where(StampingAccount.id.in_(ids[i : i + 1000]))
        ).all()
    sums = _window_sums(session, [r.id for r in rows], ctx.today)
    if ctx.rules is None:
        ctx.rules = _Rules(session, {r.account_id for r in rows})
    out: list[Subject] = []
    for r in rows:
        standard = r.kind == StampingAccountKind.STANDARD.value
        cpd = _cti_cpd(ctx.today, r.created_at, sums.get(r.id, 0))
        remaining = forecast.days_remaining(r.balance, cpd) if standard and r.active else None
        f = forecast.Forecast(
            cpd,
            r.balance if standard else None,
            remaining,
            forecast.risk_band(remaining, cpd) if standard and r.active else None,
        )
        out.append(
            Subject(
                type="stamping_account",
                id=r.id,
                account_id=r.account_id,
                client_id=r.client_id,
                forecast=f,
                balance=int(r.balance),
                eligible=standard and bool(r.active) and cpd > 0,
                rule=ctx.rules.for_cti(r.account_id, r.client_id, r.id),
                last_credit_at=r.last_credit_at,
            )
        )
    return out


def combined_cpd(session: Session, account_id: str, today: dt.date) -> int:
    """Σ C.P.D. (hundredths) of the account's active standard CTIs: what its clients consume."""
    start = forecast.window(today)[0]
    rows = session.execute(
        select(StampingAccount.created_at, func.sum(CtiDailyUsage.issued))
        .join(CtiDailyUsage, CtiDailyUsage.stamping_account_id == StampingAccount.id)
        .where(
            StampingAccount.account_id == account_id,
            StampingAccount.kind == StampingAccountKind.STANDARD.value,
            StampingAccount.active.is_(True),
            CtiDailyUsage.day >= start,
            CtiDailyUsage.day <= today,
        )
        .group_by(StampingAccount.id, StampingAccount.created_at)
    ).all()
    return sum(_cti_cpd(today, created_at, int(total or 0)) for created_at, total in rows)


# How long the clients' combined C.P.D. is reused for the distributor's own stamps.
OWN_CPD_MAX_AGE = dt.timedelta(minutes=15)


def own_subjects(ctx: _Context, account_ids: Iterable[str], *, fresh: bool = False) -> list[Subject]:
    session = ctx.session
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return []
    if ctx.rules is None:
        ctx.rules = _Rules(session, ids)
    out: list[Subject] = []
    for account in session.scalars(select(Account).where(Account.id.in_(ids))):
        cursor = session.get(AlertCursor, account.id)
        if (
            fresh
            or cursor is None
            or cursor.own_cpd_centi is None
            or cursor.own_cpd_at is None
            or ctx.now - cursor.own_cpd_at > OWN_CPD_MAX_AGE
            or usage.mx_day(cursor.own_cpd_at) != ctx.today
        ):
            cpd = combined_cpd(session, account.id, ctx.today)
            if cursor is not None:
                cursor.own_cpd_centi, cursor.own_cpd_at = cpd, ctx.now
        else:
            cpd = cursor.own_cpd_centi
        remaining = forecast.days_remaining(account.stamps_balance, cpd)
        out.append(
            Subject(
                type="own_balance",
                id=account.id,
                account_id=account.id,
                client_id=None,
                forecast=forecast.Forecast(
                    cpd, account.stamps_balance, remaining, forecast.risk_band(remaining, cpd)
                ),
                balance=account.stamps_balance,
                eligible=cpd > 0,
                rule=ctx.rules.for_own(account.id),
            )
        )
    return out


# ---- The evaluator: following the change feed, sweeping on a schedule ----------------------------

EVALUATOR = "main"
CHANGES_PER_ACCOUNT = 1000
SWEEP_BATCH = 500


def _take_lease(session: Session, holder: str, now: dt.datetime) -> AlertEvaluator | None:
    """The evaluator's row, locked for this transaction; None when another process holds it."""
    row = session.scalar(
        select(AlertEvaluator).where(AlertEvaluator.name == EVALUATOR).with_for_update(skip_locked=True)
    )
    if row is not None:
        row.held_by, row.held_at = holder[:100], now
    return row


def _ensure_evaluator_row(factory: db.SessionFactory) -> None:
    with db.transaction(factory) as s:
        dialect = s.get_bind().dialect.name
        ins = pg_insert(AlertEvaluator) if dialect == "postgresql" else sqlite_insert(AlertEvaluator)
        s.execute(ins.values(name=EVALUATOR).on_conflict_do_nothing(index_elements=["name"]))


def _new_cursors(session: Session, now: dt.datetime) -> None:
    """Accounts the evaluator has not seen yet start at the feed's head (a sweep of the account,
    requested now, covers what is already there)."""
    missing = session.scalars(
        select(Account.id).where(
            ~select(AlertCursor.account_id).where(AlertCursor.account_id == Account.id).exists()
        )
    ).all()
    if not missing:
        return
    if session.get_bind().dialect.name == "postgresql":
        xmin = int(session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")) or 0)
        heads = {a: (xmin - 1, 0) for a in missing}
    else:
        from cmdesk.models import ChangeLog

        found = dict(
            session.execute(
                select(ChangeLog.account_id, func.max(ChangeLog.id))
                .where(ChangeLog.account_id.in_(missing))
                .group_by(ChangeLog.account_id)
            ).all()
        )
        heads = {a: (0, int(found.get(a) or 0)) for a in missing}
    dialect = session.get_bind().dialect.name
    ins = pg_insert(AlertCursor) if dialect == "postgresql" else sqlite_insert(AlertCursor)
    session.execute(
        ins.on_conflict_do_nothing(index_elements=["account_id"]),
        [
            {"account_id": a, "txid": t, "change_id": i, "sweep_requested_at": now}
            for a, (t, i) in heads.items()
        ],
    )


_LATERAL = text(
    """
    SELECT k.account_id, c.txid, c.id, c.entity, c.entity_id
      FROM alert_cursors k
     CROSS JOIN LATERAL (
           SELECT l.txid, l.id, l.entity, l.entity_id
             FROM change_log l
            WHERE l.account_id = k.account_id
              AND (l.txid, l.id) > (k.txid, k.change_id)
              AND l.txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
            ORDER BY l.txid, l.id
            LIMIT :limit) c
    """
)


def _changes(session: Session) -> tuple[dict[str, set[str]], set[str], dict[str, tuple[int, int]], bool]:
    """What changed since each account's cursor: (CTI ids by account, accounts whose own balance
    changed, each moved account's new cursor, whether some account has more)."""
    ctis: dict[str, set[str]] = defaultdict(set)
    own: set[str] = set()
    moved: dict[str, tuple[int, int]] = {}
    counts: dict[str, int] = defaultdict(int)

    def take(account_id: str, txid: int, change_id: int, entity: str, entity_id: str) -> None:
        counts[account_id] += 1
        moved[account_id] = max(moved.get(account_id, (txid, change_id)), (txid, change_id))
        if entity == "stamping_account":
            ctis[account_id].add(entity_id)
        elif entity == "account" and entity_id == account_id:
            own.add(account_id)

    if session.get_bind().dialect.name == "postgresql":
        for row in session.execute(_LATERAL, {"limit": CHANGES_PER_ACCOUNT}):
            take(row[0], int(row[1]), int(row[2]), row[3], row[4])
    else:
        # SQLite serves one distributor (the embedded default) or a few: one read each; its single
        # writer commits change-log ids in order (txid is 0), so nothing commits behind a cursor.
        from cmdesk.models import ChangeLog

        for cur in session.scalars(select(AlertCursor)):
            rows = session.execute(
                select(ChangeLog.txid, ChangeLog.id, ChangeLog.entity, ChangeLog.entity_id)
                .where(
                    ChangeLog.account_id == cur.account_id,
                    or_(
                        ChangeLog.txid > cur.txid,
                        and_(ChangeLog.txid == cur.txid, ChangeLog.id > cur.change_id),
                    ),
                )
                .order_by(ChangeLog.txid, ChangeLog.id)
                .limit(CHANGES_PER_ACCOUNT)
            ).all()
            for txid, change_id, entity, entity_id in rows:
                take(cur.account_id, int(txid), int(change_id), entity, entity_id)
    more = any(n >= CHANGES_PER_ACCOUNT for n in counts.values())
    return ctis, own, moved, more


@dataclass
class StepReport:
    ran: bool = False  # False: another process held the lease
    evaluated: int = 0
    created: int = 0
    more: bool = False


def tick(
    factory: db.SessionFactory,
    *,
    now: dt.datetime | None = None,
    holder: str = "",
    sweep_every: dt.timedelta = dt.timedelta(minutes=15),
) -> StepReport:
    """One evaluation step, in one transaction under the lease: follow the feed, then one sweep batch
    when a sweep is due or going on. `more` says another step has work right away."""
    now = now or utcnow()
    for attempt in (1, 2):
        try:
            with db.transaction(factory) as s:
                lease = _take_lease(s, holder or _holder(), now)
                if lease is None:
                    if attempt == 1 and s.get(AlertEvaluator, EVALUATOR) is None:
                        raise _NoEvaluatorRow
                    return StepReport()
                return _step(s, lease, now, sweep_every)
        except _NoEvaluatorRow:
            _ensure_evaluator_row(factory)
    return StepReport()


class _NoEvaluatorRow(Exception):
    pass


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _step(s: Session, lease: AlertEvaluator, now: dt.datetime, sweep_every: dt.timedelta) -> StepReport:
    report = StepReport(ran=True)
    _new_cursors(s, now)
    ctx = _Context(s, now)
    ctis, own, moved, report.more = _changes(s)
    subjects = cti_subjects(ctx, sorted({c for ids in ctis.values() for c in ids}))
    subjects += own_subjects(ctx, sorted(own))
    report.created += len(evaluate_subjects(ctx, subjects))
    report.evaluated += len(subjects)
    for account_id, (txid, change_id) in moved.items():
        s.execute(
            update(AlertCursor)
            .where(AlertCursor.account_id == account_id)
            .values(txid=txid, change_id=change_id)
        )
    # The sweep: every account on schedule; one account when a rule changed or it is new.
    if lease.last_sweep_at is None or now - lease.last_sweep_at >= sweep_every:
        s.execute(update(AlertCursor).values(sweep_requested_at=now))
        lease.last_sweep_at = now
    evaluated, created, more = _sweep_batch(s, lease, ctx)
    report.evaluated += evaluated
    report.created += created
    report.more = report.more or more
    return report


def _sweep_batch(s: Session, lease: AlertEvaluator, ctx: _Context) -> tuple[int, int, bool]:
    """The next batch of the sweep: for an account with a sweep requested (in id order), its own
    stamps, then its CTIs with consumption in the window or an open crossing, `SWEEP_BATCH` at a time.
    Returns (evaluated, created, more to do)."""
    requested = select(AlertCursor.account_id).where(AlertCursor.sweep_requested_at.is_not(None))
    account_id = lease.sweep_account_id or s.scalar(requested.order_by(AlertCursor.account_id).limit(1))
    if not account_id:
        return 0, 0, False
    after = lease.sweep_after or ""
    evaluated = created = 0
    if lease.sweep_account_id is None:
        lease.sweep_account_id, lease.sweep_started_at = account_id, ctx.now
        subjects = own_subjects(ctx, [account_id], fresh=True)
        created += len(evaluate_subjects(ctx, subjects))
        evaluated += len(subjects)
    start = forecast.window(ctx.today)[0]
    in_use = select(CtiDailyUsage.stamping_account_id).where(CtiDailyUsage.day >= start)
    open_ones = select(Alert.subject_id).where(
        Alert.account_id == account_id, Alert.subject_type == "stamping_account", Alert.rearmed_at.is_(None)
    )
    ids = s.scalars(
        select(StampingAccount.id)
        .where(
            StampingAccount.account_id == account_id,
            StampingAccount.id > after,
            or_(StampingAccount.id.in_(in_use), StampingAccount.id.in_(open_ones)),
        )
        .order_by(StampingAccount.id)
        .limit(SWEEP_BATCH)
    ).all()
    subjects = cti_subjects(ctx, list(ids))
    created += len(evaluate_subjects(ctx, subjects))
    evaluated += len(subjects)
    if len(ids) == SWEEP_BATCH:
        lease.sweep_after = ids[-1]
        return evaluated, created, True
    # This account is done; a request made since its sweep began stays for another pass.
    s.execute(
        update(AlertCursor)
        .where(AlertCursor.account_id == account_id, AlertCursor.sweep_requested_at <= lease.sweep_started_at)
        .values(sweep_requested_at=None)
    )
    lease.sweep_account_id = lease.sweep_after = lease.sweep_started_at = None
    more = s.scalar(requested.limit(1)) is not None
    return evaluated, created, more


class EvaluatorThread:
    """Runs `tick` every `interval` seconds in a daemon thread (each server process has one; the
    lease makes them take turns). `stop()` waits for the step in progress."""

    def __init__(
        self,
        factory: db.SessionFactory,
        *,
        interval: float = 5.0,
        sweep_every: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        self.factory = factory
        self.interval = interval
        self.sweep_every = sweep_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.holder = _holder()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cmdesk-alerts", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            more = False
            try:
                more = tick(self.factory, holder=self.holder, sweep_every=self.sweep_every).more
            except Exception:  # a failed step is logged and retried at the next one
                log.exception("alerts: the evaluation step failed; it is retried")
            if not more:
                self._stop.wait(self.interval)
