"""Clientes → Distribuidores: the page of sub-distributors and its dialogs.

Importing the package registers the page as `clientes.distribuidores`. The Clientes tab converts a
client into a distributor with `convert_client(context, client_id, parent)`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from cmdesk.ui import tabs
from cmdesk.ui.distribuidores.dialogs import AddDistributorDialog, ConvertClientDialog
from cmdesk.ui.distribuidores.dialogs import tr as _tr
from cmdesk.ui.distribuidores.page import DistributorsPage
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.messages import inform

__all__ = [
    "AddDistributorDialog",
    "ConvertClientDialog",
    "DistributorsPage",
    "convert_client",
]

tabs.register("clientes.distribuidores", DistributorsPage)


def convert_client(context: AppContext, client_id: str, parent: QWidget | None = None) -> ConvertClientDialog:
    """Open «Convertir en distribuidor» for a client of the cache (the Clientes tab's context action).
    Returns the dialog (already open); its `done_ok(answer)` fires once the sub-account exists (a sync
    follows), after the user was told so."""
    session = context.session
    client: dict[str, Any] = {"id": client_id}
    if session is not None and session.cache is not None:
        client = session.cache.get("client", client_id) or client
    dialog = ConvertClientDialog(context, client, parent)

    def created(answer: dict[str, Any]) -> None:
        distributor = answer.get("distributor") or {}
        host = parent or dialog
        inform(
            host,
            _tr("Convertir en distribuidor"),
            _tr(
                "Se creó la cuenta de distribuidor {name} (NIC {nic}). Aparece en Clientes → Distribuidores; "
                "actívela cuando su administrador haya confirmado el correo."
            ).format(name=distributor.get("name") or "", nic=distributor.get("nic") or ""),
        )

    dialog.done_ok.connect(created)
    dialog.open()
    return dialog
