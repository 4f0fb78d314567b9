"""HTTP: quotes and contracts (idempotent, paid by statement or with points), MKL licenses, the
account's statement and the unlimited CTI fee, with every error code they produce."""

from __future__ import annotations

import uuid

import pytest

from cmdesk.domain.enums import Asset
from cmdesk.server.api import schemas_distributors as sd
from tests.server.api.test_distributors_api import conforms
from tests.server.helpers import RFC_MORAL, assert_ledger_ok, give, make_client, make_distributor

PASSWORD = "secreto123"


@pytest.fixture
def dist(factory, client, auth_headers):
    actor = make_distributor(factory, email="uno@dist.mx", mobile="5511111111", password=PASSWORD)
    return actor, auth_headers("uno@dist.mx")


@pytest.fixture
def other(factory, client, auth_headers):
    actor = make_distributor(factory, email="otro@dist.mx", mobile="5522222222", password=PASSWORD)
    return actor, auth_headers("otro@dist.mx")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_quote_contract_replay_and_duplicate(client, dist):
    _, h = dist
    q = client.post("/v1/contracts/quote", json={"code": "mkl_dominus"}, headers=h)
    assert q.status_code == 200, q.text
    quote = conforms(sd.Quote, q.json())
    assert quote["months_remaining"] == 12 and quote["amount_cents"] == 214600  # the manual's example
    assert quote["amount_before_tax_cents"] + quote["iva_cents"] == quote["amount_cents"]
    assert quote["points_required"] == 2146 and quote["expires_at"].endswith("Z")

    body = {"code": "mkl_dominus"}
    r = client.post("/v1/contracts", json=body, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    key = _key()
    r = client.post("/v1/contracts", json=body, headers={**h, **key})
    assert r.status_code == 201, r.text
    out = conforms(sd.ContractCreated, r.json())
    assert out["contract"]["code"] == "mkl_dominus" and out["contract"]["name"] == "MKL Dóminus"
    assert out["charge"]["amount_cents"] == 214600 and out["charge"]["kind"] == "contract"
    assert out["movement"] is None and out["points_spent"] == 0
    again = client.post("/v1/contracts", json=body, headers={**h, **key})
    assert again.status_code == 201 and again.json() == out
    r = client.post("/v1/contracts", json={**body, "pay_with_points": True}, headers={**h, **key})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    r = client.post("/v1/contracts", json=body, headers={**h, **_key()})
    assert r.status_code == 409 and r.json()["code"] == "duplicate"

    listed = conforms(sd.ContractList, client.get("/v1/contracts", headers=h).json())
    assert listed == {"items": [out["contract"]], "next_cursor": None}
    charges = client.get("/v1/charges", headers=h).json()["items"]
    assert [c["id"] for c in charges] == [out["charge"]["id"]]


def test_contract_refusals(client, dist):
    _, h = dist
    for path in ("/v1/contracts/quote", "/v1/contracts"):
        r = client.post(path, json={"code": "no_existe"}, headers={**h, **_key()})
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        r = client.post(path, json={}, headers={**h, **_key()})
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "code", "message": "Este campo es obligatorio."}]
    r = client.post("/v1/contracts", json={"code": "multinivel", "pay_with_points": "quizá"}, headers={**h, **_key()})
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "pay_with_points", "message": "Debe ser verdadero o falso."}
    assert client.post("/v1/contracts/quote", json={"code": "multinivel"}).status_code == 401


def test_contract_paid_with_points(client, dist, factory):
    actor, h = dist
    body = {"code": "multinivel", "pay_with_points": True}
    r = client.post("/v1/contracts", json=body, headers={**h, **_key()})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_balance"
    assert client.get("/v1/contracts", headers=h).json()["items"] == []
    give(factory, actor, Asset.POINTS, 2400)
    r = client.post("/v1/contracts", json=body, headers={**h, **_key()})
    assert r.status_code == 201, r.text
    out = conforms(sd.ContractCreated, r.json())
    assert out["points_spent"] == 2319 and out["charge"]["paid_with_points"] is True  # $1,999.00 + IVA
    mv = out["movement"]
    assert mv["kind"] == "contract" and mv["target"] == {"type": "catalog", "id": "multinivel"}
    assert mv["contract_id"] == out["contract"]["id"] and out["charge"]["movement_id"] == mv["id"]
    assert client.get("/v1/me", headers=h).status_code == 200
    assert_ledger_ok(factory)


