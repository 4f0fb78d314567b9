"""The stamping accounts' (CTI) commands: Bloquear / Reactivar and Venta automática (queued, shown at
once as pending); Crear cuenta and Restablecer contraseña (online only: they carry a password, which is
never written to the outbox); and the daily usage of CTIs (fetched online, kept in the cache)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from cmdesk.domain.amounts import whole_number_problem
from cmdesk.domain.errors import validation_error
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from cmdesk.services.cache import Cache
from cmdesk.services.commands.labels import target_label
from cmdesk.services.commands.queue import enqueue, new_key
from cmdesk.services.outbox import Command, Outbox

log = logging.getLogger(__name__)

USAGE_DAYS = 90  # what is fetched of each CTI's daily usage (the consumption chart's longest view)


def set_cti_active(outbox: Outbox, cache: Cache, cti_id: str, active: bool, *, reason: str = "") -> Command:
    """Bloquear (`active=False`) / reactivar una cuenta de timbrado; `reason` goes to the bitácora."""
    return enqueue(
        outbox,
        cache,
        "set_cti_active",
        "PATCH",
        f"/v1/stamping-accounts/{cti_id}",
        {"active": bool(active)},
        description=("Reactivar " if active else "Bloquear ")
        + target_label(cache, "stamping_account", cti_id),
        entity="stamping_account",
        entity_id=cti_id,
        local=[("stamping_account", cti_id, {"active": bool(active)})],
        extra={"reason": reason.strip()} if reason.strip() else None,
    )


def set_auto_sale(
    outbox: Outbox,
    cache: Cache,
    cti_id: str,
    *,
    minimum: int,
    credit: int,
    amount_cents: int,
    enabled: bool = True,
) -> Command:
    """Venta automática of a standard CTI."""
    errors = {
        f: m
        for f, m in (
            ("minimum", whole_number_problem(minimum, 0)),
            ("credit", whole_number_problem(credit, 1)),
            ("amount_cents", whole_number_problem(amount_cents, 0)),
        )
        if m
    }
    if errors:
        raise validation_error(errors)
    rule = {"minimum": minimum, "credit": credit, "amount_cents": amount_cents, "enabled": bool(enabled)}
    return enqueue(
        outbox,
        cache,
        "set_auto_sale",
        "PUT",
        f"/v1/stamping-accounts/{cti_id}/auto-sale",
        rule,
        description="Venta automática de " + target_label(cache, "stamping_account", cti_id),
        entity="stamping_account",
        entity_id=cti_id,
        local=[("stamping_account", cti_id, {"auto_sale": rule})],
    )


def set_ctis_active(
    outbox: Outbox, cache: Cache, cti_ids: Sequence[str], active: bool, *, reason: str = ""
) -> list[Command]:
    """Bloquear / Reactivar several CTIs: one command each (the same reason on each)."""
    return [set_cti_active(outbox, cache, cti_id, active, reason=reason) for cti_id in cti_ids]


def set_auto_sales(
    outbox: Outbox, cache: Cache, rules: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Command]:
    """Venta automática of several CTIs (CTI id → minimum, credit, amount_cents, enabled): one command
    each."""
    return [
        set_auto_sale(
            outbox,
            cache,
            cti_id,
            minimum=int(rule["minimum"]),
            credit=int(rule["credit"]),
            amount_cents=int(rule["amount_cents"]),
            enabled=bool(rule["enabled"]),
        )
        for cti_id, rule in rules
    ]


def create_stamping_account(
    api: ApiClient,
    cache: Cache,
    client_id: str,
    *,
    kind: str = "standard",
    password: str,
    password_confirmation: str | None = None,
    id: str | None = None,
    rfc_restriction: str | None = None,
    fee_payer: str | None = None,
) -> dict[str, Any]:
    """Crear cuenta de timbrado (online). An unlimited one with `fee_payer` ("client" / "account") has
    its first year's fee charged in the same operation. Raises `OfflineError` without the line,
    `ApiError` when the server refuses (not enough points: nothing was created)."""
    body: dict[str, Any] = {"kind": kind, "password": password}
    if fee_payer is not None:
        body["fee_payer"] = fee_payer
    if password_confirmation is not None:
        body["password_confirmation"] = password_confirmation
    if id:
        body["id"] = id
    if rfc_restriction:
        body["rfc_restriction"] = rfc_restriction
    answer: dict[str, Any] = api.post(
        f"/v1/clients/{client_id}/stamping-accounts", body, idempotency_key=new_key()
    )
    cache.apply_answer("stamping_account", answer)
    return answer


def unlimited_fee_info(cache: Cache, client_id: str | None) -> dict[str, Any]:
    """What the unlimited fee's forms show: a year's fee in points (None: the cached catalog does not
    say), the client's points and the distributor's (None when unknown)."""
    catalog = cache.catalog() or {}
    fee = catalog.get("unlimited_fee_points")
    client = cache.get("client", client_id) if client_id else None
    account = cache.account() or {}

    def points(row: Mapping[str, Any] | None) -> int | None:
        value = ((row or {}).get("balances") or {}).get("points")
        return value if isinstance(value, int) else None

    return {
        "fee_points": fee if isinstance(fee, int) else None,
        "client_points": points(client),
        "account_points": points(account),
    }


def pay_unlimited_fee(
    api: ApiClient, cache: Cache, cti_id: str, *, payer: str, years: int = 1, key: str | None = None
) -> dict[str, Any]:
    """Pagar (o renovar antes de que venza) la cuota anual de una CTI ilimitada con los puntos del
    cliente o de la Cuenta Maestra (online: the answer says until when it is paid). The CTI and the
    movement are kept in the cache."""
    answer: dict[str, Any] = api.post(
        f"/v1/stamping-accounts/{quote(cti_id, safe='')}/unlimited-fee",
        {"payer": payer, "years": years},
        idempotency_key=key or new_key(),
    )
    cache.apply_answer("stamping_account", answer["stamping_account"])
    if answer.get("movement"):
        cache.apply_answer("movement", answer["movement"])
    return answer


def reset_stamping_password(
    api: ApiClient,
    _cache: Cache,
    cti_id: str,
    *,
    password: str,
    password_confirmation: str | None = None,
    reason: str = "",
) -> None:
    """Restablecer contraseña de una CTI (online, like `create_stamping_account`)."""
    body: dict[str, Any] = {"password": password}
    if password_confirmation is not None:
        body["password_confirmation"] = password_confirmation
    api.post(f"/v1/stamping-accounts/{cti_id}/password", body, reason=reason or None)


def fetch_usage(
    api: ApiClient, cache: Cache, items: Sequence[tuple[str, int | None]], days: int = USAGE_DAYS
) -> list[str]:
    """Fetch and keep the daily usage of each (CTI id, its `issued` count now); the ids kept. Stops at
    the first sign of being offline (raising `OfflineError` when nothing was fetched)."""
    stored: list[str] = []
    for cti_id, issued in items:
        try:
            answer = api.get(f"/v1/stamping-accounts/{quote(cti_id, safe='')}/usage", {"days": days})
        except OfflineError:
            if stored:
                break
            raise
        except ApiError as error:  # gone meanwhile, say: the next sync removes the row
            log.info("usage of %s not available: %s", cti_id, error)
            continue
        cache.set_stamping_usage(cti_id, answer.get("daily") or [], issued=issued)
        stored.append(cti_id)
    return stored
