"""HTTP: Herramientas — price packages, users and global settings, with every error they answer."""

from __future__ import annotations

import pytest

from cmdesk.server import db
from cmdesk.server.operations import contracts
from tests.server.helpers import QueuedLinks, make_distributor

PASSWORD = "secreto123"


@pytest.fixture
def dist(factory, client, auth_headers):
    actor = make_distributor(factory, email="uno@dist.mx", mobile="5511111111", password=PASSWORD)
    return actor, auth_headers("uno@dist.mx")


@pytest.fixture
def other(factory, client, auth_headers):
    actor = make_distributor(factory, email="dos@dist.mx", mobile="5522222222", password=PASSWORD)
    return actor, auth_headers("dos@dist.mx")


def _package(client, h, **body):
    body = {"quantity": 100, "price_cents": 50000, **body}
    r = client.post("/v1/price-packages", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_price_packages(client, dist, other, factory):
    actor, h = dist
    _, h2 = other
    small = _package(client, h, quantity=100, price_cents=50000, description="Básico")
    assert small["asset"] == "stamps" and small["unit_price_cents"] == 500 and small["version"] == 1
    big = _package(client, h, quantity=1000, price_cents=400000)
    points = _package(client, h, asset="points", quantity=50, price_cents=5000)
    r = client.post("/v1/price-packages", json={"quantity": 100, "price_cents": 1}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "duplicate"
    r = client.post("/v1/price-packages", json={"quantity": 10, "price_cents": 1, "for_distributors": True}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "feature_not_contracted"
    db.run(factory, contracts.contract, actor, "multinivel")
    for_dist = _package(client, h, quantity=10, price_cents=4000, for_distributors=True)

    items = client.get("/v1/price-packages", headers=h).json()["items"]
    assert [p["id"] for p in items] == [small["id"], big["id"], for_dist["id"], points["id"]]
    assert client.get("/v1/price-packages", params={"asset": "points"}, headers=h).json()["items"] == [points]
    only = client.get("/v1/price-packages", params={"for_distributors": "true"}, headers=h).json()["items"]
    assert only == [for_dist]
    assert client.get("/v1/price-packages", headers=h2).json()["items"] == []
    assert client.get("/v1/price-packages", params={"asset": "oro"}, headers=h).status_code == 422

    r = client.patch(f"/v1/price-packages/{small['id']}", json={"price_cents": 45000}, headers={**h, "If-Match": "1"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["unit_price_cents"] == 450
    r = client.patch(f"/v1/price-packages/{small['id']}", json={"price_cents": 1}, headers={**h, "If-Match": "1"})
    assert r.status_code == 412 and r.json()["code"] == "version_conflict"
    assert r.json()["current"]["price_cents"] == 45000 and r.json()["current"]["version"] == 2
    r = client.patch(f"/v1/price-packages/{small['id']}", json={"quantity": 1000}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "duplicate"
    r = client.patch(f"/v1/price-packages/{small['id']}", json={"quantity": 0}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
    r = client.patch(f"/v1/price-packages/{small['id']}", json={"quantity": None}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
    r = client.patch(f"/v1/price-packages/{small['id']}", json={"nombre": "x"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "nombre", "message": "Este campo no se admite."}
    r = client.patch(f"/v1/price-packages/{small['id']}", json={"price_cents": 1}, headers={**h, "If-Match": "abc"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "If-Match"
    assert client.patch(f"/v1/price-packages/{small['id']}", json={"price_cents": 1}, headers=h2).status_code == 404
    assert client.delete(f"/v1/price-packages/{small['id']}", headers=h2).status_code == 404
    r = client.delete(f"/v1/price-packages/{small['id']}", headers={**h, "If-Match": "1"})
    assert r.status_code == 412 and r.json()["current"]["id"] == small["id"]
    r = client.delete(f"/v1/price-packages/{small['id']}", headers={**h, "If-Match": "2"})
    assert r.status_code == 204 and r.content == b""
    assert client.delete(f"/v1/price-packages/{small['id']}", headers=h).status_code == 404


def test_settings_and_the_panel_rule(client, dist, other):
    _, h = dist
    _, h2 = other
    s = client.get("/v1/settings", headers=h).json()
    assert s["version"] == 1 and s["allow_panel_stamp_purchase"] is False and s["master_profile_id"]
    assert client.get("/v1/settings", headers=h2).json()["id"] != s["id"]
    r = client.patch("/v1/settings", json={"allow_panel_stamp_purchase": True}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "allow_panel_stamp_purchase"
    assert "paquete" in r.json()["errors"][0]["message"]
    r = client.patch("/v1/settings", json={"bulk_stamp_price_cents": -5}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bulk_stamp_price_cents"
    package = _package(client, h)
    body = {"allow_panel_stamp_purchase": True, "auto_stamp_purchase": True, "bulk_stamp_price_cents": 90}
    r = client.patch("/v1/settings", json=body, headers={**h, "If-Match": str(s["version"])})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["version"] == 2 and new["bulk_stamp_price_cents"] == 90 and new["allow_panel_stamp_purchase"]
    r = client.patch("/v1/settings", json={"bulk_stamp_price_cents": 1}, headers={**h, "If-Match": "1"})
    assert r.status_code == 412 and r.json()["current"] == new
    # The last stamps package can't go while the panel sells stamps.
    r = client.delete(f"/v1/price-packages/{package['id']}", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state_transition"
    r = client.patch("/v1/settings", json={"auto_stamp_purchase": False}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "auto_stamp_purchase"
    assert client.get("/v1/settings", headers=h).json() == new


def test_users(client, factory, dist, other, auth_headers):
    actor, h = dist
    other_actor, h2 = other
    users = client.get("/v1/users", headers=h).json()["items"]
    assert len(users) == 1 and users[0]["is_master"] and users[0]["role"] == "master"
    master_id = users[0]["id"]
    r = client.post("/v1/users", json={"email": "nueva@dist.mx", "mobile": "5533333333", "name": "Ana"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["user"]["role"] == "operator" and r.json()["user"]["member_since"] is None
    token = QueuedLinks(factory, "invitation")[-1][1]
    r = client.post("/v1/public/invitations/accept", json={"token": token, "password": "ClaveNueva2026"})
    assert r.status_code == 200, r.text
    new_id = r.json()["profile"]["id"]
    r = client.post("/v1/users", json={"email": "nueva@dist.mx", "mobile": "5533333333"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "duplicate"
    r = client.post("/v1/users", json={"email": "no-es-correo", "mobile": "5533333333"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
    r = client.post("/v1/users", json={"email": "x@dist.mx"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "mobile", "message": "Este campo es obligatorio."}

    # The other distributor's master is invited here too; once she accepts she can sign in to this account.
    r = client.post("/v1/users", json={"email": "dos@dist.mx", "mobile": "5522222222"}, headers=h)
    assert r.status_code == 201 and r.json()["user"]["member_since"] is None
    token = QueuedLinks(factory, "invitation")[-1][1]
    assert client.post("/v1/public/invitations/accept", json={"token": token}).status_code == 200
    guest = auth_headers("dos@dist.mx", account_id=actor.account_id)
    assert client.get("/v1/settings", headers=guest).status_code == 200
    listed = client.get("/v1/users", headers=h).json()["items"]
    assert listed[0]["id"] == master_id and len(listed) == 3
    assert client.get("/v1/users", params={"limit": 1}, headers=h).json()["next_cursor"]

    assert client.delete(f"/v1/users/{new_id}", headers=h2).status_code == 404
    r = client.delete(f"/v1/users/{master_id}", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state_transition"
    assert client.delete(f"/v1/users/{new_id}", headers=h).status_code == 204
    assert client.delete(f"/v1/users/{new_id}", headers=h).status_code == 404
    # Removing the guest ends its session in this account at once, not in its own.
    assert client.delete(f"/v1/users/{other_actor.profile_id}", headers=h).status_code == 204
    assert client.get("/v1/settings", headers=guest).status_code == 401
    assert client.get("/v1/settings", headers=h2).status_code == 200
