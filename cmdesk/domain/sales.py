"""What a sale to a client is, and when it is still to invoice (manual, "Facturación": every operation
made for a client should give rise to an invoice).

A sale is a movement of kind `SALE_KINDS` (a transfer or an automatic sale) with an amount, to a client.
It is *por facturar* until an invoice reference is registered for it (`invoice_id`). The server filters
with these in SQL (`cmdesk.server.operations.billing`), the desktop's cache too (`sale_where`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmdesk.domain.enums import MovementKind

# Movement kinds that are sales to a client (with an amount): the rest are purchases, fees, escrow.
SALE_KINDS: tuple[str, ...] = (MovementKind.TRANSFER.value, MovementKind.AUTO_SALE.value)


def is_sale(movement: Mapping[str, Any]) -> bool:
    """A sale to a client with an amount (whether invoiced or not)."""
    return (
        movement.get("kind") in SALE_KINDS
        and int(movement.get("amount_cents") or 0) > 0
        and bool(movement.get("client_id"))
    )


def is_pending_sale(movement: Mapping[str, Any]) -> bool:
    """A sale still to invoice."""
    return is_sale(movement) and not movement.get("invoice_id")


def pending_sale_where(table: str = "") -> str:
    """The rule as an SQL condition over a table with the movement's columns (kind, amount_cents,
    client_id, invoice_id); `table` prefixes them (`m.`)."""
    kinds = ", ".join(f"'{kind}'" for kind in SALE_KINDS)
    return (
        f"{table}kind IN ({kinds}) AND {table}amount_cents > 0 AND {table}client_id IS NOT NULL "
        f"AND {table}invoice_id IS NULL"
    )
