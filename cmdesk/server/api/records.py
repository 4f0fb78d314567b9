"""A client's records (API.md, last section): its interactions (dated notes) and support policies.

Items are addressed under their client (`/v1/clients/{id}/policies/{pid}`): one of another client —
or of another account — answers 404, the same as a missing id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from cmdesk.domain.errors import not_found
from cmdesk.server import db
from cmdesk.server.api import schemas_tools as st
from cmdesk.server.api.deps import CurrentActor, Db, IfMatch, Pagination
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import records
from cmdesk.server.operations.context import Actor

router = APIRouter(tags=["client records"])

Loader = Callable[[Session, list[str]], dict[str, dict[str, Any]]]


def _check_belongs(session: Session, loader: Loader, item_id: str, client_id: str, what: str) -> None:
    """404 unless the item exists and is the client's (the operation then checks the account)."""
    view = loader(session, [item_id]).get(item_id)
    if view is None or view["client_id"] != client_id:
        raise not_found(what)


# ---- Interactions -----------------------------------------------------------------------------------


@router.get(
    "/v1/clients/{client_id}/interactions",
    response_model=st.InteractionList,
    responses=problem_responses(401, 404, 422),
)
def list_interactions(client_id: str, actor: CurrentActor, factory: Db, page: Pagination) -> dict[str, Any]:
    """Las interacciones del cliente, la más reciente primero."""
    return st.paged(db.run(factory, records.list_interactions, actor, client_id), page)


@router.post(
    "/v1/clients/{client_id}/interactions",
    status_code=201,
    response_model=st.Interaction,
    responses=problem_responses(401, 404, 422),
)
def add_interaction(
    client_id: str, body: st.InteractionIn, actor: CurrentActor, factory: Db
) -> dict[str, Any]:
    """Registrar una interacción (llamada, visita, acuerdo); `occurred_at` por omisión es ahora."""
    return db.run(
        factory, records.add_interaction, actor, client_id, text=body.text, occurred_at=body.occurred_at
    )


def _delete_interaction(session: Session, actor: Actor, client_id: str, interaction_id: str) -> None:
    _check_belongs(session, records.load_interactions, interaction_id, client_id, "La interacción")
    records.delete_interaction(session, actor, interaction_id)


@router.delete(
    "/v1/clients/{client_id}/interactions/{interaction_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404),
)
def delete_interaction(client_id: str, interaction_id: str, actor: CurrentActor, factory: Db) -> Response:
    db.run(factory, _delete_interaction, actor, client_id, interaction_id)
    return Response(status_code=204)


# ---- Support policies -------------------------------------------------------------------------------


@router.get(
    "/v1/clients/{client_id}/policies",
    response_model=st.PolicyList,
    responses=problem_responses(401, 404, 422),
)
def list_policies(client_id: str, actor: CurrentActor, factory: Db, page: Pagination) -> dict[str, Any]:
    """Las pólizas del cliente, la de fin más lejano primero."""
    return st.paged(db.run(factory, records.list_policies, actor, client_id), page)


@router.post(
    "/v1/clients/{client_id}/policies",
    status_code=201,
    response_model=st.Policy,
    responses=problem_responses(401, 404, 422),
)
def add_policy(client_id: str, body: st.PolicyIn, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Registrar una póliza de soporte del cliente para un producto, vigente de `starts_on` a `ends_on`."""
    return db.run(
        factory,
        records.add_policy,
        actor,
        client_id,
        product=body.product,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        reference=body.reference,
    )


def _update_policy(
    session: Session,
    actor: Actor,
    client_id: str,
    policy_id: str,
    expected: int | None,
    fields: dict[str, Any],
) -> dict[str, Any]:
    _check_belongs(session, records.load_policies, policy_id, client_id, "La póliza")
    return records.update_policy(session, actor, policy_id, expected_version=expected, **fields)


@router.patch(
    "/v1/clients/{client_id}/policies/{policy_id}",
    response_model=st.Policy,
    responses=problem_responses(401, 404, 412, 422),
)
def update_policy(
    client_id: str, policy_id: str, body: st.PolicyPatch, actor: CurrentActor, factory: Db, if_match: IfMatch
) -> dict[str, Any]:
    """Modificar una póliza. Con `If-Match` y una versión vieja: 412 `version_conflict` con `current`."""
    return db.run(
        factory, _update_policy, actor, client_id, policy_id, if_match, body.model_dump(exclude_unset=True)
    )


def _delete_policy(
    session: Session, actor: Actor, client_id: str, policy_id: str, expected: int | None
) -> None:
    _check_belongs(session, records.load_policies, policy_id, client_id, "La póliza")
    records.delete_policy(session, actor, policy_id, expected_version=expected)


@router.delete(
    "/v1/clients/{client_id}/policies/{policy_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404, 412, 422),
)
def delete_policy(
    client_id: str, policy_id: str, actor: CurrentActor, factory: Db, if_match: IfMatch
) -> Response:
    db.run(factory, _delete_policy, actor, client_id, policy_id, if_match)
    return Response(status_code=204)
