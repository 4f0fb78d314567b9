"""Contracts (MKL, subscriptions): the prorated quote, contracting with a charge or with points,
duplicates, and the MKL licenses a contract allows."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.proration import add_months, add_one_year
from cmdesk.models import Account, Charge, Contract, License, Movement
from cmdesk.server import db
from cmdesk.server.operations import contracts
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor

NOW = dt.datetime(2016, 4, 12, 0, 0, tzinfo=dt.UTC)
EXPIRY = dt.datetime(2017, 4, 12, 0, 0, tzinfo=dt.UTC)


def distributor(factory, expires_at: dt.datetime = EXPIRY):
    return make_distributor(factory, now=NOW, expires_at=expires_at)


def points_of(factory, account_id: str) -> int:
    with db.transaction(factory) as s:
        account = s.get(Account, account_id)
        assert account is not None
        return account.points_balance


def test_catalog_lists_active_contracts_with_and_without_iva(factory):
    distributor(factory)
    items = {c["code"]: c for c in db.run(factory, contracts.catalog_contracts)}
    assert items["mkl_dominus"]["kind"] == "mkl"
    assert items["mkl_dominus"]["annual_price_before_tax_cents"] == 185000
    assert items["mkl_dominus"]["annual_price_cents"] == 214600
    assert items["multinivel"]["kind"] == "subscription"


def test_manual_example_mkl_dominus_with_12_months_left_costs_2146(factory):
    actor = distributor(factory)
    q = db.run(factory, contracts.quote_contract, actor, "mkl_dominus", now=NOW)
    assert q["months_remaining"] == 12
    assert q["amount_before_tax_cents"] == 185000
    assert q["iva_cents"] == 29600
    assert q["amount_cents"] == 214600
    assert q["points_required"] == 2146
    assert q["expires_at"] == EXPIRY


@pytest.mark.parametrize(
    ("now", "months", "amount"),
    [
        (NOW, 12, 214600),
        (NOW + dt.timedelta(seconds=1), 12, 214600),
        (add_months(NOW, 1), 11, 196717),  # 1,850 × 11 / 12 = 1,695.83 + IVA = 1,967.17
        (add_months(NOW, 6), 6, 107300),
        (EXPIRY - dt.timedelta(days=1), 1, 17883),
        (EXPIRY, 0, 0),
    ],
)
def test_quote_is_prorated_to_the_accounts_expiry(factory, now, months, amount):
    actor = distributor(factory)
    q = db.run(factory, contracts.quote_contract, actor, "mkl_dominus", now=now)
    assert (q["months_remaining"], q["amount_cents"]) == (months, amount)
    assert q["amount_before_tax_cents"] + q["iva_cents"] == amount


def test_contract_creates_the_contract_and_its_charge(factory):
    actor = distributor(factory)
    out = db.run(factory, contracts.contract, actor, "mkl_dominus", now=NOW)
    c = out["contract"]
    assert c["code"] == "mkl_dominus" and c["kind"] == "mkl" and c["name"] == "MKL Dóminus"
    assert c["status"] == "active" and c["expires_at"] == EXPIRY and c["started_at"] == NOW
    assert c["first_charge_cents"] == 214600 and c["months_charged"] == 12 and c["paid_with_points"] is False
    assert out["charge"]["kind"] == "contract" and out["charge"]["amount_cents"] == 214600
    assert out["charge"]["contract_id"] == c["id"] and "12/04/2017" in out["charge"]["description"]
    assert out["movement"] is None and out["points_spent"] == 0
    assert [x["id"] for x in db.run(factory, contracts.list_contracts, actor)] == [c["id"]]
    loaded = db.run(factory, contracts.load_contracts, [c["id"]])
    assert loaded[c["id"]]["name"] == "MKL Dóminus"
    charges = db.run(factory, contracts.load_charges, [out["charge"]["id"]])
    assert charges[out["charge"]["id"]]["amount_cents"] == 214600
    assert set(contracts.FEED_LOADERS) == {"contract", "license", "charge"}


def test_a_second_contract_of_the_same_product_is_a_duplicate(factory):
    actor = distributor(factory)
    db.run(factory, contracts.contract, actor, "mkl_dominus", now=NOW)
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.contract, actor, "mkl_dominus", now=add_months(NOW, 3))
    assert e.value.code == ErrorCode.DUPLICATE
    # Another product is fine.
    db.run(factory, contracts.contract, actor, "multinivel", now=NOW)
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Contract)) == 2


def test_contract_paid_with_points(factory):
    actor = distributor(factory)
    give(factory, actor, Asset.POINTS, 3000)
    out = db.run(
        factory, contracts.contract, actor, "mkl_dominus", pay_with_points=True, now=add_months(NOW, 1)
    )
    # $1,967.17 with IVA: 1,968 points (a started peso is a whole point).
    assert out["points_spent"] == 1968
    assert points_of(factory, actor.account_id) == 3000 - 1968
    m = out["movement"]
    assert m["kind"] == "contract" and m["asset"] == "points" and m["quantity"] == 1968
    assert m["source"] == {"type": "account", "id": actor.account_id}
    assert m["target"] == {"type": "catalog", "id": "mkl_dominus"}
    assert m["amount_cents"] == 0 and m["contract_id"] == out["contract"]["id"]
    assert out["charge"]["paid_with_points"] is True and out["charge"]["movement_id"] == m["id"]
    assert out["contract"]["paid_with_points"] is True
    assert_ledger_ok(factory)


def test_contract_with_too_few_points_changes_nothing(factory):
    actor = distributor(factory)
    give(factory, actor, Asset.POINTS, 2145)
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.contract, actor, "mkl_dominus", pay_with_points=True, now=NOW)
    assert e.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert points_of(factory, actor.account_id) == 2145
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Contract)) == 0
        assert s.scalar(select(func.count()).select_from(Charge).where(Charge.kind == "contract")) == 0
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "contract")) == 0
    give(factory, actor, Asset.POINTS, 1)
    db.run(factory, contracts.contract, actor, "mkl_dominus", pay_with_points=True, now=NOW)
    assert points_of(factory, actor.account_id) == 0
    assert_ledger_ok(factory)


def test_contract_refusals(factory):
    actor = distributor(factory)
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.contract, actor, "no_existe", now=NOW)
    assert e.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.quote_contract, actor, "no_existe", now=NOW)
    assert e.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.contract, actor, "mkl_dominus", now=EXPIRY)
    assert e.value.code == ErrorCode.VALIDATION_ERROR and "vencida" in e.value.detail


def test_contracts_are_per_account(factory):
    one, two = distributor(factory), distributor(factory)
    db.run(factory, contracts.contract, one, "mkl_dominus", now=NOW)
    db.run(factory, contracts.contract, two, "mkl_dominus", now=NOW)
    assert len(db.run(factory, contracts.list_contracts, one)) == 1
    assert db.run(factory, contracts.list_contracts, distributor(factory)) == []


# --- licenses ------------------------------------------------------------------------------------


def test_licenses_need_an_mkl_contract_of_that_product(factory):
    actor = distributor(factory)
    client_id = make_client(factory, actor)["client"]["id"]
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.generate_licenses, actor, client_id, "mkl_dominus", now=NOW)
    assert e.value.code == ErrorCode.FEATURE_NOT_CONTRACTED and "MKL Dóminus" in e.value.detail
    # A subscription is not an MKL.
    db.run(factory, contracts.contract, actor, "multinivel", now=NOW)
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.generate_licenses, actor, client_id, "multinivel", now=NOW)
    assert e.value.code == ErrorCode.FEATURE_NOT_CONTRACTED
    # Nor is a contract that ended.
    db.run(factory, contracts.contract, actor, "mkl_dominus", now=NOW)
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.generate_licenses, actor, client_id, "mkl_dominus", now=EXPIRY)
    assert e.value.code == ErrorCode.FEATURE_NOT_CONTRACTED
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(License)) == 0


def test_generate_and_list_licenses(factory):
    actor = distributor(factory)
    contract_id = db.run(factory, contracts.contract, actor, "mkl_dominus", now=NOW)["contract"]["id"]
    first = make_client(factory, actor)["client"]["id"]
    second = make_client(factory, actor)["client"]["id"]
    at = add_months(NOW, 2)
    made = db.run(factory, contracts.generate_licenses, actor, first, "mkl_dominus", 3, now=at)
    assert len(made) == 3 and len({x["license_key"] for x in made}) == 3
    for x in made:
        assert (
            x["client_id"] == first and x["contract_id"] == contract_id and x["product_code"] == "mkl_dominus"
        )
        assert x["valid_from"] == at and x["valid_until"] == add_one_year(at)
        assert len(x["license_key"]) == 29 and x["license_key"].count("-") == 4
    db.run(factory, contracts.generate_licenses, actor, second, "mkl_dominus", now=at)
    assert len(db.run(factory, contracts.list_licenses, actor)) == 4
    assert {x["id"] for x in db.run(factory, contracts.list_licenses, actor, first)} == {
        x["id"] for x in made
    }
    loaded = db.run(factory, contracts.load_licenses, [made[0]["id"]])
    assert loaded[made[0]["id"]]["license_key"] == made[0]["license_key"]


@pytest.mark.parametrize("count", [0, -1, 101, 2.5, True, "3"])
def test_license_count_is_validated(factory, count):
    actor = distributor(factory)
    db.run(factory, contracts.contract, actor, "mkl_dominus", now=NOW)
    client_id = make_client(factory, actor)["client"]["id"]
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.generate_licenses, actor, client_id, "mkl_dominus", count, now=NOW)
    assert e.value.code == ErrorCode.VALIDATION_ERROR and e.value.errors[0].field == "count"


def test_licenses_of_another_distributors_client_are_not_found(factory):
    owner, intruder = distributor(factory), distributor(factory)
    db.run(factory, contracts.contract, intruder, "mkl_dominus", now=NOW)
    theirs = make_client(factory, owner)["client"]["id"]
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.generate_licenses, intruder, theirs, "mkl_dominus", now=NOW)
    assert e.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as e:
        db.run(factory, contracts.list_licenses, intruder, theirs)
    assert e.value.code == ErrorCode.NOT_FOUND
