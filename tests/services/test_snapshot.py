"""The first sync from the server's snapshot (cmdesk.services.snapshot) against the real server: the
cache then holds what the server holds, entity by entity (on SQLite and on PostgreSQL, while another
desktop keeps changing things), a cut line resumes, an old server is paged, and the views read the
cache while it fills."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from cmdesk.server import db
from cmdesk.server import snapshot as server_snapshot
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from cmdesk.services import cache_image, commands
from cmdesk.services import snapshot as snapshot_module
from cmdesk.services import sync as sync_module
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Outbox
from cmdesk.services.sync import PushReport, SyncEngine
from tests.server.helpers import new_database
from tests.services.conftest import start_server

# ---- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A server of its own on SQLite, with the demo's 5 clients and 30 more."""
    running = start_server(tmp_path / "server", clients_count=35)
    try:
        mails_sent(f"sqlite:///{(tmp_path / 'server' / 'server.db').as_posix()}")
        yield running
    finally:
        running.stop()


@pytest.fixture
def pg_server(pg_url: str, tmp_path: Path) -> Iterator[EmbeddedServer]:
    """The same on a PostgreSQL database of its own."""
    with new_database(pg_url, "snap") as url:
        engine = db.create_db_engine(url)
        try:
            seed_demo(db.session_factory(engine), clients_count=35, software_store=None)
        finally:
            engine.dispose()
        running = EmbeddedServer(url)
        running.start()
        try:
            mails_sent(url)
            yield running
        finally:
            running.stop()


def mails_sent(url: str, timeout: float = 60.0) -> None:
    """Wait until the server sent the mails the seed queued: sending one changes its distributor or
    invitation in the feed, which would race with the comparisons of the cache with the server."""
    engine = db.create_db_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                sql = "SELECT count(*) FROM mail_queue WHERE status IN ('queued', 'sending')"
                if not conn.execute(text(sql)).scalar_one():
                    return
            time.sleep(0.1)
    finally:
        engine.dispose()


def signed_in(server: EmbeddedServer) -> ApiClient:
    client = ApiClient(server.url, retries=1, backoff=0.01)
    client.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    return client


@pytest.fixture
def desktop(server: EmbeddedServer, tmp_path: Path) -> Iterator[SyncEngine]:
    api = signed_in(server)
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    yield SyncEngine(api, cache, outbox)
    cache.close()
    outbox.close()
    api.close()


