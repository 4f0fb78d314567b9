"""What the Alertas tab and the rule editor do, as actions (`cmdesk.ui.kit.actions`): marking alerts
(queued), the rules and the renewal calendar (online), and the lists' loaders (the cache)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.domain import alert_rules
from cmdesk.services import commands
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, command, online, read
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache

tr = translator("alertas")


def set_state(
    context: AppContext, alert_ids: Sequence[str], state: str, *, parent: QWidget | None = None
) -> Action:
    """Nueva, vista o resuelta: one queued command for the alerts given."""
    return command(
        context, commands.set_alert_state, list(alert_ids), state, parent=parent, label=tr("Marcando alertas")
    )


def take_new(context: AppContext) -> Action:
    """The alerts that arrived since the last notification (the cache remembers which)."""
    return read(context, commands.take_new_alerts)


def count_new(context: AppContext) -> Action:
    return read(context, commands.count_new_alerts)


def save_rule(
    context: AppContext,
    scope: str,
    scope_id: str | None,
    values: Mapping[str, Any],
    version: int | None,
    *,
    parent: QWidget | None = None,
) -> Action:
    return online(
        context,
        commands.save_alert_rule,
        scope,
        scope_id,
        dict(values),
        version,
        parent=parent,
        label=tr("Guardando la regla"),
    )


def delete_rule(context: AppContext, rule_id: str, *, parent: QWidget | None = None) -> Action:
    return online(
        context, commands.delete_alert_rule, rule_id, parent=parent, label=tr("Eliminando la regla")
    )


def fetch_calendar(context: AppContext, months: int, *, parent: QWidget | None = None) -> Action:
    return online(
        context, commands.fetch_calendar, months, parent=parent, label=tr("Consultando el calendario")
    )


def stored_calendar(context: AppContext) -> Action:
    return read(context, commands.stored_calendar)


def export_calendar(context: AppContext, path: Path, months: int, *, parent: QWidget | None = None) -> Action:
    return online(
        context, commands.export_calendar, path, months, parent=parent, label=tr("Exportando el calendario")
    )


def cti_row(context: AppContext, client_id: str, cti_id: str) -> Action:
    """The Timbrado row of a CTI (what its dialogs take), or None."""

    def find(cache: Cache) -> dict[str, Any] | None:
        rows = cache.query_stamping_accounts(client_id=client_id, limit=1000)
        return next((r for r in rows if r["id"] == cti_id), None)

    return read(context, find)


# ---- the lists' loaders (cache pool) --------------------------------------------------------------------


def load_alerts(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    state = query.get("state")
    return cache.query_entities(
        "alert",
        equals={"state": state} if state else None,
        order=[(query.sort or "created_at", query.descending if query.sort else True)],
        limit=limit,
        offset=offset,
    )


def count_alerts(cache: Cache, query: Query) -> int:
    state = query.get("state")
    return cache.count_entities("alert", equals={"state": state} if state else None)


def load_rules(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    """The account's and own-balance rules first (stored, or the defaults), then the client and CTI
    rules, each with what it applies to (`target`: shown; `target_key`: NIC or CTI id)."""
    stored = cache.query_entities("alert_rule", order=[("scope", False), ("scope_id", False)], limit=10_000)
    rows: list[dict[str, Any]] = []
    for scope, days, balance in (
        ("account", alert_rules.DEFAULT_DAYS, alert_rules.DEFAULT_BALANCE),
        ("own_balance", alert_rules.DEFAULT_OWN_DAYS, alert_rules.DEFAULT_OWN_BALANCE),
    ):
        found = next((r for r in stored if r.get("scope") == scope), None)
        rows.append(
            {**found, "stored": True}
            if found
            else {
                "id": f"default:{scope}",
                "scope": scope,
                "enabled": True,
                "days_thresholds": list(days),
                "balance_thresholds": list(balance),
                "notify_users": True,
                "notify_client": False,
                "client_message": alert_rules.DEFAULT_CLIENT_MESSAGE,
                "daily_cap": alert_rules.DEFAULT_DAILY_CAP if scope == "account" else None,
                "stored": False,
            }
        )
    for rule in stored:
        if rule.get("scope") in ("account", "own_balance"):
            continue
        target = str(rule.get("scope_id") or "")
        item = {**rule, "stored": True, "target": target, "target_key": target}
        if rule.get("scope") == "client":
            client = cache.get("client", target) or {}
            item["target"] = f"[{client.get('nic') or ''}] {client.get('name') or target}"
            item["target_key"] = str(client.get("nic") or target)
        rows.append(item)
    return rows[offset : offset + limit]
