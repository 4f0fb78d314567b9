"""Low-balance alerts, the rules (Herramientas): thresholds, recipients, messages, and which rule
governs a subject.

The whole design is in the package docstring (`cmdesk.server.operations.alerts`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cmdesk.domain import alert_rules

# Re-exported by the package (`alerts.MAX_THRESHOLDS`, ...): the domain's, once.
from cmdesk.domain.alert_rules import (
    DEFAULT_BALANCE,
    DEFAULT_DAYS,
    DEFAULT_OWN_BALANCE,
    DEFAULT_OWN_DAYS,
)
from cmdesk.domain.alert_rules import (
    DEFAULT_CLIENT_MESSAGE as DEFAULT_CLIENT_MESSAGE,
)
from cmdesk.domain.alert_rules import (
    DEFAULT_DAILY_CAP as DEFAULT_DAILY_CAP,
)
from cmdesk.domain.alert_rules import (
    MAX_DAILY_CAP as MAX_DAILY_CAP,
)
from cmdesk.domain.alert_rules import (
    MAX_DAYS_THRESHOLD as MAX_DAYS_THRESHOLD,
)
from cmdesk.domain.alert_rules import (
    MAX_THRESHOLDS as MAX_THRESHOLDS,
)
from cmdesk.domain.alert_rules import (
    MESSAGE_FIELDS as MESSAGE_FIELDS,
)
from cmdesk.domain.alert_rules import (
    MESSAGE_MAX_LENGTH as MESSAGE_MAX_LENGTH,
)
from cmdesk.domain.alert_rules import (
    SCOPES as SCOPES,
)
from cmdesk.domain.alert_rules import (
    STATES as STATES,
)
from cmdesk.domain.alert_rules import (
    check_message as check_message,
)
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.models import (
    AlertCursor,
    AlertRule,
    Client,
    StampingAccount,
    utcnow,
)
from cmdesk.server.operations.context import Actor

log = logging.getLogger(__name__)

# ---- Rules ----------------------------------------------------------------------------------------

STATE_LABELS = {"new": "Nueva", "seen": "Vista", "resolved": "Resuelta"}
# The limits, defaults and field checks are `cmdesk.domain.alert_rules`' (the desktop checks with them too).


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
DEFAULT_RULE = Rule("account", "", days_thresholds=DEFAULT_DAYS, balance_thresholds=DEFAULT_BALANCE)
DEFAULT_OWN_RULE = Rule(
    "own_balance", "", days_thresholds=DEFAULT_OWN_DAYS, balance_thresholds=DEFAULT_OWN_BALANCE
)


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
    values = alert_rules.check_fields(scope, fields)
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
        raise validation_error({"days_thresholds": alert_rules.NO_THRESHOLD})
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
