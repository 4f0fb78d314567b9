"""A tiny loopback TCP proxy for tests that need a line that fails at a chosen moment.

    with FlakyProxy(server.url) as proxy:
        api = ApiClient(proxy.url)
        proxy.arm("drop_before")   # the next request is cut before reaching the server
        proxy.arm("drop_after")    # ... reaches the server, but its answer is never delivered
        proxy.arm("hang")          # ... is swallowed: no answer at all (read timeout)
        proxy.arm("bad_gateway")   # ... is answered 502 with an HTML page, as a gateway would
        proxy.arm("cut_answer")    # ... is answered, but the line drops a few bytes into the body

One action is armed at a time and applies to the next chunk of request bytes on any connection;
everything else is relayed untouched. `requests_seen` counts the requests' first chunks.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Literal, Self
from urllib.parse import urlsplit

Action = Literal["drop_before", "drop_after", "hang", "bad_gateway", "cut_answer"]

_BAD_GATEWAY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
BAD_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nConnection: close\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(_BAD_GATEWAY_PAGE)
    + _BAD_GATEWAY_PAGE
)


class LoopbackProxy:
    """A loopback TCP proxy to `upstream_url`: each accepted connection is handed to `_relay` on a
    thread of its own. Subclasses set their own state before calling `super().__init__` (which starts
    accepting) and open the upstream side with `_connect_upstream`, so that `close` ends both sides."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname and parts.port
        self.upstream = (parts.hostname, parts.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener.settimeout(0.05)
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue  # wake up now and then to notice close()
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self.connections += 1
                self._sockets.append(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        upstream = socket.create_connection(self.upstream)
        with self._lock:
            self._sockets.append(upstream)
        return upstream

    def _relay(self, client: socket.socket) -> None:
        """Connect upstream and pass bytes both ways (`_pump`); both sockets closed at the end."""
        upstream: socket.socket | None = None
        try:
            upstream = self._connect_upstream()
            self._pump(client, upstream)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    sock.close()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._thread.join(2)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class FlakyProxy(LoopbackProxy):
    def __init__(self, upstream_url: str) -> None:
        self._armed: list[Action] = []
        self.requests_seen = 0
        super().__init__(upstream_url)

    def arm(self, *actions: Action) -> None:
        """Queue actions for the next requests, in order."""
        with self._lock:
            self._armed.extend(actions)

    def _take(self) -> Action | None:
        with self._lock:
            self.requests_seen += 1
            return self._armed.pop(0) if self._armed else None

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        dropping = cutting = False
        waiting_request = True  # the next client bytes start a request
        while not self._closed.is_set():
            readable, _, _ = select.select([client, upstream], [], [], 0.2)
            if client in readable:
                data = client.recv(65536)
                if not data:
                    return
                if waiting_request:
                    waiting_request = False
                    action = self._take()
                    if action == "drop_before":
                        return
                    if action == "bad_gateway":
                        client.sendall(BAD_GATEWAY)
                        return
                    if action == "hang":
                        self._closed.wait()
                        return
                    dropping = action == "drop_after"
                    cutting = action == "cut_answer"
                upstream.sendall(data)
            if upstream in readable:
                data = upstream.recv(65536)
                if not data:
                    return
                if dropping:
                    return  # the server answered (so it applied the request): cut the line
                if cutting:
                    # The headers (whole, in the first chunk on loopback) and a few bytes more.
                    end = data.find(b"\r\n\r\n")
                    client.sendall(data[: end + 14] if end >= 0 else data)
                    return
                waiting_request = True
                client.sendall(data)


class SleepyProxy(LoopbackProxy):
    """The line of a laptop: `freeze()` leaves every open connection half-open — nothing more passes
    either way and nothing closes, as after sleeping and waking on another network — while new
    connections work; `delay` holds each answer that long (a proxy that answers slowly)."""

    def __init__(self, upstream_url: str) -> None:
        self.delay = 0.0
        self._generation = 0
        super().__init__(upstream_url)

    def freeze(self) -> None:
        with self._lock:
            self._generation += 1

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            generation = self._generation
        while not self._closed.is_set():
            if self._generation != generation:
                self._closed.wait()  # half-open: silent until the proxy closes
                return
            readable, _, _ = select.select([client, upstream], [], [], 0.1)
            if self._generation != generation:
                continue
            if client in readable:
                data = client.recv(65536)
                if not data:
                    return
                upstream.sendall(data)
            if upstream in readable:
                data = upstream.recv(65536)
                if not data:
                    return
                if self.delay:
                    self._closed.wait(self.delay)
                if self._generation != generation:
                    continue
                client.sendall(data)
