"""The ledger: purchases from the catalog, transfers, stamp consumption and auto-sale (bulk transfers:
`bulk_transfers`).

Stamps and points are created only by a purchase from the catalog and destroyed only by issuing a
CFDI (or, for points, by paying fees). Every balance change goes through `balances.debit/credit`
(conditional UPDATEs), so no balance goes below zero at any concurrency, and each change is an
irreversible `Movement` with quantity, amount (centavos, IVA included), author, time and comment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cmdesk.domain import amounts, clock, identity, usage
from cmdesk.domain import unlimited as unlimited_fee
from cmdesk.domain.codes import new_id
from cmdesk.domain.enums import AccountStatus, Asset, ChargeKind, MovementKind, PartyType, StampingAccountKind
from cmdesk.domain.errors import DomainError, ErrorCode, FieldError, not_found, validation_error
from cmdesk.domain.money import check_amount_cents
from cmdesk.models import (
    Account,
    AutoSaleRule,
    BulkTransferChunk,
    CatalogContract,
    CatalogPackage,
    Charge,
    Client,
    IssuedCfdi,
    Movement,
    StampingAccount,
    utcnow,
)
from cmdesk.server import feed
from cmdesk.server.operations import balances
from cmdesk.server.operations import usage as usage_ops
from cmdesk.server.operations.context import Actor

# ---- Views --------------------------------------------------------------------------------------


def movement_view(m: Movement | SimpleNamespace) -> dict[str, Any]:
    return {
        "id": m.id,
        "version": m.version,
        "kind": m.kind,
        "asset": m.asset,
        "quantity": m.quantity,
        "amount_cents": m.amount_cents,
        "source": {"type": m.source_type, "id": m.source_id},
        "target": {"type": m.target_type, "id": m.target_id},
        "client_id": m.client_id,
        "account_id": m.account_id,
        "comments": m.comments,
        "created_at": m.created_at,
        "created_by": m.created_by,
        "invoice_id": m.invoice_id,
        "top_up_code_id": m.top_up_code_id,
        "contract_id": m.contract_id,
    }


def load_movements(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    from cmdesk.server.operations.statements import annotate_movements

    views = {m.id: movement_view(m) for m in session.scalars(select(Movement).where(Movement.id.in_(ids)))}
    annotate_movements(session, list(views.values()))  # names for statements built offline (issue 18)
    return views


FEED_LOADERS = {"movement": load_movements}


def _asset(value: str) -> Asset:
    return amounts.check_asset(value)


def _amount(value: Any, field: str = "amount_cents") -> int:
    return check_amount_cents(value, field)


def record_movement(
    session: Session,
    actor: Actor,
    *,
    kind: MovementKind,
    asset: Asset,
    quantity: int,
    amount_cents: int,
    source: tuple[PartyType, str],
    target: tuple[PartyType, str],
    client_id: str | None = None,
    counterpart_account_id: str | None = None,
    comments: str = "",
    now: dt.datetime | None = None,
    **extra: Any,
) -> Movement:
    m = Movement(
        account_id=actor.account_id,
        counterpart_account_id=counterpart_account_id,
        kind=kind.value,
        asset=asset.value,
        quantity=quantity,
        amount_cents=amount_cents,
        source_type=source[0].value,
        source_id=source[1],
        target_type=target[0].value,
        target_id=target[1],
        client_id=client_id,
        comments=comments,
        created_at=now or utcnow(),
        created_by=actor.author,
        **extra,
    )
    session.add(m)
    session.flush()
    return m


# ---- Catalog and purchases ----------------------------------------------------------------------


def catalog(session: Session) -> dict[str, Any]:
    packages = session.scalars(
        select(CatalogPackage)
        .where(CatalogPackage.active.is_(True))
        .order_by(CatalogPackage.asset, CatalogPackage.quantity)
    ).all()
    contracts = session.scalars(
        select(CatalogContract).where(CatalogContract.active.is_(True)).order_by(CatalogContract.name)
    ).all()

    def pkg(p: CatalogPackage) -> dict[str, Any]:
        return {"id": p.id, "quantity": p.quantity, "price_cents": p.price_cents, "demo_price": p.demo_price}

    def con(c: CatalogContract) -> dict[str, Any]:
        from cmdesk.domain.money import add_iva

        return {
            "code": c.code,
            "name": c.name,
            "annual_price_cents": add_iva(c.annual_price_before_tax_cents),
            "annual_price_before_tax_cents": c.annual_price_before_tax_cents,
            "demo_price": c.demo_price,
        }

    return {
        "stamp_packages": [pkg(p) for p in packages if p.asset == Asset.STAMPS.value],
        "point_packages": [pkg(p) for p in packages if p.asset == Asset.POINTS.value],
        "mkl": [con(c) for c in contracts if c.kind == "mkl"],
        "subscriptions": [con(c) for c in contracts if c.kind == "subscription"],
        "unlimited_fee_points": _unlimited_fee_points(session),
    }


def _unlimited_fee_points(session: Session) -> int | None:
    """What one year of an unlimited CTI costs in points (None: the catalog does not say)."""
    from cmdesk.server.operations.unlimited import annual_fee_points  # it imports this module

    try:
        return annual_fee_points(session)
    except DomainError:
        return None


def purchase(
    session: Session, actor: Actor, package_id: str, quantity: int = 1, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Buy `quantity` catalog packages: credits the account and charges its statement (irreversible)."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise validation_error({"quantity": "La cantidad de paquetes debe ser un entero mayor que cero."})
    if quantity > 1000:
        raise validation_error({"quantity": "Compre como máximo 1,000 paquetes en una operación."})
    package = session.get(CatalogPackage, package_id)
    if package is None or not package.active:
        raise not_found("El paquete")
    asset = Asset(package.asset)
    units = package.quantity * quantity
    charge_cents = package.price_cents * quantity
    balances.credit(session, PartyType.ACCOUNT, actor.account_id, asset, units)
    movement = record_movement(
        session,
        actor,
        kind=MovementKind.PURCHASE,
        asset=asset,
        quantity=units,
        amount_cents=charge_cents,
        source=(PartyType.CATALOG, package.id),
        target=(PartyType.ACCOUNT, actor.account_id),
        comments=f"Compra de {quantity} × {package.quantity:,} {balances.ASSET_LABEL[asset]}",
        now=now,
    )
    session.add(
        Charge(
            account_id=actor.account_id,
            kind=ChargeKind.PURCHASE.value,
            description=movement.comments,
            amount_cents=charge_cents,
            movement_id=movement.id,
            created_at=movement.created_at,
            created_by=actor.author,
        )
    )
    session.flush()
    return {"movement": movement_view(movement), "charge_cents": charge_cents}


# ---- Transfers ----------------------------------------------------------------------------------
#
# `transfer` is the reference: one transfer through the ORM, each rule in turn. The bulk transfer and
# the PostgreSQL fast path (`cmdesk.server.transfer_fast`, function `cmdesk_transfer`) apply the same
# rules set-based, answer the same refusals with the same words (`TARGET_REFUSALS`, `balances`) and
# leave the same rows behind: the movements, the balances (versions bumped once per change, as the
# reference does) and the feed entries.


class _Target(NamedTuple):
    party: PartyType
    id: str
    client_id: str | None
    counterpart_account_id: str | None


# Why a target refuses a transfer, by the code the set-based paths find it with.
TARGET_REFUSALS: dict[str, Callable[[], DomainError]] = {
    "cti_not_found": lambda: not_found("La cuenta de timbrado"),
    "cti_unlimited": lambda: validation_error(
        {
            "target.id": "Las cuentas de timbrado ilimitadas no tienen saldo de timbres; "
            "no se les transfieren timbres."
        }
    ),
    "client_not_found": lambda: not_found("El cliente"),
    "account_not_found": lambda: not_found("El distribuidor"),
    "account_closed": lambda: DomainError(
        ErrorCode.INVALID_STATE_TRANSITION,
        "No se puede transferir a un distribuidor cancelado o sin validar.",
    ),
}
CLOSED_ACCOUNT_STATUSES = (AccountStatus.CANCELLED.value, AccountStatus.UNVALIDATED.value)


@dataclass(frozen=True)
class TransferLine:
    """A transfer whose input passed every rule that needs no database (`transfer_line`)."""

    asset: Asset
    target_type: PartyType
    target_id: str
    quantity: Any  # checked after the target, as the reference does
    amount_cents: int
    comments: str  # stripped
    # The movement's id, made before any transaction (5,000 of them take milliseconds).
    movement_id: str = field(default_factory=new_id)


def transfer_line(
    *,
    asset: Any,
    target_type: Any,
    target_id: Any,
    quantity: Any,
    amount_cents: Any,
    comments: Any,
    no_charge: bool | None = None,
    movement_id: str | None = None,
) -> TransferLine:
    """The rules of a transfer that need no database, in the reference's order. A sale of $0.00
    (`no_charge` False) is refused with `sale_amount_required`; «Sin cargo» with an amount, 422
    (`amounts.sale_amount_problem`)."""
    a = _asset(asset)
    amount = _amount(amount_cents)
    if problem := amounts.sale_amount_problem(amount, no_charge):
        if no_charge:
            raise validation_error({"amount_cents": problem})
        field_error = [FieldError("amount_cents", problem)]
        raise DomainError(ErrorCode.SALE_AMOUNT_REQUIRED, amounts.SALE_AMOUNT_DETAIL, field_error)
    if not isinstance(comments, str) or len(comments) > 500:
        raise validation_error({"comments": "Los comentarios admiten hasta 500 caracteres."})
    if not isinstance(target_id, str) or not target_id:
        raise validation_error({"target.id": "Indique el destinatario."})
    if target_type == PartyType.STAMPING_ACCOUNT.value:
        if a != Asset.STAMPS:
            raise validation_error(
                {"target.type": "Los puntos se transfieren a un cliente, no a una cuenta de timbrado."}
            )
    elif target_type == PartyType.CLIENT.value:
        if a != Asset.POINTS:
            raise validation_error(
                {"target.type": "Los timbres se transfieren a una cuenta de timbrado estándar del cliente."}
            )
    elif target_type != PartyType.ACCOUNT.value:
        raise validation_error(
            {"target.type": "El destino debe ser una cuenta de timbrado, un cliente o un sub-distribuidor."}
        )
    line = (a, PartyType(target_type), target_id, quantity, amount, comments.strip())
    return TransferLine(*line) if movement_id is None else TransferLine(*line, movement_id)


def _resolve_target(session: Session, actor: Actor, line: TransferLine) -> _Target:
    """Stamps go to a standard CTI or a sub-distributor; points to a client or a sub-distributor."""
    if line.target_type == PartyType.STAMPING_ACCOUNT:
        cti = session.scalar(
            select(StampingAccount).where(
                StampingAccount.id == line.target_id, StampingAccount.account_id == actor.account_id
            )
        )
        if cti is None:
            raise TARGET_REFUSALS["cti_not_found"]()
        if cti.kind != StampingAccountKind.STANDARD.value:
            raise TARGET_REFUSALS["cti_unlimited"]()
        return _Target(PartyType.STAMPING_ACCOUNT, cti.id, cti.client_id, None)
    if line.target_type == PartyType.CLIENT:
        client = session.scalar(
            select(Client).where(Client.id == line.target_id, Client.account_id == actor.account_id)
        )
        if client is None:
            raise TARGET_REFUSALS["client_not_found"]()
        return _Target(PartyType.CLIENT, client.id, client.id, None)
    sub = session.scalar(
        select(Account).where(Account.id == line.target_id, Account.parent_id == actor.account_id)
    )
    if sub is None:
        raise TARGET_REFUSALS["account_not_found"]()
    if sub.status in CLOSED_ACCOUNT_STATUSES:
        raise TARGET_REFUSALS["account_closed"]()
    return _Target(PartyType.ACCOUNT, sub.id, None, sub.id)


def transfer(
    session: Session,
    actor: Actor,
    *,
    asset: str,
    target_type: str,
    target_id: str,
    quantity: int,
    amount_cents: int = 0,
    comments: str = "",
    no_charge: bool | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Transfer stamps or points from the distributor (irreversible). With an amount it is a sale that
    stays "por facturar" until an invoice is registered for it. `no_charge` says it explicitly: True
    ("Sin cargo") is no sale and takes no amount; False is a sale, and a sale of $0 is refused
    (`sale_amount_required`) rather than recorded; None (older clients) reads an amount of 0 as no
    charge (`transfer_line`)."""
    line = transfer_line(
        asset=asset,
        target_type=target_type,
        target_id=target_id,
        quantity=quantity,
        amount_cents=amount_cents,
        comments=comments,
        no_charge=no_charge,
    )
    target = _resolve_target(session, actor, line)
    balances.debit(session, PartyType.ACCOUNT, actor.account_id, line.asset, quantity)
    balances.credit(session, target.party, target.id, line.asset, quantity, now=now)
    m = record_movement(
        session,
        actor,
        kind=MovementKind.TRANSFER,
        asset=line.asset,
        quantity=quantity,
        amount_cents=line.amount_cents,
        source=(PartyType.ACCOUNT, actor.account_id),
        target=(target.party, target.id),
        client_id=target.client_id,
        counterpart_account_id=target.counterpart_account_id,
        comments=line.comments,
        now=now,
    )
    return movement_view(m)


