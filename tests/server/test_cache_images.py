"""Cache images (cmdesk.server.cache_images), on SQLite and on PostgreSQL: an image holds what replaying
the whole feed leaves (but the top-up codes, whose NIPs only a desktop may seal), its cursor goes on
with exactly the changes made after it, the snapshot can be limited to some entities (`only=`), which
image is served and when one is built again, and `cmdesk-server cache-images`."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from cmdesk.server import cache_images, cli, db
from cmdesk.server.api.sync import feed_loaders
from cmdesk.server.operations import clients
from cmdesk.services.cache import store
from cmdesk.services.cache.schema import SCHEMA_VERSION, SEARCH_MODE
from tests.server.helpers import make_client
from tests.server.test_snapshot import _plain, portfolio, replay, take  # noqa: F401  (portfolio: a fixture)

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd


def unpack(image: cache_images.Image, folder: Path) -> Path:
    """The image's cache file (and its search file beside it) in `folder`."""
    raw = image.path.read_bytes()
    assert raw.startswith(orjson.dumps(dict(image.header)) + b"\n")
    files = zstd.decompress(raw[raw.index(b"\n") + 1 :])
    size = image.header["sizes"][0]
    assert len(files) == sum(image.header["sizes"])
    folder.mkdir()
    (folder / "cache.sqlite3").write_bytes(files[:size])
    (folder / "cache-search.sqlite3").write_bytes(files[size:])
    return folder / "cache.sqlite3"


def entities_in(path: Path) -> dict[tuple[str, str], Any]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT entity, id, data FROM entities").fetchall()
    return {(entity, ident): orjson.loads(data) for entity, ident, data in rows}


def meta_of(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def test_an_image_holds_the_feed_replayed_but_the_top_up_codes(engine, factory, portfolio, tmp_path):  # noqa: F811
    actor = portfolio["actor"]
    db.run(factory, clients.update_client, actor, portfolio["clients"][1], {"trade_name": "Antes de la imagen"})
    image = cache_images.build(engine, actor.account_id, tmp_path / "images")
    header = image.header
    assert header["schema"] == SCHEMA_VERSION and header["search_mode"] == SEARCH_MODE
    assert header["omitted"] == ["top_up_code"] and header["account_id"] == actor.account_id
    assert image.path == tmp_path / "images" / f"{actor.account_id}.image"
    assert not [p for p in image.path.parent.iterdir() if p != image.path], "nothing else is left"
    if os.name != "nt":  # the account's data: for the server's user only
        assert image.path.stat().st_mode & 0o077 == 0 and image.path.parent.stat().st_mode & 0o077 == 0

    path = unpack(image, tmp_path / "unpacked")
    state, _cursor = replay(factory, actor)
    expected = {key: _plain(value) for key, value in state.items() if key[0] not in header["omitted"]}
    assert entities_in(path) == expected
    assert header["entities"] == len(expected)
    # The cache waits for what was left out: its cursor is held apart (cmdesk.services.cache_image).
    meta = meta_of(path)
    assert "cursor" not in meta and meta[store.IMAGE_CURSOR] == header["cursor"]
    assert json.loads(meta[store.IMAGE_OMITTED]) == ["top_up_code"]
    assert "account_id" not in meta and "bulk_fill" not in meta and "snapshot" not in meta

    # From its cursor the feed hands out exactly what changed after it.
    assert replay(factory, actor, header["cursor"])[0] == {}
    made = make_client(factory, actor, name="Después de la imagen")["client"]["id"]
    after, _cursor = replay(factory, actor, header["cursor"])
    assert ("client", made) in after
    assert all(entity in ("client", "stamping_account", "account", "movement") for entity, _ in after)


def test_the_snapshot_can_be_limited_to_some_entities(engine, factory, portfolio):  # noqa: F811
    actor = portfolio["actor"]
    lines = take(engine, actor, only=frozenset({"client", "price_package"}))
    sent = {line[0] for line in lines if isinstance(line, list)}
    assert sent == {"client", "price_package"}
    assert lines[0]["counts"].keys() == {"client", "price_package"}
    state, _cursor = replay(factory, actor)
    assert len([line for line in lines if isinstance(line, list)]) == len(
        [key for key in state if key[0] in sent]
    )
    assert cache_images.snapshot.parse_only("top_up_code,client") == {"top_up_code", "client"}
    for bad in ("Top-Up", "client,,x", "a" * 40):
        with pytest.raises(Exception) as error:
            cache_images.snapshot.parse_only(bad)
        assert "entidades" in str(error.value)


def test_which_image_is_served_and_when_one_is_built_again(engine, factory, portfolio, tmp_path):  # noqa: F811
    actor = portfolio["actor"]
    folder = tmp_path / "images"

    def choose(**kw: Any) -> tuple[cache_images.Image | None, bool]:
        args: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "search_mode": SEARCH_MODE,
            "max_changes": 3,
            "refresh_changes": 1,
            "min_entities": 1,
            **kw,
        }
        return db.run(factory, cache_images.choose, actor.account_id, folder, **args)

    assert choose() == (None, True), "none yet: build one"
    assert choose(min_entities=10_000) == (None, False), "a small account: the snapshot is quick"
    image = cache_images.build(engine, actor.account_id, folder)
    served, again = choose()
    assert served is not None and served.cursor == image.cursor and again is False
    assert choose(schema=SCHEMA_VERSION + 1) == (None, False), "another program's cache"
    assert choose(search_mode="like") == (None, False)
    db.run(factory, clients.update_client, actor, portfolio["clients"][0], {"trade_name": "Uno"})
    db.run(factory, clients.update_client, actor, portfolio["clients"][1], {"trade_name": "Dos"})
    served, again = choose(min_age=dt.timedelta(hours=1))
    assert served is not None and again is False, "a young image is not built again so soon"
    served, again = choose()
    assert served is not None and again is True, "served while a newer one is built"
    for n in range(3):
        db.run(factory, clients.update_client, actor, portfolio["clients"][2], {"trade_name": f"Tres {n}"})
    assert choose() == (None, True), "too far behind: the snapshot, and a new one"


