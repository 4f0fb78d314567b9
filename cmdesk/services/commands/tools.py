"""Herramientas' changes: price packages, the global settings and the account's users. They are the
account's configuration, checked by the server against its other settings, so they go online and the
server's refusal is shown at once. Edits carry `If-Match`: on a version conflict the server's current
record is kept in the cache (the form shows it) and the refusal goes up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cmdesk.domain.errors import ErrorCode
from cmdesk.services.api_client import ApiClient, ApiError
from cmdesk.services.cache import Cache


def edit_answer(cache: Cache, entity: str, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Send an edit; keep the answer (or, on a version conflict, the server's current record)."""
    try:
        answer = send()
    except ApiError as error:
        current = error.body.get("current")
        if error.code == ErrorCode.VERSION_CONFLICT.value and isinstance(current, dict):
            cache.apply_answer(entity, current)
        raise
    cache.apply_answer(entity, answer)
    return answer


def create_price_package(
    api: ApiClient, cache: Cache, values: Mapping[str, Any], *, reason: str = ""
) -> dict[str, Any]:
    answer: dict[str, Any] = api.post("/v1/price-packages", dict(values), reason=reason or None)
    cache.apply_answer("price_package", answer)
    return answer


def update_price_package(
    api: ApiClient,
    cache: Cache,
    package_id: str,
    changes: Mapping[str, Any],
    version: int | None,
    *,
    reason: str = "",
) -> dict[str, Any]:
    """Modificar un paquete de precios; `reason`: the user's, for the bitácora."""
    return edit_answer(
        cache,
        "price_package",
        lambda: api.patch(
            f"/v1/price-packages/{package_id}", dict(changes), if_match=version, reason=reason or None
        ),
    )


def delete_price_package(api: ApiClient, cache: Cache, package_id: str, *, reason: str = "") -> None:
    api.delete(f"/v1/price-packages/{package_id}", reason=reason or None)
    cache.apply_deleted("price_package", package_id)


def update_settings(
    api: ApiClient, cache: Cache, changes: Mapping[str, Any], version: int | None
) -> dict[str, Any]:
    return edit_answer(cache, "settings", lambda: api.patch("/v1/settings", dict(changes), if_match=version))


def add_user(
    api: ApiClient, cache: Cache, *, email: str, mobile: str, name: str, role: str = "operator"
) -> dict[str, Any]:
    """Nuevo usuario: the server invites the person (an e-mail to accept), with their role in the
    account (`domain.roles`: "admin" or "operator"). The answer is the same whether or not the e-mail
    has a profile (issue 15): a pending user under the invitation's id. The invitation is kept in the
    cache (`query_profiles` lists it as pending); the person becomes a user of the account — and a
    profile of the feed — when they accept."""
    body = {"email": email, "mobile": mobile, "name": name, "role": role}
    answer: dict[str, Any] = api.post("/v1/users", body)
    invitation = answer["user"].get("invitation")
    if isinstance(invitation, dict):
        cache.apply_answer("invitation", invitation)
    return answer


def set_user_role(api: ApiClient, cache: Cache, user_id: str, role: str) -> dict[str, Any]:
    """Usuarios → Cambiar rol: make a user (or a pending one: the role they will get) an Administrador
    or an Operador (`domain.roles.ASSIGNABLE`); the server refuses it for the master, who is always
    an administrator, and for an operator. The cache gets the new role at once: a pending user's
    invitation, or the account's settings (their `member_roles`)."""
    answer: dict[str, Any] = api.patch(f"/v1/users/{user_id}", {"role": role})
    invitation = answer.get("invitation")
    if answer.get("member_since") is None and isinstance(invitation, dict):
        cache.apply_answer("invitation", invitation)
    else:
        cache.apply_answer("settings", api.get("/v1/settings"))
    return answer


def remove_user(api: ApiClient, cache: Cache, user_id: str) -> None:
    """Eliminar usuario: their sessions end at once (the server refuses the master); a pending user's
    invitation is withdrawn (its link stops working)."""
    api.delete(f"/v1/users/{user_id}")
    cache.apply_deleted("profile", user_id)
    cache.apply_deleted("invitation", user_id)  # a pending user: their invitation is withdrawn
