"""Maintenance: expiry of accounts, purge of cancelled ones after 30 days, the ledger kept whole,
and idempotence (a second run changes nothing)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from cmdesk.domain.enums import Asset
from cmdesk.domain.proration import add_one_year
from cmdesk.models import (
    Account,
    Base,
    ChangeLog,
    Client,
    Contract,
    IssuedCfdi,
    Membership,
    Movement,
    StampingAccount,
    TopUpCode,
)
from cmdesk.server import db
from cmdesk.server.operations import contracts, distributors, ledger, maintenance, top_up_codes
from cmdesk.server.operations.context import Actor
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
PASSWORD = "Distribuye2026"
_n = iter(range(1, 10_000))


def make_parent(factory) -> Actor:
    actor = make_distributor(factory, now=NOW, expires_at=add_one_year(NOW))
    db.run(factory, contracts.contract, actor, "multinivel", now=NOW)
    return actor


def active_child(factory, parent: Actor) -> Actor:
    n = next(_n)
    out = db.run(
        factory,
        distributors.create_sub_distributor,
        parent,
        email=f"hijo{n}@red.mx",
        mobile=f"22{n:08d}",
        name=f"Hijo {n}",
        rfc="EKU9003173C9",
        now=NOW,
    )
    child_id = out["distributor"]["id"]
    db.run(factory, distributors.confirm_email, out["confirmation_token"], PASSWORD, now=NOW)
    db.run(factory, distributors.activate, parent, child_id, now=NOW)
    return Actor(child_id, out["profile"]["id"])


def snapshot(factory) -> dict[str, int]:
    with db.transaction(factory) as s:
        return {
            t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def statuses(factory, *ids: str) -> list[str | None]:
    with db.transaction(factory) as s:
        return [(a.status if (a := s.get(Account, i)) is not None else None) for i in ids]


def test_expiry_marks_only_active_and_suspended_accounts_past_their_date(factory):
    parent = make_parent(factory)
    active = active_child(factory, parent)
    suspended = active_child(factory, parent)
    db.run(factory, distributors.suspend, parent, suspended.account_id, now=NOW)
    cancelled = active_child(factory, parent)
    db.run(factory, distributors.cancel, parent, cancelled.account_id, now=NOW)
    inactive = db.run(
        factory,
        distributors.create_sub_distributor,
        parent,
        email="sin.activar@red.mx",
        mobile="2299999999",
        name="Sin activar",
        rfc="EKU9003173C9",
        now=NOW,
    )["distributor"]["id"]
    ids = [parent.account_id, active.account_id, suspended.account_id, cancelled.account_id, inactive]
    expiry = add_one_year(NOW)

    before = db.run(factory, maintenance.run_maintenance, now=expiry - dt.timedelta(seconds=1))
    assert before["expired"] == 0
    # The cancelled one was purged on its 30th day; nothing else changed.
    assert before["purged"] == 1
    assert statuses(factory, *ids) == ["active", "active", "suspended", None, "unvalidated"]

    out = db.run(factory, maintenance.run_maintenance, now=expiry)
    assert out == {"expired": 3, "purged": 0, "purge_skipped": 0}
    assert statuses(factory, *ids) == ["expired", "expired", "expired", None, "unvalidated"]
    again = snapshot(factory)
    assert db.run(factory, maintenance.run_maintenance, now=expiry + DAY) == {
        "expired": 0,
        "purged": 0,
        "purge_skipped": 0,
    }
    assert snapshot(factory) == again


@pytest.mark.parametrize(
    ("after", "purged"),
    [(dt.timedelta(days=30) - dt.timedelta(seconds=1), False), (dt.timedelta(days=30), True)],
)
def test_purge_happens_at_30_days_not_before(factory, after, purged):
    parent = make_parent(factory)
    child = active_child(factory, parent)
    db.run(factory, distributors.cancel, parent, child.account_id, now=NOW)
    out = db.run(factory, maintenance.run_maintenance, now=NOW + after)
    assert out["purged"] == int(purged)
    assert statuses(factory, child.account_id) == [None if purged else "cancelled"]


def test_purge_hands_every_balance_to_the_parent_and_keeps_the_ledger(factory):
    parent = make_parent(factory)
    child = active_child(factory, parent)
    # The parent sells the child stamps and points; the child buys its own too.
    give(factory, parent, Asset.STAMPS, 500)
    give(factory, parent, Asset.POINTS, 3000)
    for asset, quantity in (("stamps", 500), ("points", 3000)):
        db.run(
            factory,
            ledger.transfer,
            parent,
            asset=asset,
            target_type="account",
            target_id=child.account_id,
            quantity=quantity,
        )
    give(factory, child, Asset.STAMPS, 200)
    # The child's business: a client with stamps on its CTI (some issued) and points, a top-up code,
    # an MKL paid with points, and a sub-distributor of its own.
    db.run(factory, contracts.contract, child, "multinivel", now=NOW)
    db.run(factory, contracts.contract, child, "mkl_dominus", pay_with_points=True, now=NOW)
    c = make_client(factory, child)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        child,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=300,
    )
    db.run(
        factory,
        ledger.transfer,
        child,
        asset="points",
        target_type="client",
        target_id=c["client"]["id"],
        quantity=40,
    )
    for _ in range(7):
        db.run(
            factory,
            ledger.consume,
            stamping_account_id=cti,
            emitter_rfc="EKU9003173C9",
            cfdi_uuid=str(uuid.uuid4()),
        )
    db.run(factory, top_up_codes.create_code, child, asset="stamps", quantity=25, amount_cents=0, now=NOW)
    grandchild = active_child(factory, child)
    db.run(
        factory,
        ledger.transfer,
        child,
        asset="stamps",
        target_type="account",
        target_id=grandchild.account_id,
        quantity=50,
    )
    assert_ledger_ok(factory)

    with db.transaction(factory) as s:
        held = {
            "stamps": s.get(Account, child.account_id).stamps_balance + 300 - 7 + 25,
            "points": s.get(Account, child.account_id).points_balance + 40,
        }
        parent_before = s.get(Account, parent.account_id)
        parent_stamps, parent_points = parent_before.stamps_balance, parent_before.points_balance
        cursor_before = int(s.scalar(select(func.max(ChangeLog.id))) or 0)

    db.run(factory, distributors.cancel, parent, child.account_id, now=NOW + DAY)
    out = db.run(factory, maintenance.run_maintenance, now=NOW + 31 * DAY)
    assert out["purged"] == 1
    assert_ledger_ok(factory)

    with db.transaction(factory) as s:
        assert s.get(Account, child.account_id) is None
        p = s.get(Account, parent.account_id)
        assert p.stamps_balance == parent_stamps + held["stamps"]
        assert p.points_balance == parent_points + held["points"]
        # Everything the child owned is gone.
        for model, column in (
            (Client, Client.account_id),
            (StampingAccount, StampingAccount.account_id),
            (TopUpCode, TopUpCode.account_id),
            (Contract, Contract.account_id),
            (Membership, Membership.account_id),
            (ChangeLog, ChangeLog.account_id),
        ):
            assert s.scalar(select(func.count()).select_from(model).where(column == child.account_id)) == 0, (
                model
            )
        # But its ledger history is permanent: its movements and the CFDI its CTI issued remain.
        assert (
            s.scalar(
                select(func.count()).select_from(IssuedCfdi).where(IssuedCfdi.stamping_account_id == cti)
            )
            == 7
        )
        kinds = s.scalars(select(Movement.kind).where(Movement.account_id == child.account_id)).all()
        assert {"purchase", "contract", "transfer", "top_up"} <= set(kinds)
        # The grandchild moved up to the parent, with its balance.
        g = s.get(Account, grandchild.account_id)
        assert g.parent_id == parent.account_id and g.stamps_balance == 50
        # The hand-over movements, in the parent's history.
        moves = s.scalars(
            select(Movement).where(
                Movement.account_id == parent.account_id,
                Movement.comments == maintenance.PURGE_COMMENT,
            )
        ).all()
        got = sorted((m.source_type, m.asset, m.quantity) for m in moves)
        child_account = [x for x in got if x[0] == "account"]
        assert sorted((a, q) for _, a, q in child_account) == sorted(
            [("stamps", held["stamps"] - 300 + 7 - 25), ("points", held["points"] - 40)]
        )
        assert ("client", "points", 40) in got
        assert ("stamping_account", "stamps", 293) in got
        assert ("top_up_code", "stamps", 25) in got
        assert all(m.kind == "transfer" and m.target_id == parent.account_id for m in moves)
        # Tombstones for the parent.
        tombstones = s.execute(
            select(ChangeLog.entity, ChangeLog.deleted).where(
                ChangeLog.account_id == parent.account_id,
                ChangeLog.entity_id == child.account_id,
                ChangeLog.id > cursor_before,
            )
        ).all()
        assert ("distributor", True) in tombstones and ("account", True) not in tombstones

    # The parent's list no longer shows it; the grandchild now does.
    rows = db.run(factory, distributors.list_distributors, parent)
    assert child.account_id not in {r["id"] for r in rows} and grandchild.account_id in {
        r["id"] for r in rows
    }

    # Idempotent: a second run changes nothing at all.
    before = snapshot(factory)
    out = db.run(factory, maintenance.run_maintenance, now=NOW + 31 * DAY)
    assert out == {"expired": 0, "purged": 0, "purge_skipped": 0}
    assert snapshot(factory) == before
    assert_ledger_ok(factory)


def test_cancelled_accounts_without_a_parent_are_not_purged(factory):
    top = make_distributor(factory, now=NOW, expires_at=add_one_year(NOW))
    give(factory, top, Asset.STAMPS, 10)
    with db.transaction(factory) as s:
        account = s.get(Account, top.account_id)
        account.status = "cancelled"
        account.cancelled_at = NOW
    out = db.run(factory, maintenance.run_maintenance, now=NOW + 40 * DAY)
    assert out["purge_skipped"] == 1 and out["purged"] == 0
    assert statuses(factory, top.account_id) == ["cancelled"]
    assert_ledger_ok(factory)


def test_a_chain_of_cancelled_accounts_is_purged_into_the_first_live_ancestor(factory):
    root = make_parent(factory)
    middle = active_child(factory, root)
    db.run(factory, contracts.contract, middle, "multinivel", now=NOW)
    leaf = active_child(factory, middle)
    give(factory, leaf, Asset.POINTS, 77)
    db.run(factory, distributors.cancel, middle, leaf.account_id, now=NOW)
    db.run(factory, distributors.cancel, root, middle.account_id, now=NOW + DAY)
    out = db.run(factory, maintenance.run_maintenance, now=NOW + 40 * DAY)
    assert out["purged"] == 2
    assert statuses(factory, middle.account_id, leaf.account_id) == [None, None]
    with db.transaction(factory) as s:
        assert s.get(Account, root.account_id).points_balance == 77
        # The leaf's purchase is still counted.
        purchase = s.scalar(select(Movement).where(Movement.kind == "purchase", Movement.asset == "points"))
        assert purchase is not None and purchase.account_id == leaf.account_id
    assert_ledger_ok(factory)
