"""Strict input, for every route at once: no control characters anywhere, and a bound on body size.

Control characters (NUL among them) mean nothing in any field of this API, and some break the database
(PostgreSQL refuses NUL in text; a lone UTF-16 surrogate cannot be encoded): they are refused with 422
`validation_error` before anything reaches an operation, in two places that cover everything:

- `StrictInput`, an ASGI middleware in front of the app: the path (path parameters included), every
  query parameter (name and value) and every header, with no exception; and the body size
  (`Content-Length` over the limit, or a longer chunked body: 413 `payload_too_large`).
- `schemas_common.RequestModel`, the base of every request body: every string of every field, nested
  ones included (`check_text`); in bodies TAB, LF and CR are allowed (multi-line comments).

Values taken from headers by the routes themselves (HTTP Basic credentials of the stamping endpoint,
decoded from base64) are checked with `check_header_value`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cmdesk.domain.errors import FieldError

# C0 controls but TAB, LF, CR; DEL; C1 controls; lone surrogates (never valid in UTF-8 text).
_BODY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Anywhere outside a body: every control character.
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_HEADER_CONTROL = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")

CONTROL_MESSAGE = "No se admiten caracteres de control (como NUL o saltos de página) en este campo."


def has_control(value: str, *, body: bool = True) -> bool:
    return (_BODY_CONTROL if body else _ANY_CONTROL).search(value) is not None


def check_text(value: Any) -> Any:
    """`value` unchanged when no string inside it (dict keys included) has a control character;
    otherwise ValueError with the Spanish message (pydantic turns it into a 422 on the field)."""
    if isinstance(value, str):
        if _BODY_CONTROL.search(value):
            raise ValueError(CONTROL_MESSAGE)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_text(item)
    return value


def check_header_value(value: str) -> bool:
    """True when a value a route decoded from a header has no control character."""
    return _ANY_CONTROL.search(value) is None


def _query_errors(query_string: bytes) -> list[FieldError]:
    if not query_string:
        return []
    errors: list[FieldError] = []
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if _ANY_CONTROL.search(name) or _ANY_CONTROL.search(value):
            field = name if not _ANY_CONTROL.search(name) else "query"
            errors.append(FieldError(field, CONTROL_MESSAGE))
    return errors


def _header_errors(headers: Iterable[tuple[bytes, bytes]]) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, value in headers:
        if _HEADER_CONTROL.search(value) or _HEADER_CONTROL.search(name):
            pretty = "-".join(w.capitalize() for w in name.decode("latin-1").split("-"))
            errors.append(
                FieldError(pretty if not _HEADER_CONTROL.search(name) else "headers", CONTROL_MESSAGE)
            )
    return errors


class StrictInput:
    """Refuse control characters in the path, the query and the headers (422), and bodies over
    `max_body` bytes (413), before the request reaches the app."""

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors: list[FieldError] = []
        if _ANY_CONTROL.search(scope["path"]):
            errors.append(FieldError("path", CONTROL_MESSAGE))
        errors += _query_errors(scope.get("query_string", b""))
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        errors += _header_errors(headers)
        if errors:
            await _problem(scope, receive, send, errors)
            return
        length = next((v for n, v in headers if n == b"content-length"), None)
        if length is not None:
            if not length.isdigit() or int(length) > self.max_body:
                await _too_large(scope, receive, send, self.max_body)
                return
            await self.app(scope, receive, send)
            return
        if not any(n == b"transfer-encoding" for n, _ in headers):
            await self.app(scope, receive, send)
            return
        # A chunked body of unknown size: read it up to the limit first.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _too_large(scope, receive, send, self.max_body)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _problem(scope: Scope, receive: Receive, send: Send, errors: list[FieldError]) -> None:
    from cmdesk.server.api.errors import problem_response, validation_body

    await problem_response(validation_body(errors))(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    from cmdesk.server.api.errors import http_problem, problem_response

    detail = f"El cuerpo de la solicitud es demasiado grande (máximo {limit:,} bytes)."
    response = problem_response(http_problem(413, detail))
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
