"""Connection state: Spanish labels, change notifications, and the /v1/health probe."""

from __future__ import annotations

import itertools
import socket
import threading

import pytest

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.services.api_client import ApiClient
from cmdesk.services.connectivity import LABELS, ConnectionState, Connectivity, probe


@pytest.mark.parametrize(
    ("state", "value", "label"),
    [
        (ConnectionState.ONLINE, "online", "En línea"),
        (ConnectionState.OFFLINE, "offline", "Sin conexión"),
        (ConnectionState.SYNCING, "syncing", "Sincronizando"),
    ],
)
def test_states_and_labels(state: ConnectionState, value: str, label: str) -> None:
    assert state == value and ConnectionState(value) is state
    assert state.label == LABELS[state] == label


def test_listeners_hear_only_changes() -> None:
    conn = Connectivity()
    heard: list[ConnectionState] = []
    unsubscribe = conn.subscribe(heard.append)
    assert conn.state is ConnectionState.OFFLINE
    assert conn.set(ConnectionState.OFFLINE) is False
    assert conn.set(ConnectionState.ONLINE) is True
    assert conn.set(ConnectionState.SYNCING) is True
    unsubscribe()
    conn.set(ConnectionState.OFFLINE)
    assert heard == [ConnectionState.ONLINE, ConnectionState.SYNCING]


def test_a_failing_listener_does_not_stop_the_others() -> None:
    conn = Connectivity()
    heard: list[ConnectionState] = []

    def broken(_state: ConnectionState) -> None:
        raise RuntimeError("x")

    conn.subscribe(broken)
    conn.subscribe(heard.append)
    conn.set(ConnectionState.ONLINE)
    assert heard == [ConnectionState.ONLINE]


def test_changes_from_many_threads() -> None:
    conn = Connectivity()
    heard: list[ConnectionState] = []
    conn.subscribe(heard.append)
    states = [ConnectionState.ONLINE, ConnectionState.OFFLINE] * 50
    threads = [threading.Thread(target=conn.set, args=(s,)) for s in states]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every notification is a real change: no two equal states in a row.
    assert all(a != b for a, b in itertools.pairwise(heard))


def state_of(conn: Connectivity) -> ConnectionState:
    return conn.state


def test_probe_against_the_server(embedded_server: EmbeddedServer) -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()

    assert probe(ApiClient(embedded_server.url)) is ConnectionState.ONLINE
    assert probe(ApiClient(closed, connect_timeout=1)) is ConnectionState.OFFLINE

    conn = Connectivity()
    assert conn.check(ApiClient(embedded_server.url)) is ConnectionState.ONLINE
    assert conn.state is ConnectionState.ONLINE
    conn.set(ConnectionState.SYNCING)
    conn.check(ApiClient(embedded_server.url))
    assert state_of(conn) is ConnectionState.SYNCING  # a running sync stays visible
    conn.check(ApiClient(closed, connect_timeout=1))
    assert state_of(conn) is ConnectionState.OFFLINE
