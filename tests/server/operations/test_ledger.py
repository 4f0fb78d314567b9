"""The ledger's rules: purchases, transfers, bulk transfers, consumption, auto-sale, and no overdraft."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import Account, Movement, StampingAccount
from cmdesk.server import db
from cmdesk.server.operations import bulk_transfers, clients, ledger
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor


def _balance(factory, model, ident, col="balance"):
    with db.transaction(factory) as s:
        return getattr(s.get(model, ident), col)


def _consume(factory, cti, rfc="EKU9003173C9", u=None):
    return db.run(
        factory, ledger.consume, stamping_account_id=cti, emitter_rfc=rfc, cfdi_uuid=u or str(uuid.uuid4())
    )


def test_purchase_credits_account_and_charges(factory):
    actor = make_distributor(factory)
    out = db.run(factory, ledger.purchase, actor, "test_stamps_2000", 3)
    assert out["charge_cents"] == 300000
    assert out["movement"]["quantity"] == 6000
    assert out["movement"]["source"] == {"type": "catalog", "id": "test_stamps_2000"}
    assert _balance(factory, Account, actor.account_id, "stamps_balance") == 6000
    assert_ledger_ok(factory)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, 1001])
def test_purchase_rejects_bad_quantity(factory, quantity):
    actor = make_distributor(factory)
    with pytest.raises(DomainError) as e:
        db.run(factory, ledger.purchase, actor, "test_stamps_1", quantity)
    assert e.value.code == ErrorCode.VALIDATION_ERROR


def test_transfer_stamps_to_cti_is_a_sale_pending_invoice(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 100)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    m = db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=40,
        amount_cents=26000,
        comments="timbres a granel",
    )
    assert m["kind"] == "transfer" and m["client_id"] == c["client"]["id"] and m["invoice_id"] is None
    assert _balance(factory, StampingAccount, cti) == 40
    assert _balance(factory, StampingAccount, cti, "credited") == 40
    assert _balance(factory, Account, actor.account_id, "stamps_balance") == 60
    client = db.run(factory, clients.read_client, actor, c["client"]["id"])
    assert client["balances"]["stamps"] == 40 and client["credited"] == 40
    assert client["last_purchase_at"] is not None
    assert_ledger_ok(factory)


@pytest.mark.parametrize(
    ("asset", "target_type", "code"),
    [
        ("points", "stamping_account", ErrorCode.VALIDATION_ERROR),
        ("stamps", "client", ErrorCode.VALIDATION_ERROR),
        ("gold", "client", ErrorCode.VALIDATION_ERROR),
        ("stamps", "catalog", ErrorCode.VALIDATION_ERROR),
    ],
)
def test_transfer_target_rules(factory, asset, target_type, code):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    c = make_client(factory, actor)
    target_id = c["stamping_account"]["id"] if target_type == "stamping_account" else c["client"]["id"]
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            ledger.transfer,
            actor,
            asset=asset,
            target_type=target_type,
            target_id=target_id,
            quantity=1,
        )
    assert e.value.code == code


def test_transfer_points_to_client(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.POINTS, 500)
    c = make_client(factory, actor)
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="points",
        target_type="client",
        target_id=c["client"]["id"],
        quantity=300,
        amount_cents=30000,
    )
    client = db.run(factory, clients.read_client, actor, c["client"]["id"])
    assert client["balances"]["points"] == 300
    assert_ledger_ok(factory)


def test_transfer_insufficient_changes_nothing(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 5)
    c = make_client(factory, actor)
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            ledger.transfer,
            actor,
            asset="stamps",
            target_type="stamping_account",
            target_id=c["stamping_account"]["id"],
            quantity=6,
        )
    assert e.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert "timbres" in e.value.detail
    assert _balance(factory, Account, actor.account_id, "stamps_balance") == 5
    assert _balance(factory, StampingAccount, c["stamping_account"]["id"]) == 0


def test_transfer_to_another_distributors_cti_is_not_found(factory):
    a = make_distributor(factory)
    b = make_distributor(factory)
    give(factory, a, Asset.STAMPS, 5)
    cb = make_client(factory, b)
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            ledger.transfer,
            a,
            asset="stamps",
            target_type="stamping_account",
            target_id=cb["stamping_account"]["id"],
            quantity=1,
        )
    assert e.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            ledger.transfer,
            a,
            asset="stamps",
            target_type="account",
            target_id=b.account_id,
            quantity=1,
        )
    assert e.value.code == ErrorCode.NOT_FOUND


def test_bulk_transfer_is_all_or_nothing(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 100)
    c1, c2 = make_client(factory, actor), make_client(factory, actor)
    items = [
        {
            "asset": "stamps",
            "target": {"type": "stamping_account", "id": c1["stamping_account"]["id"]},
            "quantity": 60,
            "amount_cents": 100,
        },
        {
            "asset": "stamps",
            "target": {"type": "stamping_account", "id": c2["stamping_account"]["id"]},
            "quantity": 50,
            "amount_cents": 100,
        },
    ]
    with pytest.raises(DomainError) as e:
        db.run(factory, bulk_transfers.bulk_transfer, actor, items)
    assert e.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert e.value.errors[0].field.startswith("items[1]")
    assert _balance(factory, StampingAccount, c1["stamping_account"]["id"]) == 0
    assert _balance(factory, Account, actor.account_id, "stamps_balance") == 100
    items[1]["quantity"] = 40
    out = db.run(factory, bulk_transfers.bulk_transfer, actor, items)
    assert len(out["movements"]) == 2
    assert _balance(factory, Account, actor.account_id, "stamps_balance") == 0
    assert_ledger_ok(factory)


def test_consume_debits_once_per_uuid(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 3)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=2,
    )
    u = str(uuid.uuid4())
    assert _consume(factory, cti, u=u) == {"balance": 1, "issued": 1}
    assert _consume(factory, cti, u=u) == {"balance": 1, "issued": 1}
    assert _consume(factory, cti, u=u.lower()) == {"balance": 1, "issued": 1}
    assert _consume(factory, cti) == {"balance": 0, "issued": 2}
    with pytest.raises(DomainError) as e:
        _consume(factory, cti)
    assert e.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert_ledger_ok(factory)


def test_consume_blocked_and_credentials(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 3)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=3,
    )
    db.run(factory, clients.set_stamping_account_active, actor, cti, active=False)
    with pytest.raises(DomainError) as e:
        _consume(factory, cti)
    assert e.value.code == ErrorCode.ACCOUNT_BLOCKED
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            ledger.consume,
            stamping_account_id=cti,
            emitter_rfc="X",
            cfdi_uuid=str(uuid.uuid4()),
            verify=lambda h: False,
        )
    assert e.value.code == ErrorCode.INVALID_CREDENTIALS
    with pytest.raises(DomainError) as e:
        _consume(factory, "NOPE")
    assert e.value.code == ErrorCode.INVALID_CREDENTIALS
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.set_stamping_account_active, actor, cti, active=True) and _consume(
            factory, cti, u="not-a-uuid"
        )
    assert e.value.code == ErrorCode.VALIDATION_ERROR
    assert _balance(factory, StampingAccount, cti) == 3


def test_unlimited_rules(factory):
    actor = make_distributor(factory)
    c = make_client(factory, actor)
    cti = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        c["client"]["id"],
        kind="unlimited",
        password="Clave2024x",
        rfc_restriction="EKU9003173C9",
    )
    assert cti["balance"] is None
    with pytest.raises(DomainError) as e:
        _consume(factory, cti["id"])
    assert e.value.code == ErrorCode.UNLIMITED_EXPIRED
    with db.transaction(factory) as s:
        s.get(StampingAccount, cti["id"]).paid_until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    with pytest.raises(DomainError) as e:
        _consume(factory, cti["id"], rfc="GODE561231GR8")
    assert e.value.code == ErrorCode.RFC_NOT_ALLOWED
    assert _consume(factory, cti["id"]) == {"balance": None, "issued": 1}
    assert_ledger_ok(factory)


def test_auto_sale_fires_below_minimum(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 110)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=10,
    )
    db.run(factory, clients.set_auto_sale, actor, cti, minimum=9, credit=50, amount_cents=25000)
    assert _consume(factory, cti) == {"balance": 9, "issued": 1}  # 9 is not below 9
    assert _consume(factory, cti)["balance"] == 58  # 8 < 9 → +50
    assert _balance(factory, Account, actor.account_id, "stamps_balance") == 50
    with db.transaction(factory) as s:
        sales = s.scalars(select(Movement).where(Movement.kind == "auto_sale")).all()
    assert [(m.quantity, m.amount_cents, m.client_id) for m in sales] == [(50, 25000, c["client"]["id"])]
    assert_ledger_ok(factory)


def test_auto_sale_without_distributor_stamps_does_nothing(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 2)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=2,
    )
    db.run(factory, clients.set_auto_sale, actor, cti, minimum=5, credit=50, amount_cents=1)
    assert _consume(factory, cti)["balance"] == 1
    assert _consume(factory, cti)["balance"] == 0
    with pytest.raises(DomainError):
        _consume(factory, cti)
    give(factory, actor, Asset.STAMPS, 50)
    assert _consume(factory, cti)["balance"] == 49  # refilled at the moment of need
    assert_ledger_ok(factory)


def test_usage_report(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 30)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=30,
    )
    now = dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC)
    for days_ago in (0, 0, 1, 9):
        db.run(
            factory,
            ledger.consume,
            stamping_account_id=cti,
            emitter_rfc="EKU9003173C9",
            cfdi_uuid=str(uuid.uuid4()),
            now=now - dt.timedelta(days=days_ago),
        )
    rep = db.run(factory, ledger.usage_report, actor, cti, days=10, now=now)
    assert len(rep["daily"]) == 10
    assert rep["daily"][-1] == {"date": "2026-11-29", "issued": 2}
    assert rep["daily"][0]["issued"] == 1
    assert rep["average_daily_use"] == 0.4
    assert rep["days_remaining"] == 65  # 26 / 0.4


# ---- Real concurrency (PostgreSQL) ---------------------------------------------------------------


def _hammer(n, fn):
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def worker(i):
        barrier.wait()
        try:
            r = fn(i)
        except DomainError as e:
            r = e.code
        with lock:
            results.append(r)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.postgres_only
def test_50_threads_debiting_a_balance_that_covers_30(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 30)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    results = _hammer(
        50,
        lambda i: db.run(
            factory,
            ledger.transfer,
            actor,
            asset="stamps",
            target_type="stamping_account",
            target_id=cti,
            quantity=1,
        ),
    )
    assert sum(1 for r in results if isinstance(r, dict)) == 30
    assert results.count(ErrorCode.INSUFFICIENT_BALANCE) == 20
    assert _balance(factory, Account, actor.account_id, "stamps_balance") == 0
    assert _balance(factory, StampingAccount, cti) == 30
    assert_ledger_ok(factory)


@pytest.mark.postgres_only
def test_50_concurrent_consumptions_on_a_cti_with_30(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 30)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=30,
    )
    results = _hammer(50, lambda i: _consume(factory, cti))
    assert sum(1 for r in results if isinstance(r, dict)) == 30
    assert results.count(ErrorCode.INSUFFICIENT_BALANCE) == 20
    assert _balance(factory, StampingAccount, cti) == 0
    assert _balance(factory, StampingAccount, cti, "issued") == 30
    assert_ledger_ok(factory)


@pytest.mark.postgres_only
def test_same_cfdi_uuid_concurrently_debits_once(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=10,
    )
    u = str(uuid.uuid4())
    results = _hammer(20, lambda i: _consume(factory, cti, u=u))
    assert all(r == {"balance": 9, "issued": 1} for r in results), results
    assert _balance(factory, StampingAccount, cti) == 9


def test_a_sale_dates_the_ctis_last_purchase(factory):
    """«Última compra» of a CTI is the time of the sale that credited it (the seed dates its history)."""
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    cti = make_client(factory, actor)["stamping_account"]["id"]
    when = dt.datetime(2026, 3, 15, 17, 30, tzinfo=dt.UTC)
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=10,
        amount_cents=500,
        now=when,
    )
    with db.transaction(factory) as s:
        row = s.get(StampingAccount, cti)
        assert row is not None and row.last_credit_at == when
    view = db.run(factory, clients.read_stamping_account, actor, cti)
    assert view["last_purchase_at"] == when
