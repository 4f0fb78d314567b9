"""Alerts, alert rules and the renewal calendar over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import icalendar

from cmdesk.domain import usage
from cmdesk.domain.enums import Asset
from cmdesk.server import db
from cmdesk.server.operations import alerts, clients, ledger
from tests.server.helpers import RFC_MORAL, fund_cti, give, make_client, make_distributor

EMAIL = "alertas@dist.mx"


def crossed(factory):
    """A distributor whose one CTI ran out (two alerts: ≤ 7 days and empty)."""
    actor = make_distributor(factory, email=EMAIL, mobile="5544445555")
    give(factory, actor, Asset.STAMPS, 10_000)  # the distributor's own stock is far from running out
    made = make_client(factory, actor, name="Papelería Sol")
    cti = made["stamping_account"]["id"]
    fund_cti(factory, actor, cti, 3)
    for _ in range(3):
        db.run(factory, ledger.consume, stamping_account_id=cti, emitter_rfc=RFC_MORAL, cfdi_uuid=str(uuid.uuid4()))
    while alerts.tick(factory).more:
        pass
    return actor, made["client"]["id"], cti


def test_list_read_and_mark_alerts(client, auth_headers, factory):
    _, client_id, cti = crossed(factory)
    h = auth_headers(EMAIL)
    listed = client.get("/v1/alerts", headers=h).json()
    assert len(listed["items"]) == 2 and listed["next_cursor"] is None
    first = listed["items"][0]
    assert first["subject"] == {"type": "stamping_account", "id": cti} and first["client_id"] == client_id
    assert first["state"] == "new" and first["title"].startswith("Papelería Sol: la cuenta de timbrado")
    page = client.get("/v1/alerts", params={"limit": 1}, headers=h).json()
    rest = client.get("/v1/alerts", params={"limit": 1, "cursor": page["next_cursor"]}, headers=h).json()
    assert [a["id"] for a in page["items"] + rest["items"]] == [a["id"] for a in listed["items"]]
    one = client.get(f"/v1/alerts/{first['id']}", headers=h).json()
    assert one == first
    seen = client.patch(f"/v1/alerts/{first['id']}", json={"state": "seen"}, headers={**h, "If-Match": "1"})
    assert seen.status_code == 200 and seen.json()["state"] == "seen"
    stale = client.patch(f"/v1/alerts/{first['id']}", json={"state": "resolved"}, headers={**h, "If-Match": "1"})
    assert stale.status_code == 412 and stale.json()["current"]["state"] == "seen"
    bad = client.patch(f"/v1/alerts/{first['id']}", json={"state": "archivada"}, headers=h)
    assert bad.status_code == 422
    ids = [a["id"] for a in listed["items"]]
    done = client.post("/v1/alerts/state", json={"ids": ids, "state": "resolved"}, headers=h)
    assert done.status_code == 200 and {a["state"] for a in done.json()["items"]} == {"resolved"}
    assert client.get("/v1/alerts", params={"state": "new"}, headers=h).json()["items"] == []
    missing = client.post("/v1/alerts/state", json={"ids": [*ids, "x" * 32], "state": "seen"}, headers=h)
    assert missing.status_code == 404
    # The desktop mirrors them offline.
    feed = client.get("/v1/sync/changes", params={"limit": 1000}, headers=h).json()
    mirrored = {c["id"]: c["data"] for c in feed["changes"] if c["entity"] == "alert"}
    assert set(mirrored) == set(ids) and {a["state"] for a in mirrored.values()} == {"resolved"}
    counts = client.get("/v1/sync/counts", headers=h).json()
    assert counts["alert"] == 2


def test_rules_over_http(client, auth_headers, factory):
    _, client_id, cti = crossed(factory)
    h = auth_headers(EMAIL)
    rules = client.get("/v1/alert-rules", headers=h).json()
    assert rules["items"] == []
    assert rules["effective"]["account"]["days_thresholds"] == [7]
    assert rules["effective"]["account"]["daily_cap"] == alerts.DEFAULT_DAILY_CAP
    assert rules["effective"]["own_balance"]["days_thresholds"] == [15]
    saved = client.put(
        "/v1/alert-rules",
        json={"scope": "client", "scope_id": client_id, "days_thresholds": [15, 3], "notify_client": True},
        headers=h,
    )
    assert saved.status_code == 200, saved.text
    rule = saved.json()
    assert rule["days_thresholds"] == [3, 15] and rule["balance_thresholds"] == [0] and rule["stored"]
    changed = client.put(
        "/v1/alert-rules", json={"scope": "client", "scope_id": client_id, "enabled": False}, headers={**h, "If-Match": "1"}
    )
    assert changed.status_code == 200 and changed.json()["enabled"] is False and changed.json()["days_thresholds"] == [3, 15]
    stale = client.put("/v1/alert-rules", json={"scope": "client", "scope_id": client_id}, headers={**h, "If-Match": "1"})
    assert stale.status_code == 412
    bad = client.put("/v1/alert-rules", json={"scope": "account", "client_message": "Hola {quien}"}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "client_message"
    unknown = client.put("/v1/alert-rules", json={"scope": "account", "umbral": 3}, headers=h)
    assert unknown.status_code == 422
    cap = client.put("/v1/alert-rules", json={"scope": "client", "scope_id": client_id, "daily_cap": 5}, headers=h)
    assert cap.status_code == 422
    nobody = client.put("/v1/alert-rules", json={"scope": "stamping_account", "scope_id": "NO-EXISTE"}, headers=h)
    assert nobody.status_code == 404
    assert client.delete(f"/v1/alert-rules/{rule['id']}", headers=h).status_code == 204
    assert client.delete(f"/v1/alert-rules/{rule['id']}", headers=h).status_code == 404
    assert cti


def test_calendar_json_and_ics(client, auth_headers, factory):
    actor = make_distributor(factory, email=EMAIL, mobile="5544445555")
    give(factory, actor, Asset.POINTS, 5000)
    from cmdesk.server.operations import contracts, unlimited

    db.run(factory, contracts.contract, actor, "mkl_dominus")
    client_id = make_client(factory, actor, name="Taller Ruiz")["client"]["id"]
    cti = db.run(factory, clients.create_stamping_account, actor, client_id, kind="unlimited", password="Timbrado2026")["id"]
    db.run(factory, unlimited.pay_unlimited_fee, actor, cti, payer="account")
    h = auth_headers(EMAIL)
    cal = client.get("/v1/calendar", headers=h).json()
    kinds = [i["kind"] for i in cal["items"]]
    assert sorted(kinds) == ["account", "contract", "unlimited_fee"]
    by_kind = {i["kind"]: i for i in cal["items"]}
    assert by_kind["contract"]["amount_cents"] == 214600  # MKL Dóminus, a full year with IVA
    assert by_kind["account"]["amount_cents"] == 348000
    assert by_kind["unlimited_fee"]["points"] == 1500 and "Taller Ruiz" in by_kind["unlimited_fee"]["title"]
    assert cal["total_cents"] == 214600 + 348000 + 150000
    assert cal["from"] == usage.mx_day(dt.datetime.now(dt.UTC)).isoformat()
    r = client.get("/v1/calendar.ics", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    parsed = icalendar.Calendar.from_ical(r.content)
    events = {str(e["uid"]): e for e in parsed.walk("VEVENT")}
    assert {uid: e.decoded("dtstart") for uid, e in events.items()} == {
        i["uid"]: dt.date.fromisoformat(i["date"]) for i in cal["items"]
    }
    assert client.get("/v1/calendar", params={"months": 0}, headers=h).status_code == 422
    assert client.get("/v1/calendar.ics").status_code == 401
