"""The recorder's promises: a rolled-back operation writes nothing (rejections, failures after the rows
were flushed, a retried transaction, a savepoint); a replayed request writes no second record; the
device and reason headers; and the SQL-level writes fast paths use."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import Client
from cmdesk.server import audit, db
from cmdesk.server.operations import clients
from tests.server.audit.helpers import no_record, one_record, records_after
from tests.server.helpers import give, make_client, make_distributor

PASSWORD = "secreto123"


@pytest.fixture
def dist(factory, client, auth_headers):
    actor = make_distributor(factory, email="rec@dist.mx", mobile="5571000001", password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 10)
    made = make_client(factory, actor, name="Gamma")
    return actor, auth_headers("rec@dist.mx"), made


def _transfer(cti: str, quantity: int) -> dict:
    return {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": quantity}


def test_rejected_operations_write_nothing(client, factory, dist):
    _actor, h, made = dist
    cti, cid = made["stamping_account"]["id"], made["client"]["id"]
    with no_record(factory):
        r = client.post("/v1/transfers", json=_transfer(cti, 11), headers={**h, "Idempotency-Key": "a"})
        assert r.status_code == 409 and r.json()["code"] == "insufficient_balance"
        # All or nothing: the third item fails after two were applied and flushed.
        items = [_transfer(cti, 2), _transfer(cti, 2), _transfer("NO-EXISTE", 1)]
        r = client.post("/v1/transfers/bulk", json={"items": items}, headers={**h, "Idempotency-Key": "b"})
        assert r.status_code == 404
        r = client.patch(f"/v1/clients/{cid}", json={"name": "Otro"}, headers={**h, "If-Match": "99"})
        assert r.status_code == 412
        r = client.post("/v1/clients", json={"name": "Sin RFC"}, headers=h)
        assert r.status_code == 422
    with db.transaction(factory) as s:
        assert s.get(Client, cid).name == "Gamma"  # type: ignore[union-attr]


def test_a_failure_after_the_rows_were_flushed_writes_nothing(client, factory, dist, monkeypatch):
    _, h, made = dist
    cid = made["client"]["id"]

    def fail(*_a, **_k):
        raise DomainError(ErrorCode.DUPLICATE, "Falla a propósito, después de escribir.")

    monkeypatch.setattr(clients, "views_for", fail)  # runs after update_client's flush
    with no_record(factory):
        r = client.patch(f"/v1/clients/{cid}", json={"name": "Escrito y deshecho"}, headers=h)
        assert r.status_code == 409
    with db.transaction(factory) as s:
        assert s.get(Client, cid).name == "Gamma"  # type: ignore[union-attr]


def test_a_retried_transaction_writes_one_record(factory, dist):
    actor, _, made = dist
    cid = made["client"]["id"]
    attempts = []

    def edit(session, name):
        session.get(Client, cid).name = name
        session.flush()
        attempts.append(name)
        if len(attempts) == 1:  # the first attempt loses a race after writing
            raise OperationalError("UPDATE", {}, Exception("database is locked"))

    with one_record(factory, action="test.edit", entity="client") as w, audit.context(
        "test.edit", entity="client", account_id=actor.account_id, profile_id=actor.profile_id
    ):
        db.run(factory, edit, "Delta")
    assert len(attempts) == 2
    assert w.record["before"] == {"name": "Gamma"} and w.record["after"] == {"name": "Delta"}


def test_a_rolled_back_savepoint_takes_its_changes_with_it(factory, dist):
    actor, _, made = dist
    cid = made["client"]["id"]
    other = make_client(factory, actor, name="Epsilon")["client"]["id"]
    with one_record(factory, action="test.savepoint") as w, audit.context(
        "test.savepoint", account_id=actor.account_id
    ), db.transaction(factory) as s:
        try:
            with s.begin_nested():
                s.get(Client, other).name = "Deshecho"
                s.flush()
                raise RuntimeError("rollback to the savepoint")
        except RuntimeError:
            pass
        with s.begin_nested():
            s.get(Client, cid).comments = "Guardado"
    rec = w.record
    assert (rec["entity_type"], rec["entity_id"]) == ("client", cid) and rec["changes"] is None
    assert ("client", other) not in rec["subjects"]


def test_a_replayed_request_writes_no_second_record(client, factory, dist):
    _, h, made = dist
    cti = made["stamping_account"]["id"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with one_record(factory, action="ledger.transfer"):
        first = client.post("/v1/transfers", json=_transfer(cti, 1), headers={**h, **key})
    with no_record(factory):
        again = client.post("/v1/transfers", json=_transfer(cti, 1), headers={**h, **key})
    assert first.json() == again.json()


def test_device_and_reason_headers(client, factory, dist):
    _, h, made = dist
    cid = made["client"]["id"]
    with one_record(factory) as w:
        r = client.patch(
            f"/v1/clients/{cid}",
            json={"other": {"comments": "a"}},
            headers={**h, "User-Agent": "script/2.0", "X-Cmdesk-Reason": "  lo%20pidi%C3%B3   el%09cliente%0A"},
        )
        assert r.status_code == 200, r.text
    assert w.record["device"] == "script/2.0" and w.record["reason"] == "lo pidió el cliente"
    with one_record(factory) as w:
        long_device = quote("Ñ" * 300)
        assert client.patch(
            f"/v1/clients/{cid}", json={"other": {"comments": "b"}}, headers={**h, "X-Cmdesk-Device": long_device}
        ).status_code == 200
    assert w.record["device"] == "Ñ" * 200 and w.record["reason"] == ""
    with no_record(factory):
        for bad in ("%FF%FE", quote("x" * 501)):
            r = client.patch(f"/v1/clients/{cid}", json={"other": {"comments": "c"}}, headers={**h, "X-Cmdesk-Reason": bad})
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["field"] == "X-Cmdesk-Reason"
    with db.transaction(factory) as s:
        assert s.get(Client, cid).comments == "b"  # type: ignore[union-attr]


def test_write_record_for_fast_paths(factory, dist):
    actor, _, made = dist
    cti = made["stamping_account"]["id"]
    with one_record(factory, action="ledger.transfer", entity="movement") as w, db.transaction(factory) as s:
        audit.write_record(
            s,
            account_id=actor.account_id,
            profile_id=actor.profile_id,
            action="ledger.transfer",
            route="POST /v1/transfers",
            entity_type="movement",
            entity_id="m1",
            after={"quantity": 3, "password_hash": "$argon2id$x"},
            changes=[{"entity": "stamping_account", "id": cti, "op": "update", "before": {"balance": 0},
                      "after": {"balance": 3}}],
            subjects=[("stamping_account", cti)],
        )
    rec = w.record
    assert rec["after"] == {"quantity": 3, "password": "***"}
    assert rec["subjects"] == {("movement", "m1"), ("stamping_account", cti)}
    assert rec["changes"][0]["after"] == {"balance": 3}


@pytest.mark.postgres_only
def test_the_sql_function_writes_the_same_record(factory, dist, db_kind):
    actor, _, made = dist
    cti = made["stamping_account"]["id"]
    ctx = audit.AuditContext(
        action="ledger.transfer", method="POST", route="/v1/transfers", device="pc", ip="10.0.0.1",
        reason="por contrato", account_id=actor.account_id, profile_id=actor.profile_id,
    )
    args = audit.sql_arguments(
        ctx, entity_type="movement", entity_id="m2", after={"quantity": 4, "nip": "AB12"},
        changes=[{"entity": "account", "id": actor.account_id, "op": "update", "before": {"stamps_balance": 10},
                  "after": {"stamps_balance": 6}}],
        subjects=[("stamping_account", cti), ("client", made["client"]["id"])],
    )
    assert "AB12" not in json.dumps(args)
    with one_record(factory, action="ledger.transfer", entity="movement") as w, db.transaction(factory) as s:
        record_id = s.execute(text(audit.AUDIT_CALL_SQL), args).scalar_one()
    rec = w.record
    assert rec["id"] == record_id and rec["route"] == "POST /v1/transfers" and rec["reason"] == "por contrato"
    assert rec["after"] == {"quantity": 4, "nip": "***"} and rec["device"] == "pc"
    assert rec["subjects"] == {("movement", "m2"), ("stamping_account", cti), ("client", made["client"]["id"])}
    assert rec["changes"][0]["after"] == {"stamps_balance": 6}


def test_operations_without_a_context_are_not_recorded(factory, dist):
    actor, _, made = dist
    with no_record(factory):
        db.run(factory, clients.update_client, actor, made["client"]["id"], {"name": "Sin bitácora"})
    assert records_after(factory, 0) == []
    with db.transaction(factory) as s:
        assert s.scalar(select(Client.name).where(Client.id == made["client"]["id"])) == "Sin bitácora"


def test_maintenance_writes_one_record_per_parent(factory):
    """The CLI's maintenance (a system job over many accounts): each parent's bitácora gets the state
    changes of its own sub-distributors, with no profile."""
    import datetime as dt

    from sqlalchemy import update

    from cmdesk.domain.enums import AccountStatus
    from cmdesk.models import Account, utcnow
    from cmdesk.server.operations import accounts, maintenance

    parents = [make_distributor(factory) for _ in range(2)]
    subs = []
    for i, parent in enumerate(parents):
        with db.transaction(factory) as s:
            out = accounts.create_distributor(
                s, name=f"Hija {i}", email=f"hija{i}@m.mx", mobile=f"33750000{i:02d}", password=None,
                parent_id=parent.account_id, status=AccountStatus.ACTIVE,
            )
            s.execute(
                update(Account).where(Account.id == out["account"]["id"]).values(expires_at=utcnow() - dt.timedelta(days=1))
            )
        subs.append(out["account"]["id"])
    start = records_after(factory, 0)
    with audit.context("distributor.maintenance", entity="distributor", per_owner=True):
        assert db.run(factory, maintenance.run_maintenance)["expired"] == 2
    written = records_after(factory, len(start) and start[-1]["id"])
    assert sorted((r["account_id"], r["entity_id"]) for r in written) == sorted(
        (p.account_id, s) for p, s in zip(parents, subs, strict=True)
    )
    for r in written:
        assert r["profile_id"] is None and r["entity_type"] == "distributor"
        assert r["before"] == {"status": "active"} and r["after"] == {"status": "expired"}
