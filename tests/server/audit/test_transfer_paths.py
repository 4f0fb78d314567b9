"""Transfers keep the rules of issues 15 and 18 on every path: the lane and the route's fast path on
PostgreSQL (`cmdesk_transfer`), the general path on both databases (the ORM transfer, the set-based
bulk, SQLite's bulk in steps).

- A suspended, cancelled or expired account is refused with the general path's status, code and
  words, and nothing moves.
- Each transfer, single or bulk, writes the one bitácora record the general path writes — the same
  action, route, device, address, reason, main entity, values before and after, changes and
  subjects — and a refusal or a replay writes none.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from cmdesk.domain.enums import Asset
from cmdesk.models import Account, Movement, utcnow
from cmdesk.server import db
from cmdesk.server.app import create_app
from cmdesk.server.settings import Settings
from tests.server.api.conftest import PASSWORD
from tests.server.audit.helpers import last_id, records_after
from tests.server.helpers import give, make_client, make_distributor
from tests.server.transfer_helpers import sub_distributor

DEVICE = "cmdesk/1.9 (CAJA-1; 77ab)"
REASON = "Recarga de fin de mes — lote 3"


def paths(db_kind: str) -> list[tuple[bool, bool]]:
    """(fast path, lane) of every path the database has."""
    return [(True, True), (True, False), (False, False)] if db_kind == "postgresql" else [(False, False)]


def app_client(engine: Engine, tmp_path: Path, fast: bool, lane: bool) -> TestClient:
    settings = Settings(
        database_url="sqlite://",
        software_store=tmp_path / "files",
        mail_sender=False,
        alerts_evaluator=False,
        transfer_fast_path=fast,
        transfer_lane=lane,
    )
    return TestClient(create_app(settings, engine=engine))


def world(factory: db.SessionFactory) -> dict[str, Any]:
    email = f"ruta-{uuid.uuid4().hex[:8]}@dist.mx"
    actor = make_distributor(factory, email=email, password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 60)
    give(factory, actor, Asset.POINTS, 40)
    made = make_client(factory, actor)
    return {
        "email": email,
        "actor": actor,
        "cti": made["stamping_account"]["id"],
        "client": made["client"]["id"],
        "sub": sub_distributor(factory, actor),
    }


def headers_of(client: TestClient, email: str) -> dict[str, str]:
    token = client.post("/v1/auth/token", json={"login": email, "password": PASSWORD}).json()["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "X-Cmdesk-Device": quote(DEVICE),
        "X-Cmdesk-Reason": quote(REASON),
    }


def requests_of(w: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    cti, client, sub = w["cti"], w["client"], w["sub"]
    sale = {
        "asset": "stamps",
        "target": {"type": "stamping_account", "id": cti},
        "quantity": 5,
        "amount_cents": 750,
        "comments": "Venta",
    }
    return [
        ("/v1/transfers", sale, "a"),
        ("/v1/transfers", sale, "a"),  # replayed: no second record
        ("/v1/transfers", {"asset": "points", "target": {"type": "client", "id": client}, "quantity": 2}, "b"),
        ("/v1/transfers", {"asset": "stamps", "target": {"type": "account", "id": sub}, "quantity": 3}, "c"),
        ("/v1/transfers", {**sale, "quantity": 10_000}, "d"),  # refused: no record
        (
            "/v1/transfers/bulk",
            {
                "items": [
                    {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 1},
                    {"asset": "points", "target": {"type": "account", "id": sub}, "quantity": 4},
                    {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 2},
                    {"asset": "points", "target": {"type": "client", "id": client}, "quantity": 1},
                    {"asset": "stamps", "target": {"type": "account", "id": sub}, "quantity": 6},
                ]
            },
            "e",
        ),
    ]


def normalized(records: list[dict[str, Any]], w: dict[str, Any]) -> list[dict[str, Any]]:
    """The records with each world's ids named alike, times and record ids left out."""
    names = {
        w["actor"].account_id: "<distribuidor>",
        w["actor"].profile_id: "<perfil>",
        w["cti"]: "<cti>",
        w["client"]: "<cliente>",
        w["sub"]: "<sub>",
    }
    out = []
    for rec in records:
        rec = {k: v for k, v in rec.items() if k not in ("id", "created_at")}
        rec["subjects"] = sorted([str(e), str(i)] for e, i in rec["subjects"])
        text = json.dumps(rec, sort_keys=True, default=str, ensure_ascii=False)
        for ident, name in names.items():
            text = text.replace(ident, name)
        text = re.sub(r"[0-9a-f]{32}", "<movimiento>", text)
        text = re.sub(r'"created_at": "[^"]+"', '"created_at": "<t>"', text)
        out.append(json.loads(text))
    return out


