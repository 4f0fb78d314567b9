"""Long loops of a worker thread that let the server's other threads in: `breathing(items)`.

A thread running Python keeps the GIL until another thread has waited the switch interval (5 ms)
for it. A request that calls the database lets go of the GIL at every call and waits for it again
each time: behind a bulk transfer's thousands of items of pure Python (validating the body,
checking its lines, making its record and its answer) another distributor's stamp waited up to
5 ms per call, some 100 ms in all (issue 19). Pausing briefly every few hundred items (a fraction
of a millisecond) lets the waiting threads run at once instead, for a few ms more of the bulk.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

# Items between two pauses (~1 ms of a bulk's Python), and how long each pause lasts.
EVERY = 200
PAUSE_SECONDS = 0.0003


def breathing[T](items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """`items` one after the other, sleeping `PAUSE_SECONDS` (the GIL given up) every `every`."""
    for i, item in enumerate(items):
        if i and not i % every:
            time.sleep(PAUSE_SECONDS)
        yield item
