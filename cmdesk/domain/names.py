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

ROLES: Mapping[str, str] = {Role.MASTER: "Usuario maestro", Role.USER: "Usuario"}

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


def name_of(table: Mapping[str, str], value: object) -> str:
    """The Spanish name of `value` in `table`; the value itself when the table does not know it."""
    text = "" if value is None else str(value)
    return table.get(text, text)
