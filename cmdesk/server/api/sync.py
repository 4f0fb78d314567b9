"""`GET /v1/sync/changes`: the change feed of the signed-in account, with each entity's current data.

`cmdesk.server.feed.read` gives the changed (entity, id) pairs in a never-skipping order; the loaders
of the modules in `LOADER_MODULES` (their `FEED_LOADERS` dicts, merged) turn ids into API dicts, one
query per entity per page. A row that no longer exists is a tombstone (`deleted: true, data: null`);
an entity no loader knows is left out with a warning (a missing loader is a bug to fix, not a 500).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import importlib
import itertools
import logging
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.server import cache_images, db, feed, snapshot
from cmdesk.server.api.deps import AppSettings, CurrentActor, Db
from cmdesk.server.api.resilience import database_unavailable
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.api.schemas_session import ChangesPage
from cmdesk.server.operations.context import Actor

log = logging.getLogger(__name__)

router = APIRouter(tags=["sync"])

Loader = feed.Loader

# Modules with a `FEED_LOADERS: dict[str, Loader]` (entity name → bulk loader). Add yours here.
LOADER_MODULES: list[str] = [
    "cmdesk.server.operations.accounts",
    "cmdesk.server.operations.clients",
    "cmdesk.server.operations.ledger",
    "cmdesk.server.operations.billing",
    "cmdesk.server.operations.contracts",
    "cmdesk.server.operations.distributors",
    "cmdesk.server.operations.top_up_codes",
    "cmdesk.server.operations.tools",
    "cmdesk.server.operations.records",
    "cmdesk.server.operations.software",
    "cmdesk.server.operations.alerts",
    "cmdesk.server.operations.access",
]

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000


@functools.cache
def feed_loaders() -> dict[str, Loader]:
    """Every module's loaders merged (imported once; an entity claimed twice is a mistake)."""
    merged: dict[str, Loader] = {}
    for name in LOADER_MODULES:
        loaders: dict[str, Loader] = importlib.import_module(name).FEED_LOADERS
        for entity, loader in loaders.items():
            if entity in merged and merged[entity] is not loader:
                raise RuntimeError(f"feed entity {entity!r} has two loaders ({name})")
            merged[entity] = loader
    return merged


_warned: set[str] = set()


def known(entity: str) -> bool:
    """Whether the feed has a loader for `entity`; the first time it has none, a warning."""
    if entity in feed_loaders():
        return True
    if entity not in _warned:
        _warned.add(entity)
        log.warning("sync feed: no loader for entity %r; its changes are left out", entity)
    return False


def read_changes(session: Session, actor: Actor, cursor: str | None, limit: int) -> dict[str, Any]:
    page = feed.read(session, actor.account_id, cursor, limit)
    refs = [ref for ref in page.changes if known(ref.entity)]
    changes = feed.load_changes(session, refs, feed_loaders())
    return {"changes": changes, "cursor": page.cursor, "has_more": page.has_more}


