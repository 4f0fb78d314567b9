"""Pydantic pieces every router shares: the request base model, the problem schema (for OpenAPI) and
the list answer.

Endpoints return plain dicts from the operations and annotate their return type (`-> dict[str, Any]`):
FastAPI then serializes through pydantic, which writes UTC times as ISO 8601 with `Z`.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cmdesk.server.api.strict import check_text


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are refused (422), so a typo never passes silently.

    Strict input, for every field of every body (validators inherited by every subclass, nested
    models included): no control characters in any string (`strict.check_text`); an integer field
    takes only a JSON integer (not `"2"`, `true` nor `1e2`) and a boolean only `true`/`false`.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        kind = _field_kinds(cls).get(info.field_name or "")
        if value is None or kind is None:
            return value
        if isinstance(kind, tuple):  # a list of integers or booleans: each item as strict
            if isinstance(value, list):
                for item in value:
                    _check_scalar(kind[0], item)
            return value
        _check_scalar(kind, value)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return check_text(value)


def _check_scalar(kind: type, value: Any) -> None:
    if kind is int and type(value) is not int:
        if type(value) is float:
            raise ValueError("Debe ser un número entero, sin decimales.")
        raise ValueError("Debe ser un número entero.")
    if kind is bool and type(value) is not bool:
        raise ValueError("Debe ser verdadero o falso.")


_KINDS: dict[type, dict[str, Any]] = {}


def _accepted(annotation: Any, leaf: Callable[[Any, Any], set[Any]]) -> set[Any]:
    """`leaf(annotation, origin)` of each alternative a field annotation accepts, through
    `Annotated`, `Optional` and unions."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _accepted(get_args(annotation)[0], leaf)
    if origin is Union or origin is types.UnionType:
        out: set[Any] = set()
        for arg in get_args(annotation):
            out |= _accepted(arg, leaf)
        return out
    return leaf(annotation, origin)


def _base_types(annotation: Any) -> set[Any]:
    """The plain types a field annotation accepts, through `Annotated`, `Optional` and unions."""
    return _accepted(
        annotation,
        lambda a, origin: {type(v) for v in get_args(a)} if origin is Literal else {origin or a},
    )


def _field_kinds(model: type[BaseModel]) -> dict[str, Any]:
    """Per field: `int` or `bool` when that is the only type it takes (besides null); `(int,)` or
    `(bool,)` for a list of them; else None."""
    kinds = _KINDS.get(model)
    if kinds is None:
        kinds = {}
        for name, info in model.model_fields.items():
            accepted = _base_types(info.annotation) - {type(None)}
            kind: Any = next(iter(accepted)) if accepted in ({int}, {bool}) else None
            if accepted == {list}:
                items = _list_item_types(info.annotation)
                kind = (next(iter(items)),) if items in ({int}, {bool}) else None
            kinds[name] = kind
        _KINDS[model] = kinds
    return kinds


def _list_item_types(annotation: Any) -> set[Any]:
    """The plain types the items of a `list[...]` field accept (through `Annotated`, `Optional`)."""

    def items(a: Any, origin: Any) -> set[Any]:
        args = get_args(a)
        return _base_types(args[0]) if origin is list and args else set()

    return _accepted(annotation, items)


class FieldErrorOut(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error answers (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://cmdesk.mx/problems/validation_error"])
    title: str = Field(examples=["Datos no válidos"])
    status: int = Field(examples=[422])
    detail: str
    code: str = Field(examples=["validation_error"])
    errors: list[FieldErrorOut] = Field(default_factory=list)


class ListAnswer(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route's OpenAPI: the listed error statuses answer a `Problem`."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}, "description": "Error"}
        for status in statuses
    }


MailKind = Literal["confirm_email", "invitation", "password_reset", "expiry_reminder", "notice"]
MailStatus = Literal["queued", "sending", "sent", "failed", "cancelled"]


class Mail(BaseModel):
    """A mail as the desktop shows it: when it went out, or why not (never its link)."""

    id: str
    kind: MailKind
    kind_label: str
    to: str
    subject: str
    status: MailStatus
    status_label: str = Field(description="En cola, En espera de reintento, Enviado, No se pudo enviar…")
    attempts: int
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    next_attempt_at: dt.datetime | None = Field(description="Cuándo se reintenta (sólo en cola).")
    sent_at: dt.datetime | None
    last_error: str | None = Field(description="La última respuesta del servidor de correo, si falló.")
    account_id: str | None
    invitation_id: str | None
