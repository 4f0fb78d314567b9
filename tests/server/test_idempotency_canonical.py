"""A bulk's request hash is computed item by item (no single C call over 5,000 items) to the very
bytes the whole-body encoding gives: keys stored before keep matching."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pydantic_core import to_jsonable_python

from cmdesk.server import idempotency


def whole(value: Any) -> bytes:
    return json.dumps(
        to_jsonable_python(value, fallback=str), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


@pytest.mark.parametrize("n", [0, 1, 100, 101, 5000])
def test_piecewise_canonical_json_is_the_whole_bodys(n: int) -> None:
    items = [
        {
            "target": {"type": "stamping_account", "id": f"Ñ{i}"},
            "asset": "stamps",
            "quantity": i,
            "comments": 'é"\\\n' * (i % 3),
            "no_charge": None,
            "at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        }
        for i in range(n)
    ]
    for body in ({"items": items}, {"ítems": items}, {"items": items, "more": 1}, items):
        assert idempotency._canonical(body) == whole(body)
    assert idempotency.request_hash(
        "POST", "/v1/transfers/bulk", {"items": items}
    ) == idempotency.request_hash(
        "POST", "/v1/transfers/bulk", json.dumps({"items": to_jsonable_python(items)}).encode()
    )
