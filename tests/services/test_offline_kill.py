"""Offline first, proved against the real server: a session that starts with the server down works
from its cache and queues changes that apply exactly once when the server is back; and a desktop
process killed in the middle of pushing a long outbox loses nothing and applies nothing twice."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient, OfflineError
from cmdesk.services.cache import Cache
from cmdesk.services.config import DesktopConfig
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.credentials import CredentialStore
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.session import OFFLINE_START_MESSAGE, DesktopSession, SessionEvent
from cmdesk.services.sync import SyncEngine
from tests.services.conftest import MemoryKeyring, start_server

TRANSFERS = 200
KILL_AFTER = 60  # commands applied before the child is killed


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    s = start_server(tmp_path / "server")
    yield s
    s.stop()


def movements(api: ApiClient, **filters: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 1000, **filters, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/movements", params=params)
        out.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return out


def new_client(api: ApiClient, name: str) -> tuple[str, str]:
    """A new client and its (empty) standard CTI: (client id, CTI id)."""
    created = api.post(
        "/v1/clients", {"name": name, "rfc": "XAXX010101000"}, idempotency_key=uuid.uuid4().hex
    )
    return created["client"]["id"], created["stamping_account"]["id"]


def test_offline_start_queues_commands_that_apply_once_when_the_server_returns(
    tmp_path: Path, server: EmbeddedServer, memory_keyring: MemoryKeyring
) -> None:
    home = tmp_path / "home"
    url, port, database = server.url, server.port, server.database_url
    with ApiClient(url) as api:
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        client_id, cti = new_client(api, "Cliente Fuera de Línea")
        stamps_before = api.get("/v1/me")["balances"]["stamps"]

    # A first session on the central server: signs in, syncs, remembers the session.
    config = DesktopConfig(server_url=url)
    first = DesktopSession(config, home=home, credentials=CredentialStore())
    assert first.start().needs_sign_in
    first.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    assert first.cache is not None and first.cache.get("client", client_id) is not None
    first.close()

    server.stop()

    # The server is down: the app opens anyway, on its cache, OFFLINE.
    events: list[SessionEvent] = []
    session = DesktopSession(DesktopConfig(server_url=url, last_login=DEMO_EMAIL), home=home)
    session.subscribe(events.append)
    result = session.start()
    assert not result.needs_sign_in and result.message == OFFLINE_START_MESSAGE
    assert session.state == ConnectionState.OFFLINE
    assert session.cache is not None and session.cache.count_clients(q="fuera de linea") == 1
    assert session.account() is not None and session.account()["balances"]["stamps"] == stamps_before  # type: ignore[index]
    session.command(
        commands.transfer,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=25,
        amount_cents=2500,
        comments="sin conexión",
    )
    session.command(commands.update_client, client_id, {"trade_name": "Editado sin conexión"})
    session.command(commands.set_tags, [client_id], favorite=True)
    assert session.pending_count() == 3
    assert any(e.kind == "commands" for e in events)
    assert session.cache.query_clients(category="favorites", q="fuera de linea")[0]["pending"] is True
    with pytest.raises(OfflineError):
        session.sync_now()
    assert session.state == ConnectionState.OFFLINE and session.pending_count() == 3

    # The server comes back: a new process on the same database file and port.
    back = EmbeddedServer(database, port=port)
    back.start()
    try:
        report = session.sync_now()
        assert session.state == ConnectionState.ONLINE  # type: ignore[comparison-overlap]
        assert report.push.done == 3 and session.pending_count() == 0
        assert any(e.kind == "synced" for e in events)
        again = session.sync_now()  # nothing is sent twice
        assert again.push.done == 0
        with ApiClient(back.url) as api:
            api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
            to_cti = [m for m in movements(api, kind="transfer") if m["target"]["id"] == cti]
            assert [m["quantity"] for m in to_cti] == [25]
            assert api.get(f"/v1/stamping-accounts/{cti}")["balance"] == 25
            assert api.get("/v1/me")["balances"]["stamps"] == stamps_before - 25
            client = api.get(f"/v1/clients/{client_id}")
            assert client["trade_name"] == "Editado sin conexión" and client["favorite"] is True
        row = session.cache.query_clients(q="fuera de linea")[0]
        assert (row["pending"], row["favorite"], row["stamps"]) == (False, True, 25)
    finally:
        session.close()
        back.stop()


def test_killed_while_pushing_a_long_outbox_applies_each_command_exactly_once(
    tmp_path: Path, server: EmbeddedServer
) -> None:
    api = ApiClient(server.url, retries=5, backoff=0.1)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    _client_id, cti = new_client(api, "Cliente del Proceso Interrumpido")
    folder = tmp_path / "desktop"
    folder.mkdir()
    cache = Cache(folder / "cache.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")
    for i in range(TRANSFERS):
        commands.transfer(
            outbox,
            cache,
            asset="stamps",
            target_type="stamping_account",
            target_id=cti,
            quantity=1,
            amount_cents=100 + i,
            comments=f"timbre {i + 1}",
        )
    outbox.close()
    cache.close()

    script = Path(__file__).with_name("kill_pusher.py")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, str(script), server.url, str(folder), DEMO_EMAIL, DEMO_PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    killed_at = None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("pending "):
                _, pending_text, _, sent_text = line.split()
                pending = int(pending_text)
                # Killed right after a command was marked sent: in the middle of its request.
                if TRANSFERS - pending >= KILL_AFTER and sent_text == "1":
                    child.kill()  # SIGKILL / TerminateProcess: no cleanup of any kind
                    killed_at = pending
                    break
    finally:
        child.kill()
        child.wait(timeout=30)
    assert killed_at is not None, child.stderr.read() if child.stderr else ""
    assert killed_at > 0  # it died in the middle of the push

    # Restart: the service layer reopened on the same files, pushing what is left.
    outbox = Outbox(folder / "outbox.sqlite3")
    cache = Cache(folder / "cache.sqlite3")
    states = [c.state for c in outbox.list()]
    assert len(states) == TRANSFERS
    assert 0 < states.count(CommandState.DONE) < TRANSFERS
    assert set(states) <= {CommandState.DONE, CommandState.SENT, CommandState.PENDING}
    assert states.count(CommandState.SENT) <= 1
    report = SyncEngine(api, cache, outbox).push()
    assert report.rejected == 0 and report.remaining == 0
    assert [c.state for c in outbox.list()] == [CommandState.DONE] * TRANSFERS

    transfers = [m for m in movements(api, kind="transfer") if m["target"]["id"] == cti]
    assert len(transfers) == TRANSFERS
    assert sorted(m["amount_cents"] for m in transfers) == [100 + i for i in range(TRANSFERS)]
    assert api.get(f"/v1/stamping-accounts/{cti}")["balance"] == TRANSFERS
    outbox.close()
    cache.close()
    api.close()
