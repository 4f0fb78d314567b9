"""What Facturación does, as actions (`cmdesk.ui.kit.actions`): registering an invoice (queued: the
sales and codes leave the lists at once, pending), making and cancelling top-up codes (online: they
move balances and their code and NIP come from the server, a sync follows), and the lists' loaders
(the cache's billing queries)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.domain import clock
from cmdesk.services import commands
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, command, online
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache


tr = translator("facturacion")


def register_invoice(context: AppContext, *, parent: QWidget | None = None, **fields: Any) -> Action:
    """`commands.register_invoice`: reference, client_id, movement_ids or top_up_code_ids."""
    return command(context, commands.register_invoice, parent=parent, label=tr("Registrar factura"), **fields)


def generate_code(context: AppContext, *, parent: QWidget | None = None, **fields: Any) -> Action:
    """`commands.generate_top_up_code`: asset, quantity, amount_cents, comments."""
    label = tr("Generar código de abono")
    return online(context, commands.generate_top_up_code, parent=parent, label=label, sync=True, **fields)


def cancel_code(context: AppContext, code_id: str, *, parent: QWidget | None = None) -> Action:
    label = tr("Cancelar código de abono")
    return online(context, commands.cancel_top_up_code, code_id, parent=parent, label=label, sync=True)


# ---- the lists' loaders (cache pool) --------------------------------------------------------------------


def load_clients_to_invoice(cache: Cache, _query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return [{**r, "id": r["client_id"]} for r in cache.pending_sales_by_client()[offset : offset + limit]]


def load_sales(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    client_id = query.get("client_id")
    return cache.query_pending_sales(str(client_id), limit=limit, offset=offset) if client_id else []


def load_codes(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return cache.query_top_up_codes(
        asset=query.get("asset"),
        pending_only=bool(query.get("pending_only")),
        period=clock.period_text(query.get("year"), query.get("month")),
        sort=query.sort,
        descending=query.descending,
        limit=limit,
        offset=offset,
    )


def load_invoices(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return cache.query_invoices(sort=query.sort, descending=query.descending, limit=limit, offset=offset)
