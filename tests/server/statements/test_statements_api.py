"""HTTP: the three statements — their shape (exactly the documented one), names of counterparts and
authors, pages that carry the running balance, the default period, and the errors."""

from __future__ import annotations

import datetime as dt
import uuid

from cmdesk.domain import statements as st
from cmdesk.domain.enums import Asset
from cmdesk.models import utcnow
from cmdesk.server import db
from cmdesk.server.api.statements import Statement
from tests.server.api.test_distributors_api import _same_keys
from tests.server.helpers import RFC_MORAL, give, make_client, make_distributor

PASSWORD = "secreto123"


def conforms(model, data):
    """The answer is exactly the documented model: it validates and has no other field."""
    _same_keys(model.model_validate(data).model_dump(mode="json", by_alias=True), data)
    return data


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_a_client_statement_over_http(client, factory, auth_headers):
    actor = make_distributor(factory, name="Distribuidora Sur", email="edo@dist.mx", mobile="5573000001",
                             password=PASSWORD, profile_name="Ana Gómez")
    give(factory, actor, Asset.STAMPS, 100)
    h = auth_headers("edo@dist.mx")
    made = client.post("/v1/clients", json={"name": "Cliente Norte", "rfc": RFC_MORAL}, headers=h).json()
    cid, cti = made["client"]["id"], made["stamping_account"]["id"]
    for q in (5, 7, 9):
        body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": q,
                "amount_cents": q * 116, "comments": f"venta de {q}"}
        assert client.post("/v1/transfers", json=body, headers={**h, **_key()}).status_code == 201
    for _ in range(4):
        r = client.post("/v1/stamping/consume", json={"emitter_rfc": RFC_MORAL, "cfdi_uuid": str(uuid.uuid4())},
                        auth=(cti, made["password"]))
        assert r.status_code == 200

    r = client.get(f"/v1/statements/clients/{cid}", params={"asset": "stamps", "limit": 2}, headers=h)
    assert r.status_code == 200, r.text
    first = conforms(Statement, r.json())
    today = st.local_day(utcnow())
    assert first["from"] == today.replace(day=1).isoformat() and first["to"] == today.isoformat()
    assert first["party"] == {"type": "client", "id": cid, "name": "Cliente Norte"}
    assert (first["opening_balance"], first["closing_balance"], first["live_balance"]) == (0, 17, 17)
    assert first["count"] == 4 and len(first["items"]) == 2 and first["next_cursor"]
    row = first["items"][0]
    assert row["kind"] == "transfer" and row["kind_label"] == "Transferencia" and row["delta"] == 5
    assert row["counterpart"] == {"type": "account", "id": actor.account_id, "name": "Distribuidora Sur"}
    assert row["created_by_name"] == "Ana Gómez" and row["comments"] == "venta de 5"
    assert row["stamping_account_id"] == cti and row["amount_cents"] == 580 and row["balance"] == 5
    r = client.get(f"/v1/statements/clients/{cid}", params={"asset": "stamps", "limit": 2,
                                                             "cursor": first["next_cursor"]}, headers=h)
    second = conforms(Statement, r.json())
    assert second["next_cursor"] is None and [i["balance"] for i in second["items"]] == [21, 17]
    issued = second["items"][-1]
    assert issued["kind"] == "issued" and issued["quantity"] == 4 and issued["delta"] == -4
    assert issued["counterpart"] == {"type": "issued", "id": cti, "name": ""}
    assert issued["ref"] == f"d:{today.isoformat()}:{cti}"

    cti_statement = conforms(Statement, client.get(f"/v1/statements/stamping-accounts/{cti}", headers=h).json())
    assert [i["ref"] for i in cti_statement["items"]] == [i["ref"] for i in first["items"] + second["items"]]
    account = conforms(Statement, client.get("/v1/statements/account", params={"asset": "stamps"}, headers=h).json())
    assert [i["delta"] for i in account["items"]] == [100, -5, -7, -9]
    assert account["items"][0]["counterpart"]["name"] == "Paquete de 1 timbre"
    money = conforms(Statement, client.get("/v1/statements/account", params={"asset": "money"}, headers=h).json())
    assert money["closing_balance"] == 100 * 50 and money["items"][0]["kind"] == "purchase"

    # A past period: the closing balance is what it was then, not the live one.
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    old = client.get(f"/v1/statements/clients/{cid}", params={"asset": "stamps", "from": yesterday,
                                                               "to": yesterday}, headers=h).json()
    assert (old["opening_balance"], old["closing_balance"], old["items"]) == (0, 0, [])


