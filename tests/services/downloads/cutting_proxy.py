"""A loopback TCP proxy that counts what the server sends and cuts connections mid-answer.

    with CuttingProxy(server.url) as proxy:
        proxy.cut_every = 700_000      # every file download is cut (connection closed) after 700 kB
        proxy.cut_next(1_000_000)      # ... or only the next one, after 1 MB
        proxy.strip_range = True       # drop the requests' Range header (the server answers 200)
        ...
        proxy.bytes_down               # bytes relayed from the server (headers included)
        proxy.file_requests            # GET /v1/software/files/... requests seen

Cuts are clean closes (FIN): the client reads every byte relayed before it, so what it received is
exactly what the proxy counted. (tests/services/proxy.py has the request-level failures.)
"""

from __future__ import annotations

import contextlib
import re
import select
import socket

from tests.services.proxy import LoopbackProxy

_RANGE_LINE = re.compile(rb"\r\nRange:[^\r\n]*", re.IGNORECASE)


class CuttingProxy(LoopbackProxy):
    def __init__(self, upstream_url: str) -> None:
        self._budgets: list[int] = []
        self.cut_every: int | None = None
        self.strip_range = False
        self.bytes_down = 0
        self.cuts = 0
        self.file_requests = 0
        self.range_requests = 0
        super().__init__(upstream_url)

    def cut_next(self, *budgets: int) -> None:
        """The answers to the next file requests are cut after these many bytes, one each."""
        with self._lock:
            self._budgets.extend(budgets)

    def reset_counts(self) -> None:
        with self._lock:
            self.bytes_down = self.connections = self.cuts = self.file_requests = self.range_requests = 0

    def _relay(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        budget: int | None = None
        relayed = 0
        try:
            upstream = self._connect_upstream()
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self._closed.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.2)
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    if data.startswith(b"GET /v1/software/files/"):
                        with self._lock:
                            self.file_requests += 1
                            if b"\r\nrange:" in data.lower():
                                self.range_requests += 1
                            # The answer to this request is cut after its budget of bytes.
                            budget = self._budgets.pop(0) if self._budgets else self.cut_every
                            relayed = 0
                        if self.strip_range:
                            data = _RANGE_LINE.sub(b"", data)
                    upstream.sendall(data)
                if upstream in readable:
                    data = upstream.recv(262144)
                    if not data:
                        return
                    cut = budget is not None and relayed + len(data) >= budget
                    if cut:
                        assert budget is not None
                        data = data[: budget - relayed]
                    # Counted before the client can read them: a test that resets the counts once an
                    # answer arrived (the sign-in) never sees that answer counted after the reset.
                    with self._lock:
                        self.bytes_down += len(data)
                        self.cuts += int(cut)
                    client.sendall(data)
                    relayed += len(data)
                    if cut:
                        return
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
