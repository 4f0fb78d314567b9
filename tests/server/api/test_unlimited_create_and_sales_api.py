"""HTTP (issue 14): an unlimited CTI is created with its first year's fee charged in the same operation
(the client's or the distributor's points), the catalog says what the fee costs, and a transfer is
either a sale with an amount or explicitly «Sin cargo»: a sale of $0 is refused, never recorded."""

from __future__ import annotations

import uuid

from cmdesk.domain.enums import Asset
from cmdesk.server.api import schemas
from tests.server.api.test_contracts_api import dist, other  # noqa: F401  (fixtures)
from tests.server.api.test_distributors_api import conforms
from tests.server.helpers import assert_ledger_ok, give, make_client

FEE = 1500  # points, the test catalog's unlimited_cti_annual_points


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _create(client, h, client_id, **body):
    return client.post(
        f"/v1/clients/{client_id}/stamping-accounts",
        json={"kind": "unlimited", "password": "Ilimitada2024", **body},
        headers={**h, **_key()},
    )


def _points(client, h):
    return client.get("/v1/me", headers=h).json()["balances"]["points"]


def test_catalog_states_the_unlimited_fee(client, dist, factory):  # noqa: F811
    actor, h = dist
    give(factory, actor, Asset.POINTS, 1)  # makes sure the test catalog (with the fee) is there
    out = conforms(schemas.CatalogOut, client.get("/v1/catalog", headers=h).json())
    assert out["unlimited_fee_points"] == FEE


def test_create_unlimited_charges_the_distributor_in_the_same_operation(client, dist, factory):  # noqa: F811
    actor, h = dist
    c = make_client(factory, actor)["client"]
    # Not enough points: nothing is created, nothing charged.
    r = _create(client, h, c["id"], id="ILIM-SIN-PUNTOS", fee_payer="account")
    assert r.status_code == 409 and r.json()["code"] == "insufficient_balance", r.text
    assert client.get("/v1/stamping-accounts/ILIM-SIN-PUNTOS", headers=h).status_code == 404

    give(factory, actor, Asset.POINTS, FEE + 10)
    r = _create(client, h, c["id"], id="ILIM-PAGADA", fee_payer="account")
    assert r.status_code == 201, r.text
    cti = conforms(schemas.StampingAccountPublic, r.json())
    assert cti["kind"] == "unlimited" and cti["paid_until"] is not None
    assert _points(client, h) == 10
    fees = client.get("/v1/movements", params={"kind": "unlimited_fee"}, headers=h).json()["items"]
    assert [(m["quantity"], m["amount_cents"], m["source"]["type"]) for m in fees] == [(FEE, 0, "account")]
    assert_ledger_ok(factory)


def test_create_unlimited_paid_by_the_client(client, dist, factory):  # noqa: F811
    actor, h = dist
    c = make_client(factory, actor)["client"]
    give(factory, actor, Asset.POINTS, FEE)
    r = client.post(
        "/v1/transfers",
        json={"asset": "points", "target": {"type": "client", "id": c["id"]}, "quantity": FEE, "no_charge": True},
        headers={**h, **_key()},
    )
    assert r.status_code == 201, r.text
    r = _create(client, h, c["id"], fee_payer="client")
    assert r.status_code == 201, r.text
    assert r.json()["paid_until"] is not None
    assert client.get(f"/v1/clients/{c["id"]}", headers=h).json()["balances"]["points"] == 0
    # Without fee_payer (older clients) it is created unpaid: it cannot stamp until its fee is paid.
    r = _create(client, h, c["id"])
    assert r.status_code == 201 and r.json()["paid_until"] is None
    # A standard CTI pays no fee.
    r = client.post(
        f"/v1/clients/{c['id']}/stamping-accounts",
        json={"kind": "standard", "password": "Estandar2024", "fee_payer": "account"},
        headers={**h, **_key()},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fee_payer"
    assert_ledger_ok(factory)


def test_a_sale_of_zero_is_refused_and_no_charge_is_no_sale(client, dist, factory):  # noqa: F811
    actor, h = dist
    made = make_client(factory, actor)
    cti = made["stamping_account"]
    give(factory, actor, Asset.STAMPS, 30)
    target = {"type": "stamping_account", "id": cti["id"]}
    base = {"asset": "stamps", "target": target, "quantity": 10}

    r = client.post("/v1/transfers", json={**base, "amount_cents": 0, "no_charge": False}, headers={**h, **_key()})
    body = r.json()
    assert r.status_code == 422 and body["code"] == "sale_amount_required", r.text
    assert body["title"] == "Falta el importe de la venta" and "Sin cargo" in body["detail"]
    assert body["errors"][0]["field"] == "amount_cents"
    r = client.post("/v1/transfers", json={**base, "amount_cents": 500, "no_charge": True}, headers={**h, **_key()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount_cents"
    # In a bulk transfer the refusal names the item and applies nothing.
    items = [{**base, "amount_cents": 100, "no_charge": False}, {**base, "amount_cents": 0, "no_charge": False}]
    r = client.post("/v1/transfers/bulk", json={"items": items}, headers={**h, **_key()})
    assert r.status_code == 422 and r.json()["code"] == "sale_amount_required"
    assert r.json()["errors"][0]["field"] == "items[1].amount_cents"
    assert client.get("/v1/me", headers=h).json()["balances"]["stamps"] == 30

    r = client.post("/v1/transfers", json={**base, "no_charge": True}, headers={**h, **_key()})
    assert r.status_code == 201 and r.json()["amount_cents"] == 0
    r = client.post("/v1/transfers", json={**base, "amount_cents": 750, "no_charge": False}, headers={**h, **_key()})
    assert r.status_code == 201 and r.json()["amount_cents"] == 750
    pending = client.get("/v1/movements", params={"invoiced": "false", "kind": "transfer"}, headers=h).json()
    sales = [m for m in pending["items"] if m["amount_cents"] > 0]
    assert [m["amount_cents"] for m in sales] == [750]
    assert_ledger_ok(factory)
