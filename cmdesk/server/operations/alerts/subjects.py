"""Low-balance alerts, what is evaluated (CTIs, own balances), when a threshold fires and re-arms.

The whole design is in the package docstring (`cmdesk.server.operations.alerts`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cmdesk.domain import forecast, usage
from cmdesk.domain.enums import Asset, MovementKind, PartyType, Role, StampingAccountKind
from cmdesk.domain.money import format_mxn
from cmdesk.models import (
    Account,
    AccountSettings,
    Alert,
    AlertCursor,
    Client,
    CtiDailyUsage,
    IssuedCfdi,
    Membership,
    Movement,
    PricePackage,
    Profile,
    StampingAccount,
)
from cmdesk.server import feed
from cmdesk.server.operations.alerts.delivery import Recipient, deliver
from cmdesk.server.operations.alerts.rules import DEFAULT_DAILY_CAP, Rule, _Rules, render_message

log = logging.getLogger(__name__)

# ---- Evaluation -----------------------------------------------------------------------------------


@dataclass
class Subject:
    """A CTI or the distributor's own stamps, with the figures the rules look at."""

    type: str  # "stamping_account" or "own_balance"
    id: str
    account_id: str
    client_id: str | None
    forecast: forecast.Forecast
    balance: int
    eligible: bool  # in use (C.P.D. > 0), standard and active
    rule: Rule
    last_credit_at: dt.datetime | None = None


@dataclass
class _Context:
    """What one evaluation step may need, loaded on demand and shared."""

    session: Session
    now: dt.datetime
    today: dt.date = field(init=False)
    rules: _Rules | None = None

    def __post_init__(self) -> None:
        self.today = usage.mx_day(self.now)


def _holds(kind: str, threshold: int, s: Subject) -> bool:
    if not s.eligible:
        return False
    if kind == "days":
        return s.forecast.days_remaining is not None and s.forecast.days_remaining <= threshold
    return s.balance <= threshold


def _holds_at(kind: str, threshold: int, s: Subject, balance: int) -> bool:
    """Whether the condition held with `balance` (at the subject's current C.P.D.)."""
    if kind == "days":
        remaining = forecast.days_remaining(balance, s.forecast.cpd_centi)
        return remaining is not None and remaining <= threshold
    return balance <= threshold


