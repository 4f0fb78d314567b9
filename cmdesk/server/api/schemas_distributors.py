"""Request and answer models of sub-distributors, contracts, MKL licenses, the statement, the unlimited
CTI fee and the public self-registration (API.md, "The rest of the portal").

The answers mirror the dicts of `operations.distributors`, `operations.contracts` and
`operations.unlimited` field by field, so the OpenAPI document says exactly what is sent. The rules
(lengths of company fields, RFC, phones, e-mail) are checked by the operations, with one Spanish message
per field; the bounds here only keep absurd input away from them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from cmdesk.domain.unlimited import MAX_YEARS
from cmdesk.server.api import schemas
from cmdesk.server.api.schemas_common import Mail, RequestModel
from cmdesk.server.operations.contracts import MAX_LICENSES_PER_REQUEST

StatusName = Literal["unvalidated", "inactive", "active", "suspended", "cancelled", "expired"]
Text = Annotated[str, Field(max_length=254)]
Email = Annotated[str, Field(max_length=254, description="Correo electrónico del administrador.")]
Mobile = Annotated[str, Field(max_length=30, description="Número móvil del administrador (10 dígitos).")]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Password = Annotated[str, Field(max_length=128)]

# ---- Sub-distributors -----------------------------------------------------------------------------


class CompanyFields(RequestModel):
    """The company data of the manual's form, flat as the operations check them (errors name these
    fields)."""

    rfc: Annotated[str, Field(max_length=20)]
    name: Annotated[str, Field(max_length=254, description="Empresa (razón social).")]
    phone: Annotated[str, Field(max_length=30)] = ""
    profile_name: Annotated[str, Field(max_length=200, description="Nombre del administrador.")] = ""
    trade_name: Text = ""
    state: Text = ""
    city: Text = ""
    postal_code: Annotated[str, Field(max_length=10)] = ""
    neighborhood: Text = ""
    street: Text = ""
    exterior_number: Text = ""
    interior_number: Text = ""
    business_activity: Text = Field("", description="¿A qué se dedica su empresa?")
    comments: Annotated[str, Field(max_length=2000)] = ""


class DistributorCreate(CompanyFields):
    email: Email
    mobile: Mobile


class ConvertIn(RequestModel):
    email: Email
    mobile: Mobile
    profile_name: Annotated[str, Field(max_length=200, description="Nombre del administrador.")] = ""


class DistributorAddress(BaseModel):
    state: str
    city: str
    postal_code: str
    neighborhood: str
    street: str
    exterior_number: str
    interior_number: str


class DistributorAdmin(BaseModel):
    id: str
    name: str
    email: str
    mobile: str
    email_confirmed: bool


class Account(BaseModel):
    """A distributor account as the API shows it (`operations.accounts.account_view`): the signed-in
    one (`/v1/auth/token`, `/v1/me`), and the base of a sub-distributor's view."""

    id: str
    nic: str
    version: int
    parent_id: str | None = Field(description="La cuenta del distribuidor padre; null en la raíz.")
    status: StatusName
    name: str
    trade_name: str
    rfc: str
    email: str
    phone: str
    address: DistributorAddress
    business_activity: str
    comments: str
    balances: schemas.Balances
    created_at: dt.datetime
    expires_at: dt.datetime
    activated_at: dt.datetime | None
    cancelled_at: dt.datetime | None


class Distributor(Account):
    status_label: str = Field(description="El estado como lo nombra el portal (Sin validar, Activo...).")
    purge_at: dt.datetime | None = Field(
        description="Fin de los 30 días en que una cuenta cancelada puede reactivarse."
    )
    source_client_id: str | None
    referred_by_nic: str | None
    admin_profile: DistributorAdmin | None
    confirmation_mail: Mail | None = Field(
        description="El último correo de confirmación enviado a su administrador: cuándo salió, o por qué no."
    )


class DistributorList(BaseModel):
    items: list[Distributor]
    next_cursor: str | None


class Profile(BaseModel):
    id: str
    version: int
    name: str
    email: str
    mobile: str
    email_confirmed: bool
    created_at: dt.datetime


