"""Statements in the desktop: built from the cache with `cmdesk.domain.statements`, they must be the
server's statements — same opening, rows, running balances and closing — for every party and asset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.domain import statements as st
from cmdesk.server import db
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Outbox
from cmdesk.services.statements import (
    StatementIncomplete,
    StatementView,
    local_statement,
    server_statement,
    statement,
)
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


@pytest.fixture
def pg_server(pg_url: str) -> Iterator[EmbeddedServer]:
    """The reference server on a database of its own in the test PostgreSQL, migrated and seeded."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    name = f"cmdesk_statements_{uuid.uuid4().hex[:10]}"
    admin = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = url.set(database=name).render_as_string(hide_password=False)
    server = EmbeddedServer(database)
    server.start()
    engine = db.create_db_engine(database)
    try:
        seed_demo(db.session_factory(engine), clients_count=5, software_store=None)
    finally:
        engine.dispose()
    try:
        yield server
    finally:
        server.stop()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_cache_gives_the_servers_statements_on_postgresql(
    tmp_path: Path, pg_server: EmbeddedServer
) -> None:
    client = ApiClient(pg_server.url, retries=2, backoff=0.01)
    client.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        SyncEngine(client, cache, outbox, page_size=500).sync_once()
        _compare_every_party(client, cache)
    finally:
        cache.close()
        outbox.close()
        client.close()


def _same(local: StatementView, server: StatementView) -> None:
    assert (local.opening, local.closing, local.live) == (server.opening, server.closing, server.live)
    assert [r.entry.ref for r in local.rows] == [r.entry.ref for r in server.rows]
    assert [r.balance for r in local.rows] == [r.balance for r in server.rows]
    for mine, theirs in zip(local.rows, server.rows, strict=True):
        a, b = mine.entry, theirs.entry
        assert (a.at, a.kind, a.delta, a.quantity, a.amount_cents) == (
            b.at,
            b.kind,
            b.delta,
            b.quantity,
            b.amount_cents,
        )
        assert (a.counterpart_type, a.counterpart_id, a.comments) == (
            b.counterpart_type,
            b.counterpart_id,
            b.comments,
        )
        assert (a.created_by, a.created_by_name) == (b.created_by, b.created_by_name)
        assert a.counterpart_name == b.counterpart_name


def _period() -> tuple[dt.date, dt.date]:
    today = st.local_day(dt.datetime.now(dt.UTC))
    return today - dt.timedelta(days=60), today


def test_the_cache_gives_the_servers_statements(synced: SyncEngine, api: ApiClient) -> None:
    _compare_every_party(api, synced.cache)


def _compare_every_party(api: ApiClient, cache: Cache) -> None:
    first, last = _period()
    ctis = cache.query_stamping_accounts(limit=1000)
    commands.fetch_usage(api, cache, [(str(c["id"]), int(c["issued"] or 0)) for c in ctis])
    parties: list[tuple[str, str | None, str]] = [("account", None, a) for a in ("stamps", "points", "money")]
    for client in cache.query_clients(limit=1000):
        parties += [("client", str(client["id"]), "points"), ("client", str(client["id"]), "stamps")]
    parties += [("stamping_account", str(c["id"]), "stamps") for c in ctis]
    rows = 0
    for party_type, party_id, asset in parties:
        local = local_statement(cache, party_type, party_id, asset, first, last)
        server = server_statement(api, cache, party_type, party_id, asset, first, last)
        _same(local, server)
        assert local.source == "cache" and server.source == "server"
        if local.last == st.local_day(dt.datetime.now(dt.UTC)):
            assert local.closing == local.live
        rows += len(local.rows)
    assert rows > 0  # the demo has movements in the period: the comparison compared something


def test_a_period_in_the_past_counts_back_from_the_live_balance(synced: SyncEngine, api: ApiClient) -> None:
    cache = synced.cache
    today = st.local_day(dt.datetime.now(dt.UTC))
    first, last = today - dt.timedelta(days=40), today - dt.timedelta(days=10)
    for asset in ("stamps", "points", "money"):
        local = local_statement(cache, "account", None, asset, first, last)
        _same(local, server_statement(api, cache, "account", None, asset, first, last))
        assert local.opening + local.credits - local.debits == local.closing


def test_without_the_daily_cfdi_the_cache_says_so_and_the_server_answers(
    synced: SyncEngine, api: ApiClient
) -> None:
    cache = synced.cache
    first, last = _period()
    cti = next(c for c in cache.query_stamping_accounts(limit=1000) if int(c["issued"] or 0) > 0)
    with pytest.raises(StatementIncomplete) as caught:
        local_statement(cache, "stamping_account", str(cti["id"]), "stamps", first, last)
    assert caught.value.missing == [str(cti["id"])]
    answer = statement(api, cache, "stamping_account", str(cti["id"]), "stamps", first, last)
    assert answer.source == "server"
    # A series fetched before more CFDI were issued is out of date: the cache does not use it.
    cache.set_stamping_usage(str(cti["id"]), [{"date": last.isoformat(), "issued": 1}], issued=1)
    with pytest.raises(StatementIncomplete):
        local_statement(cache, "stamping_account", str(cti["id"]), "stamps", first, last)
    commands.fetch_usage(api, cache, [(str(cti["id"]), int(cti["issued"]))])
    assert statement(api, cache, "stamping_account", str(cti["id"]), "stamps", first, last).source == "cache"


def test_a_bad_period_is_refused(synced: SyncEngine) -> None:
    today = dt.date.today()
    with pytest.raises(ValueError, match="periodo"):
        local_statement(synced.cache, "account", None, "stamps", today, today - dt.timedelta(days=1))
