"""Engines and sessions of the server database (PostgreSQL in production, SQLite embedded).

An operation runs in one transaction: `with transaction(factory) as session: op(session, ...)`.
`run()` retries an operation that lost a deadlock or a serialization race on PostgreSQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cmdesk.server import audit, feed, security

log = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]


def default_database_url() -> str:
    """`CMDESK_DATABASE_URL`, else a SQLite file in the user's data folder."""
    import os

    url = os.environ.get("CMDESK_DATABASE_URL")
    if url:
        return url
    from platformdirs import user_data_path

    folder = user_data_path("cmdesk", "Induxsoft", roaming=False) / "server"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'cmdesk-server.db').as_posix()}"


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and pick psycopg 3; create the folder of a SQLite file."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    return u.render_as_string(hide_password=False)


def create_db_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    url = normalize_url(url)
    # Errors and echo never show SQL parameters: they hold password hashes, NIPs, personal data.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"timeout": 60, "check_same_thread": False},
        )
        _configure_sqlite(engine)
    else:
        # No pre-ping (a round trip on every checkout, on the hot path); connections are recycled
        # instead, and a connection that died is discarded by the pool on its first error.
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size * 2,
            pool_recycle=1800,
        )
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE: SQLite has one writer; taking the write lock at the
    start avoids "database is locked" on upgrade from a read, and keeps change-log ids in commit order."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> SessionFactory:
    factory = sessionmaker(engine, expire_on_commit=False)
    feed.install_hooks(factory)
    audit.install_hooks(factory)
    return factory


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """One operation, one transaction: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        opened = security.transaction_opened()
        try:
            yield session
        finally:
            security.transaction_closed(opened)


_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


def run[T](factory: SessionFactory, fn: Callable[..., T], *args: Any, attempts: int = 5, **kwargs: Any) -> T:
    """Run `fn(session, *args, **kwargs)` in its own transaction, retrying lost races."""
    for attempt in range(1, attempts + 1):
        try:
            with transaction(factory) as session:
                return fn(session, *args, **kwargs)
        except DBAPIError as exc:
            if attempt < attempts and is_retryable(exc):
                log.info("retrying %s after a lost race (%s)", getattr(fn, "__name__", fn), attempt)
                time.sleep(0.01 * attempt)
                continue
            raise
    raise AssertionError("unreachable")
