"""`GET /v1/health`: the server answers and its database too (503 problem when the database is down)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import text

from cmdesk.server.api.deps import Db, json_response
from cmdesk.server.api.errors import http_problem
from cmdesk.server.api.schemas_common import problem_responses

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/v1/health",
    responses={200: {"description": "Servidor y base de datos disponibles"}, **problem_responses(503)},
)
def health(factory: Db) -> Response:
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure of the database means "not healthy"
        log.warning("health check: the database does not answer (%s)", type(exc).__name__)
        body: dict[str, Any] = http_problem(503, "La base de datos no está disponible; intente más tarde.")
        body["database"] = "unavailable"
        return json_response(body, 503)
    return json_response({"status": "ok", "database": "ok"})