def _after_credits(session: Session, s: Subject, since: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """`(time, balance right after)` of each credit a CTI received since `since`: its balance now,
    plus the CFDI it issued after the credit, minus the credits after it. Only for a CTI credited
    since then (a refill consumed before the evaluator looked must still re-arm its alerts)."""
    if s.type != "stamping_account" or s.last_credit_at is None or s.last_credit_at <= since:
        return []
    credits = session.execute(
        select(Movement.created_at, Movement.quantity)
        .where(
            Movement.target_type == PartyType.STAMPING_ACCOUNT.value,
            Movement.target_id == s.id,
            Movement.asset == Asset.STAMPS.value,
            Movement.created_at > since,
        )
        .order_by(Movement.created_at.desc())
    ).all()
    out: list[tuple[dt.datetime, int]] = []
    credited_later = 0
    for at, quantity in credits:
        issued_later = int(
            session.scalar(
                select(func.count())
                .select_from(IssuedCfdi)
                .where(IssuedCfdi.stamping_account_id == s.id, IssuedCfdi.issued_at > at)
            )
            or 0
        )
        out.append((at, s.balance + issued_later - credited_later))
        credited_later += int(quantity)
    return out


def _insert_alert(session: Session, values: dict[str, Any]) -> bool:
    """Insert an open crossing unless one is open already (any evaluator); True when this call did."""
    dialect = session.get_bind().dialect.name
    ins = pg_insert(Alert) if dialect == "postgresql" else sqlite_insert(Alert)
    stmt = (
        ins.values(**values)
        .on_conflict_do_nothing(
            index_elements=["account_id", "subject_type", "subject_id", "threshold_kind", "threshold"],
            index_where=text("rearmed_at IS NULL"),
        )
        .returning(Alert.id)
    )
    return session.execute(stmt).first() is not None


def _severity(kind: str, threshold: int) -> tuple[int, int]:
    return (0 if kind == "balance" else 1, threshold)


def evaluate_subjects(ctx: _Context, subjects: Sequence[Subject]) -> list[Alert]:
    """Fire what crossed, re-arm what was refilled; returns the alerts created."""
    session = ctx.session
    if not subjects:
        return []
    open_rows = session.scalars(
        select(Alert).where(
            Alert.account_id.in_({s.account_id for s in subjects}),
            Alert.subject_id.in_({s.id for s in subjects}),
            Alert.rearmed_at.is_(None),
        )
    ).all()
    open_by: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for a in open_rows:
        open_by[(a.subject_type, a.subject_id)].append(a)
    created: list[Alert] = []
    for s in subjects:
        current = open_by.get((s.type, s.id), [])
        # Re-arm: refilled above the threshold since it fired — seen now (the condition no longer
        # holds and the balance is above the one it fired at), or right after a credit that was
        # used up again before this step looked (`_after_credits`).
        peaks = _after_credits(session, s, min(a.created_at for a in current)) if current else []
        for a in current:
            refilled = not _holds(a.threshold_kind, a.threshold, s) and s.balance > a.balance
            if not refilled:
                refilled = any(
                    at > a.created_at and not _holds_at(a.threshold_kind, a.threshold, s, balance)
                    for at, balance in peaks
                )
            if refilled:
                a.rearmed_at = ctx.now
                if a.state != "resolved":
                    a.state, a.resolved_at, a.resolved_by = "resolved", ctx.now, "system"
        if any(a.rearmed_at is not None for a in current):
            session.flush()  # re-armed before the same threshold may fire again below
        if not s.rule.enabled or not s.eligible:
            continue
        still_open = {(a.threshold_kind, a.threshold) for a in current if a.rearmed_at is None}
        fired: list[tuple[str, int]] = [
            (kind, t)
            for kind, limits in (("days", s.rule.days_thresholds), ("balance", s.rule.balance_thresholds))
            for t in limits
            if (kind, t) not in still_open and _holds(kind, t, s)
        ]
        new_rows: list[Alert] = []
        for kind, t in sorted(fired, key=lambda k: _severity(*k)):
            ident = _new_id()
            title, detail = _texts(ctx, s, kind, t)
            values: dict[str, Any] = {
                "id": ident,
                "account_id": s.account_id,
                "version": 1,
                "subject_type": s.type,
                "subject_id": s.id,
                "client_id": s.client_id,
                "threshold_kind": kind,
                "threshold": t,
                "state": "new",
                "balance": s.balance,
                "days_remaining": s.forecast.days_remaining,
                "cpd_centi": s.forecast.cpd_centi,
                "usual_purchase": None,
                "refill_cost_cents": None,
                "title": title,
                "detail": detail,
                "rule_id": s.rule.id,
                "created_at": ctx.now,
            }
            if s.type == "stamping_account" and s.client_id:
                usual, refill = purchase_info(session, s.account_id, s.client_id)
                values["usual_purchase"] = usual
                values["refill_cost_cents"] = refill.amount_cents if refill else None
                if usual:
                    values["detail"] += f" Compra habitual: {usual:,} timbres" + (
                        f" ({format_mxn(refill.amount_cents)} a su precio)." if refill else "."
                    )
            if _insert_alert(session, values):
                row = session.get(Alert, ident)
                assert row is not None
                new_rows.append(row)
        if new_rows:
            feed.record_many(session, [(s.account_id, "alert", a.id) for a in new_rows])
            # Crossed together: one message, for the most severe.
            deliver(
                session,
                new_rows[0],
                _recipients(ctx, s, new_rows[0]),
                daily_cap=s.rule.daily_cap or DEFAULT_DAILY_CAP,
            )
            created.extend(new_rows)
    session.flush()  # the re-armed rows: their version bump and feed entries come with the flush
    return created


def _new_id() -> str:
    from cmdesk.domain.codes import new_id

    return new_id()


def _days_text(days: int | None) -> str:
    if days is None:
        return "—"
    return "hoy" if days == 0 else ("1 día" if days == 1 else f"{days:,} días")


def _names(ctx: _Context, s: Subject) -> tuple[str, str]:
    """(client name, distributor name) of a subject."""
    account = ctx.session.get(Account, s.account_id)
    client = ctx.session.get(Client, s.client_id) if s.client_id else None
    return (client.name if client else ""), (account.name if account else "")


def _texts(ctx: _Context, s: Subject, kind: str, threshold: int) -> tuple[str, str]:
    f = s.forecast
    figures = (
        f"Saldo: {s.balance:,} timbres. Consumo promedio diario: {f.average_daily_use}. "
        f"Días restantes: {_days_text(f.days_remaining)}."
    )
    if s.type == "own_balance":
        if kind == "balance":
            title = "Se agotaron sus timbres" if s.balance == 0 else f"Le quedan {s.balance:,} timbres"
        else:
            title = f"Sus timbres alcanzan para {_days_text(f.days_remaining)} de consumo de sus clientes"
        return title, figures + " Compre timbres para seguir abasteciendo a sus clientes."
    client_name, _ = _names(ctx, s)
    who = f"{client_name}: la cuenta de timbrado {s.id}"
    if kind == "balance":
        title = f"{who} se quedó sin timbres" if s.balance == 0 else f"{who} tiene {s.balance:,} timbres"
    elif f.days_remaining == 0:
        title = f"{who} se agota hoy"
    else:
        title = f"{who} se agota en {_days_text(f.days_remaining)}"
    return title, figures


def _recipients(ctx: _Context, s: Subject, a: Alert) -> list[Recipient]:
    session = ctx.session
    out: list[Recipient] = []
    if s.rule.notify_users:
        emails = session.scalars(
            select(Profile.email)
            .join(Membership, Membership.profile_id == Profile.id)
            .where(Membership.account_id == s.account_id)
            .order_by(Membership.role != Role.MASTER.value, Profile.email)
        ).all()
        body = f"{a.title}.\n\n{a.detail}\n\nRevise la lista de Alertas en cmdesk para transferir timbres."
        out += [Recipient(e, "user", a.title, body) for e in emails if e]
    if s.rule.notify_client and s.type == "stamping_account" and s.client_id:
        client = session.get(Client, s.client_id)
        email = (client.financial_email or client.email or client.technical_email) if client else ""
        if client is not None and email:
            _, distributor = _names(ctx, s)
            values = {
                "cliente": client.name,
                "cuenta": s.id,
                "saldo": f"{s.balance:,}",
                "dias": f"{s.forecast.days_remaining or 0:,}",
                "distribuidor": distributor,
            }
            body = render_message(s.rule.client_message, values)
            out.append(Recipient(email, "client", f"Aviso de saldo de su cuenta de timbrado {s.id}", body))
    return out


def purchase_info(
    session: Session, account_id: str, client_id: str
) -> tuple[int | None, forecast.Refill | None]:
    """The client's usual purchase (`forecast.usual_purchase`) and what it costs at its price."""
    quantities = session.scalars(
        select(Movement.quantity)
        .where(
            Movement.account_id == account_id,
            Movement.client_id == client_id,
            Movement.asset == Asset.STAMPS.value,
            Movement.target_type == PartyType.STAMPING_ACCOUNT.value,
            Movement.kind.in_(
                [MovementKind.TRANSFER.value, MovementKind.AUTO_SALE.value, MovementKind.TOP_UP.value]
            ),
        )
        .order_by(Movement.created_at.desc(), Movement.id.desc())
        .limit(forecast.USUAL_PURCHASE_SAMPLE)
    ).all()
    usual = forecast.usual_purchase([int(q) for q in quantities])
    if usual is None:
        return None, None
    client_price = session.scalar(select(Client.bulk_stamp_price_cents).where(Client.id == client_id))
    global_price = session.scalar(
        select(AccountSettings.bulk_stamp_price_cents).where(AccountSettings.account_id == account_id)
    )
    packages = session.execute(
        select(PricePackage.quantity, PricePackage.price_cents).where(
            PricePackage.account_id == account_id,
            PricePackage.asset == Asset.STAMPS.value,
            PricePackage.for_distributors.is_(False),
        )
    ).all()
    refill = forecast.refill_cost(
        usual,
        client_bulk_price_cents=client_price,
        global_bulk_price_cents=global_price,
        packages=[(int(q), int(p)) for q, p in packages],
    )
    return usual, refill


def _window_sums(session: Session, cti_ids: Sequence[str], today: dt.date) -> dict[str, int]:
    """CFDI each CTI issued in the C.P.D. window's longest reach (no CTI issues before it exists, so
    the days before a young CTI's creation hold nothing)."""
    start = forecast.window(today)[0]
    out: dict[str, int] = {}
    for i in range(0, len(cti_ids), 1000):
        chunk = cti_ids[i : i + 1000]
        for cti, total in session.execute(
            select(CtiDailyUsage.stamping_account_id, func.sum(CtiDailyUsage.issued))
            .where(
                CtiDailyUsage.stamping_account_id.in_(chunk),
                CtiDailyUsage.day >= start,
                CtiDailyUsage.day <= today,
            )
            .group_by(CtiDailyUsage.stamping_account_id)
        ):
            out[cti] = int(total or 0)
    return out


def _cti_cpd(today: dt.date, created_at: dt.datetime, issued: int) -> int:
    _, days = forecast.window(today, usage.mx_day(created_at))
    return forecast.cpd_centi(issued, days)


def cti_subjects(ctx: _Context, cti_ids: Sequence[str]) -> list[Subject]:
    session = ctx.session
    ids = list(dict.fromkeys(cti_ids))
    if not ids:
        return []
    rows: list[Any] = []
    for i in range(0, len(ids), 1000):
        rows += session.execute(
            select(
                StampingAccount.id,
                StampingAccount.account_id,
                StampingAccount.client_id,
                StampingAccount.kind,
                StampingAccount.active,
                StampingAccount.balance,
                StampingAccount.created_at,
                StampingAccount.last_credit_at,
            ).where(StampingAccount.id.in_(ids[i : i + 1000]))
        ).all()
    sums = _window_sums(session, [r.id for r in rows], ctx.today)
    if ctx.rules is None:
        ctx.rules = _Rules(session, {r.account_id for r in rows})
    out: list[Subject] = []
    for r in rows:
        standard = r.kind == StampingAccountKind.STANDARD.value
        cpd = _cti_cpd(ctx.today, r.created_at, sums.get(r.id, 0))
        remaining = forecast.days_remaining(r.balance, cpd) if standard and r.active else None
        f = forecast.Forecast(
            cpd,
            r.balance if standard else None,
            remaining,
            forecast.risk_band(remaining, cpd) if standard and r.active else None,
        )
        out.append(
            Subject(
                type="stamping_account",
                id=r.id,
                account_id=r.account_id,
                client_id=r.client_id,
                forecast=f,
                balance=int(r.balance),
                eligible=standard and bool(r.active) and cpd > 0,
                rule=ctx.rules.for_cti(r.account_id, r.client_id, r.id),
                last_credit_at=r.last_credit_at,
            )
        )
    return out


def combined_cpd(session: Session, account_id: str, today: dt.date) -> int:
    """Σ C.P.D. (hundredths) of the account's active standard CTIs: what its clients consume."""
    start = forecast.window(today)[0]
    rows = session.execute(
        select(StampingAccount.created_at, func.sum(CtiDailyUsage.issued))
        .join(CtiDailyUsage, CtiDailyUsage.stamping_account_id == StampingAccount.id)
        .where(
            StampingAccount.account_id == account_id,
            StampingAccount.kind == StampingAccountKind.STANDARD.value,
            StampingAccount.active.is_(True),
            CtiDailyUsage.day >= start,
            CtiDailyUsage.day <= today,
        )
        .group_by(StampingAccount.id, StampingAccount.created_at)
    ).all()
    return sum(_cti_cpd(today, created_at, int(total or 0)) for created_at, total in rows)


# How long the clients' combined C.P.D. is reused for the distributor's own stamps.
OWN_CPD_MAX_AGE = dt.timedelta(minutes=15)


def own_subjects(ctx: _Context, account_ids: Iterable[str], *, fresh: bool = False) -> list[Subject]:
    session = ctx.session
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return []
    if ctx.rules is None:
        ctx.rules = _Rules(session, ids)
    out: list[Subject] = []
    for account in session.scalars(select(Account).where(Account.id.in_(ids))):
        cursor = session.get(AlertCursor, account.id)
        if (
            fresh
            or cursor is None
            or cursor.own_cpd_centi is None
            or cursor.own_cpd_at is None
            or ctx.now - cursor.own_cpd_at > OWN_CPD_MAX_AGE
            or usage.mx_day(cursor.own_cpd_at) != ctx.today
        ):
            cpd = combined_cpd(session, account.id, ctx.today)
            if cursor is not None:
                cursor.own_cpd_centi, cursor.own_cpd_at = cpd, ctx.now
        else:
            cpd = cursor.own_cpd_centi
        remaining = forecast.days_remaining(account.stamps_balance, cpd)
        out.append(
            Subject(
                type="own_balance",
                id=account.id,
                account_id=account.id,
                client_id=None,
                forecast=forecast.Forecast(
                    cpd, account.stamps_balance, remaining, forecast.risk_band(remaining, cpd)
                ),
                balance=account.stamps_balance,
                eligible=cpd > 0,
                rule=ctx.rules.for_own(account.id),
            )
        )
    return out