class DistributorCreated(BaseModel):
    distributor: Distributor
    profile: Profile
    confirmation_sent: bool = Field(
        description="Verdadero si se envió al administrador el correo con el enlace de confirmación "
        "(perfil nuevo o sin confirmar); el enlace nunca viaja en esta respuesta."
    )


class DistributorConverted(DistributorCreated):
    client_id: str


class ConfirmationResent(BaseModel):
    distributor: Distributor
    confirmation_sent: bool


class Charge(BaseModel):
    id: str
    version: int
    kind: Literal["purchase", "contract", "annual_fee", "renewal"]
    description: str
    amount_cents: int = Field(description="Importe con IVA, en centavos.")
    paid_with_points: bool
    movement_id: str | None
    contract_id: str | None
    created_at: dt.datetime
    created_by: str


class ChargeList(BaseModel):
    items: list[Charge]
    next_cursor: str | None


class DistributorRenewed(Distributor):
    charges: list[Charge] = Field(
        description="Los cargos de la renovación al estado de cuenta del distribuidor."
    )


# ---- Contracts and licenses -----------------------------------------------------------------------

ContractKindName = Literal["mkl", "subscription"]


class QuoteIn(RequestModel):
    code: Annotated[str, Field(min_length=1, max_length=40, description="Clave del MKL o suscripción.")]


class ContractIn(QuoteIn):
    pay_with_points: bool = Field(False, description="Pagar con puntos (1 punto = 1 peso con IVA).")


class Quote(BaseModel):
    code: str
    kind: ContractKindName
    name: str
    annual_price_before_tax_cents: int
    months_remaining: int
    amount_before_tax_cents: int
    iva_cents: int
    amount_cents: int
    points_required: int
    expires_at: dt.datetime


class Contract(BaseModel):
    id: str
    version: int
    code: str
    name: str
    kind: ContractKindName
    status: Literal["active", "cancelled"]
    auto_renew: bool
    started_at: dt.datetime
    expires_at: dt.datetime
    first_charge_cents: int
    months_charged: int
    paid_with_points: bool
    created_by: str


class ContractList(BaseModel):
    items: list[Contract]
    next_cursor: str | None


class ContractCreated(BaseModel):
    contract: Contract
    charge: Charge
    movement: schemas.Movement | None = Field(description="El pago con puntos, si se pagó con ellos.")
    points_spent: int


class LicenseIn(RequestModel):
    client_id: Id
    product_code: Annotated[str, Field(min_length=1, max_length=40)]
    count: Annotated[int, Field(ge=1, le=MAX_LICENSES_PER_REQUEST)] = 1


class License(BaseModel):
    id: str
    version: int
    client_id: str
    contract_id: str
    product_code: str
    license_key: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    created_at: dt.datetime
    created_by: str


class LicenseList(BaseModel):
    items: list[License]
    next_cursor: str | None


class UnlimitedFeeIn(RequestModel):
    payer: Literal["client", "account"] = Field(
        description="Quién paga con sus puntos: el cliente dueño de la CTI o la Cuenta Maestra."
    )
    years: Annotated[int, Field(ge=1, le=MAX_YEARS)] = 1


class UnlimitedFeePaid(BaseModel):
    stamping_account: schemas.StampingAccountPublic
    paid_until: dt.datetime
    points_spent: int
    movement: schemas.Movement | None


# ---- Public self-registration ---------------------------------------------------------------------


class RegistrationIn(CompanyFields):
    referrer_nic: Annotated[
        str, Field(min_length=1, max_length=12, description="NIC del distribuidor que invita.")
    ]
    email: Email
    mobile: Mobile
    password: Password


class Registration(BaseModel):
    """The same answer whether or not the e-mail or the mobile already belong to a profile."""

    email: str
    detail: str
    confirmation_sent: bool = Field(
        description="Siempre verdadero: el enlace de confirmación (o, si el correo o el móvil ya tienen "
        "perfil, la explicación) llega por correo."
    )


class ConfirmIn(RequestModel):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    password: Password | None = Field(
        None, description="La contraseña del perfil; obligatoria si el perfil aún no tiene una."
    )


class Confirmation(BaseModel):
    profile: Profile
    confirmed_account_ids: list[str]