def test_statement_errors(client, factory, auth_headers):
    actor = make_distributor(factory, email="err@dist.mx", mobile="5573000002", password=PASSWORD)
    made = make_client(factory, actor)
    other = make_distributor(factory, email="otro@dist.mx", mobile="5573000003", password=PASSWORD)
    theirs = make_client(factory, other)
    h = auth_headers("err@dist.mx")
    cases = [
        (f"/v1/statements/clients/{theirs['client']['id']}", {}, 404, "not_found"),
        (f"/v1/statements/stamping-accounts/{theirs['stamping_account']['id']}", {}, 404, "not_found"),
        (f"/v1/statements/clients/{made['client']['id']}", {"asset": "money"}, 422, "asset"),
        ("/v1/statements/account", {"from": "2026-03-02", "to": "2026-03-01"}, 422, "to"),
        ("/v1/statements/account", {"from": "2000-01-01", "to": "2026-03-01"}, 422, "from"),
        ("/v1/statements/account", {"cursor": "xyz"}, 422, "cursor"),
    ]
    for path, params, status, what in cases:
        r = client.get(path, params=params, headers=h)
        assert r.status_code == status, (path, r.text)
        body = r.json()
        assert body["code"] == what if status == 404 else body["errors"][0]["field"] == what, body


def test_the_feed_carries_what_an_offline_statement_needs(client, factory, auth_headers):
    """A sub-distributor's desktop has neither its parent's name nor its parent's users in its cache:
    the feed's movements name them (additive fields; the API.md ones are unchanged)."""
    from cmdesk.server.operations import accounts, contracts

    parent = make_distributor(factory, name="Matriz", email="matriz@dist.mx", mobile="5575000001",
                              password=PASSWORD, profile_name="Laura Ruiz")
    db.run(factory, contracts.contract, parent, "multinivel")
    give(factory, parent, Asset.STAMPS, 50)
    with db.transaction(factory) as s:
        sub = accounts.create_distributor(s, name="Sucursal", email="suc@dist.mx", mobile="5575000002",
                                          password=PASSWORD, parent_id=parent.account_id)
    h = auth_headers("matriz@dist.mx")
    body = {"asset": "stamps", "target": {"type": "account", "id": sub["account"]["id"]}, "quantity": 9}
    assert client.post("/v1/transfers", json=body, headers={**h, **_key()}).status_code == 201
    changes = client.get("/v1/sync/changes", params={"limit": 1000}, headers=auth_headers("suc@dist.mx")).json()
    [movement] = [c["data"] for c in changes["changes"] if c["entity"] == "movement"]
    assert movement["source"] == {"type": "account", "id": parent.account_id, "name": "Matriz"}
    assert movement["target"]["name"] == "Sucursal" and movement["created_by_name"] == "Laura Ruiz"
    mine = client.get("/v1/sync/changes", params={"limit": 1000}, headers=h).json()
    purchase = [c["data"] for c in mine["changes"] if c["entity"] == "movement" and c["data"]["kind"] == "purchase"]
    assert purchase[0]["source"]["name"] == "Paquete de 1 timbre"
    # The statement the desktop will build from these rows is the server's.
    entry = st.movement_entry(movement, [("account", sub["account"]["id"])])
    assert entry is not None and (entry.delta, entry.counterpart_name, entry.created_by_name) == (9, "Matriz", "Laura Ruiz")
