"""Request and answer models of the rest of the portal (API.md, last section): billing, top-up codes,
price packages, users, settings, a client's records and the software catalog. Field names are what
the operations return; answers are checked against these models, so the OpenAPI is exact.

`paged()` cuts an operation's full list into the API's `{"items", "next_cursor"}` pages (an offset
cursor, as the clients list does): these lists are short (an account's invoices, codes, packages).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from cmdesk.server.api.deps import Page, decode_cursor, encode_cursor
from cmdesk.server.api.schemas import Cents, Movement, Party, Quantity
from cmdesk.server.api.schemas_common import RequestModel
from cmdesk.server.api.schemas_mail import Invitation

AssetName = Literal["stamps", "points"]
Id = Annotated[str, Field(min_length=1, max_length=64)]
IdList = Annotated[list[Id], Field(min_length=1, max_length=5000)]

# ---- Lists ----------------------------------------------------------------------------------------


def paged(items: list[dict[str, Any]], page: Page) -> dict[str, Any]:
    """One page of `items` from `page.cursor` (an opaque offset), with the cursor of the next one."""
    offset = 0
    if page.cursor:
        value = decode_cursor(page.cursor, 1)[0]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            decode_cursor("", 1)  # raises the 422 on `cursor`
        offset = int(value)
    end = offset + page.limit
    return {"items": items[offset:end], "next_cursor": encode_cursor([end]) if end < len(items) else None}


# ---- Billing --------------------------------------------------------------------------------------


class PendingList(BaseModel):
    items: list[Movement]
    next_cursor: str | None


class PendingClient(BaseModel):
    client_id: str
    nic: str
    name: str
    count: int = Field(description="Ventas por facturar del cliente.")
    total_cents: int = Field(description="Suma de sus importes, con IVA.")


class PendingClientList(BaseModel):
    items: list[PendingClient]
    next_cursor: str | None


class Invoice(BaseModel):
    id: str
    version: int
    client_id: str | None
    reference: str
    total_cents: int
    created_at: dt.datetime
    created_by: str


class InvoiceList(BaseModel):
    items: list[Invoice]
    next_cursor: str | None


class InvoiceIn(RequestModel):
    """Ventas: `client_id` + `movement_ids`. Códigos de abono: `top_up_code_ids` (y, opcional, el
    `client_id` facturado; si se omite, el cliente que canjeó todos los códigos, si es uno solo)."""

    reference: Annotated[str, Field(max_length=200, description="La referencia (folio) de la factura.")]
    client_id: Annotated[str, Field(max_length=32)] | None = None
    movement_ids: IdList | None = Field(
        None, description="Las ventas por facturar (movimientos) del cliente."
    )
    top_up_code_ids: IdList | None = Field(None, description="Los códigos de abono por facturar.")


class InvoiceCreated(BaseModel):
    invoice: Invoice
    movement_ids: list[str] = Field(description="Las ventas marcadas como facturadas (vacía para códigos).")
    top_up_code_ids: list[str] = Field(
        description="Los códigos marcados como facturados (vacía para ventas)."
    )


# ---- Top-up codes ---------------------------------------------------------------------------------


class CodeReceiver(BaseModel):
    type: Literal["stamping_account", "client"]
    id: str
    client_id: str | None
    client_nic: str | None
    client_name: str | None


class TopUpCode(BaseModel):
    id: str
    version: int
    code: str
    nip: str
    asset: AssetName
    quantity: int
    amount_cents: int
    comments: str
    created_at: dt.datetime
    created_by: str
    status: Literal["available", "redeemed", "cancelled", "locked"]
    consumed: bool
    redeemed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    receiver: CodeReceiver | None
    failed_attempts: int
    locked_at: dt.datetime | None
    invoice_id: str | None


class TopUpCodeList(BaseModel):
    items: list[TopUpCode]
    next_cursor: str | None


class TopUpCodeIn(RequestModel):
    asset: AssetName
    quantity: Quantity
    amount_cents: Cents = Field(0, description="Precio de venta del código, con IVA (0: regalo).")
    comments: Annotated[str, Field(max_length=500)] = ""


class TopUpCodeOut(BaseModel):
    code: TopUpCode
    movement: Movement


class RedeemIn(RequestModel):
    code: Annotated[str, Field(min_length=1, max_length=100)]
    nip: Annotated[str, Field(min_length=1, max_length=32)]
    stamping_account_id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="La CTI estándar que recibe los timbres (códigos de timbres)."
    )
    client_id: Annotated[str, Field(max_length=32)] | None = Field(
        None, description="El cliente que recibe los puntos (códigos de puntos)."
    )


class RedeemedClient(BaseModel):
    nic: str
    name: str


class RedeemOut(BaseModel):
    asset: AssetName
    quantity: int
    receiver: Party
    client: RedeemedClient
    redeemed_at: dt.datetime
    movement_id: str


# ---- Price packages -------------------------------------------------------------------------------

PackageQuantity = Annotated[int, Field(gt=0, le=10_000_000)]
Description = Annotated[str, Field(max_length=500)]


class PricePackage(BaseModel):
    id: str
    version: int
    asset: AssetName
    quantity: int
    price_cents: int = Field(description="Precio del paquete, con IVA.")
    unit_price_cents: int = Field(description="Precio por unidad, redondeado al centavo.")
    description: str
    for_distributors: bool
    created_at: dt.datetime


class PricePackageList(BaseModel):
    items: list[PricePackage]
    next_cursor: str | None


class PricePackageIn(RequestModel):
    asset: AssetName = "stamps"
    quantity: PackageQuantity
    price_cents: Cents
    description: Description = ""
    for_distributors: bool = Field(
        False, description="Paquete para sub-distribuidores (requiere Multinivel)."
    )


class PricePackagePatch(RequestModel):
    asset: AssetName | None = None
    quantity: PackageQuantity | None = None
    price_cents: Cents | None = None
    description: Description | None = None
    for_distributors: bool | None = None


# ---- Users ----------------------------------------------------------------------------------------


class User(BaseModel):
    id: str = Field(description="El id del perfil.")
    version: int
    name: str
    email: str
    mobile: str
    email_confirmed: bool
    created_at: dt.datetime
    role: Literal["master", "admin", "operator"] = Field(
        description="master (el usuario maestro, siempre administrador), admin (Administrador: usuarios, "
        "configuraciones, precios, compras, sub-distribuidores) u operator (Operador: clientes, CTI, "
        "traspasos, códigos de recarga, facturación)."
    )
    role_label: str = Field(description="Usuario maestro, Administrador u Operador.")
    is_master: bool
    member_since: dt.datetime | None = Field(
        description="Desde cuándo tiene acceso; nulo mientras no acepte su invitación (entonces `id` es "
        "el de la invitación y los datos son los que escribió quien le invitó)."
    )
    invitation: Invitation | None = Field(
        description="La invitación por correo (Enviada, Aceptada, Vencida) con su último correo; "
        "nula para quien no se invitó por correo (el maestro)."
    )


class UserList(BaseModel):
    items: list[User]
    next_cursor: str | None


class UserIn(RequestModel):
    email: Annotated[str, Field(max_length=254)]
    mobile: Annotated[str, Field(max_length=30)]
    name: Annotated[str, Field(max_length=200)] = ""
    role: Literal["admin", "operator"] = Field(
        default="operator", description="Administrador u Operador (por omisión, Operador)."
    )


class UserRoleIn(RequestModel):
    role: Literal["admin", "operator"]


class UserCreated(BaseModel):
    """The same answer whether or not the e-mail or mobile belong to a profile (no enumeration)."""

    user: User = Field(description="La persona invitada, pendiente hasta que acepte desde su correo.")
    detail: str


# ---- Settings -------------------------------------------------------------------------------------


class AccountSettingsOut(BaseModel):
    id: str
    account_id: str
    version: int
    bulk_stamp_price_cents: int
    allow_panel_stamp_purchase: bool
    allow_panel_point_purchase: bool
    auto_stamp_purchase: bool
    master_profile_id: str | None
    # The role of each member of the account: profile id → "master", "admin" or "operator".
    member_roles: dict[str, Literal["master", "admin", "operator"]] = {}


class AccountSettingsPatch(RequestModel):
    bulk_stamp_price_cents: Cents | None = None
    allow_panel_stamp_purchase: bool | None = None
    allow_panel_point_purchase: bool | None = None
    auto_stamp_purchase: bool | None = None


# ---- Client records -------------------------------------------------------------------------------


class Interaction(BaseModel):
    id: str
    version: int
    client_id: str
    occurred_at: dt.datetime
    author: str
    text: str


class InteractionList(BaseModel):
    items: list[Interaction]
    next_cursor: str | None


class InteractionIn(RequestModel):
    text: Annotated[str, Field(max_length=10_000)]
    occurred_at: dt.datetime | None = Field(
        None, description="Cuándo ocurrió (con zona horaria); si se omite, ahora."
    )


class Policy(BaseModel):
    id: str
    version: int
    client_id: str
    product: str
    starts_on: dt.date
    ends_on: dt.date
    reference: str
    created_at: dt.datetime


class PolicyList(BaseModel):
    items: list[Policy]
    next_cursor: str | None


class PolicyIn(RequestModel):
    product: Annotated[str, Field(max_length=500)]
    starts_on: dt.date
    ends_on: dt.date
    reference: Annotated[str, Field(max_length=500)] = ""


class PolicyPatch(RequestModel):
    product: Annotated[str, Field(max_length=500)] | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    reference: Annotated[str, Field(max_length=500)] | None = None


# ---- Software -------------------------------------------------------------------------------------


class SoftwareFile(BaseModel):
    id: str
    version: int
    product_id: str
    kind: Literal["installer", "fix", "improvement", "documentation", "tool"]
    kind_label: str
    title: str
    file_version: str
    file_name: str
    size: int
    sha256: str
    published_at: dt.datetime
    active: bool
    manifest: str | None = Field(
        default=None, description="Manifiesto JSON de una versión de cmdesk (autoactualización)."
    )
    signature: str | None = Field(default=None, description="Firma Ed25519 del manifiesto, en base64.")


class SoftwareProduct(BaseModel):
    id: str
    version: int
    code: str
    name: str
    description: str
    sort_order: int
    files: list[SoftwareFile]


class SoftwareCatalog(BaseModel):
    items: list[SoftwareProduct]
    next_cursor: str | None
