"""The bitácora (audit log) in the desktop: read online from the server (`GET /v1/audit`, newest
first, cursor pages) and kept in the cache per filter (`Cache.keep_audit_page`), so the Bitácora's
table pages in SQL and what was read can be looked at again offline.

    filters = AuditFilter(entity="client", entity_id=client_id)    # a client's history
    fetch_audit_page(api, cache, filters, restart=True)             # its first page
    cache.query_audit(filters.key, limit=200)                       # what the table shows

Who acted and from where is the server's business: the desktop names itself on every request
(`X-Cmdesk-Device`, `ApiClient.device`) and sends the reason a user gave (`X-Cmdesk-Reason`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import quote

from cmdesk.domain import names
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.server_info import server_now

PAGE = 200


@dataclass(frozen=True)
class AuditFilter:
    """The server's filters: the main entity's type (with `entity_id`: that entity's history, every
    record that touched it), who acted, what was done (`action`), and the period [since, until) in
    UTC."""

    entity: str | None = None
    entity_id: str | None = None
    profile_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    account_id: str | None = None  # a sub-distributor's bitácora (anywhere below this account)
    action: str | None = None  # e.g. "client.update"

    @property
    def key(self) -> str:
        fields = asdict(self)
        if fields["action"] is None:
            del fields["action"]  # the lists kept before the action filter keep their key
        return json.dumps(fields, sort_keys=True, default=lambda v: v.isoformat())

    def any_action(self) -> AuditFilter:
        """The same filter for every action (the list whose actions the Bitácora offers)."""
        return replace(self, action=None)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.entity:
            out["entity"] = self.entity
            if self.entity_id:
                out["entity_id"] = self.entity_id
        if self.profile_id:
            out["profile_id"] = self.profile_id
        if self.action:
            out["action"] = self.action
        if self.since is not None:
            out["from"] = self.since.astimezone(dt.UTC).isoformat()
        if self.until is not None:
            out["to"] = self.until.astimezone(dt.UTC).isoformat()
        if self.account_id:
            out["account_id"] = self.account_id
        return out


@dataclass(frozen=True)
class AuditFetch:
    fetched: int  # records of the page just read
    kept: int  # records kept for the filter
    more: bool  # whether the server has more


def fetch_audit_page(
    api: ApiClient, cache: Cache, filters: AuditFilter, *, restart: bool = False, limit: int = PAGE
) -> AuditFetch:
    """Read the filter's next page (`restart`: its first, again) and keep it."""
    key = filters.key
    read, cursor, kept, _when = cache.audit_state(key)
    if read and not restart and cursor is None:
        return AuditFetch(0, kept, False)  # the whole list is here
    params = {**filters.params(), "limit": limit}
    if cursor and not restart:
        params["cursor"] = cursor
    answer = api.get("/v1/audit", params)
    items = list(answer.get("items") or [])
    cache.keep_audit_page(
        key,
        items,
        answer.get("next_cursor"),
        server_now().isoformat(),
        restart=restart or not read,
    )
    _read, nxt, kept, _when = cache.audit_state(key)
    return AuditFetch(len(items), kept, nxt is not None)


def audit_record(api: ApiClient, _cache: Cache, record_id: int) -> dict[str, Any]:
    """One record with every row it changed (`changes`) and every entity it touched (`subjects`)."""
    answer: dict[str, Any] = api.get(f"/v1/audit/{quote(str(int(record_id)), safe='')}")
    return answer


# ---- how a record reads ---------------------------------------------------------------------------------


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Sí" if value else "No"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(field, before, after) of a record's main entity, in the order the fields came."""
    names = list(dict.fromkeys([*(before or {}), *(after or {})]))
    return [
        (
            name,
            _value((before or {}).get(name)) if before is not None else "—",
            _value((after or {}).get(name)) if after is not None else "—",
        )
        for name in names
    ]


def summary(record: dict[str, Any], limit: int = 4) -> str:
    """A line for the table: `campo: antes → después; …` (a creation or deletion says so)."""
    before, after = record.get("before"), record.get("after")
    if before is None and after is not None:
        return "Alta"
    if after is None and before is not None:
        return "Baja"
    parts = [
        f"{names.name_of(names.AUDIT_FIELDS, name)}: {old} → {new}"
        for name, old, new in changed_fields(before, after)
    ]
    more = len(parts) - limit
    text = "; ".join(parts[:limit])
    return text + (f" (y {more} más)" if more > 0 else "")