def test_one_build_at_a_time_per_account(engine, portfolio, tmp_path):  # noqa: F811
    folder = tmp_path / "images"
    account = portfolio["actor"].account_id
    builder = cache_images.Builder(engine, folder)
    with cache_images.build_lock(folder, account) as mine:
        assert mine
        with cache_images.build_lock(folder, account) as again:
            assert not again, "another process is building it"
        builder.request(account)
        builder.wait(timeout=60)
        assert cache_images.current(folder, account) is None, "the builder left it to the other"
    builder.request(account)
    builder.wait(timeout=120)
    assert cache_images.current(folder, account) is not None
    assert not list(folder.glob("*.building"))


def test_a_build_that_failed_is_not_tried_again_at_once(engine, portfolio, tmp_path, monkeypatch, caplog):  # noqa: F811
    folder = tmp_path / "images"
    account = portfolio["actor"].account_id
    tried: list[str] = []
    real = cache_images.build

    def disk_full(engine: Any, account_id: str, folder: Path) -> cache_images.Image:
        tried.append(account_id)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_images, "build", disk_full)
    builder = cache_images.Builder(engine, folder)
    for _ in range(3):  # three first syncs of the account, one after the other
        builder.request(account)
        builder.wait(timeout=60)
    assert tried == [account] and "building the cache image" in caplog.text
    assert not list(folder.glob("*.building")), "the lock is given back"
    monkeypatch.setattr(cache_images, "build", real)
    monkeypatch.setattr(cache_images, "RETRY_AFTER_SECONDS", 0.0)
    builder.request(account)
    builder.wait(timeout=120)
    assert cache_images.current(folder, account) is not None, "tried again later"


def test_the_command_builds_the_large_accounts_images(tmp_path, capsys):
    url = f"sqlite:///{(tmp_path / 'server.db').as_posix()}"
    assert cli.main(["migrate", "--db", url]) == 0
    assert cli.main(["seed", "--demo", "--db", url, "--clients", "3"]) == 0
    capsys.readouterr()
    folder = tmp_path / "images"
    assert cli.main(["cache-images", "--db", url, "--folder", str(folder), "--min-entities", "1000000"]) == 0
    assert "Ninguna cuenta" in capsys.readouterr().out and not list(folder.glob("*.image"))
    assert cli.main(["cache-images", "--db", url, "--folder", str(folder), "--min-entities", "20"]) == 0
    out = capsys.readouterr().out
    built = list(folder.glob("*.image"))
    assert built and out.count("Imagen de la caché de la cuenta") == len(built) and "registros" in out
    for path in built:
        header = cache_images.read_header(path)
        assert header is not None and header["account_id"] == path.stem
    assert set(feed_loaders()) >= {"client", "stamping_account"}
