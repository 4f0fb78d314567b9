"""A first sync from the server's cache image (cmdesk.services.cache_image, cmdesk.server.cache_images)
against the real server: the cache then holds what the server holds, entity by entity, on SQLite and on
PostgreSQL while another desktop keeps changing things; the top-up codes' NIPs arrive sealed; a cut
download leaves nothing; a damaged or missing image falls back to the snapshot, and the server builds
one for next time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cmdesk.server import cache_images
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.services import cache_image, commands
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from cmdesk.services.cache import Cache
from cmdesk.services.cache.schema import SCHEMA_VERSION, SEARCH_MODE
from cmdesk.services.outbox import Outbox
from cmdesk.services.sync import PushReport, SyncEngine
from tests.services.conftest import MemoryKeyring
from tests.services.test_sealed_cache import cache_bytes, codes_made
from tests.services.test_snapshot import (
    assert_cache_is_the_server,
    cache_state,
    pg_server,  # noqa: F401  (a fixture)
    server,  # noqa: F401  (a fixture)
    server_state,
    signed_in,
    writing,
)

# ---- helpers -----------------------------------------------------------------------------------------


def builder_of(running: EmbeddedServer, **settings: Any) -> cache_images.Builder:
    """The running server's image builder, its settings changed (images for any account by default)."""
    app: Any = running._app
    app.state.settings = app.state.settings.model_copy(update={"cache_image_min_entities": 0, "cache_image_min_age_minutes": 0, **settings})
    builder: cache_images.Builder = app.state.cache_images
    return builder


def account_of(api: ApiClient) -> str:
    return str(api.get("/v1/me")["account"]["id"])


def build_image(running: EmbeddedServer, api: ApiClient) -> cache_images.Image:
    builder = builder_of(running)
    return cache_images.build(builder.engine, account_of(api), builder.folder)


@pytest.fixture
def desktop(server: EmbeddedServer, tmp_path: Path) -> Iterator[SyncEngine]:  # noqa: F811
    api = signed_in(server)
    folder = tmp_path / "desktop"
    folder.mkdir()
    cache = Cache(folder / "cache.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")
    yield SyncEngine(api, cache, outbox)
    cache.close()
    outbox.close()
    api.close()


@pytest.fixture
def other(server: EmbeddedServer) -> Iterator[ApiClient]:  # noqa: F811
    client = signed_in(server)
    yield client
    client.close()


def spy_paths(monkeypatch: pytest.MonkeyPatch, api: ApiClient) -> list[str]:
    asked: list[str] = []
    stream = api.stream

    def spy(path: str, headers: Any = None, params: Any = None) -> requests.Response:
        asked.append(path)
        return stream(path, headers=headers, params=params)

    monkeypatch.setattr(api, "stream", spy)
    return asked


# ---- tests -------------------------------------------------------------------------------------------


