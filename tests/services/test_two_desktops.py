"""Two desktops of one distributor (the office and the laptop) against one real server on PostgreSQL
(two workers): they edit the same client and transfer from the same balance at the same moment. The
If-Match merge keeps every edit (a field both changed is a conflict the user settles, nothing silently
lost), the ledger never overdraws nor doubles, and both caches end equal to the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdesk.devtools import server_process
from cmdesk.domain.enums import Asset
from cmdesk.server import db, migrations
from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.sync import SyncEngine
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor, new_database
from tests.services.test_sync import cache_keys, feed_keys

LOGIN, PASSWORD = "oficina@dist.mx", "secreto123"
BALANCE = 100


@pytest.fixture
def server(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, db.SessionFactory, list[str]]]:
    with new_database(pg_url, "two") as url:
        migrations.upgrade(url)
        engine = db.create_db_engine(url)
        factory = db.session_factory(engine)
        actor = make_distributor(factory, email=LOGIN, mobile="5533221100", password=PASSWORD)
        give(factory, actor, Asset.STAMPS, BALANCE)
        ctis = [make_client(factory, actor)["stamping_account"]["id"] for _ in range(3)]
        proc = server_process.start(url, workers=2, log_dir=tmp_path)
        try:
            yield proc.url, factory, ctis
        finally:
            proc.stop()
            engine.dispose()


class Desk:
    def __init__(self, url: str, folder: Path) -> None:
        folder.mkdir()
        self.api = ApiClient(url, retries=3, backoff=0.05)
        self.api.sign_in(LOGIN, PASSWORD)
        self.cache = Cache(folder / "cache.sqlite3")
        self.outbox = Outbox(folder / "outbox.sqlite3")
        self.engine = SyncEngine(self.api, self.cache, self.outbox)

    def close(self) -> None:
        self.cache.close()
        self.outbox.close()
        self.api.close()


@pytest.fixture
def desks(server: tuple[str, db.SessionFactory, list[str]], tmp_path: Path) -> Iterator[list[Desk]]:
    made = [Desk(server[0], tmp_path / "oficina"), Desk(server[0], tmp_path / "laptop")]
    try:
        for d in made:
            d.engine.sync_once()
        yield made
    finally:
        for d in made:
            d.close()


def _together(*pushes: Any) -> None:
    """Push both outboxes at the same moment."""
    start = threading.Barrier(len(pushes))
    errors: list[BaseException] = []

    def run(push: Any) -> None:
        start.wait()
        try:
            push()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(p,)) for p in pushes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_two_desktops_edit_one_client_and_spend_one_balance_at_once(
    server: tuple[str, db.SessionFactory, list[str]], desks: list[Desk]
) -> None:
    _, factory, ctis = server
    office, laptop = desks
    client_id = next(c["id"] for c in office.cache.query_clients(limit=10) if c["nic"])

    # Both start from the same version. Different fields: both survive (the loser is merged and
    # re-sent on top). The same field with different values: a conflict the user settles.
    office_edit = commands.update_client(
        office.outbox, office.cache, client_id, {"trade_name": "Oficina", "phone": "5511111111"}
    )
    laptop_edit = commands.update_client(
        laptop.outbox, laptop.cache, client_id, {"email": "laptop@dist.mx", "phone": "5522222222"}
    )
    # And both spend the same 100 stamps: 4 × 20 from each, so not all of it can pass.
    for desk in desks:
        for i in range(4):
            commands.transfer(
                desk.outbox,
                desk.cache,
                asset="stamps",
                target_type="stamping_account",
                target_id=ctis[i % len(ctis)],
                quantity=20,
            )
    _together(office.engine.push, laptop.engine.push)

    edits = [d.outbox.get(c.id) for d, c in ((office, office_edit), (laptop, laptop_edit))]
    states = sorted(str(e.state) for e in edits if e is not None)
    assert states == ["conflict", "done"], states
    loser, loser_desk = next(
        (e, d) for e, d in zip(edits, desks, strict=True) if e and e.state == CommandState.CONFLICT
    )
    assert loser is not None and set(loser.conflict or {}) == {"phone"}  # only the field both changed
    assert {"mine", "server", "base"} <= set((loser.conflict or {})["phone"])
    # The user keeps their phone: the edit goes again on top of the winner's version.
    commands.resolve_conflict(loser_desk.outbox, loser_desk.cache, loser.id, {"phone": "mine"})
    loser_desk.engine.push()

    with ApiClient(server[0]) as check:
        check.sign_in(LOGIN, PASSWORD)
        client = check.get(f"/v1/clients/{client_id}")
        me = check.get("/v1/me")
    # Every field anyone changed is there; the phone is the one the user chose.
    assert client["trade_name"] == "Oficina" and client["email"] == "laptop@dist.mx"
    assert client["phone"] == (loser.body or {}).get("phone")

    # The ledger: exactly the transfers told done were applied, never below zero.
    done = [
        c for d in desks for c in d.outbox.list() if c.kind == "transfer" and c.state == CommandState.DONE
    ]
    refused = [
        c for d in desks for c in d.outbox.list() if c.kind == "transfer" and c.state == CommandState.REJECTED
    ]
    assert len(done) == BALANCE // 20 and len(refused) == 8 - BALANCE // 20
    assert {c.error_code for c in refused} == {"insufficient_balance"}
    assert me["balances"]["stamps"] == BALANCE - 20 * len(done) == 0
    assert_ledger_ok(factory)

    for desk in desks:
        desk.engine.sync_once()
        assert cache_keys(desk.cache) == feed_keys(desk.api)
        assert desk.cache.get("client", client_id)["version"] == client["version"]  # type: ignore[index]
        assert desk.cache.account()["balances"]["stamps"] == 0  # type: ignore[index]
