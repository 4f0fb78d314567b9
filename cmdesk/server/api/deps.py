"""FastAPI dependencies as `Annotated` aliases, and the helpers routers share.

@router.post("/v1/transfers", status_code=201)
def create_transfer(body: TransferIn, actor: CurrentActor, factory: Db, key: IdempotencyKey,
                    request: Request) -> Response:
    return idempotent_call(request, factory, scope=actor.account_id, key=key, body=body,
                           fn=lambda s: ledger.transfer(s, actor, ...))

@router.get("/v1/clients")
def list_clients(actor: CurrentActor, factory: Db, page: Pagination) -> dict[str, Any]:
    items, next_cursor = db.run(factory, clients.list_clients, actor, limit=page.limit, cursor=page.cursor)
    return list_answer(items, next_cursor)
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.server import audit, db, idempotency, security
from cmdesk.server.api.errors import problem_response
from cmdesk.server.api.strict import has_control
from cmdesk.server.operations import auth
from cmdesk.server.operations.context import Actor
from cmdesk.server.settings import Settings

# ---------------------------------------------------------------------------------------------------
# Application state


class AuthState:
    """The auth configuration of one app. The signing key comes from the settings or, when none is
    configured, from the database; it is read once, on first use, so creating the app needs no
    database."""

    def __init__(self, settings: Settings, factory: db.SessionFactory) -> None:
        self._settings = settings
        self._factory = factory
        self._config: auth.AuthConfig | None = None
        self._lock = threading.Lock()

    def config(self) -> auth.AuthConfig:
        if self._config is None:
            with self._lock:
                if self._config is None:
                    s = self._settings
                    secret = (
                        s.secret_key.get_secret_value()
                        if s.secret_key
                        else auth.load_signing_secret(self._factory)
                    )
                    self._config = auth.AuthConfig(
                        signing_key=auth.signing_key(secret),
                        access_token_lifetime=dt.timedelta(minutes=s.access_token_minutes),
                        refresh_token_lifetime=dt.timedelta(days=s.refresh_token_days),
                        throttle=s.throttle_policy(s.login_attempts_per_minute),
                    )
        return self._config

    def override(self, config: auth.AuthConfig) -> None:
        """Replace the configuration (tests: short token lifetimes)."""
        self._config = config


# Plain attribute reads are `async def`: FastAPI runs a sync dependency in a worker thread, a hop
# that costs more than the read itself on every request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_factory(request: Request) -> db.SessionFactory:
    factory: db.SessionFactory = request.app.state.session_factory
    return factory


def get_auth_config(request: Request) -> auth.AuthConfig:
    state: AuthState = request.app.state.auth
    return state.config()


async def get_credential_cache(request: Request) -> security.CredentialCache:
    cache: security.CredentialCache = request.app.state.credential_cache
    return cache


AppSettings = Annotated[Settings, Depends(get_settings)]
Credentials = Annotated[security.CredentialCache, Depends(get_credential_cache)]
Db = Annotated[db.SessionFactory, Depends(get_factory)]
AuthConfigDep = Annotated[auth.AuthConfig, Depends(get_auth_config)]


def client_ip(request: Request) -> str:
    """The caller's address (behind a proxy, run uvicorn with --proxy-headers so this is the real one)."""
    return request.client.host if request.client else ""


ClientIp = Annotated[str, Depends(client_ip)]

# ---------------------------------------------------------------------------------------------------
# Bearer authentication

_bearer = HTTPBearer(auto_error=False, description="Token de acceso de `POST /v1/auth/token`.")


def _unauthenticated() -> DomainError:
    return DomainError(ErrorCode.INVALID_CREDENTIALS, "Inicie sesión para continuar.")


def current_claims(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], config: AuthConfigDep
) -> security.AccessClaims:
    """The claims of the request's access token (signature and expiry checked; no database)."""
    if credentials is None or not credentials.credentials:
        raise _unauthenticated()
    return security.read_access_token(config.signing_key, credentials.credentials)


def lenient_claims(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], config: AuthConfigDep
) -> security.AccessClaims | None:
    """The claims of a token this server signed, even expired (logout), or None without a token."""
    if credentials is None or not credentials.credentials:
        return None
    return security.read_access_token(config.signing_key, credentials.credentials, allow_expired=True)


CurrentClaims = Annotated[security.AccessClaims, Depends(current_claims)]
LenientClaims = Annotated[security.AccessClaims | None, Depends(lenient_claims)]


# What an expired (Vencido) account may still do besides signing out and refreshing its session: read
# its own state, statement, contracts and prices — what renewing needs. Everything else answers 403
# `account_blocked` until it is renewed.
EXPIRED_ALLOWED = {
    ("GET", "/v1/me"),
    ("GET", "/v1/charges"),
    ("GET", "/v1/contracts"),
    ("GET", "/v1/catalog"),
}


