"""A lean HTTP/1.1 load generator for the server benchmark.

The load runs on the same two cores as the server and PostgreSQL, so what it costs per request is
taken away from the server. httpx spends about a millisecond of CPU on each request, more than a lean
server needs to answer it; this client writes prebuilt request bytes on kept-alive connections and
reads the answer by its Content-Length, for a few tens of microseconds (pgbench, the yardstick, is
written in C). It speaks only what cmdesk-server answers: HTTP/1.1 with Content-Length.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# (method, path, headers, body, expected status)
Request = tuple[str, str, dict[str, str], bytes, int]
MakeRequest = Callable[[int, int], Request]


@dataclass
class Result:
    name: str
    concurrency: int
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int
    first_error: str = ""


def encode(host: str, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if chunked:
        return status, await read_chunks(reader)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def read_chunks(reader: asyncio.StreamReader) -> bytes:
    """A streamed answer (`Transfer-Encoding: chunked`, as the snapshot's): its chunks, joined."""
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent: the blank line that ends it
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def drive(name: str, url: str, concurrency: int, seconds: float, make: MakeRequest) -> Result:
    """`concurrency` callers, each on its own kept-alive connection, sending one request after the
    other for `seconds`. Latency is measured per request; throughput over the whole run."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors = 0
    first_error = ""
    deadline = time.monotonic() + seconds

    async def caller(w: int) -> None:
        nonlocal errors, first_error
        reader, writer = await asyncio.open_connection(host, port)
        try:
            i = 0
            while time.monotonic() < deadline:
                method, path, headers, body, ok = make(w, i)
                data = encode(f"{host}:{port}", method, path, headers, body)
                t0 = time.perf_counter()
                writer.write(data)
                status, answer = await read_response(reader)
                latencies.append(time.perf_counter() - t0)
                if status != ok:
                    errors += 1
                    first_error = first_error or f"{status} {answer[:200]!r}"
                i += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(caller(w) for w in range(concurrency)))
    elapsed = time.monotonic() - started
    latencies.sort()
    if not latencies:
        return Result(name, concurrency, 0.0, 0.0, 0.0, errors, first_error)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(
        name,
        concurrency,
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        p99 * 1000,
        errors,
        first_error,
    )


def tree_cpu_seconds(root_pid: int) -> float | None:
    """CPU seconds (user + system) used so far by a process and all its descendants, children that
    already ended and were waited for included. Linux only (/proc); None elsewhere."""
    proc = Path("/proc")
    if not (proc / str(root_pid) / "stat").exists():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, tuple[int, int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        # utime, stime, cutime, cstime (fields 14-17 of proc(5), after the command name)
        times[pid] = (int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))
    total = 0
    for pid, (own, children) in times.items():
        p = pid
        while p and p != root_pid:
            p = parents.get(p, 0)
        if p == root_pid:
            total += own + (children if pid == root_pid else 0)
    return total / tick
