"""What Herramientas does, as actions (`cmdesk.ui.kit.actions`): price packages, the global settings and
the account's users — the account's configuration, saved online (the server checks it against the rest
and its refusal is shown at once) — and the lists' loaders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from cmdesk.services import commands
from cmdesk.ui.kit.actions import Action, AppContext, online, read
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache


def tr(text: str) -> str:
    return QCoreApplication.translate("herramientas", text)


def save_package(
    context: AppContext,
    package: Mapping[str, Any] | None,
    values: Mapping[str, Any],
    *,
    parent: QWidget | None = None,
) -> Action:
    """Agregar (`package` None) or Modificar a price package: only the fields that changed, with the
    version the form started from."""
    if package is None:
        return online(
            context, commands.create_price_package, dict(values), parent=parent, label=tr("Guardando")
        )
    changes = {k: v for k, v in values.items() if package.get(k) != v}
    return online(
        context,
        commands.update_price_package,
        str(package["id"]),
        changes,
        package.get("version"),
        parent=parent,
        label=tr("Guardando"),
    )


def delete_package(context: AppContext, package_id: str, *, parent: QWidget | None = None) -> Action:
    return online(
        context, commands.delete_price_package, package_id, parent=parent, label=tr("Eliminar paquete")
    )


def save_settings(
    context: AppContext, changes: Mapping[str, Any], version: int | None, *, parent: QWidget | None = None
) -> Action:
    return online(
        context, commands.update_settings, dict(changes), version, parent=parent, label=tr("Guardando")
    )


def add_user(
    context: AppContext, *, email: str, mobile: str, name: str, parent: QWidget | None = None
) -> Action:
    return online(
        context,
        commands.add_user,
        email=email,
        mobile=mobile,
        name=name,
        parent=parent,
        label=tr("Nuevo usuario"),
    )


def remove_user(context: AppContext, user_id: str, *, parent: QWidget | None = None) -> Action:
    return online(context, commands.remove_user, user_id, parent=parent, label=tr("Eliminar usuario"))


def read_settings(context: AppContext) -> Action:
    """The account's global settings as the cache has them (None before the first sync)."""

    def settings(cache: Cache) -> dict[str, Any] | None:
        rows = cache.all("settings")
        return next((r for r in rows if r.get("id") == cache.account_id), rows[0] if rows else None)

    return read(context, settings)


# ---- the lists' loaders (cache pool) --------------------------------------------------------------------


def load_packages(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    # The server's order: by type (stamps first), clients' before distributors', smaller first.
    order = (
        [(query.sort, query.descending)]
        if query.sort
        else [("asset", True), ("for_distributors", False), ("quantity", False)]
    )
    return cache.query_entities("price_package", order=order, limit=limit, offset=offset)


def load_users(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    """The account's profiles, the master first (the account's settings name it)."""
    settings = cache.all("settings")
    master = next((s.get("master_profile_id") for s in settings if s.get("master_profile_id")), None)
    rows = cache.query_entities("profile", order=[(query.sort or "name", query.descending)], limit=100_000)
    for row in rows:
        row["is_master"] = row.get("id") == master
    if query.sort is None:
        rows.sort(key=lambda r: not r["is_master"])  # stable: by name after the master
    return rows[offset : offset + limit]
