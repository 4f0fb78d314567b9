"""Builders for the transfer tests: a distributor with clients and CTIs, sub-distributors, items, and
a snapshot of everything a transfer touches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cmdesk.domain.enums import AccountStatus, Asset
from cmdesk.models import Account, ChangeLog, Client, Movement, StampingAccount
from cmdesk.server import db
from cmdesk.server.operations import accounts, clients
from cmdesk.server.operations.context import Actor
from tests.server.helpers import give, make_client, make_distributor


def stamps(cti: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "asset": "stamps",
        "target": {"type": "stamping_account", "id": cti},
        "quantity": quantity,
        **extra,
    }


def points(client_id: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"asset": "points", "target": {"type": "client", "id": client_id}, "quantity": quantity, **extra}


def to_sub(sub: str, asset: str, quantity: int) -> dict[str, Any]:
    return {"asset": asset, "target": {"type": "account", "id": sub}, "quantity": quantity}


def world(factory: db.SessionFactory, stamps_held: int = 100, points_held: int = 0) -> dict[str, Any]:
    actor = make_distributor(factory)
    if stamps_held:
        give(factory, actor, Asset.STAMPS, stamps_held)
    if points_held:
        give(factory, actor, Asset.POINTS, points_held)
    c1, c2 = make_client(factory, actor), make_client(factory, actor)
    return {
        "actor": actor,
        "clients": [c1["client"]["id"], c2["client"]["id"]],
        "ctis": [c1["stamping_account"]["id"], c2["stamping_account"]["id"]],
    }


def sub_distributor(
    factory: db.SessionFactory, parent: Actor, status: AccountStatus = AccountStatus.ACTIVE
) -> str:
    with db.transaction(factory) as s:
        n = s.scalar(select(func.count()).select_from(Account))
        made = accounts.create_distributor(
            s,
            name=f"Sub {n}",
            email=f"sub{n}-{parent.account_id[:6]}@example.com",
            mobile=f"56{n:08d}"[-10:],
            password="secreto123",
            parent_id=parent.account_id,
            status=status,
        )
    return str(made["account"]["id"])


def state(factory: db.SessionFactory, actor: Actor) -> dict[str, Any]:
    """Everything a transfer touches for the actor, ids of movements left out."""
    with db.transaction(factory) as s:
        account = s.get(Account, actor.account_id)
        assert account is not None
        ctis = {
            r.id: (r.balance, r.credited, r.version, r.last_credit_at is not None)
            for r in s.scalars(select(StampingAccount).where(StampingAccount.account_id == actor.account_id))
        }
        clis = {
            r.id: (r.points_balance, r.version)
            for r in s.scalars(select(Client).where(Client.account_id == actor.account_id))
        }
        subs = {
            r.id: (r.stamps_balance, r.points_balance, r.version)
            for r in s.scalars(select(Account).where(Account.parent_id == actor.account_id))
        }
        moves = sorted(
            (m.asset, m.quantity, m.amount_cents, m.target_type, m.target_id, m.client_id or "", m.comments)
            for m in s.scalars(
                select(Movement).where(Movement.account_id == actor.account_id, Movement.kind == "transfer")
            )
        )
        feed = {
            (r.account_id, r.entity, r.entity_id if r.entity != "movement" else "*")
            for r in s.execute(
                select(ChangeLog.account_id, ChangeLog.entity, ChangeLog.entity_id).where(
                    ChangeLog.account_id.in_([actor.account_id, *subs])
                )
            )
        }
    return {
        "account": (account.stamps_balance, account.points_balance, account.version),
        "ctis": ctis,
        "clients": clis,
        "subs": subs,
        "movements": moves,
        "feed": feed,
    }


def add_refused_targets(factory: db.SessionFactory, w: dict[str, Any]) -> None:
    """Targets every transfer refuses, added to world `w`: an unlimited CTI (`w["unlimited"]`) and a
    cancelled sub-distributor (`w["cancelled"]`)."""
    w["unlimited"] = db.run(
        factory,
        clients.create_stamping_account,
        w["actor"],
        w["clients"][0],
        kind="unlimited",
        password="Ilimitada2026",
    )["id"]
    w["cancelled"] = sub_distributor(factory, w["actor"], AccountStatus.CANCELLED)
