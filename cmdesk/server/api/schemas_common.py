"""Pydantic pieces every router shares: the request base model, the problem schema (for OpenAPI) and
the list answer.

Endpoints return plain dicts from the operations and annotate their return type (`-> dict[str, Any]`):
FastAPI then serializes through pydantic, which writes UTC times as ISO 8601 with `Z`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are refused (422), so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


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
