"""Strict input on every route, driven by the OpenAPI document through schemathesis: a valid request is
generated for each operation, then control characters are put into every string it can carry (each
path and query parameter, each string of the body, nested and in lists), integers and booleans get
loose values (`"2"`, `true`, `1e2`, `false`), and list cursors get values no server wrote (overflowing
integers included). Every such request must answer 422 naming the field — never 500 —, on SQLite and
on PostgreSQL (where NUL used to reach the database and answer 500)."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from cmdesk.domain.enums import Asset
from cmdesk.server.api.strict import CONTROL_MESSAGE
from tests.server.helpers import give, make_client, make_distributor

PASSWORD = "secreto123"
# C0 (NUL first), ESC, DEL, C1; a lone surrogate only in JSON bodies (a URL cannot carry one).
CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x1f"]
BODY_CONTROLS = [*CONTROLS, "\ud800"]
LOOSE_INTEGERS = ["2", True, 100.0, False]  # 100.0 is what JSON 1e2 decodes to
LOOSE_BOOLEANS = ["true", 1, 0, "yes"]

Path = tuple[str | int, ...]


@pytest.fixture
def signed_in(app, client, factory) -> dict[str, str]:
    actor = make_distributor(factory, email="strict@dist.mx", mobile="5588776655", password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 20)
    made = make_client(factory, actor)
    REAL_IDS.update(client_id=made["client"]["id"], cti_id=made["stamping_account"]["id"])
    token = client.post("/v1/auth/token", json={"login": "strict@dist.mx", "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


# Ids of the signed-in distributor's own records, for path parameters (so a check behind the lookup is
# reached; a made-up id answers 404 first).
REAL_IDS: dict[str, str] = {}


def operations(app) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            yield result.ok()


_CASES: dict[tuple[str, str], Any] = {}


def valid_case(operation) -> Any:
    """One request schemathesis generates as valid for `operation` (the first example, not shrunk;
    the same for the whole session)."""
    key = (operation.method, operation.path)
    if key not in _CASES:
        found: list[Any] = []

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        @settings(
            max_examples=1,
            phases=[Phase.generate],
            database=None,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def grab(case: Any) -> None:
            found.append(case)

        grab()
        _CASES[key] = found[0]
    case = _CASES[key]
    return case


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["x-bundled"][node["$ref"].rsplit("/", 1)[1]]
    return node


def leaves(node: dict[str, Any], root: dict[str, Any], path: Path = ()) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every scalar a body schema allows, with its path (lists through their first element)."""
    node = _resolve(node, root)
    for option in node.get("anyOf", []):
        option = _resolve(option, root)
        if option.get("type") != "null":
            yield from leaves(option, root, path)
    if node.get("type") == "object" or "properties" in node:
        for name, sub in node.get("properties", {}).items():
            yield from leaves(sub, root, (*path, name))
    elif node.get("type") == "array":
        yield from leaves(node["items"], root, (*path, 0))
    elif node.get("type") in ("string", "integer", "boolean"):
        yield path, node


def put(body: Any, path: Path, value: Any) -> Any:
    """`body` with `value` at `path`, creating the objects and lists on the way."""
    body = copy.deepcopy(body) if isinstance(body, dict) else {}
    node = body
    for step, nxt in itertools.pairwise(path):
        if isinstance(step, int):
            while len(node) <= step:
                node.append({} if not isinstance(nxt, int) else [])
            if not isinstance(node[step], dict | list):
                node[step] = {} if not isinstance(nxt, int) else []
            node = node[step]
        else:
            if not isinstance(node.get(step), dict | list):
                node[step] = [] if isinstance(nxt, int) else {}
            node = node[step]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return body


def dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)


def reported(body: dict[str, Any], field: str) -> list[dict[str, str]]:
    """The field errors of a 422 that concern `field` (or the list or object holding it)."""
    return [e for e in body["errors"] if field == e["field"] or field.startswith(e["field"] + ".")]


def call(client, case, headers, *, path_parameters=None, query=None, body=None):
    values = path_parameters if path_parameters is not None else {
        name: REAL_IDS.get(name, value) for name, value in (case.path_parameters or {}).items()
    }
    path = case.operation.path.format(**{k: quote(str(v), safe="") for k, v in values.items()})
    # Every POST that needs one gets an Idempotency-Key, so the body is what is judged.
    headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    kwargs: dict[str, Any] = {"headers": headers, "params": query if query is not None else case.query}
    if case.operation.body:
        # ASCII JSON: a lone surrogate travels as its \ud800 escape, as any client can send it.
        kwargs["content"] = json.dumps(body if body is not None else case.body).encode()
        kwargs["headers"]["Content-Type"] = "application/json"
    return client.request(case.method.upper(), path, **kwargs)


