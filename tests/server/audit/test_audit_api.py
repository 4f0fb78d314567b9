"""`GET /v1/audit` and `GET /v1/audit/{id}`: filters by entity, history of one entity, profile and
period; keyset pages that neither skip nor repeat; a sub-distributor's bitácora for its parent (and
nobody else's); the detail with every change and subject."""

from __future__ import annotations

import uuid

import pytest

from cmdesk.domain.enums import Asset
from cmdesk.server import db
from cmdesk.server.api.audit import AuditList, AuditRecordDetail
from cmdesk.server.operations import contracts
from tests.server.helpers import RFC_MORAL, QueuedLinks, give, make_distributor

PASSWORD = "secreto123"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@pytest.fixture
def world(client, factory, auth_headers, app):
    """A distributor with a client's history, a second user, and a sub-distributor with its own log."""
    sent = QueuedLinks(factory)  # the confirmation links in the mail queue
    actor = make_distributor(factory, email="lee@dist.mx", mobile="5572000001", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    give(factory, actor, Asset.STAMPS, 100)
    h = auth_headers("lee@dist.mx")
    made = client.post("/v1/clients", json={"name": "Omega", "rfc": RFC_MORAL}, headers=h).json()
    cid, cti = made["client"]["id"], made["stamping_account"]["id"]
    client.patch(f"/v1/clients/{cid}", json={"name": "Omega SA"}, headers=h)
    client.post("/v1/clients", json={"name": "Otro", "rfc": RFC_MORAL}, headers=h)
    transfer = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 3}
    client.post("/v1/transfers", json=transfer, headers={**h, **_key()})
    client.patch(f"/v1/stamping-accounts/{cti}", json={"active": False}, headers=h)
    # A second user of the account acts too.
    client.post("/v1/users", json={"email": "ayudante@dist.mx", "mobile": "5572000002"}, headers=h)
    token = QueuedLinks(factory, "invitation")[-1][1]
    accepted = client.post("/v1/public/invitations/accept", json={"token": token, "password": PASSWORD})
    helper_id = accepted.json()["profile"]["id"]
    h2 = auth_headers("ayudante@dist.mx", account_id=actor.account_id)
    client.post(f"/v1/clients/{cid}/interactions", json={"text": "Visita"}, headers=h2)
    # A sub-distributor, confirmed and active, that makes a client of its own.
    sub = client.post(
        "/v1/distributors",
        json={"email": "hija@sub.mx", "mobile": "3372000001", "name": "Hija", "rfc": RFC_MORAL},
        headers=h,
    ).json()["distributor"]["id"]
    client.post("/v1/public/registrations/confirm", json={"token": sent[-1][1], "password": "HijaClave2026"})
    client.post(f"/v1/distributors/{sub}/activate", headers=h)
    hs = auth_headers("hija@sub.mx", "HijaClave2026")
    client.post("/v1/clients", json={"name": "Nieto", "rfc": RFC_MORAL}, headers=hs)
    return {"h": h, "h2": h2, "hs": hs, "actor": actor, "helper": helper_id, "cid": cid, "cti": cti, "sub": sub}


def _all(client, headers, **params):
    out, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/audit", params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = AuditList.model_validate(r.json())
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out


