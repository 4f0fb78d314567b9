"""Periodic upkeep of distributor accounts: expiry, and the purge of cancelled accounts after 30 days.

Manual, "Distribuidores": an account past its expiry date is "Vencido"; a cancelled one "será
eliminada definitivamente en un término de 30 días naturales". `run_maintenance` does both and is
idempotent: running it again at the same moment finds nothing to do.

Purging deletes the account and every row it owns (clients, CTIs, codes, contracts... through the
database's ON DELETE CASCADE), but stamps and points are never destroyed, so first:

- whatever the account, its clients, its CTIs and its unredeemed top-up codes still hold goes to the
  parent account, as transfer movements "Depuración de cuenta cancelada";
- its own sub-distributors move up to the parent (their network is not lost with it).

Movements and issued CFDI have no foreign key to the account: they are permanent facts of the ledger
and survive the purge, so Σ balances + Σ issued/spent == Σ purchased still holds after it.

Accounts without a parent (Induxsoft's direct distributors) are never purged here: there is nobody to
hand their balances to.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cmdesk.domain.distributor_states import REACTIVATION_WINDOW, Action, purge_due, transition
from cmdesk.domain.enums import (
    AccountStatus,
    Asset,
    MovementKind,
    PartyType,
    StampingAccountKind,
)
from cmdesk.models import Account, ChangeLog, Client, StampingAccount, TopUpCode, utcnow
from cmdesk.server import feed
from cmdesk.server.operations import balances, ledger
from cmdesk.server.operations.context import Actor

PURGE_COMMENT = "Depuración de cuenta cancelada"
SYSTEM_AUTHOR = "system"


def run_maintenance(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Mark expired accounts and purge cancelled ones past their 30 days. Returns what it did."""
    now = now or utcnow()
    expired = _expire_accounts(session, now)
    purged, skipped = _purge_cancelled(session, now)
    session.flush()
    return {"expired": expired, "purged": purged, "purge_skipped": skipped}


def _expire_accounts(session: Session, now: dt.datetime) -> int:
    due = session.scalars(
        select(Account)
        .where(
            Account.status.in_([AccountStatus.ACTIVE.value, AccountStatus.SUSPENDED.value]),
            Account.expires_at <= now,
        )
        .order_by(Account.id)
        .with_for_update()
    ).all()
    for account in due:
        status = AccountStatus(account.status)
        account.status = transition(status, Action.EXPIRE, now=now, expires_at=account.expires_at).value
    return len(due)


def _purge_cancelled(session: Session, now: dt.datetime) -> tuple[int, int]:
    ids = session.scalars(
        select(Account.id)
        .where(
            Account.status == AccountStatus.CANCELLED.value,
            Account.cancelled_at <= now - REACTIVATION_WINDOW,
        )
        .order_by(Account.cancelled_at, Account.id)
    ).all()
    purged = skipped = 0
    for account_id in ids:
        # Locked and checked again: a re-activation may have won the race since the list was read.
        account = session.scalar(select(Account).where(Account.id == account_id).with_for_update())
        if account is None or not purge_due(AccountStatus(account.status), account.cancelled_at, now):
            continue
        if account.parent_id is None:
            skipped += 1
            continue
        transition(AccountStatus.CANCELLED, Action.PURGE, now=now, cancelled_at=account.cancelled_at)
        _purge(session, account, now)
        purged += 1
    return purged, skipped


def _move_to_parent(
    session: Session,
    parent: Actor,
    source: tuple[PartyType, str],
    asset: Asset,
    quantity: int,
    now: dt.datetime,
    *,
    debit: bool = True,
) -> None:
    """One purged balance to the parent: debit the source (an escrow code has no balance to debit),
    credit the parent, and record the movement in the parent's history."""
    if debit:
        balances.debit(session, source[0], source[1], asset, quantity)
    balances.credit(session, PartyType.ACCOUNT, parent.account_id, asset, quantity)
    ledger.record_movement(
        session,
        parent,
        kind=MovementKind.TRANSFER,
        asset=asset,
        quantity=quantity,
        amount_cents=0,
        source=source,
        target=(PartyType.ACCOUNT, parent.account_id),
        comments=PURGE_COMMENT,
        now=now,
    )


def _purge(session: Session, account: Account, now: dt.datetime) -> None:
    assert account.parent_id is not None
    parent = Actor(account.parent_id, SYSTEM_AUTHOR)
    purged_id = account.id

    # Its own sub-distributors move up a level (the ORM flush records the change for them and the parent).
    for child in session.scalars(select(Account).where(Account.parent_id == purged_id).with_for_update()):
        child.parent_id = parent.account_id
    session.flush()

    # Balances: the account's, its clients' points, its standard CTIs' stamps, its codes' escrow.
    for asset, quantity in ((Asset.STAMPS, account.stamps_balance), (Asset.POINTS, account.points_balance)):
        if quantity > 0:
            _move_to_parent(session, parent, (PartyType.ACCOUNT, purged_id), asset, quantity, now)
    for client_id, points in session.execute(
        select(Client.id, Client.points_balance).where(
            Client.account_id == purged_id, Client.points_balance > 0
        )
    ).all():
        _move_to_parent(session, parent, (PartyType.CLIENT, client_id), Asset.POINTS, points, now)
    for cti_id, stamps in session.execute(
        select(StampingAccount.id, StampingAccount.balance).where(
            StampingAccount.account_id == purged_id,
            StampingAccount.kind == StampingAccountKind.STANDARD.value,
            StampingAccount.balance > 0,
        )
    ).all():
        _move_to_parent(session, parent, (PartyType.STAMPING_ACCOUNT, cti_id), Asset.STAMPS, stamps, now)
    for code_id, asset_value, quantity in session.execute(
        select(TopUpCode.id, TopUpCode.asset, TopUpCode.quantity).where(
            TopUpCode.account_id == purged_id, TopUpCode.redeemed_at.is_(None)
        )
    ).all():
        # The code row goes with the account, and its escrow with it out of the totals: credit only.
        _move_to_parent(
            session, parent, (PartyType.TOP_UP_CODE, code_id), Asset(asset_value), quantity, now, debit=False
        )

    # The delete cascades to every row the account owns; the ORM flush writes the "account" tombstone
    # for the parent, and the parent's Distribuidores tab drops it through the "distributor" one.
    session.delete(account)
    session.flush()
    feed.record(session, "distributor", purged_id, [parent.account_id], deleted=True)
    # Nobody reads the purged account's feed any more.
    session.execute(delete(ChangeLog).where(ChangeLog.account_id == purged_id))
