"""A desktop process running the real download manager, for tests to kill, restart, or run twice.

    python -m tests.services.downloads.download_child <mode> <server url> <store> <queue> [options]

Modes: `enqueue` puts the file given with `--file` (FileInfo JSON) in the persisted queue and waits for
it; `resume` only starts the manager — the queue left by an earlier process goes on by itself — and
waits until it is empty; `fetch` calls the blocking `DownloadManager.fetch`. It prints
`progress <bytes>` lines (at most 10 a second), then `done <path> <sha256 of the file on disk>` or
`failed <reason>`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.api_client import ApiClient
from cmdesk.services.downloads import DownloadError, DownloadManager, DownloadState, FileInfo, FileStore
from cmdesk.services.downloads.store import sha256_file
from cmdesk.services.downloads.transfer import RetryPolicy


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["enqueue", "resume", "fetch"])
    parser.add_argument("url")
    parser.add_argument("store", type=Path)
    parser.add_argument("queue", type=Path)
    parser.add_argument("--file", default="")
    parser.add_argument("--rate", type=int, default=0)
    parser.add_argument("--stale-after", type=float, default=2.0)
    parser.add_argument("--host", default=None)
    args = parser.parse_args()

    api = ApiClient(args.url, retries=3, backoff=0.05, read_timeout=10)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    store = FileStore(
        args.store, stale_after=args.stale_after, heartbeat_interval=0.2, poll_interval=0.05, host=args.host
    )
    manager = DownloadManager(
        api,
        store,
        queue_path=args.queue,
        rate_limit=args.rate or None,
        policy=RetryPolicy(attempts=8, backoff=0.05, max_backoff=0.5),
    )
    finished = threading.Event()
    outcome: list[str] = []

    def on_status(status: object) -> None:
        state = getattr(status, "state", None)
        say(f"progress {getattr(status, 'received', 0)} {state}")
        if state == DownloadState.AVAILABLE:
            outcome.append(f"done {status.path}")  # type: ignore[attr-defined]
            finished.set()
        elif state == DownloadState.FAILED:
            outcome.append(f"failed {status.error}")  # type: ignore[attr-defined]
            finished.set()

    say("ready")
    if args.mode == "fetch":
        info = FileInfo.from_view(json.loads(args.file))
        try:
            path = manager.fetch(info, on_status=on_status)
        except DownloadError as error:
            say(f"failed {error}")
            return 1
        say(f"done {path} {sha256_file(path)}")
        manager.shutdown()
        return 0

    manager.subscribe(on_status)
    manager.start()
    if args.mode == "enqueue":
        manager.enqueue(FileInfo.from_view(json.loads(args.file)))
    else:
        rows = manager.queue.rows() if manager.queue is not None else []
        say(f"queued {len(rows)}")
    finished.wait(120)
    time.sleep(0.1)
    manager.shutdown()
    last = outcome[-1] if outcome else "failed nothing happened"
    if last.startswith("done "):
        path = Path(last.removeprefix("done "))
        say(f"{last} {sha256_file(path)}")
        return 0
    say(last)
    return 1


if __name__ == "__main__":
    sys.exit(main())
