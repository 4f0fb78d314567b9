"""Stable error codes of API v1 and the domain error every rule raises.

The server turns a `DomainError` into an RFC 9457 problem+json answer with the code's HTTP status;
the desktop turns the answer back into a `DomainError` with the server's Spanish text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "validation_error"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOKEN_EXPIRED = "token_expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NOT_FOUND = "not_found"
    VERSION_CONFLICT = "version_conflict"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    ACCOUNT_BLOCKED = "account_blocked"
    RFC_NOT_ALLOWED = "rfc_not_allowed"
    UNLIMITED_EXPIRED = "unlimited_expired"
    INVALID_STATE_TRANSITION = "invalid_state_transition"
    FEATURE_NOT_CONTRACTED = "feature_not_contracted"
    PROFILE_ADMINISTERS_MASTER_ACCOUNT = "profile_administers_master_account"
    DUPLICATE = "duplicate"
    CODE_LOCKED = "code_locked"
    ALREADY_REDEEMED = "already_redeemed"
    PRECONDITION_REQUIRED = "precondition_required"
    SERVER_BUSY = "server_busy"
    FORBIDDEN_ROLE = "forbidden_role"
    SALE_AMOUNT_REQUIRED = "sale_amount_required"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.VERSION_CONFLICT: 412,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: 409,
    ErrorCode.INSUFFICIENT_BALANCE: 409,
    ErrorCode.ACCOUNT_BLOCKED: 403,
    ErrorCode.RFC_NOT_ALLOWED: 403,
    ErrorCode.UNLIMITED_EXPIRED: 403,
    ErrorCode.INVALID_STATE_TRANSITION: 409,
    ErrorCode.FEATURE_NOT_CONTRACTED: 409,
    ErrorCode.PROFILE_ADMINISTERS_MASTER_ACCOUNT: 409,
    ErrorCode.DUPLICATE: 409,
    ErrorCode.CODE_LOCKED: 423,
    ErrorCode.ALREADY_REDEEMED: 409,
    ErrorCode.PRECONDITION_REQUIRED: 428,
    ErrorCode.SERVER_BUSY: 503,
    ErrorCode.FORBIDDEN_ROLE: 403,
    ErrorCode.SALE_AMOUNT_REQUIRED: 422,
}

# Spanish titles, fit to show to a distributor.
TITLES: dict[ErrorCode, str] = {
    ErrorCode.VALIDATION_ERROR: "Datos no válidos",
    ErrorCode.INVALID_CREDENTIALS: "Credenciales incorrectas",
    ErrorCode.TOKEN_EXPIRED: "La sesión expiró",
    ErrorCode.TOO_MANY_ATTEMPTS: "Demasiados intentos",
    ErrorCode.NOT_FOUND: "No encontrado",
    ErrorCode.VERSION_CONFLICT: "El registro cambió mientras lo editaba",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: "Clave de idempotencia reutilizada",
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: "La operación ya está en curso",
    ErrorCode.INSUFFICIENT_BALANCE: "Saldo insuficiente",
    ErrorCode.ACCOUNT_BLOCKED: "Cuenta bloqueada",
    ErrorCode.RFC_NOT_ALLOWED: "RFC no permitido",
    ErrorCode.UNLIMITED_EXPIRED: "Cuenta ilimitada vencida",
    ErrorCode.INVALID_STATE_TRANSITION: "Cambio de estado no permitido",
    ErrorCode.FEATURE_NOT_CONTRACTED: "Funcionalidad no contratada",
    ErrorCode.PROFILE_ADMINISTERS_MASTER_ACCOUNT: "El perfil administra una Cuenta Maestra",
    ErrorCode.DUPLICATE: "Registro duplicado",
    ErrorCode.CODE_LOCKED: "Código bloqueado",
    ErrorCode.ALREADY_REDEEMED: "Código ya utilizado",
    ErrorCode.PRECONDITION_REQUIRED: "Falta la versión del registro",
    ErrorCode.SERVER_BUSY: "Servidor ocupado",
    ErrorCode.FORBIDDEN_ROLE: "Su rol no permite esta operación",
    ErrorCode.SALE_AMOUNT_REQUIRED: "Falta el importe de la venta",
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    """A rule said no. `detail` is Spanish text for the user; `code` is the stable machine name."""

    code: ErrorCode
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    @property
    def title(self) -> str:
        return TITLES[self.code]


def validation_error(errors: list[FieldError] | dict[str, str], detail: str | None = None) -> DomainError:
    """A 422 listing every field in error (the desktop shows each beside its field)."""
    if isinstance(errors, dict):
        errors = [FieldError(k, v) for k, v in errors.items()]
    if detail is None:
        detail = "; ".join(e.message for e in errors) if errors else "Datos no válidos."
    return DomainError(ErrorCode.VALIDATION_ERROR, detail, list(errors))


def not_found(what: str = "El registro") -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} no existe.")
