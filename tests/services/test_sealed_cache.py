"""Issue 15: the top-up codes' NIPs are never in plain text in the cache's files — sealed with a key of
the user's keyring (or, with no keyring, of a file readable only by the user), opened for the list."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache, sealed
from cmdesk.services.credentials import local_secret_service, secret_file
from cmdesk.services.outbox import Outbox
from cmdesk.services.sync import SyncEngine
from tests.services.conftest import MemoryKeyring


def cache_bytes(folder: Path) -> bytes:
    """Every file the cache wrote (the database, its WAL, the search index)."""
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name.startswith("cache"))


def codes_made(api: ApiClient, cache: Cache, count: int) -> list[dict[str, object]]:
    return [
        commands.generate_top_up_code(api, cache, asset="stamps", quantity=1, amount_cents=100)["code"]
        for _ in range(count)
    ]


def synced(api: ApiClient, folder: Path, *, snapshot: bool) -> Cache:
    folder.mkdir()
    cache = Cache(folder / "cache.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")
    SyncEngine(api, cache, outbox, page_size=50, snapshot=snapshot).sync_once()
    outbox.close()
    return cache


def assert_sealed(folder: Path, cache: Cache, codes: list[dict[str, object]]) -> None:
    listed = {row["id"]: row for row in cache.query_top_up_codes(limit=10_000)}
    data = cache_bytes(folder)
    for code in codes:
        nip = str(code["nip"])
        assert listed[code["id"]]["nip"] == nip  # the list shows it…
        assert f'"{nip}"'.encode() not in data  # …and no file holds it as text
    stored = cache.server_copy("top_up_code", str(codes[0]["id"]))
    assert stored is not None and "nip" not in stored and set(stored[sealed.SEALED]) == {"nip"}


@pytest.mark.parametrize("snapshot", [False, True], ids=["feed", "snapshot"])
def test_no_nip_in_the_cache_files_after_a_sync(
    api: ApiClient, memory_keyring: MemoryKeyring, tmp_path: Path, home: Path, snapshot: bool
) -> None:
    scratch = Cache(tmp_path / "scratch.sqlite3")
    codes = codes_made(api, scratch, 3)
    scratch.close()
    cache = synced(api, tmp_path / "desk", snapshot=snapshot)
    try:
        cache.close()  # a checkpoint: what the WAL held is in the database file now
        cache = Cache(tmp_path / "desk" / "cache.sqlite3")
        assert_sealed(tmp_path / "desk", cache, codes)
        # The key is in the keyring, not in a file.
        assert (local_secret_service(sealed.KEY_NAME), "clave") in memory_keyring.values
        assert not secret_file(sealed.KEY_NAME).exists()
    finally:
        cache.close()


@pytest.mark.parametrize("keyring_kind", ["memory_keyring", "no_keyring"])
def test_the_answer_of_a_new_code_is_sealed_too(
    api: ApiClient, tmp_path: Path, home: Path, keyring_kind: str, request: pytest.FixtureRequest
) -> None:
    """With a keyring, or with none (the key is then a file only the user reads, never beside the
    cache)."""
    request.getfixturevalue(keyring_kind)
    cache = Cache(tmp_path / "cache.sqlite3")
    try:
        code = codes_made(api, cache, 1)[0]
        assert_sealed(tmp_path, cache, [code])
    finally:
        cache.close()
    key_file = secret_file(sealed.KEY_NAME)
    assert key_file.exists() == (keyring_kind == "no_keyring") and key_file.parent != tmp_path
    if key_file.exists() and os.name != "nt":
        assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_cache_an_older_version_wrote_is_sealed_on_opening(
    memory_keyring: MemoryKeyring, tmp_path: Path, home: Path
) -> None:
    path = tmp_path / "cache.sqlite3"
    cache = Cache(path)
    cache.close()
    plain = {"id": "c1", "version": 1, "code": "ABCD-EFGH", "nip": "7QX2", "created_at": "2026-01-01"}
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO entities (entity, id, version, data) VALUES ('top_up_code', 'c1', 1, ?)",
            (json.dumps(plain),),
        )
    cache = Cache(path)
    try:
        assert [r["nip"] for r in cache.query_top_up_codes()] == ["7QX2"]
        assert b'"7QX2"' not in cache_bytes(tmp_path)
    finally:
        cache.close()


def test_a_sealed_value_is_bound_to_its_row_and_its_key() -> None:
    key = os.urandom(32)
    sealer = sealed.Sealer(key)
    data = sealer.seal("top_up_code", {"id": "a", "nip": "7QX2", "code": "X"})
    assert "nip" not in data
    assert sealer.open("top_up_code", dict(data))["nip"] == "7QX2"
    # Copied to another row, or read with another key: left out, never an error.
    assert "nip" not in sealer.open("top_up_code", {**data, "id": "b"})
    assert "nip" not in sealed.Sealer(os.urandom(32)).open("top_up_code", dict(data))
    # No key at all: the NIP is not kept, only that there was one.
    assert sealed.Sealer(None).seal("top_up_code", {"id": "a", "nip": "7QX2"}) == {"id": "a", "sealed": {"nip": None}}
    # Other entities are left as they are.
    other = {"id": "a", "nip": "x"}
    assert sealer.seal("client", other) is other


def test_what_does_not_open_is_named_so_the_list_can_say_why() -> None:
    """A NIP sealed with a lost key, or not kept at all (no key), reads as `unopened`; one the server
    never sent (None) does not."""
    data = sealed.Sealer(os.urandom(32)).seal("top_up_code", {"id": "a", "nip": "7QX2"})
    assert sealed.Sealer(os.urandom(32)).open("top_up_code", dict(data))[sealed.UNOPENED] == ["nip"]
    assert sealed.Sealer(None).open("top_up_code", dict(data))[sealed.UNOPENED] == ["nip"]
    not_kept = sealed.Sealer(None).seal("top_up_code", {"id": "a", "nip": "7QX2"})
    assert "7QX2" not in json.dumps(not_kept)
    opened = sealed.Sealer(os.urandom(32)).open("top_up_code", dict(not_kept))
    assert "nip" not in opened and opened[sealed.UNOPENED] == ["nip"]
    key = os.urandom(32)
    fine = sealed.Sealer(key).open("top_up_code", dict(sealed.Sealer(key).seal("top_up_code", {"id": "a", "nip": "7"})))
    assert fine == {"id": "a", "nip": "7"}
    none = sealed.Sealer(key).open("top_up_code", dict(sealed.Sealer(key).seal("top_up_code", {"id": "a", "nip": None})))
    assert none == {"id": "a"}
