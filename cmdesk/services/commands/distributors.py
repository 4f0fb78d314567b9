"""Clientes → Distribuidores' changes: Alta de distribuidor, converting a client into one, and the state
buttons (Activar, Suspender, Cancelar, Renovar, Reenviar correo). They change who can work in the
portal and need the server's answer (the new NIC, the administrator's e-mail), so they go online; the
answer is kept in the cache so the row moves to its new tab without waiting for a sync."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.commands.queue import new_key

# The state buttons and the endpoint each calls.
STATE_PATHS = {
    "activate": "activate",
    "suspend": "suspend",
    "cancel": "cancel",
    "renew": "renew",
    "resend": "resend-confirmation",
}


def create_distributor(
    api: ApiClient, cache: Cache, body: Mapping[str, Any], *, key: str | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = api.post("/v1/distributors", dict(body), idempotency_key=key or new_key())
    cache.apply_answer("distributor", answer["distributor"])
    return answer


def convert_client(
    api: ApiClient, cache: Cache, client_id: str, body: Mapping[str, Any], *, key: str | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = api.post(
        f"/v1/clients/{client_id}/convert-to-distributor", dict(body), idempotency_key=key or new_key()
    )
    cache.apply_answer("distributor", answer["distributor"])
    return answer


def change_state(
    api: ApiClient, cache: Cache, distributor_id: str, action: str, *, reason: str = ""
) -> dict[str, Any]:
    """One of `STATE_PATHS`; the distributor as it is now (renewing is idempotent: it charges).
    `reason`: the user's, for the bitácora."""
    key = new_key() if action == "renew" else None
    answer: dict[str, Any] = api.post(
        f"/v1/distributors/{distributor_id}/{STATE_PATHS[action]}",
        None,
        idempotency_key=key,
        reason=reason or None,
    )
    data: dict[str, Any] = answer.get("distributor", answer) if action == "resend" else answer
    cache.apply_answer("distributor", {k: v for k, v in data.items() if k != "charges"})
    return data
