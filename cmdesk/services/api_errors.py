"""The desktop's errors of the API (see `cmdesk.services.api_client`, which raises them): `ApiError`, an
answer ≥ 400 with the server's problem+json (or what a proxy answered, said in Spanish), and
`OfflineError`, the server not reached (`maybe_sent`: whether the request may have reached it).
"""

from __future__ import annotations

from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from cmdesk.domain.errors import DomainError, ErrorCode, FieldError

OFFLINE_MESSAGE = "No hay conexión con el servidor."
# The members of a problem+json that are not extension members.
_PROBLEM_RESERVED = frozenset({"type", "title", "status", "detail", "code", "errors"})


# ---------------------------------------------------------------------------------------------------
# Errors

# What to say when an answer ≥ 400 is not one of the server's problem+json (a proxy's or gateway's page).
_UNAVAILABLE = "El servidor no está disponible; intente más tarde."
STATUS_TEXTS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Solicitud no válida", "La solicitud no se pudo interpretar."),
    401: ("invalid_credentials", "Credenciales incorrectas", "Inicie sesión para continuar."),
    403: ("forbidden", "Acceso denegado", "No tiene permiso para esta operación."),
    404: ("not_found", "No encontrado", "La dirección solicitada no existe en el servidor."),
    408: ("request_timeout", "Tiempo agotado", "El servidor tardó demasiado en recibir la solicitud."),
    413: ("payload_too_large", "Solicitud demasiado grande", "La solicitud es demasiado grande."),
    429: ("too_many_attempts", "Demasiados intentos", "Espere un momento e intente de nuevo."),
    502: ("bad_gateway", "Servidor no disponible", _UNAVAILABLE),
    503: ("service_unavailable", "Servidor no disponible", _UNAVAILABLE),
    504: ("gateway_timeout", "Servidor no disponible", "El servidor tardó demasiado en responder."),
}
_SERVER_ERROR = ("server_error", "Error del servidor", "Ocurrió un error en el servidor; intente más tarde.")
_CLIENT_ERROR = ("http_error", "Solicitud no atendida", "La solicitud no pudo atenderse.")
INVALID_RESPONSE = (
    "invalid_response",
    "Respuesta no válida",
    "El servidor envió una respuesta que no se pudo interpretar.",
)

# A code this client does not know, as the closest domain code (for `to_domain_error`).
_DOMAIN_CODE_BY_STATUS: dict[int, ErrorCode] = {
    401: ErrorCode.INVALID_CREDENTIALS,
    404: ErrorCode.NOT_FOUND,
    412: ErrorCode.VERSION_CONFLICT,
    423: ErrorCode.CODE_LOCKED,
    428: ErrorCode.PRECONDITION_REQUIRED,
    429: ErrorCode.TOO_MANY_ATTEMPTS,
}


class ApiError(Exception):
    """The server answered with an error (problem+json, RFC 9457). `str()` is the Spanish detail."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors: list[FieldError] = list(errors or [])
        self.body: dict[str, Any] = dict(body or {})

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"ApiError(status={self.status}, code={self.code!r}, detail={self.detail!r})"

    @property
    def retry_after(self) -> int | None:
        """Seconds the server asked to wait (429, 503), when it said (in the body or `Retry-After`)."""
        value = self.body.get("retry_after")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return self.retry_after_header

    retry_after_header: int | None = None

    def field_errors(self) -> dict[str, str]:
        """`{field: Spanish message}`, for showing each beside its field."""
        return {e.field: e.message for e in self.errors}

    def to_domain_error(self) -> DomainError:
        """The same refusal as the domain error the server raised (its code, detail, field errors and
        extension members such as `current`). A code unknown to this version maps to the closest one,
        and the original stays in `extra["code"]`."""
        extra = {k: v for k, v in self.body.items() if k not in _PROBLEM_RESERVED and k != "status"}
        try:
            code = ErrorCode(self.code)
        except ValueError:
            code = _DOMAIN_CODE_BY_STATUS.get(self.status, ErrorCode.VALIDATION_ERROR)
            extra["code"] = self.code
        return DomainError(code, self.detail, list(self.errors), extra)

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        """Read (and close) an error answer."""
        try:
            body: Any = response.json() if response.content else None
        except (ValueError, requests.RequestException):
            body = None
        finally:
            response.close()
        status = response.status_code
        default_code, default_title, default_detail = STATUS_TEXTS.get(
            status, _SERVER_ERROR if status >= 500 else _CLIENT_ERROR
        )
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            error = cls(status, default_code, default_title, default_detail, body={"status": status})
        else:
            errors = [
                FieldError(str(e.get("field", "")), str(e.get("message", "")))
                for e in body.get("errors") or []
                if isinstance(e, dict)
            ]
            error = cls(
                status,
                body["code"],
                _text(body.get("title"), default_title),
                _text(body.get("detail"), default_detail),
                errors,
                body,
            )
        wait = response.headers.get("Retry-After", "")
        if wait.strip().isdigit():
            error.retry_after_header = int(wait)
        return error


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value.strip() else default


class OfflineError(Exception):
    """The server could not be reached (refused, reset, timed out, DNS). `maybe_sent` is True when the
    request may have reached the server before the line failed (so a non-idempotent one may have been
    applied); False when it surely never left."""

    def __init__(self, message: str = OFFLINE_MESSAGE, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.maybe_sent = maybe_sent

    def __str__(self) -> str:
        return self.message


def never_sent(exc: requests.RequestException) -> bool:
    """Whether the failure happened before any byte of the request could reach the server."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)
