"""Sub-distributors (manual, "Distribuidores"; API.md, "The rest of the portal"): the list by state,
Alta de distribuidor, the conversion of a client, and the state buttons (activar, suspender, cancelar,
renovar). Creating sub-distributors needs the Multinivel subscription (409 `feature_not_contracted`);
another distributor's sub-accounts answer 404, like missing ones.

Confirmation mails. A new administrator profile confirms its e-mail with a link carrying a token. The
operation queues the mail in its own transaction (`cmdesk.server.mail`): it leaves only if the
creation commits. The token is a credential, so it never travels in an API answer (nor in a stored
idempotent answer, nor in the log): the operations return it to in-process callers, and these routers
drop it and answer only `confirmation_sent` (and, in the distributor, `confirmation_mail`: when it
went out, or why not).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response

from cmdesk.server import db
from cmdesk.server.api import schemas_distributors as sd
from cmdesk.server.api.deps import (
    CurrentActor,
    Db,
    IdempotencyKey,
    OptionalIdempotencyKey,
    Page,
    Pagination,
    decode_cursor,
    encode_cursor,
    idempotent_call,
)
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import distributors

log = logging.getLogger(__name__)

router = APIRouter(tags=["distributors"])

# ---------------------------------------------------------------------------------------------------
# Shared by this package's routers


def offset_page(items: list[dict[str, Any]], page: Page) -> dict[str, Any]:
    """A page of a short list the operation returns whole (sub-distributors, contracts, licenses): the
    cursor is the offset of the next item."""
    start = 0
    if page.cursor:
        value = decode_cursor(page.cursor, 1)[0]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            decode_cursor("", 1)  # raises the 422 on `cursor`
        start = int(value)
    end = start + page.limit
    return {"items": items[start:end], "next_cursor": encode_cursor([end]) if end < len(items) else None}


def without_token(result: dict[str, Any]) -> dict[str, Any]:
    """An operation's answer without the confirmation token, and whether a confirmation mail is due."""
    token = result.pop("confirmation_token", None)
    return {**result, "confirmation_sent": token is not None}


# ---------------------------------------------------------------------------------------------------
# Endpoints


@router.get("/v1/distributors", response_model=sd.DistributorList, responses=problem_responses(401, 422))
def list_distributors(
    actor: CurrentActor, factory: Db, page: Pagination, status: sd.StatusName | None = None
) -> dict[str, Any]:
    """Distribuidores: los sub-distribuidores propios por NIC, todos o los de un estado (las pestañas
    Sin validar, Sin activar, Activo, Suspendido, Cancelado y Vencido del portal)."""
    return offset_page(db.run(factory, distributors.list_distributors, actor, status), page)


@router.post(
    "/v1/distributors", status_code=201, response_model=sd.DistributorCreated,
    responses=problem_responses(401, 409, 422),
)
def create_distributor(
    body: sd.DistributorCreate, actor: CurrentActor, factory: Db, key: OptionalIdempotencyKey,
    request: Request,
) -> Response:
    """Alta de distribuidor: una sub-cuenta «Sin validar» hasta que su administrador confirme el correo
    (requiere Multinivel). El enlace de confirmación viaja por correo, nunca en la respuesta."""
    data = body.model_dump()
    return idempotent_call(
        request, factory, scope=actor.account_id, key=key, body=body,
        fn=lambda s: without_token(distributors.create_sub_distributor(s, actor, **data)),
    )


@router.get(
    "/v1/distributors/{distributor_id}", response_model=sd.Distributor, responses=problem_responses(401, 404)
)
def get_distributor(distributor_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Un sub-distribuidor propio."""
    return db.run(factory, distributors.read_distributor, actor, distributor_id)


@router.post(
    "/v1/distributors/{distributor_id}/activate", response_model=sd.Distributor,
    responses=problem_responses(401, 404, 409),
)
def activate(distributor_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Activar: Sin activar → Activo; también reactiva una cuenta Suspendida o Cancelada (dentro de
    sus 30 días). Una cancelada ya vencida vuelve como Vencido, para renovarse."""
    return db.run(factory, distributors.activate, actor, distributor_id)


@router.post(
    "/v1/distributors/{distributor_id}/suspend", response_model=sd.Distributor,
    responses=problem_responses(401, 404, 409),
)
def suspend(distributor_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Suspender: Activo → Suspendido."""
    return db.run(factory, distributors.suspend, actor, distributor_id)


@router.post(
    "/v1/distributors/{distributor_id}/cancel", response_model=sd.Distributor,
    responses=problem_responses(401, 404, 409),
)
def cancel(distributor_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Cancelar: la cuenta se elimina 30 días después, salvo que se reactive antes."""
    return db.run(factory, distributors.cancel, actor, distributor_id)


@router.post(
    "/v1/distributors/{distributor_id}/renew", response_model=sd.DistributorRenewed,
    responses=problem_responses(401, 404, 409, 422),
)
def renew(
    distributor_id: str, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Renovar: Vencido → Activo por un año más; carga la anualidad y el año completo de cada contrato
    al estado de cuenta del distribuidor renovado."""
    return idempotent_call(
        request, factory, scope=actor.account_id, key=key, body=None, status_code=200,
        fn=lambda s: distributors.renew(s, actor, distributor_id),
    )


@router.post(
    "/v1/distributors/{distributor_id}/resend-confirmation", response_model=sd.ConfirmationResent,
    responses=problem_responses(401, 404, 409),
)
def resend_confirmation(
    distributor_id: str, actor: CurrentActor, factory: Db, request: Request
) -> dict[str, Any]:
    """Reenviar el correo de confirmación de un distribuidor «Sin validar» (con un enlace nuevo; el
    anterior deja de funcionar). `distributor.confirmation_mail` dice cuándo sale o por qué no."""
    return db.run(
        factory, lambda s: without_token(distributors.resend_confirmation(s, actor, distributor_id))
    )


@router.post(
    "/v1/clients/{client_id}/convert-to-distributor", status_code=201, response_model=sd.DistributorConverted,
    responses=problem_responses(401, 404, 409, 422),
)
def convert_client(
    client_id: str, body: sd.ConvertIn, actor: CurrentActor, factory: Db, key: OptionalIdempotencyKey,
    request: Request,
) -> Response:
    """Convertir un cliente en distribuidor: una sub-cuenta con los datos del cliente, que se queda como
    está (con sus CTI y saldos). Un cliente se convierte una sola vez."""
    return idempotent_call(
        request, factory, scope=actor.account_id, key=key, body=body,
        fn=lambda s: without_token(
            distributors.convert_client_to_distributor(
                s, actor, client_id, email=body.email, mobile=body.mobile, profile_name=body.profile_name
            )
        ),
    )