def _fallback(value: Any) -> Any:
    """What orjson does not encode itself, as FastAPI's encoder would (Decimal from a SQL sum, …)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return jsonable_encoder(value)


def json_page(content: dict[str, Any]) -> Response:
    """A page as JSON. FastAPI's generic encoder walked every value of a 1,000-change page in Python
    (~55 ms a page, most of the server's time in a first sync); orjson writes the same JSON in ~1 ms."""
    return Response(orjson.dumps(content, default=_fallback), media_type="application/json")


# The page is written by orjson (json_page), not validated against ChangesPage: the model is its schema.
@router.get("/v1/sync/changes", response_model=ChangesPage, responses=problem_responses(401, 422))
def changes(
    actor: CurrentActor,
    factory: Db,
    cursor: Annotated[
        str | None, Query(max_length=100, description="El `cursor` de la respuesta anterior.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """Everything of the account that changed after `cursor` (from the beginning without one)."""
    return json_page(db.run(factory, read_changes, actor, cursor or None, limit))


@router.get("/v1/sync/counts", responses=problem_responses(401))
def counts(actor: CurrentActor, factory: Db) -> dict[str, int]:
    """Cuántos registros de cada entidad ve la cuenta: el escritorio los compara con su caché
    después de sincronizar y la reconstruye si difieren."""
    from cmdesk.server.operations import sync_counts

    return db.run(factory, sync_counts.entity_counts, actor)


SNAPSHOT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "NDJSON: una línea de encabezado, las entidades, puntos de reanudación (`at`) y una línea "
            "`end` con el cursor del feed. Comprimido con zstd o gzip según `Accept-Encoding`."
        ),
        "content": {snapshot.MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    **problem_responses(401, 422),
}


def _cut_when_the_database_goes(body: Iterator[bytes]) -> Iterator[bytes]:
    """The snapshot's pieces after its header. The database lost in the middle (a restart, a
    failover) ends the stream there, without its `end` line: the client takes it as a cut line and
    resumes from the last point it stored. An expected fault, told as such; anything else is not."""
    try:
        yield from body
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        log.warning(
            "database connection lost in the middle of a snapshot (%s); the stream ends there and "
            "the client resumes it",
            type(exc).__name__,
        )


@router.get("/v1/sync/snapshot", response_class=Response, responses=SNAPSHOT_RESPONSES)
def sync_snapshot(
    actor: CurrentActor,
    factory: Db,
    request: Request,
    after: Annotated[
        str | None,
        Query(max_length=100, description="Reanudar después de este punto (`at` de un envío cortado)."),
    ] = None,
    only: Annotated[
        str | None,
        Query(max_length=200, description="Sólo estas entidades, separadas por comas."),
    ] = None,
) -> Response:
    """Todo lo sincronizado de la cuenta en un punto del feed, de una vez (primera sincronización)."""
    encoding = snapshot.choose_encoding(request.headers.get("accept-encoding"))
    body = snapshot.stream(
        factory.kw["bind"],
        actor.account_id,
        feed_loaders(),
        after=snapshot.parse_after(after),
        only=snapshot.parse_only(only),
        encoding=encoding,
        default=_fallback,
    )
    # The first piece (the header) is made here, so a database that fails answers a problem, not a
    # stream cut after its status line.
    first = next(body)
    rest = _cut_when_the_database_goes(body)
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    # `close` ends the snapshot's transaction at once when the client goes away mid-stream.
    return StreamingResponse(
        itertools.chain((first,), rest),
        media_type=snapshot.MEDIA_TYPE,
        headers=headers,
        background=BackgroundTask(body.close),
    )


CACHE_IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "La caché del escritorio de la cuenta, hecha por el servidor: una línea JSON de encabezado "
            "(esquema, cursor del feed, tamaños, entidades omitidas) y los dos archivos en un marco zstd."
        ),
        "content": {cache_images.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    },
    **problem_responses(401, 404, 422),
}


@router.get("/v1/sync/cache-image", response_class=Response, responses=CACHE_IMAGE_RESPONSES)
def sync_cache_image(
    actor: CurrentActor,
    factory: Db,
    settings: AppSettings,
    request: Request,
    schema: Annotated[int, Query(ge=1, le=10_000, description="Versión del esquema de la caché.")],
    search: Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9-]+$", description="Modo de búsqueda.")],
) -> Response:
    """La caché completa de la cuenta, lista para usarse (primera sincronización de cuentas grandes)."""
    builder: cache_images.Builder | None = request.app.state.cache_images
    if builder is None:
        raise DomainError(ErrorCode.NOT_FOUND, "Este servidor no prepara imágenes de la caché.")
    image, rebuild = db.run(
        factory,
        cache_images.choose,
        actor.account_id,
        builder.folder,
        schema=schema,
        search_mode=search,
        max_changes=settings.cache_image_max_changes,
        refresh_changes=settings.cache_image_refresh_changes,
        min_entities=settings.cache_image_min_entities,
        min_age=dt.timedelta(minutes=settings.cache_image_min_age_minutes),
    )
    if rebuild:
        builder.request(actor.account_id)
    if image is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "La cuenta no tiene una imagen de la caché lista: se usa la instantánea."
        )
    # A Range request resumes a cut download; If-Range (the ETag) makes sure it is the same image.
    return FileResponse(image.path, media_type=cache_images.MEDIA_TYPE, headers={"Cache-Control": "no-store"})
