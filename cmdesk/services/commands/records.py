"""A client's records (the detail window): Interacciones and Pólizas (queued, shown at once as
pending), and MKL licenses (online: the server checks the contract and makes the keys)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cmdesk.domain.errors import validation_error
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.commands.labels import client_label
from cmdesk.services.commands.queue import (
    NOT_REGISTERED,
    enqueue,
    is_local,
    local_id,
    new_key,
    now_text,
    require_registered,
)
from cmdesk.services.outbox import Command, Outbox

INTERACTION_MAX_LENGTH = 10_000


def add_interaction(
    outbox: Outbox, cache: Cache, client_id: str, text: str, occurred_at: dt.datetime | None = None
) -> Command:
    """Registrar una interacción (llamada, visita, acuerdo) with a client."""
    text = text.strip()
    if not text:
        raise validation_error({"text": "Escriba la interacción."})
    if len(text) > INTERACTION_MAX_LENGTH:
        raise validation_error({"text": "La interacción admite como máximo 10,000 caracteres."})
    require_registered(client_id)
    body: dict[str, Any] = {"text": text}
    if occurred_at is not None:
        body["occurred_at"] = now_text(occurred_at)
    ident = local_id()
    provisional = {"client_id": client_id, "text": text, "occurred_at": now_text(occurred_at), "author": ""}
    return enqueue(
        outbox,
        cache,
        "add_interaction",
        "POST",
        f"/v1/clients/{client_id}/interactions",
        body,
        description="Interacción con " + client_label(cache, client_id),
        entity="interaction",
        entity_id=ident,
        local=[("interaction", ident, provisional)],
    )


def add_policy(
    outbox: Outbox,
    cache: Cache,
    client_id: str,
    *,
    product: str,
    starts_on: dt.date,
    ends_on: dt.date,
    reference: str = "",
) -> Command:
    """Registrar una póliza de soporte del cliente, vigente de `starts_on` a `ends_on`."""
    errors: dict[str, str] = {}
    product = product.strip()
    if not product:
        errors["product"] = "Escriba el producto de la póliza."
    if ends_on < starts_on:
        errors["ends_on"] = "El fin de la vigencia no puede ser anterior a su inicio."
    if is_local(client_id):
        errors["client_id"] = NOT_REGISTERED
    if errors:
        raise validation_error(errors)
    body = {
        "product": product,
        "starts_on": starts_on.isoformat(),
        "ends_on": ends_on.isoformat(),
        "reference": reference.strip(),
    }
    ident = local_id()
    return enqueue(
        outbox,
        cache,
        "add_policy",
        "POST",
        f"/v1/clients/{client_id}/policies",
        body,
        description=f"Póliza «{product}» de " + client_label(cache, client_id),
        entity="support_policy",
        entity_id=ident,
        local=[("support_policy", ident, {**body, "client_id": client_id})],
    )


def generate_licenses(
    api: ApiClient, cache: Cache, client_id: str, code: str, count: int
) -> list[dict[str, Any]]:
    """Usar MKL: licenses for the client, each valid a year (the server checks the contract)."""
    answer: list[dict[str, Any]] = api.post(
        "/v1/licenses",
        {"client_id": client_id, "product_code": code, "count": count},
        idempotency_key=new_key(),
    )
    for item in answer:
        cache.apply_answer("license", item)
    return answer