def test_a_first_sync_takes_the_image_and_goes_on_with_the_feed(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    other: ApiClient,
    memory_keyring: MemoryKeyring,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = Cache(tmp_path / "scratch.sqlite3")
    codes = codes_made(other, scratch, 2)
    scratch.close()
    image = build_image(server, other)
    assert image.header["omitted"] == ["top_up_code"] and image.header["entities"] > 35
    # Changes after the image: the feed brings them from its cursor.
    client = other.get("/v1/clients", params={"limit": 1})["items"][0]
    other.patch(f"/v1/clients/{client['id']}", {"trade_name": "Cambiado después de la imagen"})
    made = other.post("/v1/clients", {"name": "Llegada posterior", "rfc": "EKU9003173C9"})["client"]

    asked = spy_paths(monkeypatch, desktop.api)
    seen: list[tuple[int, int, str]] = []
    report = desktop.sync_once(progress=lambda done, total, text: seen.append((done, total, text)))
    assert report.pull.image == image.header["entities"] and report.pull.snapshot == 0
    assert report.counts_ok and not report.rebuilt and report.pull.changes >= 2
    assert asked[:2] == [cache_image.PATH, cache_image.SNAPSHOT_PATH], "the image, then what it left out"
    assert seen and seen[-1][0] == seen[-1][1] and "MB" in seen[-1][2]
    cache = desktop.cache
    assert_cache_is_the_server(cache, desktop.api)
    assert cache.server_copy("client", client["id"])["trade_name"] == "Cambiado después de la imagen"  # type: ignore[index]
    assert cache.get_meta(cache_image.IMAGE_CURSOR) is None and cache.cursor is not None
    # The NIPs came from the server, sealed here: listed, never in a file as text.
    listed = {row["id"]: row["nip"] for row in cache.query_top_up_codes(limit=1000)}
    data = cache_bytes(cache.path.parent)
    for code in codes:
        assert listed[code["id"]] == code["nip"] and f'"{code["nip"]}"'.encode() not in data
    # The image's indexes and search index are in use, and kept up by the next changes.
    assert not cache._search_pending()
    assert any("ix_clients_name" in step for step in cache.explain_clients(sort="name"))
    assert [r["id"] for r in cache.query_clients(q="llegada posterior")] == [made["id"]]
    other.patch(f"/v1/clients/{made['id']}", {"name": "Renombrado en el feed"})
    desktop.sync_once()
    assert [r["id"] for r in cache.query_clients(q="renombrado en el")] == [made["id"]]
    assert cache.query_clients(q="llegada posterior") == []


def test_no_nip_ever_in_the_image(server: EmbeddedServer, other: ApiClient, tmp_path: Path) -> None:  # noqa: F811
    scratch = Cache(tmp_path / "scratch.sqlite3")
    codes = codes_made(other, scratch, 2)
    scratch.close()
    image = build_image(server, other)
    from backports import zstd

    raw = image.path.read_bytes()
    files = zstd.decompress(raw[raw.index(b"\n") + 1 :])
    assert len(files) == sum(image.header["sizes"])
    for code in codes:  # (the code itself is no secret: its movement's comment names it)
        assert f'"{code["nip"]}"'.encode() not in files


def test_without_an_image_the_snapshot_fills_the_cache_and_one_is_built_for_next_time(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    tmp_path: Path,
) -> None:
    builder = builder_of(server)
    account = account_of(desktop.api)
    assert cache_images.current(builder.folder, account) is None
    report = desktop.sync_once()
    assert report.pull.image == 0 and report.pull.snapshot > 35 and report.counts_ok
    builder.wait(timeout=120)
    assert cache_images.current(builder.folder, account) is not None, "asked for, built in the background"
    # Another computer of the distributor now gets the image.
    api = signed_in(server)
    cache, outbox = Cache(tmp_path / "second" / "cache.sqlite3"), Outbox(tmp_path / "second" / "outbox.sqlite3")
    try:
        second = SyncEngine(api, cache, outbox).sync_once()
        assert second.pull.image > 35 and second.counts_ok
        assert cache_state(cache) == cache_state(desktop.cache) == server_state(api)
    finally:
        cache.close()
        outbox.close()
        api.close()


def test_small_accounts_and_other_schemas_get_no_image(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
) -> None:
    builder = builder_of(server, cache_image_min_entities=10_000)
    report = desktop.sync_once()
    assert report.pull.image == 0 and report.pull.snapshot > 35
    builder.wait(timeout=60)
    assert cache_images.current(builder.folder, account_of(desktop.api)) is None, "small: the snapshot is quick"
    builder_of(server)
    build_image(server, desktop.api)
    with pytest.raises(ApiError) as error:
        desktop.api.stream(cache_image.PATH, params={"schema": SCHEMA_VERSION + 1, "search": SEARCH_MODE})
    assert error.value.status == 404 and "instantánea" in error.value.detail
    with pytest.raises(ApiError) as error:
        desktop.api.stream(cache_image.PATH, params={"schema": "x", "search": SEARCH_MODE})
    assert error.value.status == 422


def test_an_image_too_far_behind_is_not_served_and_is_built_again(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    other: ApiClient,
) -> None:
    old = build_image(server, other)
    builder = builder_of(server, cache_image_max_changes=3, cache_image_refresh_changes=1)
    for n in range(5):
        other.post("/v1/clients", {"name": f"Cliente {n}", "rfc": "EKU9003173C9"})
    report = desktop.sync_once()
    assert report.pull.image == 0 and report.pull.snapshot > 35, "5 changes behind: the snapshot"
    assert_cache_is_the_server(desktop.cache, desktop.api)
    builder.wait(timeout=120)
    new = cache_images.current(builder.folder, old.header["account_id"])
    assert new is not None and new.cursor != old.cursor


def test_a_cut_download_leaves_nothing_and_the_next_sync_starts_over(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_image(server, desktop.api)
    stream = desktop.api.stream

    class Cut:
        def __init__(self, response: requests.Response) -> None:
            self.response, self.headers = response, response.headers

        def iter_content(self, chunk_size: int) -> Iterator[bytes]:
            got = 0
            for data in self.response.iter_content(chunk_size=4096):
                yield data
                got += len(data)
                if got > 20_000:
                    raise requests.ConnectionError("línea cortada")

        def close(self) -> None:
            self.response.close()

    def cut(path: str, headers: Any = None, params: Any = None) -> Any:
        response = stream(path, headers=headers, params=params)
        return Cut(response) if path == cache_image.PATH else response

    monkeypatch.setattr(desktop.api, "stream", cut)
    with pytest.raises(OfflineError):
        desktop.sync_once()
    cache = desktop.cache
    assert cache.cursor is None and cache.counts() == {}
    assert not list(cache.path.parent.glob("*-rebuild*")), "nothing of the cut download is left"
    monkeypatch.setattr(desktop.api, "stream", stream)
    report = desktop.sync_once()
    assert report.pull.image > 35 and report.counts_ok
    assert_cache_is_the_server(cache, desktop.api)


def test_what_the_image_left_out_comes_at_the_next_sync_after_a_cut(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    other: ApiClient,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    home: Path,
    tmp_path: Path,
) -> None:
    scratch = Cache(tmp_path / "scratch.sqlite3")
    codes = codes_made(other, scratch, 1)
    scratch.close()
    build_image(server, other)
    stream = desktop.api.stream

    def no_line_for_the_rest(path: str, headers: Any = None, params: Any = None) -> requests.Response:
        if path == cache_image.SNAPSHOT_PATH:
            raise OfflineError()
        return stream(path, headers=headers, params=params)

    monkeypatch.setattr(desktop.api, "stream", no_line_for_the_rest)
    with pytest.raises(OfflineError):
        desktop.sync_once()
    cache = desktop.cache
    assert cache_image.pending(cache) and cache.cursor is None, "never taken for complete"
    assert cache.count_clients() >= 35, "the portfolio is on screen meanwhile"
    assert cache.query_top_up_codes() == []
    monkeypatch.setattr(desktop.api, "stream", stream)
    asked = spy_paths(monkeypatch, desktop.api)
    report = desktop.sync_once()
    assert asked == [cache_image.SNAPSHOT_PATH], "only what was left out"
    assert report.counts_ok and not report.rebuilt and not cache_image.pending(cache)
    assert codes[0]["nip"] in [r["nip"] for r in cache.query_top_up_codes()]
    assert_cache_is_the_server(cache, desktop.api)


def test_a_damaged_image_falls_back_to_the_snapshot(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
) -> None:
    image = build_image(server, desktop.api)
    raw = bytearray(image.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # a byte changed in the middle of the frame
    image.path.write_bytes(bytes(raw))
    report = desktop.sync_once()
    assert report.pull.image == 0 and report.pull.snapshot > 35 and report.counts_ok
    assert_cache_is_the_server(desktop.cache, desktop.api)
    assert not list(desktop.cache.path.parent.glob("*-rebuild*"))


def test_an_image_a_newer_sqlite_wrote_is_left_for_the_snapshot(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = build_image(server, desktop.api)
    assert image.header["sqlite"] == sqlite3.sqlite_version
    monkeypatch.setattr(cache_image.sqlite3, "sqlite_version", "3.7.0")  # an old SQLite on this desktop
    report = desktop.sync_once()
    assert report.pull.image == 0 and report.pull.snapshot > 35 and report.counts_ok
    assert not list(desktop.cache.path.parent.glob("*-rebuild*"))


def test_queued_changes_show_over_the_image(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_image(server, desktop.api)
    commands.create_client(desktop.outbox, desktop.cache, {"name": "Hecho sin conexión", "rfc": "EKU9003173C9"})
    monkeypatch.setattr(desktop, "push", PushReport)  # it stays queued
    report = desktop.sync_once(check_counts=False)
    assert report.pull.image > 35
    assert [r["pending"] for r in desktop.cache.query_clients(q="hecho sin conexion")] == [True]


def test_a_rebuild_takes_the_image_too(
    server: EmbeddedServer,  # noqa: F811
    desktop: SyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desktop.sync_once()
    desktop.cache.set_meta("account_id", "la-cuenta")
    build_image(server, desktop.api)
    victim = desktop.cache.query_clients(sort="nic", limit=1)[0]["id"]
    with desktop.cache._write() as conn:  # the counts differ: the next sync rebuilds the cache
        conn.execute("DELETE FROM entities WHERE entity = 'client' AND id = ?", (victim,))
    commands.set_tags(desktop.outbox, desktop.cache, [victim], dropped=True)
    monkeypatch.setattr(desktop, "push", PushReport)
    report = desktop.sync_once()
    assert report.rebuilt and report.counts_ok and report.pull.image > 35
    row = desktop.cache.query_clients(q=desktop.cache.get("client", victim)["nic"])[0]  # type: ignore[index]
    assert row["dropped"] is True and row["pending"] is True
    assert desktop.cache.account_id == "la-cuenta", "the account the cache belongs to stays"


# ---- consistency under writes, on both databases --------------------------------------------------------


def _image_while_writing(server: EmbeddedServer, folder: Path) -> None:  # noqa: F811
    api, other = signed_in(server), signed_in(server)
    caches: list[Cache] = []
    try:
        with writing(other) as done:
            # Images built while the other desktop writes, each taken by a new desktop, also meanwhile.
            for n in range(2):
                before = len(done)
                build_image(server, api)
                cache = Cache(folder / f"d{n}" / "cache.sqlite3")
                caches.append(cache)
                outbox = Outbox(folder / f"d{n}" / "outbox.sqlite3")
                try:
                    report = SyncEngine(api, cache, outbox).sync_once(check_counts=False)
                finally:
                    outbox.close()
                assert report.pull.image > 0 and cache.cursor is not None
            assert len(done) > before, "the writer wrote during the builds and syncs"
        for n, cache in enumerate(caches):
            outbox = Outbox(folder / f"d{n}" / "outbox.sqlite3")
            try:
                SyncEngine(api, cache, outbox).sync_once()  # what changed since, from the image's cursor
            finally:
                outbox.close()
            assert_cache_is_the_server(cache, api)
    finally:
        for cache in caches:
            cache.close()
        api.close()
        other.close()


def test_images_taken_while_a_writer_keeps_changing_things(server: EmbeddedServer, tmp_path: Path) -> None:  # noqa: F811
    _image_while_writing(server, tmp_path)


@pytest.mark.postgres_only
def test_the_same_on_postgresql(pg_server: EmbeddedServer, tmp_path: Path) -> None:  # noqa: F811
    builder = builder_of(pg_server, cache_image_folder=tmp_path / "images")
    pg_server._app.state.cache_images = cache_images.Builder(builder.engine, tmp_path / "images")  # type: ignore[attr-defined]
    _image_while_writing(pg_server, tmp_path)
