"""Installer downloads against `curl`: the download manager's throughput on loopback.

Publishes a generated file (200 MB by default) into a temporary server's file store, runs
cmdesk-server on it as a separate process (as a central server would be), and downloads the same file
alternately with `curl` and with the real `DownloadManager.fetch` (streaming, SHA-256 as the bytes
arrive, fsync, verified publish by rename) into a fresh folder each time. The figure is the ratio of
the median throughputs (goal: ≥ 80 % of curl's).

    .venv/bin/python -m bench.downloads [--size-mb 200] [--runs 3] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from cmdesk.devtools import server_process
from cmdesk.server import db, migrations
from cmdesk.server.operations import software
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from cmdesk.services.api_client import ApiClient
from cmdesk.services.downloads import DownloadManager, FileInfo, FileStore
from cmdesk.services.downloads.store import sha256_file

MB = 1024 * 1024
FIGURE_NAME = "Descarga frente a curl en loopback"


def row(name: str, value: str, goal: str = "") -> None:
    print(f"  {name:<44} {value:>14}   {goal}", flush=True)


def figure(name: str, value: float, unit: str, goal: float | None = None, better: str = "higher") -> None:
    data: dict[str, object] = {"name": name, "value": round(value, 2), "unit": unit, "better": better}
    if goal is not None:
        data["goal"] = goal
    print("FIGURE " + json.dumps(data, ensure_ascii=False), flush=True)


def make_source(path: Path, size: int) -> None:
    """`size` pseudo-random bytes (incompressible, as installers are), written in 8 MB pieces."""
    block = os.urandom(8 * MB)
    with path.open("wb") as f:
        left = size
        i = 0
        while left > 0:
            n = min(len(block), left)
            # Vary each block so no two are equal (a smart layer could not shortcut them).
            f.write(i.to_bytes(8, "little") + block[8:n] if n > 8 else block[:n])
            left -= n
            i += 1


def publish(folder: Path, size: int) -> tuple[str, Path, dict[str, object]]:
    url = f"sqlite:///{(folder / 'server.sqlite3').as_posix()}"
    migrations.upgrade(url)
    store = folder / "store"
    source = folder / f"cmdesk-bench-{size // MB}MB.bin"
    t = time.perf_counter()
    make_source(source, size)
    engine = db.create_db_engine(url)
    try:
        factory = db.session_factory(engine)
        seed_demo(factory, clients_count=5, software_store=None)
        with db.transaction(factory) as s:
            view = software.publish_file(
                s,
                store=store,
                product_code="cmdesk-bench",
                product_name="Archivo de prueba",
                kind="tool",
                title="Archivo de prueba de velocidad",
                file_version="1.0",
                source=source,
            )
    finally:
        engine.dispose()
    source.unlink()
    print(f"published {size / MB:,.0f} MB in {time.perf_counter() - t:.1f} s", flush=True)
    return url, store, view


def curl_once(url: str, token: str, target: Path) -> float:
    t = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "--fail", "-o", str(target), "-H", f"Authorization: Bearer {token}", url],
        check=True,
    )
    return time.perf_counter() - t


def manager_once(api: ApiClient, info: FileInfo, folder: Path) -> float:
    manager = DownloadManager(api, FileStore(folder))
    t = time.perf_counter()
    path = manager.fetch(info)
    elapsed = time.perf_counter() - t
    manager.shutdown()
    assert path.stat().st_size == info.size
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 MB, 2 runs")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl no está instalado")
    size = (100 if args.quick else args.size_mb) * MB
    runs = 2 if args.quick else args.runs

    folder = args.keep or Path(tempfile.mkdtemp(prefix="cmdesk-bench-downloads-"))
    folder.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        url, store, view = publish(folder, size)
        server = server_process.start(
            url, workers=1, log_dir=folder, env={"CMDESK_SOFTWARE_STORE": str(store)}
        )
        answer = requests.post(
            f"{server.url}/v1/auth/token", json={"login": DEMO_EMAIL, "password": DEMO_PASSWORD}, timeout=30
        )
        answer.raise_for_status()
        token = answer.json()["access_token"]
        api = ApiClient(server.url, read_timeout=120)
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        info = FileInfo.from_view(view)
        file_url = f"{server.url}{info.url_path}"

        # One untimed download of each warms the server and the page cache alike.
        curl_once(file_url, token, folder / "curl.bin")
        manager_once(api, info, folder / "warm")
        shutil.rmtree(folder / "warm")
        curl_times, manager_times = [], []
        for i in range(runs):
            curl_times.append(curl_once(file_url, token, folder / "curl.bin"))
            target = folder / f"desk-{i}"
            manager_times.append(manager_once(api, info, target))
            assert sha256_file(next((target / "files").rglob(info.file_name))) == info.sha256
            shutil.rmtree(target)
        (folder / "curl.bin").unlink()
        api.close()
    finally:
        if server is not None:
            server.stop()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    curl_speed = size / statistics.median(curl_times) / MB
    manager_speed = size / statistics.median(manager_times) / MB
    ratio = manager_speed / curl_speed * 100
    print(f"\nDescargas: {size / MB:,.0f} MB en loopback, mediana de {runs} descargas")
    row("curl", f"{curl_speed:,.1f} MB/s")
    row("DownloadManager.fetch (SHA-256, fsync)", f"{manager_speed:,.1f} MB/s")
    row(FIGURE_NAME, f"{ratio:.1f} %", "goal ≥ 80 %")
    print(f"  tiempos curl: {', '.join(f'{t:.2f} s' for t in curl_times)}")
    print(f"  tiempos cmdesk: {', '.join(f'{t:.2f} s' for t in manager_times)}")
    figure("Velocidad de curl", curl_speed, "MB/s")
    figure("Velocidad del gestor de descargas", manager_speed, "MB/s")
    figure(FIGURE_NAME, ratio, "%", goal=80)


if __name__ == "__main__":
    main()
