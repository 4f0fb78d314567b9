"""`/v1/health`, the app factory's basics, and the embedded server on a random loopback port."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

import cmdesk
from cmdesk.domain import compat
from cmdesk.server import db
from cmdesk.server.api import ROUTERS
from cmdesk.server.app import create_app
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.settings import Settings


def test_health(client):
    before = dt.datetime.now(dt.UTC)
    response = client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "database")} == {"status": "ok", "database": "ok"}
    # What a desktop negotiates with: the server's clock (ms), release, API level, oldest desktop.
    server_time = dt.datetime.fromisoformat(body["server_time"].replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=1) <= server_time <= dt.datetime.now(dt.UTC)
    assert body["server_version"] == cmdesk.__version__
    assert body["api_version"] == compat.API_LEVEL
    assert body["min_desktop_version"] is None


def test_health_without_a_database_is_503(tmp_path: Path):
    engine = db.create_db_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    app = create_app(Settings(database_url="sqlite://", software_store=tmp_path), engine=engine)
    with TestClient(app) as client:
        response = client.get("/v1/health")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["database"] == "unavailable"
    assert "base de datos" in body["detail"]
    assert "nobody" not in response.text  # no connection details
    engine.dispose()


def test_openapi_describes_the_app(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "cmdesk-server"
    assert spec["info"]["version"] == cmdesk.__version__
    for path in (
        "/v1/health",
        "/v1/auth/token",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/me",
        "/v1/sync/changes",
    ):
        assert path in spec["paths"], path


def test_every_listed_router_is_included(client):
    import importlib

    spec_paths = set(client.get("/openapi.json").json()["paths"])
    assert "cmdesk.server.api.health" in ROUTERS
    for name in ROUTERS:
        for route in importlib.import_module(name).router.routes:
            assert route.path in spec_paths, (name, route.path)


def test_settings_read_the_environment_and_hide_the_secret(monkeypatch):
    monkeypatch.setenv("CMDESK_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("CMDESK_SECRET_KEY", "super-secreto")
    monkeypatch.setenv("CMDESK_ACCESS_TOKEN_MINUTES", "5")
    settings = Settings()
    assert settings.database_url == "sqlite:///x.db"
    assert settings.access_token_minutes == 5
    assert settings.refresh_token_days == 30
    assert settings.login_attempts_per_minute == 5
    assert settings.idempotency_retention_days == 90
    assert settings.cors_origins == []
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "super-secreto"
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "super-secreto" not in text
    assert settings.software_store.name == "files" and settings.software_store.parent.name == "server"


def test_cors_only_when_configured(engine, tmp_path):
    plain = create_app(Settings(database_url="sqlite://", software_store=tmp_path), engine=engine)
    with TestClient(plain) as c:
        assert (
            "access-control-allow-origin"
            not in c.get("/v1/health", headers={"Origin": "https://x.mx"}).headers
        )
    cors = create_app(
        Settings(database_url="sqlite://", software_store=tmp_path, cors_origins=["https://x.mx"]),
        engine=engine,
    )
    with TestClient(cors) as c:
        response = c.get("/v1/health", headers={"Origin": "https://x.mx"})
        assert response.headers["access-control-allow-origin"] == "https://x.mx"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_embedded_server_on_a_random_port(tmp_path: Path):
    url = f"sqlite:///{(tmp_path / 'embedded.db').as_posix()}"
    server = EmbeddedServer(url)
    with pytest.raises(RuntimeError):
        _ = server.url
    server.start()
    try:
        assert server.running
        assert server.url.startswith("http://127.0.0.1:")
        assert server.port != 0
        http = requests.Session()
        http.trust_env = False
        assert http.get(server.url + "/v1/health", timeout=5).json()["status"] == "ok"
        response = http.post(
            server.url + "/v1/auth/token", json={"login": "a@b.mx", "password": "x1"}, timeout=5
        )
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        port = server.port
    finally:
        server.stop()
    assert not server.running
    assert not _port_open(port)
    # Two servers at once get different ports.
    with EmbeddedServer(url) as one, EmbeddedServer(url) as two:
        assert one.port != two.port
