"""HTTP: `GET /v1/network` — the whole tree below the account (three levels here), each node's own
figures and its branch's, the states that need action, and what each account may see."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from cmdesk.domain.enums import AccountStatus, Asset
from cmdesk.models import Account, utcnow
from cmdesk.server import db
from cmdesk.server.api.network import Network
from cmdesk.server.operations import accounts
from cmdesk.server.operations.context import Actor
from tests.server.helpers import give, make_client, make_distributor

PASSWORD = "secreto123"


def _sub(factory, parent: Actor, name: str, n: int, status=AccountStatus.ACTIVE) -> Actor:
    with db.transaction(factory) as s:
        out = accounts.create_distributor(
            s, name=name, email=f"red{n}@sub.mx", mobile=f"33740000{n:02d}", password=PASSWORD,
            parent_id=parent.account_id, status=status,
        )
    return Actor(out["account"]["id"], out["profile"]["id"])


def _set(factory, actor: Actor, **values) -> None:
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == actor.account_id).values(**values))


def test_the_tree_with_branch_totals_and_what_needs_action(client, factory, auth_headers):
    root = make_distributor(factory, email="raiz@dist.mx", mobile="5574000001", password=PASSWORD)
    a = _sub(factory, root, "Rama A", 1)
    a1 = _sub(factory, a, "Rama A1", 2)
    a11 = _sub(factory, a1, "Rama A11", 3, status=AccountStatus.INACTIVE)
    b = _sub(factory, root, "Rama B", 4, status=AccountStatus.UNVALIDATED)
    c = _sub(factory, root, "Rama C", 5)
    now = utcnow()
    give(factory, a, Asset.STAMPS, 100)
    give(factory, a1, Asset.STAMPS, 40)
    give(factory, a11, Asset.POINTS, 7)
    for who, count in ((a, 2), (a1, 1), (a11, 3), (c, 1)):
        for _ in range(count):
            make_client(factory, who)
    _set(factory, a1, expires_at=now + dt.timedelta(days=10))  # por vencer
    _set(factory, b, created_at=now - dt.timedelta(days=9))  # sin validar for more than 7 days
    _set(factory, c, status=AccountStatus.EXPIRED.value, expires_at=now - dt.timedelta(days=2))

    h = auth_headers("raiz@dist.mx")
    r = client.get("/v1/network", headers=h)
    assert r.status_code == 200, r.text
    tree = Network.model_validate(r.json())
    assert tree.root.id == root.account_id and tree.next_cursor is None
    names = [(n.name, n.depth) for n in tree.items]
    assert names == [("Rama A", 1), ("Rama A1", 2), ("Rama A11", 3), ("Rama B", 1), ("Rama C", 1)]
    node = {n.name: n for n in tree.items}
    assert node["Rama A"].parent_id == root.account_id and node["Rama A1"].parent_id == a.account_id
    assert node["Rama A"].children == 1 and node["Rama A11"].children == 0
    branch_a = node["Rama A"].branch
    assert (branch_a.stamps, branch_a.points, branch_a.clients, branch_a.stamping_accounts) == (140, 7, 6, 6)
    assert (branch_a.distributors, branch_a.attention) == (2, 2)
    assert node["Rama A"].balances.stamps == 100 and node["Rama A"].clients == 2
    assert [x.code for x in node["Rama A1"].attention] == ["expiring"]
    assert [x.code for x in node["Rama A11"].attention] == ["inactive"]
    assert [x.code for x in node["Rama B"].attention] == ["unvalidated"]
    assert [x.label for x in node["Rama C"].attention] == ["Vencido"]
    assert node["Rama A"].attention == [] and node["Rama C"].status_label == "Vencido"
    whole = tree.root.network
    assert (whole.distributors, whole.attention, whole.clients, whole.stamps) == (5, 4, 7, 140)

    # Thresholds, and pages of the flat depth-first list.
    lax = Network.model_validate(client.get("/v1/network", params={"unvalidated_days": 30}, headers=h).json())
    assert [x.code for x in {n.name: n for n in lax.items}["Rama B"].attention] == []
    first = client.get("/v1/network", params={"limit": 2}, headers=h).json()
    rest = client.get("/v1/network", params={"limit": 10, "cursor": first["next_cursor"]}, headers=h).json()
    assert [n["name"] for n in first["items"] + rest["items"]] == [n for n, _ in names]
    assert rest["root"]["network"]["distributors"] == 5

    # A sees its own branch only; a leaf sees nothing below; a stranger sees none of it.
    ha = auth_headers("red1@sub.mx")
    mine = Network.model_validate(client.get("/v1/network", headers=ha).json())
    assert [(n.name, n.depth) for n in mine.items] == [("Rama A1", 1), ("Rama A11", 2)]
    leaf = client.get("/v1/network", headers=auth_headers("red2@sub.mx")).json()
    assert [n["name"] for n in leaf["items"]] == ["Rama A11"]
    make_distributor(factory, email="ajeno@dist.mx", mobile="5574000009", password=PASSWORD)
    assert client.get("/v1/network", headers=auth_headers("ajeno@dist.mx")).json()["items"] == []
    r = client.get("/v1/network", params={"expiring_days": 999}, headers=h)
    assert r.status_code == 422
