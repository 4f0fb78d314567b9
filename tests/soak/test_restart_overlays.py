"""Found by the soak test: a desktop killed in the middle of a push — after the server applied a
command and the outbox recorded it done, before its optimistic values came off the cache — kept
showing them for good (a provisional "local-…" client without NIC, an edit marked pending). A desktop
that starts again settles them against its outbox (`SyncEngine.settle_overlays`, at the first push)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Command, CommandState, Outbox
from cmdesk.services.sync import SyncEngine
from tests.services.conftest import start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    s = start_server(tmp_path / "server")
    yield s
    s.stop()


def send_without_cleanup(api: ApiClient, outbox: Outbox, command: Command) -> None:
    """What a push does for one command up to the moment it was killed: marked sent, sent with its
    key, its answer recorded done — and nothing after."""
    outbox.mark_sent(command.id)
    if command.method == "POST":
        answer = api.post(command.path, command.body, idempotency_key=command.idempotency_key)
    else:
        answer = api.patch(command.path, command.body, if_match=command.if_match)
    outbox.mark_done(command.id, answer)


def test_a_restarted_desktop_settles_optimistic_values_left_by_a_killed_push(
    tmp_path: Path, server: EmbeddedServer
) -> None:
    api = ApiClient(server.url)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    SyncEngine(api, cache, outbox).sync_once()
    existing = cache.query_clients(limit=1)[0]["id"]
    created = commands.create_client(outbox, cache, {"name": "Cliente Interrumpido", "rfc": "XAXX010101000"})
    edited = commands.update_client(outbox, cache, existing, {"trade_name": "Editado antes del corte"})
    commands.create_client(outbox, cache, {"name": "Cliente Aun en Cola", "rfc": "XAXX010101000"})
    for command in (created, edited):
        send_without_cleanup(api, outbox, command)
    assert len(cache.local_ids()) == 3  # the two done commands' values are still laid over the cache
    outbox.close()
    cache.close()

    # The desktop starts again on the same files and syncs.
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    report = SyncEngine(api, cache, outbox).sync_once()
    assert report.push.done == 1 and "client" in report.changed
    assert cache.local_ids() == []
    assert [c.state for c in outbox.list()] == [CommandState.DONE] * 3
    rows = cache.query_clients(limit=100)
    assert not [r for r in rows if r["id"].startswith(commands.LOCAL_PREFIX) or r["pending"]]
    by_name = {r["name"]: r for r in rows}
    assert by_name["Cliente Interrumpido"]["nic"] and by_name["Cliente Aun en Cola"]["nic"]
    assert next(r for r in rows if r["id"] == existing)["trade_name"] == "Editado antes del corte"
    outbox.close()
    cache.close()
    api.close()


def test_a_command_queued_just_before_a_kill_shows_its_value_again(tmp_path: Path, server: EmbeddedServer) -> None:
    api = ApiClient(server.url)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    SyncEngine(api, cache, outbox).sync_once()
    existing = cache.query_clients(limit=1)[0]["id"]
    command = commands.update_client(outbox, cache, existing, {"trade_name": "Sin dibujar"})
    cache.restore("client", existing)  # killed between queueing the command and laying its value
    engine = SyncEngine(api, cache, outbox)
    assert engine.settle_overlays() == {"client"}
    row = next(r for r in cache.query_clients(limit=100) if r["id"] == existing)
    assert row["trade_name"] == "Sin dibujar" and row["pending"]
    assert outbox.get(command.id) is not None
    outbox.close()
    cache.close()
    api.close()
