"""The desktop's disk fails it: full while syncing or queueing, and a cache damaged or deleted.

A full disk is a real one where the tests may mount (root: a small tmpfs holds the desktop's folder
and is filled with a filler file). Elsewhere (a CI runner without root) SQLite's own page limit
(`PRAGMA max_page_count`) makes the same `SQLITE_FULL` error on the cache's and the outbox's
connections: documented fallback, same code path in cmdesk.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import commands, storage
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.config import DesktopConfig
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.session import DesktopSession
from cmdesk.services.sync import SyncEngine
from tests.services.conftest import MemoryKeyring
from tests.services.small_disk import SmallDisk
from tests.services.test_sync import cache_keys, feed_keys, standard_cti


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "desktop")
    try:
        yield small
    finally:
        small.close()


@pytest.fixture
def desk(disk: SmallDisk, fresh_server: EmbeddedServer) -> Iterator[SyncEngine]:
    api = ApiClient(fresh_server.url, retries=1, backoff=0.01)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache = Cache(disk.folder / "cache.sqlite3")
    outbox = Outbox(disk.folder / "outbox.sqlite3")
    yield SyncEngine(api, cache, outbox, page_size=25)
    for close in (cache.close, outbox.close, api.close):
        with contextlib.suppress(Exception):
            close()


def _many_clients(url: str, n: int) -> None:
    """Another desktop adds clients with long names: a pull of several hundred KB."""
    with ApiClient(url, retries=1, backoff=0.01) as other:
        other.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        for i in range(n):
            other.post(
                "/v1/clients",
                {"name": f"Cliente de relleno {i:04d} " + "x" * 150, "rfc": "XAXX010101000"},
                idempotency_key=f"fill-{i}",
            )


def _movements(api: ApiClient) -> list[dict[str, Any]]:
    return list(api.get("/v1/movements", params={"limit": 1000})["items"])


@pytest.mark.parametrize(
    ("transfers", "leave"),
    [(3, 48 * 1024), (0, 640 * 1024)],
    ids=["stops-while-pushing", "stops-while-pulling"],
)
def test_a_full_disk_stops_the_sync_and_loses_nothing(
    desk: SyncEngine, disk: SmallDisk, fresh_server: EmbeddedServer, transfers: int, leave: int
) -> None:
    desk.sync_once()
    cti = standard_cti(desk.cache)
    queued = [
        commands.transfer(
            desk.outbox, desk.cache, asset="stamps", target_type="stamping_account", target_id=cti, quantity=q
        )
        for q in range(1, transfers + 1)
    ]
    _many_clients(fresh_server.url, 120)
    before = len(_movements(desk.api))
    cursor = desk.cache.cursor
    disk.fill(leave, desk.cache._writer, desk.outbox._conn)

    failures = 0
    for _ in range(6):  # however far each attempt gets, it stops cleanly
        try:
            desk.sync_once(check_counts=False)
        except storage.DiskFull as full:
            failures += 1
            assert "disco" in str(full) and "lleno" in str(full)
        # Whatever was written is sound, and the commands are all there.
        assert {c.id for c in desk.outbox.list()} == {c.id for c in queued}
        assert all(c.state != CommandState.REJECTED for c in desk.outbox.list())
        with sqlite3.connect(disk.folder / "cache.sqlite3") as check:
            assert storage.quick_check(check)
    assert failures >= 1
    if not transfers:  # some pages fitted: the cursor moved with them, and only with them
        assert desk.cache.cursor != cursor

    disk.free()
    report = desk.sync_once()
    # The cursor never went past what was written: the pull completed the cache without a rebuild.
    assert not report.rebuilt and report.counts_ok
    assert cache_keys(desk.cache) == feed_keys(desk.api)
    assert [c.state for c in desk.outbox.list()] == [CommandState.DONE] * transfers
    # Each transfer applied once, whatever the attempts that stopped half-way.
    assert len(_movements(desk.api)) == before + transfers


@pytest.mark.parametrize("leave", [64 * 1024, 400 * 1024])
def test_a_rebuild_from_a_snapshot_on_a_full_disk_stops_cleanly(
    desk: SyncEngine, disk: SmallDisk, fresh_server: EmbeddedServer, leave: int
) -> None:
    """The snapshot fills a cache of its own beside the one in use: the disk may fill while it is
    created, while it fills, or at its last checkpoint. Each says «disco lleno» (never a raw SQLite
    error), the cache in use stays whole, and the rebuild goes on once there is room."""
    desk.sync_once()
    _many_clients(fresh_server.url, 120)
    cursor, keys = desk.cache.cursor, cache_keys(desk.cache)
    disk.fill(leave, desk.cache._writer, desk.outbox._conn)
    with pytest.raises(storage.DiskFull, match="lleno"):
        desk.rebuild()
    assert desk.cache.cursor == cursor and cache_keys(desk.cache) == keys
    assert not desk.cache.rebuild_path().exists()  # the half-filled one is gone: its room is free
    disk.free()
    desk.rebuild()
    assert cache_keys(desk.cache) == feed_keys(desk.api)


def test_a_change_made_on_a_full_disk_is_refused_whole(desk: SyncEngine, disk: SmallDisk) -> None:
    desk.sync_once()
    cti = standard_cti(desk.cache)
    first = commands.transfer(
        desk.outbox, desk.cache, asset="stamps", target_type="stamping_account", target_id=cti, quantity=1
    )
    disk.fill(0, desk.outbox._conn, desk.cache._writer)
    with pytest.raises(storage.DiskFull) as refused:
        for _ in range(200):  # until the disk is really full (the WAL may hold a few commands)
            commands.transfer(
                desk.outbox,
                desk.cache,
                asset="stamps",
                target_type="stamping_account",
                target_id=cti,
                quantity=1,
            )
    assert str(refused.value) == storage.NOT_SAVED
    kept = desk.outbox.list()
    assert kept[0].id == first.id and all(c.state == CommandState.PENDING for c in kept)
    disk.free()
    later = commands.transfer(
        desk.outbox, desk.cache, asset="stamps", target_type="stamping_account", target_id=cti, quantity=1
    )
    assert [c.id for c in desk.outbox.list()] == [*(c.id for c in kept), later.id]
    desk.sync_once()
    assert {c.state for c in desk.outbox.list()} == {CommandState.DONE}


def _damage(path: Path, start: float = 0.0) -> None:
    """Overwrite pages from `start` (a fraction of the file) on, as a failing disk or a cut copy
    would; the first page (the header and the schema) is spared."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        for offset in range(max(4096, int(size * start)), size, max(4096, size // 8)):
            f.seek(offset)
            f.write(os.urandom(2048))


