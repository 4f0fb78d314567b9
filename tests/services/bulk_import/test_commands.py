"""The import's rows go to the outbox through `commands.imports`: the checks of any transfer, each
row's own key, one transaction (a bad row queues nothing), and a row taken back only while it never
left."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdesk.domain.errors import DomainError
from cmdesk.services.cache import Cache
from cmdesk.services.commands import imports
from cmdesk.services.outbox import Outbox


def _row(n: int, quantity: object = 10, import_id: str = "imp-1") -> dict[str, object]:
    return {
        "key": f"{import_id}-{n}",
        "body": {
            "asset": "stamps",
            "target": {"type": "stamping_account", "id": f"CTI-{n}"},
            "quantity": quantity,
            "amount_cents": 1160,
            "comments": "Fin de mes",
        },
        "extra": {imports.IMPORT_MARK: import_id, "row": n, "attempt": 1},
    }


def test_rows_are_queued_with_their_keys_and_checked_like_any_transfer(tmp_path: Path) -> None:
    cache, outbox = Cache(tmp_path / "cache.sqlite3"), Outbox(tmp_path / "outbox.sqlite3")
    try:
        with pytest.raises(DomainError) as refused:
            imports.queue_import(outbox, cache, [_row(2), _row(3, quantity=0)])
        assert "quantity" in {e.field for e in refused.value.errors}
        assert outbox.list() == []  # one transaction: the good row was not queued either

        queued = imports.queue_import(outbox, cache, [_row(2), _row(3), _row(4, import_id="otra")])
        assert [c.idempotency_key for c in queued] == ["imp-1-2", "imp-1-3", "otra-4"]
        assert queued[0].description.startswith("Transferir 10 timbres")
        assert queued[0].body["target"] == {"type": "stamping_account", "id": "CTI-2"}
        assert [c.extra["row"] for c in imports.import_commands(outbox, "imp-1")] == [2, 3]

        first = queued[0]
        assert imports.never_sent(first)
        outbox.mark_sent(first.id)  # on its way: it stays
        assert imports.take_back(outbox, cache, first.id) is False
        assert imports.take_back(outbox, cache, queued[1].id) is True
        assert [c.extra["row"] for c in imports.import_commands(outbox, "imp-1")] == [2]
    finally:
        cache.close()
        outbox.close()
