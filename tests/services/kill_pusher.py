"""A desktop process pushing its outbox, for `test_offline_kill.py` to kill in the middle.

    python kill_pusher.py <server url> <folder with cache.sqlite3 and outbox.sqlite3> <login> <password>

It signs in, opens the cache and the outbox and runs the real `SyncEngine.push()`. After every change
of the outbox it prints `pending <n> sent <m>` (commands not yet applied, and those marked sent whose
answer has not been recorded), so the test can kill it in the middle of a request.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.sync import SyncEngine


def main() -> None:
    url, folder, login, password = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    api = ApiClient(url, retries=5, backoff=0.05)
    api.sign_in(login, password)
    cache = Cache(folder / "cache.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")

    def report() -> None:
        sent = len(outbox.list([CommandState.SENT]))
        print(f"pending {outbox.pending_count()} sent {sent}", flush=True)

    outbox.subscribe(report)
    print("ready", flush=True)
    SyncEngine(api, cache, outbox).push()
    print("finished", flush=True)


if __name__ == "__main__":
    main()
