"""HTTP: clients, stamping accounts, the ledger and stamping, with every documented error."""

from __future__ import annotations

import threading
import uuid

import pytest

from cmdesk.domain.enums import Asset
from tests.server.helpers import RFC_MORAL, give, make_distributor

PASSWORD = "secreto123"


@pytest.fixture
def dist(factory, client, auth_headers):
    actor = make_distributor(factory, email="uno@dist.mx", mobile="5511111111", password=PASSWORD)
    return actor, auth_headers("uno@dist.mx")


def _create(client, headers, **fields):
    fields.setdefault("name", "Empresa de Pruebas")
    fields.setdefault("rfc", RFC_MORAL)
    r = client.post("/v1/clients", json=fields, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_client_lifecycle(client, dist):
    _, h = dist
    out = _create(client, h, email="a@b.mx", address={"state": "Chiapas"})
    c = out["client"]
    assert out["stamping_account"]["kind"] == "standard" and out["password"]
    assert c["created_at"].endswith("Z")
    got = client.get(f"/v1/clients/{c['id']}", headers=h).json()
    assert got == c
    r = client.patch(
        f"/v1/clients/{c['id']}", json={"trade_name": "Nuevo", "color": "red"}, headers={**h, "If-Match": "1"}
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["color"] == "red"
    r = client.patch(f"/v1/clients/{c['id']}", json={"trade_name": "Viejo"}, headers={**h, "If-Match": "1"})
    assert r.status_code == 412
    body = r.json()
    assert body["code"] == "version_conflict" and body["current"]["trade_name"] == "Nuevo"
    assert r.headers["content-type"].startswith("application/problem+json")


def test_client_validation_is_problem_json_in_spanish(client, dist):
    _, h = dist
    r = client.post("/v1/clients", json={"name": "X", "rfc": "ABC"}, headers=h)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_error" and body["errors"][0]["field"] == "rfc"
    assert "RFC" in body["errors"][0]["message"]
    r = client.post("/v1/clients", json={"rfc": RFC_MORAL}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"


def test_list_filters_sort_and_pages(client, dist):
    _, h = dist
    names = ["Beta", "alfa", "Gamma", "delta"]
    ids = [_create(client, h, name=n)["client"]["id"] for n in names]
    client.post(
        "/v1/clients/tags", json={"client_ids": ids[:2], "favorite": True, "color": "blue"}, headers=h
    )
    r = client.get("/v1/clients", params={"sort": "name", "limit": 3}, headers=h).json()
    assert [c["name"] for c in r["items"]] == ["alfa", "Beta", "delta"]
    r2 = client.get(
        "/v1/clients", params={"sort": "name", "limit": 3, "cursor": r["next_cursor"]}, headers=h
    ).json()
    assert [c["name"] for c in r2["items"]] == ["Gamma"] and r2["next_cursor"] is None
    fav = client.get("/v1/clients", params={"category": "favorites"}, headers=h).json()["items"]
    assert {c["name"] for c in fav} == {"Beta", "alfa"}
    blue = client.get("/v1/clients", params={"color": "blue"}, headers=h).json()["items"]
    assert len(blue) == 2
    assert client.get("/v1/clients", params={"q": "GAM"}, headers=h).json()["items"][0]["name"] == "Gamma"
    assert client.get("/v1/clients", params={"sort": "nope"}, headers=h).status_code == 422
    assert client.get("/v1/clients", params={"cursor": "garbage"}, headers=h).status_code == 422


def test_transfer_and_consume_over_http(client, dist, factory):
    actor, h = dist
    give(factory, actor, Asset.STAMPS, 10)
    out = _create(client, h)
    cti, password = out["stamping_account"]["id"], out["password"]
    body = {
        "asset": "stamps",
        "target": {"type": "stamping_account", "id": cti},
        "quantity": 3,
        "amount_cents": 300,
    }
    r = client.post("/v1/transfers", json=body, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = client.post("/v1/transfers", json=body, headers={**h, **key})
    assert r.status_code == 201
    again = client.post("/v1/transfers", json=body, headers={**h, **key})
    assert again.status_code == 201 and again.json()["id"] == r.json()["id"]
    assert (
        client.post("/v1/transfers", json={**body, "quantity": 4}, headers={**h, **key}).json()["code"]
        == "idempotency_key_reused"
    )
    big = client.post(
        "/v1/transfers", json={**body, "quantity": 100}, headers={**h, "Idempotency-Key": "k-big"}
    )
    assert big.status_code == 409 and big.json()["code"] == "insufficient_balance"
    u = str(uuid.uuid4())
    r = client.post(
        "/v1/stamping/consume", json={"emitter_rfc": RFC_MORAL, "cfdi_uuid": u}, auth=(cti, password)
    )
    assert r.status_code == 200 and r.json() == {"balance": 2, "issued": 1}
    assert client.post(
        "/v1/stamping/consume", json={"emitter_rfc": RFC_MORAL, "cfdi_uuid": u}, auth=(cti, password)
    ).json() == {"balance": 2, "issued": 1}
    assert (
        client.post(
            "/v1/stamping/consume", json={"emitter_rfc": RFC_MORAL, "cfdi_uuid": u}, auth=(cti, "mala")
        ).status_code
        == 401
    )
    assert (
        client.post("/v1/stamping/consume", json={"emitter_rfc": RFC_MORAL, "cfdi_uuid": u}).status_code
        == 401
    )
    client.patch(f"/v1/stamping-accounts/{cti}", json={"active": False}, headers=h)
    r = client.post(
        "/v1/stamping/consume",
        json={"emitter_rfc": RFC_MORAL, "cfdi_uuid": str(uuid.uuid4())},
        auth=(cti, password),
    )
    assert r.status_code == 403 and r.json()["code"] == "account_blocked"
    mv = client.get(
        "/v1/movements", params={"client_id": out["client"]["id"], "invoiced": False}, headers=h
    ).json()
    assert [m["quantity"] for m in mv["items"]] == [3]
    usage = client.get(f"/v1/stamping-accounts/{cti}/usage", params={"days": 7}, headers=h).json()
    assert len(usage["daily"]) == 7 and sum(d["issued"] for d in usage["daily"]) == 1


def test_unlimited_errors_over_http(client, dist, factory):
    from datetime import UTC, datetime, timedelta

    from cmdesk.models import StampingAccount
    from cmdesk.server import db

    _, h = dist
    c = _create(client, h)["client"]
    r = client.post(
        f"/v1/clients/{c['id']}/stamping-accounts",
        json={"kind": "unlimited", "password": "Ilimitada2024", "rfc_restriction": RFC_MORAL},
        headers=h,
    )
    assert r.status_code == 201
    cti = r.json()["id"]
    consume = {"emitter_rfc": RFC_MORAL, "cfdi_uuid": str(uuid.uuid4())}
    assert (
        client.post("/v1/stamping/consume", json=consume, auth=(cti, "Ilimitada2024")).json()["code"]
        == "unlimited_expired"
    )
    with db.transaction(factory) as s:
        s.get(StampingAccount, cti).paid_until = datetime.now(UTC) + timedelta(days=1)
    r = client.post(
        "/v1/stamping/consume", json={**consume, "emitter_rfc": "GODE561231GR8"}, auth=(cti, "Ilimitada2024")
    )
    assert r.status_code == 403 and r.json()["code"] == "rfc_not_allowed"
    assert client.post("/v1/stamping/consume", json=consume, auth=(cti, "Ilimitada2024")).json() == {
        "balance": None,
        "issued": 1,
    }
    dup = client.post(
        f"/v1/clients/{c['id']}/stamping-accounts", json={"id": cti, "password": "Ilimitada2024"}, headers=h
    )
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate"


def test_admin_profile_of_master_is_refused(client, dist):
    _, h = dist
    c = _create(client, h)["client"]
    r = client.put(
        f"/v1/clients/{c['id']}/admin-profile",
        json={"email": "uno@dist.mx", "mobile": "5511111111"},
        headers=h,
    )
    assert r.status_code == 409 and r.json()["code"] == "profile_administers_master_account"


def test_purchase_and_catalog(client, dist):
    _, h = dist
    cat = client.get("/v1/catalog", headers=h).json()
    assert any(p["id"] == "test_stamps_2000" for p in cat["stamp_packages"])
    r = client.post(
        "/v1/purchases",
        json={"package_id": "test_stamps_2000", "quantity": 2},
        headers={**h, "Idempotency-Key": "p1"},
    )
    assert r.status_code == 201 and r.json()["charge_cents"] == 200000
    me = client.get("/v1/me", headers=h).json()
    assert me["balances"]["stamps"] == 4000
    assert (
        client.post(
            "/v1/purchases", json={"package_id": "nope"}, headers={**h, "Idempotency-Key": "p2"}
        ).status_code
        == 404
    )


def test_bulk_transfer_all_or_nothing_over_http(client, dist, factory):
    actor, h = dist
    give(factory, actor, Asset.STAMPS, 5)
    a, b = _create(client, h), _create(client, h)
    items = [
        {
            "asset": "stamps",
            "target": {"type": "stamping_account", "id": a["stamping_account"]["id"]},
            "quantity": 3,
        },
        {
            "asset": "stamps",
            "target": {"type": "stamping_account", "id": b["stamping_account"]["id"]},
            "quantity": 3,
        },
    ]
    r = client.post("/v1/transfers/bulk", json={"items": items}, headers={**h, "Idempotency-Key": "b1"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"].startswith("items[1]")
    items[1]["quantity"] = 2
    r = client.post("/v1/transfers/bulk", json={"items": items}, headers={**h, "Idempotency-Key": "b2"})
    assert r.status_code == 201 and len(r.json()["movements"]) == 2


@pytest.mark.postgres_only
def test_same_idempotency_key_20_times_at_once_applies_once(client, dist, factory):
    actor, h = dist
    give(factory, actor, Asset.STAMPS, 100)
    cti = _create(client, h)["stamping_account"]["id"]
    body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 1}
    barrier = threading.Barrier(20)
    codes: list[int] = []

    def go():
        barrier.wait()
        codes.append(
            client.post("/v1/transfers", json=body, headers={**h, "Idempotency-Key": "same"}).status_code
        )

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(codes) <= {201, 409} and 201 in codes
    stamps = client.get(f"/v1/stamping-accounts/{cti}", headers=h).json()["balance"]
    assert stamps == 1


def test_a_client_refused_while_the_hashing_gate_is_full_is_created_with_the_same_key_later(
    client, dist, monkeypatch
):
    """Creating a client hashes its CTI's password. A full hashing gate answers 503 `server_busy`; that
    answer is not kept for the Idempotency-Key (found by the soak under load: every retry got the kept
    503 and the desktop's command waited forever), so the same key creates the client once the gate
    frees, exactly once."""
    from cmdesk.server import security

    _, h = dist
    headers = {**h, "Idempotency-Key": "alta-1"}
    body = {"name": "Empresa Ocupada", "rfc": RFC_MORAL}
    gate = security.HashingGate(1, queue=0, wait_seconds=0.05)
    monkeypatch.setattr(security, "_gate", gate)  # this process's gate, given back after the test
    with gate:  # the only slot taken, as by another password being hashed
        busy = client.post("/v1/clients", json=body, headers=headers)
    assert busy.status_code == 503 and busy.json()["code"] == "server_busy", busy.text
    assert busy.headers["Retry-After"]
    created = client.post("/v1/clients", json=body, headers=headers)
    assert created.status_code == 201, created.text
    again = client.post("/v1/clients", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == created.json()
    names = [c["name"] for c in client.get("/v1/clients", headers=h).json()["items"]]
    assert names.count("Empresa Ocupada") == 1
