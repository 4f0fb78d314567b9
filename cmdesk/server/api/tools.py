"""Herramientas (API.md, last section): the account's price packages, its users and its global settings.

The client panel's purchase (`tools.panel_purchase`) has no endpoint here: the client panel (PCC) is
outside cmdesk and authenticates clients, which this API does not.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from cmdesk.server import db
from cmdesk.server.api import schemas_tools as st
from cmdesk.server.api.deps import CurrentActor, Db, IfMatch, Pagination
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import tools

router = APIRouter(tags=["tools"])

# ---- Price packages ---------------------------------------------------------------------------------


@router.get("/v1/price-packages", response_model=st.PricePackageList, responses=problem_responses(401, 422))
def list_price_packages(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    asset: st.AssetName | None = None,
    for_distributors: bool | None = None,
) -> dict[str, Any]:
    """Los paquetes de precios de la cuenta: por tipo, los de clientes antes que los de distribuidores."""
    items = db.run(factory, tools.list_price_packages, actor, asset=asset, for_distributors=for_distributors)
    return st.paged(items, page)


@router.post(
    "/v1/price-packages",
    status_code=201,
    response_model=st.PricePackage,
    responses=problem_responses(401, 409, 422),
)
def create_price_package(body: st.PricePackageIn, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Agregar un paquete (precio con IVA). Los paquetes para distribuidores requieren Multinivel."""
    return db.run(
        factory,
        tools.create_price_package,
        actor,
        asset=body.asset,
        quantity=body.quantity,
        price_cents=body.price_cents,
        description=body.description,
        for_distributors=body.for_distributors,
    )


@router.patch(
    "/v1/price-packages/{package_id}",
    response_model=st.PricePackage,
    responses=problem_responses(401, 404, 409, 412, 422),
)
def update_price_package(
    package_id: str, body: st.PricePackagePatch, actor: CurrentActor, factory: Db, if_match: IfMatch
) -> dict[str, Any]:
    """Modificar un paquete. Con `If-Match` y una versión vieja: 412 `version_conflict` con `current`."""
    return db.run(
        factory,
        tools.update_price_package,
        actor,
        package_id,
        expected_version=if_match,
        **body.model_dump(exclude_unset=True),
    )


@router.delete(
    "/v1/price-packages/{package_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404, 409, 412, 422),
)
def delete_price_package(package_id: str, actor: CurrentActor, factory: Db, if_match: IfMatch) -> Response:
    """Eliminar un paquete (no el último de timbres para clientes si se venden timbres por el PCC)."""
    db.run(factory, tools.delete_price_package, actor, package_id, expected_version=if_match)
    return Response(status_code=204)


# ---- Users ------------------------------------------------------------------------------------------


@router.get("/v1/users", response_model=st.UserList, responses=problem_responses(401, 422))
def list_users(actor: CurrentActor, factory: Db, page: Pagination) -> dict[str, Any]:
    """Los usuarios de la cuenta, el maestro primero."""
    return st.paged(db.run(factory, tools.list_users, actor), page)


@router.post(
    "/v1/users", status_code=201, response_model=st.UserCreated, responses=problem_responses(401, 409, 422)
)
def add_user(body: st.UserIn, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Nuevo usuario: invita a una persona (por su correo y móvil) con un rol. Tendrá acceso cuando acepte
    la invitación desde su correo. Responde lo mismo exista o no un perfil con ese correo o móvil."""
    return db.run(
        factory, tools.add_user, actor, email=body.email, mobile=body.mobile, name=body.name, role=body.role
    )


@router.patch(
    "/v1/users/{profile_id}", response_model=st.User, responses=problem_responses(401, 403, 404, 409, 422)
)
def set_user_role(profile_id: str, body: st.UserRoleIn, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Cambiar el rol de un usuario: Administrador u Operador. El usuario maestro siempre es
    administrador (409). Aplica desde la siguiente petición de esa persona."""
    return db.run(factory, tools.set_user_role, actor, profile_id, body.role)


@router.delete(
    "/v1/users/{profile_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404, 409),
)
def remove_user(profile_id: str, actor: CurrentActor, factory: Db) -> Response:
    """Quitar el acceso de un usuario (sus sesiones en la cuenta terminan). Nunca el usuario maestro."""
    db.run(factory, tools.remove_user, actor, profile_id)
    return Response(status_code=204)


# ---- Settings ---------------------------------------------------------------------------------------


@router.get("/v1/settings", response_model=st.AccountSettingsOut, responses=problem_responses(401))
def get_settings(actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Configuraciones globales de la cuenta."""
    return db.run(factory, tools.get_settings, actor)


@router.patch(
    "/v1/settings", response_model=st.AccountSettingsOut, responses=problem_responses(401, 412, 422)
)
def update_settings(
    body: st.AccountSettingsPatch, actor: CurrentActor, factory: Db, if_match: IfMatch
) -> dict[str, Any]:
    """Cambiar las configuraciones globales (las opciones omitidas o nulas conservan su valor)."""
    return db.run(
        factory,
        tools.update_settings,
        actor,
        expected_version=if_match,
        bulk_stamp_price_cents=body.bulk_stamp_price_cents,
        allow_panel_stamp_purchase=body.allow_panel_stamp_purchase,
        allow_panel_point_purchase=body.allow_panel_point_purchase,
        auto_stamp_purchase=body.auto_stamp_purchase,
    )
