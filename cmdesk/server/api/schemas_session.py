"""The answers every client needs first: signing in (`POST /v1/auth/token`, `/v1/auth/refresh`), who is
signed in (`GET /v1/me`) and the change feed (`GET /v1/sync/changes`), declared so that a client
generated from `/openapi.json` gets typed objects (tests/server/api/test_generated_client.py).

The operations still return plain dicts (`operations.accounts.account_view`, `operations.auth.me`,
`api.sync.read_changes`); these models name the same fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from cmdesk.server.api.schemas import Balances
from cmdesk.server.api.schemas_distributors import Account, Profile, StatusName

RoleName = Literal["master", "admin", "operator"]


class AccountChoice(BaseModel):
    """One of the accounts the profile may enter (`account_id` of the token request)."""

    id: str
    nic: str
    name: str
    status: StatusName
    role: RoleName


class Token(BaseModel):
    access_token: str
    refresh_token: str = Field(description="Se usa una sola vez: `/v1/auth/refresh` entrega otro.")
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Segundos de vida del `access_token`.")
    account: Account
    role: RoleName = Field(description="El rol del perfil en `account` (lo que el escritorio muestra).")
    accounts: list[AccountChoice]


class Me(BaseModel):
    profile: Profile
    account: Account
    role: RoleName
    balances: Balances


class Change(BaseModel):
    entity: str = Field(examples=["client", "stamping_account", "movement"])
    id: str
    version: int | None
    deleted: bool
    data: dict[str, Any] | None = Field(
        description="La entidad como la devuelve su propio GET; null si se borró (o ya no es visible)."
    )


class ChangesPage(BaseModel):
    changes: list[Change]
    cursor: str = Field(description="Se envía en la siguiente petición para seguir desde aquí.")
    has_more: bool
