"""The bulk transfer's body is parsed and validated in a worker thread (`ledger.BodyOffTheLoop`), never
on the event loop (where 5,000 items held every other request of the worker), and FastAPI does not
validate it a second time; what it answers to a body it refuses is FastAPI's own answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cmdesk.domain.enums import Asset
from cmdesk.server.api import ledger, schemas_common
from tests.server.api.conftest import PASSWORD
from tests.server.helpers import give, make_client, make_distributor


@pytest.fixture
def bulk(factory, auth_headers):
    actor = make_distributor(factory, email="masiva@dist.mx", mobile="5512121212", password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 100)
    ctis = [make_client(factory, actor)["stamping_account"]["id"] for _ in range(3)]
    return auth_headers("masiva@dist.mx"), ctis


def _items(ctis: list[str]) -> list[dict[str, Any]]:
    return [
        {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": 2} for cti in ctis
    ]


def test_the_body_is_validated_once_out_of_the_event_loop(client, bulk, monkeypatch):
    headers, ctis = bulk
    on_loop: list[bool] = []
    check = schemas_common.check_text

    def watched(value: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return check(value)

    monkeypatch.setattr(schemas_common, "check_text", watched)
    r = client.post(
        "/v1/transfers/bulk", json={"items": _items(ctis)}, headers={**headers, "Idempotency-Key": "k1"}
    )
    assert r.status_code == 201, r.text
    assert len(r.json()["movements"]) == 3
    # Every field of every item (and the list) checked once, all in a worker thread.
    fields_per_item = 3 + 2  # asset, target, quantity (the defaults are not validated); type, id
    assert on_loop and not any(on_loop)
    assert len(on_loop) == 3 * fields_per_item + 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"items": [', "application/json"),  # not JSON
        (b'{"items": []}', "application/json"),
        (b'{"items": [{"asset": "stamps", "quantity": 2}]}', "application/json"),
        (
            b'{"items": [{"asset": "stamps", "target": {"type": "stamping_account", "id": "X"},'
            b' "quantity": "2"}]}',
            "application/json",
        ),
        (
            b'{"items": [{"asset": "stamps", "target": {"type": "stamping_account", "id": "X"},'
            b' "quantity": 2, "comments": "a\\u0000b"}]}',
            "application/json; charset=utf-8",
        ),
        (b'{"items": [{"asset": "gold"}], "more": 1}', "application/merge-patch+json"),
        (b'{"items": []}', "text/plain"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_a_refused_body_gets_fastapis_own_answer(client, bulk, monkeypatch, body, content_type):
    headers = {**bulk[0], "Content-Type": content_type, "Idempotency-Key": "k2"}
    answer = client.post("/v1/transfers/bulk", content=body, headers=headers)
    monkeypatch.setattr(ledger, "_validated_body", lambda field, body: None)  # FastAPI validates alone
    reference = client.post("/v1/transfers/bulk", content=body, headers=headers)
    assert answer.status_code == reference.status_code == 422
    assert answer.json() == reference.json()
    assert answer.headers["content-type"] == reference.headers["content-type"]
