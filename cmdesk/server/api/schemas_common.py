"""Pydantic pieces every router shares: the request base model, the problem schema (for OpenAPI) and
the list answer.

Endpoints return plain dicts from the operations and annotate their return type (`-> dict[str, Any]`):
FastAPI then serializes through pydantic, which writes UTC times as ISO 8601 with `Z`.
"""

from __future__ import annotations

from typing import Any

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
