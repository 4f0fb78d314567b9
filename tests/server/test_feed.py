"""The change feed: every change recorded with its audience, paging, and no skipped change under
concurrent writers (a slow writer that commits after a fast one)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from cmdesk.domain.enums import Asset
from cmdesk.server import db, feed
from cmdesk.server.operations import clients, ledger
from tests.server.helpers import give, make_client, make_distributor


def _drain(factory, account_id, cursor=None, limit=1000):
    seen = []
    while True:
        with db.transaction(factory) as s:
            page = feed.read(s, account_id, cursor, limit)
        seen.extend(page.changes)
        cursor = page.cursor
        if not page.has_more:
            return seen, cursor


def test_changes_are_recorded_for_their_account_only(factory):
    a, b = make_distributor(factory), make_distributor(factory)
    c = make_client(factory, a)
    seen, _ = _drain(factory, a.account_id)
    kinds = {(ch.entity, ch.entity_id) for ch in seen}
    assert ("client", c["client"]["id"]) in kinds
    assert ("stamping_account", c["stamping_account"]["id"]) in kinds
    assert ("account", a.account_id) in kinds
    seen_b, _ = _drain(factory, b.account_id)
    assert all(ch.entity_id != c["client"]["id"] for ch in seen_b)


def test_cursor_pages_and_delta(factory):
    a = make_distributor(factory)
    for _ in range(5):
        make_client(factory, a)
    first, cursor = _drain(factory, a.account_id, limit=2)
    assert len({ch.entity_id for ch in first if ch.entity == "client"}) == 5
    again, cursor2 = _drain(factory, a.account_id, cursor)
    assert again == [] and cursor2 == cursor
    give(factory, a, Asset.STAMPS, 3)
    delta, _ = _drain(factory, a.account_id, cursor)
    assert {ch.entity for ch in delta} == {"account", "movement", "charge"}


def test_versions_bump_on_every_change(factory):
    a = make_distributor(factory)
    c = make_client(factory, a)["client"]
    v2 = db.run(factory, clients.update_client, a, c["id"], {"name": "Otro"})
    v3 = db.run(factory, clients.set_tags, a, [c["id"]], favorite=True)[0]
    assert (c["version"], v2["version"], v3["version"]) == (1, 2, 3)


def test_bad_cursor_is_a_validation_error(factory):
    from cmdesk.domain.errors import DomainError

    a = make_distributor(factory)
    with pytest.raises(DomainError), db.transaction(factory) as s:
        feed.read(s, a.account_id, "not.a-cursor", 10)


@pytest.mark.postgres_only
def test_reader_never_skips_a_slow_writer(factory):
    """Writer A starts first and takes its change row, then stalls; writer B writes and commits.
    A reader that runs in between must not move its cursor past A's change."""
    a = make_distributor(factory)
    give(factory, a, Asset.STAMPS, 10)
    c = make_client(factory, a)
    cti = c["stamping_account"]["id"]
    _, cursor = _drain(factory, a.account_id)

    a_wrote = threading.Event()
    release_a = threading.Event()

    def slow_writer():
        with db.transaction(factory) as s:
            ledger.transfer(
                s,
                a,
                asset="stamps",
                target_type="stamping_account",
                target_id=cti,
                quantity=1,
                comments="lento",
            )
            a_wrote.set()
            release_a.wait(10)

    t = threading.Thread(target=slow_writer)
    t.start()
    assert a_wrote.wait(10)
    # B touches other rows (a client edit), so it does not wait on A's row locks.
    db.run(factory, clients.update_client, a, c["client"]["id"], {"trade_name": "rápido"})
    mid, cursor_mid = _drain(factory, a.account_id, cursor)
    release_a.set()
    t.join()
    rest, _ = _drain(factory, a.account_id, cursor_mid)
    with db.transaction(factory) as s:
        comments = s.execute(text("select comments from movements where comments = 'lento'")).scalars().all()
    assert comments == ["lento"]
    movement_changes = [ch for ch in mid + rest if ch.entity == "movement"]
    assert len(movement_changes) == 1, "the slow writer's movement must reach the reader"
    # B's change is held back while A runs (A's txid is older), then both arrive.
    assert any(ch.entity == "client" for ch in mid + rest)


@pytest.mark.postgres_only
def test_feed_under_many_concurrent_writers(factory):
    a = make_distributor(factory)
    give(factory, a, Asset.STAMPS, 200)
    ctis = [make_client(factory, a)["stamping_account"]["id"] for _ in range(4)]
    _, cursor = _drain(factory, a.account_id)
    stop = threading.Event()
    seen: list = []

    def reader():
        nonlocal cursor
        while not stop.is_set():
            page, cursor = _drain(factory, a.account_id, cursor, limit=7)
            seen.extend(page)
            time.sleep(0.001)

    def writer(i):
        for _ in range(25):
            db.run(
                factory,
                ledger.transfer,
                a,
                asset="stamps",
                target_type="stamping_account",
                target_id=ctis[i],
                quantity=1,
            )

    r = threading.Thread(target=reader)
    r.start()
    ws = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    stop.set()
    r.join()
    final, _ = _drain(factory, a.account_id, cursor)
    seen.extend(final)
    assert len({ch.entity_id for ch in seen if ch.entity == "movement"}) == 100
