"""Over real HTTP, with several uvicorn workers on PostgreSQL: no overdraft, no double application."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cmdesk.domain.enums import Asset
from tests.server.helpers import give, make_client, make_distributor, server_on_new_database


@pytest.fixture
def server(pg_url, tmp_path):
    with server_on_new_database(pg_url, tmp_path, workers=3) as running:
        yield running


def test_50_consumptions_over_http_on_30_stamps(server):
    proc, factory = server
    actor = make_distributor(factory, email="mw@dist.mx", mobile="5522222222", password="secreto123")
    give(factory, actor, Asset.STAMPS, 30)
    made = make_client(factory, actor)
    cti, password = made["stamping_account"]["id"], made["password"]
    token = requests.post(f"{proc.url}/v1/auth/token", json={"login": "mw@dist.mx", "password": "secreto123"}, timeout=30).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 30}
    r = requests.post(f"{proc.url}/v1/transfers", json=body, headers={**bearer, "Idempotency-Key": "fill"}, timeout=30)
    assert r.status_code == 201, r.text
    _, cursor = _feed(proc.url, bearer, None)

    def consume(_):
        return requests.post(
            f"{proc.url}/v1/stamping/consume",
            json={"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())},
            auth=(cti, password),
            timeout=60,
        )

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(consume, range(50)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == 30, [a.text for a in answers if a.status_code not in (200, 409)]
    assert codes.count(409) == 20
    assert all(a.json()["code"] == "insufficient_balance" for a in answers if a.status_code == 409)
    state = requests.get(f"{proc.url}/v1/stamping-accounts/{cti}", headers=bearer, timeout=30).json()
    assert state["balance"] == 0 and state["issued"] == 30
    changes, _ = _feed(proc.url, bearer, cursor)
    cti_changes = [c for c in changes if c["entity"] == "stamping_account" and c["id"] == cti]
    assert cti_changes and cti_changes[-1]["data"]["balance"] == 0


def test_same_key_20_times_at_once_applies_once(server):
    proc, factory = server
    actor = make_distributor(factory, email="mw2@dist.mx", mobile="5533333333", password="secreto123")
    give(factory, actor, Asset.STAMPS, 100)
    cti = make_client(factory, actor)["stamping_account"]["id"]
    token = requests.post(f"{proc.url}/v1/auth/token", json={"login": "mw2@dist.mx", "password": "secreto123"}, timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "once-" + uuid.uuid4().hex}
    body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 7}

    def send(_):
        return requests.post(f"{proc.url}/v1/transfers", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(send, range(20)))
    ok = [a for a in answers if a.status_code == 201]
    busy = [a for a in answers if a.status_code == 409]
    assert len(ok) + len(busy) == 20 and ok
    assert {a.json()["id"] for a in ok} == {ok[0].json()["id"]}
    assert all(a.json()["code"] == "idempotency_key_in_progress" for a in busy)
    state = requests.get(f"{proc.url}/v1/stamping-accounts/{cti}", headers={"Authorization": headers["Authorization"]}, timeout=30).json()
    assert state["balance"] == 7
    replay = send(0)
    assert replay.status_code == 201 and replay.json()["id"] == ok[0].json()["id"]


def _feed(url, headers, cursor):
    out = []
    while True:
        params = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = requests.get(f"{url}/v1/sync/changes", params=params, headers=headers, timeout=30).json()
        out.extend(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return out, cursor
