"""A fuzz run against a real `cmdesk-server` (2 workers, PostgreSQL, access log on), then its log is
searched for what must never be there: Argon2 hashes, passwords, CTI passwords, tokens, NIPs and the
signing key. Schemathesis generates requests for every operation (valid and invalid), and half of them
get a control character (NUL first among them) put into one of their strings. No answer may be 5xx.

Some requests carry secrets on purpose where a careless server would log them: the access token in a
query string, passwords and NIPs in bodies that are refused."""

from __future__ import annotations

import json
import uuid
import warnings
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdesk.domain.enums import Asset
from tests.server.helpers import give, make_client, make_distributor, server_on_new_database

pytestmark = pytest.mark.postgres_only

PASSWORD = "Fuzz0Secreto2026"
SECRET_KEY = "fuzz-run-signing-key-0123456789abcdef"
CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85"]
EXAMPLES = 12
# Fuzzing these would end the run's own session (logout) or only its throttle budget.
SKIP = {("POST", "/v1/auth/logout")}


@pytest.fixture
def server(pg_url, tmp_path):
    env = {"CMDESK_API_DOCS": "true", "CMDESK_SECRET_KEY": SECRET_KEY}
    with server_on_new_database(pg_url, tmp_path, workers=2, env=env, log_level="info") as running:
        yield running


def string_places(case: Any) -> list[tuple[str, Any]]:
    """(where, key path) of every string the case carries: path and query parameters, body strings."""
    places: list[tuple[str, Any]] = [("path", k) for k, v in (case.path_parameters or {}).items() if isinstance(v, str)]
    places += [("query", k) for k, v in (case.query or {}).items() if isinstance(v, str)]

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, str):
            places.append(("body", path))
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(case.body, ())
    return places


def inject(case: Any, pick: int, char: str) -> bool:
    places = string_places(case)
    if not places:
        return False
    where, key = places[pick % len(places)]
    if where == "path":
        case.path_parameters = {**case.path_parameters, key: case.path_parameters[key] + char}
    elif where == "query":
        case.query = {**case.query, key: char + case.query[key]}
    else:
        node = case.body
        for step in key[:-1]:
            node = node[step]
        node[key[-1]] = node[key[-1]][:1] + char + node[key[-1]][1:]
    return True


def test_fuzz_run_answers_no_5xx_and_its_log_holds_no_secret(server):
    proc, factory = server
    actor = make_distributor(factory, email="fuzz@dist.mx", mobile="5599887766", password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 100)
    give(factory, actor, Asset.POINTS, 100)
    made = make_client(factory, actor)
    cti, cti_password = made["stamping_account"]["id"], made["password"]
    login = requests.post(proc.url + "/v1/auth/token", json={"login": "fuzz@dist.mx", "password": PASSWORD}, timeout=60).json()
    token, refresh = login["access_token"], login["refresh_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    code = requests.post(
        proc.url + "/v1/top-up-codes", json={"asset": "stamps", "quantity": 5}, headers={**bearer, "Idempotency-Key": uuid.uuid4().hex}, timeout=60
    ).json()["code"]
    assert code.get("nip"), code
    secrets_ = {
        "argon2 hash": "$argon2",
        "password": PASSWORD,
        "CTI password": cti_password,
        "access token": token,
        "access token signature": token.rsplit(".", 1)[1],
        "refresh token": refresh,
        "NIP": f'"{code["nip"]}"',
        "top-up code": code["code"],
        "signing key": SECRET_KEY,
    }
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []

    # Secrets where a careless server would log them.
    for r in (
        requests.get(proc.url + "/v1/clients", params={"token": token, "q": PASSWORD + "\x00"}, headers=bearer, timeout=60),
        requests.post(proc.url + "/v1/auth/token", json={"login": "fuzz@dist.mx\x00", "password": PASSWORD}, timeout=60),
        requests.post(proc.url + "/v1/public/top-up-codes/redeem", json={"code": code["code"], "nip": code["nip"] + "\x00", "stamping_account_id": cti}, timeout=60),
        requests.post(proc.url + "/v1/stamping/consume", json={"emitter_rfc": "EKU9003173C9\x00", "cfdi_uuid": str(uuid.uuid4())}, auth=(cti, cti_password), timeout=60),
        requests.post(proc.url + "/v1/stamping-accounts/" + cti + "/password", json={"password": cti_password + "\x01"}, headers=bearer, timeout=60),
        requests.post(proc.url + "/v1/auth/refresh", json={"refresh_token": refresh + "\x00"}, timeout=60),
    ):
        statuses[r.status_code] += 1
        assert r.status_code == 422, r.text

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_url(proc.url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP:
            continue

        @given(case=operation.as_strategy(), pick=st.integers(0, 1000), char=st.sampled_from(CONTROLS), add=st.booleans())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def run(case: Any, pick: int, char: str, add: bool) -> None:
            injected = add and inject(case, pick, char)
            response = case.call(base_url=proc.url, headers={**bearer, "Idempotency-Key": uuid.uuid4().hex}, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} {response.status_code} {response.text[:200]}")
            elif injected and response.status_code not in (401, 403, 422, 429):
                server_errors.append(f"{case.method} {case.formatted_path}: control character accepted ({response.status_code})")

        run()

    proc.stop()
    log = proc.log_path.read_text(encoding="utf-8", errors="replace")
    tried = sum(statuses.values())
    print(f"\nfuzz: {tried} requests, statuses {dict(sorted(statuses.items()))}, log {len(log.splitlines())} lines")
    assert tried > 700
    assert not server_errors, "\n".join(server_errors)
    assert "POST /v1/auth/token" in log  # the access log was on: there was something to search
    found = {name: log.count(value) for name, value in secrets_.items() if value in log}
    assert not found, found
    assert "token=" not in log  # query strings are left out of the access log
    assert json.dumps(PASSWORD) not in log
