"""Bulk transfers in short transactions (the general path on SQLite): all or nothing, the books balanced
at every commit, and a run a dead worker left finished exactly once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic_core import to_jsonable_python
from sqlalchemy import Engine, func, select, update

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import (
    Account,
    AuditRecord,
    BulkTransferChunk,
    BulkTransferRun,
    IdempotencyRecord,
    Movement,
)
from cmdesk.server import audit, db, idempotency
from cmdesk.server.app import create_app
from cmdesk.server.operations import bulk_transfers
from cmdesk.server.settings import Settings
from tests.server.helpers import assert_ledger_ok, give
from tests.server.transfer_helpers import points, stamps, state, sub_distributor, to_sub, world


def items_for(w: dict[str, Any], sub: str, n: int) -> list[dict[str, Any]]:
    a, b = w["ctis"]
    kinds = [
        lambda i: stamps(a if i % 2 else b, 1 + i % 3, amount_cents=100 * i, comments=f"fila {i}"),
        lambda i: points(w["clients"][i % 2], 2),
        lambda i: to_sub(sub, "stamps" if i % 2 else "points", 1),
    ]
    return [{"amount_cents": 0, "comments": "", **kinds[i % 3](i)} for i in range(n)]


def transfers(factory: db.SessionFactory, account_id: str) -> int:
    with db.transaction(factory) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Movement)
                .where(Movement.account_id == account_id, Movement.kind == "transfer")
            )
            or 0
        )


def test_steps_write_what_one_transaction_writes(
    factory: db.SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_transfers, "BULK_STEP", 7)  # several chunks, the last one short
    shapes = []
    for steps in (True, False):
        w = world(factory, stamps_held=500, points_held=500)
        sub = sub_distributor(factory, w["actor"])
        items = items_for(w, sub, 40)
        if steps:
            answer = bulk_transfers.bulk_transfer_in_steps(factory, w["actor"], items)
        else:
            answer = db.run(factory, bulk_transfers.bulk_transfer, w["actor"], items)
        snapshot = state(factory, w["actor"])
        shapes.append(
            (
                [
                    (m["asset"], m["quantity"], m["target"]["type"], m["comments"])
                    for m in answer["movements"]
                ],
                snapshot["account"],
                sorted(snapshot["ctis"].values()),
                sorted(snapshot["clients"].values()),
                sorted(snapshot["subs"].values()),
                len(snapshot["movements"]),
                sorted(
                    (a == w["actor"].account_id, e, i in (w["actor"].account_id, sub))
                    for a, e, i in snapshot["feed"]
                ),
            )
        )
    assert shapes[0] == shapes[1]
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(BulkTransferRun)) == 0
        assert s.scalar(select(func.count()).select_from(BulkTransferChunk)) == 0
    assert_ledger_ok(factory)


def test_the_answer_is_each_movements_view_made_json_ready() -> None:
    now = dt.datetime(2026, 12, 6, 11, 0, 0, 123456, tzinfo=dt.UTC)
    rows = [
        ["M1", "stamping_account", "C1", "K1", None, "stamps", 3, 150, "fila 1"],
        ["M2", "client", "K2", "K2", None, "points", 2, 0, ""],
        ["M3", "account", "S1", None, "S1", "stamps", 1, 0, "ñandú\nsegunda línea"],
    ]
    expected = [to_jsonable_python(v) for v in bulk_transfers._views("A1", "P1", rows, now)]
    answer = bulk_transfers.answer_views("A1", "P1", rows, now)
    assert orjson.dumps(answer) == orjson.dumps(expected)  # the same values, in the same order


def test_a_refusal_in_steps_changes_nothing(factory: db.SessionFactory) -> None:
    w = world(factory, stamps_held=10)
    before = state(factory, w["actor"])
    with pytest.raises(DomainError) as e:
        bulk_transfers.bulk_transfer_in_steps(
            factory, w["actor"], [stamps(w["ctis"][0], 6), stamps(w["ctis"][1], 5)]
        )
    assert e.value.code == ErrorCode.INSUFFICIENT_BALANCE and e.value.errors[0].field == "items[1]"
    assert state(factory, w["actor"]) == before


def test_the_books_balance_between_the_steps_and_a_left_run_is_finished_once(
    factory: db.SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_transfers, "BULK_STEP", 5)
    w = world(factory, stamps_held=100)
    actor, (a, b) = w["actor"], w["ctis"]
    plan = bulk_transfers.plan_bulk(factory, actor, [stamps(a if i % 2 else b, 2) for i in range(23)])
    run_id = db.run(factory, bulk_transfers.begin_bulk_run, actor, plan)
    # Accepted: the distributor is debited, the chunks hold the stamps; nothing written yet.
    assert state(factory, actor)["account"][0] == 100 - 46
    assert transfers(factory, actor.account_id) == 0
    assert_ledger_ok(factory)
    head = db.run(factory, bulk_transfers._run_head, run_id)
    assert head is not None
    for chunk in head[3][:2]:  # two chunks written, then the worker "dies"
        db.run(factory, bulk_transfers._write_chunk, chunk, *head[:3])
    assert transfers(factory, actor.account_id) == 10
    assert_ledger_ok(factory)
    assert bulk_transfers.finish_bulk_runs(factory) == 1
    assert bulk_transfers.finish_bulk_runs(factory) == 0
    assert transfers(factory, actor.account_id) == 23
    assert state(factory, actor)["ctis"][a][0] + state(factory, actor)["ctis"][b][0] == 46
    assert_ledger_ok(factory)


def test_a_dead_workers_keyed_run_is_taken_over_and_finished_once(
    factory: db.SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_transfers, "BULK_STEP", 4)
    w = world(factory, stamps_held=100)
    actor = w["actor"]
    payload = {
        "items": [{"amount_cents": 0, "comments": "", **stamps(w["ctis"][i % 2], 3)} for i in range(17)]
    }

    def attempt(die_after: int | None) -> tuple[int, dict[str, Any]]:
        plan = bulk_transfers.plan_bulk(factory, actor, payload["items"])  # each request reads anew

        def begin(session: Any) -> tuple[int, Any]:
            return 201, {
                "run": bulk_transfers.begin_bulk_run(
                    session, actor, plan, record_id=idempotency.claim_id(session)
                )
            }

        def finish(record_id: int) -> tuple[int, dict[str, Any]]:
            run_id = db.run(factory, bulk_transfers.run_of_claim, record_id)
            assert run_id is not None
            if die_after is not None:
                head = db.run(factory, bulk_transfers._run_head, run_id)
                assert head is not None
                for chunk in head[3][:die_after]:
                    db.run(factory, bulk_transfers._write_chunk, chunk, *head[:3])
                raise RuntimeError("el proceso murió")
            answer = bulk_transfers.finish_bulk_run(factory, run_id)
            assert answer is not None
            return 201, answer

        return idempotency.idempotent(
            factory,
            scope=actor.account_id,
            key="mes-de-noviembre",
            method="POST",
            path="/v1/transfers/bulk",
            body=payload,
            fn=begin,
            finish=finish,
        )

    with pytest.raises(RuntimeError):
        attempt(die_after=2)
    assert transfers(factory, actor.account_id) == 8
    with pytest.raises(DomainError) as e:  # the claim was kept: still "running" for a while
        attempt(die_after=None)
    assert e.value.code == ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS
    monkeypatch.setattr(idempotency, "STALE_CLAIM_SECONDS", 0)  # ... until it is stale
    status, answer = attempt(die_after=None)
    assert status == 201 and len(answer["movements"]) == 17
    assert transfers(factory, actor.account_id) == 17
    with db.transaction(factory) as s:
        ids = set(
            s.scalars(
                select(Movement.id).where(
                    Movement.account_id == actor.account_id, Movement.kind == "transfer"
                )
            )
        )
        record = s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "mes-de-noviembre"))
        assert record is not None and record.completed
    assert {m["id"] for m in answer["movements"]} == ids
    assert attempt(die_after=None) == (status, answer)  # replayed
    assert state(factory, actor)["account"][0] == 100 - 51
    assert_ledger_ok(factory)


def test_the_server_finishes_left_runs_when_it_starts(
    engine: Engine, factory: db.SessionFactory, tmp_path: Path
) -> None:
    w = world(factory, stamps_held=20)
    plan = bulk_transfers.plan_bulk(factory, w["actor"], [stamps(w["ctis"][0], 2), stamps(w["ctis"][1], 3)])
    db.run(factory, bulk_transfers.begin_bulk_run, w["actor"], plan)
    assert transfers(factory, w["actor"].account_id) == 0
    with TestClient(create_app(Settings(database_url="sqlite://", software_store=tmp_path), engine=engine)):
        pass
    assert transfers(factory, w["actor"].account_id) == 2
    assert_ledger_ok(factory)


def test_a_target_changed_after_the_reading_is_decided_in_the_accepting_transaction(
    factory: db.SessionFactory,
) -> None:
    w = world(factory, stamps_held=20)
    actor = w["actor"]
    sub = sub_distributor(factory, actor)
    plan = bulk_transfers.plan_bulk(factory, actor, [stamps(w["ctis"][0], 2), to_sub(sub, "stamps", 3)])
    assert plan.chunks is not None
    with db.transaction(factory) as s:  # cancelled between the reading and the acceptance
        s.execute(update(Account).where(Account.id == sub).values(status="cancelled"))
    before = state(factory, actor)
    with pytest.raises(DomainError) as e:
        db.run(factory, bulk_transfers.begin_bulk_run, actor, plan)
    assert e.value.code == ErrorCode.INVALID_STATE_TRANSITION and e.value.errors[0].field == "items[1]"
    assert state(factory, actor) == before


@pytest.mark.parametrize("moved", [False, True])
def test_the_records_distributor_change_is_its_balance_when_accepted(
    factory: db.SessionFactory, moved: bool
) -> None:
    """The record's text is made with the plan, for the balance expected after the debit; when the
    distributor's balance moved between the plan and the accepting transaction, the record tells the
    balance that transaction found."""
    w = world(factory, stamps_held=100)
    items = [stamps(cti, 3) for cti in w["ctis"]]
    with audit.context("ledger.bulk_transfer", account_id=w["actor"].account_id, method="POST"):
        plan = bulk_transfers.plan_bulk(factory, w["actor"], items)
        if moved:
            give(factory, w["actor"], "stamps", 7)
        run_id = db.run(factory, bulk_transfers.begin_bulk_run, w["actor"], plan)
    bulk_transfers.finish_bulk_run(factory, run_id)
    with db.transaction(factory) as s:
        held = s.scalar(select(Account.stamps_balance).where(Account.id == w["actor"].account_id))
        changes = s.scalars(
            select(AuditRecord.changes)
            .where(
                AuditRecord.account_id == w["actor"].account_id, AuditRecord.action == "ledger.bulk_transfer"
            )
            .order_by(AuditRecord.id.desc())
        ).first()
    assert held == 100 - 6 + (7 if moved else 0)
    assert changes is not None and changes[0] == {
        "entity": "account",
        "id": w["actor"].account_id,
        "op": "update",
        "before": {"stamps_balance": held + 6},
        "after": {"stamps_balance": held},
    }
    assert_ledger_ok(factory)
