"""Request and answer models of the mail, access and renewal endpoints (`api/access.py`), mirroring
the dicts of `mail.queue`, `operations.access` and `operations.renewal` field by field."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from cmdesk.server.api.schemas_common import Mail, MailKind, MailStatus, RequestModel
from cmdesk.server.api.schemas_distributors import Account, Charge, Profile

Token = Annotated[str, Field(min_length=1, max_length=200, description="El token del enlace del correo.")]
Password = Annotated[str, Field(min_length=1, max_length=128)]


class MailList(BaseModel):
    items: list[Mail]
    next_cursor: str | None


class Invitation(BaseModel):
    id: str
    version: int
    account_id: str
    profile_id: str | None
    email: str
    mobile: str
    name: str
    status: Literal["sent", "accepted", "expired"]
    status_label: str = Field(description="Enviada, Aceptada o Vencida.")
    invited_by: str
    role: Literal["admin", "operator"] = Field(description="El rol que tendrá la persona al aceptar.")
    created_at: dt.datetime
    sent_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    mail: Mail | None = Field(description="El último correo de la invitación.")


# ---- public: password reset and invitations --------------------------------------------------------


class ResetRequestIn(RequestModel):
    login: Annotated[
        str, Field(min_length=1, max_length=254, description="Correo electrónico o número móvil.")
    ]


class ResetRequested(BaseModel):
    detail: str = Field(description="Siempre el mismo texto, exista o no el perfil.")


class ResetIn(RequestModel):
    token: Token
    password: Password


class ResetDone(BaseModel):
    profile: Profile


class AcceptInvitationIn(RequestModel):
    token: Token
    password: Password | None = Field(
        None, description="Obligatoria si la persona aún no tiene contraseña (perfil nuevo)."
    )
    name: Annotated[str | None, Field(max_length=200)] = None


class AccountRef(BaseModel):
    id: str
    nic: str
    name: str


class InvitationAccepted(BaseModel):
    profile: Profile
    account: AccountRef


# ---- renewal ----------------------------------------------------------------------------------------


class RenewalLine(BaseModel):
    kind: Literal["annual_fee", "renewal"]
    description: str
    amount_cents: int = Field(description="Con IVA, en centavos.")


class RenewalQuote(BaseModel):
    account_id: str
    status: str
    expires_at: dt.datetime
    days_left: int = Field(description="Días que faltan para el vencimiento (0 si ya venció).")
    warning: bool = Field(
        description="Verdadero desde 30 días antes del vencimiento: el aviso del encabezado."
    )
    can_renew: bool
    reason: str | None = Field(description="Por qué no puede renovarse ahora, si no puede.")
    renewable_from: dt.datetime
    new_expires_at: dt.datetime
    charges: list[RenewalLine]
    total_cents: int


class Renewed(BaseModel):
    account: Account
    charges: list[Charge]
    total_cents: int


# ---- demo mail viewer -------------------------------------------------------------------------------


class DemoMail(BaseModel):
    id: str
    kind: MailKind
    to: str
    subject: str
    status: MailStatus
    created_at: dt.datetime
    sent_at: dt.datetime | None
    file: str | None = Field(description="La ruta del archivo .eml, cuando ya se escribió.")


class DemoMailList(BaseModel):
    folder: str
    items: list[DemoMail]
    next_cursor: str | None


class DemoMailContent(DemoMail):
    text: str
    html: str
    links: list[str] = Field(description="Los enlaces del correo (el primero es el de su botón).")
