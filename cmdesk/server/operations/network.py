"""The network tree (`GET /v1/network`): every sub-distributor below the account, as deep as it goes,
with its balances, its clients and CTIs, the states that need action, and totals per branch.

Four queries whatever the size of the network: the accounts below (a recursive CTE over
`accounts.parent_id`), their master profiles, and the clients and CTIs counted per account. The rules
(what needs attention, the roll-up) are `cmdesk.domain.network`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from cmdesk.domain import network
from cmdesk.domain.distributor_states import REACTIVATION_WINDOW, SPANISH_STATUS
from cmdesk.domain.enums import AccountStatus, Role
from cmdesk.domain.errors import not_found
from cmdesk.models import Account, Client, Membership, Profile, StampingAccount, utcnow
from cmdesk.server.operations.context import Actor

MAX_DEPTH = 50  # a cycle in parent_id (never made by the operations) can't run the CTE forever


def _below(session: Session, root_id: str) -> list[Account]:
    tree = (
        select(Account.id.label("id"), literal(1).label("depth"))
        .where(Account.parent_id == root_id)
        .cte("tree", recursive=True)
    )
    tree = tree.union(
        select(Account.id, tree.c.depth + 1)
        .join(tree, Account.parent_id == tree.c.id)
        .where(tree.c.depth < MAX_DEPTH)
    )
    return list(
        session.scalars(select(Account).where(Account.id.in_(select(tree.c.id))).order_by(Account.nic))
    )


def _counts(session: Session, column: Any, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    return {
        a: int(n)
        for a, n in session.execute(select(column, func.count()).where(column.in_(ids)).group_by(column))
    }


def network_tree(
    session: Session,
    actor: Actor,
    *,
    unvalidated_days: int = network.UNVALIDATED_DAYS,
    expiring_days: int = network.EXPIRING_DAYS,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The tree below the actor's account: `root` (the account, with the whole network's totals) and
    `items`, depth first, each with `parent_id`, `depth`, its figures and its branch's."""
    now = now or utcnow()
    me = session.get(Account, actor.account_id)
    if me is None:
        raise not_found("La cuenta")
    accounts = _below(session, me.id)
    ids = [a.id for a in accounts]
    clients = _counts(session, Client.account_id, ids)
    ctis = _counts(session, StampingAccount.account_id, ids)
    admins: dict[str, Profile] = {}
    if ids:
        for account_id, profile in session.execute(
            select(Membership.account_id, Profile)
            .join(Profile, Profile.id == Membership.profile_id)
            .where(Membership.account_id.in_(ids), Membership.role == Role.MASTER.value)
        ):
            admins.setdefault(account_id, profile)
    by_id = {a.id: a for a in accounts}
    nodes = [
        network.Node(
            id=a.id,
            parent_id=a.parent_id,
            stamps=a.stamps_balance,
            points=a.points_balance,
            clients=clients.get(a.id, 0),
            stamping_accounts=ctis.get(a.id, 0),
            attention=network.attention(
                a.status,
                created_at=a.created_at,
                expires_at=a.expires_at,
                cancelled_at=a.cancelled_at,
                now=now,
                unvalidated_days=unvalidated_days,
                expiring_days=expiring_days,
            ),
        )
        for a in accounts
    ]
    ordered = network.build_tree(me.id, nodes)
    items = [_node_view(by_id[n.id], n, admins.get(n.id)) for n in ordered]
    top = [n for n in ordered if n.depth == 1]
    whole = {
        "stamps": sum(n.branch["stamps"] for n in top),
        "points": sum(n.branch["points"] for n in top),
        "clients": sum(n.branch["clients"] for n in top),
        "stamping_accounts": sum(n.branch["stamping_accounts"] for n in top),
        "distributors": len(ordered),
        "attention": sum(1 for n in ordered if n.attention),
    }
    return {
        "root": {"id": me.id, "nic": me.nic, "name": me.name, "network": whole},
        "items": items,
    }


def _node_view(a: Account, n: network.Node, admin: Profile | None) -> dict[str, Any]:
    status = AccountStatus(a.status)
    return {
        "id": a.id,
        "nic": a.nic,
        "name": a.name,
        "parent_id": a.parent_id,
        "depth": n.depth,
        "children": len(n.children),
        "status": a.status,
        "status_label": SPANISH_STATUS[status],
        "expires_at": a.expires_at,
        "created_at": a.created_at,
        "purge_at": (
            a.cancelled_at + REACTIVATION_WINDOW
            if status is AccountStatus.CANCELLED and a.cancelled_at is not None
            else None
        ),
        "admin_email": admin.email if admin is not None else None,
        "balances": {"stamps": n.stamps, "points": n.points},
        "clients": n.clients,
        "stamping_accounts": n.stamping_accounts,
        "attention": [{"code": c, "label": network.ATTENTION_LABELS[c]} for c in n.attention],
        "branch": n.branch,
    }