@pytest.fixture
def session(
    home: Path, memory_keyring: MemoryKeyring, fresh_server: EmbeddedServer
) -> Iterator[DesktopSession]:
    s = DesktopSession(DesktopConfig(server_url=fresh_server.url))
    s.start()
    s.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    try:
        yield s
    finally:
        s.close()


def _pending_edit(session: DesktopSession) -> tuple[str, Any]:
    assert session.cache is not None
    client_id = session.cache.query_clients(sort="nic", limit=1)[0]["id"]
    session.command(commands.update_client, client_id, {"trade_name": "Editado sin conexión"})
    return client_id, session.pending_count()


@pytest.mark.parametrize("fault", ["damaged", "deleted"])
def test_a_damaged_or_missing_cache_is_made_anew_keeping_the_outbox(
    session: DesktopSession, fault: str
) -> None:
    assert session.cache is not None and session.account_id is not None
    client_id, pending = _pending_edit(session)
    assert pending == 1
    path = session.cache.path
    account = session.account_id
    session._close_stores()
    if fault == "damaged":
        _damage(path)
    else:
        for p in path.parent.glob("cache*"):
            p.unlink()

    session._open_account(account)
    cache = session.cache
    assert cache is not None
    assert cache.recreated == (fault == "damaged")
    # The command on its way shows at once, before any sync.
    assert session.pending_count() == 1
    assert cache.get("client", client_id) == {"id": client_id, "trade_name": "Editado sin conexión"}
    report = session.sync_now()
    assert report.push.done == 1 and report.counts_ok
    assert cache.get("client", client_id)["trade_name"] == "Editado sin conexión"  # type: ignore[index]
    assert cache_keys(cache) == feed_keys(session.api)  # type: ignore[arg-type]


def test_a_damaged_page_met_while_syncing_makes_the_cache_anew(session: DesktopSession) -> None:
    """A large cache closed cleanly is not read whole on opening (that costs seconds at 100,000
    clients): the damage is met later, and the next sync makes the cache anew."""
    assert session.cache is not None
    client_id, _ = _pending_edit(session)
    session.cache.damaged = True  # what the store sets when a read or write meets a damaged page
    report = session.sync_now()
    assert session.cache.recreated and not session.cache.damaged
    assert report.push.done == 1 and report.counts_ok
    assert session.cache.get("client", client_id)["trade_name"] == "Editado sin conexión"  # type: ignore[index]


def test_the_store_says_damaged_when_it_meets_a_malformed_page(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache.sqlite3")
    cache.apply_page(
        [
            {"entity": "client", "id": f"c{i}", "version": 1, "data": {"id": f"c{i}", "name": "x" * 300}}
            for i in range(400)
        ],
        "cursor-1",
    )
    cache.close()
    assert not (tmp_path / "cache.sqlite3.open").exists()  # closed cleanly
    # Large enough not to be checked on opening (as a 100,000-client cache would be).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("cmdesk.services.cache.store.CHECK_ALWAYS_BYTES", 0)
        _damage(tmp_path / "cache.sqlite3", start=0.5)  # the clients' rows, not the tables it opens with
        reopened = Cache(tmp_path / "cache.sqlite3")
    try:
        with pytest.raises(storage.CacheDamaged):
            for _ in range(3):
                reopened.query_clients(limit=1000)
                reopened.counts()
        assert reopened.damaged
    finally:
        reopened.close()
    assert (tmp_path / "cache.sqlite3.open").exists()  # the next opening checks it whole
    again = Cache(tmp_path / "cache.sqlite3")
    assert again.recreated and again.cursor is None
    again.close()
