"""Request and answer models of the fixed part of API.md: clients, stamping accounts, the ledger and
stamping. Field names are the contract's; answers are validated against these models, so the OpenAPI
document says exactly what is sent."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from cmdesk.server.api.schemas_common import RequestModel

ColorName = Literal["red", "orange", "yellow", "green", "blue", "purple", "gray"]
Text = Annotated[str, Field(max_length=500)]
ShortText = Annotated[str, Field(max_length=254)]
Cents = Annotated[int, Field(ge=0, le=10**13)]
Quantity = Annotated[int, Field(gt=0, le=10**9)]

# ---- Clients --------------------------------------------------------------------------------------


class AddressIn(RequestModel):
    state: ShortText | None = None
    city: ShortText | None = None
    postal_code: ShortText | None = None
    neighborhood: ShortText | None = None
    street: ShortText | None = None
    exterior_number: ShortText | None = None
    interior_number: ShortText | None = None
    reference: ShortText | None = None


class LegalRepresentativeIn(RequestModel):
    person_type: Literal["fisica", "moral"] | None = None
    name: ShortText | None = None
    position: ShortText | None = None
    email: ShortText | None = None
    phone: ShortText | None = None
    phone_alt: ShortText | None = None
    curp: ShortText | None = None


class ContactIn(RequestModel):
    name: ShortText | None = None
    position: ShortText | None = None
    email: ShortText | None = None
    phone: ShortText | None = None
    phone_alt: ShortText | None = None


class OtherIn(RequestModel):
    bulk_stamp_price_cents: Cents | None = None
    discount_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    credit_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    fax: ShortText | None = None
    client_type: ShortText | None = None
    business_activity: ShortText | None = None
    comments: Annotated[str, Field(max_length=5000)] | None = None


class ClientFields(RequestModel):
    trade_name: ShortText | None = None
    phone: ShortText | None = None
    email: ShortText | None = None
    address: AddressIn | None = None
    legal_representative: LegalRepresentativeIn | None = None
    financial_contact: ContactIn | None = None
    technical_contact: ContactIn | None = None
    other: OtherIn | None = None
    favorite: bool | None = None
    dropped: bool | None = None
    color: ColorName | None = None


class ClientCreate(ClientFields):
    name: ShortText
    rfc: Annotated[str, Field(max_length=20)]


class ClientUpdate(ClientFields):
    name: ShortText | None = None
    rfc: Annotated[str, Field(max_length=20)] | None = None


class AdminProfileIn(RequestModel):
    email: ShortText
    mobile: Annotated[str, Field(max_length=30)]


class TagsIn(RequestModel):
    client_ids: Annotated[list[Annotated[str, Field(max_length=32)]], Field(min_length=1, max_length=5000)]
    favorite: bool | None = None
    dropped: bool | None = None
    color: ColorName | Literal["none"] | None = Field(
        None, description="Un color, «none» para quitarlo, u omitido."
    )


class Address(BaseModel):
    state: str
    city: str
    postal_code: str
    neighborhood: str
    street: str
    exterior_number: str
    interior_number: str
    reference: str


class LegalRepresentative(BaseModel):
    person_type: str
    name: str
    position: str
    email: str
    phone: str
    phone_alt: str
    curp: str


class Contact(BaseModel):
    name: str
    position: str
    email: str
    phone: str
    phone_alt: str


class Other(BaseModel):
    bulk_stamp_price_cents: int | None
    discount_percent: int
    credit_days: int
    fax: str
    client_type: str
    business_activity: str
    comments: str


class Balances(BaseModel):
    stamps: int
    points: int


class AdminProfile(BaseModel):
    email: str
    mobile: str


class ClientPublic(BaseModel):
    id: str
    nic: str
    version: int
    name: str
    trade_name: str
    rfc: str
    phone: str
    email: str
    address: Address
    legal_representative: LegalRepresentative
    financial_contact: Contact
    technical_contact: Contact
    other: Other
    favorite: bool
    dropped: bool
    color: str | None
    balances: Balances
    credited: int
    issued: int
    created_at: dt.datetime
    last_purchase_at: dt.datetime | None
    last_issue_at: dt.datetime | None
    admin_profile: AdminProfile | None
    converted_account_id: str | None = None


class ClientList(BaseModel):
    items: list[ClientPublic]
    next_cursor: str | None


# ---- Stamping accounts ----------------------------------------------------------------------------


class AutoSale(BaseModel):
    minimum: int
    credit: int
    amount_cents: int
    enabled: bool


class UsageSummary(BaseModel):
    """CFDI per Mexico City day since `since`: a positive number is one day's CFDI, `-k` is k days in a
    row without any; the days after the last entry had none."""

    since: dt.date
    daily: list[int]


class StampingAccountPublic(BaseModel):
    id: str
    client_id: str
    kind: Literal["standard", "unlimited"]
    active: bool
    version: int
    credited: int
    issued: int
    balance: int | None
    rfc_restriction: str | None
    paid_until: dt.datetime | None
    created_at: dt.datetime
    first_issue_at: dt.datetime | None
    last_issue_at: dt.datetime | None
    last_purchase_at: dt.datetime | None = None
    auto_sale: AutoSale | None
    usage: UsageSummary | None = Field(
        default=None,
        description="Uso diario reciente (últimos 90 días; null sin emisiones): ver docs/api.md.",
    )


class StampingAccountList(BaseModel):
    items: list[StampingAccountPublic]
    next_cursor: str | None


class ClientCreated(BaseModel):
    client: ClientPublic
    stamping_account: StampingAccountPublic
    password: str = Field(description="La contraseña generada de la CTI; se muestra sólo esta vez.")


class StampingAccountCreate(RequestModel):
    kind: Literal["standard", "unlimited"] = "standard"
    id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Id elegido; si se omite, uno automático."
    )
    password: Annotated[str, Field(max_length=128)]
    password_confirmation: Annotated[str, Field(max_length=128)] | None = None
    rfc_restriction: Annotated[str, Field(max_length=20)] | None = None
    fee_payer: Literal["client", "account"] | None = Field(
        None,
        description="Sólo ilimitadas: quién paga el primer año de la cuota anual con sus puntos (el cliente "
        "o la Cuenta Maestra), en la misma operación; si se omite, la cuenta se crea sin pagar y no timbra "
        "hasta pagarla.",
    )


class StampingAccountPatch(RequestModel):
    active: bool


class PasswordIn(RequestModel):
    password: Annotated[str, Field(max_length=128)]
    password_confirmation: Annotated[str, Field(max_length=128)] | None = None


class AutoSaleIn(RequestModel):
    minimum: Annotated[int, Field(ge=0, le=10**9)]
    credit: Quantity
    amount_cents: Cents
    enabled: bool = True


class UsageDay(BaseModel):
    date: dt.date
    issued: int


class Usage(BaseModel):
    stamping_account_id: str
    daily: list[UsageDay]
    average_daily_use: float
    days_remaining: int | None


# ---- Ledger ---------------------------------------------------------------------------------------

PartyTypeName = Literal["account", "client", "stamping_account", "catalog", "issued", "top_up_code"]


class Party(BaseModel):
    type: PartyTypeName
    id: str


class PartyIn(RequestModel):
    type: Literal["account", "client", "stamping_account"]
    id: Annotated[str, Field(min_length=1, max_length=64)]


class TransferIn(RequestModel):
    asset: Literal["stamps", "points"]
    target: PartyIn
    quantity: Quantity
    amount_cents: Cents = 0
    comments: Annotated[str, Field(max_length=500)] = ""
    no_charge: bool | None = Field(
        None,
        description="true: «Sin cargo», no es una venta (amount_cents debe ser 0); false: es una venta y "
        "amount_cents debe ser mayor que 0 (si no, 422 sale_amount_required); null: amount_cents 0 es "
        "sin cargo.",
    )


class BulkTransferIn(RequestModel):
    items: Annotated[list[TransferIn], Field(min_length=1, max_length=5000)]


class Movement(BaseModel):
    id: str
    version: int
    kind: Literal["purchase", "transfer", "auto_sale", "top_up", "contract", "unlimited_fee"]
    asset: Literal["stamps", "points"]
    quantity: int
    amount_cents: int
    source: Party
    target: Party
    client_id: str | None
    account_id: str
    comments: str
    created_at: dt.datetime
    created_by: str
    invoice_id: str | None
    top_up_code_id: str | None = None
    contract_id: str | None = None


class MovementList(BaseModel):
    items: list[Movement]
    next_cursor: str | None


class BulkTransferOut(BaseModel):
    movements: list[Movement]


class CatalogPackageOut(BaseModel):
    id: str
    quantity: int
    price_cents: int
    demo_price: bool


class CatalogContractOut(BaseModel):
    code: str
    name: str
    annual_price_cents: int
    annual_price_before_tax_cents: int
    demo_price: bool


class CatalogOut(BaseModel):
    stamp_packages: list[CatalogPackageOut]
    point_packages: list[CatalogPackageOut]
    mkl: list[CatalogContractOut]
    subscriptions: list[CatalogContractOut]
    unlimited_fee_points: int | None = Field(
        None, description="Puntos que cuesta un año de una CTI ilimitada (null: no definida)."
    )


class PurchaseIn(RequestModel):
    package_id: Annotated[str, Field(min_length=1, max_length=40)]
    quantity: Annotated[int, Field(gt=0, le=1000)] = 1


class PurchaseOut(BaseModel):
    movement: Movement
    charge_cents: int


# ---- Stamping -------------------------------------------------------------------------------------


class ConsumeIn(RequestModel):
    emitter_rfc: Annotated[str, Field(min_length=1, max_length=20)]
    cfdi_uuid: Annotated[str, Field(min_length=1, max_length=40)]


class ConsumeOut(BaseModel):
    balance: int | None
    issued: int
