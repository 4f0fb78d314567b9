"""Facturación: pending sales per client, registering invoices for sales and for top-up codes."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import ChangeLog, Invoice, Movement
from cmdesk.server import db
from cmdesk.server.operations import billing, ledger, top_up_codes
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor


def _sell(factory, actor, client, quantity=10, amount_cents=5000, asset="stamps"):
    target = (
        ("stamping_account", client["stamping_account"]["id"])
        if asset == "stamps"
        else ("client", client["client"]["id"])
    )
    return db.run(
        factory,
        ledger.transfer,
        actor,
        asset=asset,
        target_type=target[0],
        target_id=target[1],
        quantity=quantity,
        amount_cents=amount_cents,
    )


def _err(fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as e:
        fn(*args, **kw)
    return e.value


@pytest.fixture
def shop(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 500)
    give(factory, actor, Asset.POINTS, 500)
    a = make_client(factory, actor, name="Ana Abarrotes")
    b = make_client(factory, actor, name="Beto Bodega")
    return actor, a, b


def test_pending_sales_counts_only_sales_with_amount(factory, shop):
    actor, a, b = shop
    s1 = _sell(factory, actor, a, amount_cents=5000)
    s2 = _sell(factory, actor, a, asset="points", amount_cents=1200)
    _sell(factory, actor, a, amount_cents=0)  # a gift: nothing to invoice
    s3 = _sell(factory, actor, b, amount_cents=700)
    # A top-up code is a sale by itself: neither its escrow nor its redemption is pending here.
    code = db.run(factory, top_up_codes.create_code, actor, asset="stamps", quantity=5, amount_cents=900)[
        "code"
    ]
    db.run(
        factory,
        top_up_codes.redeem,
        code=code["code"],
        nip=code["nip"],
        stamping_account_id=a["stamping_account"]["id"],
    )
    pending = db.run(factory, billing.pending_sales, actor)
    assert [m["id"] for m in pending] == [s1["id"], s2["id"], s3["id"]]
    only_a = db.run(factory, billing.pending_sales, actor, a["client"]["id"])
    assert [m["id"] for m in only_a] == [s1["id"], s2["id"]]
    assert only_a[0]["target"]["id"] == a["stamping_account"]["id"]
    grouped = db.run(factory, billing.pending_by_client, actor)
    assert grouped == [
        {
            "client_id": a["client"]["id"],
            "nic": a["client"]["nic"],
            "name": "Ana Abarrotes",
            "count": 2,
            "total_cents": 6200,
        },
        {
            "client_id": b["client"]["id"],
            "nic": b["client"]["nic"],
            "name": "Beto Bodega",
            "count": 1,
            "total_cents": 700,
        },
    ]


def test_pending_is_per_account(factory, shop):
    actor, a, _b = shop
    _sell(factory, actor, a)
    other = make_distributor(factory)
    assert db.run(factory, billing.pending_sales, other) == []
    assert db.run(factory, billing.pending_by_client, other) == []
    assert _err(db.run, factory, billing.pending_sales, other, a["client"]["id"]).code == ErrorCode.NOT_FOUND


def test_register_invoice_marks_the_sales(factory, shop):
    actor, a, _b = shop
    s1 = _sell(factory, actor, a, amount_cents=5000)
    s2 = _sell(factory, actor, a, amount_cents=2500)
    s3 = _sell(factory, actor, a, amount_cents=100)
    out = db.run(
        factory,
        billing.register_invoice,
        actor,
        client_id=a["client"]["id"],
        reference="  F0002 34 ",
        movement_ids=[s1["id"], s2["id"]],
    )
    assert out["invoice"]["reference"] == "F0002 34" and out["invoice"]["total_cents"] == 7500
    assert out["invoice"]["client_id"] == a["client"]["id"]
    assert [m["id"] for m in db.run(factory, billing.pending_sales, actor)] == [s3["id"]]
    with db.transaction(factory) as s:
        assert s.get(Movement, s1["id"]).invoice_id == out["invoice"]["id"]
        assert s.get(Movement, s1["id"]).version == s1["version"] + 1
        changed = s.scalars(
            select(ChangeLog.entity_id).where(
                ChangeLog.entity == "movement", ChangeLog.account_id == actor.account_id
            )
        ).all()
        assert {s1["id"], s2["id"]} <= set(changed)
        assert (
            billing.FEED_LOADERS["invoice"](s, [out["invoice"]["id"]])[out["invoice"]["id"]]["total_cents"]
            == 7500
        )
    invoices = db.run(factory, billing.list_invoices, actor)
    assert [i["reference"] for i in invoices] == ["F0002 34"]
    assert db.run(factory, billing.list_invoices, actor, client_id=a["client"]["id"]) == invoices
    # Invoicing an invoiced sale again is a duplicate.
    err = _err(
        db.run,
        factory,
        billing.register_invoice,
        actor,
        client_id=a["client"]["id"],
        reference="F9",
        movement_ids=[s1["id"], s3["id"]],
    )
    assert err.code == ErrorCode.DUPLICATE and "facturada" in err.detail
    # The same reference twice is a duplicate too.
    err = _err(
        db.run,
        factory,
        billing.register_invoice,
        actor,
        client_id=a["client"]["id"],
        reference="F0002 34",
        movement_ids=[s3["id"]],
    )
    assert err.code == ErrorCode.DUPLICATE and err.errors[0].field == "reference"
    assert_ledger_ok(factory)


def test_the_same_reference_is_fine_in_another_account(factory, shop):
    actor, a, _b = shop
    other = make_distributor(factory)
    give(factory, other, Asset.STAMPS, 10)
    oc = make_client(factory, other)
    s1 = _sell(factory, actor, a)
    s2 = _sell(factory, other, oc)
    for who, client, sale in ((actor, a, s1), (other, oc, s2)):
        db.run(
            factory,
            billing.register_invoice,
            who,
            client_id=client["client"]["id"],
            reference="A-1",
            movement_ids=[sale["id"]],
        )


@pytest.mark.parametrize(
    ("reference", "ids", "field"),
    [
        ("", "sale", "reference"),
        ("   ", "sale", "reference"),
        ("x" * 101, "sale", "reference"),
        ("F1", [], "movement_ids"),
        ("F1", "twice", "movement_ids"),
        ("F1", "gift", "movement_ids"),
        ("F1", "other_client", "movement_ids"),
        ("F1", "purchase", "movement_ids"),
    ],
)
def test_register_invoice_validation(factory, shop, reference, ids, field):
    actor, a, b = shop
    sale = _sell(factory, actor, a)
    ids = (
        {
            "sale": [sale["id"]],
            "twice": [sale["id"], sale["id"]],
            "gift": [_sell(factory, actor, a, amount_cents=0)["id"]],
            "other_client": [_sell(factory, actor, b)["id"]],
            "purchase": [db.run(factory, ledger.purchase, actor, "test_stamps_1", 1)["movement"]["id"]],
        }.get(ids, ids)
        if isinstance(ids, str)
        else ids
    )
    err = _err(
        db.run,
        factory,
        billing.register_invoice,
        actor,
        client_id=a["client"]["id"],
        reference=reference,
        movement_ids=ids,
    )
    assert err.code == ErrorCode.VALIDATION_ERROR
    assert field in {e.field for e in err.errors}
    with db.transaction(factory) as s:
        assert s.scalar(select(Invoice)) is None


def test_register_invoice_tenant_rules(factory, shop):
    actor, a, _b = shop
    other = make_distributor(factory)
    give(factory, other, Asset.STAMPS, 10)
    oc = make_client(factory, other)
    theirs = _sell(factory, other, oc)
    mine = _sell(factory, actor, a)
    for client_id, ids in (
        (oc["client"]["id"], [theirs["id"]]),  # their client
        (a["client"]["id"], [theirs["id"]]),  # their sale
        (a["client"]["id"], [mine["id"], "nope"]),  # a missing sale
    ):
        err = _err(
            db.run,
            factory,
            billing.register_invoice,
            actor,
            client_id=client_id,
            reference="X",
            movement_ids=ids,
        )
        assert err.code == ErrorCode.NOT_FOUND


def test_register_code_invoice(factory, shop):
    actor, a, _b = shop
    mk = lambda **kw: db.run(factory, top_up_codes.create_code, actor, **kw)["code"]  # noqa: E731
    c1 = mk(asset="stamps", quantity=5, amount_cents=900)
    c2 = mk(asset="points", quantity=5, amount_cents=400)
    gift = mk(asset="points", quantity=1, amount_cents=0)
    cancelled = mk(asset="points", quantity=1, amount_cents=100)
    db.run(factory, top_up_codes.cancel_code, actor, cancelled["id"])
    db.run(
        factory,
        top_up_codes.redeem,
        code=c1["code"],
        nip=c1["nip"],
        stamping_account_id=a["stamping_account"]["id"],
    )
    pending = db.run(factory, top_up_codes.list_codes, actor, invoiced=False)
    assert {c["id"] for c in pending} == {c1["id"], c2["id"]}
    for bad in ([gift["id"]], [cancelled["id"]]):
        err = _err(db.run, factory, billing.register_code_invoice, actor, reference="C-1", code_ids=bad)
        assert err.code == ErrorCode.VALIDATION_ERROR
    out = db.run(factory, billing.register_code_invoice, actor, reference="C-1", code_ids=[c1["id"]])
    # The only receiver of the chosen codes is the invoiced client.
    assert out["invoice"]["client_id"] == a["client"]["id"] and out["invoice"]["total_cents"] == 900
    out2 = db.run(factory, billing.register_code_invoice, actor, reference="C-2", code_ids=[c2["id"]])
    assert out2["invoice"]["client_id"] is None
    assert db.run(factory, top_up_codes.list_codes, actor, invoiced=False) == []
    assert {c["id"] for c in db.run(factory, top_up_codes.list_codes, actor, invoiced=True)} == {
        c1["id"],
        c2["id"],
    }
    err = _err(db.run, factory, billing.register_code_invoice, actor, reference="C-3", code_ids=[c1["id"]])
    assert err.code == ErrorCode.DUPLICATE
    # An invoiced code can't be cancelled any more.
    err = _err(db.run, factory, top_up_codes.cancel_code, actor, c2["id"])
    assert err.code == ErrorCode.INVALID_STATE_TRANSITION
    other = make_distributor(factory)
    err = _err(db.run, factory, billing.register_code_invoice, other, reference="C-1", code_ids=[c1["id"]])
    assert err.code == ErrorCode.NOT_FOUND
    assert_ledger_ok(factory)


def test_code_invoice_with_an_explicit_client(factory, shop):
    actor, _a, b = shop
    c1 = db.run(factory, top_up_codes.create_code, actor, asset="points", quantity=5, amount_cents=400)[
        "code"
    ]
    out = db.run(
        factory,
        billing.register_code_invoice,
        actor,
        reference="C-9",
        code_ids=[c1["id"]],
        client_id=b["client"]["id"],
    )
    assert out["invoice"]["client_id"] == b["client"]["id"]
    other = make_distributor(factory)
    err = _err(
        db.run,
        factory,
        billing.register_code_invoice,
        actor,
        reference="C-10",
        code_ids=[c1["id"]],
        client_id=make_client(factory, other)["client"]["id"],
    )
    assert err.code == ErrorCode.NOT_FOUND


@pytest.mark.postgres_only
def test_two_concurrent_invoices_for_the_same_sale_one_wins(factory, shop):
    actor, a, _b = shop
    sale = _sell(factory, actor, a, amount_cents=5000)
    n = 4
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        with db.transaction(factory) as s:
            # Both read the sale as pending before either marks it.
            assert billing.pending_sales(s, actor, a["client"]["id"])
            barrier.wait()
            try:
                with s.begin_nested():
                    out = billing.register_invoice(
                        s, actor, client_id=a["client"]["id"], reference=f"F-{i}", movement_ids=[sale["id"]]
                    )
                with lock:
                    results.append(out)
            except DomainError as e:
                with lock:
                    results.append(e.code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1, results
    assert [str(r) for r in results if not isinstance(r, dict)] == ["duplicate"] * (n - 1)
    with db.transaction(factory) as s:
        invoices = s.scalars(select(Invoice)).all()
        assert [i.id for i in invoices] == [wins[0]["invoice"]["id"]]
        assert s.get(Movement, sale["id"]).invoice_id == invoices[0].id
