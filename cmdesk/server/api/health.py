"""`GET /v1/health`: the server answers and its database too (503 problem when the database is down).

Its answer also tells what a desktop negotiates with (cmdesk.domain.compat): the server's clock
(`server_time`, the authority for every date that matters), its release, its API level and the oldest
desktop it serves in full."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text

import cmdesk
from cmdesk.domain import compat
from cmdesk.models import utcnow
from cmdesk.server import db
from cmdesk.server.api.deps import Db, json_response
from cmdesk.server.api.errors import http_problem
from cmdesk.server.api.schemas_common import problem_responses

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/v1/health",
    responses={200: {"description": "Servidor y base de datos disponibles"}, **problem_responses(503)},
)
def health(factory: Db, request: Request) -> Response:
    try:
        # Through db.run: a connection a database restart left dead is replaced, not reported.
        db.run(factory, lambda session: session.execute(text("SELECT 1")))
    except Exception as exc:  # any failure of the database means "not healthy"
        log.warning("health check: the database does not answer (%s)", type(exc).__name__)
        body: dict[str, Any] = http_problem(503, "La base de datos no está disponible; intente más tarde.")
        body["database"] = "unavailable"
        return json_response(body, 503)
    settings = request.app.state.settings
    return json_response(
        {
            "status": "ok",
            "database": "ok",
            "server_time": utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "server_version": cmdesk.__version__,
            "api_version": compat.API_LEVEL,
            "min_desktop_version": getattr(settings, "min_desktop_version", "") or None,
        }
    )
