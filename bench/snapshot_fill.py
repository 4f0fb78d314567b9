"""The desktop's share of a first sync, alone: a recorded snapshot filled into an empty cache in this
process, with no server and no network beside it (`bench.desktop_sync` measures the whole).

Builds the server database as `bench.desktop_sync` does (or reuses `--keep`'s), records the
snapshot's body once (`GET /v1/sync/snapshot`, as the desktop receives it), then fills an empty cache
from it `--runs` times through `SnapshotFill`, printing each fill's time, CPU and phases (its memory
is `bench.desktop_sync`'s to measure, in a process of its own).

It also shows why the fill parses and stores on one thread (cmdesk/services/snapshot.py): the first
`--convoy` entities' JSON stored with `executemany` alone, then beside a thread parsing JSON. Each
row's write waits for Python's lock (GIL) while the other thread runs Python.

    .venv/bin/python -m bench.snapshot_fill [--clients 100000] [--runs 2] [--convoy 2000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.desktop_sync import build_database, figure, row
from cmdesk.devtools import server_process
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import snapshot
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache


class _Recorded:
    """The recorded body, streamed as `requests` streams a response."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        while data := self._file.read(chunk_size):
            yield data

    def close(self) -> None:
        self._file.close()


class _Replay:
    """What `SnapshotFill` asks of the API client: the snapshot's stream."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stream(self, path: str, headers: Any = None, params: Any = None) -> _Recorded:
        return _Recorded(self.path)


def record(url: str, body: Path) -> None:
    api = ApiClient(url, read_timeout=300)
    try:
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        response = api.stream(snapshot.PATH, headers={"Accept-Encoding": "zstd, gzip"})
        with body.open("wb") as out:
            for data in response.iter_content(chunk_size=snapshot.READ_BYTES):
                out.write(data)
        response.close()
    finally:
        api.close()


def fill(body: Path, folder: Path) -> dict[str, Any]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cache = Cache(folder / "cache.sqlite3")
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        report = snapshot.SnapshotFill(_Replay(body), cache).run()  # type: ignore[arg-type]
        return {
            "seconds": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "entities": report.entities,
            "phases": report.phases,
        }
    finally:
        cache.close()


def convoy(body: Path, folder: Path, count: int) -> tuple[float, float]:
    """Seconds to store the first `count` entities' JSON with `executemany`, alone and beside a
    thread parsing JSON."""
    rows = []
    with body.open("rb") as lines:
        for line in lines:
            if line[:1] == b"[":
                entity, data = orjson.loads(line)
                rows.append((entity, data["id"], line[len(entity) + 4 : -2].decode()))
                if len(rows) == count:
                    break

    def store() -> float:
        path = folder / "convoy.sqlite3"
        path.unlink(missing_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("CREATE TABLE entities (entity TEXT, id TEXT, data TEXT, UNIQUE (entity, id))")
            started = time.perf_counter()
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO entities VALUES (?, ?, ?)", rows)
            conn.execute("COMMIT")
            return time.perf_counter() - started
        finally:
            conn.close()

    alone = store()
    stop = threading.Event()
    with body.open("rb") as recorded:
        parsed = [line for line in recorded.read(4 * 2**20).split(b"\n") if line[:1] == b"["]

    def parse() -> None:
        while not stop.is_set():
            for line in parsed[:500]:
                orjson.loads(line)

    parser = threading.Thread(target=parse, daemon=True)
    parser.start()
    try:
        beside = store()
    finally:
        stop.set()
        parser.join()
    return alone, beside


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--convoy", type=int, default=2000, help="entities stored beside a parsing thread")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (reuses its body)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="cmdesk-bench-fill-"))
    folder.mkdir(parents=True, exist_ok=True)
    body = folder / "snapshot.ndjson"
    try:
        if not body.exists():
            server = server_process.start(build_database(folder, args.clients), workers=1, log_dir=folder)
            try:
                record(server.url, body)
            finally:
                server.stop()
        print(f"\ncmdesk snapshot fill, in process — {body.stat().st_size / 2**20:,.0f} MiB recorded")
        results = [fill(body, folder / "cache") for _ in range(args.runs)]
        for n, result in enumerate(results, 1):
            phases = " / ".join(f"{seconds:,.1f}" for seconds in result["phases"].values())
            row(f"fill {n}: {result['entities']:,} entities", f"{result['seconds']:,.2f} s")
            row("  CPU", f"{result['cpu']:,.1f} s")
            row("  header / received / indexes / search at", f"{phases} s")
        alone, beside = convoy(body, folder, args.convoy)
        row(f"{args.convoy:,} entities' JSON stored alone", f"{alone * 1000:,.1f} ms")
        row("  the same beside a thread parsing JSON", f"{beside * 1000:,.1f} ms")
        print()
        best = min(r["seconds"] for r in results)
        figure("Llenado de la caché desde una instantánea grabada (sin servidor)", best, "s")
        spanish = f"{args.convoy:,}".replace(",", ".")
        figure(f"{spanish} entidades junto a un hilo que analiza JSON", beside * 1000, "ms")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
