"""HTTP: public self-registration from a distributor's web site, the e-mail confirmation link, their
refusals, and the per-address throttle (429 with Retry-After)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cmdesk.models import Account, OutboundMail, Profile, utcnow
from cmdesk.server import db
from cmdesk.server.api import schemas_distributors as sd
from cmdesk.server.operations import accounts, clients, contracts
from cmdesk.server.settings import Settings
from tests.server.api.test_distributors_api import conforms
from tests.server.helpers import RFC_FISICA, QueuedLinks, make_client, make_distributor

PASSWORD = "secreto123"
LIMIT = 8


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite://", software_store=tmp_path / "files", public_requests_per_minute=LIMIT, mail_sender=False
    )


@pytest.fixture
def outbox(factory):
    """The confirmation mails queued: (email, token) pairs, as the inbox would show them."""
    return QueuedLinks(factory)


@pytest.fixture
def referrer(factory, client, auth_headers):
    """A distributor with Multinivel: its NIC and sign-in headers."""
    actor = make_distributor(factory, email="red@dist.mx", mobile="5511111111", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    nic = db.run(factory, lambda s: accounts.get_account(s, actor.account_id).nic)
    return nic, auth_headers("red@dist.mx")


def _body(nic: str, **fields):
    return {
        "referrer_nic": nic, "email": "nuevo@web.mx", "mobile": "3311112222", "password": "MiClave2026",
        "name": "Juan Pérez", "rfc": RFC_FISICA, "profile_name": "Juan", "city": "Guadalajara", **fields,
    }


def test_register_confirm_and_sign_in(client, referrer, outbox):
    nic, h = referrer
    r = client.post("/v1/public/registrations", json=_body(nic))
    assert r.status_code == 202, r.text
    out = conforms(sd.Registration, r.json())
    assert out["email"] == "nuevo@web.mx" and out["confirmation_sent"] is True
    assert set(out) == {"email", "detail", "confirmation_sent"} and "nuevo@web.mx" in out["detail"]
    assert [e for e, _ in outbox] == ["nuevo@web.mx"]
    [mine] = client.get("/v1/distributors", headers=h).json()["items"]
    assert mine["status"] == "unvalidated" and mine["status_label"] == "Sin validar"
    out["id"] = mine["id"]
    token = outbox[0][1]

    login = {"login": "nuevo@web.mx", "password": "MiClave2026"}
    r = client.post("/v1/auth/token", json=login)
    assert r.status_code == 403 and r.json()["code"] == "account_blocked"

    r = client.post("/v1/public/registrations/confirm", json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["confirmed_account_ids"] == [out["id"]] and r.json()["profile"]["email_confirmed"] is True
    r = client.post("/v1/public/registrations/confirm", json={"token": token})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "token"

    mine = client.get(f"/v1/distributors/{out['id']}", headers=h).json()
    assert mine["status"] == "inactive" and mine["referred_by_nic"] == nic and mine["address"]["city"] == "Guadalajara"
    assert client.post("/v1/auth/token", json=login).status_code == 200


def test_registration_refusals(client, referrer, factory):
    nic, _ = referrer
    r = client.post("/v1/public/registrations", json=_body("999999"))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    plain = make_distributor(factory, email="sinred@dist.mx", mobile="5522222222")
    plain_nic = db.run(factory, lambda s: accounts.get_account(s, plain.account_id).nic)
    r = client.post("/v1/public/registrations", json=_body(plain_nic))
    assert r.status_code == 409 and r.json()["code"] == "feature_not_contracted"
    r = client.post("/v1/public/registrations", json=_body(nic, password="corta", rfc="XYZ"))
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"password", "rfc"}
    body = _body(nic)
    del body["email"]
    r = client.post("/v1/public/registrations", json=body)
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "email", "message": "Este campo es obligatorio."}]
    r = client.post("/v1/public/registrations/confirm", json={"token": "inventado"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "token"
    r = client.post("/v1/public/registrations/confirm", json={"token": ""})
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "token", "message": "Este campo es obligatorio."}


@pytest.mark.parametrize(
    ("email", "mobile", "owner_has_profile"),
    [
        ("sinred@dist.mx", "5522222222", True),  # both belong to a profile
        ("sinred@dist.mx", "3399998888", True),  # the e-mail does
        ("otro@web.mx", "5522222222", False),  # the mobile does
    ],
)
def test_registration_says_nothing_about_existing_profiles(
    client, referrer, factory, outbox, email, mobile, owner_has_profile
):
    """Issue 15: neither the caller nor the referrer can tell whether someone's e-mail or mobile has a
    profile: the same answer, the same "Sin validar" row in the referrer's list, the same mail to the
    typed e-mail; only its owner can confirm, and learns there what stands in the way."""
    nic, h = referrer
    make_distributor(factory, email="sinred@dist.mx", mobile="5522222222")
    fresh = client.post("/v1/public/registrations", json=_body(nic))
    taken = client.post("/v1/public/registrations", json=_body(nic, email=email, mobile=mobile))
    assert fresh.status_code == taken.status_code == 202
    assert taken.json() == {**fresh.json(), "email": email, "detail": fresh.json()["detail"].replace("nuevo@web.mx", email)}
    listed = {d["email"]: d for d in client.get("/v1/distributors", headers=h).json()["items"]}
    assert set(listed) == {"nuevo@web.mx", email}

    def seen(d):
        admin = d["admin_profile"]
        mail = d["confirmation_mail"] or {}
        return (d["status"], d["referred_by_nic"], sorted(d), sorted(admin), admin["name"], admin["email_confirmed"], mail.get("status"))

    assert seen(listed[email]) == seen(listed["nuevo@web.mx"])
    assert listed[email]["admin_profile"]["mobile"] == mobile
    with db.transaction(factory) as s:
        kinds = [
            (m.kind, m.requested_by_account_id is not None)
            for m in s.scalars(select(OutboundMail).where(OutboundMail.to_address.in_([email, "nuevo@web.mx"])))
        ]
    assert kinds == [("confirm_email", True), ("confirm_email", True)]
    token = outbox[-1][1]
    if owner_has_profile:  # the owner of the e-mail confirms with the password they already have
        r = client.post("/v1/public/registrations/confirm", json={"token": token})
        assert r.status_code == 200, r.text
    else:  # told only to the owner of the e-mail, on the link's page
        r = client.post("/v1/public/registrations/confirm", json={"token": token, "password": "MiClave2026"})
        assert r.status_code == 422 and "ya pertenece a otro perfil" in r.json()["errors"][0]["message"]


def test_an_unconfirmed_profile_without_password_must_choose_one(client, referrer, outbox):
    _, h = referrer
    r = client.post("/v1/distributors", json={"email": "hijo@sub.mx", "mobile": "3300000001", "name": "Sub", "rfc": RFC_FISICA}, headers=h)
    assert r.status_code == 201
    token = outbox[0][1]
    r = client.post("/v1/public/registrations/confirm", json={"token": token})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = client.post("/v1/public/registrations/confirm", json={"token": token, "password": "123"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    assert client.post("/v1/public/registrations/confirm", json={"token": token, "password": "Segura2026"}).status_code == 200


def _closed(factory, email: str) -> None:
    """The sub-account of `email` cancelled behind the parent's buttons (they refuse a "Sin validar")."""
    with db.transaction(factory) as s:
        account = s.scalar(select(Account).where(Account.email == email))
        assert account is not None
        account.status, account.cancelled_at = "cancelled", utcnow()


