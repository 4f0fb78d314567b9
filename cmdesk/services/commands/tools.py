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

# Fields of `POST /v1/users`' answer that describe the membership, not the profile the cache keeps.
_MEMBERSHIP_FIELDS = ("role", "is_master", "member_since")


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


def create_price_package(api: ApiClient, cache: Cache, values: Mapping[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = api.post("/v1/price-packages", dict(values))
    cache.apply_answer("price_package", answer)
    return answer


def update_price_package(
    api: ApiClient, cache: Cache, package_id: str, changes: Mapping[str, Any], version: int | None
) -> dict[str, Any]:
    return edit_answer(
        cache,
        "price_package",
        lambda: api.patch(f"/v1/price-packages/{package_id}", dict(changes), if_match=version),
    )


def delete_price_package(api: ApiClient, cache: Cache, package_id: str) -> None:
    api.delete(f"/v1/price-packages/{package_id}")
    cache.apply_deleted("price_package", package_id)


def update_settings(
    api: ApiClient, cache: Cache, changes: Mapping[str, Any], version: int | None
) -> dict[str, Any]:
    return edit_answer(cache, "settings", lambda: api.patch("/v1/settings", dict(changes), if_match=version))


def add_user(api: ApiClient, cache: Cache, *, email: str, mobile: str, name: str) -> dict[str, Any]:
    """Nuevo usuario: the server links an existing profile or creates one; a person without a password
    gets an invitation mail to define it, one who has one a notice (`user.invitation`, kept in the
    cache beside the profile)."""
    answer: dict[str, Any] = api.post("/v1/users", {"email": email, "mobile": mobile, "name": name})
    user = {k: v for k, v in answer["user"].items() if k not in _MEMBERSHIP_FIELDS}
    invitation = user.pop("invitation", None)
    cache.apply_answer("profile", user)
    if isinstance(invitation, dict):
        cache.apply_answer("invitation", invitation)
    return answer


def remove_user(api: ApiClient, cache: Cache, user_id: str) -> None:
    """Eliminar usuario: their sessions end at once (the server refuses the master)."""
    api.delete(f"/v1/users/{user_id}")
    cache.apply_deleted("profile", user_id)
