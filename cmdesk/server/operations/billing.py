"""Facturación: the sales still to invoice ("por facturar") and the invoices registered for them.

A sale is a movement with an amount that the account made to one of its clients: a transfer or an
automatic sale. A top-up code is a sale by itself (its amount is on the code): redeeming it is not a
second sale, so its movements never show here; codes are invoiced with `register_code_invoice`.

Each sale is invoiced once. Two invoices registered at the same time for the same sale can't both
take it: the sale is marked with a conditional `UPDATE ... WHERE invoice_id IS NULL` and the
operation checks that it marked every sale it was given (the loser blocks on the winner's row
locks, then sees the sale taken and fails with `duplicate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cmdesk.domain import contact
from cmdesk.domain.enums import PartyType
from cmdesk.domain.errors import DomainError, ErrorCode, FieldError, not_found, validation_error
from cmdesk.domain.sales import SALE_KINDS
from cmdesk.models import Client, Invoice, Movement, TopUpCode
from cmdesk.server import audit, feed
from cmdesk.server.operations.context import Actor
from cmdesk.server.operations.ledger import movement_view

REFERENCE_MAX_LENGTH = 100
# A cancelled top-up code is marked as "redeemed" by its own account (its escrow went back there).
CODE_CANCELLED = PartyType.ACCOUNT.value


def invoice_view(inv: Invoice) -> dict[str, Any]:
    return {
        "id": inv.id,
        "version": inv.version,
        "client_id": inv.client_id,
        "reference": inv.reference,
        "total_cents": inv.total_cents,
        "created_at": inv.created_at,
        "created_by": inv.created_by,
    }


def _own_client(session: Session, actor: Actor, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None or client.account_id != actor.account_id:
        raise not_found("El cliente")
    return client


def _pending_filter(actor: Actor) -> Any:
    return and_(
        Movement.account_id == actor.account_id,
        Movement.kind.in_(SALE_KINDS),
        Movement.amount_cents > 0,
        Movement.client_id.is_not(None),
        Movement.invoice_id.is_(None),
    )


def pending_sales(session: Session, actor: Actor, client_id: str | None = None) -> list[dict[str, Any]]:
    """The sales not yet invoiced, oldest first (all clients, or one). Each item is a movement view;
    `target.id` is what the manual's list shows as "Referencia" (the CTI, or the client for points)."""
    stmt = select(Movement).where(_pending_filter(actor)).order_by(Movement.created_at, Movement.id)
    if client_id is not None:
        _own_client(session, actor, client_id)
        stmt = stmt.where(Movement.client_id == client_id)
    return [movement_view(m) for m in session.scalars(stmt)]


