"""Engines and sessions of the server database (PostgreSQL in production, SQLite embedded).

An operation runs in one transaction: `with transaction(factory) as session: op(session, ...)`.
`run()` retries an operation that lost a deadlock or a serialization race on PostgreSQL, and one whose
connection was lost before its commit (a database restart or failover: PostgreSQL rolled the
transaction back, so running it again on a new connection applies it once). A connection lost during
the commit is never retried here (the commit may have happened): the request answers 503 and the
client decides (`cmdesk.server.api.resilience`).

PostgreSQL connections carry TCP keep-alives and a connect timeout, so a database that vanished
without closing its connections (a failover, a cut network) is noticed in seconds, not hours. A pooled
connection that sat idle for `IDLE_PING_SECONDS` is pinged before it is handed out (and replaced when
dead): a quiet worker's first request after a database restart does not fail, and a busy worker —
whose connections are never idle that long — pays nothing for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cmdesk.server import audit, feed, security

log = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]

# Execution option of a connection that only reads: on SQLite its transactions begin without
# taking the write lock (`conn.execution_options(**{READ_ONLY: True})`).
READ_ONLY = "cmdesk_read_only"


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


# libpq's connection options for every PostgreSQL connection (SQLAlchemy's and the fast path's): give
# up connecting after 10 s, probe an idle connection after 30 s, every 10 s, dead after 3 unanswered
# probes; an unacknowledged write fails after 30 s (Linux).
PG_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30000,
}


# A pooled connection idle this long is pinged when checked out (see the module docstring).
IDLE_PING_SECONDS = 2.0


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
        # No pre-ping (a round trip on every checkout, on the hot path: +50-65 µs of CPU each, measured
        # in issue 22); connections are recycled instead, a connection that died makes the pool drop
        # all of its connections at its first error, and `run()` retries the operation that met it.
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size * 2,
            pool_recycle=1800,
            connect_args=dict(PG_CONNECT_ARGS),
        )
        _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:  # e.g. AdminShutdown: psycopg's dialect only knows some disconnects
            alive = False
        if not alive:
            # The pool discards this connection and hands out another (a new one if need be).
            raise DisconnectionError("idle connection found dead")


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

    # The writers of this process queue on a lock of their own before BEGIN IMMEDIATE. Left to SQLite,
    # a writer that finds the database locked sleeps in growing steps (up to 100 ms) before it looks
    # again: a stamp behind another short write waited up to ~100 ms after the lock was free (p99 of
    # 140 ms with three invoicing programs stamping and nothing else). On this lock it is woken when the
    # writer before it commits. Writers of other processes on the same file (the CLI, a second worker)
    # still meet in SQLite's busy handler; a writer that waited `WRITER_QUEUE_SECONDS` here goes on to
    # SQLite's own wait, so a lock never released (it cannot be: see `_release_writer`) costs time,
    # never a deadlock.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A connection that only reads (a sync snapshot) takes no write lock: writers go on meanwhile.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        if writer.acquire(timeout=WRITER_QUEUE_SECONDS):
            conn.info[_WRITER] = writer
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release_writer(conn.info)
            raise

    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:
        _release_writer(conn.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        _release_writer(conn.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        _release_writer(record.info)  # a connection given back without COMMIT or ROLLBACK (closed)


# How long a writer waits for the other writers of its process before it leaves the waiting to SQLite.
WRITER_QUEUE_SECONDS = 30.0
_WRITER = "cmdesk_sqlite_writer"


def _release_writer(info: dict[Any, Any]) -> None:
    lock = info.pop(_WRITER, None)
    if lock is not None:
        lock.release()


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
# admin_shutdown, crash_shutdown, cannot_connect_now (a restart), and class 08: connection exceptions.
_DISCONNECT_SQLSTATES = {"57P01", "57P02", "57P03"}
# Pauses before each new attempt of an operation whose connection was lost (a restart takes ~1 s).
_RECONNECT_PAUSES = (0.05, 0.25, 0.7)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


def is_disconnect(exc: BaseException) -> bool:
    """Whether the database connection was lost or could not be made (a restart, a failover, a cut
    line), as opposed to an error of the statement itself."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return str(sqlstate).startswith("08") or sqlstate in _DISCONNECT_SQLSTATES
    # psycopg's failures to connect carry no SQLSTATE.
    return isinstance(exc, OperationalError) and type(exc.orig).__module__.startswith("psycopg")


def run[T](factory: SessionFactory, fn: Callable[..., T], *args: Any, attempts: int = 5, **kwargs: Any) -> T:
    """Run `fn(session, *args, **kwargs)` in its own transaction, retrying lost races, and a lost
    connection met before the commit (see the module docstring)."""
    reconnects = 0
    attempt = 0
    while True:
        attempt += 1
        committing = False
        try:
            with factory() as session, session.begin():
                result = fn(session, *args, **kwargs)
                committing = True  # the commit runs as the block ends
            return result
        except DBAPIError as exc:
            if attempt < attempts and is_retryable(exc):
                log.info("retrying %s after a lost race (%s)", getattr(fn, "__name__", fn), attempt)
                time.sleep(0.01 * attempt)
                continue
            if not committing and reconnects < len(_RECONNECT_PAUSES) and is_disconnect(exc):
                log.warning(
                    "database connection lost running %s (%s); retrying on a new connection",
                    getattr(fn, "__name__", fn),
                    type(exc.orig).__name__,
                )
                time.sleep(_RECONNECT_PAUSES[reconnects])
                reconnects += 1
                continue
            raise


def read[T](factory: SessionFactory, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(session, *args, **kwargs)` in a transaction that only reads (never commits): on SQLite
    it takes no write lock, so the writers (another distributor's stamping) go on meanwhile."""
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        return fn(session, *args, **kwargs)
