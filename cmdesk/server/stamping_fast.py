"""The stamping fast path on PostgreSQL: `POST /v1/stamping/consume` as one call to the database
function `cmdesk_consume` (see `cmdesk.models.pg_functions`).

Invoicing applications call consume once per CFDI, all day: it is the busiest request of the system.
Through the ORM it took five statements, a thread hop and about 2 ms of Python per request; here it is
one round trip on a pooled async psycopg connection in autocommit mode (so the function's call is its
own short transaction), run on the event loop without a thread.

The password stays checked in Python with the per-process `CredentialCache`: the call carries the
stored hash this password was verified against; when the database holds another hash (first use, a
password reset) the function answers `verify`, and for an unknown CTI `invalid_credentials`; then the
password goes through the throttled check (`throttle.Guard.check_cti`: counted per CTI and per address,
Argon2 in a thread under the hashing gate, a dummy hash for an unknown id), and the call is made
again. Auto-sale CTIs (`general`) and anything unusual in the input go through the general path
(`ledger.consume` in one ORM transaction), which has the same rules and words. Consume is
idempotent by CFDI UUID, so a call lost with its connection is simply sent again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.server.db import PG_CONNECT_ARGS
from cmdesk.server.operations import ledger
from cmdesk.server.security import CredentialCache
from cmdesk.server.throttle import Guard

log = logging.getLogger(__name__)

APPLICATION_NAME = "cmdesk-consume"
POOL_WAIT_SECONDS = 5.0
_CALL = "SELECT status, balance, issued, password_hash FROM cmdesk_consume(%s, %s, %s, %s, %s)"


class FastPool:
    """A pool of async psycopg connections in autocommit mode, named `application_name` (so
    pg_stat_activity tells them apart from the ORM's), for the fast paths' one-call operations.
    One per fast path and app (per worker process): opened on first use, on the running event
    loop, and closed by the app's lifespan."""

    def __init__(self, database_url: str, *, application_name: str, max_connections: int = 10) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._name = application_name
        self._max = max_connections
        self._pool: AsyncConnectionPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def supports(database_url: str) -> bool:
        return make_url(database_url).get_backend_name() == "postgresql"

    async def get(self) -> AsyncConnectionPool | None:
        """The pool, or None where psycopg's async mode cannot run (the general path then answers)."""
        loop = asyncio.get_running_loop()
        if type(loop).__name__ == "ProactorEventLoop":
            return None  # Windows' default loop: psycopg's async mode cannot use it; general path
        if self._pool is None or self._loop is not loop:
            # A pool belongs to the loop that opened it (tests may run an app on several loops).
            self._pool = AsyncConnectionPool(
                self._conninfo,
                min_size=1,
                max_size=self._max,
                open=False,
                # Named, so pg_stat_activity tells these connections apart from the ORM's; the same
                # keep-alives and connect timeout as the ORM's (db.PG_CONNECT_ARGS).
                kwargs={"autocommit": True, "application_name": self._name, **PG_CONNECT_ARGS},
                name=self._name,
                # While the database is away a caller waits this long for a connection, then the
                # request answers 503 (api/resilience) instead of hanging past the client's timeout.
                timeout=POOL_WAIT_SECONDS,
            )
            self._loop = loop
            # Published before the await, so callers arriving together share this pool; `open()`
            # marks it open before its first suspension (an uncontended lock does not yield).
            await self._pool.open()
        return self._pool

    async def close(self) -> None:
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.close()

    async def call(
        self, pool: AsyncConnectionPool, sql: str, args: tuple[Any, ...] | dict[str, Any]
    ) -> tuple[Any, ...]:
        """The one row `sql` answers. Only for calls that may be sent twice (idempotent by a key):
        a connection the database dropped is replaced and the call made once more."""
        for attempt in (1, 2):
            try:
                async with pool.connection() as conn:
                    cur = await conn.execute(sql, args)
                    row = await cur.fetchone()
                    assert row is not None
                    return tuple(row)
            except psycopg.OperationalError:
                # A connection the database dropped (restart, failover): the pool's other idle ones
                # are likely dead too, so they are checked (and replaced) before the one retry.
                if attempt == 2:
                    raise
                log.warning("Conexión perdida durante una llamada rápida; se revisa el pool y se reintenta.")
                await pool.check()
        raise AssertionError("unreachable")


class FastConsume:
    """One per app (per worker process), on its own `FastPool`."""

    def __init__(self, database_url: str, *, max_connections: int = 10) -> None:
        self.pool = FastPool(database_url, application_name=APPLICATION_NAME, max_connections=max_connections)

    supports = staticmethod(FastPool.supports)

    async def close(self) -> None:
        await self.pool.close()

    async def _call(
        self, pool: AsyncConnectionPool, cti_id: str, password_hash: str | None, uuid: str, rfc: str
    ) -> tuple[Any, ...]:
        # Consume is idempotent by UUID, so sending it again cannot stamp twice.
        return await self.pool.call(pool, _CALL, (cti_id, password_hash, uuid, rfc, dt.datetime.now(dt.UTC)))

    async def consume(
        self,
        cache: CredentialCache,
        cti_id: str,
        password: str,
        emitter_rfc: Any,
        cfdi_uuid: Any,
        *,
        guard: Guard,
        source: str,
    ) -> dict[str, Any] | None:
        """The answer of a consumption, or None when the general path must take it."""
        try:
            rfc, uuid = ledger.consume_input(emitter_rfc, cfdi_uuid)
        except DomainError:
            return None  # the general path answers in the same order (credentials first)
        pool = await self.pool.get()
        if pool is None:
            return None
        # What this process knows of refusals comes before the cache, or a refused guesser could still
        # tell the right password (a cache hit) from a wrong one.
        known = guard.cached_cti_hash(cache, cti_id, password, source)
        status, balance, issued, _ = await self._call(pool, cti_id, known, uuid, rfc)
        if status in ("verify", "invalid_credentials"):
            # Not verified recently, or no such CTI: the throttled check (an unknown id costs the same
            # Argon2 work), in a worker thread and outside any transaction.
            verified = await run_in_threadpool(guard.check_cti, cache, cti_id, password, source)
            status, balance, issued, _ = await self._call(pool, cti_id, verified, uuid, rfc)
            if status in ("verify", "invalid_credentials"):  # changed or deleted between the calls
                return None
        if status == "general":
            return None
        if status == "ok":
            return {"balance": None if balance is None else int(balance), "issued": int(issued)}
        raise ledger.consume_refusal(ErrorCode(status))
