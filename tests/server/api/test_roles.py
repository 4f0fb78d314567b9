"""Roles inside an account (issue 15): an Operador is refused with 403 `forbidden_role` what only an
Administrador may do — users, settings, prices, purchases, sub-distributors — on every such route;
the master is always an administrator; a change of role applies to the person's next request."""

from __future__ import annotations

import re

import pytest

from cmdesk.domain.enums import Role
from cmdesk.server.api.deps import ROLE_REQUIRED
from tests.server.api.test_auth import assert_problem
from tests.server.helpers import give, make_distributor, make_member

PASSWORD = "secreto123"

# The signed-in routes that change something and that an operator may call (the day-to-day work).
# With ROLE_REQUIRED they cover every mutating route of the API (`test_every_route_is_classified`).
OPERATOR_ALLOWED = {
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/clients"),
    ("POST", "/v1/clients/tags"),
    ("PATCH", "/v1/clients/{client_id}"),
    ("PUT", "/v1/clients/{client_id}/admin-profile"),
    ("POST", "/v1/clients/{client_id}/stamping-accounts"),
    ("PATCH", "/v1/stamping-accounts/{cti_id}"),
    ("POST", "/v1/stamping-accounts/{cti_id}/password"),
    ("PUT", "/v1/stamping-accounts/{cti_id}/auto-sale"),
    ("POST", "/v1/transfers"),
    ("POST", "/v1/transfers/bulk"),
    ("POST", "/v1/contracts/quote"),
    ("POST", "/v1/invoices"),
    ("POST", "/v1/licenses"),
    ("POST", "/v1/top-up-codes"),
    ("POST", "/v1/top-up-codes/{code_id}/cancel"),
    ("POST", "/v1/clients/{client_id}/interactions"),
    ("DELETE", "/v1/clients/{client_id}/interactions/{interaction_id}"),
    ("POST", "/v1/clients/{client_id}/policies"),
    ("PATCH", "/v1/clients/{client_id}/policies/{policy_id}"),
    ("DELETE", "/v1/clients/{client_id}/policies/{policy_id}"),
    ("PATCH", "/v1/alerts/{alert_id}"),
    ("POST", "/v1/alerts/state"),
}


def _member(factory, account_id: str, email: str, mobile: str, role: Role) -> str:
    return make_member(factory, account_id, email, mobile, role, PASSWORD)


@pytest.fixture
def team(factory, client, auth_headers):
    """A distributor with its master, an administrator and an operator, each signed in."""
    master = make_distributor(factory, email="jefa@dist.mx", mobile="5511111111", password=PASSWORD)
    admin_id = _member(factory, master.account_id, "admin@dist.mx", "5512121212", Role.ADMIN)
    operator_id = _member(factory, master.account_id, "opera@dist.mx", "5513131313", Role.OPERATOR)
    return {
        "actor": master,
        "admin_id": admin_id,
        "operator_id": operator_id,
        "master": auth_headers("jefa@dist.mx"),
        "admin": auth_headers("admin@dist.mx"),
        "operator": auth_headers("opera@dist.mx"),
    }


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x0", path)


def test_every_route_is_classified(client):
    """A new mutating route must be put in one list or the other (no route is forgotten)."""
    spec = client.get("/openapi.json").json()
    signed_in = set()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            if any("HTTPBearer" in req for req in op.get("security", [])):
                signed_in.add((method.upper(), path))
    assert signed_in, "the OpenAPI names the bearer-protected routes"
    assert set(ROLE_REQUIRED) <= signed_in
    assert signed_in - set(ROLE_REQUIRED) - OPERATOR_ALLOWED == set()
    assert signed_in >= OPERATOR_ALLOWED


@pytest.mark.parametrize("route", sorted(ROLE_REQUIRED), ids=lambda r: f"{r[0]} {r[1]}")
def test_operator_is_refused(client, team, route):
    method, path = route
    headers = {**team["operator"], "Idempotency-Key": "k-" + method + path}
    response = client.request(method, _concrete(path), json={}, headers=headers)
    body = assert_problem(response, 403, "forbidden_role")
    assert body["detail"].startswith("Sólo un administrador de la cuenta")
    assert body["permission"] == ROLE_REQUIRED[route].value


