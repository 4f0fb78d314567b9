"""Yearly contracts (MKL and subscriptions such as Multinivel) and the MKL licenses they allow.

Manual, "Contratar MKL" / "Contratar Suscripciones": contracts are yearly, auto-renewed, and end with
the distributor account's expiry; the first charge is prorated by the months left to it (MKL Déminus,
$1,850.00 + IVA with 12 months left: $2,146.00). The charge is a line of the account's statement
(`Charge`); it may be paid with points instead (1 point = 1 peso with IVA), which leave the system to
the catalog like issued stamps. Manual, "Usar MKL": a contracted MKL generates one-year licenses for
the distributor's clients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cmdesk.domain import codes
from cmdesk.domain.enums import (
    Asset,
    ChargeKind,
    ContractKind,
    ContractStatus,
    MovementKind,
    PartyType,
)
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.domain.money import div_round_half_up
from cmdesk.domain.proration import MONTHS_PER_YEAR, add_one_year, months_remaining, prorated_charge_cents
from cmdesk.models import (
    Account,
    CatalogContract,
    Charge,
    Client,
    Contract,
    License,
    Movement,
    utcnow,
)
from cmdesk.server.operations import balances, ledger
from cmdesk.server.operations.context import Actor

# Licenses one request may generate: a typo ("1000" for "10") must not flood a client with keys.
MAX_LICENSES_PER_REQUEST = 100


def points_for_cents(amount_cents: int) -> int:
    """Points that pay an amount with IVA: 1 point = 1 peso, a started peso costs a whole point."""
    return -(-amount_cents // 100)


# --- views ---------------------------------------------------------------------------------------


def catalog_contract_view(item: CatalogContract) -> dict[str, Any]:
    return {
        "code": item.code,
        "kind": item.kind,
        "name": item.name,
        "annual_price_before_tax_cents": item.annual_price_before_tax_cents,
        "annual_price_cents": prorated_charge_cents(item.annual_price_before_tax_cents, MONTHS_PER_YEAR),
        "demo_price": item.demo_price,
    }


def contract_view(contract: Contract, name: str | None = None) -> dict[str, Any]:
    return {
        "id": contract.id,
        "version": contract.version,
        "code": contract.catalog_code,
        "name": name if name is not None else contract.catalog_code,
        "kind": contract.kind,
        "status": contract.status,
        "auto_renew": contract.auto_renew,
        "started_at": contract.started_at,
        "expires_at": contract.expires_at,
        "first_charge_cents": contract.first_charge_cents,
        "months_charged": contract.months_charged,
        "paid_with_points": contract.paid_with_points,
        "created_by": contract.created_by,
    }


def license_view(item: License) -> dict[str, Any]:
    return {
        "id": item.id,
        "version": item.version,
        "client_id": item.client_id,
        "contract_id": item.contract_id,
        "product_code": item.product_code,
        "license_key": item.license_key,
        "valid_from": item.valid_from,
        "valid_until": item.valid_until,
        "created_at": item.created_at,
        "created_by": item.created_by,
    }


def charge_view(charge: Charge) -> dict[str, Any]:
    return {
        "id": charge.id,
        "version": charge.version,
        "kind": charge.kind,
        "description": charge.description,
        "amount_cents": charge.amount_cents,
        "paid_with_points": charge.paid_with_points,
        "movement_id": charge.movement_id,
        "contract_id": charge.contract_id,
        "created_at": charge.created_at,
        "created_by": charge.created_by,
    }


# --- contracts -----------------------------------------------------------------------------------


def active_contract(session: Session, account_id: str, code: str, now: dt.datetime) -> Contract | None:
    """The account's contract of `code` that is in force at `now`, if any."""
    return session.scalar(
        select(Contract)
        .where(
            Contract.account_id == account_id,
            Contract.catalog_code == code,
            Contract.status == ContractStatus.ACTIVE.value,
            Contract.expires_at > now,
        )
        .order_by(Contract.expires_at.desc())
        .limit(1)
    )


def require_contract(
    session: Session, account_id: str, code: str, now: dt.datetime, feature: str
) -> Contract:
    """The contract in force, or `feature_not_contracted` naming what needs it."""
    found = active_contract(session, account_id, code, now)
    if found is None:
        raise DomainError(
            ErrorCode.FEATURE_NOT_CONTRACTED,
            f"{feature} requiere contratar «{_catalog_name(session, code)}» en Compras.",
            extra={"code": code},
        )
    return found


def _catalog_name(session: Session, code: str) -> str:
    item = session.get(CatalogContract, code)
    return item.name if item is not None else code


def _catalog_item(session: Session, code: str) -> CatalogContract:
    item = session.get(CatalogContract, code)
    if item is None or not item.active:
        raise not_found("El producto")
    return item


