"""HTTP: sales to invoice, invoices, top-up codes and their public redemption (with its throttling)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from cmdesk.domain.enums import Asset
from cmdesk.server import db
from cmdesk.server.operations import ledger
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor

PASSWORD = "secreto123"
REDEEM = "/v1/public/top-up-codes/redeem"


@pytest.fixture
def dist(factory, client, auth_headers):
    actor = make_distributor(factory, email="uno@dist.mx", mobile="5511111111", password=PASSWORD)
    return actor, auth_headers("uno@dist.mx")


@pytest.fixture
def other(factory, client, auth_headers):
    actor = make_distributor(factory, email="dos@dist.mx", mobile="5522222222", password=PASSWORD)
    return actor, auth_headers("dos@dist.mx")


def _key():
    return {"Idempotency-Key": str(uuid.uuid4())}


def _sale(factory, actor, cti, quantity=2, amount_cents=1000):
    return db.run(
        factory, ledger.transfer, actor, asset="stamps", target_type="stamping_account", target_id=cti,
        quantity=quantity, amount_cents=amount_cents,
    )


def _code(client, h, **body):
    body = {"asset": "stamps", "quantity": 5, "amount_cents": 500, **body}
    r = client.post("/v1/top-up-codes", json=body, headers={**h, **_key()})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_pending_sales_and_invoices(client, dist, other, factory):
    actor, h = dist
    _, h2 = other
    give(factory, actor, Asset.STAMPS, 20)
    a = make_client(factory, actor, name="Alfa")
    b = make_client(factory, actor, name="Beta")
    s1 = _sale(factory, actor, a["stamping_account"]["id"], amount_cents=1000)
    s2 = _sale(factory, actor, a["stamping_account"]["id"], amount_cents=2500)
    s3 = _sale(factory, actor, b["stamping_account"]["id"], amount_cents=700)
    _sale(factory, actor, b["stamping_account"]["id"], amount_cents=0)  # a gift: nothing to invoice

    r = client.get("/v1/billing/pending", headers=h)
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["items"]] == [s1["id"], s2["id"], s3["id"]]
    page = client.get("/v1/billing/pending", params={"limit": 2}, headers=h).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get("/v1/billing/pending", params={"limit": 2, "cursor": page["next_cursor"]}, headers=h).json()
    assert [m["id"] for m in rest["items"]] == [s3["id"]] and rest["next_cursor"] is None
    assert client.get("/v1/billing/pending", params={"cursor": "basura"}, headers=h).status_code == 422
    only_a = client.get("/v1/billing/pending", params={"client_id": a["client"]["id"]}, headers=h).json()["items"]
    assert [m["id"] for m in only_a] == [s1["id"], s2["id"]]
    by_client = client.get("/v1/billing/pending/by-client", headers=h).json()["items"]
    assert [(c["name"], c["count"], c["total_cents"]) for c in by_client] == [("Alfa", 2, 3500), ("Beta", 1, 700)]
    # Another distributor sees none of it, and the client id is not found for it.
    assert client.get("/v1/billing/pending", headers=h2).json()["items"] == []
    r = client.get("/v1/billing/pending", params={"client_id": a["client"]["id"]}, headers=h2)
    assert r.status_code == 404 and r.json()["code"] == "not_found"

    body = {"client_id": a["client"]["id"], "reference": "F-100", "movement_ids": [s1["id"], s2["id"]]}
    r = client.post("/v1/invoices", json=body, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["invoice"]["total_cents"] == 3500 and out["invoice"]["reference"] == "F-100"
    assert out["movement_ids"] == [s1["id"], s2["id"]] and out["top_up_code_ids"] == []
    assert out["invoice"]["created_at"].endswith("Z")
    assert [c["name"] for c in client.get("/v1/billing/pending/by-client", headers=h).json()["items"]] == ["Beta"]
    # The same sale twice, and the same reference twice, are duplicates.
    r = client.post("/v1/invoices", json={**body, "reference": "F-101"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "duplicate"
    r = client.post(
        "/v1/invoices", json={"client_id": b["client"]["id"], "reference": "F-100", "movement_ids": [s3["id"]]}, headers=h
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "reference"
    # Another distributor can't invoice these sales nor name this client.
    r = client.post("/v1/invoices", json={**body, "reference": "X-1"}, headers=h2)
    assert r.status_code == 404
    # A sale of another client of the same account.
    r = client.post(
        "/v1/invoices", json={"client_id": a["client"]["id"], "reference": "F-102", "movement_ids": [s3["id"]]}, headers=h
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "movement_ids"

    invoices = client.get("/v1/invoices", headers=h).json()["items"]
    assert [i["reference"] for i in invoices] == ["F-100"]
    assert client.get("/v1/invoices", params={"client_id": b["client"]["id"]}, headers=h).json()["items"] == []
    assert client.get("/v1/invoices", headers=h2).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reference": "F-1", "movement_ids": ["m"]}, "client_id"),
        ({"reference": "F-1", "client_id": "c"}, "movement_ids"),
        ({"reference": "F-1", "movement_ids": ["m"], "top_up_code_ids": ["c"], "client_id": "c"}, "movement_ids"),
        ({"reference": "", "movement_ids": ["m"], "client_id": "c"}, "reference"),
        ({"reference": "F-1", "movement_ids": [], "client_id": "c"}, "movement_ids"),
        ({"reference": "F-1", "top_up_code_ids": ["c"], "extra": 1}, "extra"),
        ({"movement_ids": ["m"], "client_id": "c"}, "reference"),
    ],
)
def test_invoice_validation_in_spanish(client, dist, body, field):
    _, h = dist
    r = client.post("/v1/invoices", json=body, headers=h)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_error" and problem["errors"][0]["field"] == field
    assert problem["errors"][0]["message"][0].isupper()  # a Spanish sentence, not a pydantic code


def test_top_up_codes_create_list_cancel_and_invoice(client, dist, other, factory):
    actor, h = dist
    _, h2 = other
    give(factory, actor, Asset.STAMPS, 30)
    give(factory, actor, Asset.POINTS, 10)
    body = {"asset": "stamps", "quantity": 10, "amount_cents": 1500, "comments": "Promoción"}
    r = client.post("/v1/top-up-codes", json=body, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    key = _key()
    r = client.post("/v1/top-up-codes", json=body, headers={**h, **key})
    assert r.status_code == 201, r.text
    created = r.json()
    code = created["code"]
    assert code["status"] == "available" and code["nip"] and code["quantity"] == 10
    assert created["movement"]["kind"] == "top_up" and created["movement"]["target"]["type"] == "top_up_code"
    # Replay: the same answer, nothing taken twice; another body with the key is refused.
    again = client.post("/v1/top-up-codes", json=body, headers={**h, **key})
    assert again.status_code == 201 and again.json() == created
    r = client.post("/v1/top-up-codes", json={**body, "quantity": 11}, headers={**h, **key})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    r = client.post("/v1/top-up-codes", json={**body, "quantity": 1000}, headers={**h, **_key()})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_balance"
    assert client.get("/v1/me", headers=h).json()["balances"]["stamps"] == 20
    for bad, field in [({"quantity": 0}, "quantity"), ({"asset": "oro"}, "asset"), ({"amount_cents": -1}, "amount_cents")]:
        r = client.post("/v1/top-up-codes", json={**body, **bad}, headers={**h, **_key()})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field

    points = _code(client, h, asset="points", quantity=3, amount_cents=0)
    gift = _code(client, h, quantity=2, amount_cents=0)
    r = client.get(f"/v1/top-up-codes/{code['id']}", headers=h)
    assert r.status_code == 200 and r.json() == code
    assert client.get(f"/v1/top-up-codes/{code['id']}", headers=h2).status_code == 404
    assert client.get("/v1/top-up-codes/nope", headers=h).status_code == 404

    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=6)  # the filters use Mexico City months
    listed = client.get("/v1/top-up-codes", params={"year": now.year, "month": now.month}, headers=h).json()["items"]
    assert {c["id"] for c in listed} == {code["id"], points["id"], gift["id"]}
    assert client.get("/v1/top-up-codes", params={"year": 2001}, headers=h).json()["items"] == []
    stamps_only = client.get("/v1/top-up-codes", params={"asset": "stamps"}, headers=h).json()["items"]
    assert {c["id"] for c in stamps_only} == {code["id"], gift["id"]}
    to_invoice = client.get("/v1/top-up-codes", params={"invoiced": "false"}, headers=h).json()["items"]
    assert [c["id"] for c in to_invoice] == [code["id"]]
    assert client.get("/v1/top-up-codes", headers=h2).json()["items"] == []
    r = client.get("/v1/top-up-codes", params={"month": 3}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "year"
    r = client.get("/v1/top-up-codes", params={"year": 2025, "month": 13}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month"

    # Cancel: the escrow comes back; twice is refused; another account's code is not found.
    assert client.post(f"/v1/top-up-codes/{gift['id']}/cancel", headers=h2).status_code == 404
    r = client.post(f"/v1/top-up-codes/{gift['id']}/cancel", headers=h)
    assert r.status_code == 200 and r.json()["code"]["status"] == "cancelled"
    assert r.json()["movement"]["target"] == {"type": "account", "id": actor.account_id}
    r = client.post(f"/v1/top-up-codes/{gift['id']}/cancel", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "already_redeemed"

    # Invoicing codes: the cancelled one is refused on the body's own field name.
    r = client.post("/v1/invoices", json={"reference": "C-1", "top_up_code_ids": [gift["id"]]}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "top_up_code_ids"
    r = client.post("/v1/invoices", json={"reference": "C-1", "top_up_code_ids": [code["id"]]}, headers=h2)
    assert r.status_code == 404
    r = client.post("/v1/invoices", json={"reference": "C-1", "top_up_code_ids": [code["id"]]}, headers={**h, **_key()})
    assert r.status_code == 201, r.text
    assert r.json()["top_up_code_ids"] == [code["id"]] and r.json()["movement_ids"] == []
    assert r.json()["invoice"]["total_cents"] == 1500 and r.json()["invoice"]["client_id"] is None
    assert client.get("/v1/top-up-codes", params={"invoiced": "true"}, headers=h).json()["items"][0]["id"] == code["id"]
    r = client.post(f"/v1/top-up-codes/{code['id']}/cancel", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state_transition"
    assert_ledger_ok(factory)


def test_redeem_stamps_and_points(client, dist, other, factory):
    actor, h = dist
    other_actor, _ = other
    give(factory, actor, Asset.STAMPS, 10)
    give(factory, actor, Asset.POINTS, 10)
    c = make_client(factory, actor)
    stranger = make_client(factory, other_actor)
    code = _code(client, h, quantity=4)
    cti = c["stamping_account"]["id"]
    r = client.post(REDEEM, json={"code": code["code"], "nip": code["nip"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stamping_account_id"
    r = client.post(REDEEM, json={"code": code["code"], "nip": code["nip"], "stamping_account_id": stranger["stamping_account"]["id"]})
    assert r.status_code == 404
    r = client.post(REDEEM, json={"code": code["code"].lower(), "nip": code["nip"], "stamping_account_id": cti})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["asset"] == "stamps" and out["quantity"] == 4
    assert out["receiver"] == {"type": "stamping_account", "id": cti}
    assert out["client"]["nic"] == c["client"]["nic"] and out["redeemed_at"].endswith("Z")
    r = client.post(REDEEM, json={"code": code["code"], "nip": code["nip"], "stamping_account_id": cti})
    assert r.status_code == 409 and r.json()["code"] == "already_redeemed"
    assert client.get(f"/v1/stamping-accounts/{cti}", headers=h).json()["balance"] == 4
    got = client.get(f"/v1/top-up-codes/{code['id']}", headers=h).json()
    assert got["status"] == "redeemed" and got["receiver"]["client_id"] == c["client"]["id"]

    points = _code(client, h, asset="points", quantity=3)
    r = client.post(REDEEM, json={"code": points["code"], "nip": points["nip"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "client_id"
    r = client.post(REDEEM, json={"code": points["code"], "nip": points["nip"], "client_id": c["client"]["id"]})
    assert r.status_code == 200 and r.json()["receiver"] == {"type": "client", "id": c["client"]["id"]}
    assert client.get(f"/v1/clients/{c['client']['id']}", headers=h).json()["balances"]["points"] == 3
    r = client.post(REDEEM, json={"code": "NO-EXISTE", "nip": "1234"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.post(REDEEM, json={"code": "X", "nip": "1", "sobra": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sobra"
    assert_ledger_ok(factory)


def test_wrong_nip_counts_and_the_fifth_locks(client, dist, factory):
    actor, h = dist
    give(factory, actor, Asset.STAMPS, 10)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    code = _code(client, h)
    wrong = {"code": code["code"], "nip": "NOPE00", "stamping_account_id": cti}
    # With an Idempotency-Key, a retry replays the rejection and does not count the NIP again.
    key = _key()
    first = client.post(REDEEM, json=wrong, headers=key)
    assert first.status_code == 401 and first.json()["code"] == "invalid_credentials"
    assert "nip_failed" not in first.json()
    assert client.post(REDEEM, json=wrong, headers=key).json() == first.json()
    assert client.get(f"/v1/top-up-codes/{code['id']}", headers=h).json()["failed_attempts"] == 1
    for attempt in range(2, 5):
        r = client.post(REDEEM, json=wrong)
        assert r.status_code == 401, attempt
    r = client.post(REDEEM, json=wrong)
    assert r.status_code == 423 and r.json()["code"] == "code_locked"
    right = {**wrong, "nip": code["nip"]}
    r = client.post(REDEEM, json=right)
    assert r.status_code == 423 and r.json()["code"] == "code_locked"
    got = client.get(f"/v1/top-up-codes/{code['id']}", headers=h).json()
    assert got["status"] == "locked" and got["failed_attempts"] == 5
    # Only cancelling gets the escrow back.
    assert client.post(f"/v1/top-up-codes/{code['id']}/cancel", headers=h).json()["code"]["status"] == "cancelled"
    assert_ledger_ok(factory)


def test_redeem_replay_with_key(client, dist, factory):
    actor, h = dist
    give(factory, actor, Asset.STAMPS, 10)
    cti = make_client(factory, actor)["stamping_account"]["id"]
    code = _code(client, h, quantity=3)
    body = {"code": code["code"], "nip": code["nip"], "stamping_account_id": cti}
    key = _key()
    r1 = client.post(REDEEM, json=body, headers=key)
    r2 = client.post(REDEEM, json=body, headers=key)
    assert r1.status_code == r2.status_code == 200 and r1.json() == r2.json()
    assert client.get(f"/v1/stamping-accounts/{cti}", headers=h).json()["balance"] == 3


def test_redeem_is_throttled_per_address(client, settings, dist, factory):
    actor, h = dist
    give(factory, actor, Asset.STAMPS, 10)
    settings.public_requests_per_minute = 3
    for _ in range(3):
        assert client.post(REDEEM, json={"code": "NO-EXISTE", "nip": "1"}).status_code == 404
    r = client.post(REDEEM, json={"code": "NO-EXISTE", "nip": "1"})
    assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
    assert 1 <= int(r.headers["Retry-After"]) <= 60 and r.json()["retry_after"] == int(r.headers["Retry-After"])
    # Even a right code waits: the limit is on the address.
    code = _code(client, h)
    cti = make_client(factory, actor)["stamping_account"]["id"]
    r = client.post(REDEEM, json={"code": code["code"], "nip": code["nip"], "stamping_account_id": cti})
    assert r.status_code == 429


def test_redeem_failures_are_limited_per_hour(client, settings, dist, factory):
    settings.public_failures_per_hour = 2
    assert client.post(REDEEM, json={"code": "NO-EXISTE", "nip": "1"}).status_code == 404
    assert client.post(REDEEM, json={"code": "NO-EXISTE", "nip": "1"}, headers=_key()).status_code == 404
    r = client.post(REDEEM, json={"code": "NO-EXISTE", "nip": "1"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60
