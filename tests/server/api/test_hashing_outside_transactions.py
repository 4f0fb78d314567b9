"""Argon2 never runs inside a database transaction (issue 15): on SQLite a write transaction holds the
only write lock, so a hash inside it made every stamping wait. With `security.STRICT_HASHING` a hash
inside `db.transaction` raises, so every request below would answer 500 if it still hashed there."""

from __future__ import annotations

import pytest

from cmdesk.domain import passwords
from cmdesk.server import db, security
from cmdesk.server.operations import contracts
from tests.server.helpers import QueuedLinks, make_distributor

PASSWORD = "secreto123"
NEW_PASSWORD = "ClaveNueva2026"


def test_the_guard_and_prehashing(factory, monkeypatch):
    monkeypatch.setattr(security, "STRICT_HASHING", True)
    assert security.hash_password(NEW_PASSWORD).startswith("$argon2id$")  # outside: fine
    with db.transaction(factory), pytest.raises(RuntimeError, match="inside a database transaction"):
        security.hash_password(NEW_PASSWORD)
    with security.prehashed(NEW_PASSWORD, "corta", check=passwords.check_password), db.transaction(factory):
        # Hashed once, before: the same hash again, no Argon2 inside.
        first = security.hash_password(NEW_PASSWORD)
        assert security.hash_password(NEW_PASSWORD) == first
        assert security.verify_password(first, NEW_PASSWORD)
        # A password the policy refuses was not hashed beforehand: hashing it here is refused.
        with pytest.raises(RuntimeError):
            security.hash_password("corta")
    assert not security.in_transaction()


def test_requests_that_store_passwords_hash_before_their_transaction(
    client, factory, auth_headers, monkeypatch
):
    actor = make_distributor(factory, name="Ana", email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    h = auth_headers("ana@dist.mx")
    monkeypatch.setattr(security, "STRICT_HASHING", True)

    # A client: its CTI's generated password; another CTI with a chosen one; a new CTI password.
    made = client.post("/v1/clients", json={"name": "Omega", "rfc": "XAXX010101000"}, headers=h)
    assert made.status_code == 201, made.text
    client_id, cti = made.json()["client"]["id"], made.json()["stamping_account"]["id"]
    r = client.post(
        f"/v1/clients/{client_id}/stamping-accounts",
        json={"kind": "standard", "password": NEW_PASSWORD},
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/stamping-accounts/{cti}/password", json={"password": NEW_PASSWORD}, headers=h)
    assert r.status_code == 204, r.text

    # An invitation accepted with a new password (the public link).
    assert (
        client.post(
            "/v1/users", json={"email": "alicia@dist.mx", "mobile": "5522223333"}, headers=h
        ).status_code
        == 201
    )
    token = QueuedLinks(factory, "invitation")[-1][1]
    r = client.post("/v1/public/invitations/accept", json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 200, r.text

    # A password reset.
    assert client.post("/v1/auth/password-reset", json={"login": "alicia@dist.mx"}).status_code == 202
    token = QueuedLinks(factory, "password_reset")[-1][1]
    r = client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": "OtraClave2027"})
    assert r.status_code == 200, r.text

    # A sub-distributor's administrator confirming the e-mail and choosing the password.
    body = {"email": "hijo@sub.mx", "mobile": "3300000001", "name": "Sub", "rfc": "GODE561231GR8"}
    assert client.post("/v1/distributors", json=body, headers=h).status_code == 201
    token = next(t for address, t in QueuedLinks(factory) if address == "hijo@sub.mx")
    r = client.post("/v1/public/registrations/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    # Signing in (verification) never was inside one either.
    assert (
        client.post(
            "/v1/auth/token", json={"login": "alicia@dist.mx", "password": "OtraClave2027"}
        ).status_code
        == 200
    )