def catalog_contracts(session: Session) -> list[dict[str, Any]]:
    """The MKL and subscriptions on sale (Compras → MKL / Suscripciones)."""
    rows = session.scalars(
        select(CatalogContract)
        .where(CatalogContract.active.is_(True))
        .order_by(CatalogContract.kind, CatalogContract.name)
    ).all()
    return [catalog_contract_view(r) for r in rows]


def _months_text(months: int) -> str:
    return f"{months} mes" if months == 1 else f"{months} meses"


def _quote(item: CatalogContract, account: Account, now: dt.datetime) -> dict[str, Any]:
    months = months_remaining(now, account.expires_at)
    amount = prorated_charge_cents(item.annual_price_before_tax_cents, months)
    before_tax = div_round_half_up(item.annual_price_before_tax_cents * months, MONTHS_PER_YEAR)
    return {
        "code": item.code,
        "kind": item.kind,
        "name": item.name,
        "annual_price_before_tax_cents": item.annual_price_before_tax_cents,
        "months_remaining": months,
        "amount_before_tax_cents": before_tax,
        "iva_cents": amount - before_tax,
        "amount_cents": amount,
        "points_required": points_for_cents(amount),
        "expires_at": account.expires_at,
    }


def quote_contract(
    session: Session, actor: Actor, code: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """What contracting `code` now would charge: prorated to the account's expiry, with and without IVA."""
    now = now or utcnow()
    item = _catalog_item(session, code)
    account = session.get(Account, actor.account_id)
    if account is None:
        raise not_found("La cuenta")
    return _quote(item, account, now)


def contract(
    session: Session,
    actor: Actor,
    code: str,
    *,
    pay_with_points: bool = False,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Contract an MKL or subscription until the account's expiry; one in force per product."""
    now = now or utcnow()
    item = _catalog_item(session, code)
    # The row lock serialises two contracts of one account, so the duplicate check can't race.
    account = session.scalar(select(Account).where(Account.id == actor.account_id).with_for_update())
    if account is None:
        raise not_found("La cuenta")
    if active_contract(session, account.id, code, now) is not None:
        raise DomainError(ErrorCode.DUPLICATE, f"Ya tiene contratado «{item.name}» hasta su vencimiento.")
    quote = _quote(item, account, now)
    if quote["months_remaining"] == 0:
        raise validation_error(
            {"code": "La Cuenta Maestra está vencida; renuévela antes de contratar."},
        )
    amount: int = quote["amount_cents"]
    points = points_for_cents(amount)
    # A free product (listed at $0.00) costs no points even when the user chose to pay with them.
    paying_points = pay_with_points and points > 0
    contract_row = Contract(
        id=codes.new_id(),
        account_id=account.id,
        catalog_code=item.code,
        kind=item.kind,
        status=ContractStatus.ACTIVE.value,
        started_at=now,
        expires_at=account.expires_at,
        first_charge_cents=amount,
        months_charged=quote["months_remaining"],
        paid_with_points=paying_points,
        created_by=actor.author,
    )
    session.add(contract_row)
    movement: Movement | None = None
    if paying_points:
        balances.debit(session, PartyType.ACCOUNT, account.id, Asset.POINTS, points)
        # Not a sale to a client: amount_cents stays 0 so billing never lists it as "por facturar";
        # the money is on the charge.
        movement = ledger.record_movement(
            session,
            actor,
            kind=MovementKind.CONTRACT,
            asset=Asset.POINTS,
            quantity=points,
            amount_cents=0,
            source=(PartyType.ACCOUNT, account.id),
            target=(PartyType.CATALOG, item.code),
            comments=f"Pago con puntos de {item.name}",
            now=now,
            contract_id=contract_row.id,
        )
    charge = Charge(
        account_id=account.id,
        kind=ChargeKind.CONTRACT.value,
        description=(
            f"{item.name}: {_months_text(quote['months_remaining'])}, hasta el {account.expires_at:%d/%m/%Y}"
        ),
        amount_cents=amount,
        paid_with_points=movement is not None,
        movement_id=movement.id if movement is not None else None,
        contract_id=contract_row.id,
        created_at=now,
        created_by=actor.author,
    )
    session.add(charge)
    session.flush()
    return {
        "contract": contract_view(contract_row, item.name),
        "charge": charge_view(charge),
        "movement": ledger.movement_view(movement) if movement is not None else None,
        "points_spent": movement.quantity if movement is not None else 0,
    }


def list_contracts(session: Session, actor: Actor) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Contract, CatalogContract.name)
        .join(CatalogContract, CatalogContract.code == Contract.catalog_code)
        .where(Contract.account_id == actor.account_id)
        .order_by(Contract.started_at, Contract.id)
    ).all()
    return [contract_view(c, name) for c, name in rows]


