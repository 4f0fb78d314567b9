"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from `CMDESK_TEST_PG_URL` when set; otherwise a throwaway server is started for the
session (as the `postgres` user when running as root) and removed at the end.

`CMDESK_TEST_SKIP_PG=1` runs the suite on SQLite only (a machine without PostgreSQL, e.g. a Windows
CI runner whose PostgreSQL service is missing): the PostgreSQL parameter, the `postgres_only` tests
and every test that asks for `pg_url` are skipped. Never set it where PostgreSQL is available.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, make_url, text

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cmdesk.models import Base
from cmdesk.server import db, migrations, security

# Real Argon2 costs ~0.1 s a hash; the tests hash hundreds of passwords. Production keeps the defaults.
security.configure_password_hashing(time_cost=1, memory_cost=1024, parallelism=1)

SKIP_PG = os.environ.get("CMDESK_TEST_SKIP_PG") == "1"
DB_KINDS = ["sqlite"] if SKIP_PG else ["sqlite", "postgresql"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("db_kind") if callspec else None
        if item.get_closest_marker("postgres_only") and (kind == "sqlite" or SKIP_PG):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if SKIP_PG:
        pytest.skip("CMDESK_TEST_SKIP_PG=1: PostgreSQL is not available here")
    url = os.environ.get("CMDESK_TEST_PG_URL")
    if url:
        yield url
        return
    from cmdesk.devtools import postgres

    server = postgres.start()
    try:
        yield server.create_database("cmdesk_test")
    finally:
        server.stop()


@contextlib.contextmanager
def migrated_pg_database(pg_url: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database beside the test one, migrated to the head (a server of its own runs
    on it); dropped at the end. Yields its URL."""
    base = make_url(pg_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    dsn = f"host={base.host} port={base.port} user={base.username} dbname={base.database}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        migrations.upgrade(url)
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


_engines: dict[str, Engine] = {}


@pytest.fixture(scope="session")
def _engine_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    yield _engines
    for engine in _engines.values():
        engine.dispose()


@pytest.fixture(params=DB_KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(
    db_kind: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _engine_cache: dict,
) -> Engine:
    """A clean database with the whole schema, of the kind the test is parametrized with."""
    eng = _engine_cache.get(db_kind)
    if eng is None:
        if db_kind == "sqlite":
            path = Path(tmp_path_factory.mktemp("sqlite")) / "server.db"
            eng = db.create_db_engine(f"sqlite:///{path.as_posix()}")
        else:
            eng = db.create_db_engine(request.getfixturevalue("pg_url"), pool_size=20)
            with eng.begin() as c:
                c.execute(text("DROP SCHEMA public CASCADE"))
                c.execute(text("CREATE SCHEMA public"))
        Base.metadata.create_all(eng)
        _engine_cache[db_kind] = eng
    else:
        _wipe(eng)
    return eng


def _wipe(eng: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with eng.begin() as c:
        if eng.dialect.name == "postgresql":
            c.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                c.execute(text(f'DELETE FROM "{t}"'))
            c.execute(text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(c) else None


def _has_sqlite_sequence(c: object) -> bool:
    row = c.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first()  # type: ignore[attr-defined]
    return row is not None


@pytest.fixture
def factory(engine: Engine) -> db.SessionFactory:
    return db.session_factory(engine)
