"""Moving stamps and points: transfers and purchases of packages (queued: the server checks the balance,
and a refusal comes back with its reason), and what needs the server's answer at once: the catalog,
the quote of an MKL or a subscription and contracting it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cmdesk.domain.amounts import quantity_problem, transfer_problems
from cmdesk.domain.errors import validation_error
from cmdesk.domain.names import ASSET_WORDS
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.commands.labels import bulk_transfer_label, target_label, to
from cmdesk.services.commands.queue import NOT_REGISTERED, enqueue, is_local, new_key
from cmdesk.services.outbox import TO_PUSH, Command, Outbox


def transfer_body(
    asset: str,
    target_type: str,
    target_id: str,
    quantity: int,
    amount_cents: int,
    comments: str,
    no_charge: bool | None = None,
) -> dict[str, Any]:
    """A transfer's body after the checks that need no server (a `DomainError` beside the fields)."""
    errors = transfer_problems(asset, target_type, target_id, quantity, amount_cents, no_charge)
    if "target.id" not in errors and is_local(target_id):
        errors["target.id"] = NOT_REGISTERED
    if errors:
        raise validation_error(errors)
    return {
        "asset": asset,
        "target": {"type": target_type, "id": target_id},
        "quantity": quantity,
        "amount_cents": amount_cents,
        "comments": comments,
    } | ({} if no_charge is None else {"no_charge": no_charge})


def transfer_description(cache: Cache, asset: str, target_type: str, target_id: str, quantity: int) -> str:
    """How the pending-commands panel names a transfer: «Transferir 150 timbres a …»."""
    return f"Transferir {quantity:,} {ASSET_WORDS[asset]} " + to(target_label(cache, target_type, target_id))


def transfer(
    outbox: Outbox,
    cache: Cache,
    *,
    asset: str,
    target_type: str,
    target_id: str,
    quantity: int,
    amount_cents: int = 0,
    comments: str = "",
    no_charge: bool | None = None,
) -> Command:
    """Transferir timbres (a una CTI estándar o un sub-distribuidor) o puntos (a un cliente o un
    sub-distribuidor). Irreversible once applied; the server checks the balance. `no_charge`: True
    «Sin cargo» (no sale), False a sale (its amount above $0.00), None as older versions sent it."""
    body = transfer_body(asset, target_type, target_id, quantity, amount_cents, comments, no_charge)
    return enqueue(
        outbox,
        cache,
        "transfer",
        "POST",
        "/v1/transfers",
        body,
        description=transfer_description(cache, asset, target_type, target_id, quantity),
        entity=target_type,
        entity_id=target_id,
    )


def bulk_transfer(outbox: Outbox, cache: Cache, items: Sequence[Mapping[str, Any]]) -> Command:
    """Transferencia masiva: all the items or none. Each item: asset, target_type, target_id,
    quantity, amount_cents, comments."""
    if not items:
        raise validation_error({"items": "Indique al menos una transferencia."})
    body_items = [
        transfer_body(
            str(i.get("asset", "stamps")),
            str(i.get("target_type", "stamping_account")),
            str(i.get("target_id", "")),
            i.get("quantity"),  # type: ignore[arg-type]
            i.get("amount_cents", 0),  # type: ignore[arg-type]
            str(i.get("comments", "")),
            i.get("no_charge"),
        )
        for i in items
    ]
    total = sum(int(b["quantity"]) for b in body_items)
    return enqueue(
        outbox,
        cache,
        "bulk_transfer",
        "POST",
        "/v1/transfers/bulk",
        {"items": body_items},
        description=bulk_transfer_label(cache, body_items, total),
    )


