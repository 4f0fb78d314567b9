"""Transfers over HTTP answer the same through every path: the lane (before FastAPI's routing), the route
on the fast path, and the general path (`transfer_fast_path` off).

The same sequence of requests goes to three apps on PostgreSQL, each with its own distributor: every
status and body must match once the ids of each world are named alike, and the lane must have
answered the plain requests itself.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cmdesk.domain.enums import Asset
from cmdesk.server import db
from cmdesk.server.api import transfer_lane
from cmdesk.server.app import create_app
from cmdesk.server.settings import Settings
from tests.server.api.conftest import PASSWORD
from tests.server.helpers import give, make_client, make_distributor

JSON = b"application/json"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"asset": "stamps", "target": {"type": "stamping_account", "id": "C1"}, "quantity": 3}',
            {
                "asset": "stamps",
                "target": {"type": "stamping_account", "id": "C1"},
                "quantity": 3,
                "amount_cents": 0,
                "comments": "",
                "no_charge": None,
            },
        ),
        (
            b'{"asset": "points", "target": {"id": "K", "type": "client"}, "quantity": 1,'
            b' "amount_cents": 250, "comments": "mes"}',
            {
                "asset": "points",
                "target": {"type": "client", "id": "K"},
                "quantity": 1,
                "amount_cents": 250,
                "comments": "mes",
                "no_charge": None,
            },
        ),
        (
            b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 1, "no_charge": true}',
            {
                "asset": "stamps",
                "target": {"type": "client", "id": "K"},
                "quantity": 1,
                "amount_cents": 0,
                "comments": "",
                "no_charge": True,
            },
        ),
        # «Sin cargo» must be a JSON boolean or null: anything else is the route's to judge.
        (
            b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 1, "no_charge": 1}',
            None,
        ),
        (
            b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 1, "no_charge": "true"}',
            None,
        ),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": "3"}', None),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 3.0}', None),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": true}', None),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 0}', None),
        (b'{"asset": "gold", "target": {"type": "client", "id": "K"}, "quantity": 1}', None),
        (b'{"asset": "stamps", "target": {"type": "catalog", "id": "K"}, "quantity": 1}', None),
        (b'{"asset": "stamps", "target": {"type": "client", "id": ""}, "quantity": 1}', None),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K\\u0000"}, "quantity": 1}', None),
        (
            b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 1, "comments": "\\ud800"}',
            None,
        ),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K\\u0085"}, "quantity": 1}', None),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K", "x": 1}, "quantity": 1}', None),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 1, "extra": 1}', None),
        (
            b'{"asset": "stamps", "target": {"type": "client", "id": "K"}, "quantity": 1, "amount_cents": -1}',
            None,
        ),
        (b'{"asset": "stamps", "target": {"type": "client", "id": "K"}}', None),
        (b"[1]", None),
        (b"{no", None),
    ],
)
def test_bodies_the_lane_takes(body: bytes, expected: Any) -> None:
    assert transfer_lane.parse_transfer([(b"content-type", JSON)], body) == expected


def test_headers_the_lane_takes() -> None:
    assert transfer_lane.bearer_token([(b"authorization", b"Bearer abc.def.ghi")]) == "abc.def.ghi"
    assert transfer_lane.bearer_token([(b"authorization", b"Basic abc")]) is None
    assert transfer_lane.bearer_token([]) is None
    assert transfer_lane.idempotency_key([(b"idempotency-key", b" k-1 ")]) == "k-1"
    assert transfer_lane.idempotency_key([(b"idempotency-key", b"con espacio")]) is None
    assert transfer_lane.idempotency_key([(b"idempotency-key", b"x" * 65)]) is None
    assert transfer_lane.idempotency_key([]) is None


def scenario(factory: db.SessionFactory, n: int) -> dict[str, str]:
    email = f"lane{n}-{uuid.uuid4().hex[:6]}@example.com"
    actor = make_distributor(factory, email=email, password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 50)
    give(factory, actor, Asset.POINTS, 5)
    c = make_client(factory, actor)
    return {
        "email": email,
        "account": actor.account_id,
        "profile": actor.profile_id,
        "cti": c["stamping_account"]["id"],
        "client": c["client"]["id"],
    }


def requests_of(w: dict[str, str]) -> list[tuple[str, dict[str, Any] | str, str | None, str, bool]]:
    """(path, body, Idempotency-Key, which token, plain): `plain`, the lane answers it itself."""
    cti, client = w["cti"], w["client"]
    ok = {
        "asset": "stamps",
        "target": {"type": "stamping_account", "id": cti},
        "quantity": 5,
        "amount_cents": 750,
    }
    return [
        ("/v1/transfers", ok, "k1", "good", True),
        ("/v1/transfers", ok, "k1", "good", True),  # replayed
        ("/v1/transfers", {**ok, "quantity": 6}, "k1", "good", True),  # 409 reused
        ("/v1/transfers", {**ok, "quantity": 500}, "k2", "good", True),  # 409 insufficient, stored
        ("/v1/transfers", {**ok, "quantity": 500}, "k2", "good", True),  # the stored refusal
        (
            "/v1/transfers",
            {**ok, "target": {"type": "stamping_account", "id": "NO-EXISTE"}},
            "k3",
            "good",
            True,
        ),
        ("/v1/transfers", {**ok, "asset": "points"}, "k4", "good", False),  # 422 by the general path
        (
            "/v1/transfers",
            {"asset": "points", "target": {"type": "client", "id": client}, "quantity": 1},
            "k5",
            "good",
            True,
        ),
        ("/v1/transfers", {**ok, "quantity": "2"}, "k6", "good", False),  # 422: strict input (issue 15)
        ("/v1/transfers", ok, None, "good", False),  # 422: the key is required
        ("/v1/transfers", ok, "k7", "bad", False),  # 401
        ("/v1/transfers", ok, "k8", "none", False),  # 401
        ("/v1/transfers", {**ok, "extra": 1}, "k9", "good", False),  # 422
        ("/v1/transfers", "no es json", "k10", "good", False),  # 422
        ("/v1/transfers/bulk", {"items": [ok, {**ok, "quantity": 1}]}, "b1", "good", False),
        ("/v1/transfers/bulk", {"items": [ok, {**ok, "quantity": 100}]}, "b2", "good", False),
        ("/v1/transfers", ok, "k11", "logged_out", True),  # 401: the session ended
        # Issue 14: «Sin cargo» or a sale with an amount. A sale of $0.00 (or «Sin cargo» with an amount)
        # is handed to the general path, which refuses it and keeps the refusal with the key.
        ("/v1/transfers", {**ok, "amount_cents": 0, "no_charge": False}, "n1", "good", False),  # 422
        ("/v1/transfers", {**ok, "amount_cents": 0, "no_charge": False}, "n1", "good", False),  # stored
        ("/v1/transfers", {**ok, "no_charge": True}, "n2", "good", False),  # 422
        ("/v1/transfers", {**ok, "no_charge": 1}, "n3", "good", False),  # 422: strict input
        ("/v1/transfers", {**ok, "amount_cents": 0, "no_charge": True}, "n4", "good", True),  # 201
        ("/v1/transfers", {**ok, "amount_cents": 0, "no_charge": True}, "n4", "good", True),  # replayed
        ("/v1/transfers", {**ok, "amount_cents": 0}, "n4", "good", True),  # 409: another request
        ("/v1/transfers", {**ok, "no_charge": False}, "n5", "good", True),  # 201: a sale
        (
            "/v1/transfers/bulk",
            {
                "items": [
                    {**ok, "amount_cents": 0, "no_charge": True},
                    {**ok, "amount_cents": 0, "no_charge": False},
                ]
            },
            "b3",
            "good",
            False,
        ),  # 422 sale_amount_required, items[1]
        (
            "/v1/transfers/bulk",
            {"items": [{**ok, "amount_cents": 0, "no_charge": True}]},
            "b4",
            "good",
            False,
        ),
    ]


def normalize(text: str, w: dict[str, str]) -> str:
    text = json.dumps(json.loads(text), separators=(",", ":")) if text.startswith("{") else text
    for name in ("account", "profile", "cti", "client"):
        text = text.replace(w[name], f"<{name}>")
    text = re.sub(r'"id":"[0-9a-f]{32}"', '"id":"<movement>"', text)
    return re.sub(r'"created_at":"[^"]+"', '"created_at":"<t>"', text)


def run(client: TestClient, w: dict[str, str]) -> list[tuple[int, Any]]:
    tokens = {}
    for name in ("good", "logged_out"):
        r = client.post("/v1/auth/token", json={"login": w["email"], "password": PASSWORD})
        tokens[name] = r.json()["access_token"]
    tokens["bad"] = tokens["good"][:-3] + "abc"
    first = client.post(
        "/v1/transfers",
        json={"asset": "stamps", "target": {"type": "stamping_account", "id": w["cti"]}, "quantity": 1},
        headers={"Authorization": f"Bearer {tokens['logged_out']}", "Idempotency-Key": "warm"},
    )
    assert first.status_code == 201  # the token is known to the worker now ...
    assert (
        client.post(
            "/v1/auth/logout", headers={"Authorization": f"Bearer {tokens['logged_out']}"}
        ).status_code
        == 204
    )
    answers = []
    for path, body, key, token, _plain in requests_of(w):
        headers = {"Content-Type": "application/json"}
        if token != "none":
            headers["Authorization"] = f"Bearer {tokens[token]}"
        if key is not None:
            headers["Idempotency-Key"] = key
        content = body if isinstance(body, str) else json.dumps(body)
        r = client.post(path, content=content, headers=headers)
        kind = r.headers.get("content-type", "").split(";")[0]
        answers.append((r.status_code, kind, normalize(r.text, w), r.headers.get("www-authenticate")))
    return answers


@pytest.mark.postgres_only
def test_every_path_answers_alike(
    engine: Engine, factory: db.SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passed: list[str] = []
    original = transfer_lane.TransferLane.__init__

    def counting(self: Any, app: Any, **kw: Any) -> None:
        async def inner(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] == "/v1/transfers":
                passed.append(scope["path"])
            await app(scope, receive, send)

        original(self, inner, **kw)

    monkeypatch.setattr(transfer_lane.TransferLane, "__init__", counting)
    results = {}
    for n, (fast, lane) in enumerate(((True, True), (True, False), (False, False))):
        w = scenario(factory, n)
        settings = Settings(
            database_url="sqlite://",
            software_store=tmp_path / "files",
            transfer_fast_path=fast,
            transfer_lane=lane,
        )
        with TestClient(create_app(settings, engine=engine)) as client:
            results[(fast, lane)] = run(client, w)
    assert results[(True, True)] == results[(True, False)] == results[(False, False)]
    statuses = [status for status, *_ in results[(True, True)]]
    assert statuses == [
        201, 201, 409, 409, 409, 404, 422, 201, 422, 422, 401, 401, 422, 422, 201, 409, 401,
        422, 422, 422, 422, 201, 201, 409, 201, 422, 201,
    ]  # fmt: skip
    codes = [
        json.loads(text).get("code") if text.startswith("{") else None
        for _s, _k, text, _a in results[(True, True)]
    ]
    assert codes[17:19] == ["sale_amount_required"] * 2 and codes[19] == "validation_error"
    assert codes[25] == "sale_amount_required" and "items[1].amount_cents" in results[(True, True)][25][2]
    assert json.loads(results[(True, True)][21][2])["amount_cents"] == 0
    # The lane answered its plain requests itself, but the one whose session ended (the general path
    # answers it): only the others reached the route.
    singles = [r for r in requests_of(scenario(factory, 9)) if r[0] == "/v1/transfers"]
    assert len(passed) == sum(1 for *_, plain in singles if not plain) + 1
