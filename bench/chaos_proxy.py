"""A loopback TCP proxy that loses requests and answers at random, for the soak test.

    proxy = ChaosProxy(server.url, seed=7, drop_before=0.02, drop_after=0.02)
    proxy.enabled = True          # faults on (off: a plain relay)
    proxy.cut_all()               # every open connection is closed now (the line drops)
    proxy.counts                  # faults injected so far, by kind

Per request (the first chunk of bytes a client sends after the previous answer): with probability
`drop_before` the connection is closed before the request reaches the server; with `drop_after` the
request is relayed, the server applies it, and the connection is closed instead of delivering the
answer (the case an idempotency key exists for); with `bad_gateway` it is answered 502 with an HTML
page, as a failing gateway would. Only 127.0.0.1 is listened on and connected to.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import threading
from collections import Counter
from urllib.parse import urlsplit

_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
BAD_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nConnection: close\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(_PAGE)
    + _PAGE
)


class ChaosProxy:
    def __init__(
        self,
        upstream_url: str,
        *,
        seed: int = 0,
        drop_before: float = 0.02,
        drop_after: float = 0.02,
        bad_gateway: float = 0.01,
    ) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname and parts.port
        self.upstream = (parts.hostname, parts.port)
        self.rates = {"drop_before": drop_before, "drop_after": drop_after, "bad_gateway": bad_gateway}
        self.enabled = False
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket | None]] = set()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, name="chaos-proxy", daemon=True)
        self._thread.start()

    def _fault(self) -> str | None:
        with self._lock:
            self.counts["requests"] += 1
            if not self.enabled:
                return None
            roll = self._rng.random()
            for kind, rate in self.rates.items():
                if roll < rate:
                    self.counts[kind] += 1
                    return kind
                roll -= rate
            return None

    def cut_all(self) -> int:
        """Close every open connection at once; returns how many were cut."""
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
            if pairs:
                self.counts["connections_cut"] += len(pairs)
                self.counts["line_drops"] += 1
        for pair in pairs:
            for sock in pair:
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    with contextlib.suppress(OSError):
                        sock.close()
        return len(pairs)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        pair: tuple[socket.socket, socket.socket | None] = (client, None)
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            dropping = False
            waiting_request = True
            while not self._closed.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.5)
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    if waiting_request:
                        waiting_request = False
                        fault = self._fault()
                        if fault == "drop_before":
                            return
                        if fault == "bad_gateway":
                            client.sendall(BAD_GATEWAY)
                            return
                        dropping = fault == "drop_after"
                    upstream.sendall(data)
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    if dropping:
                        return  # the server answered, so it applied the request: lose the answer
                    waiting_request = True
                    client.sendall(data)
        except (OSError, ValueError):
            return  # a cut connection (ValueError: select on a socket closed by cut_all)
        finally:
            with self._lock:
                self._pairs.discard(pair)
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.cut_all()
        self._thread.join(2)

    def __enter__(self) -> ChaosProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
