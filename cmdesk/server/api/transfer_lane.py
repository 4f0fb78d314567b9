"""The transfer lane: `POST /v1/transfers` answered before FastAPI's routing, on PostgreSQL.

The route in `cmdesk.server.api.ledger` is the reference (it documents the endpoint and serves SQLite,
the bulk and every unusual request). As for stamping (`consume_lane`), FastAPI's per-request work —
routing, solving dependencies (the bearer check is a database round trip of its own), validating the
body with pydantic — cost several times the fast path's one database call. This ASGI middleware takes
only the plain, well-formed requests — a JSON body exactly as `schemas.TransferIn` accepts it without
coercion (no control characters either), a valid `Idempotency-Key`, a bearer token this worker can
verify (`transfer_fast.authorize`), bitácora headers the route would take as they are — and hands
everything else to the route unchanged (the body is replayed), so the answers stay the route's. It
makes the bitácora's context as the route's `audit_scope` does (`deps.audit_context`), so the record
the fast path writes is the route's, device and reason included. A request the fast path sends to
the general path goes to the route marked so (`ledger.GENERAL_PATH_MARK`), which then skips the fast path.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cmdesk.domain.errors import DomainError
from cmdesk.server import audit
from cmdesk.server.api import errors
from cmdesk.server.api.consume_lane import _read_body, _replaying
from cmdesk.server.api.deps import (
    DEVICE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    AuthState,
    audit_context,
    optional_idempotency_key,
)
from cmdesk.server.api.ledger import GENERAL_PATH_MARK, fast_response
from cmdesk.server.api.strict import has_control
from cmdesk.server.transfer_fast import TRANSFERS_PATH, Caller, authorize

if TYPE_CHECKING:
    from cmdesk.server.transfer_fast import FastTransfer

# schemas.TransferIn's limits (API.md): a body outside them goes to the route, which answers 422.
ASSETS = ("stamps", "points")
TARGET_TYPES = ("account", "client", "stamping_account")
MAX_QUANTITY = 10**9
MAX_AMOUNT = 10**13
MAX_COMMENTS = 500
MAX_TARGET_ID = 64


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() != b"bearer":
                return None
            try:
                text = token.strip().decode("ascii")
            except UnicodeDecodeError:
                return None
            return text or None
    return None


def idempotency_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    values = [v for n, v in headers if n == b"idempotency-key"]
    if len(values) != 1:
        return None
    try:
        return optional_idempotency_key(values[0].decode("ascii"))
    except (DomainError, UnicodeDecodeError):
        return None


def audit_headers(scope: Scope) -> audit.AuditContext | None:
    """The bitácora's context of the request, as the route would bind it; None when the route would
    refuse its `X-Cmdesk-Device` / `X-Cmdesk-Reason` (or they are repeated): the route answers."""
    request = Request(scope)
    values = {}
    limits = (("x-cmdesk-device", 10 * DEVICE_MAX_LENGTH), ("x-cmdesk-reason", 12 * REASON_MAX_LENGTH))
    for name, limit in limits:
        found = request.headers.getlist(name)
        if len(found) > 1 or (found and len(found[0]) > limit):
            return None
        values[name] = found[0] if found else None
    try:
        return audit_context(request, TRANSFERS_PATH, values["x-cmdesk-device"], values["x-cmdesk-reason"])
    except DomainError:
        return None


def _text(value: Any, low: int, high: int) -> bool:
    # Any control character (C0, DEL, C1, a lone surrogate): the route answers (issue 15's 422).
    return isinstance(value, str) and low <= len(value) <= high and not has_control(value, body=False)


def _integer(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_transfer(headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any] | None:
    """The body as `TransferIn.model_dump(mode="json")` gives it (defaults filled), when the route
    would take it as is; None otherwise."""
    content_type = next((v for n, v in headers if n == b"content-type"), b"")
    if content_type.split(b";")[0].strip().lower() != b"application/json":
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not {"asset", "target", "quantity"} <= data.keys():
        return None
    if not data.keys() <= {"asset", "target", "quantity", "amount_cents", "comments", "no_charge"}:
        return None
    target = data["target"]
    if not isinstance(target, dict) or target.keys() != {"type", "id"}:
        return None
    item = {
        "asset": data["asset"],
        "target": {"type": target["type"], "id": target["id"]},
        "quantity": data["quantity"],
        "amount_cents": data.get("amount_cents", 0),
        "comments": data.get("comments", ""),
        "no_charge": data.get("no_charge"),
    }
    plain = (
        item["asset"] in ASSETS
        and target["type"] in TARGET_TYPES
        and _text(target["id"], 1, MAX_TARGET_ID)
        and _integer(item["quantity"], 1, MAX_QUANTITY)
        and _integer(item["amount_cents"], 0, MAX_AMOUNT)
        and _text(item["comments"], 0, MAX_COMMENTS)
        and (item["no_charge"] is None or isinstance(item["no_charge"], bool))  # 1, "true": the route
    )
    return item if plain else None


class TransferLane:
    def __init__(self, app: ASGIApp, *, fast: FastTransfer) -> None:
        self.app = app
        self.fast = fast
        self._loaded = False

    async def _signing_key(self, scope: Scope) -> bytes:
        state: AuthState = scope["app"].state.auth
        if not self._loaded:  # the first time, the key may be read from the database
            await run_in_threadpool(state.config)
            self._loaded = True
        return state.config().signing_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != TRANSFERS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        replay = _replaying(body, complete, receive)
        headers = scope["headers"]
        token = bearer_token(headers) if complete else None
        key = idempotency_key(headers) if token else None
        item = parse_transfer(headers, body) if key else None
        claims = (
            authorize(self.fast.tokens, await self._signing_key(scope), token) if item and token else None
        )
        context = audit_headers(scope) if claims is not None else None
        if claims is None or item is None or key is None or context is None:
            await self.app(scope, replay, send)
            return
        context.account_id, context.profile_id = claims.account_id, claims.profile_id
        caller = Caller(claims.account_id, claims.profile_id, claims.session_id)
        try:
            answer = await self.fast.transfer(caller, key, item, context)
        except DomainError as exc:
            await errors.problem_response(errors.domain_problem(exc))(scope, replay, send)
            return
        if answer is None:
            await self.app({**scope, GENERAL_PATH_MARK: True}, replay, send)
            return
        response: Response = fast_response(answer)
        await response(scope, replay, send)
