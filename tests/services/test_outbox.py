"""The durable outbox: keys written before sending, strict order, states, reopening, in-place migrations."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.services import outbox as outbox_module
from cmdesk.services.outbox import MIGRATIONS, SCHEMA_VERSION, CommandState, Outbox, OutboxError


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def transfer(box: Outbox, qty: int = 1) -> str:
    body = {"asset": "stamps", "target": {"type": "stamping_account", "id": "CTI1"}, "quantity": qty}
    return box.enqueue("transfer", "post", "/v1/transfers", body, description=f"{qty} timbres").id


def test_file_is_durable_wal(outbox: Outbox) -> None:
    conn = outbox._conn
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_key_is_on_disk_before_sending_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    command = box.enqueue(
        "transfer", "POST", "/v1/transfers", {"quantity": 1}, entity="stamping_account", entity_id="X"
    )
    assert (
        command.state == CommandState.PENDING and command.attempts == 0 and len(command.idempotency_key) == 32
    )
    # Another connection (another process, after a crash) already sees it.
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT idempotency_key FROM commands").fetchone()[0] == command.idempotency_key
    box.mark_sent(command.id)
    box.close()
    reopened = Outbox(path)
    again = reopened.next_to_push()
    assert again is not None
    assert (again.id, again.idempotency_key, again.state, again.attempts) == (
        command.id,
        command.idempotency_key,
        CommandState.SENT,
        1,
    )
    assert again.body == {"quantity": 1} and again.method == "POST" and again.entity_id == "X"
    reopened.close()


def test_strict_order_and_states(outbox: Outbox) -> None:
    first, second, third = transfer(outbox, 1), transfer(outbox, 2), transfer(outbox, 3)
    assert outbox.next_to_push().id == first  # type: ignore[union-attr]
    outbox.mark_sent(first)
    assert outbox.next_to_push().id == first  # type: ignore[union-attr]  # sent without an answer: again
    outbox.mark_done(first, {"id": "m1"})
    outbox.mark_sent(second)
    rejected = outbox.mark_rejected(
        second, "insufficient_balance", "Saldo insuficiente.", {"code": "insufficient_balance"}
    )
    assert (rejected.state, rejected.error_code, rejected.error_detail) == (
        CommandState.REJECTED,
        "insufficient_balance",
        "Saldo insuficiente.",
    )
    assert rejected.error_body == {"code": "insufficient_balance"} and rejected.state_label == "Rechazado"
    assert outbox.next_to_push().id == third  # type: ignore[union-attr]
    assert outbox.pending_count() == 1 and outbox.attention_count() == 1
    done = outbox.get(first)
    assert done is not None and done.result == {"id": "m1"} and done.done_at is not None
    assert [c.id for c in outbox.list()] == [first, second, third]
    assert [c.id for c in outbox.list([CommandState.REJECTED])] == [second]
    assert [c.id for c in outbox.list(["done", "pending"])] == [first, third]


def test_retry_gets_a_new_key_and_goes_last(outbox: Outbox) -> None:
    first, second = transfer(outbox), transfer(outbox)
    old_key = outbox.get(first).idempotency_key  # type: ignore[union-attr]
    outbox.mark_sent(first)
    outbox.mark_rejected(first, "insufficient_balance", "Saldo insuficiente.")
    retried = outbox.retry(first)
    assert retried.state == CommandState.PENDING and retried.idempotency_key != old_key
    assert retried.error_code is None and retried.attempts == 0
    assert [c.id for c in outbox.list()] == [second, first]
    assert outbox.next_to_push().id == second  # type: ignore[union-attr]
    third = transfer(outbox)
    assert [c.id for c in outbox.list()] == [second, first, third]


def test_conflict_keeps_both_values(outbox: Outbox) -> None:
    ident = outbox.enqueue(
        "update_client", "PATCH", "/v1/clients/c1", {"name": "Mío"}, if_match=3, base={"name": "Antes"}
    ).id
    outbox.mark_sent(ident)
    fields = {"name": {"mine": "Mío", "server": "Suyo", "base": "Antes"}}
    command = outbox.mark_conflict(
        ident, "Otra persona cambió Nombre.", fields, {"id": "c1", "version": 4, "name": "Suyo"}
    )
    assert command.state == CommandState.CONFLICT and command.conflict == fields
    assert command.error_body == {"current": {"id": "c1", "version": 4, "name": "Suyo"}}
    assert command.base == {"name": "Antes"} and command.if_match == 3
    rebased = outbox.rebase(ident, {"phone": "9611234567"}, if_match=4, base={"phone": ""})
    assert (rebased.state, rebased.if_match, rebased.body) == (
        CommandState.PENDING,
        4,
        {"phone": "9611234567"},
    )


def test_amend_only_a_command_never_sent(outbox: Outbox) -> None:
    ident = outbox.enqueue("update_client", "PATCH", "/v1/clients/c1", {"name": "A"}, base={"name": "0"}).id
    amended = outbox.amend(
        ident, {"name": "A", "rfc": "B"}, {"name": "0", "rfc": ""}, "Editar", {"local": []}
    )
    assert (
        amended.body == {"name": "A", "rfc": "B"}
        and amended.description == "Editar"
        and amended.extra == {"local": []}
    )
    outbox.mark_sent(ident)
    with pytest.raises(KeyError):
        outbox.amend(ident, {}, None)


def test_discard(outbox: Outbox) -> None:
    first, second = transfer(outbox), transfer(outbox)
    outbox.discard(first)
    assert outbox.get(first) is None
    outbox.mark_sent(second)
    with pytest.raises(OutboxError, match="ya se envió"):
        outbox.discard(second)
    with pytest.raises(KeyError):
        outbox.discard("nope")


def test_listeners_and_purge(outbox: Outbox) -> None:
    calls: list[int] = []
    unsubscribe = outbox.subscribe(lambda: calls.append(1))
    ident = transfer(outbox)
    outbox.mark_sent(ident)
    outbox.mark_done(ident)
    assert len(calls) == 3
    unsubscribe()
    transfer(outbox)
    assert len(calls) == 3
    outbox._conn.execute("UPDATE commands SET done_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (ident,))
    assert outbox.purge_done() == 1


def test_concurrent_enqueues(outbox: Outbox) -> None:
    def work() -> None:
        for _ in range(25):
            transfer(outbox)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    commands = outbox.list()
    assert len(commands) == 100 and len({c.idempotency_key for c in commands}) == 100
    assert [c.seq for c in commands] == sorted(c.seq for c in commands)


def test_an_old_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    outbox_module.migrate(conn, MIGRATIONS[:1])  # what version 1 of cmdesk wrote
    conn.execute(
        "INSERT INTO commands (id, kind, method, path, body, idempotency_key, state, created_at)"
        " VALUES ('c1', 'transfer', 'POST', '/v1/transfers', '{\"quantity\": 7}', 'k1', 'sent', '2026-01-01T00:00:00+00:00')"
    )
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()
    box = Outbox(path)
    command = box.next_to_push()
    assert command is not None
    assert (command.id, command.idempotency_key, command.state, command.body) == (
        "c1",
        "k1",
        CommandState.SENT,
        {"quantity": 7},
    )
    assert command.description == "" and command.conflict is None and command.extra == {}
    assert box._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    box.close()


def test_a_file_from_a_newer_version_is_refused_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(OutboxError, match="versión más nueva"):
        Outbox(path)
    assert path.exists()


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    outbox_module.migrate(conn, MIGRATIONS[:1])
    with pytest.raises(sqlite3.OperationalError):
        outbox_module.migrate(
            conn, [*MIGRATIONS[:1], "ALTER TABLE commands ADD COLUMN x TEXT;\nTHIS IS NOT SQL;"]
        )
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "x" not in [r[1] for r in conn.execute("PRAGMA table_info(commands)")]
    conn.close()
