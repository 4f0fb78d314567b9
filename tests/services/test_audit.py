"""The bitácora from the desktop: every request names the desktop (`X-Cmdesk-Device`), a command's
reason reaches the record (`X-Cmdesk-Reason`, also after waiting in the outbox), and the pages read are
kept in the cache per filter, in the server's order, readable offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient, device_label, header_text
from cmdesk.services.audit import AuditFilter, audit_record, fetch_audit_page, summary
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.sync import SyncEngine


@pytest.fixture
def synced(tmp_path: Path, api: ApiClient) -> Iterator[SyncEngine]:
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    engine = SyncEngine(api, cache, outbox, page_size=500)
    engine.sync_once()
    yield engine
    cache.close()
    outbox.close()


def test_a_queued_block_carries_its_reason_and_the_device(synced: SyncEngine, api: ApiClient) -> None:
    cache, outbox = synced.cache, synced.outbox
    cti = str(next(r["id"] for r in cache.query_stamping_accounts(active=True, limit=10)))
    reason = "Falta de pago: 3 meses — aviso 50% enviado"
    command = commands.set_cti_active(outbox, cache, cti, False, reason=reason)
    synced.sync_once()
    assert outbox.get(command.id).state is CommandState.DONE
    history = AuditFilter(entity="stamping_account", entity_id=cti)
    fetched = fetch_audit_page(api, cache, history, restart=True)
    assert fetched.fetched >= 1
    records = cache.query_audit(history.key, limit=50)
    newest = records[0]
    assert newest["action"].startswith("stamping_account")
    assert newest["reason"] == reason
    assert newest["device"] == api.device == device_label()
    assert newest["profile"]["email"]
    assert summary(newest) == "Activa: Sí → No"
    detail = audit_record(api, cache, int(newest["id"]))
    assert {"entity": "stamping_account", "id": cti} in detail["subjects"]
    # Reactivated without a reason: the record has none.
    commands.set_cti_active(outbox, cache, cti, True)
    synced.sync_once()
    fetch_audit_page(api, cache, history, restart=True)
    assert cache.query_audit(history.key, limit=1)[0]["reason"] == ""


def test_pages_are_kept_per_filter_and_read_in_order(synced: SyncEngine, api: ApiClient) -> None:
    cache, outbox = synced.cache, synced.outbox
    # Records of its own (the tests run in two processes: another test's may be in the other one).
    cti = str(next(r["id"] for r in cache.query_stamping_accounts(active=True, limit=10)))
    for active in (False, True):
        commands.set_cti_active(outbox, cache, cti, active)
        synced.sync_once()
    everything = AuditFilter()
    first = fetch_audit_page(api, cache, everything, restart=True, limit=2)
    assert first.fetched == 2 and first.kept == 2
    if first.more:
        second = fetch_audit_page(api, cache, everything, limit=2)
        assert second.kept == 2 + second.fetched
    kept = cache.query_audit(everything.key, limit=100)
    times = [r["created_at"] for r in kept]
    assert times == sorted(times, reverse=True)
    assert len({r["id"] for r in kept}) == len(kept)
    # Another filter is another list; an action filter works in SQL on what is kept.
    today = AuditFilter(since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    fetch_audit_page(api, cache, today, restart=True)
    assert all(r["created_at"] >= today.params()["from"][:10] for r in cache.query_audit(today.key))
    actions = {r["action"] for r in cache.query_audit(today.key, limit=1000)}
    prefix = sorted(actions)[0].split(".")[0] + "."
    assert all(r["action"].startswith(prefix) for r in cache.query_audit(today.key, action=prefix))
    assert cache.query_audit(today.key, action="nothing_like_this.") == []
    # The action filter is the server's: a list of its own, only that action, read from the newest.
    action = sorted(actions)[0]
    one = AuditFilter(since=today.since, action=action)
    assert one.key != today.key and one.any_action().key == today.key
    assert one.params()["action"] == action
    fetch_audit_page(api, cache, one, restart=True, limit=1)
    while fetch_audit_page(api, cache, one, limit=1).more:
        pass
    while fetch_audit_page(api, cache, today).more:
        pass
    listed = cache.query_audit(one.key, limit=1000)
    assert [r["id"] for r in listed] == [
        r["id"] for r in cache.query_audit(today.key, limit=1000) if r["action"] == action
    ]


def test_header_text_is_percent_encoded_utf8() -> None:
    assert header_text("Año 2026:\nbloqueo 100%") == "A%C3%B1o 2026: bloqueo 100%25"
