"""The cmdesk-server application factory.

`create_app()` builds the FastAPI app: settings, the database session factory (in `app.state`),
problem+json error handling, optional CORS, and the routers listed in `cmdesk.server.api.ROUTERS`.
Run it with `uvicorn --factory cmdesk.server.app:create_app`, or in-process with
`cmdesk.server.embedded.EmbeddedServer`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

import cmdesk
from cmdesk.server import db, logs, pages, security, throttle
from cmdesk.server.api import ROUTERS, errors, resilience
from cmdesk.server.api.deps import AuthState, audit_scope
from cmdesk.server.api.strict import StrictInput
from cmdesk.server.leadership import Leadership
from cmdesk.server.mail import links, queue
from cmdesk.server.mail.sender import MailService
from cmdesk.server.security import CredentialCache
from cmdesk.server.settings import Settings

log = logging.getLogger(__name__)

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
    # Link tokens of mails derive from CMDESK_SECRET_KEY when set (else from the database's secret).
    links.configure_factory(factory, settings.secret_key.get_secret_value() if settings.secret_key else None)
    # The mail sender of this process (started with the app, when `mail_sender`); a commit that
    # queued a mail wakes it up at once.
    mail_service = MailService(factory, settings, base_url=settings.public_base_url)
    queue.install_wakeup(factory, mail_service.wake)

    # The stamping fast path (PostgreSQL): a pool of async connections per worker, closed on shutdown.
    fast_consume = None
    if settings.consume_fast_path and engine.dialect.name == "postgresql":
        from cmdesk.server.stamping_fast import FastConsume  # psycopg: not in the desktop's bundle

        fast_consume = FastConsume(engine.url.render_as_string(hide_password=False))

    # Low-balance alerts, evaluated in the background of the leading worker (and a lease row).
    alert_evaluator = None
    if settings.alerts_evaluator:
        import datetime as dt

        from cmdesk.server.operations.alerts import EvaluatorThread

        alert_evaluator = EvaluatorThread(
            factory,
            interval=settings.alerts_interval_seconds,
            sweep_every=dt.timedelta(minutes=settings.alerts_sweep_minutes),
        )

    def start_jobs() -> None:
        if settings.mail_sender:
            mail_service.start()
        if alert_evaluator is not None:
            alert_evaluator.start()

    def stop_jobs() -> None:
        if alert_evaluator is not None:
            alert_evaluator.stop()
        mail_service.stop()

    leadership = Leadership(
        engine,
        on_gain=start_jobs,
        on_lose=stop_jobs,
        on_notify=mail_service.wake,
        interval=settings.alerts_interval_seconds,
    )

    # The transfer fast path (PostgreSQL): its own pool per worker, and the per-worker token cache.
    fast_transfer = None
    if settings.transfer_fast_path and engine.dialect.name == "postgresql":
        from cmdesk.server.transfer_fast import FastTransfer

        fast_transfer = FastTransfer(
            engine.url.render_as_string(hide_password=False),
            retention_days=settings.idempotency_retention_days,
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Bulk transfers a dead worker left half written are finished before anything else runs.
        await run_in_threadpool(_finish_bulk_runs, factory)
        # The mail sender and the alert evaluator run in one worker at a time (see leadership).
        if settings.mail_sender or alert_evaluator is not None:
            await run_in_threadpool(leadership.start)
        yield
        await run_in_threadpool(leadership.stop)
        if fast_consume is not None:
            await fast_consume.close()
        if fast_transfer is not None:
            await fast_transfer.close()

    # API documentation only where it is wanted (Settings.api_docs): a production server does not
    # publish a map of itself.
    docs = settings.api_docs
    app = FastAPI(
        title="cmdesk-server",
        version=cmdesk.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.auth = AuthState(settings, factory)
    # CTI passwords verified recently, so stamping CFDI after CFDI skips Argon2 (see security).
    app.state.credential_cache = CredentialCache(ttl_seconds=settings.credential_cache_minutes * 60)
    app.state.fast_consume = fast_consume
    app.state.alert_evaluator = alert_evaluator
    app.state.mail = mail_service
    app.state.leadership = leadership
    pages.install_log_filter()
    # Argon2 at most `password_hash_concurrency` at once in this process (memory), excess answered 503.
    security.configure_hashing_gate(
        settings.password_hash_concurrency,
        queue=settings.password_hash_queue,
        wait_seconds=settings.password_hash_wait_seconds,
    )
    app.state.password_guard = throttle.Guard(
        factory,
        {
            throttle.Kind.LOGIN: settings.throttle_policy(settings.login_attempts_per_minute),
            throttle.Kind.CTI: settings.throttle_policy(settings.cti_attempts_per_minute),
            throttle.Kind.RESET: settings.throttle_policy(settings.login_attempts_per_minute),
        },
    )
    app.state.fast_transfer = fast_transfer
    app.state.cache_images = None
    if settings.cache_images:
        from cmdesk.server import cache_images

        folder = settings.cache_image_folder or cache_images.default_folder(settings.database_url)
        app.state.cache_images = cache_images.Builder(engine, folder)
    logs.install()

    errors.install(app)
    if fast_consume is not None and settings.consume_lane:
        from cmdesk.server.api.consume_lane import ConsumeLane

        app.add_middleware(
            ConsumeLane, fast=fast_consume, cache=app.state.credential_cache, guard=app.state.password_guard
        )
    if fast_transfer is not None and settings.transfer_lane:
        from cmdesk.server.api.transfer_lane import TransferLane

        app.add_middleware(TransferLane, fast=fast_transfer)
    resilience.install(app)  # version headers and gates; 503 while the database is away (wraps the above)
    # In front of everything but CORS: no control character in path, query or headers; bodies bounded.
    app.add_middleware(StrictInput, max_body=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=[
                "Authorization", "Content-Type", "Idempotency-Key", "If-Match", "Range",
                "X-Cmdesk-Device", "X-Cmdesk-Reason",
            ],
            expose_headers=["ETag", "Retry-After", "Content-Range"],
        )
    for name in ROUTERS:
        router = importlib.import_module(name).router
        if not isinstance(router, APIRouter):
            raise TypeError(f"{name}.router is not an APIRouter")
        # Every mutating route gets the bitácora's context (cmdesk.server.audit).
        app.include_router(router, dependencies=[Depends(audit_scope)])
    # The HTML pages the mails' links open (not part of the API nor of its OpenAPI document).
    app.include_router(pages.router)
    _document_global_answers(app)
    return app


# Answers any operation may give besides its own, because they come from checks in front of every route.
PASSWORD_CHECKS = {"/v1/auth/token", "/v1/stamping/consume", "/v1/public/top-up-codes/redeem"}


def _document_global_answers(app: FastAPI) -> None:
    """Complete each operation of the OpenAPI document with the problems every route can answer:
    422 (strict input, as problem+json), 503 (the database away, api/resilience; also the hashing gate
    where a password or NIP is checked), 413 (body size) with a body, 403 `account_blocked` with a
    bearer token, 429 where a password or NIP is checked."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        ref = {"$ref": "#/components/schemas/Problem"}
        problem = {
            "description": "Error",
            "content": {"application/problem+json": {"schema": ref}, "application/json": {"schema": ref}},
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                wanted = {"422", "503"}
                if "requestBody" in operation:
                    wanted.add("413")
                if any("HTTPBearer" in s for s in operation.get("security", [])):
                    wanted.add("403")
                if path in PASSWORD_CHECKS:
                    wanted.add("429")
                for status in wanted:
                    current = responses.get(status)
                    if current is None or "HTTPValidationError" in str(current):
                        responses[status] = problem
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _finish_bulk_runs(factory: db.SessionFactory) -> None:
    from cmdesk.server.operations import bulk_transfers

    try:
        if bulk_transfers.finish_bulk_runs(factory):
            log.warning("Se terminaron transferencias masivas que quedaron a medias.")
    except Exception:
        log.exception("could not finish the bulk transfers left unfinished; the next start tries again")
