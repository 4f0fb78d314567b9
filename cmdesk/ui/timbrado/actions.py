"""What the Timbrado screens do, as actions (`cmdesk.ui.kit.actions`): transfers, the bulk transfer and
the automatic sale, blocking and reactivating (queued: sent at once when online, pending otherwise, and
watched until the server settles them); creating a CTI and resetting its password (online: they carry
a password); the daily usage of CTIs (online, kept in the cache); and the cache reads the dialogs need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from cmdesk.services import commands
from cmdesk.ui.kit.actions import Action, AppContext, command, online, read

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.services.outbox import Command, Outbox


def tr(text: str) -> str:
    return QCoreApplication.translate("timbrado", text)


def transfer(
    context: AppContext,
    *,
    asset: str,
    target_type: str,
    target_id: str,
    quantity: int,
    amount_cents: int,
    comments: str,
    parent: QWidget | None = None,
) -> Action:
    """Transferir timbres o puntos (one queued command; the server decides)."""
    return command(
        context,
        commands.transfer,
        asset=asset,
        target_type=target_type,
        target_id=target_id,
        quantity=quantity,
        amount_cents=amount_cents,
        comments=comments,
        parent=parent,
        label=tr("Registrando la transferencia"),
    )


def bulk_transfer(
    context: AppContext, items: Sequence[Mapping[str, Any]], *, parent: QWidget | None = None
) -> Action:
    """Transferencia masiva: one command, all the items or none."""
    return command(
        context,
        commands.bulk_transfer,
        list(items),
        parent=parent,
        label=tr("Registrando la transferencia masiva"),
    )


def _auto_sales(
    outbox: Outbox, cache: Cache, rules: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Command]:
    return [
        commands.set_auto_sale(
            outbox,
            cache,
            cti_id,
            minimum=int(rule["minimum"]),
            credit=int(rule["credit"]),
            amount_cents=int(rule["amount_cents"]),
            enabled=bool(rule["enabled"]),
        )
        for cti_id, rule in rules
    ]


def auto_sale(
    context: AppContext, rules: Sequence[tuple[str, Mapping[str, Any]]], *, parent: QWidget | None = None
) -> Action:
    """Venta automática: one command per CTI (`rules`: CTI id → minimum, credit, amount, enabled)."""
    return command(
        context, _auto_sales, list(rules), parent=parent, label=tr("Registrando la venta automática")
    )


def _set_active(outbox: Outbox, cache: Cache, cti_ids: Sequence[str], active: bool) -> list[Command]:
    return [commands.set_cti_active(outbox, cache, cti_id, active) for cti_id in cti_ids]


def set_active(
    context: AppContext, cti_ids: Sequence[str], active: bool, *, parent: QWidget | None = None
) -> Action:
    """Bloquear / Reactivar CTIs: one command each."""
    return command(
        context, _set_active, list(cti_ids), active, parent=parent, label=tr("Registrando el cambio")
    )


def create_account(
    context: AppContext,
    client_id: str,
    *,
    kind: str,
    password: str,
    password_confirmation: str,
    cti_id: str | None = None,
    rfc_restriction: str | None = None,
    parent: QWidget | None = None,
) -> Action:
    """Crear cuenta de timbrado (online: it carries a password)."""
    return online(
        context,
        commands.create_stamping_account,
        client_id,
        kind=kind,
        password=password,
        password_confirmation=password_confirmation,
        id=cti_id,
        rfc_restriction=rfc_restriction,
        parent=parent,
        label=tr("Creando la cuenta de timbrado"),
    )


def reset_password(
    context: AppContext,
    cti_id: str,
    *,
    password: str,
    password_confirmation: str,
    parent: QWidget | None = None,
) -> Action:
    """Restablecer contraseña (online: it carries a password)."""
    return online(
        context,
        commands.reset_stamping_password,
        cti_id,
        password=password,
        password_confirmation=password_confirmation,
        parent=parent,
        label=tr("Restableciendo la contraseña"),
    )


def fetch_usage(context: AppContext, items: Sequence[tuple[str, int | None]]) -> Action:
    """The daily usage of CTIs (id, issued count now), fetched and kept in the cache."""
    return online(
        context, commands.fetch_usage, list(items), label=tr("Consultando el consumo de las cuentas")
    )


# ---- reads ----------------------------------------------------------------------------------------------


def _transfer_info(
    cache: Cache, outbox: Outbox | None, target_type: str, target_id: str, client_ids: Sequence[str]
) -> dict[str, Any]:
    """What a transfer dialog shows: the balances, what transfers on their way take, the recipient,
    and the stamp price of each client in `client_ids` (its own bulk price, or the global one)."""
    account = cache.account() or {}
    settings = cache.all("settings")
    global_price = settings[0].get("bulk_stamp_price_cents") if settings else None
    global_price = global_price if isinstance(global_price, int) else None
    info: dict[str, Any] = {
        "balances": dict(account.get("balances") or {}),
        "pending": commands.pending_out(outbox),
        "global_stamp_price_cents": global_price,
    }
    client: dict[str, Any] | None = None
    if target_type == "stamping_account":
        cti = cache.get("stamping_account", target_id)
        info["cti"] = cti
        client = cache.get("client", str((cti or {}).get("client_id") or "")) if cti else None
    elif target_type == "client":
        client = cache.get("client", target_id)
        info["ctis"] = [
            c
            for c in cache.query_stamping_accounts(client_id=target_id, sort="created_asc", limit=1000)
            if c.get("kind") == "standard"
        ]
    elif target_type in ("account", "distributor"):
        info["distributor"] = cache.get("distributor", target_id)
    info["client"] = client

    def price_of(data: Mapping[str, Any] | None) -> int | None:
        own = ((data or {}).get("other") or {}).get("bulk_stamp_price_cents")
        return own if isinstance(own, int) else global_price

    info["client_prices"] = {i: price_of(cache.get("client", i)) for i in client_ids}
    info["stamp_price_cents"] = price_of(client)
    return info


def transfer_info(
    context: AppContext, target_type: str, target_id: str, client_ids: Sequence[str] = ()
) -> Action:
    session = context.session
    outbox = session.outbox if session is not None else None
    return read(context, _transfer_info, outbox, target_type, target_id, list(client_ids))


def search_clients(context: AppContext, text: str) -> Action:
    """The first clients that match a search, by name (a dialog's client picker)."""
    return read(context, lambda cache: cache.query_clients(q=text.strip() or None, sort="name", limit=30))
