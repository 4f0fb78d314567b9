"""Signing in (API.md, Auth): `POST /v1/auth/token`, `/v1/auth/refresh`, `/v1/auth/logout`, `GET /v1/me`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.server import db
from cmdesk.server.api.deps import AuthConfigDep, ClientIp, CurrentActor, Db, LenientClaims
from cmdesk.server.api.schemas_common import RequestModel, problem_responses
from cmdesk.server.api.schemas_session import Me, Token
from cmdesk.server.operations import auth

router = APIRouter(tags=["auth"])

# Long enough for any real password, short enough to bound what an attacker makes Argon2 hash.
PASSWORD_MAX = 1024


class TokenRequest(RequestModel):
    login: Annotated[
        str, Field(min_length=1, max_length=254, description="Correo electrónico o número móvil.")
    ]
    password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]
    account_id: Annotated[
        str | None, Field(max_length=32, description="La cuenta con que entrar, si hay varias.")
    ] = None


class RefreshRequest(RequestModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class LogoutRequest(RequestModel):
    refresh_token: Annotated[str | None, Field(max_length=200)] = None


@router.post("/v1/auth/token", response_model=Token, responses=problem_responses(401, 403, 422, 429))
def token(body: TokenRequest, factory: Db, config: AuthConfigDep, ip: ClientIp) -> dict[str, Any]:
    return auth.sign_in(
        factory, config, login=body.login, password=body.password, account_id=body.account_id, client_ip=ip
    )


@router.post("/v1/auth/refresh", response_model=Token, responses=problem_responses(401, 403, 422))
def refresh(body: RefreshRequest, factory: Db, config: AuthConfigDep) -> dict[str, Any]:
    return auth.refresh(factory, config, refresh_token=body.refresh_token)


@router.post("/v1/auth/logout", status_code=204, response_class=Response, responses=problem_responses(401))
def logout(factory: Db, claims: LenientClaims, body: LogoutRequest | None = None) -> Response:
    """Ends the session of the bearer token, and/or the one of the given refresh token."""
    refresh_token = body.refresh_token if body else None
    if claims is None and not refresh_token:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "Indique la sesión que desea cerrar.")
    db.run(
        factory, auth.logout, refresh_token=refresh_token, session_id=claims.session_id if claims else None
    )
    return Response(status_code=204)


@router.get("/v1/me", response_model=Me, responses=problem_responses(401))
def me(actor: CurrentActor, factory: Db) -> dict[str, Any]:
    return db.run(factory, auth.me, actor)
