"""The Spanish names of the enumerations, as the manual and the portal write them: one table each, keyed
by the API's value. The desktop shows them through `cmdesk.ui.kit.labels` (translated there); the
server and the services (exports, command descriptions) read them here.
"""

from __future__ import annotations

from collections.abc import Mapping

from cmdesk.domain.enums import (
    AccountStatus,
    Asset,
    Color,
    ContractKind,
    MovementKind,
    PersonType,
    Role,
    SoftwareFileKind,
    StampingAccountKind,
)
from cmdesk.domain.forecast import RISK_BAND_LABELS
from cmdesk.domain.portfolio import ClientCategory, ClientSort

ASSETS: Mapping[str, str] = {Asset.STAMPS: "Timbres", Asset.POINTS: "Puntos"}
# The asset as a word inside a sentence («Transferir 25 timbres a …»).
ASSET_WORDS: Mapping[str, str] = {Asset.STAMPS: "timbres", Asset.POINTS: "puntos"}
# The products of the catalog and of the top-up codes.
PRODUCTS: Mapping[str, str] = {Asset.STAMPS: "Timbres CFDI", Asset.POINTS: "Puntos Induxsoft"}

STAMPING_ACCOUNT_KINDS: Mapping[str, str] = {
    StampingAccountKind.STANDARD: "Estándar",
    StampingAccountKind.UNLIMITED: "Ilimitada",
}

ACCOUNT_STATUSES: Mapping[str, str] = {
    AccountStatus.UNVALIDATED: "Sin validar",
    AccountStatus.INACTIVE: "Sin activar",
    AccountStatus.ACTIVE: "Activo",
    AccountStatus.SUSPENDED: "Suspendido",
    AccountStatus.CANCELLED: "Cancelado",
    AccountStatus.EXPIRED: "Vencido",
}

MOVEMENT_KINDS: Mapping[str, str] = {
    MovementKind.PURCHASE: "Compra",
    MovementKind.TRANSFER: "Transferencia",
    MovementKind.AUTO_SALE: "Venta automática",
    MovementKind.TOP_UP: "Código de abono",
    MovementKind.CONTRACT: "Contrato",
    MovementKind.UNLIMITED_FEE: "Anualidad CTI ilimitada",
}

COLORS: Mapping[str, str] = {
    Color.RED: "Rojo",
    Color.ORANGE: "Naranja",
    Color.YELLOW: "Amarillo",
    Color.GREEN: "Verde",
    Color.BLUE: "Azul",
    Color.PURPLE: "Morado",
    Color.GRAY: "Gris",
}

PERSON_TYPES: Mapping[str, str] = {PersonType.MORAL: "Persona moral", PersonType.FISICA: "Persona física"}

ROLES: Mapping[str, str] = {
    Role.MASTER: "Usuario maestro",
    Role.ADMIN: "Administrador",
    Role.OPERATOR: "Operador",
}

CONTRACT_KINDS: Mapping[str, str] = {ContractKind.MKL: "MKL", ContractKind.SUBSCRIPTION: "Suscripción"}

SOFTWARE_FILE_KINDS: Mapping[str, str] = {
    SoftwareFileKind.INSTALLER: "Instalable",
    SoftwareFileKind.FIX: "Corrección",
    SoftwareFileKind.IMPROVEMENT: "Mejora",
    SoftwareFileKind.DOCUMENTATION: "Documentación",
    SoftwareFileKind.TOOL: "Herramienta",
}

# A top-up code's state (`code_status` on the server).
TOP_UP_CODE_STATUSES: Mapping[str, str] = {
    "available": "Disponible",
    "redeemed": "Canjeado",
    "cancelled": "Cancelado",
    "locked": "Bloqueado",
}

CLIENT_CATEGORIES: Mapping[str, str] = {
    ClientCategory.ALL: "Todos",
    ClientCategory.FAVORITES: "Favoritos",
    ClientCategory.DROPPED: "Bajas",
}

# «Ordenar por» (manual, "Clientes"), in its order.
CLIENT_SORTS: Mapping[str, str] = {
    ClientSort.NAME: "Nombre del cliente",
    ClientSort.NIC: "NIC",
    ClientSort.STAMPS_DESC: "Mayor saldo de timbres",
    ClientSort.STAMPS_ASC: "Menor saldo de timbres",
    ClientSort.POINTS_DESC: "Mayor saldo de puntos",
    ClientSort.POINTS_ASC: "Menor saldo de puntos",
    ClientSort.LAST_PURCHASE_DESC: "Compra de timbres más reciente",
    ClientSort.LAST_PURCHASE_ASC: "Compra de timbres más antigua",
    ClientSort.CREATED_DESC: "Fecha de alta más reciente",
    ClientSort.CREATED_ASC: "Fecha de alta más antigua",
    ClientSort.LAST_ISSUE_DESC: "Última emisión más reciente",
    ClientSort.LAST_ISSUE_ASC: "Última emisión más antigua",
}

