"""What Facturación does, as actions (`cmdesk.ui.kit.actions`): registering an invoice (queued: the
sales and codes leave the lists at once, pending), making and cancelling top-up codes (online: they
move balances and their code and NIP come from the server, a sync follows), and the lists' loaders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from cmdesk.domain import clock
from cmdesk.services import commands
from cmdesk.ui.kit.actions import Action, AppContext, command, online
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache


def tr(text: str) -> str:
    return QCoreApplication.translate("facturacion", text)


def register_invoice(
    context: AppContext,
    *,
    reference: str,
    client_id: str | None,
    movement_ids: Sequence[str] = (),
    top_up_code_ids: Sequence[str] = (),
    parent: QWidget | None = None,
) -> Action:
    return command(
        context,
        commands.register_invoice,
        reference=reference,
        client_id=client_id,
        movement_ids=list(movement_ids),
        top_up_code_ids=list(top_up_code_ids),
        parent=parent,
        label=tr("Registrar factura"),
    )


def generate_code(
    context: AppContext,
    *,
    asset: str,
    quantity: int,
    amount_cents: int,
    comments: str,
    parent: QWidget | None = None,
) -> Action:
    return online(
        context,
        commands.generate_top_up_code,
        asset=asset,
        quantity=quantity,
        amount_cents=amount_cents,
        comments=comments,
        parent=parent,
        label=tr("Generar código de abono"),
        sync=True,
    )


def cancel_code(context: AppContext, code_id: str, *, parent: QWidget | None = None) -> Action:
    return online(
        context,
        commands.cancel_top_up_code,
        code_id,
        parent=parent,
        label=tr("Cancelar código de abono"),
        sync=True,
    )


# ---- the lists' loaders (cache pool) --------------------------------------------------------------------


def period(year: int | None, month: int | None) -> tuple[str, str] | None:
    """[start, end) of a year or a month (Mexico City), as the UTC text the records carry; None for
    every date."""
    span = clock.period(year, month)
    return (clock.iso_utc(span[0]), clock.iso_utc(span[1])) if span is not None else None


def load_clients_to_invoice(cache: Cache, _query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    return [{**r, "id": r["client_id"]} for r in cache.pending_sales_by_client()[offset : offset + limit]]


def load_sales(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    client_id = query.get("client_id")
    if not client_id:
        return []
    return cache.query_pending_sales(str(client_id), limit=limit, offset=offset)


def load_codes(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    equals: dict[str, Any] = {}
    if query.get("asset"):
        equals["asset"] = query.get("asset")
    if query.get("pending_only"):
        equals["invoice_id"] = None
    span = period(query.get("year"), query.get("month"))
    return cache.query_entities(
        "top_up_code",
        equals=equals,
        since=("created_at", span[0]) if span else None,
        until=("created_at", span[1]) if span else None,
        order=[(query.sort or "created_at", query.descending)],
        limit=limit,
        offset=offset,
    )


def load_invoices(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = cache.query_entities(
        "invoice", order=[(query.sort or "created_at", query.descending)], limit=limit, offset=offset
    )
    for row in rows:
        if row.get("client_id"):
            row["client"] = cache.get("client", str(row["client_id"]))
    return rows
