"""Every error is RFC 9457 problem+json with Spanish text; request validation speaks Spanish per field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.testclient import TestClient
from pydantic import Field

from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.server.api import errors
from cmdesk.server.api.deps import IfMatch, Pagination, decode_cursor, encode_cursor, list_answer
from cmdesk.server.api.schemas_common import RequestModel

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


class Address(RequestModel):
    state: Annotated[str, Field(max_length=5)]


class Item(RequestModel):
    quantity: Annotated[int, Field(gt=0)]


class Body(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=10)]
    code: Annotated[str, Field(min_length=3)] = "abc"
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    asset: Literal["stamps", "points"] = "stamps"
    favorite: bool = False
    address: Address | None = None
    items: list[Item] = []


def _test_router() -> APIRouter:
    router = APIRouter()

    @router.post("/test/body")
    def body(data: Body) -> dict[str, Any]:
        return data.model_dump()

    @router.get("/test/query")
    def query(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        return {"limit": limit}

    @router.get("/test/domain/{code}")
    def domain(code: str) -> dict[str, Any]:
        if code == "version_conflict":
            raise DomainError(
                ErrorCode.VERSION_CONFLICT,
                "Otro usuario cambió el cliente.",
                extra={"current": {"id": "c1", "version": 4}},
            )
        if code == "validation_error":
            raise validation_error({"rfc": "El RFC no es válido.", "email": "Escriba un correo."})
        raise DomainError(ErrorCode(code), "Texto del dominio.")

    @router.get("/test/http")
    def http() -> dict[str, Any]:
        raise HTTPException(409, "Conflicto explicado en español.")

    @router.get("/test/boom")
    def boom() -> dict[str, Any]:
        raise RuntimeError("password=hunter2 internals")

    @router.get("/test/list")
    def listing(page: Pagination) -> dict[str, Any]:
        return list_answer([{"limit": page.limit}], page.cursor)

    @router.patch("/test/if-match")
    def if_match(version: IfMatch) -> dict[str, Any]:
        return {"version": version}

    return router


@pytest.fixture
def test_app(app: FastAPI) -> FastAPI:
    app.include_router(_test_router())
    return app


@pytest.fixture
def tc(test_app: FastAPI):
    with TestClient(test_app, raise_server_exceptions=False) as c:
        yield c


def problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"https://cmdesk.mx/problems/{code}"
    return body


def test_unknown_route_is_a_spanish_404(tc):
    body = problem(tc.get("/v1/no-such-thing"), 404, "not_found")
    assert body["title"] == "No encontrado"
    assert body["detail"] == "La dirección solicitada no existe."


def test_wrong_method_is_a_405_with_allow(tc):
    response = tc.put("/v1/health")
    body = problem(response, 405, "method_not_allowed")
    assert "PUT" in body["detail"]
    assert "GET" in response.headers["allow"]


def test_401_problem(tc):
    response = tc.get("/v1/me")
    body = problem(response, 401, "invalid_credentials")
    assert body["title"] == "Credenciales incorrectas"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({}, "name", "Este campo es obligatorio."),
        ({"name": ""}, "name", "Este campo es obligatorio."),
        ({"name": "x" * 11}, "name", "Admite como máximo 10 caracteres."),
        ({"name": "a", "code": "ab"}, "code", "Debe tener al menos 3 caracteres."),
        ({"name": 5}, "name", "Debe ser un texto."),
        ({"name": "a", "quantity": "muchos"}, "quantity", "Debe ser un número entero."),
        ({"name": "a", "quantity": 1.5}, "quantity", "Debe ser un número entero, sin decimales."),
        ({"name": "a", "quantity": 0}, "quantity", "Debe ser mayor o igual que 1."),
        ({"name": "a", "quantity": 1001}, "quantity", "Debe ser menor o igual que 1000."),
        ({"name": "a", "asset": "gold"}, "asset", "Valor no permitido; use uno de: 'stamps' o 'points'."),
        ({"name": "a", "favorite": "quizá"}, "favorite", "Debe ser verdadero o falso."),
        ({"name": "a", "address": {"state": "Jalisco"}}, "address.state", "Admite como máximo 5 caracteres."),
        ({"name": "a", "address": "Jalisco"}, "address", "Debe ser un objeto JSON."),
        (
            {"name": "a", "items": [{"quantity": 1}, {"quantity": 0}]},
            "items.1.quantity",
            "Debe ser mayor que 0.",
        ),
        ({"name": "a", "items": {}}, "items", "Debe ser una lista."),
        ({"name": "a", "extra": 1}, "extra", "Este campo no se admite."),
        ([], "body", "Debe ser un objeto JSON."),
    ],
)
def test_validation_errors_in_spanish(tc, payload, field, message):
    body = problem(tc.post("/test/body", json=payload), 422, "validation_error")
    assert body["title"] == "Datos no válidos"
    assert {"field": field, "message": message} in body["errors"]
    assert field in body["detail"]


def test_one_message_per_field(tc):
    body = problem(
        tc.post("/test/body", json={"name": 5, "quantity": 0, "asset": "x"}), 422, "validation_error"
    )
    fields = [e["field"] for e in body["errors"]]
    assert sorted(fields) == ["asset", "name", "quantity"]
    assert body["detail"].startswith("Revise los campos:")


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"{bad json", "application/json", "El cuerpo de la solicitud no es JSON válido."),
        (
            b"name=a",
            "application/x-www-form-urlencoded",
            "Envíe el cuerpo como JSON (Content-Type: application/json).",
        ),
        (b"", "application/json", "Este campo es obligatorio."),
    ],
)
def test_body_that_is_not_json(tc, content, content_type, message):
    body = problem(
        tc.post("/test/body", content=content, headers={"content-type": content_type}),
        422,
        "validation_error",
    )
    assert body["errors"][0] == {"field": "body", "message": message}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "Debe ser mayor o igual que 1."),
        ("limit=abc", "Debe ser un número entero."),
        ("limit=5000", "Debe ser menor o igual que 1000."),
    ],
)
def test_query_validation(tc, query, message):
    body = problem(tc.get("/test/query?" + query), 422, "validation_error")
    assert body["errors"] == [{"field": "limit", "message": message}]


def test_domain_errors_keep_code_status_and_text(tc):
    for code in ErrorCode:
        if code in (ErrorCode.VALIDATION_ERROR, ErrorCode.VERSION_CONFLICT):
            continue
        body = problem(tc.get(f"/test/domain/{code.value}"), DomainError(code, "").status, code.value)
        assert body["detail"] == "Texto del dominio."
        assert body["title"] == DomainError(code, "").title


def test_version_conflict_carries_the_current_resource(tc):
    body = problem(tc.get("/test/domain/version_conflict"), 412, "version_conflict")
    assert body["current"] == {"id": "c1", "version": 4}


def test_domain_validation_error_lists_fields(tc):
    body = problem(tc.get("/test/domain/validation_error"), 422, "validation_error")
    assert body["errors"] == [
        {"field": "rfc", "message": "El RFC no es válido."},
        {"field": "email", "message": "Escriba un correo."},
    ]


def test_http_exception_with_a_detail(tc):
    body = problem(tc.get("/test/http"), 409, "conflict")
    assert body["detail"] == "Conflicto explicado en español."


def test_unexpected_error_is_a_500_without_internals(tc, caplog):
    response = tc.get("/test/boom")
    body = problem(response, 500, "server_error")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["title"] == "Error del servidor"
    assert "RuntimeError" in caplog.text  # the traceback is logged


def test_pagination_defaults_and_bounds(tc):
    assert tc.get("/test/list").json() == {"items": [{"limit": 100}], "next_cursor": None}
    assert tc.get("/test/list?limit=1000&cursor=abc").json() == {
        "items": [{"limit": 1000}],
        "next_cursor": "abc",
    }
    problem(tc.get("/test/list?limit=1001"), 422, "validation_error")
    problem(tc.get("/test/list?limit=0"), 422, "validation_error")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("3", 3), ('"3"', 3), ('W/"12"', 12), ("*", None), ("abc", "error")],
)
def test_if_match(tc, header, expected):
    response = tc.patch("/test/if-match", headers={} if header is None else {"If-Match": header})
    if expected == "error":
        body = problem(response, 422, "validation_error")
        assert body["errors"][0]["field"] == "If-Match"
    else:
        assert response.json() == {"version": expected}


def test_cursor_helpers():
    cursor = encode_cursor(["2026-01-01T00:00:00Z", "abc"])
    assert decode_cursor(cursor, 2) == ["2026-01-01T00:00:00Z", "abc"]
    for bad in ("", "%%%", encode_cursor([1]), "bm90IGpzb24"):
        with pytest.raises(DomainError) as info:
            decode_cursor(bad, 2)
        assert info.value.errors[0].field == "cursor"


@pytest.mark.parametrize(
    ("loc", "name"),
    [
        (("body", "name"), "name"),
        (("body", "address", "state"), "address.state"),
        (("body", "items", 2, "quantity"), "items.2.quantity"),
        (("body", 17), "body"),
        (("body",), "body"),
        (("query", "limit"), "limit"),
        (("header", "idempotency-key"), "Idempotency-Key"),
        (("body", "color", "literal['red','blue']"), "color"),
        (("body", "value", "int"), "value"),
    ],
)
def test_field_names(loc, name):
    assert errors.field_name(loc) == name