def test_control_characters_are_refused_on_every_route(app, client, signed_in):
    tried = Counter()
    failures: list[str] = []
    control = itertools.cycle(CONTROLS)
    body_control = itertools.cycle(BODY_CONTROLS)
    for operation in operations(app):
        name = f"{operation.method.upper()} {operation.path}"
        case = valid_case(operation)
        targets: list[tuple[str, dict[str, Any]]] = []
        # Each place gets NUL (the case) and one more control character.
        for p in operation.path_parameters:
            for char in ("\x00", next(control)):
                params = {**(case.path_parameters or {}), p.name: "id" + char + "x"}
                targets.append(("path", {"path_parameters": params}))
        for q in operation.query:
            if "string" in json.dumps(q.definition.get("schema", {})):
                for char in ("\x00", next(control)):
                    targets.append((q.name, {"query": {**(case.query or {}), q.name: "a" + char + "b"}}))
        for b in operation.body:
            for path, node in leaves(b.resolved_schema, b.resolved_schema):
                if node.get("type") == "string":
                    for char in ("\x00", next(body_control)):
                        targets.append((dotted(path), {"body": put(case.body, path, "a" + char + "b")}))
        for field, change in targets:
            response = call(client, case, signed_in, **change)
            tried[name] += 1
            if response.status_code != 422 or "problem+json" not in response.headers.get("content-type", ""):
                failures.append(f"{name} {field}: {response.status_code} {response.text[:200]}")
                continue
            if case.method.upper() != "HEAD" and not reported(response.json(), field):
                failures.append(f"{name} {field}: 422 without the field: {response.text[:300]}")
    total = sum(tried.values())
    print(f"\ncontrol characters: {total} requests on {len(tried)} operations, all 422")
    assert len(tried) > 60 and total > 400
    assert not failures, "\n".join(failures)


def test_plain_string_fields_say_why(client, signed_in):
    body = {"name": "Cliente\x00", "rfc": "EKU9003173C9", "address": {"city": "Gua\x1bdalajara"}}
    response = client.post("/v1/clients", json=body, headers=signed_in)
    assert response.status_code == 422
    assert {"field": "name", "message": CONTROL_MESSAGE} in response.json()["errors"]
    assert {"field": "address.city", "message": CONTROL_MESSAGE} in response.json()["errors"]
    # Line breaks and tabs are text, not control: multi-line comments keep working.
    body = {"name": "Cliente\tdos", "rfc": "EKU9003173C9", "other": {"comments": "línea 1\r\nlínea 2"}}
    assert client.post("/v1/clients", json=body, headers=signed_in).status_code == 201


def test_integers_and_booleans_are_strict_on_every_route(app, client, signed_in):
    tried = 0
    failures: list[str] = []
    for operation in operations(app):
        if not operation.body:
            continue
        case = valid_case(operation)
        for b in operation.body:
            for path, node in leaves(b.resolved_schema, b.resolved_schema):
                kind = node.get("type")
                if kind not in ("integer", "boolean"):
                    continue
                for value in LOOSE_INTEGERS if kind == "integer" else LOOSE_BOOLEANS:
                    response = call(client, case, signed_in, body=put(case.body, path, value))
                    tried += 1
                    if response.status_code != 422 or not reported(response.json(), dotted(path)):
                        failures.append(f"{operation.method.upper()} {operation.path} {dotted(path)}={value!r}: {response.status_code} {response.text[:200]}")
    print(f"\nloose numbers: {tried} requests, all 422")
    assert tried > 60
    assert not failures, "\n".join(failures)


