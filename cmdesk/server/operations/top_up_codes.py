"""Códigos de abono: a code + NIP a distributor sells, that credits stamps (to a standard CTI) or
points (to a client) once, when the client redeems it.

Escrow. The quantity leaves the distributor when the code is made (a `top_up` movement from the
account to the code), so every code is backed and a distributor can't sell what it doesn't have.
Redeeming moves it from the code to the receiver; cancelling an unredeemed code moves it back. The
unredeemed codes count in the ledger invariant (`balances.totals`), and a code stops counting in the
same transaction that credits its receiver, so Σ never changes.

States, on the code's columns: available (`redeemed_at` NULL); redeemed (`redeemed_at` set, the
receiver a CTI or a client); cancelled (`redeemed_at` set and the receiver its own account, see
`billing.CODE_CANCELLED`); locked (`locked_at` set after `MAX_NIP_ATTEMPTS` wrong NIPs — only
cancelling it gets the escrow back).

Wrong NIPs. `redeem` raises `invalid_credentials` with `extra["nip_failed"]`, and its transaction is
rolled back: the failed attempt must be counted in a transaction of its own, committed although the
redemption failed. The API layer does it with `register_failed_nip` (or calls
`redeem_committing_failures`, which does both). Redemptions race safely: the code is taken with a
conditional `UPDATE ... WHERE redeemed_at IS NULL AND locked_at IS NULL`, so of two concurrent
redemptions exactly one credits.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from sqlalchemy import case, literal, select, update
from sqlalchemy.orm import Session

from cmdesk.domain import clock, codes
from cmdesk.domain.amounts import quantity_problem
from cmdesk.domain.enums import Asset, MovementKind, PartyType, StampingAccountKind
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.domain.money import check_amount_cents
from cmdesk.models import Account, Client, Movement, StampingAccount, TopUpCode, utcnow
from cmdesk.models.base import UTCDateTime
from cmdesk.server import audit, feed
from cmdesk.server.db import SessionFactory, run
from cmdesk.server.operations import balances
from cmdesk.server.operations.billing import CODE_CANCELLED
from cmdesk.server.operations.context import Actor
from cmdesk.server.operations.ledger import movement_view

MAX_NIP_ATTEMPTS = 5
COMMENTS_MAX_LENGTH = 500
# Who a redemption is recorded as made by: the client, through the public redemption page.
REDEEMED_BY = "top_up_code"




def code_status(c: TopUpCode) -> str:
    if c.redeemed_at is not None:
        return "cancelled" if c.receiver_type == CODE_CANCELLED else "redeemed"
    if c.locked_at is not None:
        return "locked"
    return "available"


def code_view(c: TopUpCode, client: Client | None = None) -> dict[str, Any]:
    """A top-up code as its distributor sees it (the manual's columns: code, NIP, date, type, quantity,
    amount, consumed, receiver, invoiced). `client` is the receiving client, when loaded."""
    status = code_status(c)
    receiver: dict[str, Any] | None = None
    if status == "redeemed":
        receiver = {
            "type": c.receiver_type,
            "id": c.receiver_id,
            "client_id": c.receiver_client_id,
            "client_nic": client.nic if client is not None else None,
            "client_name": client.name if client is not None else None,
        }
    return {
        "id": c.id,
        "version": c.version,
        "code": c.code,
        "nip": c.nip,
        "asset": c.asset,
        "quantity": c.quantity,
        "amount_cents": c.amount_cents,
        "comments": c.comments,
        "created_at": c.created_at,
        "created_by": c.created_by,
        "status": status,
        "consumed": status == "redeemed",
        "redeemed_at": c.redeemed_at if status == "redeemed" else None,
        "cancelled_at": c.redeemed_at if status == "cancelled" else None,
        "receiver": receiver,
        "failed_attempts": c.failed_attempts,
        "locked_at": c.locked_at,
        "invoice_id": c.invoice_id,
    }


def _views(session: Session, rows: list[TopUpCode]) -> list[dict[str, Any]]:
    client_ids = {c.receiver_client_id for c in rows if c.receiver_client_id}
    clients = (
        {cl.id: cl for cl in session.scalars(select(Client).where(Client.id.in_(client_ids)))}
        if client_ids
        else {}
    )
    return [code_view(c, clients.get(c.receiver_client_id or "")) for c in rows]


def _check_asset(asset: str | Asset) -> Asset:
    try:
        return Asset(asset)
    except ValueError:
        raise validation_error({"asset": "El tipo debe ser timbres o puntos."}) from None


def create_code(
    session: Session,
    actor: Actor,
    *,
    asset: str | Asset,
    quantity: int,
    amount_cents: int,
    comments: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Make a code + NIP for `quantity` stamps or points, sold at `amount_cents` (may be 0 for a
    gift). The quantity is taken from the account now (`insufficient_balance` if it lacks it)."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    kind: Asset | None = None
    try:
        kind = _check_asset(asset)
    except DomainError as e:
        errors["asset"] = e.detail
    if problem := quantity_problem(quantity):
        errors["quantity"] = problem
    try:
        check_amount_cents(amount_cents)
    except DomainError as e:
        errors["amount_cents"] = e.detail
    comments = (comments or "").strip()
    if len(comments) > COMMENTS_MAX_LENGTH:
        errors["comments"] = f"Los comentarios admiten como máximo {COMMENTS_MAX_LENGTH} caracteres."
    if errors or kind is None:
        raise validation_error(errors)
    if session.get(Account, actor.account_id) is None:
        raise not_found("La cuenta")
    code = codes.generate_top_up_code()
    # 130 random bits make a collision practically impossible; checking costs one indexed lookup.
    while session.scalar(select(TopUpCode.id).where(TopUpCode.code == code)) is not None:
        code = codes.generate_top_up_code()
    row = TopUpCode(
        id=codes.new_id(),
        account_id=actor.account_id,
        code=code,
        nip=codes.generate_nip(),
        asset=kind.value,
        quantity=quantity,
        amount_cents=amount_cents,
        comments=comments,
        created_at=now,
        created_by=actor.author,
    )
    balances.debit(session, PartyType.ACCOUNT, actor.account_id, kind, quantity)
    session.add(row)
    movement = Movement(
        account_id=actor.account_id,
        kind=MovementKind.TOP_UP.value,
        asset=kind.value,
        quantity=quantity,
        # The sale is the code (invoiced through it); the escrow movement carries its amount for the record.
        amount_cents=amount_cents,
        source_type=PartyType.ACCOUNT.value,
        source_id=actor.account_id,
        target_type=PartyType.TOP_UP_CODE.value,
        target_id=row.id,
        comments=f"Código de abono {code}" + (f": {comments}" if comments else ""),
        created_at=now,
        created_by=actor.author,
        top_up_code_id=row.id,
    )
    session.add(movement)
    session.flush()
    return {"code": code_view(row), "movement": movement_view(movement)}


def _find(session: Session, code: str) -> TopUpCode:
    normalized = codes.normalize_top_up_code(code or "")
    row = session.scalar(select(TopUpCode).where(TopUpCode.code == normalized)) if normalized else None
    if row is None:
        raise not_found("El código de abono")
    return row


def _used() -> DomainError:
    return DomainError(ErrorCode.ALREADY_REDEEMED, "Este código de abono ya fue utilizado.")


def _invoiced() -> DomainError:
    return DomainError(
        ErrorCode.INVALID_STATE_TRANSITION, "El código de abono ya está facturado; no se puede cancelar."
    )


def _unavailable(row: TopUpCode) -> DomainError | None:
    status = code_status(row)
    if status == "redeemed":
        return _used()
    if status == "cancelled":
        return DomainError(
            ErrorCode.ALREADY_REDEEMED, "Este código de abono fue cancelado por el distribuidor."
        )
    if status == "locked":
        return DomainError(
            ErrorCode.CODE_LOCKED,
            "El código de abono está bloqueado por demasiados intentos con un NIP incorrecto. "
            "Comuníquese con su distribuidor.",
        )
    return None


def redeem(
    session: Session,
    *,
    code: str,
    nip: str,
    stamping_account_id: str | None = None,
    client_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Canjear: credit the code's stamps to a standard CTI, or its points to a client, of the code's
    distributor. Public (no actor): the code and its NIP are the credentials.

    Errors: `not_found` (no such code, or the receiver is not the distributor's), `already_redeemed`,
    `code_locked`, `invalid_credentials` with `extra["nip_failed"] = True` for a wrong NIP — the
    caller must then count the failure with `register_failed_nip` in a new transaction."""
    now = now or utcnow()
    row = _find(session, code)
    problem = _unavailable(row)
    if problem is not None:
        raise problem
    given = (nip or "").strip().upper()
    if not hmac.compare_digest(given.encode(), row.nip.encode()):
        left = max(MAX_NIP_ATTEMPTS - row.failed_attempts - 1, 0)
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS,
            "El NIP no es correcto."
            + (f" Le quedan {left} intentos." if left else " El código quedará bloqueado."),
            extra={"nip_failed": True, "code": row.code},
        )
    asset = Asset(row.asset)
    receiver_type, receiver_id, receiver_client = _receiver(
        session, row, asset, stamping_account_id, client_id
    )
    taken = session.execute(
        update(TopUpCode)
        .where(TopUpCode.id == row.id, TopUpCode.redeemed_at.is_(None), TopUpCode.locked_at.is_(None))
        .values(
            redeemed_at=now,
            receiver_type=receiver_type.value,
            receiver_id=receiver_id,
            receiver_client_id=receiver_client.id,
            version=TopUpCode.version + 1,
        )
        .returning(TopUpCode.id),
        execution_options={"synchronize_session": "fetch"},
    ).first()
    if taken is None:
        # Someone else redeemed (or locked, or cancelled) it between our read and our update.
        session.refresh(row)
        raise _unavailable(row) or _used()
    feed.record(session, "top_up_code", row.id, [row.account_id])
    audit.note(
        session, "top_up_code", row.id, primary=True, owner=row.account_id,
        before={"redeemed_at": None, "receiver_type": None, "receiver_id": None, "receiver_client_id": None},
        after={
            "redeemed_at": now, "receiver_type": receiver_type.value, "receiver_id": receiver_id,
            "receiver_client_id": receiver_client.id,
        },
        related=[(receiver_type.value, receiver_id), ("client", receiver_client.id)],
    )
    balances.credit(session, receiver_type, receiver_id, asset, row.quantity, now=now)
    movement = Movement(
        account_id=row.account_id,
        kind=MovementKind.TOP_UP.value,
        asset=asset.value,
        quantity=row.quantity,
        amount_cents=0,
        source_type=PartyType.TOP_UP_CODE.value,
        source_id=row.id,
        target_type=receiver_type.value,
        target_id=receiver_id,
        client_id=receiver_client.id,
        comments=f"Canje del código de abono {row.code}",
        created_at=now,
        created_by=REDEEMED_BY,
        top_up_code_id=row.id,
    )
    session.add(movement)
    session.flush()
    return {
        "asset": asset.value,
        "quantity": row.quantity,
        "receiver": {"type": receiver_type.value, "id": receiver_id},
        "client": {"nic": receiver_client.nic, "name": receiver_client.name},
        "redeemed_at": now,
        "movement_id": movement.id,
    }


