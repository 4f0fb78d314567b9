"""Every error answer of the API as RFC 9457 problem+json, with Spanish text.

`{"type", "title", "status", "detail", "code", "errors": [{"field", "message"}]}` plus the extension
members a rule adds (`current` for a version conflict, `retry_after` when throttled). Domain errors
keep their code and status; request validation errors become 422 `validation_error` with one Spanish
message per field; unknown routes and wrong methods are 404/405 problems; anything unexpected is
logged with its traceback and answered 500 without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python
from starlette.exceptions import HTTPException as StarletteHTTPException

from cmdesk.domain.errors import DomainError, ErrorCode, FieldError
from cmdesk.server.logs import describe_for_log

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://cmdesk.mx/problems/"

_RESERVED = {"type", "title", "status", "detail", "code", "errors"}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Iterable[FieldError] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
    }
    for key, value in (extra or {}).items():
        if key not in _RESERVED:
            body[key] = value
    return body


def domain_problem(exc: DomainError) -> dict[str, Any]:
    """The problem body of a domain error (also what idempotency stores for a rejected request)."""
    extra = to_jsonable_python(exc.extra, fallback=str) if exc.extra else None
    return problem_body(
        status=exc.status,
        code=exc.code.value,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        extra=extra,
    )


def problem_response(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> ProblemResponse:
    headers = dict(headers or {})
    retry_after = body.get("retry_after")
    if isinstance(retry_after, int) and "Retry-After" not in headers:
        headers["Retry-After"] = str(retry_after)
    if body.get("code") in (ErrorCode.INVALID_CREDENTIALS.value, ErrorCode.TOKEN_EXPIRED.value):
        headers.setdefault("WWW-Authenticate", "Bearer")
    return ProblemResponse(body, status_code=int(body["status"]), headers=headers)


def domain_error_response(exc: DomainError) -> ProblemResponse:
    return problem_response(domain_problem(exc))


# ---------------------------------------------------------------------------------------------------
# Request validation (pydantic) in Spanish

_MESSAGES: dict[str, str] = {
    "missing": "Este campo es obligatorio.",
    "missing_argument": "Este campo es obligatorio.",
    "extra_forbidden": "Este campo no se admite.",
    "unexpected_keyword_argument": "Este campo no se admite.",
    "string_type": "Debe ser un texto.",
    "string_unicode": "Debe ser un texto.",
    "string_sub_type": "Debe ser un texto.",
    "int_type": "Debe ser un número entero.",
    "int_parsing": "Debe ser un número entero.",
    "int_from_float": "Debe ser un número entero, sin decimales.",
    "int_parsing_size": "El número está fuera del rango admitido.",
    "float_type": "Debe ser un número.",
    "float_parsing": "Debe ser un número.",
    "finite_number": "Debe ser un número finito.",
    "decimal_type": "Debe ser un número.",
    "decimal_parsing": "Debe ser un número.",
    "bool_type": "Debe ser verdadero o falso.",
    "bool_parsing": "Debe ser verdadero o falso.",
    "dict_type": "Debe ser un objeto JSON.",
    "model_type": "Debe ser un objeto JSON.",
    "model_attributes_type": "Debe ser un objeto JSON.",
    "dataclass_type": "Debe ser un objeto JSON.",
    "list_type": "Debe ser una lista.",
    "tuple_type": "Debe ser una lista.",
    "set_type": "Debe ser una lista sin elementos repetidos.",
    "iterable_type": "Debe ser una lista.",
    "json_invalid": "El cuerpo de la solicitud no es JSON válido.",
    "content_type_json": "Envíe el cuerpo como JSON (Content-Type: application/json).",
    "json_type": "Debe ser JSON.",
    "date_type": "Debe ser una fecha (AAAA-MM-DD).",
    "date_parsing": "Debe ser una fecha (AAAA-MM-DD).",
    "date_from_datetime_parsing": "Debe ser una fecha (AAAA-MM-DD).",
    "date_from_datetime_inexact": "Debe ser una fecha sin hora.",
    "datetime_type": "Debe ser una fecha y hora ISO 8601.",
    "datetime_parsing": "Debe ser una fecha y hora ISO 8601.",
    "datetime_from_date_parsing": "Debe ser una fecha y hora ISO 8601.",
    "datetime_object_invalid": "Debe ser una fecha y hora ISO 8601.",
    "timezone_aware": "La fecha y hora debe indicar su zona horaria.",
    "time_type": "Debe ser una hora (HH:MM).",
    "time_parsing": "Debe ser una hora (HH:MM).",
    "uuid_type": "Debe ser un identificador UUID.",
    "uuid_parsing": "Debe ser un identificador UUID.",
    "url_type": "Debe ser una dirección web.",
    "url_parsing": "Debe ser una dirección web válida.",
    "url_scheme": "La dirección web debe empezar con http:// o https://.",
    "string_pattern_mismatch": "El formato no es válido.",
    "bytes_type": "Debe ser un texto.",
    "none_required": "Debe estar vacío (null).",
    "union_tag_invalid": "El tipo indicado no es válido.",
    "union_tag_not_found": "Falta indicar el tipo.",
    "is_instance_of": "El valor no es válido.",
    "callable_type": "El valor no es válido.",
}


def _plural(n: Any, one: str, many: str) -> str:
    return one if n == 1 else many


def spanish_message(error: Mapping[str, Any]) -> str:
    """One pydantic error as a Spanish sentence for the field it concerns."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "string_too_short":
        n = ctx.get("min_length")
        if n == 1:
            return "Este campo es obligatorio."
        return f"Debe tener al menos {n} {_plural(n, 'carácter', 'caracteres')}."
    if kind == "string_too_long":
        n = ctx.get("max_length")
        return f"Admite como máximo {n} {_plural(n, 'carácter', 'caracteres')}."
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"Debe tener al menos {n} {_plural(n, 'elemento', 'elementos')}."
    if kind == "too_long":
        n = ctx.get("max_length")
        return f"Admite como máximo {n} {_plural(n, 'elemento', 'elementos')}."
    if kind == "greater_than":
        return f"Debe ser mayor que {ctx.get('gt')}."
    if kind == "greater_than_equal":
        return f"Debe ser mayor o igual que {ctx.get('ge')}."
    if kind == "less_than":
        return f"Debe ser menor que {ctx.get('lt')}."
    if kind == "less_than_equal":
        return f"Debe ser menor o igual que {ctx.get('le')}."
    if kind == "multiple_of":
        return f"Debe ser múltiplo de {ctx.get('multiple_of')}."
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace(" or ", " o ")
        return f"Valor no permitido; use uno de: {expected}." if expected else "Valor no permitido."
    if kind == "value_error":
        # Raised by our own validators, whose messages are already Spanish ("Value error, ...").
        message = str(error.get("msg", ""))
        return message.removeprefix("Value error, ") or "El valor no es válido."
    if kind == "assertion_error":
        return "El valor no es válido."
    return _MESSAGES.get(kind, "El valor no es válido.")


