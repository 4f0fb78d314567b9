"""What Herramientas does, as actions (`cmdesk.ui.kit.actions`): price packages, the global settings and
the account's users — the account's configuration, saved online (the server checks it against the rest
and its refusal is shown at once) — and the lists' loaders (the cache's account queries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import commands
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, online, read
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache


tr = translator("herramientas")


def save_package(
    context: AppContext,
    package: Mapping[str, Any] | None,
    values: Mapping[str, Any],
    *,
    reason: str = "",
    parent: QWidget | None = None,
) -> Action:
    """Agregar (`package` None) or Modificar a price package: only the fields that changed, with the
    version the form started from; `reason`: the user's, for the bitácora."""
    if package is None:
        return online(
            context,
            commands.create_price_package,
            dict(values),
            reason=reason,
            parent=parent,
            label=tr("Guardando"),
        )
    changes = {k: v for k, v in values.items() if package.get(k) != v}
    ident, version = str(package["id"]), package.get("version")
    return online(
        context,
        commands.update_price_package,
        ident,
        changes,
        version,
        reason=reason,
        parent=parent,
        label=tr("Guardando"),
    )


def delete_package(
    context: AppContext, package_id: str, *, reason: str = "", parent: QWidget | None = None
) -> Action:
    label = tr("Eliminar paquete")
    return online(
        context, commands.delete_price_package, package_id, reason=reason, parent=parent, label=label
    )


def save_settings(
    context: AppContext, changes: Mapping[str, Any], version: int | None, *, parent: QWidget | None = None
) -> Action:
    label = tr("Guardando")
    return online(context, commands.update_settings, dict(changes), version, parent=parent, label=label)


def add_user(context: AppContext, *, parent: QWidget | None = None, **fields: Any) -> Action:
    """`commands.add_user`: email, mobile, name, role."""
    return online(context, commands.add_user, parent=parent, label=tr("Nuevo usuario"), **fields)


def set_user_role(
    context: AppContext, user_id: str, role: str, *, parent: QWidget | None = None
) -> Action:
    """`commands.set_user_role`: Administrador u Operador (administrators only; never the master)."""
    return online(
        context, commands.set_user_role, user_id, role, parent=parent, label=tr("Cambiar rol")
    )


def remove_user(context: AppContext, user_id: str, *, parent: QWidget | None = None) -> Action:
    return online(context, commands.remove_user, user_id, parent=parent, label=tr("Eliminar usuario"))


def resend_invitation(context: AppContext, profile_id: str, *, parent: QWidget | None = None) -> Action:
    """Reenviar invitación: a new link for 7 days; the invitation comes back into the cache."""
    label = tr("Reenviar invitación")
    return online(context, commands.resend_invitation, profile_id, parent=parent, label=label)


def read_settings(context: AppContext) -> Action:
    """The account's global settings as the cache has them (None before the first sync)."""
    return read(context, lambda cache: cache.settings())


# ---- the lists' loaders (cache pool) --------------------------------------------------------------------


def load_packages(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return cache.query_price_packages(
        sort=query.sort, descending=query.descending, limit=limit, offset=offset
    )


def load_users(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return cache.query_profiles(sort=query.sort, descending=query.descending, limit=limit, offset=offset)