def current_access(claims: CurrentClaims, factory: Db, request: Request) -> auth.Access:
    """The token's access, checked against the database on every request (one query): open session,
    membership, and the account's state — a suspension or cancellation stops every token at once."""
    access = db.run(factory, auth.authenticate, claims)
    if access.expired:
        route = request.scope.get("route")
        if (request.method, getattr(route, "path", "")) not in EXPIRED_ALLOWED:
            raise auth.expired_account()
    return access


CurrentAccess = Annotated[auth.Access, Depends(current_access)]


async def current_actor(access: CurrentAccess) -> Actor:
    """Who acts: the token's profile for the token's account, if its session is still open and the
    account may act."""
    actor = access.actor
    audit.set_actor(actor.account_id, actor.profile_id)  # the bitácora's "who" (see audit_scope)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]

# ---------------------------------------------------------------------------------------------------
# Headers: Idempotency-Key and If-Match

_KEY_RE = re.compile(rf"[\x21-\x7e]{{1,{idempotency.KEY_MAX_LENGTH}}}")


def _check_key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not _KEY_RE.fullmatch(key):
        raise validation_error(
            {
                "Idempotency-Key": "La clave de idempotencia debe tener de 1 a "
                f"{idempotency.KEY_MAX_LENGTH} caracteres ASCII visibles (por ejemplo un UUID)."
            }
        )
    return key


