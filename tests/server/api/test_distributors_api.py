"""HTTP: sub-distributors — creation, the confirmation e-mail (never in an answer), every state button,
renewal with Idempotency-Key, client conversion, lists, and every error code they produce."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import TypeAdapter
from sqlalchemy import update

from cmdesk.models import Account, utcnow
from cmdesk.server import db
from cmdesk.server.api import schemas_distributors as sd
from cmdesk.server.operations import contracts, distributors
from tests.server.helpers import RFC_MORAL, QueuedLinks, make_client, make_distributor

PASSWORD = "secreto123"
CHILD_PASSWORD = "Distribuye2026"


@pytest.fixture
def outbox(factory):
    """The confirmation mails queued: (email, token) pairs, as the inbox would show them."""
    return QueuedLinks(factory)


@pytest.fixture
def parent(factory, client, auth_headers):
    actor = make_distributor(factory, email="padre@dist.mx", mobile="5511111111", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    return actor, auth_headers("padre@dist.mx")


def _new(client, headers, n: int = 1, **fields):
    body = {"email": f"hijo{n}@sub.mx", "mobile": f"33000000{n:02d}", "name": f"Sub {n}", "rfc": RFC_MORAL, **fields}
    r = client.post("/v1/distributors", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _same_keys(documented, sent, where="answer"):
    if isinstance(sent, dict):
        assert set(sent) == set(documented), (where, set(sent) ^ set(documented))
        for k in sent:
            _same_keys(documented[k], sent[k], f"{where}.{k}")
    elif isinstance(sent, list):
        for i, (d, v) in enumerate(zip(documented, sent, strict=True)):
            _same_keys(d, v, f"{where}[{i}]")


def conforms(model, data):
    """The answer is exactly what the OpenAPI model documents: it validates and has no other fields."""
    documented = TypeAdapter(model).validate_python(data)
    _same_keys(TypeAdapter(model).dump_python(documented, mode="json"), data)
    return data


def test_create_confirm_and_every_state_button(client, parent, outbox):
    _, h = parent
    out = conforms(sd.DistributorCreated, _new(client, h, trade_name="Solo Tec", state="Chiapas", postal_code="29000", profile_name="Ana"))
    d = out["distributor"]
    assert out["confirmation_sent"] is True and "confirmation_token" not in out
    assert d["status"] == "unvalidated" and d["status_label"] == "Sin validar"
    assert d["address"]["state"] == "Chiapas" and d["trade_name"] == "Solo Tec"
    assert d["admin_profile"]["email"] == "hijo1@sub.mx" and d["admin_profile"]["email_confirmed"] is False
    assert out["profile"]["name"] == "Ana" and d["created_at"].endswith("Z")
    assert [e for e, _ in outbox] == ["hijo1@sub.mx"]
    token = outbox[0][1]
    assert token not in str(out)

    assert client.get(f"/v1/distributors/{d['id']}", headers=h).json() == d
    r = client.post(f"/v1/distributors/{d['id']}/activate", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state_transition"

    r = client.post("/v1/public/registrations/confirm", json={"token": token, "password": CHILD_PASSWORD})
    assert r.status_code == 200 and conforms(sd.Confirmation, r.json())["confirmed_account_ids"] == [d["id"]]
    assert client.get(f"/v1/distributors/{d['id']}", headers=h).json()["status"] == "inactive"

    steps = [
        ("activate", "active"), ("suspend", "suspended"), ("activate", "active"),
        ("cancel", "cancelled"), ("activate", "active"),
    ]
    for action, status in steps:
        r = client.post(f"/v1/distributors/{d['id']}/{action}", headers=h)
        assert r.status_code == 200, r.text
        assert conforms(sd.Distributor, r.json())["status"] == status
        if status == "cancelled":
            assert r.json()["purge_at"] is not None
    r = client.post(f"/v1/distributors/{d['id']}/suspend", headers=h)
    r = client.post(f"/v1/distributors/{d['id']}/suspend", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state_transition"
    r = client.post(f"/v1/distributors/{d['id']}/renew", headers={**h, **_key()})
    assert r.status_code == 409 and r.json()["code"] == "invalid_state_transition"
    r = client.post(f"/v1/distributors/{d['id']}/renew", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"

    # The administrator of the new account signs in with the password it chose, unless suspended.
    login = {"login": "hijo1@sub.mx", "password": CHILD_PASSWORD}
    r = client.post("/v1/auth/token", json=login)
    assert r.status_code == 403 and r.json()["code"] == "account_blocked"
    assert client.post(f"/v1/distributors/{d['id']}/activate", headers=h).json()["status"] == "active"
    assert client.post("/v1/auth/token", json=login).status_code == 200


def test_the_answer_is_the_same_whether_the_person_has_a_profile(client, parent, outbox, factory):
    """Issue 15: an existing profile (here confirmed, with another name) changes nothing in what the
    parent sees — the same fields, state and mail — until its owner confirms from the e-mail."""
    _, h = parent
    make_distributor(factory, email="otro@dist.mx", mobile="5522222222", name="Otra Persona")
    fresh = _new(client, h, 1)
    out = _new(client, h, 2, email="otro@dist.mx", mobile="5522222222")

    def shape(answer):
        d = answer["distributor"]
        return (
            answer["confirmation_sent"],
            d["status"],
            sorted(answer["profile"]),
            sorted(d),
            sorted(d["admin_profile"]),
            d["admin_profile"]["email_confirmed"],
            (d["confirmation_mail"] or {}).get("status"),
        )

    assert shape(out) == shape(fresh) and out["confirmation_sent"] is True
    assert out["distributor"]["admin_profile"]["name"] == "Sub 2"  # what was typed, not the profile's
    assert [email for email, _token in outbox] == ["hijo1@sub.mx", "otro@dist.mx"]
    listed = {d["id"]: d for d in client.get("/v1/distributors", headers=h).json()["items"]}
    assert shape({**out, "distributor": listed[out["distributor"]["id"]]}) == shape(
        {**fresh, "distributor": listed[fresh["distributor"]["id"]]}
    )
    r = client.post(f"/v1/distributors/{out['distributor']['id']}/resend-confirmation", headers=h)
    assert r.status_code == 200 and r.json()["confirmation_sent"] is True
    # The owner confirms (no password to choose): the account moves on, its master is that profile.
    token = outbox[-1][1]
    r = client.post("/v1/public/registrations/confirm", json={"token": token})
    assert r.status_code == 200, r.text
    d = client.get(f"/v1/distributors/{out['distributor']['id']}", headers=h).json()
    assert d["status"] == "inactive" and d["admin_profile"]["name"] == "Otra Persona"


def test_resend_confirmation_sends_a_new_link(client, parent, outbox):
    _, h = parent
    d = _new(client, h)["distributor"]
    r = client.post(f"/v1/distributors/{d['id']}/resend-confirmation", headers=h)
    assert r.status_code == 200 and conforms(sd.ConfirmationResent, r.json())["confirmation_sent"] is True
    assert r.json()["distributor"]["id"] == d["id"]
    assert len(outbox) == 2 and outbox[0][1] != outbox[1][1]
    assert client.post("/v1/public/registrations/confirm", json={"token": outbox[1][1], "password": CHILD_PASSWORD}).status_code == 200


def test_the_mail_is_queued_with_the_creation_and_never_shows_the_link(client, parent, factory, caplog):
    _, h = parent
    with caplog.at_level("DEBUG"):
        out = _new(client, h)
    d = out["distributor"]
    assert out["confirmation_sent"] is True
    mail = d["confirmation_mail"]
    assert mail["kind"] == "confirm_email" and mail["to"] == "hijo1@sub.mx" and mail["status"] == "queued"
    assert mail["status_label"] == "En cola" and mail["sent_at"] is None and mail["last_error"] is None
    token = QueuedLinks(factory)[0][1]
    assert token not in caplog.text and token not in str(out)


def test_renewal_charges_the_child_and_replays(client, parent, factory, outbox):
    actor, h = parent
    d = _new(client, h)["distributor"]
    db.run(factory, distributors.confirm_email, outbox[0][1], CHILD_PASSWORD)
    db.run(factory, distributors.activate, actor, d["id"])
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == d["id"]).values(expires_at=utcnow() - dt.timedelta(days=1)))
    key = _key()
    r = client.post(f"/v1/distributors/{d['id']}/renew", headers={**h, **key})
    assert r.status_code == 200, r.text
    body = conforms(sd.DistributorRenewed, r.json())
    assert body["status"] == "active" and [c["kind"] for c in body["charges"]] == ["annual_fee"]
    assert body["charges"][0]["amount_cents"] == 348000
    again = client.post(f"/v1/distributors/{d['id']}/renew", headers={**h, **key})
    assert again.status_code == 200 and again.json() == body
    # The charge is on the renewed account's statement, not on the parent's.
    child = {"Authorization": "Bearer " + client.post(
        "/v1/auth/token", json={"login": "hijo1@sub.mx", "password": CHILD_PASSWORD}).json()["access_token"]}
    assert [c["kind"] for c in client.get("/v1/charges", headers=child).json()["items"]] == ["annual_fee"]
    assert "annual_fee" not in {c["kind"] for c in client.get("/v1/charges", headers=h).json()["items"]}


def test_list_filters_and_pages(client, parent, outbox):
    _, h = parent
    ids = [_new(client, h, n)["distributor"]["id"] for n in (1, 2, 3)]
    client.post("/v1/public/registrations/confirm", json={"token": outbox[0][1], "password": CHILD_PASSWORD})
    first = conforms(sd.DistributorList, client.get("/v1/distributors", params={"limit": 2}, headers=h).json())
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get("/v1/distributors", params={"limit": 2, "cursor": first["next_cursor"]}, headers=h).json()
    assert rest["next_cursor"] is None
    assert {i["id"] for i in first["items"] + rest["items"]} == set(ids)
    unvalidated = client.get("/v1/distributors", params={"status": "unvalidated"}, headers=h).json()["items"]
    assert {i["id"] for i in unvalidated} == set(ids[1:])
    assert [i["id"] for i in client.get("/v1/distributors", params={"status": "inactive"}, headers=h).json()["items"]] == ids[:1]
    assert client.get("/v1/distributors", params={"status": "active"}, headers=h).json() == {"items": [], "next_cursor": None}
    r = client.get("/v1/distributors", params={"status": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    assert "Valor no permitido" in r.json()["errors"][0]["message"]
    assert client.get("/v1/distributors", params={"cursor": "basura"}, headers=h).status_code == 422
    assert client.get("/v1/distributors").status_code == 401


def test_validation_in_spanish(client, parent):
    _, h = parent
    r = client.post("/v1/distributors", json={"email": "padre@dist.mx", "mobile": "12", "name": "X", "rfc": "ABC"}, headers=h)
    assert r.status_code == 422
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(fields) >= {"email", "mobile", "rfc"}
    assert "suyo" in fields["email"] and "RFC" in fields["rfc"]
    r = client.post("/v1/distributors", json={"email": "a@b.mx", "mobile": "3300000001", "rfc": RFC_MORAL}, headers=h)
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "name", "message": "Este campo es obligatorio."}]
    r = client.post("/v1/distributors", json={"email": "a@b.mx", "mobile": "3300000001", "name": "X", "rfc": RFC_MORAL, "nic": "1"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "nic", "message": "Este campo no se admite."}
    r = client.post("/v1/distributors", json={"email": "a@b.mx", "mobile": "3300000001", "name": "X", "rfc": RFC_MORAL, "postal_code": "123"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "postal_code"


def test_multinivel_is_required(client, factory, auth_headers):
    actor = make_distributor(factory, email="solo@dist.mx", mobile="5544444444", password=PASSWORD)
    h = auth_headers("solo@dist.mx")
    r = client.post("/v1/distributors", json={"email": "a@b.mx", "mobile": "3300000001", "name": "X", "rfc": RFC_MORAL}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "feature_not_contracted"
    assert "Multinivel" in r.json()["detail"]
    c = make_client(factory, actor)["client"]
    r = client.post(f"/v1/clients/{c['id']}/convert-to-distributor", json={"email": "a@b.mx", "mobile": "3300000001"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "feature_not_contracted"


def test_convert_a_client(client, parent, factory, outbox):
    actor, h = parent
    c = make_client(factory, actor, name="Cliente Convertible", address={"state": "Jalisco"})["client"]
    body = {"email": "conv@sub.mx", "mobile": "3312345678"}
    r = client.post(f"/v1/clients/{c['id']}/convert-to-distributor", json=body, headers=h)
    assert r.status_code == 201, r.text
    out = conforms(sd.DistributorConverted, r.json())
    assert out["client_id"] == c["id"] and out["confirmation_sent"] is True and "confirmation_token" not in out
    assert out["distributor"]["name"] == "Cliente Convertible" and out["distributor"]["source_client_id"] == c["id"]
    assert out["distributor"]["address"]["state"] == "Jalisco" and outbox[0][0] == "conv@sub.mx"
    assert client.get(f"/v1/clients/{c['id']}", headers=h).json()["converted_account_id"] == out["distributor"]["id"]
    r = client.post(f"/v1/clients/{c['id']}/convert-to-distributor", json={"email": "x@sub.mx", "mobile": "3312345679"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "duplicate"
    r = client.post(f"/v1/clients/{c['id']}/convert-to-distributor", json={"email": "x@sub.mx"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "mobile", "message": "Este campo es obligatorio."}
    assert client.post("/v1/clients/nope/convert-to-distributor", json=body, headers=h).status_code == 404


def test_another_distributors_ids_are_not_found(client, parent, factory, auth_headers, outbox):
    actor, h = parent
    d = _new(client, h)["distributor"]
    other = make_distributor(factory, email="ajeno@dist.mx", mobile="5533333333", password=PASSWORD)
    db.run(factory, contracts.contract, other, "multinivel")
    oh = auth_headers("ajeno@dist.mx")
    assert client.get(f"/v1/distributors/{d['id']}", headers=oh).json()["code"] == "not_found"
    assert client.get("/v1/distributors", headers=oh).json()["items"] == []
    for action in ("activate", "suspend", "cancel", "resend-confirmation"):
        r = client.post(f"/v1/distributors/{d['id']}/{action}", headers=oh)
        assert r.status_code == 404 and r.json()["code"] == "not_found", action
    assert client.post(f"/v1/distributors/{d['id']}/renew", headers={**oh, **_key()}).status_code == 404
    # Not even the parent's own account, nor an unknown id.
    assert client.get(f"/v1/distributors/{actor.account_id}", headers=h).status_code == 404
    assert client.get("/v1/distributors/nope", headers=h).status_code == 404
    c = make_client(factory, actor)["client"]
    r = client.post(f"/v1/clients/{c['id']}/convert-to-distributor", json={"email": "z@sub.mx", "mobile": "3300000099"}, headers=oh)
    assert r.status_code == 404


def test_a_refused_creation_queues_no_mail(client, parent, factory):
    _, h = parent
    body = {"email": "padre@dist.mx", "mobile": "3300000001", "name": "Sub", "rfc": RFC_MORAL}
    r = client.post("/v1/distributors", json=body, headers=h)
    assert r.status_code == 422
    assert len(QueuedLinks(factory)) == 0

