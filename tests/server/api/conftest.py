"""Fixtures of the HTTP API tests: the app on the test database (SQLite and PostgreSQL), a client, and
sign-in headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cmdesk.server import security
from cmdesk.server.app import create_app
from cmdesk.server.settings import Settings

# Real Argon2 costs ~0.1 s a hash; these tests hash and verify hundreds of passwords.
security.configure_password_hashing(time_cost=1, memory_cost=1024, parallelism=1)

PASSWORD = "secreto123"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No background threads: the mail and alert tests run the sender and the evaluator themselves.
    # The API documentation is on here (schemathesis reads /openapi.json); production turns it off.
    return Settings(
        database_url="sqlite://",
        software_store=tmp_path / "files",
        mail_sender=False,
        mail_folder=tmp_path / "mail",
        alerts_evaluator=False,
        api_docs=True,
    )


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def sign_in(client: TestClient, login: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/auth/token", json={"login": login, "password": password, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def auth_headers(client: TestClient) -> Callable[..., dict[str, str]]:
    """`auth_headers(login, password)` → `{"Authorization": "Bearer ..."}` of a fresh session."""

    def make(login: str, password: str = PASSWORD, **extra: Any) -> dict[str, str]:
        return {"Authorization": "Bearer " + sign_in(client, login, password, **extra)["access_token"]}

    return make
