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