def require_idempotency_key(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str:
    key = _check_key(idempotency_key)
    if key is None:
        raise validation_error(
            {
                "Idempotency-Key": "Esta operación requiere el encabezado Idempotency-Key "
                "(por ejemplo un UUID nuevo)."
            }
        )
    return key


def optional_idempotency_key(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str | None:
    return _check_key(idempotency_key)


IdempotencyKey = Annotated[str, Depends(require_idempotency_key)]
OptionalIdempotencyKey = Annotated[str | None, Depends(optional_idempotency_key)]

_IF_MATCH_RE = re.compile(r'\s*(?:W/)?"?\s*(\d{1,18})\s*"?\s*')


def if_match_version(if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> int | None:
    """The version a PATCH was based on (`If-Match: 3`, `"3"` or `W/"3"`), or None when not sent."""
    if if_match is None or not if_match.strip() or if_match.strip() == "*":
        return None
    match = _IF_MATCH_RE.fullmatch(if_match)
    if match is None:
        raise validation_error({"If-Match": "If-Match debe ser la versión del registro, un número entero."})
    return int(match.group(1))


IfMatch = Annotated[int | None, Depends(if_match_version)]

# ---------------------------------------------------------------------------------------------------
# The audit context (bitácora): X-Cmdesk-Device and X-Cmdesk-Reason

DEVICE_MAX_LENGTH = 200
REASON_MAX_LENGTH = 500


def _header_text(name: str, value: str | None, limit: int, *, truncate: bool) -> str:
    """A percent-encoded UTF-8 header value as text (plain ASCII passes as it is)."""
    if not value:
        return ""
    from urllib.parse import unquote

    try:
        text = unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise validation_error({name: f"{name} debe ser texto UTF-8 codificado con %XX."}) from None
    text = " ".join(text.split())  # no control characters nor line breaks in the log
    if len(text) > limit:
        if not truncate:
            raise validation_error({name: f"{name} admite como máximo {limit} caracteres."})
        text = text[:limit]
    return text


async def audit_scope(
    request: Request,
    device: Annotated[
        str | None,
        Header(
            alias="X-Cmdesk-Device",
            max_length=10 * DEVICE_MAX_LENGTH,
            description="El equipo que hace la operación (bitácora), p. ej. `cmdesk/1.4 (OFICINA-2; 5f1c…)`: "
            "UTF-8 codificado con %XX. Sin él se anota el User-Agent.",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        Header(
            alias="X-Cmdesk-Reason",
            max_length=12 * REASON_MAX_LENGTH,
            description="El motivo que dio el usuario (bitácora), hasta 500 caracteres: UTF-8 codificado "
            "con %XX. Sólo en operaciones que modifican.",
        ),
    ] = None,
) -> None:
    """Bind the bitácora's context for a mutating request (every router gets this dependency, see
    `create_app`); `current_actor` then names who acts. Reads and exempt routes bind nothing."""
    route = request.scope.get("route")
    path: str = getattr(route, "path", "") or request.url.path
    endpoint = request.scope.get("endpoint")
    audit.bind(audit_context(request, path, device, reason, getattr(endpoint, "__name__", "")))


def audit_context(
    request: Request, path: str, device: str | None, reason: str | None, endpoint: str = ""
) -> audit.AuditContext | None:
    """The bitácora's context of a request to the route `path` (None: not audited); the transfer lane
    makes it here too. A reason not as the API takes it raises the 422 the route answers."""
    method = request.method
    if not audit.audited(method, path):
        return None
    action = audit.route_action(method, path, endpoint)
    return audit.AuditContext(
        action=action.action,
        label=action.label,
        entity=action.entity,
        method=method,
        route=path,
        device=_header_text("X-Cmdesk-Device", device, DEVICE_MAX_LENGTH, truncate=True)
        or request.headers.get("user-agent", "")[:DEVICE_MAX_LENGTH],
        ip=client_ip(request),
        reason=_header_text("X-Cmdesk-Reason", reason, REASON_MAX_LENGTH, truncate=False),
    )


# ---------------------------------------------------------------------------------------------------
# Lists

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    limit: int
    cursor: str | None


def pagination(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Cuántos elementos (1 a 1000).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=500, description="El `next_cursor` de la página anterior.")
    ] = None,
) -> Page:
    return Page(limit=limit, cursor=cursor or None)


Pagination = Annotated[Page, Depends(pagination)]


def list_answer(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    """The shape of every list: `{"items": [...], "next_cursor": "..." | null}`."""
    return {"items": items, "next_cursor": next_cursor}


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for keyset paging (e.g. the last row's sort value and id)."""
    raw = json.dumps(to_jsonable_python(values), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The values of `encode_cursor`, or 422 on field `cursor` when it was not one of ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != size or not all(map(_cursor_value_ok, values)):
        raise validation_error(
            {"cursor": "El cursor no es válido; vuelva a pedir la lista desde el principio."}
        )
    return values


# The values `encode_cursor` writes: offsets and ids/ISO times. Anything else (a float, an integer no
# column can hold, a control character) was not written by this server and would only reach the
# database as an error.
CURSOR_INT_MAX = 2**53


def _cursor_value_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= CURSOR_INT_MAX
    if isinstance(value, str):
        return len(value) <= 100 and not has_control(value, body=False)
    return False


def decode_time_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """A keyset cursor of (UTC time, id), as `encode_cursor([time.isoformat(), id])` wrote it."""
    created, ident = decode_cursor(cursor, 2)
    try:
        when = dt.datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when.astimezone(dt.UTC), ident
    except (TypeError, ValueError, OverflowError):
        raise validation_error(
            {"cursor": "El cursor no es válido; vuelva a pedir la lista desde el principio."}
        ) from None


def keyset_after(page: Page) -> tuple[dt.datetime, str] | None:
    """Where a list ordered by (created_at, id), newest first, goes on: the cursor's last row."""
    if not page.cursor:
        return None
    return decode_time_cursor(page.cursor)


def keyset_answer(items: list[dict[str, Any]], page: Page) -> dict[str, Any]:
    """The answer of a keyset page fetched with `limit + 1` rows: the extra one says there is more."""
    if len(items) <= page.limit:
        return list_answer(items, None)
    items = items[: page.limit]
    return list_answer(items, encode_cursor([items[-1]["created_at"].isoformat(), items[-1]["id"]]))


# ---------------------------------------------------------------------------------------------------
# Answers


def json_response(body: Any, status_code: int = 200) -> Response:
    """A JSON (or problem+json, for statuses ≥ 400) answer with times written as ISO 8601 `Z`."""
    content = to_jsonable_python(body, fallback=str)
    if status_code >= 400 and isinstance(content, dict):
        return problem_response({**content, "status": status_code})
    return JSONResponse(content, status_code=status_code)


def idempotent_call(
    request: Request,
    factory: db.SessionFactory,
    *,
    scope: str,
    key: str | None,
    body: BaseModel | dict[str, Any] | list[Any] | None,
    fn: Callable[[Session], Any],
    status_code: int = 201,
) -> Response:
    """Run `fn(session)` (an operation returning the answer body) once per `Idempotency-Key`.

    Without a key (a POST where the key is optional) it simply runs in one transaction. With one, the
    same key and body replay the first answer (success or rejection) and a different body is 409.
    """
    if key is None:
        return json_response(db.run(factory, fn), status_code)
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    settings: Settings = request.app.state.settings
    status, answer = idempotency.idempotent(
        factory,
        scope=scope,
        key=key,
        method=request.method,
        path=request.url.path,
        body=payload,
        fn=lambda session: (status_code, fn(session)),
        retention_days=settings.idempotency_retention_days,
    )
    return json_response(answer, status)
