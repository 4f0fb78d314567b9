"""What Clientes → Distribuidores does, as actions (`cmdesk.ui.kit.actions`): Alta de distribuidor,
converting a client, and the state buttons — online (they change who can work in the portal), each
followed by a sync. Transfers use the Timbrado tab's `TransferDialog`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import commands
from cmdesk.services.network import fetch_network
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, online
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache


tr = translator("distribuidores")


def create(context: AppContext, body: Mapping[str, Any], *, parent: QWidget | None = None) -> Action:
    """Alta de distribuidor."""
    label = tr("Alta de distribuidor")
    return online(context, commands.create_distributor, body, parent=parent, label=label, sync=True)


def convert_client(
    context: AppContext, client_id: str, body: Mapping[str, Any], *, parent: QWidget | None = None
) -> Action:
    label = tr("Convertir en distribuidor")
    return online(context, commands.convert_client, client_id, body, parent=parent, label=label, sync=True)


def change_state(
    context: AppContext,
    distributor_id: str,
    action: str,
    *,
    reason: str = "",
    parent: QWidget | None = None,
) -> Action:
    """Activar, Suspender, Cancelar, Renovar or Reenviar el correo (`commands.distributors.STATE_PATHS`);
    `reason`: the user's, for the bitácora."""
    label = tr("Distribuidores")
    return online(
        context,
        commands.change_state,
        distributor_id,
        action,
        reason=reason,
        parent=parent,
        label=label,
        sync=True,
    )


def network(
    context: AppContext, *, unvalidated_days: int, expiring_days: int, parent: QWidget | None = None
) -> Action:
    """The network tree (online: `cmdesk.services.network.fetch_network`)."""
    return online(
        context,
        fetch_network,
        unvalidated_days=unvalidated_days,
        expiring_days=expiring_days,
        parent=parent,
        label=tr("Leyendo la red"),
    )


def load_distributors(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    """A page of sub-distributors of the state chosen (all: None), sorted by a field."""
    return cache.query_sub_distributors(
        status=query.get("status"), sort=query.sort, descending=query.descending, limit=limit, offset=offset
    )