def test_every_path_writes_the_general_paths_record(
    engine: Engine, factory: db.SessionFactory, db_kind: str, tmp_path: Path
) -> None:
    seen = {}
    for fast, lane in paths(db_kind):
        w = world(factory)
        with app_client(engine, tmp_path, fast, lane) as client:
            headers = headers_of(client, w["email"])
            start = last_id(factory)
            statuses = []
            for path, body, key in requests_of(w):
                r = client.post(path, json=body, headers={**headers, "Idempotency-Key": f"{key}-{fast}{lane}"})
                statuses.append(r.status_code)
            assert statuses == [201, 201, 201, 201, 409, 201]
            seen[(fast, lane)] = normalized(records_after(factory, start), w)
    first, *others = seen.values()
    for other in others:
        assert other == first
    # What the general path writes (the reference), spelled out.
    sale, points, to_sub, bulk = first
    assert [r["action"] for r in first] == ["ledger.transfer"] * 3 + ["ledger.bulk_transfer"]
    assert [r["route"] for r in first] == ["POST /v1/transfers"] * 3 + ["POST /v1/transfers/bulk"]
    for rec in first:
        assert (rec["device"], rec["reason"], rec["ip"]) == (DEVICE, REASON, "testclient")
        assert rec["account_id"] == "<distribuidor>" and rec["profile_id"] == "<perfil>"
        assert rec["entity_type"] == "movement" and rec["before"] is None
    assert sale["after"] == {
        "id": "<movimiento>",
        "account_id": "<distribuidor>",
        "counterpart_account_id": None,
        "kind": "transfer",
        "asset": "stamps",
        "quantity": 5,
        "amount_cents": 750,
        "source_type": "account",
        "source_id": "<distribuidor>",
        "target_type": "stamping_account",
        "target_id": "<cti>",
        "client_id": "<cliente>",
        "comments": "Venta",
        "created_at": "<t>",
        "created_by": "<perfil>",
    }
    assert sale["changes"] == [
        {"entity": "account", "id": "<distribuidor>", "op": "update",
         "before": {"stamps_balance": 60}, "after": {"stamps_balance": 55}},
        {"entity": "stamping_account", "id": "<cti>", "op": "update",
         "before": {"balance": 0}, "after": {"balance": 5}},
    ]  # fmt: skip
    assert sale["subjects"] == sorted(
        [["account", "<distribuidor>"], ["client", "<cliente>"], ["movement", "<movimiento>"],
         ["stamping_account", "<cti>"]]
    )  # fmt: skip
    assert points["changes"][1] == {
        "entity": "client", "id": "<cliente>", "op": "update",
        "before": {"points_balance": 0}, "after": {"points_balance": 2},
    }  # fmt: skip
    assert to_sub["changes"][1]["entity"] == "distributor"
    assert ["distributor", "<sub>"] in to_sub["subjects"]
    # The bulk: the first movement is the main entity; the distributor's balances before the first and
    # after the last item, each target once (in the order they first appear), the other movements.
    assert bulk["after"]["quantity"] == 1 and bulk["after"]["target_id"] == "<cti>"
    entities = [(c["entity"], c["op"]) for c in bulk["changes"]]
    assert entities == [
        ("account", "update"), ("stamping_account", "update"), ("distributor", "update"),
        ("client", "update"),
    ] + [("movement", "create")] * 4  # fmt: skip
    account, cti, sub, client = bulk["changes"][:4]
    assert (account["before"], account["after"]) == (
        {"stamps_balance": 52, "points_balance": 38},
        {"stamps_balance": 43, "points_balance": 33},
    )
    assert (cti["before"], cti["after"]) == ({"balance": 5}, {"balance": 8})
    assert (sub["before"], sub["after"]) == (
        {"stamps_balance": 3, "points_balance": 0},
        {"stamps_balance": 9, "points_balance": 4},
    )
    assert (client["before"], client["after"]) == ({"points_balance": 2}, {"points_balance": 3})
    assert [c["after"]["quantity"] for c in bulk["changes"][4:]] == [4, 2, 1, 6]


