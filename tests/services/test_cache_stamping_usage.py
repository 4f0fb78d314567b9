"""The Timbrado tab's additions to the services: the CTIs' daily usage kept in the cache, and the
bulk-transfer description that names the CTIs and their clients."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cmdesk.services import commands
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Outbox


def change(entity: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"entity": entity, "id": data["id"], "version": 1, "data": data}


def test_usage_is_kept_per_cti_and_replaced(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache.sqlite3")
    assert cache.stamping_usage(["A"]) == {}  # nothing fetched yet: no table, no error
    when = dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC)
    cache.set_stamping_usage("A", [{"date": "2026-11-28", "issued": 3}], issued=10, fetched_at=when)
    cache.set_stamping_usage("B", [], issued=None, fetched_at=when)
    got = cache.stamping_usage(["A", "B", "C"])
    assert set(got) == {"A", "B"}
    assert got["A"] == {"daily": [{"date": "2026-11-28", "issued": 3}], "issued": 10, "fetched_at": when}
    cache.set_stamping_usage("A", [{"date": "2026-11-29", "issued": 1}], issued=11)
    again = cache.stamping_usage(["A"])["A"]
    assert again["issued"] == 11 and again["daily"] == [{"date": "2026-11-29", "issued": 1}]
    cache.close()
    # It survives reopening the file (same schema version).
    reopened = Cache(tmp_path / "cache.sqlite3")
    assert reopened.stamping_usage(["A"])["A"]["issued"] == 11
    reopened.close()


def test_bulk_transfer_description_names_ctis_and_clients(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    cache.apply_page(
        [
            change("client", {"id": "c1", "nic": "200070", "name": "Empresa de Pruebas"}),
            change("stamping_account", {"id": "Pruebas", "client_id": "c1", "kind": "standard"}),
            change("stamping_account", {"id": "Otra", "client_id": "c1", "kind": "standard"}),
        ],
        "1",
    )
    items = [
        {"asset": "stamps", "target_type": "stamping_account", "target_id": cti, "quantity": q}
        for cti, q in (("Pruebas", 1000), ("Otra", 200), ("Desconocida", 5), ("Cuarta", 1))
    ]
    command = commands.bulk_transfer(outbox, cache, items)
    assert command.description == (
        "Transferencia masiva: 1,206 timbres a 4 cuentas de timbrado "
        "(Pruebas de «Empresa de Pruebas», Otra de «Empresa de Pruebas», Desconocida y 1 más)"
    )
    outbox.close()
    cache.close()
