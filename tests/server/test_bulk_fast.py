"""The bulk's own database function (`cmdesk_bulk_transfer`) refuses what the general path refuses.

It finds the targets by primary key and checks whose they are on the row found (issue 19: the lookup
of `cmdesk_transfer` became quadratic for 5,000 items), so every target of another distributor, or of
the wrong kind, is refused inside a bulk, item by item, word for word as the general path does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from cmdesk.server import db
from tests.server.helpers import assert_ledger_ok, give
from tests.server.test_transfer_fast import Transferer
from tests.server.transfer_helpers import (
    add_refused_targets,
    points,
    stamps,
    state,
    sub_distributor,
    to_sub,
    world,
)

pytestmark = pytest.mark.postgres_only


@pytest.fixture(params=["fast", "general"])
def move(request: pytest.FixtureRequest, engine: Engine, factory: db.SessionFactory) -> Iterator[Transferer]:
    t = Transferer(request.param, engine, factory)
    yield t
    t.close()


@pytest.mark.parametrize(
    ("make_item", "status", "code", "detail"),
    [
        (lambda w, o: stamps(o["ctis"][0], 1), 404, "not_found", "La cuenta de timbrado no existe."),
        (lambda w, o: points(o["clients"][0], 1), 404, "not_found", "El cliente no existe."),
        (
            lambda w, o: to_sub(o["actor"].account_id, "stamps", 1),
            404,
            "not_found",
            "El distribuidor no existe.",
        ),
        (lambda w, o: to_sub(o["sub"], "points", 1), 404, "not_found", "El distribuidor no existe."),
        (
            lambda w, o: stamps(w["unlimited"], 1),
            422,
            "validation_error",
            "Las cuentas de timbrado ilimitadas no tienen saldo de timbres; no se les transfieren timbres.",
        ),
        (
            lambda w, o: to_sub(w["cancelled"], "stamps", 1),
            409,
            "invalid_state_transition",
            "No se puede transferir a un distribuidor cancelado o sin validar.",
        ),
    ],
)
def test_a_bulk_refuses_other_distributors_targets_by_item(
    move: Transferer, factory: db.SessionFactory, make_item: Any, status: int, code: str, detail: str
) -> None:
    w, other = world(factory, points_held=10), world(factory)
    actor = w["actor"]
    other["sub"] = sub_distributor(factory, other["actor"])
    add_refused_targets(factory, w)
    before = state(factory, actor)
    items = [
        stamps(w["ctis"][0], 2),
        points(w["clients"][1], 3),
        make_item(w, other),
        stamps(w["ctis"][1], 1),
    ]
    answer, problem = move.bulk(actor, "bulk-1", items)
    assert (answer, problem["code"]) == (status, code)
    assert problem["detail"] == f"Transferencia 3: {detail} No se aplicó ninguna transferencia."
    assert problem["errors"][0]["field"].startswith("items[2]")
    assert state(factory, actor) == before
    # The refusal is stored with the key; with the item left out the bulk applies.
    give(factory, actor, "stamps", 5)
    assert move.bulk(actor, "bulk-1", items) == (answer, problem)
    answer, body = move.bulk(actor, "bulk-2", [items[0], items[1], items[3]])
    assert answer == 201 and [m["quantity"] for m in body["movements"]] == [2, 3, 1]
    assert move.fallbacks == 0
    assert_ledger_ok(factory)
