"""Billing and top-up codes (API.md, last section): the sales still to invoice, invoices, the codes a
distributor sells, and their public redemption.

Redemption is public (the code and its NIP are the credentials), so it is throttled per client
address with atomic counters (`throttle.take`): every request counts against
`public_requests_per_minute`, and every failure (an unknown code, a wrong NIP, a locked code) against
`public_failures_per_hour` — a request reserves its failure slot before the NIP is compared and gives
it back when it did not fail, so parallel guesses cannot exceed the limit. A wrong NIP is counted on
the code in the same committed transaction that answers the rejection (the 5th locks the code: 423
`code_locked`); with an `Idempotency-Key`, a retry replays that answer without counting the NIP again.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from cmdesk.domain.errors import DomainError, ErrorCode, FieldError, validation_error
from cmdesk.models import utcnow
from cmdesk.server import db, idempotency, throttle
from cmdesk.server.api import schemas_tools as st
from cmdesk.server.api.deps import (
    ClientIp,
    CurrentActor,
    Db,
    IdempotencyKey,
    OptionalIdempotencyKey,
    Pagination,
    idempotent_call,
    json_response,
)
from cmdesk.server.api.errors import domain_problem, problem_response
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import billing, top_up_codes
from cmdesk.server.operations.context import Actor
from cmdesk.server.settings import Settings

router = APIRouter(tags=["billing"])

ClientFilter = Annotated[str | None, Query(max_length=32, description="Sólo las de este cliente.")]

# ---- Sales to invoice and invoices ------------------------------------------------------------------


@router.get("/v1/billing/pending", response_model=st.PendingList, responses=problem_responses(401, 404, 422))
def pending(
    actor: CurrentActor, factory: Db, page: Pagination, client_id: ClientFilter = None
) -> dict[str, Any]:
    """Ventas por facturar (transferencias y ventas automáticas con importe), la más antigua primero."""
    return st.paged(db.run(factory, billing.pending_sales, actor, client_id), page)


@router.get(
    "/v1/billing/pending/by-client",
    response_model=st.PendingClientList,
    responses=problem_responses(401, 422),
)
def pending_by_client(actor: CurrentActor, factory: Db, page: Pagination) -> dict[str, Any]:
    """Los clientes con ventas por facturar: NIC, nombre, cuántas y su total."""
    return st.paged(db.run(factory, billing.pending_by_client, actor), page)


def _rename_fields(error: DomainError, names: dict[str, str]) -> DomainError:
    """The operation's error with its field names as this endpoint's body spells them."""
    if not any(e.field in names for e in error.errors):
        return error
    errors = [FieldError(names.get(e.field, e.field), e.message) for e in error.errors]
    return DomainError(error.code, error.detail, errors, error.extra)


def _register(session: Session, actor: Actor, body: st.InvoiceIn) -> dict[str, Any]:
    if body.top_up_code_ids is not None:
        try:
            out = billing.register_code_invoice(
                session,
                actor,
                reference=body.reference,
                code_ids=body.top_up_code_ids,
                client_id=body.client_id,
            )
        except DomainError as e:
            raise _rename_fields(e, {"code_ids": "top_up_code_ids"}) from None
        return {"invoice": out["invoice"], "movement_ids": [], "top_up_code_ids": out["code_ids"]}
    assert body.client_id is not None and body.movement_ids is not None
    out = billing.register_invoice(
        session, actor, client_id=body.client_id, reference=body.reference, movement_ids=body.movement_ids
    )
    return {"invoice": out["invoice"], "movement_ids": out["movement_ids"], "top_up_code_ids": []}


@router.post(
    "/v1/invoices",
    status_code=201,
    response_model=st.InvoiceCreated,
    responses=problem_responses(401, 404, 409, 422),
)
def register_invoice(
    body: st.InvoiceIn, actor: CurrentActor, factory: Db, key: OptionalIdempotencyKey, request: Request
) -> Response:
    """Registrar factura. De ventas: `{"client_id", "reference", "movement_ids"}`. De códigos de abono:
    `{"reference", "top_up_code_ids"}` (con `client_id` opcional). Cada venta o código se factura una vez."""
    if body.movement_ids is not None and body.top_up_code_ids is not None:
        message = "Indique ventas o códigos de abono, no ambos."
        raise validation_error({"movement_ids": message, "top_up_code_ids": message})
    if body.movement_ids is None and body.top_up_code_ids is None:
        raise validation_error({"movement_ids": "Seleccione al menos una venta para facturar."})
    if body.movement_ids is not None and not body.client_id:
        raise validation_error({"client_id": "Indique el cliente de la factura."})
    return idempotent_call(
        request, factory, scope=actor.account_id, key=key, body=body, fn=lambda s: _register(s, actor, body)
    )


@router.get("/v1/invoices", response_model=st.InvoiceList, responses=problem_responses(401, 404, 422))
def list_invoices(
    actor: CurrentActor, factory: Db, page: Pagination, client_id: ClientFilter = None
) -> dict[str, Any]:
    """Las facturas registradas, la más reciente primero."""
    return st.paged(db.run(factory, billing.list_invoices, actor, client_id=client_id), page)


# ---- Top-up codes -----------------------------------------------------------------------------------


@router.get("/v1/top-up-codes", response_model=st.TopUpCodeList, responses=problem_responses(401, 422))
def list_codes(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    year: Annotated[
        int | None, Query(ge=2000, le=9998, description="Año de creación (hora de México).")
    ] = None,
    month: Annotated[int | None, Query(ge=1, le=12, description="Mes de creación; requiere `year`.")] = None,
    asset: st.AssetName | None = None,
    invoiced: Annotated[
        bool | None, Query(description="`false`: los vendidos por facturar; `true`: los facturados.")
    ] = None,
) -> dict[str, Any]:
    """Los códigos de abono de la cuenta, el más reciente primero."""
    items = db.run(
        factory, top_up_codes.list_codes, actor, year=year, month=month, asset=asset, invoiced=invoiced
    )
    return st.paged(items, page)


@router.post(
    "/v1/top-up-codes",
    status_code=201,
    response_model=st.TopUpCodeOut,
    responses=problem_responses(401, 409, 422),
)
def create_code(
    body: st.TopUpCodeIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Generar un código de abono con su NIP. La cantidad sale de la cuenta ahora (queda en el código hasta
    que se canjea o se cancela); el importe es la venta por facturar."""
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=body,
        fn=lambda s: top_up_codes.create_code(
            s,
            actor,
            asset=body.asset,
            quantity=body.quantity,
            amount_cents=body.amount_cents,
            comments=body.comments,
        ),
    )