BLOCKED = [
    ("suspended", {"status": "suspended"}, "suspendida"),
    ("cancelled", {"status": "cancelled", "cancelled_at": "past"}, "cancelada"),
    ("expired", {"status": "expired"}, "vencida"),
    ("expired by date", {"expires_at": "past"}, "vencida"),
]


@pytest.mark.parametrize(("name", "values", "word"), BLOCKED, ids=[b[0] for b in BLOCKED])
def test_a_blocked_account_is_refused_alike_on_every_path(
    engine: Engine,
    factory: db.SessionFactory,
    db_kind: str,
    tmp_path: Path,
    name: str,
    values: dict[str, Any],
    word: str,
) -> None:
    answers = {}
    for fast, lane in paths(db_kind):
        w = world(factory)
        account_id = w["actor"].account_id
        with app_client(engine, tmp_path, fast, lane) as client:
            headers = headers_of(client, w["email"])
            single, *_ = requests_of(w)
            # The worker knows the token now (the lane's token cache), and the account is fine.
            assert client.post("/v1/transfers", json=single[1], headers={**headers, "Idempotency-Key": "ok"}).status_code == 201
            changed = {k: (utcnow() - dt.timedelta(minutes=1) if v == "past" else v) for k, v in values.items()}
            with db.transaction(factory) as s:
                s.execute(update(Account).where(Account.id == account_id).values(**changed))
            start = last_id(factory)
            got = []
            for path, body, key in requests_of(w)[2:]:
                r = client.post(path, json=body, headers={**headers, "Idempotency-Key": key})
                problem = r.json()
                assert word in problem["detail"], problem
                got.append((r.status_code, r.headers["content-type"], problem["code"], problem["title"],
                            problem.get("account_status")))  # fmt: skip
            assert records_after(factory, start) == []
            with db.transaction(factory) as s:
                moved = s.scalar(select(func.count()).select_from(Movement).where(
                    Movement.account_id == account_id, Movement.kind == "transfer"))
            assert moved == 1  # only the transfer made before
            answers[(fast, lane)] = got
    first, *others = answers.values()
    assert all(other == first for other in others)
    assert {a[:4] for a in first} == {(403, "application/problem+json", "account_blocked", "Cuenta bloqueada")}
    assert {a[4] for a in first} == ({"expired"} if word == "vencida" else {None})


