"""HTTP: a client's interactions and support policies, addressed under the client."""

from __future__ import annotations

import pytest

from tests.server.helpers import make_client, make_distributor

PASSWORD = "secreto123"


@pytest.fixture
def dist(factory, client, auth_headers):
    actor = make_distributor(factory, email="uno@dist.mx", mobile="5511111111", password=PASSWORD, name="Uno")
    return actor, auth_headers("uno@dist.mx")


@pytest.fixture
def other(factory, client, auth_headers):
    actor = make_distributor(factory, email="dos@dist.mx", mobile="5522222222", password=PASSWORD)
    return actor, auth_headers("dos@dist.mx")


def test_interactions(client, dist, other, factory):
    actor, h = dist
    _, h2 = other
    c = make_client(factory, actor)["client"]["id"]
    c2 = make_client(factory, actor)["client"]["id"]
    base = f"/v1/clients/{c}/interactions"
    r = client.post(base, json={"text": "Llamó para pedir una cotización."}, headers=h)
    assert r.status_code == 201, r.text
    recent = r.json()
    assert recent["client_id"] == c and recent["author"] and recent["occurred_at"].endswith("Z")
    old = client.post(base, json={"text": "Visita", "occurred_at": "2024-03-01T10:00:00-06:00"}, headers=h).json()
    assert old["occurred_at"] == "2024-03-01T16:00:00Z"
    items = client.get(base, headers=h).json()["items"]
    assert [i["id"] for i in items] == [recent["id"], old["id"]]
    page = client.get(base, params={"limit": 1}, headers=h).json()
    assert [i["id"] for i in page["items"]] == [recent["id"]] and page["next_cursor"]

    r = client.post(base, json={"text": "   "}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "text"
    r = client.post(base, json={"text": "x", "occurred_at": "2024-03-01T10:00:00"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "occurred_at"
    r = client.post(base, json={"text": "x", "occurred_at": "ayer"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "occurred_at"
    r = client.post(base, json={}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "text", "message": "Este campo es obligatorio."}

    # Another distributor: the client does not exist for it.
    assert client.get(base, headers=h2).status_code == 404
    assert client.post(base, json={"text": "x"}, headers=h2).status_code == 404
    assert client.delete(f"{base}/{old['id']}", headers=h2).status_code == 404
    # Under another client of the same account, the note is not found either.
    assert client.delete(f"/v1/clients/{c2}/interactions/{old['id']}", headers=h).status_code == 404
    assert client.delete(f"{base}/{old['id']}", headers=h).status_code == 204
    assert client.delete(f"{base}/{old['id']}", headers=h).status_code == 404
    assert [i["id"] for i in client.get(base, headers=h).json()["items"]] == [recent["id"]]
    assert client.get("/v1/clients/nope/interactions", headers=h).status_code == 404


def test_policies(client, dist, other, factory):
    actor, h = dist
    _, h2 = other
    c = make_client(factory, actor)["client"]["id"]
    c2 = make_client(factory, actor)["client"]["id"]
    base = f"/v1/clients/{c}/policies"
    body = {"product": "MaxiComercio ERP", "starts_on": "2025-01-01", "ends_on": "2025-12-31", "reference": "P-1"}
    r = client.post(base, json=body, headers=h)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["starts_on"] == "2025-01-01" and p["version"] == 1 and p["client_id"] == c
    later = client.post(base, json={**body, "product": "Dóminus", "ends_on": "2026-06-30"}, headers=h).json()
    assert [x["id"] for x in client.get(base, headers=h).json()["items"]] == [later["id"], p["id"]]

    r = client.post(base, json={**body, "ends_on": "2024-12-31"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_on"
    r = client.post(base, json={**body, "starts_on": "el lunes"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "starts_on"
    r = client.post(base, json={**body, "product": ""}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "product"

    url = f"{base}/{p['id']}"
    r = client.patch(url, json={"ends_on": "2026-01-31"}, headers={**h, "If-Match": "1"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["ends_on"] == "2026-01-31"
    r = client.patch(url, json={"reference": "P-2"}, headers={**h, "If-Match": "1"})
    assert r.status_code == 412 and r.json()["code"] == "version_conflict"
    assert r.json()["current"]["ends_on"] == "2026-01-31"
    r = client.patch(url, json={"starts_on": "2027-01-01"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_on"
    r = client.patch(url, json={"product": None}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "product"
    assert client.patch(url, json={"reference": "x"}, headers=h2).status_code == 404
    assert client.patch(f"/v1/clients/{c2}/policies/{p['id']}", json={"reference": "x"}, headers=h).status_code == 404
    assert client.delete(url, headers=h2).status_code == 404
    r = client.delete(url, headers={**h, "If-Match": "1"})
    assert r.status_code == 412
    assert client.delete(url, headers={**h, "If-Match": "2"}).status_code == 204
    assert client.delete(url, headers=h).status_code == 404
    assert client.get(base, headers=h2).status_code == 404