# ---- Movements list -----------------------------------------------------------------------------


def list_movements(
    session: Session,
    actor: Actor,
    *,
    client_id: str | None = None,
    asset: str | None = None,
    kind: str | None = None,
    invoiced: bool | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
    after: tuple[dt.datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Movements the account made or received, newest first, keyset-paginated by (created_at, id)."""
    stmt = select(Movement).where(
        (Movement.account_id == actor.account_id) | (Movement.counterpart_account_id == actor.account_id)
    )
    if client_id:
        stmt = stmt.where(Movement.client_id == client_id)
    if asset:
        stmt = stmt.where(Movement.asset == _asset(asset).value)
    if kind:
        stmt = stmt.where(Movement.kind == kind)
    if invoiced is not None:
        stmt = stmt.where(Movement.invoice_id.is_not(None) if invoiced else Movement.invoice_id.is_(None))
    if since:
        stmt = stmt.where(Movement.created_at >= since)
    if until:
        stmt = stmt.where(Movement.created_at < until)
    if after:
        stmt = stmt.where(
            (Movement.created_at < after[0]) | ((Movement.created_at == after[0]) & (Movement.id < after[1]))
        )
    stmt = stmt.order_by(Movement.created_at.desc(), Movement.id.desc()).limit(limit)
    return [movement_view(m) for m in session.scalars(stmt)]


# ---- Consumption (the stamping fast path) -------------------------------------------------------


def _insert_cfdi(session: Session, values: dict[str, Any]) -> bool:
    """Insert the issued CFDI unless its UUID exists; True when this call inserted it."""
    dialect = session.get_bind().dialect.name
    ins = pg_insert(IssuedCfdi) if dialect == "postgresql" else sqlite_insert(IssuedCfdi)
    stmt = ins.values(**values).on_conflict_do_nothing(index_elements=["cfdi_uuid"]).returning(IssuedCfdi.id)
    return session.execute(stmt).first() is not None


def _normalize_uuid(value: Any) -> str:
    import uuid as _uuid

    if not isinstance(value, str):
        raise validation_error({"cfdi_uuid": "Indique el UUID del CFDI."})
    try:
        return str(_uuid.UUID(value.strip())).upper()
    except ValueError:
        raise validation_error({"cfdi_uuid": "El UUID del CFDI no es válido."}) from None


# Why a consumption is refused: the general path below and the PostgreSQL fast path
# (`cmdesk.server.stamping_fast`, function `cmdesk_consume`) answer with the same words.
CONSUME_REFUSALS: dict[ErrorCode, str] = {
    ErrorCode.INVALID_CREDENTIALS: "El id o la contraseña de la cuenta de timbrado no son correctos.",
    ErrorCode.DUPLICATE: "Ese UUID ya fue timbrado con otra cuenta de timbrado.",
    ErrorCode.ACCOUNT_BLOCKED: "La cuenta de timbrado está bloqueada.",
    ErrorCode.RFC_NOT_ALLOWED: "Esta cuenta ilimitada sólo timbra para otro RFC emisor.",
    ErrorCode.UNLIMITED_EXPIRED: "La anualidad de la cuenta ilimitada está vencida.",
    ErrorCode.INSUFFICIENT_BALANCE: "La cuenta de timbrado no tiene timbres disponibles.",
}


def consume_refusal(code: ErrorCode) -> DomainError:
    return DomainError(code, CONSUME_REFUSALS[code])


def consume_input(emitter_rfc: Any, cfdi_uuid: Any) -> tuple[str, str]:
    """The emitter's RFC and the CFDI UUID as stored: (normalized RFC, upper-case canonical UUID)."""
    uuid = _normalize_uuid(cfdi_uuid)
    rfc = identity.normalize_rfc(emitter_rfc or "") if isinstance(emitter_rfc, str) else ""
    if not rfc:
        raise validation_error({"emitter_rfc": "Indique el RFC del emisor."})
    return rfc, uuid


def consume(
    session: Session,
    *,
    stamping_account_id: str,
    emitter_rfc: str,
    cfdi_uuid: str,
    verify: Callable[[str], bool] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One stamp for one CFDI, in one short transaction. The same UUID again answers the same and
    debits nothing. `verify(password_hash)` checks the caller's password (HTTP Basic)."""
    now = now or utcnow()
    row = session.execute(
        select(
            StampingAccount.id,
            StampingAccount.account_id,
            StampingAccount.client_id,
            StampingAccount.kind,
            StampingAccount.active,
            StampingAccount.rfc_restriction,
            StampingAccount.paid_until,
            StampingAccount.password_hash,
            AutoSaleRule.minimum.label("auto_sale_minimum"),
        )
        .outerjoin(
            AutoSaleRule,
            (AutoSaleRule.stamping_account_id == StampingAccount.id) & AutoSaleRule.enabled.is_(True),
        )
        .where(StampingAccount.id == stamping_account_id)
    ).first()
    if row is None or (verify is not None and not verify(row.password_hash)):
        raise consume_refusal(ErrorCode.INVALID_CREDENTIALS)
    rfc, uuid = consume_input(emitter_rfc, cfdi_uuid)
    unlimited = row.kind == StampingAccountKind.UNLIMITED.value
    if not _insert_cfdi(
        session,
        {
            "cfdi_uuid": uuid,
            "stamping_account_id": row.id,
            "account_id": row.account_id,
            "emitter_rfc": rfc[:13],
            "debited": not unlimited,
            "issued_at": now,
        },
    ):
        owner = session.scalar(select(IssuedCfdi.stamping_account_id).where(IssuedCfdi.cfdi_uuid == uuid))
        if owner != row.id:
            raise consume_refusal(ErrorCode.DUPLICATE)
        return _stamp_state(session, row.id)
    if not row.active:
        raise consume_refusal(ErrorCode.ACCOUNT_BLOCKED)
    if unlimited:
        if row.rfc_restriction and row.rfc_restriction != rfc:
            raise consume_refusal(ErrorCode.RFC_NOT_ALLOWED)
        if not unlimited_fee.can_stamp(StampingAccountKind.UNLIMITED.value, row.paid_until, now):
            raise consume_refusal(ErrorCode.UNLIMITED_EXPIRED)
        result = session.execute(
            update(StampingAccount)
            .where(StampingAccount.id == row.id)
            .values(
                issued=StampingAccount.issued + 1,
                last_issue_at=now,
                first_issue_at=func.coalesce(StampingAccount.first_issue_at, now),
                version=StampingAccount.version + 1,
            )
            .returning(StampingAccount.issued),
            execution_options={"synchronize_session": False},
        ).one()
        usage_ops.count_one(session, row.id, now)
        feed.record_many(
            session, [(row.account_id, "stamping_account", row.id), (row.account_id, "client", row.client_id)]
        )
        return {"balance": None, "issued": int(result[0])}
    debited = _debit_one(session, row.id, now)
    if debited is None:
        # Empty: an enabled auto-sale may refill it before refusing.
        if row.auto_sale_minimum is not None and _auto_sale(
            session, row.id, row.account_id, row.client_id, now, force=True
        ):
            debited = _debit_one(session, row.id, now)
        if debited is None:
            raise consume_refusal(ErrorCode.INSUFFICIENT_BALANCE)
    balance, issued = debited
    usage_ops.count_one(session, row.id, now)
    feed.record_many(
        session, [(row.account_id, "stamping_account", row.id), (row.account_id, "client", row.client_id)]
    )
    if (
        row.auto_sale_minimum is not None
        and balance < row.auto_sale_minimum
        and _auto_sale(session, row.id, row.account_id, row.client_id, now, balance=balance)
    ):
        balance = int(
            session.scalar(select(StampingAccount.balance).where(StampingAccount.id == row.id)) or 0
        )
    return {"balance": balance, "issued": issued}


def _debit_one(session: Session, cti_id: str, now: dt.datetime) -> tuple[int, int] | None:
    r = session.execute(
        update(StampingAccount)
        .where(StampingAccount.id == cti_id, StampingAccount.balance >= 1)
        .values(
            balance=StampingAccount.balance - 1,
            issued=StampingAccount.issued + 1,
            last_issue_at=now,
            first_issue_at=func.coalesce(StampingAccount.first_issue_at, now),
            version=StampingAccount.version + 1,
        )
        .returning(StampingAccount.balance, StampingAccount.issued),
        execution_options={"synchronize_session": False},
    ).first()
    return (int(r[0]), int(r[1])) if r else None


def _stamp_state(session: Session, cti_id: str) -> dict[str, Any]:
    kind, balance, issued = session.execute(
        select(StampingAccount.kind, StampingAccount.balance, StampingAccount.issued).where(
            StampingAccount.id == cti_id
        )
    ).one()
    return {
        "balance": None if kind == StampingAccountKind.UNLIMITED.value else int(balance),
        "issued": int(issued),
    }


def _auto_sale(
    session: Session,
    cti_id: str,
    account_id: str,
    client_id: str,
    now: dt.datetime,
    *,
    balance: int | None = None,
    force: bool = False,
) -> bool:
    """Venta automática: below the rule's minimum, credit the rule's stamps from the distributor and
    record a sale at the rule's amount. Without distributor stamps it does nothing (no overdraft)."""
    rule = session.scalar(
        select(AutoSaleRule).where(AutoSaleRule.stamping_account_id == cti_id, AutoSaleRule.enabled.is_(True))
    )
    if rule is None or (not force and (balance is None or balance >= rule.minimum)):
        return False
    try:
        with session.begin_nested():
            balances.debit(session, PartyType.ACCOUNT, account_id, Asset.STAMPS, rule.credit)
    except DomainError:
        return False
    balances.credit(session, PartyType.STAMPING_ACCOUNT, cti_id, Asset.STAMPS, rule.credit, now=now)
    record_movement(
        session,
        Actor(account_id, "auto_sale"),
        kind=MovementKind.AUTO_SALE,
        asset=Asset.STAMPS,
        quantity=rule.credit,
        amount_cents=rule.amount_cents,
        source=(PartyType.ACCOUNT, account_id),
        target=(PartyType.STAMPING_ACCOUNT, cti_id),
        client_id=client_id,
        comments="Venta automática",
        now=now,
    )
    return True


# ---- Usage (C.P.D. / D.R.) ----------------------------------------------------------------------


def usage_report(
    session: Session, actor: Actor, cti_id: str, *, days: int = 90, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Daily CFDI issued over the last `days` (Mexico City days, `usage.mx_day`), C.P.D. and D.R.,
    from the daily usage table both stamping paths keep."""
    if not isinstance(days, int) or not 1 <= days <= 3660:
        raise validation_error({"days": "Indique entre 1 y 3,660 días."})
    cti = session.scalar(
        select(StampingAccount).where(
            StampingAccount.id == cti_id, StampingAccount.account_id == actor.account_id
        )
    )
    if cti is None:
        raise not_found("La cuenta de timbrado")
    local_today = clock.today(now or utcnow())
    start = local_today - dt.timedelta(days=days - 1)
    counts = usage_ops.daily_usage(session, [cti.id], start, local_today).get(cti.id, {})
    series = usage.fill_daily_series(counts, start, local_today)
    avg = usage.average_daily_use([n for _, n in series])
    unlimited = cti.kind == StampingAccountKind.UNLIMITED.value
    return {
        "stamping_account_id": cti.id,
        "daily": [{"date": d.isoformat(), "issued": n} for d, n in series],
        "average_daily_use": float(avg),
        "days_remaining": usage.days_remaining(None if unlimited else cti.balance, avg),
    }


# ---- Invariant ----------------------------------------------------------------------------------


def ledger_check(session: Session) -> dict[str, dict[str, int]]:
    """For each asset: Σ balances + Σ issued/spent == Σ purchased. Returns the figures per asset
    with `ok` = 1 when the equation holds (the tests and the soak check call this)."""
    out: dict[str, dict[str, int]] = {}
    for asset in Asset:
        held = balances.totals(session, asset)
        purchased = int(
            session.scalar(
                select(func.coalesce(func.sum(Movement.quantity), 0)).where(
                    Movement.kind == MovementKind.PURCHASE.value, Movement.asset == asset.value
                )
            )
            or 0
        )
        spent = int(
            session.scalar(
                select(func.coalesce(func.sum(Movement.quantity), 0)).where(
                    Movement.asset == asset.value,
                    Movement.target_type == PartyType.CATALOG.value,
                )
            )
            or 0
        )
        if asset == Asset.STAMPS:
            spent += int(
                session.scalar(
                    select(func.count()).select_from(IssuedCfdi).where(IssuedCfdi.debited.is_(True))
                )
                or 0
            )
        # A bulk transfer being written in steps holds what it debited until its movements are in.
        column = BulkTransferChunk.stamps if asset == Asset.STAMPS else BulkTransferChunk.points
        held["bulk_transfers"] = int(session.scalar(select(func.coalesce(func.sum(column), 0))) or 0)
        total_held = sum(held.values())
        negative = _negative_balances(session)
        out[asset.value] = {
            **held,
            "held": total_held,
            "spent_or_issued": spent,
            "purchased": purchased,
            "negative_balances": negative,
            "ok": int(total_held + spent == purchased and negative == 0),
        }
    return out


def _negative_balances(session: Session) -> int:
    n = (
        session.scalar(
            select(func.count())
            .select_from(Account)
            .where((Account.stamps_balance < 0) | (Account.points_balance < 0))
        )
        or 0
    )
    n += session.scalar(select(func.count()).select_from(Client).where(Client.points_balance < 0)) or 0
    n += (
        session.scalar(select(func.count()).select_from(StampingAccount).where(StampingAccount.balance < 0))
        or 0
    )
    return int(n)
