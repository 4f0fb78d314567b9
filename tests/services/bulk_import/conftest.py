"""A desktop of the demo distributor against a real embedded server, with clients to refill."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.api_client import ApiClient
from cmdesk.services.bulk_import import SessionDesktop
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Outbox
from cmdesk.services.sync import SyncEngine
from tests.services.conftest import start_server


@dataclass
class Desk:
    api: ApiClient
    cache: Cache
    outbox: Outbox
    engine: SyncEngine
    desk: SessionDesktop
    folder: Path

    def close(self) -> None:
        self.desk.close()
        self.cache.close()
        self.outbox.close()


def open_desk(url: str, folder: Path) -> Desk:
    """The service layer of a desktop on `folder` (cache, outbox, the import's journal), signed in and
    synced."""
    api = ApiClient(url, retries=2, backoff=0.05)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache = Cache(folder / "cache.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")
    engine = SyncEngine(api, cache, outbox)
    engine.sync_once()
    desk = SessionDesktop(cache, outbox, push=engine.push, config_path=folder / "config.json")
    return Desk(api, cache, outbox, engine, desk, folder)


def new_clients(api: ApiClient, count: int) -> list[dict[str, Any]]:
    """`count` new clients; each answer has the client and its standard CTI."""
    return [
        api.post(
            "/v1/clients",
            {"name": f"Cliente de Fin de Mes {i:03d}", "rfc": "XAXX010101000"},
            idempotency_key=uuid.uuid4().hex,
        )
        for i in range(count)
    ]


def movements_to(api: ApiClient, cti_ids: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(
            "/v1/movements",
            params={"limit": 1000, "kind": "transfer", **({"cursor": cursor} if cursor else {})},
        )
        out.extend(m for m in page["items"] if m["target"]["id"] in cti_ids)
        cursor = page["next_cursor"]
        if not cursor:
            return out


def write_csv(path: Path, rows: list[tuple[str, int, str]]) -> Path:
    """A file in the template's layout: (CTI, quantity, amount)."""
    lines = ["CTI,NIC o RFC del cliente,Cantidad,Importe,Comentario"]
    lines += [f"{cti},,{quantity},{amount},fila de prueba" for cti, quantity, amount in rows]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    s = start_server(tmp_path / "server")
    yield s
    s.stop()
