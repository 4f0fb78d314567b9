"""`breathing` gives every item, in order, and pauses (giving up the GIL) every `every` items."""

from __future__ import annotations

import pytest

from cmdesk.server import breathing as module
from cmdesk.server.breathing import breathing


@pytest.mark.parametrize(
    ("count", "every", "pauses"), [(0, 3, 0), (1, 3, 0), (3, 3, 0), (4, 3, 1), (10, 3, 3)]
)
def test_every_item_in_order_with_a_pause_every_few(
    monkeypatch: pytest.MonkeyPatch, count: int, every: int, pauses: int
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(module.time, "sleep", slept.append)
    assert list(breathing(range(count), every)) == list(range(count))
    assert slept == [module.PAUSE_SECONDS] * pauses
