"""Signing in over HTTP: login, throttling, refresh rotation, logout, expiry, /v1/me."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import delete, select, update

from cmdesk.domain.enums import AccountStatus, Role
from cmdesk.models import Account, Membership, Profile, RefreshToken, ServerSecret, ThrottleCounter, utcnow
from cmdesk.server import db, security
from cmdesk.server.app import create_app
from cmdesk.server.operations import accounts
from cmdesk.server.operations.context import Actor
from tests.server.api.conftest import PASSWORD, sign_in
from tests.server.helpers import make_distributor

EMAIL = "ana@example.com"
MOBILE = "5512345678"


@pytest.fixture
def ana(factory: db.SessionFactory) -> Actor:
    return make_distributor(factory, name="Ana Distribuciones", email=EMAIL, mobile=MOBILE, password=PASSWORD)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"].endswith("/" + code)
    assert body["title"] and body["detail"]
    assert isinstance(body["errors"], list)
    return body


# ---------------------------------------------------------------------------------------------------
# Login


@pytest.mark.parametrize("login", [EMAIL, "  ANA@Example.com ", MOBILE, "55 1234 5678", "+52 55 1234 5678"])
def test_login_by_email_or_mobile(client, ana, login):
    body = sign_in(client, login)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"] and body["refresh_token"]
    assert body["account"]["id"] == ana.account_id
    assert body["account"]["nic"]
    me = client.get("/v1/me", headers={"Authorization": "Bearer " + body["access_token"]})
    assert me.status_code == 200
    assert me.json()["account"]["id"] == ana.account_id


@pytest.mark.parametrize(
    ("login", "password"),
    [(EMAIL, "otra-clave9"), ("nadie@example.com", PASSWORD), (MOBILE, ""), ("5500000000", PASSWORD)],
)
def test_login_refused_with_the_same_answer(client, ana, login, password):
    response = client.post("/v1/auth/token", json={"login": login, "password": password})
    if password == "":
        assert_problem(response, 422, "validation_error")
        return
    body = assert_problem(response, 401, "invalid_credentials")
    assert body["detail"] == "El usuario o la contraseña no son correctos."


def test_five_failures_a_minute_then_429_even_with_the_right_password(client, ana, factory):
    for _ in range(5):
        assert_problem(
            client.post("/v1/auth/token", json={"login": EMAIL, "password": "mala-clave1"}),
            401,
            "invalid_credentials",
        )
    response = client.post("/v1/auth/token", json={"login": EMAIL.upper(), "password": PASSWORD})
    body = assert_problem(response, 429, "too_many_attempts")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert body["retry_after"] == int(response.headers["Retry-After"])
    # Another login is not affected.
    other = make_distributor(factory, email="beto@example.com", password=PASSWORD)
    assert sign_in(client, "beto@example.com")["account"]["id"] == other.account_id
    # A minute later the failures no longer count.
    with db.transaction(factory) as s:
        s.execute(update(ThrottleCounter).values(window_start=utcnow() - dt.timedelta(seconds=61)))
    assert sign_in(client, EMAIL)["account"]["id"] == ana.account_id


def test_unknown_logins_are_throttled_too(client):
    for _ in range(5):
        assert_problem(
            client.post("/v1/auth/token", json={"login": "x@example.com", "password": "a1"}),
            401,
            "invalid_credentials",
        )
    assert_problem(
        client.post("/v1/auth/token", json={"login": "x@example.com", "password": "a1"}),
        429,
        "too_many_attempts",
    )


def test_a_successful_login_gives_its_attempt_back_and_trusts_the_address(client, ana):
    for _ in range(2):
        for _ in range(4):
            assert_problem(
                client.post("/v1/auth/token", json={"login": EMAIL, "password": "mala-clave1"}),
                401,
                "invalid_credentials",
            )
        sign_in(client, EMAIL)


def test_failures_from_one_address_are_limited_across_logins(engine, settings, factory):
    from fastapi.testclient import TestClient

    app = create_app(settings.model_copy(update={"attempts_per_source_per_hour": 3}), engine=engine)
    with TestClient(app) as client:
        for n in range(3):
            assert_problem(
                client.post("/v1/auth/token", json={"login": f"u{n}@example.com", "password": "a1"}),
                401,
                "invalid_credentials",
            )
        assert_problem(
            client.post("/v1/auth/token", json={"login": "u9@example.com", "password": "a1"}),
            429,
            "too_many_attempts",
        )


def test_unconfirmed_profile_cannot_sign_in(client, factory):
    make_distributor(factory, email="nueva@example.com", password=PASSWORD, confirmed=False)
    body = assert_problem(
        client.post("/v1/auth/token", json={"login": "nueva@example.com", "password": PASSWORD}),
        403,
        "account_blocked",
    )
    assert "Confirme su correo" in body["detail"]


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (AccountStatus.SUSPENDED, False),
        (AccountStatus.CANCELLED, False),
        (AccountStatus.ACTIVE, True),
        (AccountStatus.EXPIRED, True),
        (AccountStatus.INACTIVE, True),
    ],
)
def test_blocked_accounts_cannot_sign_in(client, factory, ana, status, allowed):
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == ana.account_id).values(status=status.value))
    response = client.post("/v1/auth/token", json={"login": EMAIL, "password": PASSWORD})
    if allowed:
        assert response.status_code == 200
    else:
        body = assert_problem(response, 403, "account_blocked")
        assert "cuenta" in body["detail"]


def _second_account(factory: db.SessionFactory, ana: Actor, role: Role) -> str:
    """Another distributor whose profile admits Ana as a member with `role`."""
    other = make_distributor(factory, name="Otra", email="otra@example.com", password=PASSWORD)
    with db.transaction(factory) as s:
        # Older than Ana's own membership, so "master first" is what puts hers first.
        s.add(
            Membership(
                account_id=other.account_id,
                profile_id=ana.profile_id,
                role=role.value,
                created_at=utcnow() - dt.timedelta(days=1),
            )
        )
    return other.account_id


def test_master_account_first_and_account_choice(client, factory, ana):
    other = _second_account(factory, ana, Role.ADMIN)
    body = sign_in(client, EMAIL)
    assert body["account"]["id"] == ana.account_id
    assert body["role"] == "master"
    assert [a["id"] for a in body["accounts"]] == [ana.account_id, other]
    assert [a["role"] for a in body["accounts"]] == ["master", "admin"]
    chosen = sign_in(client, EMAIL, account_id=other)
    assert chosen["account"]["id"] == other
    assert chosen["role"] == "admin"
    me = client.get("/v1/me", headers={"Authorization": "Bearer " + chosen["access_token"]}).json()
    assert me["account"]["id"] == other and me["role"] == "admin"
    response = client.post(
        "/v1/auth/token", json={"login": EMAIL, "password": PASSWORD, "account_id": "nope"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "account_id"


def test_blocked_master_account_falls_back_to_another(client, factory, ana):
    other = _second_account(factory, ana, Role.ADMIN)
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == ana.account_id).values(status="suspended"))
    assert sign_in(client, EMAIL)["account"]["id"] == other


def test_profile_without_accounts_cannot_sign_in(client, factory):
    with db.transaction(factory) as s:
        s.add(
            Profile(
                email="solo@example.com",
                mobile="5599999999",
                password_hash=security.hash_password(PASSWORD),
                email_confirmed_at=utcnow(),
            )
        )
    assert_problem(
        client.post("/v1/auth/token", json={"login": "solo@example.com", "password": PASSWORD}),
        403,
        "account_blocked",
    )


def test_outdated_hash_is_rehashed_on_login(client, factory, ana):
    old = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with db.transaction(factory) as s:
        s.execute(update(Profile).where(Profile.id == ana.profile_id).values(password_hash=old))
    sign_in(client, EMAIL)
    with db.transaction(factory) as s:
        new = s.scalar(select(Profile.password_hash).where(Profile.id == ana.profile_id))
    assert new != old and security.verify_password(new, PASSWORD) and not security.needs_rehash(new)


# ---------------------------------------------------------------------------------------------------
# Refresh, logout, expiry


def test_refresh_rotates_and_a_reused_token_revokes_the_family(client, ana):
    first = sign_in(client, EMAIL)
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    second_body = second.json()
    assert second_body["refresh_token"] != first["refresh_token"]
    assert second_body["access_token"] != first["access_token"]
    assert second_body["account"]["id"] == ana.account_id
    headers = {"Authorization": "Bearer " + second_body["access_token"]}
    assert client.get("/v1/me", headers=headers).status_code == 200
    # The old token again: theft. The whole family ends, new tokens included.
    body = assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
        401,
        "invalid_credentials",
    )
    assert "dos veces" in body["detail"]
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": second_body["refresh_token"]}),
        401,
        "invalid_credentials",
    )
    assert_problem(client.get("/v1/me", headers=headers), 401, "invalid_credentials")
    # Another session of the same profile is untouched.
    other = sign_in(client, EMAIL)
    assert client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200


@pytest.mark.parametrize("token", ["", "x" * 201, "no-such-token"])
def test_refresh_with_a_bad_token(client, ana, token):
    response = client.post("/v1/auth/refresh", json={"refresh_token": token})
    if token == "no-such-token":
        assert_problem(response, 401, "invalid_credentials")
    else:
        assert_problem(response, 422, "validation_error")


def test_expired_refresh_token(client, factory, ana):
    first = sign_in(client, EMAIL)
    with db.transaction(factory) as s:
        s.execute(update(RefreshToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
        401,
        "invalid_credentials",
    )


def test_refresh_of_a_suspended_account(client, factory, ana):
    first = sign_in(client, EMAIL)
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == ana.account_id).values(status="suspended"))
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
        403,
        "account_blocked",
    )


def test_logout_with_the_bearer_token_ends_the_session(client, ana):
    session = sign_in(client, EMAIL)
    headers = {"Authorization": "Bearer " + session["access_token"]}
    response = client.post("/v1/auth/logout", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert_problem(client.get("/v1/me", headers=headers), 401, "invalid_credentials")
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}),
        401,
        "invalid_credentials",
    )
    # Logging out twice is fine.
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204


def test_logout_with_the_refresh_token(client, ana):
    session = sign_in(client, EMAIL)
    assert client.post("/v1/auth/logout", json={"refresh_token": session["refresh_token"]}).status_code == 204
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}),
        401,
        "invalid_credentials",
    )
    assert client.post("/v1/auth/logout", json={"refresh_token": "unknown"}).status_code == 204


def test_logout_needs_a_session(client):
    assert_problem(client.post("/v1/auth/logout"), 401, "invalid_credentials")


def test_logout_with_an_expired_access_token(client, app, ana):
    session = sign_in(client, EMAIL)
    config = app.state.auth.config()
    sid = security.read_access_token(config.signing_key, session["access_token"]).session_id
    expired, _ = security.issue_access_token(
        config.signing_key,
        profile_id=ana.profile_id,
        account_id=ana.account_id,
        session_id=sid,
        lifetime=dt.timedelta(minutes=15),
        now=utcnow() - dt.timedelta(hours=1),
    )
    assert client.post("/v1/auth/logout", headers={"Authorization": "Bearer " + expired}).status_code == 204
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}),
        401,
        "invalid_credentials",
    )


def test_expired_access_token(client, app, ana):
    session = sign_in(client, EMAIL)
    config = app.state.auth.config()
    sid = security.read_access_token(config.signing_key, session["access_token"]).session_id
    token, _ = security.issue_access_token(
        config.signing_key,
        profile_id=ana.profile_id,
        account_id=ana.account_id,
        session_id=sid,
        lifetime=dt.timedelta(minutes=15),
        now=utcnow() - dt.timedelta(minutes=16),
    )
    response = client.get("/v1/me", headers={"Authorization": "Bearer " + token})
    assert_problem(response, 401, "token_expired")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_short_lifetime_expires(client, app, ana):
    import time

    config = app.state.auth.config()
    app.state.auth.override(
        type(config)(signing_key=config.signing_key, access_token_lifetime=dt.timedelta(seconds=1))
    )
    session = sign_in(client, EMAIL)
    assert session["expires_in"] == 1
    time.sleep(1.1)
    assert_problem(
        client.get("/v1/me", headers={"Authorization": "Bearer " + session["access_token"]}),
        401,
        "token_expired",
    )


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic YTpi", "Bearer abc", "Bearer a.b.c", "Token xyz"],
)
def test_missing_or_invalid_token(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/v1/me", headers=headers)
    assert_problem(response, 401, "invalid_credentials")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_token_of_a_removed_member_is_refused(client, factory, ana):
    headers = {"Authorization": "Bearer " + sign_in(client, EMAIL)["access_token"]}
    with db.transaction(factory) as s:
        s.execute(delete(Membership).where(Membership.profile_id == ana.profile_id))
    assert_problem(client.get("/v1/me", headers=headers), 401, "invalid_credentials")


def test_tampered_token_is_refused(client, ana):
    token = sign_in(client, EMAIL)["access_token"]
    header, payload, signature = token.split(".")
    forged = security._b64encode(
        security._b64decode(payload).replace(ana.account_id.encode(), b"f" * len(ana.account_id))
    )
    response = client.get("/v1/me", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"})
    assert_problem(response, 401, "invalid_credentials")


# ---------------------------------------------------------------------------------------------------
# /v1/me and the signing key


def test_me(client, factory, ana, auth_headers):
    with db.transaction(factory) as s:
        s.execute(
            update(Account).where(Account.id == ana.account_id).values(stamps_balance=7, points_balance=3)
        )
    response = client.get("/v1/me", headers=auth_headers(EMAIL))
    assert response.status_code == 200
    body = response.json()
    assert body["profile"]["id"] == ana.profile_id
    assert body["profile"]["email"] == EMAIL
    assert body["profile"]["mobile"] == MOBILE
    assert "password_hash" not in body["profile"]
    assert body["account"]["id"] == ana.account_id
    assert body["role"] == "master"
    assert body["balances"] == {"stamps": 7, "points": 3}
    assert body["account"]["created_at"].endswith("Z")


def test_signing_key_is_generated_once_and_shared_by_workers(engine, settings, factory, ana):
    from fastapi.testclient import TestClient

    with (
        TestClient(create_app(settings, engine=engine)) as one,
        TestClient(create_app(settings, engine=engine)) as two,
    ):
        token = sign_in(one, EMAIL)["access_token"]
        assert two.get("/v1/me", headers={"Authorization": "Bearer " + token}).status_code == 200
    with db.transaction(factory) as s:
        assert len(s.scalars(select(ServerSecret)).all()) == 1
    # A configured key wins over the stored one: tokens of the other key are refused.
    configured = settings.model_copy(update={"secret_key": SecretStr(security.new_secret_key())})
    with TestClient(create_app(configured, engine=engine)) as three:
        assert_problem(
            three.get("/v1/me", headers={"Authorization": "Bearer " + token}), 401, "invalid_credentials"
        )
        other = sign_in(three, EMAIL)["access_token"]
        assert three.get("/v1/me", headers={"Authorization": "Bearer " + other}).status_code == 200


def test_no_secret_reaches_the_log(client, ana, caplog):
    caplog.set_level(logging.DEBUG)
    session = sign_in(client, EMAIL)
    client.post("/v1/auth/token", json={"login": EMAIL, "password": "mala-clave1"})
    client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    client.get("/v1/me", headers={"Authorization": "Bearer " + session["access_token"]})
    for secret in (PASSWORD, "mala-clave1", session["refresh_token"], session["access_token"]):
        assert secret not in caplog.text


def test_account_view_matches_the_accounts_module(client, factory, ana):
    body = sign_in(client, EMAIL)
    with db.transaction(factory) as s:
        expected = accounts.account_view(s.get(Account, ana.account_id))
    assert body["account"]["id"] == expected["id"]
    assert set(body["account"]) == set(expected)
