"""The consume lane answers plain consume requests before FastAPI's routing, exactly as the route would.

The same sequence of requests goes to an app with the lane and to one without it (PostgreSQL, each on
its own distributor and CTIs): every status, body and WWW-Authenticate header must match, and the
lane must have answered the plain requests itself.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cmdesk.domain.enums import Asset
from cmdesk.server import db
from cmdesk.server.api import consume_lane
from cmdesk.server.app import create_app
from cmdesk.server.operations import clients
from cmdesk.server.settings import Settings
from tests.server.helpers import fund_cti, give, make_client, make_distributor

RFC = "EKU9003173C9"
PASSWORD = "Timbrado2026"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


JSON = b"application/json"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"authorization", basic("CTI1", "clave").encode())], ("CTI1", "clave")),
        ([(b"authorization", b"basic " + base64.b64encode(b"CTI1:a:b"))], ("CTI1", "a:b")),
        ([(b"authorization", b"Bearer abc")], None),
        ([(b"authorization", b"Basic ***")], None),
        ([(b"authorization", b"Basic " + base64.b64encode(b"sin-separador"))], None),
        ([(b"authorization", b"Basic " + base64.b64encode(b":clave"))], None),
        ([(b"authorization", b"Basic " + base64.b64encode("CTÍ:clave".encode()))], None),
        ([], None),
    ],
)
def test_credentials_the_lane_takes(headers: list[tuple[bytes, bytes]], expected: Any) -> None:
    assert consume_lane.parse_credentials(headers) == expected


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (JSON, b'{"emitter_rfc": "EKU9003173C9", "cfdi_uuid": "u"}', ("EKU9003173C9", "u")),
        (b"application/json; charset=utf-8", b'{"cfdi_uuid": "u", "emitter_rfc": "R"}', ("R", "u")),
        (b"text/plain", b'{"emitter_rfc": "R", "cfdi_uuid": "u"}', None),
        (JSON, b'{"emitter_rfc": "R"}', None),
        (JSON, b'{"emitter_rfc": "R", "cfdi_uuid": "u", "extra": 1}', None),
        (JSON, b'{"emitter_rfc": 5, "cfdi_uuid": "u"}', None),
        (JSON, b'{"emitter_rfc": "", "cfdi_uuid": "u"}', None),
        (JSON, b'{"emitter_rfc": "' + b"R" * 21 + b'", "cfdi_uuid": "u"}', None),
        (JSON, b'{"emitter_rfc": "R", "cfdi_uuid": "' + b"u" * 41 + b'"}', None),
        (JSON, b"[1, 2]", None),
        (JSON, b"{no es json", None),
        (JSON, b"\xff\xfe", None),
    ],
)
def test_bodies_the_lane_takes(content_type: bytes, body: bytes, expected: Any) -> None:
    assert consume_lane.parse_body([(b"content-type", content_type)], body) == expected


def scenario(factory: db.SessionFactory) -> dict[str, str]:
    """A distributor with a standard CTI (3 stamps), a blocked one and an auto-sale one."""
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 200)
    ctis: dict[str, str] = {}
    for name in ("standard", "blocked", "auto_sale"):
        cti = make_client(factory, actor)["stamping_account"]["id"]
        db.run(factory, clients.reset_stamping_password, actor, cti, password=PASSWORD)
        fund_cti(factory, actor, cti, 3)
        ctis[name] = cti
    db.run(factory, clients.set_stamping_account_active, actor, ctis["blocked"], active=False)
    db.run(factory, clients.set_auto_sale, actor, ctis["auto_sale"], minimum=2, credit=10, amount_cents=100)
    return ctis


def requests_of(ctis: dict[str, str], base: int) -> list[tuple[dict[str, str], Any, bool]]:
    """(headers, body, plain) — `plain`: the lane answers it itself. UUIDs from `base` on."""
    std, auth = ctis["standard"], basic(ctis["standard"], PASSWORD)
    u = str(uuid.UUID(int=base + 1))
    ok = {"Authorization": auth}
    return [
        (ok, {"emitter_rfc": RFC, "cfdi_uuid": u}, True),
        (ok, {"emitter_rfc": RFC, "cfdi_uuid": u}, True),  # a retry: same answer, no debit
        (ok, {"emitter_rfc": "eku-900317-3c9", "cfdi_uuid": str(uuid.UUID(int=base + 2))}, True),
        ({"Authorization": basic(std, "Otra2026clave")}, {"emitter_rfc": RFC, "cfdi_uuid": "x"}, True),
        ({"Authorization": basic("NO-EXISTE", PASSWORD)}, {"emitter_rfc": RFC, "cfdi_uuid": "x"}, True),
        (ok, {"emitter_rfc": RFC, "cfdi_uuid": "no-es-uuid"}, False),  # route: 422 (same order)
        (ok, {"emitter_rfc": RFC, "cfdi_uuid": str(uuid.UUID(int=base + 3))}, True),
        (ok, {"emitter_rfc": RFC, "cfdi_uuid": str(uuid.UUID(int=base + 4))}, True),  # empty: 409
        (ok, {"emitter_rfc": RFC, "cfdi_uuid": str(uuid.UUID(int=base + 5)), "extra": 1}, False),  # 422
        ({}, {"emitter_rfc": RFC, "cfdi_uuid": str(uuid.UUID(int=base + 6))}, False),  # 401, no credentials
        ({"Authorization": "Bearer x"}, {"emitter_rfc": RFC, "cfdi_uuid": "y"}, False),
        (ok, "no es json", False),
        (
            {"Authorization": basic(ctis["blocked"], PASSWORD)},
            {"emitter_rfc": RFC, "cfdi_uuid": str(uuid.UUID(int=base + 7))},
            True,
        ),
        (
            {"Authorization": basic(ctis["auto_sale"], PASSWORD)},
            {"emitter_rfc": RFC, "cfdi_uuid": str(uuid.UUID(int=base + 8))},
            False,  # auto-sale: the general path, through the route
        ),
        (
            {"Authorization": basic(ctis["auto_sale"], PASSWORD)},
            {"emitter_rfc": RFC, "cfdi_uuid": str(uuid.UUID(int=base + 1))},  # the standard CTI's UUID
            False,
        ),
    ]


def run(client: TestClient, ctis: dict[str, str], base: int) -> list[tuple[int, Any, str | None]]:
    answers = []
    for headers, body, _plain in requests_of(ctis, base):
        if isinstance(body, str):
            r = client.post(
                "/v1/stamping/consume", content=body, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            r = client.post("/v1/stamping/consume", json=body, headers=headers)
        answers.append((r.status_code, r.json(), r.headers.get("www-authenticate")))
    return answers


@pytest.mark.postgres_only
def test_the_lane_answers_as_the_route_does(
    engine: Engine, factory: db.SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[int] = []

    class CountingResponse(consume_lane.JSONResponse):
        def __init__(self, content: Any) -> None:
            answered.append(1)
            super().__init__(content)

    monkeypatch.setattr(consume_lane, "JSONResponse", CountingResponse)
    results = {}
    for lane in (True, False):
        ctis = scenario(factory)
        settings = Settings(database_url="sqlite://", software_store=tmp_path / "files", consume_lane=lane)
        with TestClient(create_app(settings, engine=engine)) as client:
            results[lane] = run(client, ctis, base=100 if lane else 200)
    assert results[True] == results[False]
    statuses = [status for status, _, _ in results[True]]
    assert statuses == [200, 200, 200, 401, 401, 422, 200, 409, 422, 401, 401, 422, 403, 200, 409]
    # The lane answered the plain successes itself (refusals go out as problem responses).
    plain_successes = [
        plain
        for (plain, (status, _, _)) in zip((p for *_, p in requests_of(ctis, 0)), results[True], strict=True)
        if plain and status == 200
    ]
    assert len(answered) == len(plain_successes) == 4
