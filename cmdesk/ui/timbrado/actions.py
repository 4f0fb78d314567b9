"""What the Timbrado screens do, as actions (`cmdesk.ui.kit.actions`): transfers, the bulk transfer and
the automatic sale, blocking and reactivating (queued: sent at once when online, pending otherwise, and
watched until the server settles them); creating a CTI and resetting its password (online: they carry
a password); the daily usage of CTIs (online, kept in the cache); and the cache reads the dialogs need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import commands
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, command, online, read

if TYPE_CHECKING:
    pass


tr = translator("timbrado")


def transfer(context: AppContext, *, parent: QWidget | None = None, **fields: Any) -> Action:
    """Transferir timbres o puntos (`commands.transfer`: asset, target_type, target_id, quantity,
    amount_cents, comments): one queued command; the server decides."""
    label = tr("Registrando la transferencia")
    return command(context, commands.transfer, parent=parent, label=label, **fields)


def bulk_transfer(
    context: AppContext, items: Sequence[Mapping[str, Any]], *, parent: QWidget | None = None
) -> Action:
    """Transferencia masiva: one command, all the items or none."""
    label = tr("Registrando la transferencia masiva")
    return command(context, commands.bulk_transfer, list(items), parent=parent, label=label)


def auto_sale(
    context: AppContext, rules: Sequence[tuple[str, Mapping[str, Any]]], *, parent: QWidget | None = None
) -> Action:
    """Venta automática: one command per CTI (`rules`: CTI id → minimum, credit, amount, enabled)."""
    label = tr("Registrando la venta automática")
    return command(context, commands.set_auto_sales, list(rules), parent=parent, label=label)


def set_active(
    context: AppContext, cti_ids: Sequence[str], active: bool, *, parent: QWidget | None = None
) -> Action:
    """Bloquear / Reactivar CTIs: one command each."""
    label = tr("Registrando el cambio")
    return command(context, commands.set_ctis_active, list(cti_ids), active, parent=parent, label=label)


def create_account(
    context: AppContext, client_id: str, *, parent: QWidget | None = None, **fields: Any
) -> Action:
    """Crear cuenta de timbrado (online: it carries a password; `commands.create_stamping_account`:
    kind, password, password_confirmation, id, rfc_restriction)."""
    label = tr("Creando la cuenta de timbrado")
    return online(context, commands.create_stamping_account, client_id, parent=parent, label=label, **fields)


def reset_password(
    context: AppContext, cti_id: str, *, parent: QWidget | None = None, **fields: Any
) -> Action:
    """Restablecer contraseña (online: it carries a password, and its confirmation)."""
    label = tr("Restableciendo la contraseña")
    return online(context, commands.reset_stamping_password, cti_id, parent=parent, label=label, **fields)


def pay_unlimited_fee(
    context: AppContext, cti_id: str, *, payer: str, years: int = 1, parent: QWidget | None = None
) -> Action:
    """Pagar / renovar la cuota anual de una CTI ilimitada (online: the server says until when)."""
    label = tr("Pagando la cuota anual")
    return online(
        context, commands.pay_unlimited_fee, cti_id, payer=payer, years=years, parent=parent, label=label
    )


def fetch_catalog(context: AppContext) -> Action:
    """Induxsoft's catalog, downloaded again (it says what a year of an unlimited CTI costs)."""
    return online(context, commands.fetch_catalog, label=tr("Consultando el catálogo"))


def fetch_usage(context: AppContext, items: Sequence[tuple[str, int | None]]) -> Action:
    """The daily usage of CTIs (id, issued count now), fetched and kept in the cache."""
    return online(
        context, commands.fetch_usage, list(items), label=tr("Consultando el consumo de las cuentas")
    )


# ---- reads ----------------------------------------------------------------------------------------------


def transfer_info(
    context: AppContext, target_type: str, target_id: str, client_ids: Sequence[str] = ()
) -> Action:
    """What a transfer form shows (`commands.transfer_info`)."""
    session = context.session
    outbox = session.outbox if session is not None else None
    return read(context, commands.transfer_info, outbox, target_type, target_id, list(client_ids))


def unlimited_fee_info(context: AppContext, client_id: str | None) -> Action:
    """The unlimited fee in points and the points of the client and of the distributor."""
    return read(context, commands.unlimited_fee_info, client_id)


def search_clients(context: AppContext, text: str) -> Action:
    """The first clients that match a search, by name (a dialog's client picker)."""
    return read(context, lambda cache: cache.query_clients(q=text.strip() or None, sort="name", limit=30))
