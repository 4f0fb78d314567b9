"""Migrations build, from empty, exactly the schema the models declare (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import make_url

from cmdesk.models import Base
from cmdesk.server import db, migrations
from tests.server.helpers import new_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'm.db').as_posix()}"
        return
    base = make_url(request.getfixturevalue("pg_url"))
    name = f"mig_{uuid.uuid4().hex[:8]}"
    dsn = f"host={base.host} port={base.port} user={base.username} dbname={base.database}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_upgrade_from_empty_matches_models(empty_url):
    migrations.upgrade(empty_url)
    migrations.upgrade(empty_url)  # a second run is a no-op
    engine = db.create_db_engine(empty_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
            assert diff == [], diff
            assert ctx.get_current_revision() == migrations.current_head()
    finally:
        engine.dispose()


_FUNCTIONS = """
SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc), p.proconfig
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND p.proname LIKE 'cmdesk%'
 ORDER BY 1, 2
"""


def test_migrations_install_the_functions_the_models_install(pg_url):
    """The database functions (`cmdesk_transfer_one`, `cmdesk_transfer`, `cmdesk_consume`, ...) a
    migrated database calls are the ones `create_all` installs for the tests: same names, arguments,
    text and settings."""
    base = make_url(pg_url)
    dsn = f"host={base.host} port={base.port} user={base.username} dbname={base.database}"
    names = [f"fn_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(dsn, autocommit=True) as c:
        for name in names:
            c.execute(f'CREATE DATABASE "{name}"')
    urls = [base.set(database=name).render_as_string(hide_password=False) for name in names]
    try:
        migrations.upgrade(urls[0])
        engine = db.create_db_engine(urls[1])
        try:
            Base.metadata.create_all(engine)
        finally:
            engine.dispose()
        found = []
        for url in urls:
            target = make_url(url)
            with psycopg.connect(
                f"host={target.host} port={target.port} user={target.username} dbname={target.database}"
            ) as c:
                found.append(c.execute(_FUNCTIONS).fetchall())
        assert "cmdesk_transfer_one" in {row[0] for row in found[0]}
        assert found[0] == found[1]
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            for name in names:
                c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_the_hot_functions_plan_index_scans_on_a_new_server(pg_url):
    """`cmdesk_consume` and `cmdesk_transfer_one` keep their plans as long as a pooled connection lives.
    Planned on a new server's small tables, the key lookups were sequential scans, slower with every
    row added; the functions' setting makes them index scans (migration i25_function_index_scans)."""
    with new_database(pg_url, "seq") as url:
        target = make_url(url)
        dsn = f"host={target.host} port={target.port} user={target.username} dbname={target.database}"
        with psycopg.connect(dsn, autocommit=True) as c:
            settings = dict(
                c.execute(
                    "SELECT proname, proconfig FROM pg_proc"
                    " WHERE proname IN ('cmdesk_consume', 'cmdesk_transfer_one')"
                ).fetchall()
            )
            assert set(settings) == {"cmdesk_consume", "cmdesk_transfer_one"}
            assert all("enable_seqscan=off" in (config or []) for config in settings.values()), settings
            # Why: a generic plan made while the table is small (analyzed with one row) scans it.
            c.execute(
                "INSERT INTO idempotency_records (scope, key, request_hash, method, path, completed,"
                " created_at, expires_at) VALUES ('a', 'k', 'h', 'POST', '/v1/transfers', false, now(), now())"
            )
            c.execute("ANALYZE idempotency_records")
            c.execute("SET plan_cache_mode = force_generic_plan")

            def plan(statement: str) -> str:
                c.execute(
                    f"PREPARE {statement}(text, text) AS"
                    " SELECT id FROM idempotency_records WHERE scope = $1 AND key = $2"
                )
                return "\n".join(row[0] for row in c.execute(f"EXPLAIN EXECUTE {statement}('a', 'k')"))

            assert "Seq Scan" in plan("as_planned")
            c.execute("SET enable_seqscan = off")
            assert "Index" in plan("with_the_setting")