def renew_contracts(session: Session, account: Account, *, now: dt.datetime, author: str) -> list[Charge]:
    """On an account's renewal: charge each auto-renewed contract's full year and extend it to the
    account's new expiry (manual: "se incluirá también el cargo anual completo de la MKL")."""
    rows = session.execute(
        select(Contract, CatalogContract)
        .join(CatalogContract, CatalogContract.code == Contract.catalog_code)
        .where(
            Contract.account_id == account.id,
            Contract.status == ContractStatus.ACTIVE.value,
            Contract.auto_renew.is_(True),
        )
        .order_by(Contract.started_at, Contract.id)
        .with_for_update(of=Contract)
    ).all()
    charges: list[Charge] = []
    for row, item in rows:
        amount = prorated_charge_cents(item.annual_price_before_tax_cents, MONTHS_PER_YEAR)
        row.expires_at = account.expires_at
        charge = Charge(
            account_id=account.id,
            kind=ChargeKind.RENEWAL.value,
            description=f"Renovación de {item.name} hasta el {account.expires_at:%d/%m/%Y}",
            amount_cents=amount,
            contract_id=row.id,
            created_at=now,
            created_by=author,
        )
        session.add(charge)
        charges.append(charge)
    return charges


# --- the statement -------------------------------------------------------------------------------


def list_charges(
    session: Session,
    actor: Actor,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
    after: tuple[dt.datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """The account's statement (purchases, contracts, annual fees, renewals), newest first,
    keyset-paginated by (created_at, id); `since` inclusive, `until` exclusive."""
    stmt = select(Charge).where(Charge.account_id == actor.account_id)
    if since is not None:
        stmt = stmt.where(Charge.created_at >= since)
    if until is not None:
        stmt = stmt.where(Charge.created_at < until)
    if after is not None:
        stmt = stmt.where(
            (Charge.created_at < after[0]) | ((Charge.created_at == after[0]) & (Charge.id < after[1]))
        )
    stmt = stmt.order_by(Charge.created_at.desc(), Charge.id.desc()).limit(limit)
    return [charge_view(c) for c in session.scalars(stmt)]


# --- licenses ------------------------------------------------------------------------------------


def _own_client(session: Session, actor: Actor, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None or client.account_id != actor.account_id:
        raise not_found("El cliente")
    return client


def generate_licenses(
    session: Session,
    actor: Actor,
    client_id: str,
    product_code: str,
    count: int = 1,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Licenses of a contracted MKL for one of the distributor's clients, each valid one year."""
    now = now or utcnow()
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LICENSES_PER_REQUEST:
        raise validation_error(
            {"count": f"Indique de 1 a {MAX_LICENSES_PER_REQUEST} licencias (un número entero)."}
        )
    client = _own_client(session, actor, client_id)
    found = active_contract(session, actor.account_id, product_code, now)
    if found is None or found.kind != ContractKind.MKL.value:
        raise DomainError(
            ErrorCode.FEATURE_NOT_CONTRACTED,
            f"Para generar licencias contrate el MKL «{_catalog_name(session, product_code)}» en Compras.",
            extra={"code": product_code},
        )
    rows = [
        License(
            account_id=actor.account_id,
            client_id=client.id,
            contract_id=found.id,
            product_code=product_code,
            license_key=codes.generate_license_key(),
            valid_from=now,
            valid_until=add_one_year(now),
            created_at=now,
            created_by=actor.author,
        )
        for _ in range(count)
    ]
    session.add_all(rows)
    session.flush()
    return [license_view(r) for r in rows]


def list_licenses(session: Session, actor: Actor, client_id: str | None = None) -> list[dict[str, Any]]:
    stmt = select(License).where(License.account_id == actor.account_id)
    if client_id is not None:
        _own_client(session, actor, client_id)
        stmt = stmt.where(License.client_id == client_id)
    rows = session.scalars(stmt.order_by(License.created_at, License.id)).all()
    return [license_view(r) for r in rows]


# --- feed ----------------------------------------------------------------------------------------


def load_contracts(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.execute(
        select(Contract, CatalogContract.name)
        .join(CatalogContract, CatalogContract.code == Contract.catalog_code)
        .where(Contract.id.in_(ids))
    ).all()
    return {c.id: contract_view(c, name) for c, name in rows}


def load_licenses(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(License).where(License.id.in_(ids))).all()
    return {r.id: license_view(r) for r in rows}


def load_charges(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(Charge).where(Charge.id.in_(ids))).all()
    return {r.id: charge_view(r) for r in rows}


FEED_LOADERS: dict[str, Callable[[Session, list[str]], dict[str, dict[str, Any]]]] = {
    "contract": load_contracts,
    "license": load_licenses,
    "charge": load_charges,
}
