"""The sync engine against the real reference server (in-process, SQLite): full and delta pulls, count
checks and rebuilds, and pushes that end done, merged, in conflict or rejected — never lost, never twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import commands
from cmdesk.services import sync as sync_module
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.sync import PushReport, SyncEngine


@pytest.fixture
def engine(tmp_path: Path, api: ApiClient) -> Iterator[SyncEngine]:
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    # These tests page the feed from the beginning (the fallback of a server without snapshots);
    # the first sync from a snapshot is tested in test_snapshot.py.
    yield SyncEngine(api, cache, outbox, page_size=50, snapshot=False)
    cache.close()
    outbox.close()


@pytest.fixture
def other(embedded_server: EmbeddedServer) -> Iterator[ApiClient]:
    """Another desktop of the same distributor, changing things directly on the server."""
    client = ApiClient(embedded_server.url, retries=1, backoff=0.01)
    client.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    yield client
    client.close()


def feed_keys(api: ApiClient) -> set[tuple[str, str]]:
    """Every live (entity, id) the feed hands out from the beginning."""
    live: dict[tuple[str, str], bool] = {}
    cursor = None
    while True:
        page = api.get("/v1/sync/changes", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        for c in page["changes"]:
            live[(c["entity"], c["id"])] = not c["deleted"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return {k for k, alive in live.items() if alive}


def cache_keys(cache: Cache) -> set[tuple[str, str]]:
    return {(entity, row["id"]) for entity in cache.counts() for row in cache.all(entity)}


def first_client(cache: Cache) -> dict[str, Any]:
    row = cache.query_clients(sort="nic", limit=1)[0]
    data = cache.get("client", row["id"])
    assert data is not None
    return data


def standard_cti(cache: Cache) -> str:
    return str(next(r["id"] for r in cache.query_stamping_accounts(kind="standard", active=True)))


def test_full_sync_brings_every_entity_and_the_counts_match(engine: SyncEngine, api: ApiClient) -> None:
    report = engine.sync_once()
    assert report.pull.pages > 1 and report.counts_ok and not report.rebuilt
    assert cache_keys(engine.cache) == feed_keys(api)
    server_counts = api.get("/v1/sync/counts")
    local = engine.cache.counts()
    assert {e: n for e, n in server_counts.items() if n} == {
        e: local.get(e, 0) for e, n in server_counts.items() if n
    }
    assert {"client", "stamping_account", "movement", "account", "settings", "profile"} <= set(local)
    # The typed tables are filled: the views read them.
    assert engine.cache.count_clients() == server_counts["client"]
    assert engine.cache.count_stamping_accounts() == server_counts["stamping_account"]
    me = api.get("/v1/me")
    assert engine.cache.account() is None or engine.cache.account()["id"] == me["account"]["id"]  # type: ignore[index]
    assert engine.cache.get("account", me["account"]["id"])["balances"]["stamps"] == me["balances"]["stamps"]  # type: ignore[index]
    assert engine.cache.catalog() is not None
    assert engine.cache.last_sync_at is not None
    # Nothing new: an empty delta.
    again = engine.sync_once()
    assert again.pull.changes == 0 and again.pull.changed == set()


def test_delta_sync_after_changes_made_elsewhere(engine: SyncEngine, other: ApiClient) -> None:
    engine.sync_once()
    client = first_client(engine.cache)
    cti = standard_cti(engine.cache)
    before = engine.cache.get("stamping_account", cti)["balance"]  # type: ignore[index]
    created = other.post(
        "/v1/clients", {"name": "Delta Nuevo S.A.", "rfc": "DNU010101AB1"}, idempotency_key="delta-1"
    )
    other.patch(f"/v1/clients/{client['id']}", {"trade_name": "Cambiado en otro equipo"})
    movement = other.post(
        "/v1/transfers",
        {
            "asset": "stamps",
            "target": {"type": "stamping_account", "id": cti},
            "quantity": 7,
            "amount_cents": 700,
        },
        idempotency_key="delta-2",
    )
    report = engine.sync_once()
    assert {"client", "stamping_account", "movement", "account"} <= report.pull.changed
    assert report.pull.changes < 20 and report.counts_ok and not report.rebuilt
    assert engine.cache.get("client", created["client"]["id"])["name"] == "Delta Nuevo S.A."  # type: ignore[index]
    assert engine.cache.get("stamping_account", created["stamping_account"]["id"]) is not None
    assert engine.cache.get("client", client["id"])["trade_name"] == "Cambiado en otro equipo"  # type: ignore[index]
    assert engine.cache.get("movement", movement["id"])["quantity"] == 7  # type: ignore[index]
    assert engine.cache.get("stamping_account", cti)["balance"] == before + 7  # type: ignore[index]
    assert engine.cache.count_clients(q="delta nuevo") == 1


def test_an_edit_merges_with_another_users_edit_of_other_fields(engine: SyncEngine, other: ApiClient) -> None:
    engine.sync_once()
    client = first_client(engine.cache)
    # Both start from the same version: the other desktop changes the phone, we change the trade name.
    other.patch(f"/v1/clients/{client['id']}", {"phone": "9613334455"}, if_match=client["version"])
    command = commands.update_client(
        engine.outbox, engine.cache, client["id"], {"trade_name": "Nuestro cambio"}
    )
    assert command.if_match == client["version"] and command.base == {"trade_name": client["trade_name"]}
    row = next(r for r in engine.cache.query_clients(limit=1000) if r["id"] == client["id"])
    assert row["pending"] is True and row["trade_name"] == "Nuestro cambio"  # shown at once
    report = engine.sync_once()
    assert report.push.merged == 1 and report.push.done == 1
    assert engine.outbox.get(command.id).state == CommandState.DONE  # type: ignore[union-attr]
    server = other.get(f"/v1/clients/{client['id']}")
    assert (server["phone"], server["trade_name"]) == ("9613334455", "Nuestro cambio")
    cached = engine.cache.get("client", client["id"])
    assert cached is not None and (cached["phone"], cached["trade_name"]) == ("9613334455", "Nuestro cambio")
    assert engine.cache.local_ids() == []


def test_an_edit_of_the_same_field_becomes_a_conflict_and_nothing_is_lost(
    engine: SyncEngine, other: ApiClient
) -> None:
    engine.sync_once()
    client = first_client(engine.cache)
    other.patch(f"/v1/clients/{client['id']}", {"email": "suyo@ejemplo.mx", "phone": "9615556677"})
    command = commands.update_client(
        engine.outbox, engine.cache, client["id"], {"email": "mio@ejemplo.mx", "address": {"city": "Comitán"}}
    )
    report = engine.sync_once()
    assert report.push.conflicts == 1
    settled = engine.outbox.get(command.id)
    assert settled is not None and settled.state == CommandState.CONFLICT
    assert settled.conflict == {
        "email": {"mine": "mio@ejemplo.mx", "server": "suyo@ejemplo.mx", "base": client["email"]}
    }
    assert "Correo electrónico" in (settled.error_detail or "")
    assert settled.error_body["current"]["email"] == "suyo@ejemplo.mx"  # type: ignore[index]
    assert settled.body == {"email": "mio@ejemplo.mx", "address": {"city": "Comitán"}}  # kept whole
    # Meanwhile the server and the cache keep the other user's value; nothing of ours was applied.
    server = other.get(f"/v1/clients/{client['id']}")
    assert server["email"] == "suyo@ejemplo.mx" and server["address"]["city"] == client["address"]["city"]
    assert engine.cache.get("client", client["id"])["email"] == "suyo@ejemplo.mx"  # type: ignore[index]
    # The user keeps their e-mail: a new edit on the server's version goes through.
    resolved = commands.resolve_conflict(engine.outbox, engine.cache, command.id, {"email": "mine"})
    assert resolved is not None and engine.outbox.get(command.id) is None
    engine.sync_once()
    server = other.get(f"/v1/clients/{client['id']}")
    assert (server["email"], server["address"]["city"], server["phone"]) == (
        "mio@ejemplo.mx",
        "Comitán",
        "9615556677",
    )


def test_a_rejection_is_kept_with_the_servers_reason_then_retried_after_a_purchase(
    engine: SyncEngine, api: ApiClient
) -> None:
    engine.sync_once()
    cti = standard_cti(engine.cache)
    available = api.get("/v1/me")["balances"]["stamps"]
    command = commands.transfer(
        engine.outbox,
        engine.cache,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti,
        quantity=available + 1500,
        amount_cents=100,
        comments="más de lo que hay",
    )
    report = engine.sync_once()
    assert report.push.rejected == 1 and report.push.done == 0
    rejected = engine.outbox.get(command.id)
    assert rejected is not None and rejected.state == CommandState.REJECTED
    assert rejected.error_code == "insufficient_balance"
    assert rejected.error_detail and "saldo" in rejected.error_detail.lower()  # the server's Spanish reason
    assert rejected.error_body["code"] == "insufficient_balance"  # type: ignore[index]
    # The user buys stamps, then retries the transfer (a new key: the old one stays rejected).
    old_key = rejected.idempotency_key
    commands.purchase(engine.outbox, engine.cache, "stamps_2000", 1)
    engine.sync_once()
    retried = commands.retry(engine.outbox, engine.cache, command.id)
    assert retried.idempotency_key != old_key
    report = engine.sync_once()
    assert report.push.done == 1
    done = engine.outbox.get(command.id)
    assert (
        done is not None and done.state == CommandState.DONE and done.result["quantity"] == available + 1500
    )  # type: ignore[index]
    assert api.get("/v1/me")["balances"]["stamps"] == 500


def test_a_lost_answer_is_sent_again_and_applied_once(engine: SyncEngine, api: ApiClient) -> None:
    engine.sync_once()
    cti = standard_cti(engine.cache)
    before = api.get(f"/v1/stamping-accounts/{cti}")["balance"]
    command = commands.transfer(
        engine.outbox, engine.cache, asset="stamps", target_type="stamping_account", target_id=cti, quantity=3
    )
    # The first attempt reached the server, but the answer never came back (crash, cable pulled).
    engine.outbox.mark_sent(command.id)
    api.post("/v1/transfers", command.body, idempotency_key=command.idempotency_key)
    report = engine.sync_once()
    assert report.push.done == 1
    assert api.get(f"/v1/stamping-accounts/{cti}")["balance"] == before + 3
    assert engine.outbox.get(command.id).attempts == 2  # type: ignore[union-attr]


def test_created_client_replaces_its_provisional_row(engine: SyncEngine) -> None:
    engine.sync_once()
    command = commands.create_client(
        engine.outbox, engine.cache, {"name": "Provisional S.C.", "rfc": "PRO010101AB1"}
    )
    local_id = command.entity_id
    assert local_id and local_id.startswith("local-")
    assert [r["pending"] for r in engine.cache.query_clients(q="provisional")] == [True]
    commands.update_client(
        engine.outbox, engine.cache, local_id, {"trade_name": "Prov"}
    )  # folded into the creation
    assert len(engine.outbox.list()) == 1 and engine.outbox.get(command.id).body["trade_name"] == "Prov"  # type: ignore[union-attr]
    report = engine.sync_once()
    assert report.push.done == 1 and command.id in report.push.secrets
    done = engine.outbox.get(command.id)
    assert done is not None and done.result["password"] is None  # never on disk
    rows = engine.cache.query_clients(q="provisional")
    assert len(rows) == 1 and rows[0]["id"] == done.result["client"]["id"] and rows[0]["pending"] is False
    assert rows[0]["trade_name"] == "Prov" and rows[0]["nic"]
    assert engine.cache.get("client", local_id) is None


def test_tags_blocking_and_auto_sale(engine: SyncEngine, api: ApiClient) -> None:
    engine.sync_once()
    a, b = (r["id"] for r in engine.cache.query_clients(sort="nic", limit=2))
    cti = standard_cti(engine.cache)
    commands.set_tags(engine.outbox, engine.cache, [a, b], favorite=True, color="purple")
    commands.set_cti_active(engine.outbox, engine.cache, cti, False)
    commands.set_auto_sale(engine.outbox, engine.cache, cti, minimum=5, credit=50, amount_cents=5000)
    assert engine.cache.count_clients(color="purple") == 2
    assert (
        engine.cache.query_stamping_accounts(
            client_id=engine.cache.get("stamping_account", cti)["client_id"],  # type: ignore[index]
            active=False,
        )[0]["pending"]
        is True
    )
    report = engine.sync_once()
    assert report.push.done == 3 and engine.outbox.pending_count() == 0
    assert {c["id"] for c in api.get("/v1/clients", params={"color": "purple"})["items"]} >= {a, b}
    server_cti = api.get(f"/v1/stamping-accounts/{cti}")
    assert server_cti["active"] is False and server_cti["auto_sale"]["credit"] == 50
    assert engine.cache.local_ids() == []
    commands.set_tags(engine.outbox, engine.cache, [a, b], favorite=False, color=None)
    commands.set_cti_active(engine.outbox, engine.cache, cti, True)
    engine.sync_once()
    assert engine.cache.count_clients(color="purple") == 0


def test_counts_that_differ_rebuild_the_cache(engine: SyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.sync_once()
    full = engine.cache.counts()
    # Drift: a row lost from the cache (a bug, a restored backup, …) that no later change would bring.
    victim = engine.cache.query_clients(sort="nic", limit=1)[0]["id"]
    with engine.cache._write() as conn:
        conn.execute("DELETE FROM entities WHERE entity = 'client' AND id = ?", (victim,))
    # A change still queued (its push held back here) is laid over the rebuilt cache again.
    commands.set_tags(engine.outbox, engine.cache, [victim], dropped=True)
    monkeypatch.setattr(engine, "push", PushReport)
    report = engine.sync_once()
    assert report.rebuilt and report.counts_ok
    assert engine.cache.counts() == full
    row = engine.cache.query_clients(q=engine.cache.get("client", victim)["nic"])[0]  # type: ignore[index]
    assert row["dropped"] is True and row["pending"] is True  # the queued change shows again


def test_a_busy_account_is_not_rebuilt_for_counts_taken_while_it_changes(
    engine: SyncEngine, other: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another desktop adds a client after each of this one's pulls, before its count: the counts
    differ every time, but the cache is whole. No rebuild; the next quiet sync compares them."""
    engine.sync_once()
    made = iter(range(100))
    pull = engine.pull

    def pull_then_someone_writes(*args: Any, **kwargs: Any) -> Any:
        pulled = pull(*args, **kwargs)
        other.post("/v1/clients", {"name": f"Cliente concurrente {next(made)}", "rfc": "XAXX010101000"})
        return pulled

    monkeypatch.setattr(engine, "pull", pull_then_someone_writes)
    report = engine.sync_once()
    assert not report.rebuilt and not report.counts_verified
    monkeypatch.setattr(engine, "pull", pull)
    quiet = engine.sync_once()
    assert not quiet.rebuilt and quiet.counts_verified and quiet.counts_ok
    assert cache_keys(engine.cache) == feed_keys(engine.api)


