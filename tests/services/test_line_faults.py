"""The line between the desktop and its server: keep-alive probes, a sync after sleep (connections left
half-open), and a proxy that answers slowly — timeouts and backoff, nothing lost, nothing twice."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient, OfflineError, keepalive_socket_options
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.sync import SyncEngine
from tests.services.proxy import SleepyProxy
from tests.services.test_sync import cache_keys, feed_keys, standard_cti

READ_TIMEOUT = 1.5


@pytest.fixture
def line(fresh_server: EmbeddedServer) -> Iterator[SleepyProxy]:
    with SleepyProxy(fresh_server.url) as proxy:
        yield proxy


@pytest.fixture
def desk(tmp_path: Path, line: SleepyProxy) -> Iterator[SyncEngine]:
    api = ApiClient(line.url, connect_timeout=2, read_timeout=READ_TIMEOUT, retries=3, backoff=0.05)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache, outbox = Cache(tmp_path / "cache.sqlite3"), Outbox(tmp_path / "outbox.sqlite3")
    yield SyncEngine(api, cache, outbox, page_size=4)
    cache.close()
    outbox.close()
    api.close()


@pytest.fixture
def other(fresh_server: EmbeddedServer) -> Iterator[ApiClient]:
    with ApiClient(fresh_server.url) as api:
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        yield api


def _pooled_socket(api: ApiClient) -> socket.socket:
    """The socket of the connection the last request left in this thread's pool."""
    adapter = api._http().get_adapter(api.base_url)
    for key in list(adapter.poolmanager.pools.keys()):  # type: ignore[attr-defined]
        pool = adapter.poolmanager.pools[key]  # type: ignore[attr-defined]
        for conn in list(pool.pool.queue):
            if conn is not None and conn.sock is not None:
                return conn.sock  # type: ignore[no-any-return]
    raise AssertionError("no pooled connection")


def test_every_connection_probes_an_idle_line(desk: SyncEngine) -> None:
    desk.api.get("/v1/me")
    sock = _pooled_socket(desk.api)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1  # urllib3's default kept
    if sys.platform.startswith("linux"):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 10
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
    # Only options this platform takes are used (each tried once on a throwaway socket).
    options = keepalive_socket_options()
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in options


def test_a_sync_after_sleep_drops_the_half_open_connections_and_goes_on(
    desk: SyncEngine, line: SleepyProxy, other: ApiClient
) -> None:
    desk.sync_once()
    cti = standard_cti(desk.cache)
    command = commands.transfer(
        desk.outbox, desk.cache, asset="stamps", target_type="stamping_account", target_id=cti, quantity=2
    )
    other.post(
        "/v1/clients", {"name": "Creado mientras dormía", "rfc": "XAXX010101000"}, idempotency_key="zz1"
    )
    before = len(other.get("/v1/movements", params={"limit": 1000})["items"])
    connections = line.connections
    line.freeze()  # the laptop slept: its open connections lead nowhere now
    started = time.monotonic()
    report = desk.sync_once()
    elapsed = time.monotonic() - started
    # The request on the dead connection timed out once, and the next attempt connected anew.
    assert line.connections > connections
    assert elapsed < READ_TIMEOUT * 3 + 5
    assert report.push.done == 1 and desk.outbox.get(command.id).state == CommandState.DONE  # type: ignore[union-attr]
    assert len(other.get("/v1/movements", params={"limit": 1000})["items"]) == before + 1  # once
    assert cache_keys(desk.cache) == feed_keys(other) and report.counts_ok


def test_a_slow_proxy_costs_timeouts_and_backoff_then_the_sync_goes_on(
    desk: SyncEngine, line: SleepyProxy, other: ApiClient
) -> None:
    desk.sync_once()
    cti = standard_cti(desk.cache)
    commands.transfer(
        desk.outbox, desk.cache, asset="stamps", target_type="stamping_account", target_id=cti, quantity=3
    )
    before = len(other.get("/v1/movements", params={"limit": 1000})["items"])
    line.delay = READ_TIMEOUT + 1.5  # every answer arrives after the read timeout
    started = time.monotonic()
    with pytest.raises(OfflineError):
        desk.sync_once()
    elapsed = time.monotonic() - started
    # Bounded: the attempts of one request (4 × the read timeout, plus short backoffs), not a hang.
    assert READ_TIMEOUT * 3 < elapsed < READ_TIMEOUT * 4 + 5
    # The transfer may have been applied by the server meanwhile: it stays `sent`, with its key.
    assert [c.state for c in desk.outbox.list()] == [CommandState.SENT]
    line.delay = 0
    report = desk.sync_once()
    assert report.push.done == 1 and report.counts_ok
    assert len(other.get("/v1/movements", params={"limit": 1000})["items"]) == before + 1  # applied once