def test_no_charge_and_the_sale_of_zero_alike_on_every_path(
    engine: Engine, factory: db.SessionFactory, db_kind: str, tmp_path: Path
) -> None:
    """Issue 14 on every path (the lane, the fast path, the general path; SQLite's bulk in steps): a
    sale of $0.00 (`no_charge` false) is refused with `sale_amount_required` and «Sin cargo» with an
    amount with 422, moving nothing and writing no record, and the refusal stays with its key; «Sin
    cargo», a sale and an older client's $0.00 transfer are applied, one record each, replayed alike."""
    answers = {}
    for fast, lane in paths(db_kind):
        w = world(factory)
        account_id = w["actor"].account_id
        stamps = {"asset": "stamps", "target": {"type": "stamping_account", "id": w["cti"]}, "quantity": 2}
        points = {"asset": "points", "target": {"type": "client", "id": w["client"]}, "quantity": 1}
        with app_client(engine, tmp_path, fast, lane) as client:
            headers = headers_of(client, w["email"])

            def post(path: str, body: dict[str, Any], key: str) -> tuple[int, str | None, Any]:
                r = client.post(path, json=body, headers={**headers, "Idempotency-Key": key})  # noqa: B023
                got = r.json()
                if r.status_code >= 400:
                    return r.status_code, got["code"], sorted(e["field"] for e in got.get("errors", []))
                movements = got.get("movements", [got])
                return r.status_code, None, [(m["quantity"], m["amount_cents"]) for m in movements]

            start = last_id(factory)
            refused = [
                post("/v1/transfers", {**stamps, "amount_cents": 0, "no_charge": False}, "zero"),
                post("/v1/transfers", {**stamps, "amount_cents": 0, "no_charge": False}, "zero"),  # kept
                post("/v1/transfers", {**points, "amount_cents": 300, "no_charge": True}, "charged"),
                post(
                    "/v1/transfers/bulk",
                    {
                        "items": [
                            {**stamps, "no_charge": True},
                            {**points, "amount_cents": 0, "no_charge": False},
                        ]
                    },
                    "bulk-zero",
                ),
                post(
                    "/v1/transfers/bulk",
                    {"items": [{**stamps, "amount_cents": 5, "no_charge": True}]},
                    "bulk-c",
                ),
            ]
            assert records_after(factory, start) == []
            with db.transaction(factory) as s:
                moved = s.scalar(
                    select(func.count()).select_from(Movement).where(Movement.account_id == account_id)
                )
            assert moved == 2  # the two grants of `world`
            bulk_ok = {
                "items": [{**stamps, "no_charge": True}, {**points, "amount_cents": 10, "no_charge": False}]
            }
            applied = [
                post("/v1/transfers", {**stamps, "no_charge": True}, "free"),
                post("/v1/transfers", {**stamps, "no_charge": True}, "free"),  # replayed
                post("/v1/transfers", {**stamps, "amount_cents": 0}, "free"),  # another request: 409
                post("/v1/transfers", {**points, "amount_cents": 450, "no_charge": False}, "sale"),
                post("/v1/transfers", stamps, "older"),  # no `no_charge`: $0.00 reads as no charge
                post("/v1/transfers/bulk", bulk_ok, "bulk-ok"),
                post("/v1/transfers/bulk", bulk_ok, "bulk-ok"),  # replayed
            ]
            records = records_after(factory, start)
            assert [r["action"] for r in records] == ["ledger.transfer"] * 3 + ["ledger.bulk_transfer"]
            assert [r["after"]["amount_cents"] for r in records] == [0, 450, 0, 0]
            answers[(fast, lane)] = (refused, applied)
    first, *others = answers.values()
    assert all(other == first for other in others)
    refused, applied = first
    assert refused == [
        (422, "sale_amount_required", ["amount_cents"]),
        (422, "sale_amount_required", ["amount_cents"]),
        (422, "validation_error", ["amount_cents"]),
        (422, "sale_amount_required", ["items[1].amount_cents"]),
        (422, "validation_error", ["items[0].amount_cents"]),
    ]
    assert applied == [
        (201, None, [(2, 0)]),
        (201, None, [(2, 0)]),
        (409, "idempotency_key_reused", []),
        (201, None, [(1, 450)]),
        (201, None, [(2, 0)]),
        (201, None, [(2, 0), (1, 10)]),
        (201, None, [(2, 0), (1, 10)]),
    ]
