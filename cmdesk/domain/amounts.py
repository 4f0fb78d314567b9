"""The checks of quantities (stamps, points, packages) and of transfers, with one wording each.

The server applies them in its operations; the desktop applies the same ones before it queues a command
or sends a request, so an obviously wrong value never waits in the outbox and reads the same wherever
the user typed it.
"""

from __future__ import annotations

from typing import Any

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, validation_error
from cmdesk.domain.money import check_amount_cents

# The largest quantity a field of the desktop accepts (a spin box's range).
MAX_QUANTITY = 1_000_000_000
# A point is worth a peso, IVA included (the manual).
POINT_PRICE_CENTS = 100

QUANTITY_MESSAGE = "La cantidad debe ser un número entero mayor que cero."
POSITIVE_MESSAGE = "Debe ser un número entero mayor que cero."
NOT_NEGATIVE_MESSAGE = "Debe ser un número entero mayor o igual a cero."
ASSET_MESSAGE = "El activo debe ser timbres o puntos."
# A transfer is a sale with an amount, or explicitly «Sin cargo»: never a silent sale of $0.00.
SALE_AMOUNT_MESSAGE = "Indique un importe mayor que $0.00 o elija «Sin cargo»."
SALE_AMOUNT_DETAIL = "No se registra una venta de $0.00: indique el importe de la venta o elija «Sin cargo»."
NO_CHARGE_AMOUNT_MESSAGE = "Una transferencia sin cargo no lleva importe."

# Who may receive a transfer: a CTI (stamps), a client (points), a sub-distributor (either).
TRANSFER_TARGETS = frozenset({"stamping_account", "client", "account", "distributor"})


def is_whole(value: Any, minimum: int = 0) -> bool:
    """A whole number (never a bool) of at least `minimum`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def whole_number_problem(value: Any, minimum: int) -> str | None:
    """The Spanish reason `value` is not a whole number ≥ `minimum` (0 or 1), or None."""
    if is_whole(value, minimum):
        return None
    return POSITIVE_MESSAGE if minimum > 0 else NOT_NEGATIVE_MESSAGE


def quantity_problem(value: Any) -> str | None:
    """The reason a quantity (of stamps, points, packages) is not acceptable, or None."""
    return None if is_whole(value, 1) else QUANTITY_MESSAGE


def check_quantity(value: Any, field: str = "quantity") -> int:
    problem = quantity_problem(value)
    if problem is not None:
        raise validation_error({field: problem})
    return int(value)


def check_asset(value: Any) -> Asset:
    try:
        return Asset(value)
    except ValueError:
        raise validation_error({"asset": ASSET_MESSAGE}) from None


def sale_amount_problem(amount_cents: int, no_charge: bool | None) -> str | None:
    """A sale (`no_charge` False) needs an amount above $0.00; «Sin cargo» (True) takes none; None
    (older clients) reads $0.00 as no charge."""
    if no_charge is True and amount_cents != 0:
        return NO_CHARGE_AMOUNT_MESSAGE
    if no_charge is False and amount_cents == 0:
        return SALE_AMOUNT_MESSAGE
    return None


def transfer_problems(
    asset: Any,
    target_type: Any,
    target_id: Any,
    quantity: Any,
    amount_cents: Any,
    no_charge: bool | None = None,
) -> dict[str, str]:
    """Every problem of a transfer's fields at once, by field (API.md's names); a sale of $0.00 is the
    problem «amount_cents» (see `sale_amount_problem`)."""
    errors: dict[str, str] = {}
    if asset not in {a.value for a in Asset}:
        errors["asset"] = ASSET_MESSAGE
    if target_type not in TRANSFER_TARGETS:
        errors["target.type"] = "Destino no válido."
    if not target_id:
        errors["target.id"] = "Indique el destino."
    if problem := quantity_problem(quantity):
        errors["quantity"] = problem
    try:
        amount = check_amount_cents(amount_cents)
    except DomainError as error:
        errors.update({e.field: e.message for e in error.errors})
    else:
        if problem := sale_amount_problem(amount, no_charge):
            errors["amount_cents"] = problem
    return errors