def test_validation_happens_before_queueing(engine: SyncEngine) -> None:
    from cmdesk.domain.errors import DomainError

    with pytest.raises(DomainError) as info:
        commands.transfer(
            engine.outbox, engine.cache, asset="oro", target_type="stamping_account", target_id="", quantity=0
        )
    assert {e.field for e in info.value.errors} == {"asset", "target.id", "quantity"}
    with pytest.raises(DomainError):
        commands.create_client(engine.outbox, engine.cache, {"name": " "})
    assert engine.outbox.list() == []


def test_edits_not_yet_sent_fold_into_one_request(engine: SyncEngine, api: ApiClient) -> None:
    engine.sync_once()
    client = first_client(engine.cache)
    first = commands.update_client(engine.outbox, engine.cache, client["id"], {"trade_name": "Uno"})
    second = commands.update_client(engine.outbox, engine.cache, client["id"], {"address": {"street": "Dos"}})
    assert second.id == first.id and len(engine.outbox.list()) == 1
    assert second.body == {"trade_name": "Uno", "address": {"street": "Dos"}}
    assert second.base == {"trade_name": client["trade_name"], "address.street": client["address"]["street"]}
    # Once a command is on its way, a new edit is a new command.
    engine.outbox.mark_sent(first.id)
    third = commands.update_client(engine.outbox, engine.cache, client["id"], {"trade_name": "Tres"})
    assert third.id != first.id and third.base == {"trade_name": "Uno"}  # what the user saw
    report = engine.sync_once()
    assert report.push.done == 2 and report.push.merged == 1  # the second edit met the first's version
    server = api.get(f"/v1/clients/{client['id']}")
    assert (server["trade_name"], server["address"]["street"]) == ("Tres", "Dos")


