"""The consume lane: `POST /v1/stamping/consume` answered before FastAPI's routing, on PostgreSQL.

The route in `cmdesk.server.api.stamping` is the reference (it documents the endpoint in the OpenAPI
schema and serves SQLite and every unusual request). On the busiest request of the system, FastAPI's
per-request work (matching ~70 routes, solving dependencies, validating the body with pydantic and the
answer with the response model) cost about as much CPU as the fast path's database call; this ASGI
middleware takes only the plain, well-formed requests — JSON body with exactly `emitter_rfc` and
`cfdi_uuid` as strings of the allowed lengths, HTTP Basic credentials that decode cleanly — and hands
everything else to the route unchanged (the body is replayed), so the answers stay the route's: the
same problem+json for a refusal (`errors.domain_problem`), the same JSON for a success. A request the
fast path sends to the general path (auto-sale CTIs) goes to the route marked so, which then skips
the fast path.
"""

from __future__ import annotations

import binascii
import json
from base64 import b64decode
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cmdesk.domain.errors import DomainError
from cmdesk.server.api import errors
from cmdesk.server.api.strict import has_control

if TYPE_CHECKING:
    from cmdesk.server.security import CredentialCache
    from cmdesk.server.stamping_fast import FastConsume
    from cmdesk.server.throttle import Guard

PATH = "/v1/stamping/consume"
GENERAL_PATH_MARK = "cmdesk.consume_general"
MAX_BODY = 4096
# schemas.ConsumeIn's limits: a request outside them goes to the route, which answers 422.
FIELDS = {"emitter_rfc": 20, "cfdi_uuid": 40}


def parse_credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, param = value.partition(b" ")
            if scheme.lower() != b"basic":
                return None
            try:
                data = b64decode(param.strip(), validate=True).decode("ascii")
            except (ValueError, UnicodeDecodeError, binascii.Error):
                return None
            username, separator, password = data.partition(":")
            if not (separator and username) or has_control(data, body=False):
                return None  # the route answers (422 for control characters)
            return username, password
    return None


def parse_body(headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[str, str] | None:
    """(emitter_rfc, cfdi_uuid) of a body the route would accept as is; None otherwise."""
    content_type = next((v for n, v in headers if n == b"content-type"), b"")
    if content_type.split(b";")[0].strip().lower() != b"application/json":
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.keys() != FIELDS.keys():
        return None
    rfc, uuid = data["emitter_rfc"], data["cfdi_uuid"]
    for value, limit in ((rfc, FIELDS["emitter_rfc"]), (uuid, FIELDS["cfdi_uuid"])):
        if not isinstance(value, str) or not 1 <= len(value) <= limit or has_control(value):
            return None
    return rfc, uuid


class ConsumeLane:
    def __init__(self, app: ASGIApp, *, fast: FastConsume, cache: CredentialCache, guard: Guard) -> None:
        self.app = app
        self.fast = fast
        self.cache = cache
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        replay = _replaying(body, complete, receive)
        headers = scope["headers"]
        credentials = parse_credentials(headers) if complete else None
        fields = parse_body(headers, body) if credentials is not None else None
        if credentials is None or fields is None:
            await self.app(scope, replay, send)
            return
        try:
            client = scope.get("client")
            answer = await self.fast.consume(
                self.cache, *credentials, *fields, guard=self.guard, source=client[0] if client else ""
            )
        except DomainError as exc:
            await errors.problem_response(errors.domain_problem(exc))(scope, replay, send)
            return
        if answer is None:
            await self.app({**scope, GENERAL_PATH_MARK: True}, replay, send)
            return
        await JSONResponse(answer)(scope, replay, send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, up to MAX_BODY bytes; `complete` is False when more was left unread."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A `receive` that hands out what was read, then goes on with the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": not complete}
            return message
        return await receive()

    return replay
