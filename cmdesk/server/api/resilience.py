"""Two faults of real deployments, answered at the edge of the app: the database away for a moment, and
desktops of another version.

Database away (a restart, a failover, a dropped connection). A request that meets it — a connection
the database closed, a refused connect, a pool that cannot get a connection — is answered `503
service_unavailable` with `Retry-After`, a Spanish title and detail, never a 500 and never a partial
answer: the transaction it was in was rolled back by PostgreSQL. Clients send again what is safe to send
again (reads, and writes with an `Idempotency-Key`). Operations run through `db.run` are retried on a
fresh connection before that, when the connection failed before the commit (see `cmdesk.server.db`),
so after a restart only requests in flight at that very moment see the 503. The pools recover by
themselves: SQLAlchemy drops every connection of its pool when one turns out dead, the stamping fast
path checks its pool and retries once (`cmdesk.server.stamping_fast`).

Versions (`cmdesk.domain.compat`). Every answer says the server's API level, release and the oldest
desktop it serves in full. A desktop older than `Settings.min_desktop_version` may still sign in, read
its account, check the server's health and download its update (`ALWAYS_OPEN`); anything else answers
`426 desktop_update_required`. `Settings.desktop_requirements` does the same per route
(`{"POST /v1/clients/tags": "0.2.0"}`: the contract phase of a change, docs/deploy.md), so an older
desktop keeps working for everything the server still accepts from it. Requests that are not a
desktop's (invoicing programs stamping CFDI, browsers) are never refused for their version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import Version
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import cmdesk
from cmdesk.domain import compat
from cmdesk.server.api.errors import problem_body, problem_response

log = logging.getLogger(__name__)

# Seconds a client is asked to wait before sending again while the database is away.
RETRY_AFTER_SECONDS = 2
UNAVAILABLE_CODE = "service_unavailable"
UNAVAILABLE_TITLE = "Servicio no disponible"
UNAVAILABLE_DETAIL = (
    "La base de datos no está disponible en este momento. Intente de nuevo en unos segundos; "
    "una operación con clave de idempotencia se aplica una sola vez aunque se envíe de nuevo."
)
UPDATE_TITLE = "Actualización necesaria"
UPDATE_DETAIL = (
    "El servidor ya no acepta esta operación de cmdesk {version}: requiere la versión {minimum} o "
    "posterior. Actualice cmdesk (Ayuda → Buscar actualizaciones); sus demás operaciones siguen "
    "funcionando."
)
UPDATE_DETAIL_ALL = (
    "El servidor requiere cmdesk {minimum} o posterior (este equipo tiene la {version}). Actualice cmdesk "
    "(Ayuda → Buscar actualizaciones); sus cambios pendientes se conservan."
)
# What an outdated desktop can still do: sign in, read who it is, check health, and update itself.
ALWAYS_OPEN = ("/v1/health", "/v1/auth/", "/v1/me", "/v1/software")


def _driver_unavailable(exc: BaseException) -> bool:
    """psycopg's own errors (the fast path uses psycopg without SQLAlchemy); the server extra may be
    absent (the desktop's embedded server on SQLite)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the desktop bundle
        return False
    # psycopg_pool.PoolTimeout is a psycopg.OperationalError too.
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def database_unavailable(exc: BaseException) -> bool:
    """Whether an exception means "the database cannot be reached now" (not a bug, not bad input)."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(exc, OperationalError | InterfaceError)
    return _driver_unavailable(exc)


def unavailable_body(retry_after: int = RETRY_AFTER_SECONDS) -> dict[str, Any]:
    return problem_body(
        status=503,
        code=UNAVAILABLE_CODE,
        title=UNAVAILABLE_TITLE,
        detail=UNAVAILABLE_DETAIL,
        extra={"retry_after": retry_after},
    )


@dataclass(frozen=True)
class Requirement:
    """Requests matching `method` and `pattern` need a desktop of at least `minimum`."""

    method: str
    pattern: re.Pattern[str]
    minimum: Version

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.pattern.fullmatch(path) is not None


def requirements(table: Mapping[str, str]) -> list[Requirement]:
    """`{"POST /v1/clients/{client_id}": "0.2.0"}` as requirements (`{name}` matches one segment)."""
    out = []
    for route, minimum in table.items():
        method, _, template = route.strip().partition(" ")
        version = compat.parse_version(minimum)
        if not template.startswith("/") or version is None:
            raise ValueError(f"requisito de versión no válido: {route!r}: {minimum!r}")
        regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template.strip()))
        out.append(Requirement(method.upper(), re.compile(regex), version))
    return out


class Resilience:
    """ASGI middleware: the version headers on every answer, the version gates, and the 503 of a
    database that is away (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        min_desktop_version: str = "",
        desktop_requirements: Mapping[str, str] | None = None,
        retry_after: int = RETRY_AFTER_SECONDS,
    ) -> None:
        self.app = app
        self.minimum = compat.parse_version(min_desktop_version)
        if min_desktop_version.strip() and self.minimum is None:
            raise ValueError(f"versión mínima del escritorio no válida: {min_desktop_version!r}")
        self.requirements = requirements(desktop_requirements or {})
        self.retry_after = retry_after
        announced = str(self.minimum) if self.minimum is not None else ""
        self.headers: list[tuple[bytes, bytes]] = [
            (compat.API_LEVEL_HEADER.lower().encode(), str(compat.API_LEVEL).encode()),
            (compat.SERVER_VERSION_HEADER.lower().encode(), cmdesk.__version__.encode()),
            (compat.MIN_DESKTOP_HEADER.lower().encode(), announced.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        refusal = self._refusal(scope) if self.minimum is not None or self.requirements else None
        if refusal is not None:
            await problem_response(refusal)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started or not database_unavailable(exc):
                raise
            log.warning(
                "database unavailable answering %s %s (%s): 503",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
            )
            await problem_response(unavailable_body(self.retry_after))(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> dict[str, Any] | None:
        """The 426 problem of a desktop too old for this request, or None."""
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", [])
            if name in (b"x-cmdesk-version", b"user-agent")
        }
        version = compat.desktop_version(headers)
        if version is None:
            return None
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        if self.minimum is not None and version < self.minimum and not path.startswith(ALWAYS_OPEN):
            return self._problem(version, self.minimum, UPDATE_DETAIL_ALL)
        for requirement in self.requirements:
            if version < requirement.minimum and requirement.matches(method, path):
                return self._problem(version, requirement.minimum, UPDATE_DETAIL)
        return None

    @staticmethod
    def _problem(version: Version, minimum: Version, detail: str) -> dict[str, Any]:
        return problem_body(
            status=compat.UPDATE_REQUIRED_STATUS,
            code=compat.UPDATE_REQUIRED_CODE,
            title=UPDATE_TITLE,
            detail=detail.format(version=version, minimum=minimum),
            extra={"min_version": str(minimum), "your_version": str(version)},
        )


def install(app: Any) -> None:
    """Add the middleware with the app's settings. Call it after every other `add_middleware` that
    may raise a database error (the consume lane), so it wraps them."""
    settings = app.state.settings
    app.add_middleware(
        Resilience,
        min_desktop_version=settings.min_desktop_version,
        desktop_requirements=settings.desktop_requirements,
        retry_after=settings.database_retry_after_seconds,
    )
