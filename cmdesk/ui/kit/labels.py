"""The Spanish names the screens show for the enumerations, each once: the domain's tables
(`cmdesk.domain.names`) translated here, and the names only the desktop has (the states and kinds of
the outbox's commands). The color tags' swatches are here too: the one place with fixed colors (they
mean the same in light and dark).

    labels.asset("stamps")        → "Timbres"
    labels.status("inactive")     → "Sin activar"
    labels.items(names.COLORS)    → [("red", "Rojo"), ...]   (for a combo or a menu)
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication

from cmdesk.domain import names, roles
from cmdesk.services.outbox import CommandState
from cmdesk.ui import QT_TRANSLATE_NOOP

CONTEXT = "labels"


def name(table: Mapping[str, str], value: object) -> str:
    """The translated Spanish name of `value` in a table of names (the value itself when unknown)."""
    text = "" if value is None else str(value)
    return QCoreApplication.translate(CONTEXT, table[text]) if text in table else text


def items(table: Mapping[str, str]) -> list[tuple[str, str]]:
    """(value, translated name) of a table, in its order."""
    return [(value, QCoreApplication.translate(CONTEXT, text)) for value, text in table.items()]


def role(value: object) -> str:
    """Usuario maestro, Administrador, Operador."""
    return name(names.ROLES, value)


def role_refusal(permission: object) -> str:
    """Why a role can't do something («Sólo un administrador de la cuenta puede …»)."""
    return name(roles.REFUSALS, permission)


def asset(value: object) -> str:
    return name(names.ASSETS, value)


def asset_word(value: object) -> str:
    """The asset inside a sentence: «timbres», «puntos»."""
    return name(names.ASSET_WORDS, value)


def product(value: object) -> str:
    """The asset as a product of the catalog or of a top-up code: «Timbres CFDI»."""
    return name(names.PRODUCTS, value)


def cti_kind(value: object) -> str:
    return name(names.STAMPING_ACCOUNT_KINDS, value)


def status(value: object) -> str:
    """A distributor account's state."""
    return name(names.ACCOUNT_STATUSES, value)


def invitation(value: object) -> str:
    """A user's invitation state (`cmdesk.domain.mails.invitation_state`)."""
    return name(names.INVITATION_STATES, value)


def mail_kind(value: object) -> str:
    """What a mail is (Invitación, Restablecer contraseña…)."""
    return name(names.MAIL_KINDS, value)


def mail(value: object) -> str:
    """A sent mail's state (`cmdesk.domain.mails.mail_state`)."""
    return name(names.MAIL_STATES, value)


def movement(value: object) -> str:
    return name(names.MOVEMENT_KINDS, value)


def color(value: object) -> str:
    return name(names.COLORS, value)


def person_type(value: object) -> str:
    return name(names.PERSON_TYPES, value)


def software_kind(value: object) -> str:
    return name(names.SOFTWARE_FILE_KINDS, value)


def code_status(value: object) -> str:
    return name(names.TOP_UP_CODE_STATUSES, value)


def audit_entity(value: object) -> str:
    return name(names.AUDIT_ENTITIES, value)


def yes_no(value: object) -> str:
    return QCoreApplication.translate(CONTEXT, "Sí") if value else QCoreApplication.translate(CONTEXT, "No")


# ---- the color tags' swatches ---------------------------------------------------------------------

COLOR_SWATCHES: Mapping[str, str] = {
    "red": "#d32f2f",
    "orange": "#f57c00",
    "yellow": "#fbc02d",
    "green": "#388e3c",
    "blue": "#1976d2",
    "purple": "#7b1fa2",
    "gray": "#757575",
}

# ---- the outbox's commands (the pending-commands panel, the rejection messages) --------------------

COMMAND_STATES: Mapping[str, str] = {
    CommandState.PENDING: QT_TRANSLATE_NOOP(CONTEXT, "Pendiente"),
    CommandState.SENT: QT_TRANSLATE_NOOP(CONTEXT, "Enviado"),
    CommandState.DONE: QT_TRANSLATE_NOOP(CONTEXT, "Aplicado"),
    CommandState.REJECTED: QT_TRANSLATE_NOOP(CONTEXT, "Rechazado"),
    CommandState.CONFLICT: QT_TRANSLATE_NOOP(CONTEXT, "Conflicto"),
}

COMMAND_KINDS: Mapping[str, str] = {
    "create_client": QT_TRANSLATE_NOOP(CONTEXT, "Alta de cliente"),
    "update_client": QT_TRANSLATE_NOOP(CONTEXT, "Edición de cliente"),
    "set_tags": QT_TRANSLATE_NOOP(CONTEXT, "Etiquetas de cliente"),
    "set_admin_profile": QT_TRANSLATE_NOOP(CONTEXT, "Perfil principal del cliente"),
    "set_cti_active": QT_TRANSLATE_NOOP(CONTEXT, "Activar o bloquear CTI"),
    "set_auto_sale": QT_TRANSLATE_NOOP(CONTEXT, "Venta automática"),
    "transfer": QT_TRANSLATE_NOOP(CONTEXT, "Transferencia"),
    "bulk_transfer": QT_TRANSLATE_NOOP(CONTEXT, "Transferencia masiva"),
    "purchase": QT_TRANSLATE_NOOP(CONTEXT, "Compra"),
    "register_invoice": QT_TRANSLATE_NOOP(CONTEXT, "Registro de factura"),
    "add_interaction": QT_TRANSLATE_NOOP(CONTEXT, "Interacción con cliente"),
    "add_policy": QT_TRANSLATE_NOOP(CONTEXT, "Póliza de soporte"),
    "set_alert_state": QT_TRANSLATE_NOOP(CONTEXT, "Estado de alertas"),
}


def command_state(value: object) -> str:
    return name(COMMAND_STATES, value)


def command_kind(value: object) -> str:
    text = "" if value is None else str(value)
    return name(COMMAND_KINDS, text) if text in COMMAND_KINDS else text.replace("_", " ").capitalize()
