"""Another client of the API, generated from the live `/openapi.json` with openapi-python-client, does a
first day's work end to end over HTTP: sign in, who am I, list the clients, create one, transfer stamps
to its CTI, read the changes. The three answers every client needs first (`POST /v1/auth/token`,
`GET /v1/me`, `GET /v1/sync/changes`) come back as the generator's typed models, not bare dicts.

The server is the reference server on the test database (SQLite and PostgreSQL), on a loopback port.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from cmdesk.domain.enums import Asset
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.settings import Settings
from tests.server.helpers import RFC_MORAL, give, make_distributor

PACKAGE = "cmdesk_generated_client"
# FastAPI builds the whole schema of ~110 routes at the first /openapi.json: a second of CPU, which a
# loaded test machine stretched past 10 s. What is tested is the schema, not how fast it is made.
OPENAPI_TIMEOUT = 120
PASSWORD = "secreto123"  # make_distributor's
TYPED = {
    ("/v1/auth/token", "post"): "Token",
    ("/v1/me", "get"): "Me",
    ("/v1/sync/changes", "get"): "ChangesPage",
}


@pytest.fixture
def server(engine, tmp_path):
    # /openapi.json is served only where the API documentation is on (off by default in production).
    settings = Settings(
        database_url=str(engine.url), software_store=tmp_path / "files", api_docs=True, mail_sender=False
    )
    with EmbeddedServer(str(engine.url), engine=engine, settings=settings, prepare=None) as running:
        yield running


def generate(schema: dict[str, Any], folder: Path) -> ModuleType:
    (folder / "openapi.json").write_text(json.dumps(schema), encoding="utf-8")
    # No post-hooks (they would run ruff on the generated code): what is tested is the code as generated.
    # The demo mail viewer's .eml download and the sync snapshot (a compressed NDJSON stream) are
    # files: the generator reads such answers as bytes.
    config = {
        "package_name_override": PACKAGE,
        "post_hooks": [],
        "content_type_overrides": {
            "message/rfc822": "application/octet-stream",
            "application/x-ndjson": "application/octet-stream",
        },
    }
    (folder / "config.json").write_text(json.dumps(config))
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--config",
            str(folder / "config.json"),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The generator says "Warning(s) encountered" when it had to leave an endpoint or a model out.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module(PACKAGE)


def test_the_first_answers_are_typed_in_the_schema(server):
    schema = requests.get(server.url + "/openapi.json", timeout=OPENAPI_TIMEOUT).json()
    for (path, method), model in TYPED.items():
        content = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert content["schema"] == {"$ref": f"#/components/schemas/{model}"}, path
    token = schema["components"]["schemas"]["Token"]
    assert {"access_token", "refresh_token", "token_type", "expires_in", "account"} <= set(token["required"])
    assert schema["components"]["schemas"]["ChangesPage"]["required"] == ["changes", "cursor", "has_more"]


def test_a_generated_client_signs_in_lists_creates_transfers_and_syncs(
    server, factory, tmp_path, monkeypatch
):
    actor = make_distributor(factory, email="generado@example.com", mobile="5587654321")
    give(factory, actor, Asset.STAMPS, 10)
    schema = requests.get(server.url + "/openapi.json", timeout=OPENAPI_TIMEOUT).json()
    monkeypatch.setattr(sys, "path", list(sys.path))
    generated = generate(schema, tmp_path)
    models = importlib.import_module(f"{PACKAGE}.models")
    token_call = importlib.import_module(f"{PACKAGE}.api.auth.token_v1_auth_token_post")
    me_call = importlib.import_module(f"{PACKAGE}.api.auth.me_v1_me_get")
    list_clients = importlib.import_module(f"{PACKAGE}.api.clients.list_clients_v1_clients_get")
    create_client = importlib.import_module(f"{PACKAGE}.api.clients.create_client_v1_clients_post")
    transfer = importlib.import_module(f"{PACKAGE}.api.ledger.transfer_v1_transfers_post")
    changes = importlib.import_module(f"{PACKAGE}.api.sync.changes_v1_sync_changes_get")

    anonymous = generated.Client(base_url=server.url, raise_on_unexpected_status=True)
    token = token_call.sync(
        client=anonymous, body=models.TokenRequest(login="generado@example.com", password=PASSWORD)
    )
    assert isinstance(token, models.Token)
    assert token.token_type == "bearer" and token.expires_in > 0
    assert isinstance(token.account, models.Account) and token.account.id == actor.account_id
    assert token.account.balances.stamps == 10

    client = generated.AuthenticatedClient(
        base_url=server.url, token=token.access_token, raise_on_unexpected_status=True
    )
    me = me_call.sync(client=client)
    assert isinstance(me, models.Me)
    assert me.profile.email == "generado@example.com" and me.account.nic == token.account.nic
    assert me.role == "master"

    first = list_clients.sync(client=client)
    assert first.items == []

    created = create_client.sync(
        client=client, body=models.ClientCreate(name="Ferretería Díaz", rfc=RFC_MORAL)
    )
    cti = created.stamping_account.id
    listed = list_clients.sync(client=client)
    assert [c.name for c in listed.items] == ["Ferretería Díaz"]

    target = models.PartyIn(type_=models.PartyInType("stamping_account"), id=cti)
    movement = transfer.sync(
        client=client,
        body=models.TransferIn(asset=models.TransferInAsset("stamps"), target=target, quantity=3),
        idempotency_key=str(uuid.uuid4()),
    )
    assert movement.quantity == 3

    page = changes.sync(client=client)
    assert isinstance(page, models.ChangesPage)
    assert isinstance(page.cursor, str) and page.cursor
    entities = {(c.entity, c.id) for c in page.changes}
    assert ("client", created.client.id) in entities
    assert ("stamping_account", cti) in entities
    account = next(c for c in page.changes if c.entity == "stamping_account" and c.id == cti)
    assert account.deleted is False and account.data is not None
    assert account.data["balance"] == 3

    # The cursor goes on from there: nothing new until something changes.
    rest = changes.sync(client=client, cursor=page.cursor)
    while rest.has_more:
        rest = changes.sync(client=client, cursor=rest.cursor)
    assert [c for c in rest.changes if c.entity == "client"] == []