@router.get("/v1/top-up-codes/{code_id}", response_model=st.TopUpCode, responses=problem_responses(401, 404))
def get_code(code_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    return db.run(factory, top_up_codes.get_code, actor, code_id)


@router.post(
    "/v1/top-up-codes/{code_id}/cancel",
    response_model=st.TopUpCodeOut,
    responses=problem_responses(401, 404, 409, 422),
)
def cancel_code(
    code_id: str, actor: CurrentActor, factory: Db, key: OptionalIdempotencyKey, request: Request
) -> Response:
    """Cancelar un código no canjeado (también uno bloqueado): la cantidad regresa a la cuenta."""
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=None,
        status_code=200,
        fn=lambda s: top_up_codes.cancel_code(s, actor, code_id),
    )


# ---- Public redemption ------------------------------------------------------------------------------

REQUESTS_WINDOW = dt.timedelta(minutes=1)
FAILURES_WINDOW = dt.timedelta(hours=1)
# What counts as a failed guess for the per-address failure limit.
FAILURE_CODES = {ErrorCode.NOT_FOUND.value, ErrorCode.INVALID_CREDENTIALS.value, ErrorCode.CODE_LOCKED.value}


def _buckets(ip: str, settings: Settings) -> list[tuple[str, int, dt.timedelta]]:
    address = ip[:200] or "unknown"
    return [
        ("redeem-ip:" + address, settings.public_requests_per_minute, REQUESTS_WINDOW),
        ("redeem-fail-ip:" + address, settings.public_failures_per_hour, FAILURES_WINDOW),
    ]