# Segments pydantic adds to a location that are not field names: the tag of a union member
# ("str", "int", "function-after[...]", "literal['a','b']").
_TYPE_TAGS = {"str", "int", "float", "bool", "none", "dict", "list", "tuple", "set", "bytes", "decimal"}


def field_name(loc: Sequence[Any]) -> str:
    """A pydantic location as the dotted field name clients show errors beside (`address.state`,
    `items.0.quantity`; a query parameter or header by its name; the whole body as `body`)."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source = parts.pop(0)
        if source == "header" and parts:
            return "-".join(w.capitalize() for w in str(parts[0]).split("-"))
        if source == "body" and parts and isinstance(parts[0], int) and len(parts) == 1:
            return "body"  # a JSON syntax error: the location is a character position
    names = [str(p) for p in parts if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS))]
    return ".".join(names) or "body"


def validation_field_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """One Spanish message per field (the first pydantic error of each field)."""
    out: dict[str, FieldError] = {}
    for error in errors:
        name = field_name(error.get("loc", ()))
        if name not in out:
            out[name] = FieldError(name, spanish_message(error))
    return list(out.values())


def validation_problem(errors: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return validation_body(validation_field_errors(errors))


def validation_body(field_errors: list[FieldError]) -> dict[str, Any]:
    """The 422 `validation_error` problem listing `field_errors`."""
    if len(field_errors) == 1:
        detail = f"Revise el campo «{field_errors[0].field}»: {field_errors[0].message}"
    elif field_errors:
        detail = "Revise los campos: " + ", ".join(f"«{e.field}»" for e in field_errors) + "."
    else:
        detail = "Los datos enviados no son válidos."
    return problem_body(
        status=422,
        code=ErrorCode.VALIDATION_ERROR.value,
        title="Datos no válidos",
        detail=detail,
        errors=field_errors,
    )


# ---------------------------------------------------------------------------------------------------
# HTTP errors raised by the framework (unknown route, wrong method, ...) and by code

_HTTP_CODES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Solicitud no válida", "La solicitud no se pudo interpretar."),
    401: (ErrorCode.INVALID_CREDENTIALS.value, "Credenciales incorrectas", "Inicie sesión para continuar."),
    403: ("forbidden", "Acceso denegado", "No tiene permiso para esta operación."),
    404: (ErrorCode.NOT_FOUND.value, "No encontrado", "La dirección solicitada no existe."),
    405: ("method_not_allowed", "Método no permitido", "Esta dirección no admite el método {method}."),
    406: ("not_acceptable", "Formato no disponible", "El formato solicitado no está disponible."),
    409: ("conflict", "Conflicto", "La operación entra en conflicto con el estado actual."),
    411: ("length_required", "Falta la longitud", "La solicitud debe indicar Content-Length."),
    413: (
        "payload_too_large",
        "Solicitud demasiado grande",
        "El cuerpo de la solicitud es demasiado grande.",
    ),
    415: ("unsupported_media_type", "Formato no admitido", "Envíe el cuerpo como application/json."),
    416: ("range_not_satisfiable", "Rango no válido", "El rango solicitado no existe en el archivo."),
    429: (ErrorCode.TOO_MANY_ATTEMPTS.value, "Demasiados intentos", "Espere un momento e intente de nuevo."),
    503: (
        "service_unavailable",
        "Servicio no disponible",
        "El servicio no está disponible; intente más tarde.",
    ),
}


def http_problem(status: int, detail: str | None = None, *, method: str = "") -> dict[str, Any]:
    code, title, default_detail = _HTTP_CODES.get(
        status,
        ("server_error", "Error del servidor", "Ocurrió un error inesperado; intente más tarde.")
        if status >= 500
        else ("http_error", "Solicitud no atendida", "La solicitud no pudo atenderse."),
    )
    return problem_body(
        status=status, code=code, title=title, detail=detail or default_detail.format(method=method)
    )


def _is_default_phrase(detail: Any, status: int) -> bool:
    """Starlette's default English reason phrase ("Not Found") is replaced by our Spanish text."""
    from http import HTTPStatus

    try:
        return detail is None or detail == HTTPStatus(status).phrase
    except ValueError:
        return detail is None


# ---------------------------------------------------------------------------------------------------
# Handlers


async def _domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return domain_error_response(exc)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if "json" not in request.headers.get("content-type", ""):
        # A body sent as a form or plain text fails as "not an object": say what is really wrong.
        errors = [
            {**e, "type": "content_type_json"} if tuple(e.get("loc", ())) == ("body",) else e for e in errors
        ]
    return problem_response(validation_problem(errors))


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI answers 400 "There was an error parsing the body" for bytes that are not UTF-8 JSON:
        # to the client that is bad input like any other, so it gets the same 422 in Spanish.
        body_error = {"loc": ("body",), "type": "json_invalid", "msg": str(exc.detail)}
        return problem_response(validation_problem([body_error]))
    detail = None if _is_default_phrase(exc.detail, exc.status_code) else str(exc.detail)
    body = http_problem(exc.status_code, detail, method=request.method)
    return problem_response(body, headers=exc.headers)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # The log gets where it failed (never headers, query, body nor exception messages: they may carry
    # secrets); the client gets no internals.
    log.error("unexpected error answering %s %s\n%s", request.method, request.url.path, describe_for_log(exc))
    return problem_response(http_problem(500))


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
