"""Clients and stamping accounts (API.md, "Clients and stamping accounts (CTI)")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cmdesk.domain import codes, passwords
from cmdesk.domain.portfolio import ClientCategory, ClientSort
from cmdesk.server import db, security
from cmdesk.server.api import schemas
from cmdesk.server.api.deps import (
    CurrentActor,
    Db,
    IfMatch,
    OptionalIdempotencyKey,
    Pagination,
    decode_cursor,
    encode_cursor,
    idempotent_call,
)
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import clients, ledger
from cmdesk.server.operations.context import Actor

router = APIRouter(tags=["clients"])

def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor, 1)[0]
    if not isinstance(value, int) or value < 0:
        decode_cursor("", 1)
    return int(value)


def _next(offset: int | None) -> str | None:
    return encode_cursor([offset]) if offset is not None else None


@router.get("/v1/clients", response_model=schemas.ClientList, responses=problem_responses(401, 422))
def list_clients(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    q: Annotated[
        str | None,
        Query(max_length=200, description="NIC, nombre, RFC, teléfonos, correos, contactos o id de CTI"),
    ] = None,
    color: schemas.ColorName | None = None,
    category: ClientCategory = ClientCategory.ALL,
    sort: ClientSort = ClientSort.NAME,
) -> dict[str, Any]:
    items, nxt = db.run(
        factory,
        clients.list_clients,
        actor,
        q=q,
        color=color,
        category=category,
        sort=sort,
        limit=page.limit,
        offset=_offset(page.cursor),
    )
    return {"items": items, "next_cursor": _next(nxt)}


@router.post(
    "/v1/clients",
    status_code=201,
    response_model=schemas.ClientCreated,
    responses=problem_responses(401, 409, 422),
)
def create_client(
    body: schemas.ClientCreate,
    actor: CurrentActor,
    factory: Db,
    key: OptionalIdempotencyKey,
    request: Request,
) -> Response:
    data = body.model_dump(exclude_unset=True)
    password = codes.generate_password()  # the new CTI's, hashed before the transaction opens
    with security.prehashed(password):
        return idempotent_call(
            request,
            factory,
            scope=actor.account_id,
            key=key,
            body=body,
            fn=lambda s: clients.create_client(s, actor, data, password=password),
        )


@router.post(
    "/v1/clients/tags", response_model=list[schemas.ClientPublic], responses=problem_responses(401, 404, 422)
)
def set_tags(body: schemas.TagsIn, actor: CurrentActor, factory: Db) -> list[dict[str, Any]]:
    """Classify many clients at once (Favoritos, Bajas, color; `color: "none"` removes it)."""
    color: str | bool | None = False
    if "color" in body.model_fields_set:
        color = None if body.color in (None, "none") else body.color
    return db.run(
        factory,
        clients.set_tags,
        actor,
        body.client_ids,
        favorite=body.favorite,
        dropped=body.dropped,
        color=color,
    )


@router.get(
    "/v1/clients/{client_id}", response_model=schemas.ClientPublic, responses=problem_responses(401, 404)
)
def get_client(client_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    return db.run(factory, clients.read_client, actor, client_id)


@router.patch(
    "/v1/clients/{client_id}",
    response_model=schemas.ClientPublic,
    responses=problem_responses(401, 404, 412, 422),
)
def update_client(
    client_id: str, body: schemas.ClientUpdate, actor: CurrentActor, factory: Db, if_match: IfMatch
) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    return db.run(factory, clients.update_client, actor, client_id, data, expected_version=if_match)


@router.put(
    "/v1/clients/{client_id}/admin-profile",
    response_model=schemas.ClientPublic,
    responses=problem_responses(401, 404, 409, 422),
)
def set_admin_profile(
    client_id: str, body: schemas.AdminProfileIn, actor: CurrentActor, factory: Db
) -> dict[str, Any]:
    return db.run(factory, clients.set_admin_profile, actor, client_id, email=body.email, mobile=body.mobile)


@router.post(
    "/v1/clients/{client_id}/stamping-accounts",
    status_code=201,
    response_model=schemas.StampingAccountPublic,
    responses=problem_responses(401, 404, 409, 422),
)
def create_stamping_account(
    client_id: str,
    body: schemas.StampingAccountCreate,
    actor: CurrentActor,
    factory: Db,
    key: OptionalIdempotencyKey,
    request: Request,
) -> Response:
    with security.prehashed(body.password, check=passwords.check_password):  # Argon2 before the transaction
        return _create_stamping_account(request, factory, actor, client_id, body, key)


def _create_stamping_account(
    request: Request,
    factory: db.SessionFactory,
    actor: Actor,
    client_id: str,
    body: schemas.StampingAccountCreate,
    key: str | None,
) -> Response:
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=body,
        fn=lambda s: clients.create_stamping_account(
            s,
            actor,
            client_id,
            kind=body.kind,
            id=body.id,
            password=body.password,
            password_confirmation=body.password_confirmation,
            rfc_restriction=body.rfc_restriction,
            fee_payer=body.fee_payer,
        ),
    )


@router.get(
    "/v1/stamping-accounts", response_model=schemas.StampingAccountList, responses=problem_responses(401, 422)
)
def list_stamping_accounts(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    client_id: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    items, nxt = db.run(
        factory,
        clients.list_stamping_accounts,
        actor,
        client_id=client_id,
        limit=page.limit,
        offset=_offset(page.cursor),
    )
    return {"items": items, "next_cursor": _next(nxt)}


@router.get(
    "/v1/stamping-accounts/{cti_id}",
    response_model=schemas.StampingAccountPublic,
    responses=problem_responses(401, 404),
)
def get_stamping_account(cti_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    return db.run(factory, clients.read_stamping_account, actor, cti_id)


@router.patch(
    "/v1/stamping-accounts/{cti_id}",
    response_model=schemas.StampingAccountPublic,
    responses=problem_responses(401, 404, 422),
)
def patch_stamping_account(
    cti_id: str, body: schemas.StampingAccountPatch, actor: CurrentActor, factory: Db
) -> dict[str, Any]:
    """Bloquear (`active: false`) o reactivar (`active: true`) una cuenta de timbrado."""
    return db.run(factory, clients.set_stamping_account_active, actor, cti_id, active=body.active)


@router.post(
    "/v1/stamping-accounts/{cti_id}/password",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404, 422),
)
def reset_password(
    cti_id: str, body: schemas.PasswordIn, actor: CurrentActor, factory: Db, request: Request
) -> Response:
    with security.prehashed(body.password, check=passwords.check_password):  # Argon2 before the transaction
        db.run(
            factory,
            clients.reset_stamping_password,
            actor,
            cti_id,
            password=body.password,
            password_confirmation=body.password_confirmation,
        )
    cache = getattr(request.app.state, "credential_cache", None)
    if cache is not None:
        cache.forget(cti_id)
    return Response(status_code=204)


@router.put(
    "/v1/stamping-accounts/{cti_id}/auto-sale",
    response_model=schemas.StampingAccountPublic,
    responses=problem_responses(401, 404, 422),
)
def set_auto_sale(cti_id: str, body: schemas.AutoSaleIn, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    return db.run(
        factory,
        clients.set_auto_sale,
        actor,
        cti_id,
        minimum=body.minimum,
        credit=body.credit,
        amount_cents=body.amount_cents,
        enabled=body.enabled,
    )


@router.get(
    "/v1/stamping-accounts/{cti_id}/usage",
    response_model=schemas.Usage,
    responses=problem_responses(401, 404, 422),
)
def usage(
    cti_id: str, actor: CurrentActor, factory: Db, days: Annotated[int, Query(ge=1, le=3660)] = 90
) -> dict[str, Any]:
    return db.run(factory, ledger.usage_report, actor, cti_id, days=days)