def test_administrator_and_master_pass(client, team):
    for quantity, who in ((10, "master"), (20, "admin")):
        body = {"quantity": quantity, "price_cents": 5000}
        r = client.post("/v1/price-packages", json=body, headers=team[who])
        assert r.status_code == 201, (who, r.text)
    settings = client.get("/v1/settings", headers=team["admin"]).json()
    headers = {**team["admin"], "If-Match": str(settings["version"])}
    r = client.patch("/v1/settings", json={"bulk_stamp_price_cents": 123}, headers=headers)
    assert r.status_code == 200, r.text


def test_operator_does_the_daily_work(client, factory, team):
    h = team["operator"]
    give(factory, team["actor"], "stamps", 50)
    r = client.post("/v1/clients", json={"name": "Cliente Uno", "rfc": "XAXX010101000"}, headers=h)
    assert r.status_code == 201, r.text
    cti = r.json()["stamping_account"]["id"]
    transfer = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 5}
    r = client.post("/v1/transfers", json=transfer, headers={**h, "Idempotency-Key": "op-transfer-1"})
    assert r.status_code == 201, r.text
    # Reads are open to every role.
    for path in ("/v1/users", "/v1/settings", "/v1/price-packages", "/v1/catalog", "/v1/distributors"):
        assert client.get(path, headers=h).status_code == 200, path
    assert client.get("/v1/me", headers=h).json()["role"] == "operator"
    assert client.get("/v1/me", headers=team["admin"]).json()["role"] == "admin"


def test_changing_a_role(client, team):
    master, h_op = team["master"], team["operator"]
    operator_id, admin_id = team["operator_id"], team["admin_id"]
    new_user = {"email": "nuevo@dist.mx", "mobile": "5514141414"}
    assert_problem(client.post("/v1/users", json=new_user, headers=h_op), 403, "forbidden_role")
    # The master's role can't change; only administrator and operator can be given.
    assert_problem(
        client.patch(f"/v1/users/{team['actor'].profile_id}", json={"role": "operator"}, headers=master),
        409,
        "invalid_state_transition",
    )
    for bad in ("master", "user", "", None):
        r = client.patch(f"/v1/users/{operator_id}", json={"role": bad}, headers=master)
        assert_problem(r, 422, "validation_error")
    assert_problem(client.patch("/v1/users/nobody", json={"role": "admin"}, headers=master), 404, "not_found")
    # Promoted: the same token may administer at once (the role is read on every request).
    r = client.patch(f"/v1/users/{operator_id}", json={"role": "admin"}, headers=master)
    assert r.status_code == 200 and r.json()["role"] == "admin" and r.json()["role_label"] == "Administrador"
    r = client.post("/v1/users", json=new_user, headers=h_op)
    assert r.status_code == 201, r.text
    # An administrator may demote another one, and the demoted token is refused at once.
    r = client.patch(f"/v1/users/{admin_id}", json={"role": "operator"}, headers=h_op)
    assert r.status_code == 200 and r.json()["role"] == "operator"
    r = client.post("/v1/price-packages", json={"quantity": 10, "price_cents": 5000}, headers=team["admin"])
    assert_problem(r, 403, "forbidden_role")
    roles = {u["id"]: u["role"] for u in client.get("/v1/users", headers=master).json()["items"]}
    assert roles[team["actor"].profile_id] == "master"
    assert roles[operator_id] == "admin" and roles[admin_id] == "operator"


def test_new_user_role(client, team):
    master = team["master"]
    r = client.post("/v1/users", json={"email": "a@dist.mx", "mobile": "5515151515"}, headers=master)
    assert r.status_code == 201 and r.json()["user"]["role"] == "operator"  # the least by default
    r = client.post(
        "/v1/users", json={"email": "b@dist.mx", "mobile": "5516161616", "role": "admin"}, headers=master
    )
    assert r.status_code == 201 and r.json()["user"]["role"] == "admin"
    r = client.post(
        "/v1/users", json={"email": "c@dist.mx", "mobile": "5517171717", "role": "master"}, headers=master
    )
    assert_problem(r, 422, "validation_error")
