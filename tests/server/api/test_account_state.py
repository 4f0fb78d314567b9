"""The account's state on every authenticated request: a suspended or cancelled account is refused at
once (403 `account_blocked`, in Spanish) with a token issued before; an expired one may only sign out,
refresh, and read what renewing needs (itself, its statement, its contracts, the catalog)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from cmdesk.models import Account, utcnow
from cmdesk.server import db
from tests.server.api.conftest import PASSWORD, sign_in
from tests.server.helpers import RFC_MORAL, make_distributor


@pytest.fixture
def account(factory):
    return make_distributor(factory, email="estado@dist.mx", mobile="5512121212", password=PASSWORD)


def set_account(factory, account_id, **values):
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == account_id).values(**values))


@pytest.mark.parametrize(("status", "word"), [("suspended", "suspendida"), ("cancelled", "cancelada")])
def test_blocked_accounts_are_refused_at_once(client, factory, account, status, word):
    session = sign_in(client, "estado@dist.mx")
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    assert client.get("/v1/clients", headers=headers).status_code == 200
    set_account(factory, account.account_id, status=status, cancelled_at=utcnow() if status == "cancelled" else None)
    for method, path, body in [
        ("GET", "/v1/clients", None),
        ("GET", "/v1/me", None),
        ("POST", "/v1/clients", {"name": "Nuevo", "rfc": RFC_MORAL}),
        ("POST", "/v1/purchases", {"package_id": "test_stamps_1", "quantity": 1}),
    ]:
        r = client.request(method, path, json=body, headers={**headers, "Idempotency-Key": "k-" + path})
        assert r.status_code == 403, (path, r.text)
        problem = r.json()
        assert problem["code"] == "account_blocked" and word in problem["detail"]
        assert problem["title"] == "Cuenta bloqueada"
    # Signing out still works; signing in and refreshing are refused.
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    assert client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code == 401
    r = client.post("/v1/auth/token", json={"login": "estado@dist.mx", "password": PASSWORD})
    assert r.status_code == 403 and r.json()["code"] == "account_blocked"


def test_reactivation_takes_effect_at_once(client, factory, account):
    headers = {"Authorization": f"Bearer {sign_in(client, 'estado@dist.mx')['access_token']}"}
    set_account(factory, account.account_id, status="suspended")
    assert client.get("/v1/clients", headers=headers).status_code == 403
    set_account(factory, account.account_id, status="active")
    assert client.get("/v1/clients", headers=headers).status_code == 200


@pytest.mark.parametrize("how", ["status", "date"])
def test_an_expired_account_only_reads_what_renewing_needs(client, factory, account, how):
    session = sign_in(client, "estado@dist.mx")
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    if how == "status":
        set_account(factory, account.account_id, status="expired")
    else:  # maintenance has not marked it yet: the date decides
        set_account(factory, account.account_id, expires_at=utcnow() - dt.timedelta(minutes=1))
    for path in ("/v1/me", "/v1/charges", "/v1/contracts", "/v1/catalog"):
        assert client.get(path, headers=headers).status_code == 200, path
    for method, path in [("GET", "/v1/clients"), ("GET", "/v1/sync/changes"), ("POST", "/v1/clients"), ("GET", "/v1/stamping-accounts")]:
        r = client.request(method, path, json={"name": "x", "rfc": RFC_MORAL} if method == "POST" else None, headers=headers)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["code"] == "account_blocked" and "vencida" in r.json()["detail"]
        assert r.json()["account_status"] == "expired"
    # It may refresh its session and sign out.
    refreshed = client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
