"""The yearly fee of an unlimited CTI (CTI Ilimitada), paid in points.

Manual: "Las CTI Ilimitadas están sujetas a un pago anual (en puntos)". The fee comes from the
catalog (`CatalogFee` "unlimited_cti_annual_points", its `amount_cents` is the fee in centavos, one
point per peso); the points are taken from the client that owns the CTI or from the distributor, and
leave the system to the catalog. Each paid year extends `paid_until`, after which stamping answers
`unlimited_expired`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from cmdesk.domain.enums import Asset, MovementKind, PartyType, StampingAccountKind
from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.domain.proration import add_months
from cmdesk.domain.unlimited import MAX_YEARS
from cmdesk.models import CatalogFee, Movement, utcnow
from cmdesk.server.operations import balances, ledger
from cmdesk.server.operations.clients import cti_views_for, get_stamping_account
from cmdesk.server.operations.context import Actor
from cmdesk.server.operations.contracts import points_for_cents

UNLIMITED_FEE_CODE = "unlimited_cti_annual_points"
PAYERS = {"client": PartyType.CLIENT, "account": PartyType.ACCOUNT}


def annual_fee_points(session: Session) -> int:
    """Points one year of an unlimited CTI costs (1 point = 1 peso)."""
    fee = session.get(CatalogFee, UNLIMITED_FEE_CODE)
    if fee is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "La cuota anual de las cuentas ilimitadas no está definida en el catálogo."
        )
    return points_for_cents(fee.amount_cents)


def pay_unlimited_fee(
    session: Session,
    actor: Actor,
    stamping_account_id: str,
    *,
    payer: str,
    years: int = 1,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Pay `years` of an unlimited CTI's fee with the points of its client or of the distributor."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    if payer not in PAYERS:
        errors["payer"] = "Indique quién paga la cuota: el cliente o la Cuenta Maestra."
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
        errors["years"] = f"Los años a pagar deben ser un número entero de 1 a {MAX_YEARS}."
    if errors:
        raise validation_error(errors)
    # Locked: two payments at once must both extend paid_until, one after the other.
    cti = get_stamping_account(session, actor, stamping_account_id, for_update=True)
    if cti.kind != StampingAccountKind.UNLIMITED.value:
        raise validation_error(
            {"stamping_account_id": "Sólo las cuentas de timbrado ilimitadas pagan cuota anual."}
        )
    points = annual_fee_points(session) * years
    payer_type = PAYERS[payer]
    payer_id = cti.client_id if payer_type is PartyType.CLIENT else actor.account_id
    movement: Movement | None = None
    if points > 0:
        balances.debit(session, payer_type, payer_id, Asset.POINTS, points)
        # amount_cents 0: a fee to Induxsoft, not a sale to the client (never "por facturar").
        movement = ledger.record_movement(
            session,
            actor,
            kind=MovementKind.UNLIMITED_FEE,
            asset=Asset.POINTS,
            quantity=points,
            amount_cents=0,
            source=(payer_type, payer_id),
            target=(PartyType.CATALOG, UNLIMITED_FEE_CODE),
            client_id=cti.client_id,
            comments=f"Cuota anual de la cuenta ilimitada {cti.id}: {years} año{'s' if years > 1 else ''}",
            now=now,
        )
    # A fee paid late starts today, not at the old date: the lapsed time is not charged twice.
    start = max(now, cti.paid_until) if cti.paid_until is not None else now
    cti.paid_until = add_months(start, 12 * years)
    session.flush()
    return {
        "stamping_account": cti_views_for(session, [cti])[cti.id],
        "paid_until": cti.paid_until,
        "points_spent": points,
        "movement": ledger.movement_view(movement) if movement is not None else None,
    }
