"""The renewal calendar: everything of an account that expires in the next months, by date, with what
renewing it will cost (manual: "Renovar una cuenta", "Contratar MKL / Suscripciones", CTI Ilimitada).

- The account itself: its annual fee (`distributor_annual_fee`).
- Each contract in force (MKL, subscriptions), on the account's expiry: contracts renew with the
  account for a full year (`proration.prorated_charge_cents(annual, 12)`: the manual's "cargo anual
  completo"). One that does not renew by itself would cost the same to contract again right after the
  renewal (12 months remain then).
- Each unlimited CTI's annual fee (`paid_until`): the catalog's fee in points (1 point = 1 peso).
- Each sub-distributor's expiry: what its renewal charges it (its annual fee and the full year of its
  auto-renewed contracts, as `distributors.renew` does).
- Each MKL license of a client (`valid_until`, renewed by generating another one: no charge) and each
  support policy of a client (`ends_on`, the distributor's own product: no price known).

Dates are Mexico City days. The `.ics` export is `cmdesk.domain.calendar_export`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cmdesk.domain import usage
from cmdesk.domain.calendar_export import RenewalEvent, summary, to_ics
from cmdesk.domain.enums import AccountStatus, ContractStatus, StampingAccountKind
from cmdesk.domain.errors import not_found, validation_error
from cmdesk.domain.proration import MONTHS_PER_YEAR, add_months, prorated_charge_cents
from cmdesk.models import (
    Account,
    CatalogContract,
    CatalogFee,
    Client,
    Contract,
    License,
    StampingAccount,
    SupportPolicy,
    utcnow,
)
from cmdesk.server.operations.context import Actor
from cmdesk.server.operations.contracts import points_for_cents
from cmdesk.server.operations.distributors import ANNUAL_FEE_CODE
from cmdesk.server.operations.unlimited import UNLIMITED_FEE_CODE

MAX_MONTHS = 24
KIND_LABELS = {
    "account": "Cuenta Maestra",
    "contract": "Contrato",
    "unlimited_fee": "Anualidad de CTI ilimitada",
    "distributor": "Sub-distribuidor",
    "license": "Licencia MKL",
    "support_policy": "Póliza de soporte",
}


def _fee(session: Session, code: str) -> int | None:
    fee = session.get(CatalogFee, code)
    return fee.amount_cents if fee is not None else None


def _contracts(session: Session, account_ids: list[str]) -> list[tuple[Contract, CatalogContract]]:
    if not account_ids:
        return []
    rows = session.execute(
        select(Contract, CatalogContract)
        .join(CatalogContract, CatalogContract.code == Contract.catalog_code)
        .where(Contract.account_id.in_(account_ids), Contract.status == ContractStatus.ACTIVE.value)
        .order_by(Contract.expires_at, CatalogContract.name)
    ).all()
    return [(c, item) for c, item in rows]


def _full_year(item: CatalogContract) -> int:
    return prorated_charge_cents(item.annual_price_before_tax_cents, MONTHS_PER_YEAR)


def renewal_events(
    session: Session, actor: Actor, *, now: dt.datetime | None = None, months: int = 12
) -> list[RenewalEvent]:
    """Everything that expires from today to `months` months ahead, by date."""
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise validation_error({"months": f"Indique de 1 a {MAX_MONTHS} meses."})
    now = now or utcnow()
    # Mexico City days from today to the same day `months` months ahead, both included.
    start = usage.mx_day_start(usage.mx_day(now))
    until = add_months(start, months) + dt.timedelta(days=1)
    account = session.get(Account, actor.account_id)
    if account is None:
        raise not_found("La cuenta")

    def due(moment: dt.datetime | None) -> bool:
        return moment is not None and start <= moment < until

    events: list[RenewalEvent] = []
    annual_fee = _fee(session, ANNUAL_FEE_CODE)
    if due(account.expires_at):
        events.append(
            RenewalEvent(
                uid=f"account-{account.id}-{usage.mx_day(account.expires_at)}@cmdesk",
                on=usage.mx_day(account.expires_at),
                kind="account",
                title="Renovación de la Cuenta Maestra",
                description="Anualidad de distribuidor; los contratos que se renuevan con la cuenta "
                "se cargan aparte (año completo).",
                amount_cents=annual_fee,
            )
        )
    for contract, item in _contracts(session, [account.id]):
        if not due(contract.expires_at):
            continue
        renews = contract.auto_renew
        events.append(
            RenewalEvent(
                uid=f"contract-{contract.id}-{usage.mx_day(contract.expires_at)}@cmdesk",
                on=usage.mx_day(contract.expires_at),
                kind="contract",
                title=f"{'Renovación' if renews else 'Vence'} {item.name}",
                description=(
                    "Se renueva con la Cuenta Maestra por un año completo."
                    if renews
                    else "No se renueva sola: contratarla de nuevo tras renovar la cuenta cuesta "
                    "el año completo."
                ),
                amount_cents=_full_year(item),
            )
        )
    fee_cents = _fee(session, UNLIMITED_FEE_CODE)
    for cti, client_name in session.execute(
        select(StampingAccount, Client.name)
        .join(Client, Client.id == StampingAccount.client_id)
        .where(
            StampingAccount.account_id == account.id,
            StampingAccount.kind == StampingAccountKind.UNLIMITED.value,
            StampingAccount.paid_until >= start,
            StampingAccount.paid_until < until,
        )
    ):
        assert cti.paid_until is not None
        events.append(
            RenewalEvent(
                uid=f"unlimited-{cti.id}-{usage.mx_day(cti.paid_until)}@cmdesk",
                on=usage.mx_day(cti.paid_until),
                kind="unlimited_fee",
                title=f"Anualidad de la CTI ilimitada {cti.id} ({client_name})",
                description="Se paga con puntos del cliente o de la Cuenta Maestra; sin ella la cuenta deja "
                "de timbrar.",
                amount_cents=fee_cents,
                points=points_for_cents(fee_cents) if fee_cents is not None else None,
            )
        )
    subs = session.scalars(
        select(Account).where(
            Account.parent_id == account.id,
            Account.status.notin_([AccountStatus.CANCELLED.value, AccountStatus.UNVALIDATED.value]),
            Account.expires_at >= start,
            Account.expires_at < until,
        )
    ).all()
    sub_contracts: dict[str, int] = {}
    for contract, item in _contracts(session, [s.id for s in subs]):
        if contract.auto_renew:
            sub_contracts[contract.account_id] = sub_contracts.get(contract.account_id, 0) + _full_year(item)
    for sub in subs:
        extra = sub_contracts.get(sub.id, 0)
        events.append(
            RenewalEvent(
                uid=f"distributor-{sub.id}-{usage.mx_day(sub.expires_at)}@cmdesk",
                on=usage.mx_day(sub.expires_at),
                kind="distributor",
                title=f"Vence el distribuidor {sub.nic} {sub.name}",
                description="Su renovación le carga la anualidad"
                + (" y el año completo de sus contratos." if extra else "."),
                amount_cents=(annual_fee or 0) + extra if annual_fee is not None or extra else None,
            )
        )
    for lic, client_name in session.execute(
        select(License, Client.name)
        .join(Client, Client.id == License.client_id)
        .where(License.account_id == account.id, License.valid_until >= start, License.valid_until < until)
    ):
        events.append(
            RenewalEvent(
                uid=f"license-{lic.id}-{usage.mx_day(lic.valid_until)}@cmdesk",
                on=usage.mx_day(lic.valid_until),
                kind="license",
                title=f"Vence la licencia {lic.product_code} de {client_name}",
                description=f"Licencia {lic.license_key}: genere otra del MKL contratado.",
            )
        )
    first_day, last_day = usage.mx_day(start), usage.mx_day(until)
    for policy, client_name in session.execute(
        select(SupportPolicy, Client.name)
        .join(Client, Client.id == SupportPolicy.client_id)
        .where(
            SupportPolicy.account_id == account.id,
            SupportPolicy.ends_on >= first_day,
            SupportPolicy.ends_on < last_day,
        )
    ):
        events.append(
            RenewalEvent(
                uid=f"policy-{policy.id}-{policy.ends_on}@cmdesk",
                on=policy.ends_on,
                kind="support_policy",
                title=f"Vence la póliza {policy.product} de {client_name}",
                description=f"Referencia: {policy.reference}" if policy.reference else "",
            )
        )
    order = list(KIND_LABELS)
    events.sort(key=lambda e: (e.on, order.index(e.kind), e.title))
    return events


def event_view(e: RenewalEvent) -> dict[str, Any]:
    return {
        "uid": e.uid,
        "date": e.on.isoformat(),
        "kind": e.kind,
        "kind_label": KIND_LABELS[e.kind],
        "title": e.title,
        "summary": summary(e),
        "description": e.description,
        "amount_cents": e.amount_cents,
        "points": e.points,
    }


def renewal_calendar(
    session: Session, actor: Actor, *, now: dt.datetime | None = None, months: int = 12
) -> dict[str, Any]:
    """`GET /v1/calendar`: the events by date and what they add up to."""
    now = now or utcnow()
    events = renewal_events(session, actor, now=now, months=months)
    today = usage.mx_day(now)
    return {
        "from": today.isoformat(),
        "until": usage.mx_day(add_months(usage.mx_day_start(today), months)).isoformat(),  # included
        "items": [event_view(e) for e in events],
        "total_cents": sum(e.amount_cents or 0 for e in events),
    }


def renewal_ics(session: Session, actor: Actor, *, now: dt.datetime | None = None, months: int = 12) -> bytes:
    """`GET /v1/calendar.ics`: the same events as an iCalendar file."""
    now = now or utcnow()
    account = session.get(Account, actor.account_id)
    if account is None:
        raise not_found("La cuenta")
    events = renewal_events(session, actor, now=now, months=months)
    return to_ics(events, calendar_name=f"Renovaciones — {account.name}", generated_at=now)
