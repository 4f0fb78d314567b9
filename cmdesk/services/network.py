"""The network of sub-distributors as a tree (`GET /v1/network`, online: the change feed carries only
the distributor's own sub-distributors, not the levels below them): every account below this one,
depth first, with its balances, its clients and CTIs, the branch's totals and the states that need
action (`cmdesk.domain.network`)."""

from __future__ import annotations

from typing import Any

from cmdesk.domain import network
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache

PAGE = 1000


def fetch_network(
    api: ApiClient,
    _cache: Cache | None = None,
    *,
    unvalidated_days: int = network.UNVALIDATED_DAYS,
    expiring_days: int = network.EXPIRING_DAYS,
) -> dict[str, Any]:
    """`{"root": {...}, "items": [...]}`: the whole tree (every page), depth first."""
    params: dict[str, Any] = {
        "unvalidated_days": unvalidated_days,
        "expiring_days": expiring_days,
        "limit": PAGE,
    }
    items: list[dict[str, Any]] = []
    root: dict[str, Any] = {}
    while True:
        answer = api.get("/v1/network", params)
        root = answer.get("root") or root
        items.extend(answer.get("items") or [])
        cursor = answer.get("next_cursor")
        if not cursor:
            return {"root": root, "items": items}
        params["cursor"] = cursor
