"""Contracts, MKL licenses, the account's statement and the unlimited CTI fee (API.md, "The rest of the
portal"; manual, "Contratar MKL", "Contratar Suscripciones", "Usar MKL", "CTI Ilimitadas").

Contracting and paying the unlimited fee create movements (points) and charges, so they require
`Idempotency-Key`; a quote changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cmdesk.server import db
from cmdesk.server.api import schemas_distributors as sd
from cmdesk.server.api.deps import (
    CurrentActor,
    Db,
    IdempotencyKey,
    OptionalIdempotencyKey,
    Pagination,
    decode_time_cursor,
    encode_cursor,
    idempotent_call,
)
from cmdesk.server.api.distributors import offset_page
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import contracts, unlimited

router = APIRouter(tags=["contracts"])


def _as_utc(value: dt.datetime) -> dt.datetime:
    """A time without zone is taken as UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else _as_utc(value)


# ---- Contracts ------------------------------------------------------------------------------------


@router.get("/v1/contracts", response_model=sd.ContractList, responses=problem_responses(401, 422))
def list_contracts(actor: CurrentActor, factory: Db, page: Pagination) -> dict[str, Any]:
    """Los MKL y suscripciones contratados por la cuenta, del más antiguo al más reciente."""
    return offset_page(db.run(factory, contracts.list_contracts, actor), page)


@router.post("/v1/contracts/quote", response_model=sd.Quote, responses=problem_responses(401, 404, 422))
def quote(body: sd.QuoteIn, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Cotizar un MKL o suscripción: el cargo proporcional a los meses que faltan para el vencimiento
    de la Cuenta Maestra, con y sin IVA, y los puntos que lo pagarían."""
    return db.run(factory, contracts.quote_contract, actor, body.code)


@router.post(
    "/v1/contracts", status_code=201, response_model=sd.ContractCreated,
    responses=problem_responses(401, 404, 409, 422),
)
def create_contract(
    body: sd.ContractIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Contratar un MKL o suscripción hasta el vencimiento de la cuenta (se renueva con ella). El cargo
    va al estado de cuenta o, con `pay_with_points`, se paga con puntos."""
    return idempotent_call(
        request, factory, scope=actor.account_id, key=key, body=body,
        fn=lambda s: contracts.contract(s, actor, body.code, pay_with_points=body.pay_with_points),
    )


# ---- Licenses -------------------------------------------------------------------------------------


@router.get("/v1/licenses", response_model=sd.LicenseList, responses=problem_responses(401, 404, 422))
def list_licenses(
    actor: CurrentActor, factory: Db, page: Pagination,
    client_id: Annotated[str | None, Query(max_length=64, description="Sólo las de este cliente.")] = None,
) -> dict[str, Any]:
    """Las licencias MKL generadas para los clientes de la cuenta."""
    return offset_page(db.run(factory, contracts.list_licenses, actor, client_id), page)


@router.post(
    "/v1/licenses", status_code=201, response_model=list[sd.License],
    responses=problem_responses(401, 404, 409, 422),
)
def create_licenses(
    body: sd.LicenseIn, actor: CurrentActor, factory: Db, key: OptionalIdempotencyKey, request: Request
) -> Response:
    """Generar licencias de un MKL contratado para un cliente, cada una válida por un año."""
    return idempotent_call(
        request, factory, scope=actor.account_id, key=key, body=body,
        fn=lambda s: contracts.generate_licenses(s, actor, body.client_id, body.product_code, body.count),
    )


# ---- The statement --------------------------------------------------------------------------------


@router.get("/v1/charges", response_model=sd.ChargeList, responses=problem_responses(401, 422))
def list_charges(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    from_: Annotated[dt.datetime | None, Query(alias="from", description="Desde (incluido).")] = None,
    to: Annotated[dt.datetime | None, Query(description="Hasta (excluido).")] = None,
) -> dict[str, Any]:
    """El estado de cuenta: compras, contratos, anualidades y renovaciones, del más reciente al más
    antiguo."""
    after = None
    if page.cursor:
        after = decode_time_cursor(page.cursor)
    items = db.run(
        factory, contracts.list_charges, actor, since=_utc(from_), until=_utc(to), limit=page.limit + 1,
        after=after,
    )
    nxt = None
    if len(items) > page.limit:
        items = items[: page.limit]
        nxt = encode_cursor([items[-1]["created_at"].isoformat(), items[-1]["id"]])
    return {"items": items, "next_cursor": nxt}


# ---- The unlimited CTI fee ------------------------------------------------------------------------


@router.post(
    "/v1/stamping-accounts/{cti_id}/unlimited-fee", status_code=201, response_model=sd.UnlimitedFeePaid,
    responses=problem_responses(401, 404, 409, 422),
)
def pay_unlimited_fee(
    cti_id: str, body: sd.UnlimitedFeeIn, actor: CurrentActor, factory: Db, key: IdempotencyKey,
    request: Request,
) -> Response:
    """Pagar la cuota anual de una CTI ilimitada con puntos del cliente o de la Cuenta Maestra; extiende
    su vigencia un año por cada año pagado."""
    return idempotent_call(
        request, factory, scope=actor.account_id, key=key, body=body,
        fn=lambda s: unlimited.pay_unlimited_fee(s, actor, cti_id, payer=body.payer, years=body.years),
    )
