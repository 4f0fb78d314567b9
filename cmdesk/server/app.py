"""The cmdesk-server application factory.

`create_app()` builds the FastAPI app: settings, the database session factory (in `app.state`),
problem+json error handling, optional CORS, and the routers listed in `cmdesk.server.api.ROUTERS`.
Run it with `uvicorn --factory cmdesk.server.app:create_app`, or in-process with
`cmdesk.server.embedded.EmbeddedServer`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine

import cmdesk
from cmdesk.server import db
from cmdesk.server.api import ROUTERS, errors, resilience
from cmdesk.server.api.deps import AuthState
from cmdesk.server.security import CredentialCache
from cmdesk.server.settings import Settings

DESCRIPTION = (
    "API v1 de Cuenta Maestra: el servidor central de cmdesk, autoridad de saldos, estados y reglas. "
    "Los errores son `application/problem+json` (RFC 9457) con textos en español."
)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """A ready app. `engine` (tests, the embedded server) overrides `settings.database_url`."""
    if settings is None:
        settings = (
            Settings(database_url=engine.url.render_as_string(hide_password=False))
            if engine is not None
            else Settings()
        )
    if engine is None:
        engine = db.create_db_engine(settings.database_url)
    factory = db.session_factory(engine)

    # The stamping fast path (PostgreSQL): a pool of async connections per worker, closed on shutdown.
    fast_consume = None
    if settings.consume_fast_path and engine.dialect.name == "postgresql":
        from cmdesk.server.stamping_fast import FastConsume  # psycopg: not in the desktop's bundle

        fast_consume = FastConsume(engine.url.render_as_string(hide_password=False))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if fast_consume is not None:
            await fast_consume.close()

    app = FastAPI(
        title="cmdesk-server", version=cmdesk.__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.auth = AuthState(settings, factory)
    # CTI passwords verified recently, so stamping CFDI after CFDI skips Argon2 (see security).
    app.state.credential_cache = CredentialCache(ttl_seconds=settings.credential_cache_minutes * 60)
    app.state.fast_consume = fast_consume

    errors.install(app)
    if fast_consume is not None and settings.consume_lane:
        from cmdesk.server.api.consume_lane import ConsumeLane

        app.add_middleware(ConsumeLane, fast=fast_consume, cache=app.state.credential_cache)
    resilience.install(app)  # version headers and gates; 503 while the database is away (wraps the above)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "Range"],
            expose_headers=["ETag", "Retry-After", "Content-Range"],
        )
    for name in ROUTERS:
        router = importlib.import_module(name).router
        if not isinstance(router, APIRouter):
            raise TypeError(f"{name}.router is not an APIRouter")
        app.include_router(router)
    return app