def _admit(
    session: Session, buckets: list[tuple[str, int, dt.timedelta]], now: dt.datetime
) -> tuple[DomainError | None, dt.datetime | None]:
    """Count this request, and reserve it a failure slot (given back unless it fails): atomic UPSERTs
    (`throttle.take`), so parallel guesses cannot all pass a count read before any was written.
    Returns (the 429 to raise after committing, or None; the failure window to give back to)."""
    window_start: dt.datetime | None = None
    for bucket, limit, window in buckets:
        wait, window_start = throttle.take(session, bucket, limit, window, now)
        if wait is not None:
            return DomainError(
                ErrorCode.TOO_MANY_ATTEMPTS,
                "Demasiados intentos de canje desde esta dirección. Espere un momento e intente de nuevo.",
                extra={"retry_after": max(1, math.ceil(wait))},
            ), None
    return None, window_start


def _redeem(session: Session, body: st.RedeemIn, now: dt.datetime) -> tuple[int, dict[str, Any]]:
    """The redemption's answer; a wrong NIP is counted on the code in this transaction, which commits
    with the rejection as its answer."""
    try:
        with session.begin_nested():
            result = top_up_codes.redeem(
                session,
                code=body.code,
                nip=body.nip,
                stamping_account_id=body.stamping_account_id,
                client_id=body.client_id,
                now=now,
            )
    except DomainError as error:
        if not error.extra.get("nip_failed"):
            raise
        counted = top_up_codes.register_failed_nip(session, code=body.code, now=now)
        if counted["locked"]:
            error = DomainError(
                ErrorCode.CODE_LOCKED,
                "El NIP no es correcto y el código de abono quedó bloqueado por demasiados intentos. "
                "Comuníquese con su distribuidor.",
            )
        else:
            error = DomainError(error.code, error.detail, error.errors)  # without the internal extras
        return error.status, domain_problem(error)
    return 200, result


@router.post(
    "/v1/public/top-up-codes/redeem",
    response_model=st.RedeemOut,
    responses=problem_responses(401, 404, 409, 422, 423, 429),
)
def redeem(
    body: st.RedeemIn, factory: Db, key: OptionalIdempotencyKey, request: Request, ip: ClientIp
) -> Response:
    """Canjear un código de abono con su NIP (público, sin sesión). Timbres: a una CTI estándar
    (`stamping_account_id`); puntos: a un cliente (`client_id`), del mismo distribuidor. NIP incorrecto:
    401 `invalid_credentials`; al quinto, 423 `code_locked`. Limitado por dirección: 429 con `Retry-After`."""
    settings: Settings = request.app.state.settings
    now = utcnow()
    buckets = _buckets(ip, settings)
    refused, failure_window = db.run(factory, _admit, buckets, now)
    if refused is not None:
        raise refused
    failed = True
    try:
        if key is None:
            status, answer = db.run(factory, _redeem, body, now)
        else:
            status, answer = idempotency.idempotent(
                factory,
                scope="public:redeem",
                key=key,
                method=request.method,
                path=request.url.path,
                body=body.model_dump(mode="json"),
                fn=lambda s: _redeem(s, body, now),
                retention_days=settings.idempotency_retention_days,
            )
    except DomainError as error:
        failed = error.code.value in FAILURE_CODES
        raise
    else:
        failed = status >= 400 and answer.get("code") in FAILURE_CODES
    finally:
        if not failed and failure_window is not None:
            # Not a failed guess: the failure slot this request reserved is given back.
            db.run(factory, throttle.give_back, buckets[1][0], failure_window)
    if status >= 400:
        return problem_response(answer)
    return json_response(answer, status)