def test_quantities_and_amounts_take_only_integers(client, signed_in, factory):
    target = {"type": "account", "id": "x"}
    for loose in LOOSE_INTEGERS:
        r = client.post("/v1/transfers", json={"asset": "stamps", "target": target, "quantity": loose}, headers={**signed_in, "Idempotency-Key": f"k{loose!r}"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity", r.text
        r = client.post("/v1/purchases", json={"package_id": "test_stamps_1", "quantity": loose}, headers={**signed_in, "Idempotency-Key": f"p{loose!r}"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity", r.text


def _cursor(values: Any) -> str:
    raw = json.dumps(values).encode() if not isinstance(values, bytes) else values
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


BAD_CURSORS = [
    _cursor([10**30]),
    _cursor([2**63]),
    _cursor([-1]),
    _cursor([1.5]),
    _cursor([True]),
    _cursor([None]),
    _cursor(["\u0000"]),
    _cursor([["nested"]]),
    _cursor(["2026-01-01T00:00:00", "x"]),  # a time without zone
    _cursor(["0001-01-01T00:00:00+01:00", "x"]),  # a time before year 1 in UTC
    _cursor(["9999-12-31T23:59:59-01:00", "x"]),  # after year 9999 in UTC
    _cursor([10**30, "x"]),
    _cursor(b"[1e999]"),
    _cursor(b"[NaN]"),
    "%%%",
    "x" * 200,
]


def test_list_cursors_never_answer_500(app, client, signed_in):
    tried = 0
    failures: list[str] = []
    for operation in operations(app):
        if not any(q.name == "cursor" for q in operation.query):
            continue
        case = valid_case(operation)
        for cursor in BAD_CURSORS:
            response = call(client, case, signed_in, query={**(case.query or {}), "cursor": cursor})
            tried += 1
            if response.status_code != 422 or response.json()["errors"][0]["field"] != "cursor":
                failures.append(f"{operation.path} cursor={cursor[:40]}: {response.status_code} {response.text[:200]}")
    print(f"\ncursors: {tried} requests, all 422")
    assert tried >= 10 * len(BAD_CURSORS)
    assert not failures, "\n".join(failures)


def test_headers_with_control_characters_are_refused(app):
    """Clients rarely can send them, servers behind proxies may: checked on the raw ASGI request."""
    from starlette.testclient import TestClient

    for name, value in [(b"idempotency-key", b"k\x00"), (b"if-match", b"3\x1b"), (b"x-anything", b"a\x7fb")]:
        answers: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any], answers: list[dict[str, Any]] = answers) -> None:
            answers.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": "/v1/health", "raw_path": b"/v1/health", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"test"), (name, value)], "client": ("127.0.0.1", 1), "server": ("test", 80),
        }
        with TestClient(app):  # lifespan up
            import anyio

            anyio.run(app, scope, receive, send)
        assert answers[0]["status"] == 422
        body = json.loads(answers[1]["body"])
        assert body["code"] == "validation_error" and body["errors"][0]["message"] == CONTROL_MESSAGE


def test_stamping_credentials_with_control_characters_are_refused(client):
    body = {"emitter_rfc": "EKU9003173C9", "cfdi_uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
    for user, password in [("CTI\x00", "Clave2026x"), ("CTI1", "Cla\x00ve2026"), ("CTI1", "Clave\x1b2026")]:
        r = client.post("/v1/stamping/consume", json=body, auth=(user, password))
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [{"field": "Authorization", "message": CONTROL_MESSAGE}]


def test_oversized_bodies_answer_413(client, signed_in, settings):
    big = {"name": "x", "rfc": "EKU9003173C9", "other": {"comments": "a" * (settings.max_body_bytes + 10)}}
    r = client.post("/v1/clients", json=big, headers=signed_in)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert r.headers["content-type"].startswith("application/problem+json")

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked
        yield b'{"name": "x", "rfc": "EKU9003173C9", "other": {"comments": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"a" * 65536
        yield b'"}}'

    r = client.post("/v1/clients", content=chunks(), headers={**signed_in, "Content-Type": "application/json"})
    assert r.status_code == 413
    # A chunked body under the limit goes through.
    r = client.post("/v1/clients", content=iter([b'{"name": "Chico", ', b'"rfc": "EKU9003173C9"}']), headers={**signed_in, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text


def test_every_request_list_has_a_documented_size_limit(app):
    """Each list a body may carry has a maximum (documented in the OpenAPI as maxItems)."""
    unbounded: list[str] = []

    def walk(node, root, path, where):
        node = _resolve(node, root)
        for option in node.get("anyOf", []):
            walk(option, root, path, where)
        for name, sub in node.get("properties", {}).items():
            walk(sub, root, (*path, name), where)
        if node.get("type") == "array":
            if "maxItems" not in node:
                unbounded.append(f"{where} {dotted(path)}")
            walk(node["items"], root, (*path, 0), where)

    for operation in operations(app):
        for b in operation.body:
            walk(b.resolved_schema, b.resolved_schema, (), operation.path)
    assert not unbounded, unbounded
