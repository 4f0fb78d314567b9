"""The only place balances change: conditional UPDATEs that can't overdraw, even under concurrency.

`debit` subtracts only `WHERE balance >= quantity` and raises `insufficient_balance` when no row
matched; `credit` adds. Both bump the row's version and record the change for the feed, in the
caller's transaction. Where stamps and points live:

- an account (distributor): `accounts.stamps_balance`, `accounts.points_balance`
- a client: `clients.points_balance` (points only; a client's stamps live on its CTIs)
- a standard CTI: `stamping_accounts.balance` (stamps only; credits also count in `credited`)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from cmdesk.domain.amounts import check_quantity
from cmdesk.domain.enums import Asset, PartyType, StampingAccountKind
from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.domain.names import ASSET_WORDS
from cmdesk.models import Account, Client, StampingAccount, utcnow
from cmdesk.server import audit, feed

ASSET_LABEL = ASSET_WORDS


def insufficient(asset: Asset, quantity: int) -> DomainError:
    """The refusal of a debit without enough (also what the set-based transfers answer)."""
    return DomainError(
        ErrorCode.INSUFFICIENT_BALANCE,
        f"Saldo insuficiente: no hay {quantity:,} {ASSET_LABEL[asset]} disponibles para esta operación.",
        extra={"asset": asset.value, "quantity": quantity},
    )


def _column_update(
    party_type: PartyType,
    party_id: str,
    asset: Asset,
    delta: int,
    *,
    debit: bool,
    now: dt.datetime | None = None,
) -> tuple[Any, Any, str]:
    """(statement, model, entity) for changing one balance by `delta` (negative for a debit)."""
    stmt: Any
    if party_type == PartyType.ACCOUNT:
        col = Account.stamps_balance if asset == Asset.STAMPS else Account.points_balance
        stmt = (
            update(Account)
            .where(Account.id == party_id)
            .values({col: col + delta, Account.version: Account.version + 1})
            .returning(Account.id, Account.parent_id, col)
        )
        if debit:
            stmt = stmt.where(col >= -delta)
        return stmt, Account, "account"
    if party_type == PartyType.CLIENT:
        if asset != Asset.POINTS:
            raise validation_error(
                {"asset": "Los timbres se abonan a una cuenta de timbrado, no al cliente."}
            )
        col = Client.points_balance
        stmt = (
            update(Client)
            .where(Client.id == party_id)
            .values({col: col + delta, Client.version: Client.version + 1})
            .returning(Client.id, Client.account_id, col)
        )
        if debit:
            stmt = stmt.where(col >= -delta)
        return stmt, Client, "client"
    if party_type == PartyType.STAMPING_ACCOUNT:
        if asset != Asset.STAMPS:
            raise validation_error({"asset": "Una cuenta de timbrado sólo recibe timbres."})
        values: dict[Any, Any] = {
            StampingAccount.balance: StampingAccount.balance + delta,
            StampingAccount.version: StampingAccount.version + 1,
        }
        if not debit:
            values[StampingAccount.credited] = StampingAccount.credited + delta
            values[StampingAccount.last_credit_at] = now or utcnow()
        stmt = (
            update(StampingAccount)
            .where(StampingAccount.id == party_id, StampingAccount.kind == StampingAccountKind.STANDARD.value)
            .values(values)
            .returning(
                StampingAccount.id,
                StampingAccount.account_id,
                StampingAccount.client_id,
                StampingAccount.balance,
            )
        )
        if debit:
            stmt = stmt.where(StampingAccount.balance >= -delta)
        return stmt, StampingAccount, "stamping_account"
    raise validation_error({"target": f"No se pueden mover saldos de o hacia «{party_type}»."})


def _record(session: Session, entity: str, row: Any, delta: int) -> None:
    # The bitácora's before/after of the balance (its last RETURNING column is the new balance).
    if entity == "account":
        column = "points_balance" if row._fields[-1] == "points_balance" else "stamps_balance"
        audit.balance_changed(session, "account", row[0], column, row[-1], delta, owner=row[1] or row[0])
    elif entity == "client":
        audit.balance_changed(session, "client", row[0], "points_balance", row[-1], delta, owner=row[1])
    else:
        audit.balance_changed(
            session, entity, row[0], "balance", row[-1], delta, owner=row[1], related=[("client", row[2])]
        )
    if entity == "account":
        feed.record(session, "account", row[0], [row[0]])
        if row[1]:
            feed.record(session, "distributor", row[0], [row[1]])
        return
    feed.record(session, entity, row[0], [row[1]])
    if entity == "stamping_account":
        feed.record(session, "client", row[2], [row[1]])


def debit(session: Session, party_type: PartyType, party_id: str, asset: Asset, quantity: int) -> None:
    """Take `quantity` from a balance, or raise `insufficient_balance` (nothing changes then)."""
    check_quantity(quantity)
    stmt, _model, entity = _column_update(party_type, party_id, asset, -quantity, debit=True)
    row = session.execute(stmt, execution_options={"synchronize_session": "fetch"}).first()
    if row is None:
        raise insufficient(asset, quantity)
    _record(session, entity, row, -quantity)


def credit(
    session: Session,
    party_type: PartyType,
    party_id: str,
    asset: Asset,
    quantity: int,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Add `quantity` to a balance. The party must exist (and a CTI must be standard). `now`: the
    operation's time, a CTI's "última compra" (default: the current time)."""
    check_quantity(quantity)
    stmt, _model, entity = _column_update(party_type, party_id, asset, quantity, debit=False, now=now)
    row = session.execute(stmt, execution_options={"synchronize_session": "fetch"}).first()
    if row is None:
        if entity == "stamping_account":
            raise validation_error(
                {
                    "target": "Sólo las cuentas de timbrado estándar reciben timbres; "
                    "las ilimitadas no tienen saldo."
                }
            )
        raise DomainError(ErrorCode.NOT_FOUND, "El destinatario no existe.")
    _record(session, entity, row, quantity)


def totals(session: Session, asset: Asset) -> dict[str, int]:
    """Σ of every balance of `asset` by where it lives (used by the invariant checks)."""
    from cmdesk.models import TopUpCode

    out: dict[str, int] = {}
    col = Account.stamps_balance if asset == Asset.STAMPS else Account.points_balance
    out["accounts"] = int(session.scalar(func.coalesce(func.sum(col), 0)) or 0)
    if asset == Asset.POINTS:
        out["clients"] = int(session.scalar(func.coalesce(func.sum(Client.points_balance), 0)) or 0)
    else:
        out["stamping_accounts"] = int(
            session.scalar(func.coalesce(func.sum(StampingAccount.balance), 0)) or 0
        )
    from sqlalchemy import select

    out["top_up_codes"] = int(
        session.scalar(
            select(func.coalesce(func.sum(TopUpCode.quantity), 0)).where(
                TopUpCode.asset == asset.value, TopUpCode.redeemed_at.is_(None)
            )
        )
        or 0
    )
    return out
