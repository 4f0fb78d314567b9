"""Low-balance alerts and their rules, and the renewal calendar.

- Marking alerts (nueva, vista, resuelta) is a queued command: it shows at once (an optimistic value
  over the cache's alert) and goes to the server when there is a line (`POST /v1/alerts/state`, all or
  none).
- Rules are the account's configuration (as Herramientas' other pages): saved online, checked first
  with `cmdesk.domain.alert_rules` so a wrong value is refused before it is sent, with `If-Match`.
- The calendar is computed by the server (prorations, fees): fetched online and kept in the cache, so
  the last one is shown offline; its iCalendar file is the server's (`GET /v1/calendar.ics`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cmdesk.domain import alert_rules
from cmdesk.domain.errors import validation_error
from cmdesk.domain.names import ALERT_STATES
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.commands.queue import enqueue
from cmdesk.services.commands.tools import edit_answer
from cmdesk.services.outbox import Command, Outbox

CALENDAR_META = "renewal_calendar"


def set_alert_state(outbox: Outbox, cache: Cache, alert_ids: Sequence[str], state: str) -> Command:
    """Mark alerts as nueva, vista or resuelta (one command for all of them)."""
    ids = list(dict.fromkeys(str(i) for i in alert_ids))
    if state not in alert_rules.STATES:
        raise validation_error({"state": "El estado debe ser nueva, vista o resuelta."})
    if not ids:
        raise validation_error({"ids": "Seleccione al menos una alerta."})
    if len(ids) > 1000:
        raise validation_error({"ids": "Marque hasta 1,000 alertas a la vez."})
    what = "1 alerta" if len(ids) == 1 else f"{len(ids):,} alertas"
    word = ALERT_STATES[state].lower() + ("" if len(ids) == 1 else "s")
    return enqueue(
        outbox,
        cache,
        "set_alert_state",
        "POST",
        "/v1/alerts/state",
        {"ids": ids, "state": state},
        description=f"Marcar {what} como {word}",
        entity="alert",
        entity_id=ids[0],
        local=[("alert", i, {"state": state}) for i in ids],
    )


def save_alert_rule(
    api: ApiClient,
    cache: Cache,
    scope: str,
    scope_id: str | None,
    values: Mapping[str, Any],
    version: int | None = None,
) -> dict[str, Any]:
    """Create or change the rule of a scope (`values`: the fields to set); checked here first."""
    if scope not in alert_rules.SCOPES:
        raise validation_error({"scope": "Elija a qué se aplica la regla."})
    if scope in ("client", "stamping_account"):
        scope_id = resolve_scope(cache, scope, scope_id or "")
    else:
        scope_id = None
    checked = alert_rules.check_fields(scope, values)
    given = [checked[k] for k in ("days_thresholds", "balance_thresholds") if k in checked]
    if checked.get("enabled", True) and len(given) == 2 and not any(given):
        raise validation_error({"days_thresholds": alert_rules.NO_THRESHOLD})
    body = {"scope": scope, **({"scope_id": scope_id} if scope_id else {}), **checked}
    return edit_answer(cache, "alert_rule", lambda: api.put("/v1/alert-rules", body, if_match=version))


def resolve_scope(cache: Cache, scope: str, text: str) -> str:
    """The id of the client (by NIC or id) or the CTI (by id) a rule is for, from the cache."""
    wanted = text.strip()
    if not wanted:
        raise validation_error({"scope_id": "Indique el cliente o la cuenta de timbrado de la regla."})
    if scope == "stamping_account":
        if cache.get("stamping_account", wanted) is None:
            raise validation_error({"scope_id": f"No hay una cuenta de timbrado «{wanted}»."})
        return wanted
    if cache.get("client", wanted) is not None:
        return wanted
    found = [c for c in cache.query_clients(q=wanted, limit=50) if str(c.get("nic")) == wanted]
    if not found:
        raise validation_error({"scope_id": f"No hay un cliente con NIC {wanted}."})
    return str(found[0]["id"])


def delete_alert_rule(api: ApiClient, cache: Cache, rule_id: str) -> None:
    """The scope follows the next rule up again (the account's, or the defaults)."""
    api.delete(f"/v1/alert-rules/{rule_id}")
    cache.apply_deleted("alert_rule", rule_id)


def fetch_calendar(api: ApiClient, cache: Cache, months: int = 12) -> dict[str, Any]:
    """What expires in the next `months` months (the server's `GET /v1/calendar`), kept in the cache."""
    answer: dict[str, Any] = api.get("/v1/calendar", params={"months": months})
    cache.set_meta(CALENDAR_META, json.dumps({**answer, "months": months}, ensure_ascii=False))
    return answer


def stored_calendar(cache: Cache) -> dict[str, Any] | None:
    """The calendar fetched last (shown offline), or None."""
    text = cache.get_meta(CALENDAR_META)
    return json.loads(text) if text else None


def export_calendar(api: ApiClient, _cache: Cache, path: Path, months: int = 12) -> Path:
    """Save the server's iCalendar file of the next `months` months (Outlook, Google Calendar)."""
    data = api.get_raw("/v1/calendar.ics", params={"months": months})
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target


NOTIFIED_META = "alerts_notified_at"


def take_new_alerts(cache: Cache) -> list[dict[str, Any]]:
    """The alerts still `new` that arrived since the last call (newest first), to notify once: the
    moment of the newest one is kept in the cache, so a restart does not notify them again."""
    since = cache.get_meta(NOTIFIED_META) or ""
    fresh = [
        a
        for a in cache.query_entities(
            "alert",
            equals={"state": "new"},
            since=("created_at", since) if since else None,
            order=[("created_at", True)],
            limit=1000,
        )
        if str(a.get("created_at") or "") > since
    ]
    if fresh:
        cache.set_meta(NOTIFIED_META, max(str(a.get("created_at") or "") for a in fresh))
    return fresh


def count_new_alerts(cache: Cache) -> int:
    return cache.count_entities("alert", equals={"state": "new"})