def test_a_cancelled_account_is_refused_by_the_api_and_the_page(client, referrer, factory, outbox):
    _, h = referrer
    r = client.post("/v1/distributors", json={"email": "hijo@sub.mx", "mobile": "3300000001", "name": "Sub", "rfc": RFC_FISICA}, headers=h)
    assert r.status_code == 201
    nic, token = r.json()["distributor"]["nic"], outbox[0][1]
    _closed(factory, "hijo@sub.mx")
    r = client.post("/v1/public/registrations/confirm", json={"token": token, "password": "Segura2026"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "token"
    assert "fue cancelada por su distribuidor" in r.json()["errors"][0]["message"] and nic in r.text
    opened = client.get("/cuenta/confirmar", params={"t": token})
    assert opened.status_code == 422 and "fue cancelada por su distribuidor" in opened.text
    assert 'name="password"' not in opened.text  # no password asked for nothing
    page = client.post("/cuenta/confirmar", data={"t": token, "password": "Segura2026", "password2": "Segura2026"})
    assert page.status_code == 422 and "fue cancelada por su distribuidor" in page.text
    assert "ya se usó" not in page.text and "No se cambió nada" in page.text
    assert client.get("/v1/distributors?status=cancelled", headers=h).json()["items"][0]["admin_profile"]["email_confirmed"] is False


def test_a_clients_main_profile_is_told_why_on_the_page(client, referrer, factory, outbox):
    nic, h = referrer
    seller = make_distributor(factory, email="vende@dist.mx", mobile="5533333333")
    c = make_client(factory, seller)
    with db.transaction(factory) as s:
        s.add(Profile(name="Cliente", email="cli@cliente.mx", mobile="5544445555", password_hash="x"))
    db.run(factory, clients.set_admin_profile, seller, c["client"]["id"], email="cli@cliente.mx", mobile="5544445555")
    assert client.post("/v1/public/registrations", json=_body(nic, email="cli@cliente.mx")).status_code == 202
    token = outbox[-1][1]
    r = client.post("/v1/public/registrations/confirm", json={"token": token})
    assert r.status_code == 422 and "perfil principal de un cliente" in r.json()["errors"][0]["message"]
    page = client.post("/cuenta/confirmar", data={"t": token})
    assert page.status_code == 422 and "perfil principal de un cliente" in page.text and "ya se usó" not in page.text
    [mine] = client.get("/v1/distributors", headers=h).json()["items"]
    assert mine["status"] == "unvalidated" and mine["admin_profile"]["email_confirmed"] is False


def test_public_spam_is_throttled_per_address(client, referrer):
    nic, _ = referrer
    for n in range(LIMIT):
        # Refused calls count too: guessing tokens or NICs costs the same as registering.
        r = client.post("/v1/public/registrations", json=_body("999999", email=f"spam{n}@web.mx"))
        assert r.status_code == 404, r.text
    r = client.post("/v1/public/registrations", json=_body(nic))
    assert r.status_code == 429
    body = r.json()
    assert body["code"] == "too_many_attempts" and 1 <= int(r.headers["Retry-After"]) <= 60
    assert body["retry_after"] == int(r.headers["Retry-After"]) and "solicitudes" in body["detail"]
    r = client.post("/v1/public/registrations/confirm", json={"token": "inventado"})
    assert r.status_code == 429 and "Retry-After" in r.headers
