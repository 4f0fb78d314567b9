"""Every accepted connection gets TCP_NODELAY, also on sockets rebuilt from a descriptor (proto 0),
which asyncio leaves alone: otherwise each small answer waits ~40 ms for a delayed ACK."""

from __future__ import annotations

import contextlib
import socket

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.http_protocol import NoDelayHTTPProtocol


class _Transport:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.sock if name == "socket" else default


def test_connection_made_sets_nodelay_on_a_proto_0_socket(tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, like uvicorn's workers get
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.proto == 0
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        protocol = NoDelayHTTPProtocol.__new__(NoDelayHTTPProtocol)
        # The parent's bookkeeping needs a real server; the option is set before it runs.
        with contextlib.suppress(Exception):
            protocol.connection_made(_Transport(accepted))  # type: ignore[arg-type]
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        for s in (client, accepted, listener):
            s.close()


def test_embedded_server_uses_the_protocol(tmp_path):
    server = EmbeddedServer(f"sqlite:///{(tmp_path / 'e.db').as_posix()}")
    server.start()
    try:
        assert server._server is not None
        assert server._server.config.http == "cmdesk.server.http_protocol:NoDelayHTTPProtocol"
    finally:
        server.stop()