@pytest.fixture
def other(server: EmbeddedServer) -> Iterator[ApiClient]:
    """Another desktop of the same distributor, changing things on the server."""
    client = signed_in(server)
    yield client
    client.close()


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 3 entities (the server runs in this process): many resume points and commits."""
    monkeypatch.setattr(server_snapshot, "CHUNK", 3)
    monkeypatch.setattr(snapshot_module, "COMMIT_ENTITIES", 10)


# ---- helpers -----------------------------------------------------------------------------------------


def server_state(api: ApiClient) -> dict[tuple[str, str], Any]:
    """What the server holds for the account: its feed replayed from the beginning."""
    state: dict[tuple[str, str], Any] = {}
    cursor = None
    while True:
        page = api.get("/v1/sync/changes", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        for change in page["changes"]:
            key = (change["entity"], change["id"])
            if change["deleted"]:
                state.pop(key, None)
            else:
                state[key] = change["data"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return state


def cache_state(cache: Cache) -> dict[tuple[str, str], Any]:
    """The server's copies the cache holds (optimistic values not laid over, provisional rows left out),
    their sealed secrets opened (NIPs: cache.sealed)."""
    copies = {
        (entity, row["id"]): cache.server_copy(entity, row["id"])
        for entity in cache.counts()
        for row in cache.all(entity)
    }
    return {key: cache.unseal(key[0], [data])[0] for key, data in copies.items() if data is not None}


def assert_cache_is_the_server(cache: Cache, api: ApiClient) -> None:
    assert cache_state(cache) == server_state(api)
    counts = api.get("/v1/sync/counts")
    assert cache.count_clients() == counts["client"]
    assert cache.count_stamping_accounts() == counts["stamping_account"]
    # The typed rows follow the entities: a CTI shows its client's NIC and name, a client its CTIs.
    for cti in cache.query_stamping_accounts(limit=1000):
        client = cache.server_copy("client", cti["client_id"])
        assert client is not None and cti["client_name"] == client["name"] and cti["client_nic"] == client["nic"]
    for row in cache.query_clients(limit=1000):
        client = cache.server_copy("client", row["id"])
        assert client is not None and row["name"] == client["name"] and row["stamps"] == client["balances"]["stamps"]
        ctis = cache.cti_ids_by_client([row["id"]])[row["id"]]
        if ctis:
            assert [r["id"] for r in cache.query_clients(q=ctis[-1])] == [row["id"]]


def keep_writing(api: ApiClient, cache_ids: list[str], stop: threading.Event, done: list[int]) -> None:
    """Edits, transfers and new clients, one after another, until `stop`."""
    ctis = [c["id"] for c in api.get("/v1/stamping-accounts", params={"limit": 50})["items"]
            if c["kind"] == "standard"]
    for n in itertools.count():
        if stop.is_set():
            return
        match n % 4:
            case 0:
                api.patch(f"/v1/clients/{cache_ids[n % len(cache_ids)]}", {"trade_name": f"Cambio {n}"})
            case 1:
                api.post(
                    "/v1/transfers",
                    {"asset": "stamps", "target": {"type": "stamping_account", "id": ctis[n % len(ctis)]}, "quantity": 1},
                    idempotency_key=uuid.uuid4().hex,
                )
            case 2:
                made = api.post("/v1/clients", {"name": f"Cliente nuevo {n}", "rfc": "EKU9003173C9"})
                cache_ids.append(made["client"]["id"])
            case 3:
                api.post("/v1/clients/tags", {"client_ids": cache_ids[-2:], "favorite": n % 8 == 3})
        done.append(n)


def cut_the_line(monkeypatch: pytest.MonkeyPatch, cut_at: int = 40_000) -> Any:
    """The line drops after `cut_at` bytes of the body (with `small_chunks`: a few chunks of clients;
    the whole body is ~60 KB). Returns the reading it replaced, to put back."""
    read = snapshot_module._decoded

    def line_drops_midway(response: requests.Response) -> Iterator[bytes]:
        got = 0
        for data in read(response):
            yield data[: cut_at - got]
            got += len(data)
            if got >= cut_at:
                raise requests.ConnectionError("línea cortada")

    monkeypatch.setattr(snapshot_module, "READ_BYTES", 1000)
    monkeypatch.setattr(snapshot_module, "_decoded", line_drops_midway)
    return read


# ---- tests -------------------------------------------------------------------------------------------


def test_a_first_sync_fills_the_cache_from_the_snapshot(desktop: SyncEngine) -> None:
    seen: list[tuple[int, int, str]] = []
    report = desktop.sync_once(progress=lambda done, total, text: seen.append((done, total, text)))
    assert report.pull.snapshot > 35 and report.counts_ok and not report.rebuilt
    assert report.pull.changes == 0, "nothing changed since the snapshot"
    assert_cache_is_the_server(desktop.cache, desktop.api)
    # Complete: its cursor is the snapshot's, the indexes are built, searches use the search index.
    assert desktop.cache.cursor is not None and desktop.cache.get_meta("snapshot") is None
    assert not desktop.cache._search_pending()
    assert any("ix_clients_name" in step for step in desktop.cache.explain_clients(sort="name"))
    name = desktop.cache.query_clients(limit=1)[0]["name"]
    assert desktop.cache.count_clients(q=name.split()[-1]) >= 1
    # Progress told how much of how much, up to all of it.
    assert seen and seen[-1][0] == seen[-1][1] == report.pull.snapshot
    assert [d for d, _t, _x in seen] == sorted(d for d, _t, _x in seen)
    assert "de" in seen[-1][2]
    again = desktop.sync_once()
    assert again.pull.snapshot == 0 and again.pull.changes == 0


def test_the_views_read_the_first_rows_while_the_rest_arrives(desktop: SyncEngine, small_chunks: None) -> None:
    during: list[tuple[int, int, str | None]] = []

    def look(done: int, total: int, _text: str) -> None:
        if done < total:
            during.append((done, desktop.cache.count_clients(), desktop.cache.cursor))

    desktop.sync_once(progress=look)
    assert any(clients > 0 for _done, clients, _cursor in during), "rows on screen before the end"
    assert all(cursor is None for _done, _clients, cursor in during), "never complete before the end"


def test_a_writer_keeps_changing_things_while_the_snapshot_arrives(
    desktop: SyncEngine, other: ApiClient, small_chunks: None
) -> None:
    _while_writing(desktop, other)


@pytest.mark.postgres_only
def test_the_same_on_postgresql(pg_server: EmbeddedServer, tmp_path: Path, small_chunks: None) -> None:
    api, other = signed_in(pg_server), signed_in(pg_server)
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        _while_writing(SyncEngine(api, cache, outbox), other)
    finally:
        cache.close()
        outbox.close()
        api.close()
        other.close()


@contextlib.contextmanager
def writing(other: ApiClient) -> Iterator[list[int]]:
    """Another desktop keeps changing things (`keep_writing`, on a thread) while the block runs; the
    block gets the list of what it did so far. Its errors are raised when it stops."""
    ids = [c["id"] for c in other.get("/v1/clients", params={"limit": 100})["items"]]
    stop, done = threading.Event(), []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            keep_writing(other, ids, stop, done)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        yield done
    finally:
        stop.set()
        writer.join()
    assert not errors, errors


def _while_writing(desktop: SyncEngine, other: ApiClient) -> None:
    with writing(other) as done:
        # Several first syncs, each into a new cache, while the other desktop writes.
        for _ in range(3):
            desktop.cache.reset()
            before = len(done)
            report = desktop.sync_once(check_counts=False)
            assert report.pull.snapshot > 0
            assert desktop.cache.cursor is not None
        assert len(done) > before, "the writer wrote during the syncs"
    desktop.sync_once()  # what changed since the last snapshot, from its cursor
    assert_cache_is_the_server(desktop.cache, desktop.api)


def test_a_cut_line_resumes_the_snapshot(
    desktop: SyncEngine, other: ApiClient, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = cut_the_line(monkeypatch)
    with pytest.raises(OfflineError):
        desktop.sync_once()
    cache = desktop.cache
    assert cache.cursor is None, "a part of a snapshot never claims to be complete"
    state = snapshot_module.SnapshotFill(desktop.api, cache)._state()
    assert state is not None and state["at"], "where it was cut is kept"
    assert 0 < cache.count_clients() < 35, "what arrived stays (and the views show it)"

    # Meanwhile a client that arrived changes, and a new one comes.
    arrived = cache.query_clients(sort="nic", limit=1)[0]["id"]
    other.patch(f"/v1/clients/{arrived}", {"trade_name": "Cambiado tras el corte"})
    other.post("/v1/clients", {"name": "Llegó tras el corte", "rfc": "EKU9003173C9"})

    asked: list[Any] = []
    stream = desktop.api.stream

    def spy(path: str, headers: Any = None, params: Any = None) -> requests.Response:
        asked.append(params)
        return stream(path, headers=headers, params=params)

    monkeypatch.setattr(snapshot_module, "_decoded", read)
    monkeypatch.setattr(desktop.api, "stream", spy)
    report = desktop.sync_once()
    assert asked == [{"after": state["at"]}], "the rest only"
    assert report.counts_ok and not report.rebuilt
    assert_cache_is_the_server(cache, desktop.api)
    assert cache.server_copy("client", arrived)["trade_name"] == "Cambiado tras el corte"  # type: ignore[index]


def test_a_resume_point_the_server_refuses_starts_over(
    desktop: SyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client made offline before the first sync, still queued: it shows again after the restart.
    commands.create_client(desktop.outbox, desktop.cache, {"name": "Hecho sin conexión", "rfc": "EKU9003173C9"})
    monkeypatch.setattr(desktop, "push", PushReport)
    desktop.cache.set_meta("snapshot", '{"resume_cursor": "0.1", "at": "no es un punto", "done": 5}')
    report = desktop.sync_once(check_counts=False)
    assert report.pull.snapshot > 35
    assert cache_state(desktop.cache) == server_state(desktop.api)
    assert [r["pending"] for r in desktop.cache.query_clients(q="hecho sin conexion")] == [True]


def test_an_old_server_without_snapshots_is_paged(desktop: SyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(path: str, headers: Any = None, params: Any = None) -> requests.Response:
        raise ApiError(404, "not_found", "No encontrado", "La dirección solicitada no existe en el servidor.")

    monkeypatch.setattr(desktop.api, "stream", not_found)
    report = desktop.sync_once()
    assert report.pull.snapshot == 0 and report.pull.pages >= 1 and report.counts_ok
    assert desktop.snapshot is False
    assert_cache_is_the_server(desktop.cache, desktop.api)


def test_a_rebuild_takes_the_snapshot_and_lays_the_queued_changes_again(
    desktop: SyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    desktop.sync_once()
    victim = desktop.cache.query_clients(sort="nic", limit=1)[0]["id"]
    with desktop.cache._write() as conn:
        conn.execute("DELETE FROM entities WHERE entity = 'client' AND id = ?", (victim,))
    commands.set_tags(desktop.outbox, desktop.cache, [victim], dropped=True)
    monkeypatch.setattr(desktop, "push", PushReport)
    report = desktop.sync_once()
    assert report.rebuilt and report.counts_ok and report.pull.snapshot > 35
    row = desktop.cache.query_clients(q=desktop.cache.get("client", victim)["nic"])[0]  # type: ignore[index]
    assert row["dropped"] is True and row["pending"] is True


def test_a_change_queued_while_the_cache_fills_shows_over_it(desktop: SyncEngine, small_chunks: None) -> None:
    """An optimistic value laid while the snapshot arrives is laid over the rows that come after it,
    and the search index is built again at the end (someone else wrote clients meanwhile)."""
    laid: list[str] = []

    def edit_once(done: int, total: int, _text: str) -> None:
        rows = desktop.cache.query_clients(sort="nic", limit=1)
        if not laid and rows and done < total:
            laid.append(rows[0]["id"])
            commands.update_client(desktop.outbox, desktop.cache, rows[0]["id"], {"trade_name": "Editado mientras llega"})

    desktop.push = PushReport  # type: ignore[method-assign]  # the edit stays queued
    desktop.sync_once(progress=edit_once)
    assert laid
    shown = desktop.cache.get("client", laid[0])
    assert shown is not None and shown["trade_name"] == "Editado mientras llega"
    assert not desktop.cache._search_pending()
    assert [r["id"] for r in desktop.cache.query_clients(q="editado mientras")] == [laid[0]]


def test_a_cache_of_another_schema_is_filled_again_from_the_snapshot(desktop: SyncEngine, tmp_path: Path) -> None:
    desktop.sync_once()
    path = desktop.cache.path
    with desktop.cache._write() as conn:
        conn.execute("PRAGMA user_version = 1")  # a cache an older version of the program made
    desktop.cache.close()
    desktop.cache = Cache(path)
    assert desktop.cache.cursor is None and desktop.cache.counts() == {}
    report = desktop.sync_once()
    assert report.pull.snapshot > 35 and report.counts_ok and not report.rebuilt
    assert_cache_is_the_server(desktop.cache, desktop.api)


def test_a_rebuild_fills_a_cache_of_its_own_and_a_cut_leaves_the_old_one(
    desktop: SyncEngine, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    desktop.sync_once()
    cache = desktop.cache
    victim = cache.query_clients(sort="nic", limit=1)[0]["id"]
    with cache._write() as conn:  # the counts differ: the next sync rebuilds the cache
        conn.execute("DELETE FROM entities WHERE entity = 'client' AND id = ?", (victim,))

    def portfolio() -> dict[tuple[str, str], Any]:
        # Clients and CTIs: nobody changes them meanwhile (the server's mails change other entities,
        # which the pull before the rebuild brings).
        return {k: v for k, v in cache_state(cache).items() if k[0] in ("client", "stamping_account")}

    before, shown = portfolio(), cache.count_clients()
    monkeypatch.setattr(desktop, "push", PushReport)

    seen_meanwhile: list[int] = []

    def progress(done: int, total: int, _text: str) -> None:
        seen_meanwhile.append(cache.count_clients())  # the views read the old cache all along

    read = cut_the_line(monkeypatch)
    with pytest.raises(OfflineError):
        desktop.sync_once(progress=progress)
    assert seen_meanwhile and set(seen_meanwhile) == {shown}
    assert portfolio() == before, "the old cache, untouched"
    assert cache.cursor is not None and cache.get_meta("snapshot") is None
    assert cache.count_clients() == shown and cache.query_clients(sort="name", limit=5)
    assert not list(cache.path.parent.glob("*-rebuild*")), "nothing of the cut rebuild is left"

    notified: list[set[str]] = []
    cache.subscribe(notified.append)
    monkeypatch.setattr(snapshot_module, "_decoded", read)
    report = desktop.sync_once(progress=progress)
    assert report.rebuilt and report.counts_ok and report.pull.snapshot > 35
    assert_cache_is_the_server(cache, desktop.api)
    assert cache.get("client", victim) is not None
    assert any("client" in changed for changed in notified), "the views read the new cache"
    assert not list(cache.path.parent.glob("*-rebuild*"))


def test_a_cache_not_synced_for_a_month_is_filled_again_from_a_snapshot(
    desktop: SyncEngine, other: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    desktop.sync_once()
    cache = desktop.cache
    changed = cache.query_clients(sort="nic", limit=1)[0]["id"]
    asked: list[Any] = []
    stream = desktop.api.stream

    def spy(path: str, headers: Any = None, params: Any = None) -> requests.Response:
        asked.append(path)
        return stream(path, headers=headers, params=params)

    monkeypatch.setattr(desktop.api, "stream", spy)

    # Synced recently: the feed goes on from the cursor.
    other.patch(f"/v1/clients/{changed}", {"trade_name": "Cambio de ayer"})
    report = desktop.sync_once()
    assert asked == [] and report.pull.snapshot == 0 and report.pull.changes >= 1

    # Not synced for longer than STALE_AFTER: a snapshot, then the feed from its cursor.
    other.patch(f"/v1/clients/{changed}", {"trade_name": "Cambiado en su ausencia"})
    cache.mark_synced(dt.datetime.now(dt.UTC) - sync_module.STALE_AFTER - dt.timedelta(days=1))
    report = desktop.sync_once()
    # (the server has no cache image for so small an account: cmdesk.services.cache_image)
    assert asked == [cache_image.PATH, snapshot_module.PATH] and report.pull.snapshot > 35 and report.counts_ok
    assert_cache_is_the_server(cache, desktop.api)
    assert cache.server_copy("client", changed)["trade_name"] == "Cambiado en su ausencia"  # type: ignore[index]
    assert dt.datetime.now(dt.UTC) - cache.last_sync_at < dt.timedelta(minutes=5)  # type: ignore[operator]

    # The same with a server without snapshots: the feed from the cursor, not from the beginning.
    def not_found(path: str, headers: Any = None, params: Any = None) -> requests.Response:
        raise ApiError(404, "not_found", "No encontrado", "La dirección solicitada no existe en el servidor.")

    monkeypatch.setattr(desktop.api, "stream", not_found)
    other.patch(f"/v1/clients/{changed}", {"trade_name": "Otra vez"})
    cache.mark_synced(dt.datetime.now(dt.UTC) - sync_module.STALE_AFTER - dt.timedelta(days=1))
    report = desktop.sync_once()
    assert report.pull.snapshot == 0 and 1 <= report.pull.changes < 35 and report.counts_ok
    assert cache.server_copy("client", changed)["trade_name"] == "Otra vez"  # type: ignore[index]