def _receiver(
    session: Session,
    row: TopUpCode,
    asset: Asset,
    stamping_account_id: str | None,
    client_id: str | None,
) -> tuple[PartyType, str, Client]:
    if asset == Asset.STAMPS:
        if not stamping_account_id:
            raise validation_error(
                {"stamping_account_id": "Indique la cuenta de timbrado que recibirá los timbres."}
            )
        cti = session.get(StampingAccount, stamping_account_id)
        if cti is None or cti.account_id != row.account_id:
            raise not_found("La cuenta de timbrado")
        if cti.kind != StampingAccountKind.STANDARD.value:
            raise validation_error(
                {
                    "stamping_account_id": "Las cuentas de timbrado ilimitadas no reciben timbres; "
                    "elija una estándar."
                }
            )
        client = session.get(Client, cti.client_id)
        if client is None:
            raise not_found("El cliente")
        return PartyType.STAMPING_ACCOUNT, cti.id, client
    if not client_id:
        raise validation_error({"client_id": "Indique el cliente que recibirá los puntos."})
    client = session.get(Client, client_id)
    if client is None or client.account_id != row.account_id:
        raise not_found("El cliente")
    return PartyType.CLIENT, client.id, client


def register_failed_nip(session: Session, *, code: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Count one wrong NIP for `code` (in its own transaction, which the caller commits even though the
    redemption failed); the `MAX_NIP_ATTEMPTS`-th locks the code. Returns the code's attempt count
    and whether it is locked now. A code already redeemed, cancelled or locked is left alone."""
    now = now or utcnow()
    normalized = codes.normalize_top_up_code(code or "")
    new_count = TopUpCode.failed_attempts + 1
    row = session.execute(
        update(TopUpCode)
        .where(TopUpCode.code == normalized, TopUpCode.redeemed_at.is_(None), TopUpCode.locked_at.is_(None))
        .values(
            failed_attempts=new_count,
            locked_at=case((new_count >= MAX_NIP_ATTEMPTS, literal(now, UTCDateTime())), else_=None),
            version=TopUpCode.version + 1,
        )
        .returning(TopUpCode.id, TopUpCode.account_id, TopUpCode.failed_attempts, TopUpCode.locked_at),
        execution_options={"synchronize_session": "fetch"},
    ).first()
    if row is None:
        return {"failed_attempts": None, "locked": None}
    feed.record(session, "top_up_code", row.id, [row.account_id])
    audit.note(
        session, "top_up_code", row.id, primary=True, owner=row.account_id,
        before={"failed_attempts": row.failed_attempts - 1, "locked_at": None},
        after={"failed_attempts": row.failed_attempts, "locked_at": row.locked_at},
    )
    return {"failed_attempts": row.failed_attempts, "locked": row.locked_at is not None}


def redeem_committing_failures(factory: SessionFactory, **kwargs: Any) -> dict[str, Any]:
    """`redeem` in its own transaction; a wrong NIP is counted in a second, committed transaction,
    then reported (as `code_locked` if that attempt locked the code). For the API layer."""
    try:
        return run(factory, redeem, **kwargs)
    except DomainError as error:
        if not error.extra.get("nip_failed"):
            raise
        counted = run(factory, register_failed_nip, code=kwargs.get("code", ""), now=kwargs.get("now"))
        if counted["locked"]:
            raise DomainError(
                ErrorCode.CODE_LOCKED,
                "El NIP no es correcto y el código de abono quedó bloqueado por demasiados intentos. "
                "Comuníquese con su distribuidor.",
            ) from None
        raise


def cancel_code(
    session: Session, actor: Actor, code_id: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Cancel an unredeemed code (locked ones too): its escrow goes back to the distributor. An
    invoiced code can't be cancelled (the sale was billed)."""
    now = now or utcnow()
    row = session.get(TopUpCode, code_id)
    if row is None or row.account_id != actor.account_id:
        raise not_found("El código de abono")
    if row.invoice_id is not None:
        raise _invoiced()
    if row.redeemed_at is not None:
        raise _unavailable(row) or _used()
    taken = session.execute(
        update(TopUpCode)
        .where(TopUpCode.id == row.id, TopUpCode.redeemed_at.is_(None), TopUpCode.invoice_id.is_(None))
        .values(
            redeemed_at=now,
            receiver_type=CODE_CANCELLED,
            receiver_id=row.account_id,
            version=TopUpCode.version + 1,
        )
        .returning(TopUpCode.id),
        execution_options={"synchronize_session": "fetch"},
    ).first()
    if taken is None:
        session.refresh(row)
        if row.invoice_id is not None:
            raise _invoiced()
        raise _unavailable(row) or _used()
    feed.record(session, "top_up_code", row.id, [row.account_id])
    audit.note(
        session, "top_up_code", row.id, primary=True, owner=row.account_id,
        before={"redeemed_at": None, "receiver_type": None},
        after={"redeemed_at": now, "receiver_type": CODE_CANCELLED},
    )
    asset = Asset(row.asset)
    balances.credit(session, PartyType.ACCOUNT, row.account_id, asset, row.quantity)
    movement = Movement(
        account_id=row.account_id,
        kind=MovementKind.TOP_UP.value,
        asset=asset.value,
        quantity=row.quantity,
        amount_cents=0,
        source_type=PartyType.TOP_UP_CODE.value,
        source_id=row.id,
        target_type=PartyType.ACCOUNT.value,
        target_id=row.account_id,
        comments=f"Cancelación del código de abono {row.code}",
        created_at=now,
        created_by=actor.author,
        top_up_code_id=row.id,
    )
    session.add(movement)
    session.flush()
    session.refresh(row)
    return {"code": code_view(row), "movement": movement_view(movement)}


def _month_range(year: int, month: int | None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of a calendar month (or year) in Mexico City time, as the manual filters."""
    span = clock.period(year, month)
    assert span is not None
    return span


def list_codes(
    session: Session,
    actor: Actor,
    *,
    year: int | None = None,
    month: int | None = None,
    asset: str | Asset | None = None,
    invoiced: bool | None = None,
) -> list[dict[str, Any]]:
    """The account's codes, newest first; filtered by the manual's Año / Mes / Todos·Timbres·Puntos,
    and by `invoiced` (False: the codes still to invoice — sold, with an amount, not cancelled)."""
    errors: dict[str, str] = {}
    if month is not None and (not isinstance(month, int) or not 1 <= month <= 12):
        errors["month"] = "El mes debe ser un número del 1 al 12."
    if year is not None and (not isinstance(year, int) or not 2000 <= year <= 9998):
        errors["year"] = "El año no es válido."
    if month is not None and year is None:
        errors["year"] = "Indique el año del mes."
    if errors:
        raise validation_error(errors)
    stmt = select(TopUpCode).where(TopUpCode.account_id == actor.account_id)
    if year is not None:
        start, end = _month_range(year, month)
        stmt = stmt.where(TopUpCode.created_at >= start, TopUpCode.created_at < end)
    if asset is not None:
        stmt = stmt.where(TopUpCode.asset == _check_asset(asset).value)
    if invoiced is True:
        stmt = stmt.where(TopUpCode.invoice_id.is_not(None))
    elif invoiced is False:
        stmt = stmt.where(
            TopUpCode.invoice_id.is_(None),
            TopUpCode.amount_cents > 0,
            (TopUpCode.receiver_type.is_(None)) | (TopUpCode.receiver_type != CODE_CANCELLED),
        )
    rows = list(session.scalars(stmt.order_by(TopUpCode.created_at.desc(), TopUpCode.id)))
    return _views(session, rows)


def get_code(session: Session, actor: Actor, code_id: str) -> dict[str, Any]:
    row = session.get(TopUpCode, code_id)
    if row is None or row.account_id != actor.account_id:
        raise not_found("El código de abono")
    return _views(session, [row])[0]


def load_codes(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = list(session.scalars(select(TopUpCode).where(TopUpCode.id.in_(ids))))
    return {v["id"]: v for v in _views(session, rows)}


FEED_LOADERS = {"top_up_code": load_codes}