def purchase(outbox: Outbox, cache: Cache, package_id: str, quantity: int = 1) -> Command:
    """Comprar paquetes del catálogo (irreversible once applied)."""
    if message := quantity_problem(quantity):
        raise validation_error({"quantity": message})
    catalog = cache.catalog() or {}
    label = package_id
    for group, asset in (("stamp_packages", "stamps"), ("point_packages", "points")):
        for package in catalog.get(group, []) or []:
            if package.get("id") == package_id:
                label = f"{package.get('quantity', '')} {ASSET_WORDS[asset]}"
    return enqueue(
        outbox,
        cache,
        "purchase",
        "POST",
        "/v1/purchases",
        {"package_id": package_id, "quantity": quantity},
        description=f"Comprar {quantity} × paquete {label}".strip(),
    )


def pending_out(outbox: Outbox | None) -> dict[str, int]:
    """Stamps and points that transfers still on their way will take from the distributor."""
    out = {"stamps": 0, "points": 0}
    if outbox is None:
        return out
    for command in outbox.list(TO_PUSH):
        body = command.body if isinstance(command.body, dict) else {}
        if command.kind == "bulk_transfer":
            items = body.get("items")
        else:
            items = [body] if command.kind == "transfer" else []
        for item in items or []:
            asset = item.get("asset")
            if asset in out and isinstance(item.get("quantity"), int):
                out[asset] += item["quantity"]
    return out


def transfer_info(
    cache: Cache, outbox: Outbox | None, target_type: str, target_id: str, client_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """What a transfer form shows: the balances, what transfers on their way take (`pending`), the
    recipient (`cti` / `ctis` of a client / `distributor`, and its `client`), and the stamp price of each
    client in `client_ids` (its own bulk price, or the global one)."""
    account = cache.account() or {}
    settings = cache.all("settings")
    global_price = settings[0].get("bulk_stamp_price_cents") if settings else None
    global_price = global_price if isinstance(global_price, int) else None
    info: dict[str, Any] = {
        "balances": dict(account.get("balances") or {}),
        "pending": pending_out(outbox),
        "global_stamp_price_cents": global_price,
    }
    client: dict[str, Any] | None = None
    if target_type == "stamping_account":
        cti = cache.get("stamping_account", target_id)
        info["cti"] = cti
        client = cache.get("client", str((cti or {}).get("client_id") or "")) if cti else None
    elif target_type == "client":
        client = cache.get("client", target_id)
        info["ctis"] = [
            c
            for c in cache.query_stamping_accounts(client_id=target_id, sort="created_asc", limit=1000)
            if c.get("kind") == "standard"
        ]
    elif target_type in ("account", "distributor"):
        info["distributor"] = cache.get("distributor", target_id)
    info["client"] = client

    def price_of(data: Mapping[str, Any] | None) -> int | None:
        own = ((data or {}).get("other") or {}).get("bulk_stamp_price_cents")
        return own if isinstance(own, int) else global_price

    info["client_prices"] = {i: price_of(cache.get("client", i)) for i in client_ids}
    info["stamp_price_cents"] = price_of(client)
    return info


# ---- online ------------------------------------------------------------------------------------------


def fetch_catalog(api: ApiClient, cache: Cache) -> dict[str, Any]:
    """Download Induxsoft's catalog and keep it in the cache (it is read offline from there)."""
    catalog: dict[str, Any] = api.get("/v1/catalog")
    cache.set_catalog(catalog)
    return catalog


def quote_contract(api: ApiClient, _cache: Cache, code: str) -> dict[str, Any]:
    """What contracting an MKL or a subscription would charge now (prorated to the account's expiry)."""
    answer: dict[str, Any] = api.post("/v1/contracts/quote", {"code": code})
    return answer


def contract(
    api: ApiClient, cache: Cache, code: str, *, pay_with_points: bool, key: str | None = None
) -> dict[str, Any]:
    """Contratar an MKL or a subscription; the contract (and its movement) are kept in the cache."""
    answer: dict[str, Any] = api.post(
        "/v1/contracts", {"code": code, "pay_with_points": pay_with_points}, idempotency_key=key or new_key()
    )
    cache.apply_answer("contract", answer["contract"])
    if answer.get("movement"):
        cache.apply_answer("movement", answer["movement"])
    return answer
