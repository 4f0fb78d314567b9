"""The HTTP API v1 (API.md): thin FastAPI routers over the domain operations.

`ROUTERS` is the explicit list of router modules `create_app` includes; each module has a `router`
(`fastapi.APIRouter`) with full `/v1/...` paths. Add yours here.
"""

ROUTERS: list[str] = [
    "cmdesk.server.api.health",
    "cmdesk.server.api.auth",
    "cmdesk.server.api.sync",
    "cmdesk.server.api.clients",
    "cmdesk.server.api.ledger",
    "cmdesk.server.api.stamping",
    "cmdesk.server.api.distributors",
    "cmdesk.server.api.contracts",
    "cmdesk.server.api.public",
    "cmdesk.server.api.billing",
    "cmdesk.server.api.tools",
    "cmdesk.server.api.records",
    "cmdesk.server.api.software",
    "cmdesk.server.api.alerts",
    "cmdesk.server.api.access",
    "cmdesk.server.api.audit",
    "cmdesk.server.api.statements",
    "cmdesk.server.api.network",
]