def test_pages_newest_first_without_gaps(client, world):
    h = world["h"]
    everything = _all(client, h, limit=1000)
    actions = [r.action for r in everything]
    assert actions[-1] == "client.create" and "distributor.activate" in actions
    times = [(r.created_at, r.id) for r in everything]
    assert times == sorted(times, reverse=True)
    paged = _all(client, h, limit=2)
    assert [r.id for r in paged] == [r.id for r in everything]
    # The sub-distributor's own operations are in its bitácora, not in its parent's.
    assert "Nieto" not in str([r.after for r in everything])
    assert {r.account_id for r in everything} == {world["actor"].account_id}
    r = client.get("/v1/audit", params={"cursor": "no-es-un-cursor"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"


def test_history_of_one_client_and_one_cti(client, world):
    h, cid, cti = world["h"], world["cid"], world["cti"]
    history = _all(client, h, entity="client", entity_id=cid)
    assert [r.action for r in history] == [
        "interaction.create",
        "stamping_account.state",
        "ledger.transfer",
        "client.update",
        "client.create",
    ]
    cti_history = _all(client, h, entity="stamping_account", entity_id=cti)
    assert [r.action for r in cti_history] == ["stamping_account.state", "ledger.transfer", "client.create"]
    blocked = cti_history[0]
    assert (blocked.entity, blocked.entity_id) == ("stamping_account", cti)
    assert blocked.before == {"active": True} and blocked.after == {"active": False}
    # The type alone: records whose main entity is a client.
    main = _all(client, h, entity="client")
    assert {r.action for r in main} == {"client.create", "client.update"} and len(main) == 3
    r = client.get("/v1/audit", params={"entity_id": cid}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "entity"


def test_by_profile_and_period(client, world):
    h = world["h"]
    by_helper = _all(client, h, profile_id=world["helper"])
    assert [r.action for r in by_helper] == ["interaction.create"]
    assert by_helper[0].profile is not None and by_helper[0].profile.email == "ayudante@dist.mx"
    everything = _all(client, h)
    middle = sorted(everything, key=lambda r: (r.created_at, r.id))[3]
    since = middle.created_at
    later = _all(client, h, **{"from": since.isoformat()})
    assert later and all(r.created_at >= since for r in later)
    earlier = _all(client, h, to=since.isoformat())
    assert {r.id for r in earlier} | {r.id for r in later} == {r.id for r in everything}
    assert not {r.id for r in earlier} & {r.id for r in later}
    r = client.get("/v1/audit", params={"from": since.isoformat(), "to": since.isoformat()}, headers=h)
    assert r.status_code == 422


def test_by_action_every_page_and_with_the_other_filters(client, world):
    h, cid = world["h"], world["cid"]
    everything = _all(client, h, limit=1000)
    creates = _all(client, h, action="client.create", limit=1)  # one per page: the filter is in SQL
    assert [r.id for r in creates] == [r.id for r in everything if r.action == "client.create"]
    assert len(creates) == 2 and all(r.action_label for r in creates)
    # With a client's history, and with the profile: only that action of those records.
    history = _all(client, h, entity="client", entity_id=cid, action="ledger.transfer")
    assert [r.action for r in history] == ["ledger.transfer"]
    assert _all(client, h, action="interaction.create", profile_id=world["helper"])
    assert _all(client, h, action="client.update", profile_id=world["helper"]) == []
    # An action never done, or no action at all, reads empty; a name too long is a 422.
    assert _all(client, h, action="price_package.update") == []
    assert _all(client, h, action="no.existe") == []
    r = client.get("/v1/audit", params={"action": "x" * 61}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "action"


def test_a_parent_reads_its_sub_distributors_bitacora_and_nobody_else_does(client, factory, world, auth_headers):
    h, hs, sub = world["h"], world["hs"], world["sub"]
    own = _all(client, hs)
    assert [r.action for r in own] == ["client.create"] and own[0].account_id == sub
    assert [r.id for r in _all(client, h, account_id=sub)] == [r.id for r in own]
    # The sub-distributor can't read its parent's, and a stranger reads neither.
    r = client.get("/v1/audit", params={"account_id": world["actor"].account_id}, headers=hs)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    make_distributor(factory, email="ajeno@dist.mx", mobile="5572000009", password=PASSWORD)
    stranger = auth_headers("ajeno@dist.mx")
    assert client.get("/v1/audit", params={"account_id": sub}, headers=stranger).status_code == 404
    assert client.get("/v1/audit", headers=stranger).json()["items"] == []
    rid = own[0].id
    assert client.get(f"/v1/audit/{rid}", headers=stranger).status_code == 404
    assert client.get(f"/v1/audit/{rid}", headers=h).status_code == 404  # not in the parent's own log
    assert client.get(f"/v1/audit/{rid}", params={"account_id": sub}, headers=h).status_code == 200


def test_the_detail_has_every_change_and_subject(client, world):
    h, cid, cti = world["h"], world["cid"], world["cti"]
    [transfer] = [r for r in _all(client, h) if r.action == "ledger.transfer"]
    assert transfer.changes_count == 2 and transfer.action_label == "Transferencia"
    r = client.get(f"/v1/audit/{transfer.id}", headers=h)
    assert r.status_code == 200
    detail = AuditRecordDetail.model_validate(r.json())
    assert {(c.entity, c.op) for c in detail.changes} == {("account", "update"), ("stamping_account", "update")}
    subjects = {(s.entity, s.id) for s in detail.subjects}
    assert {("movement", transfer.entity_id), ("stamping_account", cti), ("client", cid)} <= subjects
    assert client.get("/v1/audit/999999999", headers=h).status_code == 404
