"""The ledger (API.md, "Ledger"): transfers, bulk transfers, movements, the catalog and purchases."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from cmdesk.server import db
from cmdesk.server.api import schemas
from cmdesk.server.api.deps import (
    CurrentActor,
    Db,
    IdempotencyKey,
    Pagination,
    decode_time_cursor,
    encode_cursor,
    idempotent_call,
)
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import ledger

router = APIRouter(tags=["ledger"])


def _transfer_kwargs(item: schemas.TransferIn) -> dict[str, Any]:
    return {
        "asset": item.asset,
        "target_type": item.target.type,
        "target_id": item.target.id,
        "quantity": item.quantity,
        "amount_cents": item.amount_cents,
        "comments": item.comments,
        "no_charge": item.no_charge,
    }


@router.post(
    "/v1/transfers",
    status_code=201,
    response_model=schemas.Movement,
    responses=problem_responses(401, 404, 409, 422),
)
def transfer(
    body: schemas.TransferIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Transferir timbres (a una CTI estándar o sub-distribuidor) o puntos (a un cliente o
    sub-distribuidor). Irreversible. Con importe, queda «por facturar»."""
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=body,
        fn=lambda s: ledger.transfer(s, actor, **_transfer_kwargs(body)),
    )


@router.post(
    "/v1/transfers/bulk",
    status_code=201,
    response_model=schemas.BulkTransferOut,
    responses=problem_responses(401, 404, 409, 422),
)
def bulk_transfer(
    body: schemas.BulkTransferIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Transferencia masiva: todas o ninguna."""
    items = [
        {
            "asset": i.asset,
            "target": {"type": i.target.type, "id": i.target.id},
            "quantity": i.quantity,
            "amount_cents": i.amount_cents,
            "comments": i.comments,
            "no_charge": i.no_charge,
        }
        for i in body.items
    ]
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=body,
        fn=lambda s: ledger.bulk_transfer(s, actor, items),
    )


@router.get("/v1/movements", response_model=schemas.MovementList, responses=problem_responses(401, 422))
def movements(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    client_id: Annotated[str | None, Query(max_length=32)] = None,
    asset: Literal["stamps", "points"] | None = None,
    kind: Literal["purchase", "transfer", "auto_sale", "top_up", "contract", "unlimited_fee"] | None = None,
    invoiced: bool | None = None,
    from_: Annotated[dt.datetime | None, Query(alias="from")] = None,
    to: dt.datetime | None = None,
) -> dict[str, Any]:
    after = None
    if page.cursor:
        after = decode_time_cursor(page.cursor)
    items = db.run(
        factory,
        ledger.list_movements,
        actor,
        client_id=client_id,
        asset=asset,
        kind=kind,
        invoiced=invoiced,
        since=_utc(from_),
        until=_utc(to),
        limit=page.limit + 1,
        after=after,
    )
    nxt = None
    if len(items) > page.limit:
        items = items[: page.limit]
        nxt = encode_cursor([items[-1]["created_at"].isoformat(), items[-1]["id"]])
    return {"items": items, "next_cursor": nxt}


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@router.get("/v1/catalog", response_model=schemas.CatalogOut, responses=problem_responses(401))
def catalog(actor: CurrentActor, factory: Db) -> dict[str, Any]:
    return db.run(factory, ledger.catalog)


@router.post(
    "/v1/purchases",
    status_code=201,
    response_model=schemas.PurchaseOut,
    responses=problem_responses(401, 404, 422),
)
def purchase(
    body: schemas.PurchaseIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Comprar paquetes del catálogo (incancelable e irreversible): abona la cuenta y se carga al
    estado de cuenta."""
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=body,
        fn=lambda s: ledger.purchase(s, actor, body.package_id, body.quantity),
    )
