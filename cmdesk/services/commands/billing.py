"""Facturación's commands: Registrar factura (queued: the sales and codes leave the lists "por facturar"
at once, pending, and come back if the server refuses), and making or cancelling a top-up code (online:
it moves balances, and its code and NIP come from the server)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cmdesk.domain.errors import validation_error
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.commands.labels import client_label
from cmdesk.services.commands.queue import enqueue, local_id, new_key
from cmdesk.services.outbox import Command, Outbox

REFERENCE_MAX_LENGTH = 200


def register_invoice(
    outbox: Outbox,
    cache: Cache,
    *,
    reference: str,
    client_id: str | None = None,
    movement_ids: Sequence[str] = (),
    top_up_code_ids: Sequence[str] = (),
) -> Command:
    """Registrar factura of sales (`client_id` + `movement_ids`) or of top-up codes (`top_up_code_ids`,
    `client_id` optional)."""
    ref = " ".join(str(reference or "").split())
    errors: dict[str, str] = {}
    if not ref:
        errors["reference"] = "Escriba la referencia (folio) de la factura."
    elif len(ref) > REFERENCE_MAX_LENGTH:
        errors["reference"] = "La referencia admite como máximo 200 caracteres."
    sales = list(dict.fromkeys(movement_ids))
    codes = list(dict.fromkeys(top_up_code_ids))
    if bool(sales) == bool(codes):
        errors["movement_ids"] = "Seleccione al menos una venta o un código de abono para facturar."
    if sales and not client_id:
        errors["client_id"] = "Indique el cliente de la factura."
    if errors:
        raise validation_error(errors)
    marker = local_id()
    body: dict[str, Any] = {"reference": ref}
    if client_id:
        body["client_id"] = client_id
    if sales:
        body["movement_ids"] = sales
        local = [("movement", i, {"invoice_id": marker}) for i in sales]
        what = f"{len(sales)} venta" + ("s" if len(sales) != 1 else "")
    else:
        body["top_up_code_ids"] = codes
        local = [("top_up_code", i, {"invoice_id": marker}) for i in codes]
        what = f"{len(codes)} código" + ("s" if len(codes) != 1 else "") + " de abono"
    who = f" de {client_label(cache, client_id)}" if client_id else ""
    return enqueue(
        outbox,
        cache,
        "register_invoice",
        "POST",
        "/v1/invoices",
        body,
        description=f"Registrar la factura {ref}{who} ({what})",
        entity="invoice",
        local=local,
    )


def _keep_code(cache: Cache, answer: dict[str, Any]) -> dict[str, Any]:
    cache.apply_answer("top_up_code", answer["code"])
    cache.apply_answer("movement", answer["movement"])
    return answer


def generate_top_up_code(
    api: ApiClient,
    cache: Cache,
    *,
    asset: str,
    quantity: int,
    amount_cents: int,
    comments: str = "",
    key: str | None = None,
) -> dict[str, Any]:
    """Generar código de abono: the quantity leaves the account now and waits in the code."""
    body = {"asset": asset, "quantity": quantity, "amount_cents": amount_cents, "comments": comments}
    return _keep_code(cache, api.post("/v1/top-up-codes", body, idempotency_key=key or new_key()))


def cancel_top_up_code(
    api: ApiClient, cache: Cache, code_id: str, *, key: str | None = None
) -> dict[str, Any]:
    """Cancelar código de abono: what it held goes back to the account."""
    return _keep_code(
        cache, api.post(f"/v1/top-up-codes/{code_id}/cancel", None, idempotency_key=key or new_key())
    )