def test_licenses(client, dist, other, factory):
    actor, h = dist
    c = make_client(factory, actor)["client"]
    body = {"client_id": c["id"], "product_code": "mkl_dominus", "count": 3}
    r = client.post("/v1/licenses", json=body, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "feature_not_contracted"
    assert client.post("/v1/contracts", json={"code": "mkl_dominus"}, headers={**h, **_key()}).status_code == 201
    r = client.post("/v1/licenses", json=body, headers=h)
    assert r.status_code == 201, r.text
    made = conforms(list[sd.License], r.json())
    assert len(made) == 3 and len({m["license_key"] for m in made}) == 3
    assert all(m["client_id"] == c["id"] and m["valid_until"].endswith("Z") for m in made)
    c2 = make_client(factory, actor)["client"]
    client.post("/v1/licenses", json={**body, "client_id": c2["id"], "count": 1}, headers=h)
    listed = conforms(sd.LicenseList, client.get("/v1/licenses", params={"client_id": c["id"]}, headers=h).json())
    assert sorted(m["id"] for m in listed["items"]) == sorted(m["id"] for m in made)
    page = client.get("/v1/licenses", params={"limit": 3}, headers=h).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = client.get("/v1/licenses", params={"limit": 3, "cursor": page["next_cursor"]}, headers=h).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {m["client_id"] for m in page["items"] + rest["items"]} == {c["id"], c2["id"]}

    for count, message in ((0, "Debe ser mayor o igual que 1."), (101, "Debe ser menor o igual que 100.")):
        r = client.post("/v1/licenses", json={**body, "count": count}, headers=h)
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "count", "message": message}]
    r = client.post("/v1/licenses", json={**body, "product_code": "multinivel"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "feature_not_contracted"

    # Another distributor's client is not found, on both routes.
    _, oh = other
    assert client.post("/v1/contracts", json={"code": "mkl_dominus"}, headers={**oh, **_key()}).status_code == 201
    r = client.post("/v1/licenses", json=body, headers=oh)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert client.get("/v1/licenses", params={"client_id": c["id"]}, headers=oh).status_code == 404
    assert client.get("/v1/licenses", headers=oh).json()["items"] == []


def test_statement_pages_and_filters(client, dist, factory):
    actor, h = dist
    for _ in range(3):
        give(factory, actor, Asset.STAMPS, 1)
    first = conforms(sd.ChargeList, client.get("/v1/charges", params={"limit": 2}, headers=h).json())
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert all(c["kind"] == "purchase" for c in first["items"])
    rest = client.get("/v1/charges", params={"limit": 2, "cursor": first["next_cursor"]}, headers=h).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [c["id"] for c in first["items"] + rest["items"]]
    assert len(set(ids)) == 3
    newest = first["items"][0]["created_at"]
    assert client.get("/v1/charges", params={"from": "2999-01-01T00:00:00Z"}, headers=h).json()["items"] == []
    assert client.get("/v1/charges", params={"to": "2000-01-01T00:00:00"}, headers=h).json()["items"] == []
    assert len(client.get("/v1/charges", params={"to": "2999-01-01", "from": "2000-01-01"}, headers=h).json()["items"]) == 3
    assert newest.endswith("Z")
    r = client.get("/v1/charges", params={"cursor": "basura"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"
    r = client.get("/v1/charges", params={"from": "ayer"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"


def test_unlimited_fee(client, dist, other, factory):
    actor, h = dist
    created = make_client(factory, actor)
    c, standard = created["client"], created["stamping_account"]
    r = client.post(
        f"/v1/clients/{c['id']}/stamping-accounts",
        json={"kind": "unlimited", "password": "Ilimitada2024", "rfc_restriction": RFC_MORAL}, headers=h,
    )
    cti = r.json()["id"]
    path = f"/v1/stamping-accounts/{cti}/unlimited-fee"
    body = {"payer": "account", "years": 1}
    r = client.post(path, json=body, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    r = client.post(path, json=body, headers={**h, **_key()})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_balance"
    give(factory, actor, Asset.POINTS, 1500)
    key = _key()
    r = client.post(path, json=body, headers={**h, **key})
    assert r.status_code == 201, r.text
    out = conforms(sd.UnlimitedFeePaid, r.json())
    assert out["points_spent"] == 1500 and out["stamping_account"]["paid_until"] == out["paid_until"]
    assert out["movement"]["kind"] == "unlimited_fee" and out["movement"]["source"]["type"] == "account"
    assert client.post(path, json=body, headers={**h, **key}).json() == out
    r = client.post(path, json={"payer": "client"}, headers={**h, **_key()})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_balance"

    r = client.post(f"/v1/stamping-accounts/{standard['id']}/unlimited-fee", json=body, headers={**h, **_key()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stamping_account_id"
    r = client.post(path, json={"payer": "otro", "years": 9}, headers={**h, **_key()})
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert r.status_code == 422 and fields["years"] == "Debe ser menor o igual que 5."
    assert fields["payer"].startswith("Valor no permitido")
    _, oh = other
    r = client.post(path, json=body, headers={**oh, **_key()})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert_ledger_ok(factory)
