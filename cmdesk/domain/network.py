"""The network of sub-distributors as a tree (manual, "Distribuidores" with Multinivel): which accounts
need the distributor's attention, and totals rolled up per branch. Pure: the server builds the tree
from its tables (`cmdesk.server.operations.network`); the desktop can apply the same rules to what it
has cached.

States that need action (the `attention` codes, in the order a screen shows them):

- `expired` (Vencido): past its expiry date — to renew or cancel; also an Activo/Suspendido account
  whose date passed before the periodic maintenance marked it;
- `expiring` (Por vencer): Activo or Suspendido, expiring within `expiring_days`;
- `unvalidated` (Sin validar): its administrator has not confirmed the e-mail for more than
  `unvalidated_days` days (resend the confirmation, or cancel);
- `inactive` (Sin activar): confirmed, waiting for its parent to activate it;
- `cancelled` (Cancelado): will be purged at `purge_at` unless re-activated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cmdesk.domain.distributor_states import REACTIVATION_WINDOW
from cmdesk.domain.enums import AccountStatus

UNVALIDATED_DAYS = 7
EXPIRING_DAYS = 30

ATTENTION_LABELS = {
    "expired": "Vencido",
    "expiring": "Por vencer",
    "unvalidated": "Sin validar",
    "inactive": "Sin activar",
    "cancelled": "Cancelado: se eliminará",
}


def attention(
    status: str,
    *,
    created_at: dt.datetime,
    expires_at: dt.datetime,
    cancelled_at: dt.datetime | None,
    now: dt.datetime,
    unvalidated_days: int = UNVALIDATED_DAYS,
    expiring_days: int = EXPIRING_DAYS,
) -> list[str]:
    """The reasons an account needs action now (empty when none)."""
    state = AccountStatus(status)
    running = state in (AccountStatus.ACTIVE, AccountStatus.SUSPENDED)
    if state is AccountStatus.EXPIRED or (running and expires_at <= now):
        return ["expired"]
    if running and expires_at <= now + dt.timedelta(days=expiring_days):
        return ["expiring"]
    if state is AccountStatus.UNVALIDATED and created_at <= now - dt.timedelta(days=unvalidated_days):
        return ["unvalidated"]
    if state is AccountStatus.INACTIVE:
        return ["inactive"]
    if (
        state is AccountStatus.CANCELLED
        and cancelled_at is not None
        and cancelled_at + REACTIVATION_WINDOW > now
    ):
        return ["cancelled"]
    return []


@dataclass
class Node:
    """One sub-distributor with its own figures; `branch` totals it and everything below it."""

    id: str
    parent_id: str | None
    stamps: int = 0
    points: int = 0
    clients: int = 0
    stamping_accounts: int = 0
    attention: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    depth: int = 0
    branch: dict[str, int] = field(default_factory=dict)


def build_tree(root_id: str, nodes: Iterable[Node]) -> list[Node]:
    """The nodes below `root_id`, depth first (children by the order given), each with its depth,
    its children and its branch totals: stamps, points, clients, stamping_accounts, distributors (below
    it) and attention (nodes of the branch, itself included, that need action). Nodes not connected
    to the root are left out; a cycle can't loop (each node is visited once)."""
    by_id: Mapping[str, Node] = {n.id: n for n in nodes}
    kids: dict[str, list[str]] = {}
    for n in by_id.values():
        n.children = []
        if n.parent_id is not None:
            kids.setdefault(n.parent_id, []).append(n.id)
    order: list[Node] = []
    seen: set[str] = set()

    def visit(node_id: str, depth: int) -> dict[str, int]:
        node = by_id[node_id]
        seen.add(node_id)
        node.depth = depth
        total = {
            "stamps": node.stamps,
            "points": node.points,
            "clients": node.clients,
            "stamping_accounts": node.stamping_accounts,
            "distributors": 0,
            "attention": 1 if node.attention else 0,
        }
        order.append(node)
        for child in kids.get(node_id, []):
            if child in seen:
                continue
            node.children.append(child)
            sub = visit(child, depth + 1)
            for key in total:
                total[key] += sub[key]
            total["distributors"] += 1
        node.branch = total
        return total

    for child in kids.get(root_id, []):
        if child not in seen and child != root_id:
            visit(child, 1)
    return order
