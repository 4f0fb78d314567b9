"""Operational hardening: logs never hold secrets, API docs only where wanted, the CLI's password
policy."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from cmdesk.server import cli, logs
from cmdesk.server.app import create_app
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.settings import Settings

SECRET = "Secreto$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"


def _record(name: str, msg: str, args: tuple, exc: BaseException | None = None) -> logging.LogRecord:
    logs.install()
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.getLogger(name).makeRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


def test_exceptions_are_logged_without_their_messages():
    try:
        try:
            raise ValueError(f"invalid literal: {SECRET!r}")
        except ValueError as inner:
            raise IntegrityError("INSERT INTO profiles (password_hash) VALUES (%(h)s)", {"h": SECRET}, inner) from inner
    except IntegrityError as exc:
        record = _record("cmdesk.server.api.errors", "unexpected error answering %s", ("POST /v1/x",), exc)
    text = logging.Formatter().format(record)
    assert SECRET not in text and "argon2" not in text
    assert "IntegrityError" in text and "ValueError" in text and "test_hardening.py" in text
    assert "INSERT INTO profiles (password_hash) VALUES (%(h)s)" in text  # the statement, no values


def test_the_desktops_own_logs_are_left_alone():
    try:
        raise ValueError("detalle útil")
    except ValueError as exc:
        record = _record("cmdesk.services.sync", "falló", (), exc)
    assert "detalle útil" in logging.Formatter().format(record)


def test_the_access_log_leaves_query_strings_out():
    record = _record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/v1/clients?token=abc&q=x", "1.1", 200))
    assert record.getMessage() == '127.0.0.1:5 - "GET /v1/clients HTTP/1.1" 200'


def test_engines_hide_sql_parameters(engine):
    assert engine.hide_parameters


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_api_docs_are_off_by_default(engine, path):
    assert Settings(database_url="sqlite://").api_docs is False
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as client:
        r = client.get(path)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    with TestClient(create_app(Settings(database_url="sqlite://", api_docs=True), engine=engine)) as client:
        assert client.get(path).status_code == 200


def test_api_docs_are_on_in_the_embedded_server(tmp_path):
    with EmbeddedServer(database_url=f"sqlite:///{(tmp_path / 'e.db').as_posix()}") as server:
        import requests

        assert requests.get(server.url + "/openapi.json", timeout=30).status_code == 200


def test_demo_turns_the_api_docs_on(monkeypatch):
    seen = {}
    monkeypatch.delenv("CMDESK_API_DOCS", raising=False)
    monkeypatch.setattr(cli, "cmd_seed", lambda args: 0)
    monkeypatch.setattr(cli, "cmd_run", lambda args: seen.setdefault("docs", Settings(database_url="sqlite://").api_docs) and 0)
    assert cli.main(["demo", "--db", "sqlite://"]) == 0
    assert seen["docs"] is True


@pytest.mark.parametrize("password", ["a", "12345678", "password1", "trustno1"])
def test_create_distributor_applies_the_password_policy(tmp_path, capsys, password):
    db_url = f"sqlite:///{(tmp_path / 'cli.db').as_posix()}"
    rc = cli.main(["create-distributor", "--db", db_url, "--email", "x@dist.mx", "--mobile", "5511111111", "--password", password, "--name", "X"])
    assert rc == 1
    assert "contraseña" in capsys.readouterr().err
    assert not (tmp_path / "cli.db").exists()  # refused before touching the database
    rc = cli.main(["create-distributor", "--db", db_url, "--email", "x@dist.mx", "--mobile", "5511111111", "--password", "Distribuidor2026", "--name", "X"])
    assert rc == 0
