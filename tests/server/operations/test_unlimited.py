"""The yearly fee of an unlimited CTI, paid in points by the client or by the distributor."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.proration import add_months, add_one_year
from cmdesk.models import Account, Client, Movement, StampingAccount
from cmdesk.server import db
from cmdesk.server.operations import clients, ledger, unlimited
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
FEE_POINTS = 1500  # the test catalog's fee: $1,500.00


def setup(factory, *, client_points: int = 0, account_points: int = 0):
    actor = make_distributor(factory)
    c = make_client(factory, actor)
    client_id = c["client"]["id"]
    cti = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        client_id,
        kind="unlimited",
        password="Ilimitada2026",
        rfc_restriction="EKU9003173C9",
    )["id"]
    give(factory, actor, Asset.POINTS, client_points + account_points)
    if client_points:
        db.run(
            factory,
            ledger.transfer,
            actor,
            asset="points",
            target_type="client",
            target_id=client_id,
            quantity=client_points,
        )
    return actor, client_id, cti, c["stamping_account"]["id"]


def points(factory, model, ident) -> int:
    with db.transaction(factory) as s:
        return s.get(model, ident).points_balance


def paid_until(factory, cti) -> dt.datetime | None:
    with db.transaction(factory) as s:
        return s.get(StampingAccount, cti).paid_until


def consume(factory, cti, now):
    return db.run(
        factory,
        ledger.consume,
        stamping_account_id=cti,
        emitter_rfc="EKU9003173C9",
        cfdi_uuid=str(uuid.uuid4()),
        now=now,
    )


def test_client_pays_one_year(factory):
    actor, client_id, cti, _ = setup(factory, client_points=2000)
    with pytest.raises(DomainError) as e:
        consume(factory, cti, NOW)
    assert e.value.code == ErrorCode.UNLIMITED_EXPIRED
    out = db.run(factory, unlimited.pay_unlimited_fee, actor, cti, payer="client", now=NOW)
    assert out["paid_until"] == add_one_year(NOW) == out["stamping_account"]["paid_until"]
    assert out["points_spent"] == FEE_POINTS
    m = out["movement"]
    assert m["kind"] == "unlimited_fee" and m["asset"] == "points" and m["quantity"] == FEE_POINTS
    assert m["source"] == {"type": "client", "id": client_id}
    assert m["target"] == {"type": "catalog", "id": unlimited.UNLIMITED_FEE_CODE}
    assert m["client_id"] == client_id and m["amount_cents"] == 0
    assert points(factory, Client, client_id) == 500
    assert consume(factory, cti, NOW + dt.timedelta(days=1))["balance"] is None
    assert_ledger_ok(factory)


def test_distributor_pays_several_years_and_payments_add_up(factory):
    actor, _client_id, cti, _ = setup(factory, account_points=3 * FEE_POINTS)
    db.run(factory, unlimited.pay_unlimited_fee, actor, cti, payer="account", years=2, now=NOW)
    assert paid_until(factory, cti) == add_months(NOW, 24)
    assert points(factory, Account, actor.account_id) == FEE_POINTS
    # Paid early: the new year starts where the paid time ends, not today.
    db.run(factory, unlimited.pay_unlimited_fee, actor, cti, payer="account", now=NOW + dt.timedelta(days=10))
    assert paid_until(factory, cti) == add_months(NOW, 36)
    assert points(factory, Account, actor.account_id) == 0
    assert_ledger_ok(factory)


def test_a_lapsed_fee_starts_again_from_the_payment(factory):
    actor, _client_id, cti, _ = setup(factory, account_points=2 * FEE_POINTS)
    db.run(factory, unlimited.pay_unlimited_fee, actor, cti, payer="account", now=NOW)
    later = add_one_year(NOW) + dt.timedelta(days=40)
    with pytest.raises(DomainError) as e:
        consume(factory, cti, later)
    assert e.value.code == ErrorCode.UNLIMITED_EXPIRED
    db.run(factory, unlimited.pay_unlimited_fee, actor, cti, payer="account", now=later)
    assert paid_until(factory, cti) == add_one_year(later)


@pytest.mark.parametrize("payer", ["client", "account"])
def test_without_enough_points_nothing_changes(factory, payer):
    actor, client_id, cti, _ = setup(factory, client_points=FEE_POINTS - 1, account_points=FEE_POINTS - 1)
    with pytest.raises(DomainError) as e:
        db.run(factory, unlimited.pay_unlimited_fee, actor, cti, payer=payer, now=NOW)
    assert e.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert paid_until(factory, cti) is None
    assert points(factory, Client, client_id) == FEE_POINTS - 1
    assert points(factory, Account, actor.account_id) == FEE_POINTS - 1
    with db.transaction(factory) as s:
        assert (
            s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "unlimited_fee")) == 0
        )
    assert_ledger_ok(factory)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"payer": "otro"}, "payer"),
        ({"payer": "client", "years": 0}, "years"),
        ({"payer": "client", "years": 6}, "years"),
        ({"payer": "client", "years": 1.5}, "years"),
        ({"payer": "client", "years": True}, "years"),
    ],
)
def test_arguments_are_validated(factory, kwargs, field):
    actor, _client_id, cti, _ = setup(factory, client_points=FEE_POINTS)
    with pytest.raises(DomainError) as e:
        db.run(factory, unlimited.pay_unlimited_fee, actor, cti, now=NOW, **kwargs)
    assert e.value.code == ErrorCode.VALIDATION_ERROR and e.value.errors[0].field == field


def test_a_standard_cti_pays_no_fee(factory):
    actor, _client_id, _cti, standard = setup(factory, client_points=FEE_POINTS)
    with pytest.raises(DomainError) as e:
        db.run(factory, unlimited.pay_unlimited_fee, actor, standard, payer="client", now=NOW)
    assert e.value.code == ErrorCode.VALIDATION_ERROR


def test_another_distributors_cti_is_not_found(factory):
    _owner, _client_id, cti, _ = setup(factory, client_points=FEE_POINTS)
    intruder = make_distributor(factory)
    give(factory, intruder, Asset.POINTS, FEE_POINTS)
    for payer in ("client", "account"):
        with pytest.raises(DomainError) as e:
            db.run(factory, unlimited.pay_unlimited_fee, intruder, cti, payer=payer, now=NOW)
        assert e.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as e:
        db.run(factory, unlimited.pay_unlimited_fee, intruder, "NO-EXISTE", payer="account", now=NOW)
    assert e.value.code == ErrorCode.NOT_FOUND
    assert paid_until(factory, cti) is None
