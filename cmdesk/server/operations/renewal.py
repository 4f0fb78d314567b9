"""Renewing a Cuenta Maestra, and the reminders before it expires.

Manual ("Contratar MKL", "Contratar Suscripciones"): "Cuando renueve su Cuenta Maestra se incluirá
también el cargo anual completo de la MKL / de las suscripciones que haya contratado". A renewal
extends the account one year (from its expiry, or from now if it already passed) and charges its
statement the distributor annual fee plus the full year of every active, auto-renewed contract,
which it extends to the new expiry. The parent renews a sub-distributor that is "Vencido"
(`distributors.renew`); an account renews itself from 30 days before its expiry on, or once expired
(`renew_own_account`, Compras → Renovar mi cuenta, or the header's warning).

Reminders: 30, 7 and 1 days before the expiry, a mail to the account's master profile. Each goes
once per expiry date (the queue's unique `dedupe_key`), whoever runs them (`cmdesk-server
maintenance`, or the sender loop once an hour); a late first run sends only the most urgent one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from cmdesk.domain.distributor_states import SPANISH_STATUS, Action, renewed_expiry, transition
from cmdesk.domain.enums import AccountStatus, ChargeKind, ContractStatus, Role
from cmdesk.domain.errors import DomainError, ErrorCode, not_found
from cmdesk.domain.expiry import REMINDER_DAYS, RENEWAL_WINDOW, days_left
from cmdesk.domain.proration import MONTHS_PER_YEAR, prorated_charge_cents
from cmdesk.models import Account, CatalogContract, CatalogFee, Charge, Contract, Membership, Profile, utcnow
from cmdesk.server.mail import queue, templates
from cmdesk.server.operations import accounts, contracts
from cmdesk.server.operations.context import Actor

ANNUAL_FEE_CODE = "distributor_annual_fee"


def _fee(session: Session) -> CatalogFee | None:
    fee = session.get(CatalogFee, ANNUAL_FEE_CODE)
    return fee if fee is not None and fee.amount_cents > 0 else None


def _renewed_contracts(session: Session, account_id: str) -> list[tuple[Contract, CatalogContract]]:
    rows = session.execute(
        select(Contract, CatalogContract)
        .join(CatalogContract, CatalogContract.code == Contract.catalog_code)
        .where(
            Contract.account_id == account_id,
            Contract.status == ContractStatus.ACTIVE.value,
            Contract.auto_renew.is_(True),
        )
        .order_by(Contract.started_at, Contract.id)
    ).all()
    return [(c, item) for c, item in rows]


def renewal_lines(session: Session, account: Account) -> list[dict[str, Any]]:
    """What a renewal of `account` charges now: the annual fee and each contract's full year."""
    new_expiry = renewed_expiry(account.expires_at, utcnow())
    lines: list[dict[str, Any]] = []
    fee = _fee(session)
    if fee is not None:
        lines.append(
            {
                "kind": ChargeKind.ANNUAL_FEE.value,
                "description": f"{fee.name}: renovación hasta el {new_expiry:%d/%m/%Y}",
                "amount_cents": fee.amount_cents,
            }
        )
    for _contract, item in _renewed_contracts(session, account.id):
        lines.append(
            {
                "kind": ChargeKind.RENEWAL.value,
                "description": f"Renovación de {item.name} hasta el {new_expiry:%d/%m/%Y}",
                "amount_cents": prorated_charge_cents(item.annual_price_before_tax_cents, MONTHS_PER_YEAR),
            }
        )
    return lines


def apply_renewal(session: Session, account: Account, *, author: str, now: dt.datetime) -> list[Charge]:
    """Extend `account` one year and charge its statement the annual fee and every auto-renewed
    contract's full year (the contracts are extended with it). The caller moved its status."""
    account.expires_at = renewed_expiry(account.expires_at, now)
    charges: list[Charge] = []
    fee = _fee(session)
    if fee is not None:
        charge = Charge(
            account_id=account.id,
            kind=ChargeKind.ANNUAL_FEE.value,
            description=f"{fee.name}: renovación hasta el {account.expires_at:%d/%m/%Y}",
            amount_cents=fee.amount_cents,
            created_at=now,
            created_by=author,
        )
        session.add(charge)
        charges.append(charge)
    charges.extend(contracts.renew_contracts(session, account, now=now, author=author))
    session.flush()
    return charges