# ---- pulling pages ----------------------------------------------------------------------------------


def final_cursor(api: ApiClient) -> str:
    cursor = None
    while True:
        page = api.get("/v1/sync/changes", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        cursor = page["cursor"]
        if not page["has_more"]:
            return str(cursor)


def test_a_first_sync_writes_the_pages_together(
    engine: SyncEngine, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "BATCH_CHANGES", 120)  # pages of 50: about three per transaction
    written: list[int] = []
    apply_page = engine.cache.apply_page

    def counted(changes: Any, cursor: str | None) -> set[str]:
        written.append(len(changes))
        return apply_page(changes, cursor)

    monkeypatch.setattr(engine.cache, "apply_page", counted)
    report = engine.sync_once()
    assert report.counts_ok and not report.rebuilt
    assert 1 < len(written) < report.pull.pages and sum(written) == report.pull.changes
    assert all(n >= 120 for n in written[:-1])  # an empty cache waits for pages to write them together
    assert engine.cache.cursor == final_cursor(api)  # the cursor of the last page of the last one
    assert cache_keys(engine.cache) == feed_keys(api)


def test_a_pull_cut_short_keeps_what_it_wrote_and_resumes(
    engine: SyncEngine, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "BATCH_CHANGES", 1)  # a transaction per page
    fetched: list[str | None] = []
    get_raw = api.get_raw

    def line_drops_at_the_fourth_page(path: str, params: Any = None) -> bytes:
        fetched.append((params or {}).get("cursor"))
        if len(fetched) == 4:
            raise OfflineError()
        return get_raw(path, params)

    monkeypatch.setattr(api, "get_raw", line_drops_at_the_fourth_page)
    with pytest.raises(OfflineError):
        engine.sync_once()
    assert engine.cache.cursor == fetched[3]  # the three pages before were written, with their cursor
    monkeypatch.undo()
    report = engine.sync_once()
    assert report.counts_ok and not report.rebuilt
    assert cache_keys(engine.cache) == feed_keys(api)
    assert engine.cache.count_clients() == api.get("/v1/sync/counts")["client"]


def test_pages_written_in_another_key_order_are_read_too(
    engine: SyncEngine, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    get_raw = api.get_raw

    def reordered(path: str, params: Any = None) -> bytes:
        page = json.loads(get_raw(path, params))
        return json.dumps(
            {"has_more": page["has_more"], "cursor": page["cursor"], "changes": page["changes"]}
        ).encode()

    monkeypatch.setattr(api, "get_raw", reordered)
    report = engine.sync_once()
    assert report.counts_ok and not report.rebuilt and report.pull.pages > 1
    assert cache_keys(engine.cache) == feed_keys(api)


def test_a_page_that_is_not_json_or_contradicts_its_end_is_refused(
    engine: SyncEngine, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = b'{"changes":[],"cursor":"0.12","has_more":false}'
    assert sync_module._Fetched(page, None, "0.12", False).page()["cursor"] == "0.12"
    with pytest.raises(ApiError) as caught:
        sync_module._Fetched(page, None, "0.99", False).page()
    assert caught.value.code == "invalid_response"
    monkeypatch.setattr(api, "get_raw", lambda path, params=None: b"<html>Mantenimiento</html>")
    with pytest.raises(ApiError) as caught:
        engine.sync_once()
    assert caught.value.code == "invalid_response"
    assert engine.cache.cursor is None and engine.cache.counts() == {}
