"""Every mutating route of the API writes exactly one bitácora record, with the right main entity and
the right values before and after; nothing else writes one; no record ever holds a secret.

The routes are enumerated from the app: a new mutating route without a case here (or a reason in
`audit.EXEMPT`) fails `test_every_mutating_route_writes_one_record`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from cmdesk.domain.enums import Asset
from cmdesk.models import Account, LinkToken, Profile, StampingAccount, TopUpCode, utcnow
from cmdesk.server import audit, db
from cmdesk.server.operations import accounts, alerts, contracts, ledger
from tests.server.audit.helpers import assert_no_secrets, mutating_routes, no_record, one_record
from tests.server.helpers import (
    RFC_FISICA,
    RFC_MORAL,
    QueuedLinks,
    fund_cti,
    give,
    make_client,
    make_distributor,
)

PASSWORD = "secreto123"
DEVICE = "cmdesk/1.4 (OFICINA-2; 5f1c)"
REASON = "Suspensión por falta de pago"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@pytest.fixture
def outbox(factory):
    return QueuedLinks(factory)  # the confirmation links in the mail queue


class Walk:
    """Calls routes, checks each wrote one record, and remembers which routes it covered."""

    def __init__(self, client, factory, headers: dict[str, str]) -> None:
        self.client, self.factory, self.headers = client, factory, headers
        self.covered: set[tuple[str, str]] = set()
        self.secrets: set[str] = set()

    def call(
        self,
        method: str,
        route: str,
        *,
        action: str,
        entity: str,
        status: int = 200,
        json: Any = None,
        headers: dict[str, str] | None = None,
        public: bool = False,
        **params: str,
    ) -> tuple[Any, dict[str, Any]]:
        path = route.format(**params)
        sent = {} if public else dict(self.headers)
        sent.update(headers or {})
        with one_record(self.factory, action=action, entity=entity) as written:
            r = self.client.request(method, path, json=json, headers=sent)
            assert r.status_code == status, (method, path, r.text)
        rec = written.record
        assert rec["route"] == f"{method} {route}"
        if public:
            assert rec["profile_id"] is None
        else:
            assert rec["profile_id"] is not None and rec["device"] == DEVICE and rec["reason"] == REASON
        self.covered.add((method, route))
        return (r.json() if r.content else None), rec


def test_every_mutating_route_writes_one_record(app, client, factory, auth_headers, outbox):
    actor = make_distributor(factory, email="bit@dist.mx", mobile="5570000001", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    give(factory, actor, Asset.STAMPS, 500)
    give(factory, actor, Asset.POINTS, 5000)
    headers = {
        **auth_headers("bit@dist.mx"),
        "X-Cmdesk-Device": quote(DEVICE),
        "X-Cmdesk-Reason": quote(REASON),  # UTF-8, percent-encoded
    }
    w = Walk(client, factory, headers)
    w.secrets.add(PASSWORD)

    # ---- Clients and CTIs
    out, rec = w.call("POST", "/v1/clients", action="client.create", entity="client", status=201,
                      json={"name": "ACME", "rfc": RFC_MORAL})
    cid, cti = out["client"]["id"], out["stamping_account"]["id"]
    w.secrets.add(out["password"])
    assert rec["entity_id"] == cid and rec["before"] is None and rec["after"]["name"] == "ACME"
    [created_cti] = rec["changes"]
    assert created_cti["entity"] == "stamping_account" and created_cti["after"]["password"] == audit.SECRET_MARK

    _, rec = w.call("PATCH", "/v1/clients/{client_id}", action="client.update", entity="client", client_id=cid,
                    json={"name": "ACME Dos", "other": {"credit_days": 30}})
    assert rec["before"] == {"name": "ACME", "credit_days": 0}
    assert rec["after"] == {"name": "ACME Dos", "credit_days": 30} and rec["changes"] is None

    other = make_client(factory, actor, name="Beta")["client"]["id"]
    _, rec = w.call("POST", "/v1/clients/tags", action="client.tags", entity="client",
                    json={"client_ids": [cid, other], "favorite": True, "color": "red"})
    assert rec["before"] == {"favorite": False, "color": None} and rec["after"] == {"favorite": True, "color": "red"}
    assert {("client", cid), ("client", other)} <= rec["subjects"] and len(rec["changes"]) == 1

    with db.transaction(factory) as s:
        s.add(Profile(name="Admin Cliente", email="admin@acme.mx", mobile="5570000099"))
    _, rec = w.call("PUT", "/v1/clients/{client_id}/admin-profile", action="client.admin_profile", entity="client",
                    client_id=cid, json={"email": "admin@acme.mx", "mobile": "5570000099"})
    assert rec["before"] == {"admin_profile_id": None} and rec["after"]["admin_profile_id"]

    out, rec = w.call("POST", "/v1/clients/{client_id}/stamping-accounts", action="stamping_account.create",
                      entity="stamping_account", status=201, client_id=cid,
                      json={"kind": "standard", "id": "ACME-2", "password": "ClaveCti2026"})
    w.secrets.add("ClaveCti2026")
    assert rec["entity_id"] == "ACME-2" and rec["after"]["password"] == audit.SECRET_MARK
    assert ("client", cid) in rec["subjects"]

    _, rec = w.call("PATCH", "/v1/stamping-accounts/{cti_id}", action="stamping_account.state",
                    entity="stamping_account", cti_id="ACME-2", json={"active": False})
    assert rec["before"] == {"active": True} and rec["after"] == {"active": False}

    _, rec = w.call("POST", "/v1/stamping-accounts/{cti_id}/password", action="stamping_account.password",
                    entity="stamping_account", status=204, cti_id="ACME-2",
                    json={"password": "OtraClave2026", "password_confirmation": "OtraClave2026"})
    w.secrets.add("OtraClave2026")
    assert rec["before"] == {"password": "***"} and rec["after"] == {"password": "***"}

    _, rec = w.call("PUT", "/v1/stamping-accounts/{cti_id}/auto-sale", action="stamping_account.auto_sale",
                    entity="stamping_account", cti_id=cti,
                    json={"minimum": 2, "credit": 10, "amount_cents": 1000, "enabled": True})
    assert rec["entity_id"] == cti
    assert rec["before"]["auto_sale.minimum"] is None and rec["after"]["auto_sale.minimum"] == 2
    assert rec["after"]["auto_sale.credit"] == 10

    out, _ = w.call("POST", "/v1/clients/{client_id}/stamping-accounts", action="stamping_account.create",
                    entity="stamping_account", status=201, client_id=cid,
                    json={"kind": "unlimited", "password": "Ilimitada2026", "rfc_restriction": RFC_MORAL})
    unlimited = out["id"]
    _, rec = w.call("POST", "/v1/stamping-accounts/{cti_id}/unlimited-fee", action="stamping_account.unlimited_fee",
                    entity="stamping_account", status=201, cti_id=unlimited, headers=_key(),
                    json={"payer": "account", "years": 1})
    assert rec["before"] == {"paid_until": None} and rec["after"]["paid_until"]
    points = [c for c in rec["changes"] if c["entity"] == "account"]
    assert points and points[0]["after"]["points_balance"] < points[0]["before"]["points_balance"]

    out, rec = w.call("POST", "/v1/clients/{client_id}/interactions", action="interaction.create",
                      entity="interaction", status=201, client_id=cid, json={"text": "Llamó para renovar"})
    assert rec["after"]["text"] == "Llamó para renovar" and ("client", cid) in rec["subjects"]
    _, rec = w.call("DELETE", "/v1/clients/{client_id}/interactions/{interaction_id}", action="interaction.delete",
                    entity="interaction", status=204, client_id=cid, interaction_id=out["id"])
    assert rec["after"] is None and rec["before"]["text"] == "Llamó para renovar"

    out, _ = w.call("POST", "/v1/clients/{client_id}/policies", action="support_policy.create", entity="support_policy",
                    status=201, client_id=cid, json={"product": "Dóminus", "starts_on": "2026-01-01", "ends_on": "2026-12-31"})
    _, rec = w.call("PATCH", "/v1/clients/{client_id}/policies/{policy_id}", action="support_policy.update",
                    entity="support_policy", client_id=cid, policy_id=out["id"], json={"ends_on": "2027-06-30"})
    assert rec["before"] == {"ends_on": "2026-12-31"} and rec["after"] == {"ends_on": "2027-06-30"}
    w.call("DELETE", "/v1/clients/{client_id}/policies/{policy_id}", action="support_policy.delete", entity="support_policy",
           status=204, client_id=cid, policy_id=out["id"])

    # ---- Ledger
    _, rec = w.call("POST", "/v1/transfers", action="ledger.transfer", entity="movement", status=201,
                    headers=_key(), json={"asset": "stamps", "target": {"type": "stamping_account", "id": cti},
                                          "quantity": 20, "amount_cents": 2320, "comments": "Venta"})
    sale = rec["entity_id"]
    assert rec["before"] is None and rec["after"]["quantity"] == 20 and rec["after"]["target_id"] == cti
    moved = {c["entity"]: (c["before"], c["after"]) for c in rec["changes"]}
    assert moved["account"] == ({"stamps_balance": 500}, {"stamps_balance": 480})
    assert moved["stamping_account"] == ({"balance": 0}, {"balance": 20})
    assert {("stamping_account", cti), ("client", cid)} <= rec["subjects"]

    bulk = [{"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 1}] * 3
    _, rec = w.call("POST", "/v1/transfers/bulk", action="ledger.bulk_transfer", entity="movement", status=201,
                    headers=_key(), json={"items": bulk})
    assert sum(c["entity"] == "movement" for c in rec["changes"]) == 2  # the main one + 2 others
    moved = {c["entity"]: (c["before"], c["after"]) for c in rec["changes"] if c["entity"] != "movement"}
    assert moved["account"] == ({"stamps_balance": 480}, {"stamps_balance": 477})

    _, rec = w.call("POST", "/v1/purchases", action="ledger.purchase", entity="movement", status=201,
                    headers=_key(), json={"package_id": "test_stamps_1", "quantity": 10})
    kinds = {c["entity"] for c in rec["changes"]}
    assert kinds == {"account", "charge"}

    # ---- Billing
    _, rec = w.call("POST", "/v1/invoices", action="invoice.create", entity="invoice", status=201,
                    json={"client_id": cid, "reference": "F-100", "movement_ids": [sale]})
    assert rec["after"]["reference"] == "F-100"
    assert [c["after"] for c in rec["changes"] if c["entity"] == "movement"] == [{"invoice_id": rec["entity_id"]}]

    out, rec = w.call("POST", "/v1/top-up-codes", action="top_up_code.create", entity="top_up_code", status=201,
                      headers=_key(), json={"asset": "stamps", "quantity": 5, "amount_cents": 500})
    code, nip = out["code"]["code"], out["code"]["nip"]
    w.secrets.add(nip)
    assert rec["after"]["nip"] == audit.SECRET_MARK and rec["after"]["code"] == code
    wrong = "0000" if nip != "0000" else "1111"
    _, rec = w.call("POST", "/v1/public/top-up-codes/redeem", action="top_up_code.redeem", entity="top_up_code",
                    status=401, public=True, json={"code": code, "nip": wrong, "stamping_account_id": cti})
    assert rec["after"]["failed_attempts"] == 1 and rec["account_id"] == actor.account_id
    _, rec = w.call("POST", "/v1/public/top-up-codes/redeem", action="top_up_code.redeem", entity="top_up_code",
                    public=True, json={"code": code, "nip": nip, "stamping_account_id": cti})
    assert rec["account_id"] == actor.account_id and rec["after"]["receiver_id"] == cti
    assert {("stamping_account", cti), ("client", cid)} <= rec["subjects"]

    out, _ = w.call("POST", "/v1/top-up-codes", action="top_up_code.create", entity="top_up_code", status=201,
                    headers=_key(), json={"asset": "points", "quantity": 7})
    w.secrets.add(out["code"]["nip"])
    _, rec = w.call("POST", "/v1/top-up-codes/{code_id}/cancel", action="top_up_code.cancel",
                    entity="top_up_code", code_id=out["code"]["id"])
    assert rec["after"]["receiver_type"] == "account"

    # ---- Contracts
    w.call("POST", "/v1/contracts", action="contract.create", entity="contract", status=201, headers=_key(),
           json={"code": "mkl_dominus"})
    _, rec = w.call("POST", "/v1/licenses", action="license.create", entity="license", status=201,
                    json={"client_id": cid, "product_code": "mkl_dominus", "count": 2})
    assert len(rec["changes"]) == 1 and ("client", cid) in rec["subjects"]

    # ---- Tools
    out, _ = w.call("POST", "/v1/price-packages", action="price_package.create", entity="price_package",
                    status=201, json={"quantity": 100, "price_cents": 9000})
    _, rec = w.call("PATCH", "/v1/price-packages/{package_id}", action="price_package.update", entity="price_package",
                    package_id=out["id"], json={"price_cents": 8500})
    assert rec["before"] == {"price_cents": 9000} and rec["after"] == {"price_cents": 8500}
    w.call("PATCH", "/v1/price-packages/{package_id}", action="price_package.update", entity="price_package",
           package_id=out["id"], json={"description": "Cien"})
    out2, _ = w.call("POST", "/v1/price-packages", action="price_package.create", entity="price_package",
                     status=201, json={"quantity": 500, "price_cents": 40000})
    _, rec = w.call("DELETE", "/v1/price-packages/{package_id}", action="price_package.delete", entity="price_package",
                    status=204, package_id=out2["id"])
    assert rec["after"] is None and rec["before"]["quantity"] == 500

    out, rec = w.call("POST", "/v1/users", action="user.add", entity="invitation", status=201,
                      json={"email": "vendedor@dist.mx", "mobile": "5570000002", "name": "Vendedor"})
    user = out["user"]["id"]  # pending: the invitation's id
    assert rec["entity_id"] == user and rec["after"]["role"] == "operator" and rec["after"]["profile_id"] is None
    _, rec = w.call("POST", "/v1/users/{profile_id}/resend-invitation", action="user.resend_invitation",
                    entity="invitation", profile_id=user)
    assert rec["before"]["sent_at"] < rec["after"]["sent_at"]
    [(_address, token)] = QueuedLinks(factory, "invitation")[-1:]
    w.secrets.add(token)
    _, rec = w.call("POST", "/v1/public/invitations/accept", action="user.accept_invitation", entity="invitation",
                    public=True, json={"token": token, "password": "VendedorClave2026"})
    w.secrets.add("VendedorClave2026")
    assert rec["account_id"] == actor.account_id and rec["before"]["accepted_at"] is None and rec["after"]["accepted_at"]
    user = rec["after"]["profile_id"]  # a member now, under their profile's id
    _, rec = w.call("PATCH", "/v1/users/{profile_id}", action="user.role", entity="profile", profile_id=user,
                    json={"role": "admin"})
    assert rec["before"] == {"membership.role": "operator"} and rec["after"] == {"membership.role": "admin"}
    _, rec = w.call("DELETE", "/v1/users/{profile_id}", action="user.remove", entity="profile", status=204, profile_id=user)
    assert rec["before"]["membership.role"] == "admin" and rec["after"]["membership.role"] is None

    with db.transaction(factory) as s:  # within the 30 days before its expiry: it may renew itself
        s.execute(update(Account).where(Account.id == actor.account_id)
                  .values(expires_at=utcnow() + dt.timedelta(days=10)))
    _, rec = w.call("POST", "/v1/account/renew", action="account.renew", entity="account", headers=_key())
    assert rec["entity_id"] == actor.account_id and rec["before"]["expires_at"] < rec["after"]["expires_at"]
    assert any(c["entity"] == "charge" for c in rec["changes"])

    _, rec = w.call("PATCH", "/v1/settings", action="settings.update", entity="settings",
                    json={"bulk_stamp_price_cents": 150, "auto_stamp_purchase": True})
    assert rec["before"] == {"bulk_stamp_price_cents": 0, "auto_stamp_purchase": False}

    # ---- Alerts
    _, rec = w.call("PUT", "/v1/alert-rules", action="alert_rule.save", entity="alert_rule",
                    json={"scope": "stamping_account", "scope_id": "ACME-2", "days_thresholds": [9]})
    rule = rec["entity_id"]
    assert rec["before"] is None and rec["after"]["days_thresholds"] == [9] and ("stamping_account", "ACME-2") in rec["subjects"]
    _, rec = w.call("PUT", "/v1/alert-rules", action="alert_rule.save", entity="alert_rule",
                    json={"scope": "stamping_account", "scope_id": "ACME-2", "enabled": False})
    assert rec["entity_id"] == rule and rec["before"]["enabled"] is True and rec["after"]["enabled"] is False
    made = make_client(factory, actor, name="Sin timbres")
    fund_cti(factory, actor, made["stamping_account"]["id"], 2)
    for _ in range(2):  # a CTI that runs out: alerts, made by the evaluator (not by a request)
        db.run(factory, ledger.consume, stamping_account_id=made["stamping_account"]["id"], emitter_rfc=RFC_MORAL,
               cfdi_uuid=str(uuid.uuid4()))
    with no_record(factory):
        while alerts.tick(factory).more:
            pass
    listed = w.client.get("/v1/alerts", headers=headers).json()["items"]
    assert listed, "no alerts to mark"
    _, rec = w.call("PATCH", "/v1/alerts/{alert_id}", action="alert.state", entity="alert", alert_id=listed[0]["id"],
                    json={"state": "seen"})
    assert rec["before"]["state"] == "new" and rec["after"]["state"] == "seen"
    assert ("stamping_account", made["stamping_account"]["id"]) in rec["subjects"]
    _, rec = w.call("POST", "/v1/alerts/state", action="alert.states", entity="alert",
                    json={"ids": [a["id"] for a in listed], "state": "resolved"})
    assert rec["after"]["state"] == "resolved"
    w.call("DELETE", "/v1/alert-rules/{rule_id}", action="alert_rule.delete", entity="alert_rule", status=204,
           rule_id=rule)

    # ---- Distributors
    body = {"email": "hijo@sub.mx", "mobile": "3300000001", "name": "Sub Uno", "rfc": RFC_MORAL}
    out, rec = w.call("POST", "/v1/distributors", action="distributor.create", entity="distributor", status=201,
                      json=body)
    sub = out["distributor"]["id"]
    assert rec["entity_id"] == sub and rec["after"]["status"] == "unvalidated"
    assert rec["after"]["confirmation.token"] == audit.SECRET_MARK
    w.secrets.add(outbox[-1][1])
    _, rec = w.call("POST", "/v1/distributors/{distributor_id}/resend-confirmation", action="distributor.resend_confirmation",
                    entity="distributor", distributor_id=sub)
    assert rec["entity_id"] == sub and rec["after"]["confirmation.token"] == audit.SECRET_MARK
    token = outbox[-1][1]
    w.secrets.add(token)
    _, rec = w.call("POST", "/v1/public/registrations/confirm", action="profile.confirm", entity="profile",
                    public=True, json={"token": token, "password": "HijoClave2026"})
    w.secrets.add("HijoClave2026")
    assert rec["account_id"] == actor.account_id and rec["after"]["email_confirmed_at"]
    assert rec["after"]["password"] == audit.SECRET_MARK
    assert ("distributor", sub) in rec["subjects"]
    for step, before, after in (
        ("activate", "inactive", "active"),
        ("suspend", "active", "suspended"),
        ("cancel", "suspended", "cancelled"),
        ("activate", "cancelled", "active"),
    ):
        _, rec = w.call("POST", "/v1/distributors/{distributor_id}/" + step, action=f"distributor.{step}", entity="distributor",
                        distributor_id=sub)
        assert rec["before"]["status"] == before and rec["after"]["status"] == after, rec
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == sub).values(expires_at=utcnow() - dt.timedelta(days=1)))
    _, rec = w.call("POST", "/v1/distributors/{distributor_id}/renew", action="distributor.renew", entity="distributor",
                    distributor_id=sub, headers=_key())
    # Stored as active with a past expiry (maintenance had not run): the status itself did not change.
    assert rec["before"]["expires_at"] < rec["after"]["expires_at"] and "status" not in rec["after"]
    assert any(c["entity"] == "charge" for c in rec["changes"])
    _, rec = w.call("POST", "/v1/clients/{client_id}/convert-to-distributor", action="distributor.convert",
                    entity="distributor", status=201, client_id=other,
                    json={"email": "beta@sub.mx", "mobile": "3300000002"})
    assert [c["after"] for c in rec["changes"] if c["entity"] == "client"] == [
        {"converted_account_id": rec["entity_id"]}
    ]

    nic = db.run(factory, lambda s: accounts.get_account(s, actor.account_id).nic)
    _, rec = w.call("POST", "/v1/public/registrations", action="distributor.register", entity="distributor",
                    status=202, public=True,
                    json={"referrer_nic": nic, "email": "web@nuevo.mx", "mobile": "3311112222",
                          "password": "WebClave2026", "name": "Juan Pérez", "rfc": RFC_FISICA})
    w.secrets.add("WebClave2026")
    assert rec["account_id"] == actor.account_id and rec["after"]["referred_by_nic"] == nic

    # ---- Every mutating route was walked (or is exempt, with its reason)
    expected = mutating_routes(app) - set(audit.EXEMPT)
    assert w.covered == expected, {"not walked": expected - w.covered, "unknown": w.covered - expected}
    assert set(audit.ACTIONS) == expected, {"without a label": expected - set(audit.ACTIONS)}

    # ---- No secret anywhere: the values used, and every stored hash, NIP and token
    with db.transaction(factory) as s:
        w.secrets.update(h for h in s.scalars(select(StampingAccount.password_hash)))
        w.secrets.update(h for h in s.scalars(select(Profile.password_hash)) if h)
        w.secrets.update(s.scalars(select(TopUpCode.nip)))
        w.secrets.update(s.scalars(select(LinkToken.token_hash)))
    assert assert_no_secrets(factory, w.secrets) >= len(w.covered)


def test_reads_and_exempt_routes_write_nothing(client, factory, auth_headers):
    actor = make_distributor(factory, email="nada@dist.mx", mobile="5570000003", password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 10)
    c = make_client(factory, actor)
    with no_record(factory):
        h = auth_headers("nada@dist.mx")
        refresh = client.post("/v1/auth/token", json={"login": "nada@dist.mx", "password": PASSWORD}).json()
        assert client.post("/v1/auth/refresh", json={"refresh_token": refresh["refresh_token"]}).status_code == 200
        for path in ("/v1/clients", "/v1/settings", "/v1/me", "/v1/movements", "/v1/sync/changes", "/v1/audit"):
            assert client.get(path, headers=h).status_code == 200, path
        assert client.post("/v1/contracts/quote", json={"code": "mkl_dominus"}, headers=h).status_code == 200
        # Stamping is not audited (each CFDI is its own record, in issued_cfdi).
        db.run(factory, lambda s: None)
        cti = c["stamping_account"]["id"]
        r = client.post(
            "/v1/stamping/consume",
            json={"emitter_rfc": RFC_MORAL, "cfdi_uuid": str(uuid.uuid4())},
            auth=(cti, c["password"]),
        )
        assert r.status_code == 409  # no stamps: refused, nothing written either way
        assert client.post("/v1/auth/logout", headers=h).status_code == 204