# A user's invitation (Herramientas → Usuarios), as `cmdesk.domain.mails.invitation_state` reads it.
INVITATION_STATES: Mapping[str, str] = {
    "pending": "Pendiente",
    "sending": "Por enviar",
    "accepted": "Aceptada",
    "expired": "Vencida",
    "mail_failed": "Correo fallido",
}

# The mails the server sends (the API's Mail `kind`).
MAIL_KINDS: Mapping[str, str] = {
    "confirm_email": "Confirmación de correo",
    "invitation": "Invitación",
    "password_reset": "Restablecer contraseña",
    "expiry_reminder": "Aviso de vencimiento",
    "notice": "Aviso",
}

# A mail the server sends, as `cmdesk.domain.mails.mail_state` reads it.
MAIL_STATES: Mapping[str, str] = {
    "queued": "En cola",
    "retrying": "En espera de reintento",
    "sent": "Enviado",
    "failed": "No se pudo enviar",
    "cancelled": "No se envió",
}


# The Riesgo filters of the Clientes and Timbrado tabs (`cmdesk.domain.forecast`).
RISK_BANDS: Mapping[str, str] = {str(band): text for band, text in RISK_BAND_LABELS.items()}

# Low-balance alerts (API.md "Low-balance alerts").
ALERT_STATES: Mapping[str, str] = {"new": "Nueva", "seen": "Vista", "resolved": "Resuelta"}
ALERT_RULE_SCOPES: Mapping[str, str] = {
    "account": "Toda la cuenta",
    "own_balance": "Saldo propio del distribuidor",
    "client": "Cliente",
    "stamping_account": "Cuenta de timbrado",
}

# The entities of the bitácora (audit log), as its filters and rows name them.
AUDIT_ENTITIES: Mapping[str, str] = {
    "account": "Cuenta Maestra",
    "distributor": "Distribuidor",
    "profile": "Usuario",
    "settings": "Configuración",
    "client": "Cliente",
    "interaction": "Interacción",
    "support_policy": "Póliza de soporte",
    "stamping_account": "Cuenta de timbrado",
    "movement": "Movimiento",
    "charge": "Cargo",
    "invoice": "Factura",
    "top_up_code": "Código de abono",
    "contract": "Contratación",
    "license": "Licencia",
    "price_package": "Paquete de precios",
    "software_product": "Producto de software",
    "software_file": "Archivo de software",
    "catalog_package": "Paquete del catálogo",
    "catalog_contract": "Contratación del catálogo",
    "catalog_fee": "Cuota del catálogo",
    "alert": "Alerta",
    "alert_rule": "Regla de alerta",
}

# The fields a bitácora record shows most (the models' column names); others show as they are.
AUDIT_FIELDS: Mapping[str, str] = {
    "active": "Activa",
    "favorite": "Favorito",
    "dropped": "Baja",
    "color": "Color",
    "name": "Nombre",
    "trade_name": "Nombre comercial",
    "rfc": "RFC",
    "email": "Correo",
    "phone": "Teléfono",
    "mobile": "Celular",
    "status": "Estado",
    "kind": "Tipo",
    "asset": "Tipo",
    "quantity": "Cantidad",
    "amount_cents": "Importe (centavos)",
    "price_cents": "Precio (centavos)",
    "description": "Descripción",
    "comments": "Comentarios",
    "balance": "Saldo",
    "stamps_balance": "Saldo de timbres",
    "points_balance": "Saldo de puntos",
    "password": "Contraseña",
    "expires_at": "Vence",
    "rfc_restriction": "RFC permitido",
    "for_distributors": "Para distribuidores",
    "auto_sale.enabled": "Venta automática",
    "auto_sale.minimum": "Venta automática: mínimo",
    "auto_sale.credit": "Venta automática: timbres",
    "auto_sale.amount_cents": "Venta automática: importe (centavos)",
}


def name_of(table: Mapping[str, str], value: object) -> str:
    """The Spanish name of `value` in `table`; the value itself when the table does not know it."""
    text = "" if value is None else str(value)
    return table.get(text, text)