def pending_by_client(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The clients with sales to invoice (Facturación → Timbres y Puntos): NIC, name, count, total."""
    rows = session.execute(
        select(
            Client.id,
            Client.nic,
            Client.name,
            func.count(Movement.id),
            func.coalesce(func.sum(Movement.amount_cents), 0),
        )
        .join(Client, Client.id == Movement.client_id)
        .where(_pending_filter(actor), Client.account_id == actor.account_id)
        .group_by(Client.id, Client.nic, Client.name)
        .order_by(Client.name, Client.nic)
    ).all()
    return [
        {"client_id": cid, "nic": nic, "name": name, "count": int(count), "total_cents": int(total)}
        for cid, nic, name, count, total in rows
    ]


def _check_reference(reference: str, field: str) -> str:
    ref = contact.check_required(reference, field, "Referencia")
    return contact.check_max_length(ref, field, "Referencia", REFERENCE_MAX_LENGTH)


def _check_ids(ids: Sequence[str], field: str, what: str) -> list[str]:
    if isinstance(ids, str) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise validation_error({field: f"Seleccione al menos {what} para facturar."})
    unique = list(dict.fromkeys(ids))
    if len(unique) != len(ids):
        raise validation_error({field: f"La lista tiene {what} repetidos."})
    return unique


def _new_invoice(
    session: Session, actor: Actor, *, reference: str, client_id: str | None, total_cents: int
) -> Invoice:
    """Insert the invoice; a reference the account already used is a `duplicate` (also under a race,
    where the unique constraint decides: the insert runs in a savepoint so the error is clean)."""
    duplicate = DomainError(
        ErrorCode.DUPLICATE,
        f"Ya existe una factura registrada con la referencia «{reference}».",
        [FieldError("reference", "Esa referencia ya se usó en otra factura.")],
    )
    exists = session.scalar(
        select(Invoice.id).where(Invoice.account_id == actor.account_id, Invoice.reference == reference)
    )
    if exists is not None:
        raise duplicate
    invoice = Invoice(
        account_id=actor.account_id,
        client_id=client_id,
        reference=reference,
        total_cents=total_cents,
        created_by=actor.author,
    )
    try:
        with session.begin_nested():
            session.add(invoice)
            session.flush()
    except IntegrityError:
        raise duplicate from None
    return invoice


def register_invoice(
    session: Session, actor: Actor, *, client_id: str, reference: str, movement_ids: Sequence[str]
) -> dict[str, Any]:
    """Registrar factura: mark chosen sales of one client as invoiced under `reference`."""
    v = contact.Validator()
    ref = v.run("reference", _check_reference, reference)
    ids = v.run("movement_ids", _check_ids, movement_ids, "una venta")
    v.raise_if_any()
    assert ref is not None and ids is not None
    client = _own_client(session, actor, client_id)
    found = {m.id: m for m in session.scalars(select(Movement).where(Movement.id.in_(ids)))}
    errors: list[FieldError] = []
    for mid in ids:
        m = found.get(mid)
        if m is None or m.account_id != actor.account_id:
            raise not_found("La venta")
        if m.kind not in SALE_KINDS or m.amount_cents <= 0 or m.client_id is None:
            errors.append(FieldError("movement_ids", "Un movimiento elegido no es una venta con importe."))
        elif m.client_id != client.id:
            errors.append(FieldError("movement_ids", f"Una de las ventas no es del cliente [{client.nic}]."))
    if errors:
        raise validation_error(errors)
    taken = [found[mid] for mid in ids if found[mid].invoice_id is not None]
    if taken:
        raise _already_invoiced(len(taken))
    total = sum(found[mid].amount_cents for mid in ids)
    invoice = _new_invoice(session, actor, reference=ref, client_id=client.id, total_cents=total)
    marked = session.execute(
        update(Movement)
        .where(
            Movement.id.in_(ids),
            Movement.account_id == actor.account_id,
            Movement.invoice_id.is_(None),
        )
        .values(invoice_id=invoice.id, version=Movement.version + 1)
        .returning(Movement.id, Movement.account_id, Movement.counterpart_account_id),
        execution_options={"synchronize_session": "fetch"},
    ).all()
    if len(marked) != len(ids):
        # Another invoice took one of these sales after we read them: the caller rolls back.
        raise _already_invoiced(len(ids) - len(marked))
    feed.record_many(
        session,
        [(acc, "movement", mid) for mid, owner, other in marked for acc in (owner, other) if acc],
    )
    invoiced = {"invoice_id": invoice.id}
    for mid, owner, _other in marked:
        audit.note(session, "movement", mid, owner=owner, before={"invoice_id": None}, after=invoiced)
    return {"invoice": invoice_view(invoice), "movement_ids": ids}


def _already_invoiced(count: int) -> DomainError:
    detail = (
        "La venta seleccionada ya está facturada."
        if count == 1
        else f"{count} de las ventas seleccionadas ya están facturadas."
    )
    return DomainError(ErrorCode.DUPLICATE, detail + " Actualice la lista e inténtelo de nuevo.")


def register_code_invoice(
    session: Session,
    actor: Actor,
    *,
    reference: str,
    code_ids: Sequence[str],
    client_id: str | None = None,
) -> dict[str, Any]:
    """Facturación → Códigos de abono → Facturar: mark sold top-up codes as invoiced.

    A code is invoiceable once it has an amount, whether redeemed or not (it was sold when made);
    a cancelled code is not. `client_id` names the invoiced client; when omitted, it is the client
    that redeemed every chosen code, if it is the same one."""
    v = contact.Validator()
    ref = v.run("reference", _check_reference, reference)
    ids = v.run("code_ids", _check_ids, code_ids, "un código")
    v.raise_if_any()
    assert ref is not None and ids is not None
    if client_id is not None:
        _own_client(session, actor, client_id)
    found = {c.id: c for c in session.scalars(select(TopUpCode).where(TopUpCode.id.in_(ids)))}
    errors: list[FieldError] = []
    for cid in ids:
        c = found.get(cid)
        if c is None or c.account_id != actor.account_id:
            raise not_found("El código de abono")
        if c.receiver_type == CODE_CANCELLED:
            errors.append(FieldError("code_ids", f"El código {c.code} fue cancelado; no se puede facturar."))
        elif c.amount_cents <= 0:
            errors.append(FieldError("code_ids", f"El código {c.code} no tiene importe que facturar."))
    if errors:
        raise validation_error(errors)
    taken = [cid for cid in ids if found[cid].invoice_id is not None]
    if taken:
        raise _already_invoiced(len(taken))
    if client_id is None:
        receivers = {found[cid].receiver_client_id for cid in ids}
        client_id = receivers.pop() if len(receivers) == 1 else None
    total = sum(found[cid].amount_cents for cid in ids)
    invoice = _new_invoice(session, actor, reference=ref, client_id=client_id, total_cents=total)
    marked = (
        session.execute(
            update(TopUpCode)
            .where(
                TopUpCode.id.in_(ids),
                TopUpCode.account_id == actor.account_id,
                TopUpCode.invoice_id.is_(None),
                # A code cancelled meanwhile can't be invoiced either.
                func.coalesce(TopUpCode.receiver_type, "") != CODE_CANCELLED,
            )
            .values(invoice_id=invoice.id, version=TopUpCode.version + 1)
            .returning(TopUpCode.id),
            execution_options={"synchronize_session": "fetch"},
        )
        .scalars()
        .all()
    )
    if len(marked) != len(ids):
        raise _already_invoiced(len(ids) - len(marked))
    feed.record_many(session, [(actor.account_id, "top_up_code", cid) for cid in marked])
    for cid in marked:
        audit.note(
            session, "top_up_code", cid, before={"invoice_id": None}, after={"invoice_id": invoice.id},
            owner=actor.account_id,
        )
    return {"invoice": invoice_view(invoice), "code_ids": ids}


def list_invoices(session: Session, actor: Actor, *, client_id: str | None = None) -> list[dict[str, Any]]:
    """The account's invoices, newest first (optionally of one client)."""
    stmt = (
        select(Invoice)
        .where(Invoice.account_id == actor.account_id)
        .order_by(Invoice.created_at.desc(), Invoice.id)
    )
    if client_id is not None:
        _own_client(session, actor, client_id)
        stmt = stmt.where(Invoice.client_id == client_id)
    return [invoice_view(i) for i in session.scalars(stmt)]


def load_invoices(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {i.id: invoice_view(i) for i in session.scalars(select(Invoice).where(Invoice.id.in_(ids)))}


FEED_LOADERS = {"invoice": load_invoices}