def _refusal(account: Account, now: dt.datetime) -> str | None:
    """Why the account can't renew itself now (Spanish), or None."""
    status = AccountStatus(account.status)
    if status is AccountStatus.EXPIRED:
        return None
    if status is AccountStatus.ACTIVE:
        opens = account.expires_at - RENEWAL_WINDOW
        if now < opens:
            return (
                f"Su cuenta vence el {templates.local_date(account.expires_at)}; podrá renovarla a partir "
                f"del {templates.local_date(opens)}."
            )
        return None
    if status is AccountStatus.SUSPENDED:
        return "La cuenta está suspendida: pida a su distribuidor que la reactive."
    return f"Una cuenta en estado «{SPANISH_STATUS[status]}» no se puede renovar."


def _days_left(account: Account, now: dt.datetime) -> int:
    return days_left(account.expires_at, now) or 0


def renewal_quote(session: Session, actor: Actor, now: dt.datetime | None = None) -> dict[str, Any]:
    """Compras → Renovar mi cuenta (and the header's warning): when the account expires, whether it
    may renew now, what the renewal charges and until when it extends it."""
    now = now or utcnow()
    account = accounts.get_account(session, actor.account_id)
    lines = renewal_lines(session, account)
    refusal = _refusal(account, now)
    days_left = _days_left(account, now)
    return {
        "account_id": account.id,
        "status": account.status,
        "expires_at": account.expires_at,
        "days_left": days_left,
        "warning": account.status == AccountStatus.EXPIRED.value or days_left <= RENEWAL_WINDOW.days,
        "can_renew": refusal is None,
        "reason": refusal,
        "renewable_from": account.expires_at - RENEWAL_WINDOW,
        "new_expires_at": renewed_expiry(account.expires_at, now),
        "charges": lines,
        "total_cents": sum(line["amount_cents"] for line in lines),
    }


def renew_own_account(session: Session, actor: Actor, now: dt.datetime | None = None) -> dict[str, Any]:
    """Renovar mi cuenta: one more year for the signed-in account (Vencido → Activo, or an Activo
    one within 30 days of its expiry), charged to its own statement."""
    now = now or utcnow()
    account = session.scalar(select(Account).where(Account.id == actor.account_id).with_for_update())
    if account is None:
        raise not_found("La cuenta")
    refusal = _refusal(account, now)
    if refusal is not None:
        raise DomainError(ErrorCode.INVALID_STATE_TRANSITION, refusal)
    status = AccountStatus(account.status)
    if status is AccountStatus.ACTIVE and account.expires_at <= now:
        status = transition(status, Action.EXPIRE, now=now, expires_at=account.expires_at)
    if status is AccountStatus.EXPIRED:
        account.status = transition(status, Action.RENEW, now=now).value
        account.activated_at = account.activated_at or now
    charges = apply_renewal(session, account, author=actor.author, now=now)
    return {
        "account": accounts.account_view(account),
        "charges": [contracts.charge_view(c) for c in charges],
        "total_cents": sum(c.amount_cents for c in charges),
    }


# ---------------------------------------------------------------------------------------------------
# Reminders


def _master(session: Session, account_id: str) -> Profile | None:
    return session.scalar(
        select(Profile)
        .join(Membership, Membership.profile_id == Profile.id)
        .where(Membership.account_id == account_id, Membership.role == Role.MASTER.value)
    )


def enqueue_expiry_reminders(session: Session, now: dt.datetime | None = None) -> int:
    """Queue the reminders due now: for each active account whose expiry is at most 30 days away,
    the most urgent of 30/7/1 days it has reached, once per expiry date. Returns how many."""
    now = now or utcnow()
    horizon = now + dt.timedelta(days=max(REMINDER_DAYS))
    due = session.scalars(
        select(Account)
        .where(
            and_(
                Account.status == AccountStatus.ACTIVE.value,
                Account.expires_at > now,
                Account.expires_at <= horizon,
            )
        )
        .order_by(Account.expires_at, Account.id)
    ).all()
    queued = 0
    for account in due:
        remaining = account.expires_at - now
        threshold = min(d for d in REMINDER_DAYS if remaining <= dt.timedelta(days=d))
        master = _master(session, account.id)
        if master is None:
            continue
        lines = renewal_lines(session, account)
        contract_names = [item.name for _c, item in _renewed_contracts(session, account.id)]
        mail_id = queue.enqueue(
            session,
            "expiry_reminder",
            to_address=master.email,
            to_name=master.name,
            params={
                "profile_name": master.name,
                "account_name": account.name,
                "account_nic": account.nic,
                "expires_at": account.expires_at.isoformat(),
                "days_left": _days_left(account, now),
                "threshold": threshold,
                "total_cents": sum(line["amount_cents"] for line in lines),
                "contracts": ", ".join(contract_names),
            },
            account_id=account.id,
            dedupe_key=f"expiry:{account.id}:{account.expires_at:%Y%m%d%H%M%S}:{threshold}",
            now=now,
        )
        if mail_id is not None:
            queued += 1
    return queued
