"""Tenant isolation: every route that takes an id (in the path, the query or the body), called by one
distributor with the ids of another distributor's data, answers 404 — never 403, never their data.

The table below must name every path with a parameter: a new route fails this test until it is added."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from cmdesk.domain.enums import Asset
from cmdesk.server import audit, db
from cmdesk.server.operations import alerts, contracts, distributors, ledger, records, tools, top_up_codes
from tests.server.helpers import give, make_client, make_distributor

PASSWORD = "secreto123"
GLOBAL_PATHS = {
    "/v1/software/files/{file_id}",  # the software catalog is the same for every account
    # The demo mail viewer shows every mail by design, and answers only on the embedded default (one
    # person's own database, CMDESK_MAIL_VIEWER); everywhere else it is a 404 for everybody.
    "/v1/demo/mails/{mail_id}",
    "/v1/demo/mails/{mail_id}/eml",
}


@pytest.fixture
def victim(factory):
    """Distributor B with one of everything that has an id."""
    b = make_distributor(factory, email="b@dist.mx", mobile="5520000000", password=PASSWORD)
    give(factory, b, Asset.STAMPS, 500)
    give(factory, b, Asset.POINTS, 20000)
    db.run(factory, contracts.contract, b, "multinivel")
    db.run(factory, contracts.contract, b, "mkl_dominus")
    made = make_client(factory, b)
    client_id, cti = made["client"]["id"], made["stamping_account"]["id"]
    sale = db.run(factory, ledger.transfer, b, asset="stamps", target_type="stamping_account", target_id=cti, quantity=5, amount_cents=500)
    sub = db.run(factory, distributors.create_sub_distributor, b, email="sub@b.mx", mobile="5520000001", name="Sub de B", rfc="EKU9003173C9")
    code = db.run(factory, top_up_codes.create_code, b, asset="stamps", quantity=3, amount_cents=300)
    package = db.run(factory, tools.create_price_package, b, quantity=10, price_cents=1000)
    user = db.run(factory, tools.add_user, b, email="user@b.mx", mobile="5520000002")
    interaction = db.run(factory, records.add_interaction, b, client_id, text="Llamada")
    today = dt.date.today()
    policy = db.run(factory, records.add_policy, b, client_id, product="Póliza", starts_on=today, ends_on=today)
    rule = db.run(factory, alerts.save_rule, b, scope="client", scope_id=client_id, days_thresholds=[9])
    for _ in range(5):  # the CTI runs out: an alert
        db.run(factory, ledger.consume, stamping_account_id=cti, emitter_rfc="EKU9003173C9", cfdi_uuid=str(uuid.uuid4()))
    while alerts.tick(factory).more:
        pass
    alert = db.run(factory, alerts.list_alerts, b)[0]
    record_id = db.run(factory, lambda s: audit.write_record(s, account_id=b.account_id, action="x", entity_type="client", entity_id=client_id))
    return {
        "alert_id": alert["id"],
        "rule_id": rule["id"],
        "client_id": client_id,
        "cti_id": cti,
        "distributor_id": sub["distributor"]["id"],
        "code_id": _id(code),
        "package_id": package["id"],
        "profile_id": _id(user),
        "interaction_id": interaction["id"],
        "policy_id": policy["id"],
        "movement_id": sale["id"],
        "record_id": record_id,
    }


def _id(value):
    for key in ("code", "user", "profile"):
        if isinstance(value, dict) and isinstance(value.get(key), dict):
            return value[key]["id"]
    return value["id"]


# (method, path template) → request body (None: no body)
CALLS = {
    ("get", "/v1/clients/{client_id}"): None,
    ("patch", "/v1/clients/{client_id}"): {"trade_name": "x"},
    ("put", "/v1/clients/{client_id}/admin-profile"): {"email": "nadie@x.mx", "mobile": "5500000009"},
    ("post", "/v1/clients/{client_id}/stamping-accounts"): {"kind": "standard", "password": "Clave2024x"},
    ("get", "/v1/stamping-accounts/{cti_id}"): None,
    ("patch", "/v1/stamping-accounts/{cti_id}"): {"active": False},
    ("post", "/v1/stamping-accounts/{cti_id}/password"): {"password": "Clave2024x"},
    ("put", "/v1/stamping-accounts/{cti_id}/auto-sale"): {"minimum": 1, "credit": 1, "amount_cents": 1},
    ("get", "/v1/stamping-accounts/{cti_id}/usage"): None,
    ("get", "/v1/distributors/{distributor_id}"): None,
    ("post", "/v1/distributors/{distributor_id}/activate"): None,
    ("post", "/v1/distributors/{distributor_id}/suspend"): None,
    ("post", "/v1/distributors/{distributor_id}/cancel"): None,
    ("post", "/v1/distributors/{distributor_id}/renew"): None,
    ("post", "/v1/distributors/{distributor_id}/resend-confirmation"): None,
    ("post", "/v1/clients/{client_id}/convert-to-distributor"): {"email": "conv@x.mx", "mobile": "5500000010"},
    ("post", "/v1/stamping-accounts/{cti_id}/unlimited-fee"): {"payer": "account"},
    ("get", "/v1/top-up-codes/{code_id}"): None,
    ("post", "/v1/top-up-codes/{code_id}/cancel"): None,
    ("patch", "/v1/price-packages/{package_id}"): {"price_cents": 1},
    ("delete", "/v1/price-packages/{package_id}"): None,
    ("delete", "/v1/users/{profile_id}"): None,
    ("patch", "/v1/users/{profile_id}"): {"role": "admin"},
    ("post", "/v1/users/{profile_id}/resend-invitation"): None,
    ("get", "/v1/clients/{client_id}/interactions"): None,
    ("post", "/v1/clients/{client_id}/interactions"): {"text": "hola"},
    ("delete", "/v1/clients/{client_id}/interactions/{interaction_id}"): None,
    ("get", "/v1/clients/{client_id}/policies"): None,
    ("post", "/v1/clients/{client_id}/policies"): {"product": "P", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
    ("patch", "/v1/clients/{client_id}/policies/{policy_id}"): {"reference": "x"},
    ("delete", "/v1/clients/{client_id}/policies/{policy_id}"): None,
    ("get", "/v1/alerts/{alert_id}"): None,
    ("patch", "/v1/alerts/{alert_id}"): {"state": "seen"},
    ("delete", "/v1/alert-rules/{rule_id}"): None,
    ("get", "/v1/audit/{record_id}"): None,
    ("get", "/v1/statements/clients/{client_id}"): None,
    ("get", "/v1/statements/stamping-accounts/{cti_id}"): None,
}


def test_table_names_every_route_with_an_id(app):
    paths = app.openapi()["paths"]
    routes = {(m, p) for p, item in paths.items() if "{" in p and p not in GLOBAL_PATHS for m in item if m != "head"}
    assert routes == set(CALLS), routes ^ set(CALLS)


def test_every_route_answers_404_for_another_distributors_ids(client, factory, victim):
    a = make_distributor(factory, email="a@dist.mx", mobile="5530000000", password=PASSWORD)
    give(factory, a, Asset.STAMPS, 100)
    give(factory, a, Asset.POINTS, 20000)
    db.run(factory, contracts.contract, a, "multinivel")
    db.run(factory, contracts.contract, a, "mkl_dominus")
    token = client.post("/v1/auth/token", json={"login": "a@dist.mx", "password": PASSWORD}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    wrong = []
    for (method, template), body in CALLS.items():
        url = template.format(**victim)
        headers = {**h, "Idempotency-Key": str(uuid.uuid4())}
        r = client.request(method.upper(), url, json=body, headers=headers)
        if r.status_code != 404 or r.json().get("code") != "not_found":
            wrong.append(f"{method.upper()} {template}: {r.status_code} {r.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_ids_in_bodies_and_queries_never_reach_another_account(client, factory, victim):
    a = make_distributor(factory, email="a@dist.mx", mobile="5530000000", password=PASSWORD)
    give(factory, a, Asset.STAMPS, 100)
    give(factory, a, Asset.POINTS, 100)
    db.run(factory, contracts.contract, a, "mkl_dominus")
    token = client.post("/v1/auth/token", json={"login": "a@dist.mx", "password": PASSWORD}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    v = victim
    posts = [
        ("/v1/transfers", {"asset": "stamps", "target": {"type": "stamping_account", "id": v["cti_id"]}, "quantity": 1}),
        ("/v1/transfers", {"asset": "points", "target": {"type": "client", "id": v["client_id"]}, "quantity": 1}),
        ("/v1/transfers", {"asset": "stamps", "target": {"type": "account", "id": v["distributor_id"]}, "quantity": 1}),
        ("/v1/transfers/bulk", {"items": [{"asset": "stamps", "target": {"type": "stamping_account", "id": v["cti_id"]}, "quantity": 1}]}),
        ("/v1/licenses", {"client_id": v["client_id"], "product_code": "mkl_dominus"}),
        ("/v1/invoices", {"client_id": v["client_id"], "reference": "F1", "movement_ids": [v["movement_id"]]}),
        ("/v1/invoices", {"reference": "F2", "top_up_code_ids": [v["code_id"]]}),
    ]
    for i, (path, body) in enumerate(posts):
        r = client.post(path, json=body, headers={**h, "Idempotency-Key": f"k{i}"})
        assert r.status_code == 404, (path, r.status_code, r.text)
    for path in (
        f"/v1/stamping-accounts?client_id={v['client_id']}",
        f"/v1/movements?client_id={v['client_id']}",
        f"/v1/licenses?client_id={v['client_id']}",
        f"/v1/billing/pending?client_id={v['client_id']}",
        f"/v1/invoices?client_id={v['client_id']}",
        f"/v1/audit?entity=client&entity_id={v['client_id']}",
        f"/v1/audit?account_id={v['distributor_id']}",
        f"/v1/audit/{v['record_id']}?account_id={v['distributor_id']}",
    ):
        r = client.get(path, headers={"Authorization": h["Authorization"]})
        assert r.status_code in (200, 404), (path, r.text)
        if r.status_code == 200:
            assert r.json()["items"] == [], path
    # Nothing of B reached A's change feed.
    feed = client.get("/v1/sync/changes", params={"limit": 1000}, headers={"Authorization": h["Authorization"]}).json()
    ids = {c["id"] for c in feed["changes"]}
    assert not ids & set(v.values())


def test_the_same_ids_work_for_their_owner(client, victim):
    """So the 404s above are about ownership, not about ids that don't exist."""
    token = client.post("/v1/auth/token", json={"login": "b@dist.mx", "password": PASSWORD}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    for (method, template), _body in CALLS.items():
        if method == "get":
            r = client.get(template.format(**victim), headers=h)
            assert r.status_code == 200, (template, r.text)
    r = client.delete(f"/v1/users/{victim['profile_id']}", headers=h)
    assert r.status_code in (200, 204), r.text
