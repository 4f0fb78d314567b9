"""A bulk in steps writes, row for row, the movements it answers and the feed entries of its chunks
(on SQLite set-based from the chunk's JSON, `bulk_chunk_sql`; on PostgreSQL through `_apply_rows`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from cmdesk.models import ChangeLog, Movement
from cmdesk.server import db
from cmdesk.server.operations import bulk_transfers
from tests.server.helpers import assert_ledger_ok
from tests.server.operations.test_bulk_steps import items_for
from tests.server.transfer_helpers import sub_distributor, world

STEP = 7


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def expected_feed(account_id: str, movements: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """Each chunk's entries, once each within the chunk: the movement (and its counterpart's), the
    target (a CTI and its client, a client, a sub-distributor and its parent's view of it); and the
    distributor, debited once when the bulk was accepted."""
    out: Counter[tuple[str, str, str]] = Counter([(account_id, "account", account_id)])
    for start in range(0, len(movements), STEP):
        chunk: set[tuple[str, str, str]] = set()
        for m in movements[start : start + STEP]:
            kind, ident = m["target"]["type"], m["target"]["id"]
            chunk.add((account_id, "movement", m["id"]))
            if kind == "stamping_account":
                chunk |= {(account_id, "stamping_account", ident), (account_id, "client", m["client_id"])}
            elif kind == "client":
                chunk.add((account_id, "client", ident))
            else:
                chunk |= {
                    (ident, "movement", m["id"]),
                    (ident, "account", ident),
                    (account_id, "distributor", ident),
                }
        out.update(chunk)
    return out


def test_steps_write_the_answered_movements_and_each_chunks_feed(
    factory: db.SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_transfers, "BULK_STEP", STEP)
    w = world(factory, stamps_held=500, points_held=500)
    actor = w["actor"]
    sub = sub_distributor(factory, actor)
    with db.transaction(factory) as s:
        feed_before = s.scalar(select(func.max(ChangeLog.id))) or 0
    answer = bulk_transfers.bulk_transfer_in_steps(factory, actor, items_for(w, sub, 40))
    movements = answer["movements"]
    with db.transaction(factory) as s:
        rows = {
            m.id: m
            for m in s.scalars(
                select(Movement).where(Movement.account_id == actor.account_id, Movement.kind == "transfer")
            )
        }
        feed = Counter(
            (r.account_id, r.entity, r.entity_id)
            for r in s.execute(
                select(ChangeLog.account_id, ChangeLog.entity, ChangeLog.entity_id).where(
                    ChangeLog.id > feed_before
                )
            )
        )
    assert list(rows) and sorted(rows) == sorted(m["id"] for m in movements)
    for m in movements:
        row = rows[m["id"]]
        assert (
            row.asset,
            row.quantity,
            row.amount_cents,
            row.source_type,
            row.source_id,
            row.target_type,
            row.target_id,
            row.client_id,
            row.counterpart_account_id,
            row.comments,
            row.created_by,
            row.version,
            row.invoice_id,
        ) == (
            m["asset"],
            m["quantity"],
            m["amount_cents"],
            "account",
            actor.account_id,
            m["target"]["type"],
            m["target"]["id"],
            m["client_id"],
            sub if m["target"]["type"] == "account" else None,
            m["comments"],
            actor.profile_id,
            1,
            None,
        )
        assert _utc(row.created_at) == _utc(dt.datetime.fromisoformat(str(m["created_at"])))
    assert feed == expected_feed(actor.account_id, movements)
    assert_ledger_ok(factory)
