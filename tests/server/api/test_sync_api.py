"""`GET /v1/sync/changes`: paging the feed with current data, tombstones, and tenant isolation."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cmdesk.domain.enums import Asset
from cmdesk.models import Client
from cmdesk.server import db, feed
from cmdesk.server.api import sync
from cmdesk.server.operations import ledger
from tests.server.api.conftest import PASSWORD
from tests.server.helpers import give, make_client, make_distributor


@pytest.fixture
def ana(factory):
    return make_distributor(factory, email="ana@example.com", password=PASSWORD)


def pull(client, headers, *, limit: int, cursor: str | None = None) -> list[dict[str, Any]]:
    """Every page until `has_more` is false; checks the cursor moves forward on each page."""
    pages = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/sync/changes", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"changes", "cursor", "has_more"}
        assert len(page["changes"]) <= limit
        assert page["cursor"] != cursor or not page["changes"]
        cursor = page["cursor"]
        pages.append(page)
        if not page["has_more"]:
            return pages


def test_paging_returns_every_change_with_current_data(client, factory, ana, auth_headers):
    headers = auth_headers("ana@example.com")
    give(factory, ana, Asset.STAMPS, 20)
    made = [make_client(factory, ana) for _ in range(3)]
    movement = db.run(
        factory,
        ledger.transfer,
        ana,
        asset="stamps",
        target_type="stamping_account",
        target_id=made[0]["stamping_account"]["id"],
        quantity=5,
    )
    pages = pull(client, headers, limit=2)
    assert len(pages) > 3
    changes = [c for p in pages for c in p["changes"]]
    for change in changes:
        assert set(change) == {"entity", "id", "version", "deleted", "data"}
        assert change["deleted"] is False and change["data"]["id"] == change["id"]
        if "version" in change["data"]:
            assert change["version"] == change["data"]["version"]
    seen = {(c["entity"], c["id"]) for c in changes}
    assert ("account", ana.account_id) in seen
    assert ("movement", movement["id"]) in seen
    for m in made:
        assert ("client", m["client"]["id"]) in seen
        assert ("stamping_account", m["stamping_account"]["id"]) in seen
    # The latest state wins: the CTI's last appearance shows the transferred stamps.
    last_cti = [c for c in changes if c["id"] == made[0]["stamping_account"]["id"]][-1]
    assert last_cti["data"]["balance"] == 5
    # Nothing new after the last cursor; the cursor stays.
    cursor = pages[-1]["cursor"]
    again = client.get("/v1/sync/changes", params={"cursor": cursor}, headers=headers).json()
    assert again == {"changes": [], "cursor": cursor, "has_more": False}
    # A later change comes after that cursor, alone.
    db.run(
        factory,
        ledger.transfer,
        ana,
        asset="stamps",
        target_type="stamping_account",
        target_id=made[1]["stamping_account"]["id"],
        quantity=1,
    )
    later = [c for p in pull(client, headers, limit=100, cursor=cursor) for c in p["changes"]]
    assert ("stamping_account", made[1]["stamping_account"]["id"]) in {(c["entity"], c["id"]) for c in later}
    assert ("client", made[2]["client"]["id"]) not in {(c["entity"], c["id"]) for c in later}


def test_tombstones_for_deleted_and_vanished_rows(client, factory, ana, auth_headers):
    headers = auth_headers("ana@example.com")
    made = make_client(factory, ana)
    cursor = pull(client, headers, limit=1000)[-1]["cursor"]
    with db.transaction(factory) as s:
        s.delete(s.get(Client, made["client"]["id"]))  # the feed records the deletion
    with db.transaction(factory) as s:
        feed.record(s, "stamping_account", "NO-LONGER-THERE", [ana.account_id])  # a row that is gone
    changes = [c for p in pull(client, headers, limit=1000, cursor=cursor) for c in p["changes"]]
    by_id = {c["id"]: c for c in changes}
    assert by_id[made["client"]["id"]] == {
        "entity": "client",
        "id": made["client"]["id"],
        "version": None,
        "deleted": True,
        "data": None,
    }
    assert by_id["NO-LONGER-THERE"]["deleted"] is True and by_id["NO-LONGER-THERE"]["data"] is None


def test_an_entity_without_loader_is_skipped_with_a_warning(client, factory, ana, auth_headers, caplog):
    headers = auth_headers("ana@example.com")
    cursor = pull(client, headers, limit=1000)[-1]["cursor"]
    with db.transaction(factory) as s:
        feed.record(s, "mystery_entity", "m1", [ana.account_id])
        feed.record(s, "account", ana.account_id, [ana.account_id])
    sync._warned.discard("mystery_entity")
    with caplog.at_level(logging.WARNING, logger="cmdesk.server.api.sync"):
        response = client.get("/v1/sync/changes", params={"cursor": cursor}, headers=headers)
    assert response.status_code == 200
    page = response.json()
    assert [c["entity"] for c in page["changes"]] == ["account"]
    assert page["cursor"] != cursor  # the skipped change is passed, not re-read forever
    assert "mystery_entity" in caplog.text


def test_other_accounts_changes_are_not_visible(client, factory, ana, auth_headers):
    beto = make_distributor(factory, email="beto@example.com", password=PASSWORD)
    theirs = make_client(factory, beto)
    mine = make_client(factory, ana)
    changes = [c for p in pull(client, auth_headers("ana@example.com"), limit=1000) for c in p["changes"]]
    ids = {c["id"] for c in changes}
    assert mine["client"]["id"] in ids
    assert theirs["client"]["id"] not in ids and beto.account_id not in ids


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"cursor": "x" * 101}, "cursor"),
    ],
)
def test_bad_parameters(client, ana, auth_headers, params, field):
    response = client.get("/v1/sync/changes", params=params, headers=auth_headers("ana@example.com"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_sync_needs_a_token(client):
    assert client.get("/v1/sync/changes").status_code == 401


# Claims "account" a second time: the registry must refuse it (see test_loader_registry).
FEED_LOADERS = {"account": lambda session, ids: {}}


def test_loader_registry(monkeypatch):
    loaders = sync.feed_loaders()
    for entity in ("account", "client", "stamping_account", "movement"):
        assert entity in loaders
    monkeypatch.setattr(sync, "LOADER_MODULES", [*sync.LOADER_MODULES, __name__])
    sync.feed_loaders.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="two loaders"):
            sync.feed_loaders()
    finally:
        monkeypatch.undo()
        sync.feed_loaders.cache_clear()
    assert sync.feed_loaders().keys() == loaders.keys()


def test_counts_match_what_the_feed_delivers(client, factory):
    from cmdesk.domain.enums import Asset
    from tests.server.helpers import give, make_client, make_distributor

    make_distributor(factory, email="cnt@dist.mx", mobile="5544444444", password="secreto123")
    token = client.post("/v1/auth/token", json={"login": "cnt@dist.mx", "password": "secreto123"}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    me = client.get("/v1/me", headers=h).json()
    from cmdesk.server.operations.context import Actor

    actor = Actor(me["account"]["id"], me["profile"]["id"])
    give(factory, actor, Asset.STAMPS, 5)
    for _ in range(3):
        make_client(factory, actor)
    seen: dict[str, set[str]] = {}
    cursor = None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/sync/changes", params=params, headers=h).json()
        for c in page["changes"]:
            if c["entity"] != "account":
                (seen.setdefault(c["entity"], set()).discard if c["deleted"] else seen.setdefault(c["entity"], set()).add)(c["id"])
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    counts = client.get("/v1/sync/counts", headers=h).json()
    for entity, n in counts.items():
        assert len(seen.get(entity, set())) == n, (entity, n, seen.get(entity))


def test_pages_are_the_json_fastapi_would_write(factory, tmp_path):
    """The feed is written with orjson for speed: on the demo portfolio (every entity the feed
    carries: clients, CTIs, movements, invoices, codes, contracts, software, …) the JSON must be the
    one FastAPI's encoder writes."""
    import json

    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse
    from sqlalchemy import select

    from cmdesk.models import Membership, Profile
    from cmdesk.server.operations.context import Actor
    from cmdesk.server.seed import DEMO_EMAIL, seed_demo

    seed_demo(factory, software_store=tmp_path / "files", clients_count=6)
    with db.transaction(factory) as s:
        account_id, profile_id = s.execute(
            select(Membership.account_id, Membership.profile_id)
            .join(Profile, Profile.id == Membership.profile_id)
            .where(Profile.email == DEMO_EMAIL)
        ).one()
    page = db.run(factory, sync.read_changes, Actor(account_id, profile_id), None, 1000)
    assert len({c["entity"] for c in page["changes"]}) >= 8
    ours = json.loads(sync.json_page(page).body)
    fastapis = json.loads(JSONResponse(jsonable_encoder(page)).body)
    assert ours == fastapis
