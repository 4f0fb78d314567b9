"""The edge of the app (cmdesk/server/api/resilience.py): version headers and gates, and the 503 of a
database that is away; `db.run` retrying an operation whose connection was lost before its commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import cmdesk
from cmdesk.domain import compat
from cmdesk.server import db
from cmdesk.server.api import resilience
from cmdesk.server.app import create_app
from cmdesk.server.settings import Settings
from tests.server.api.conftest import PASSWORD
from tests.server.helpers import make_distributor

OLD = {compat.DESKTOP_VERSION_HEADER: "0.0.9"}
NEW = {compat.DESKTOP_VERSION_HEADER: cmdesk.__version__}


def _signed_in(client: TestClient, factory: db.SessionFactory) -> dict[str, str]:
    actor = make_distributor(factory, email="ver@dist.mx", mobile="5544443333", password=PASSWORD)
    assert actor
    token = client.post("/v1/auth/token", json={"login": "ver@dist.mx", "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_every_answer_says_the_api_level_the_release_and_the_oldest_desktop(client, engine):
    factory = db.session_factory(engine)
    bearer = _signed_in(client, factory)
    answers = [
        client.get("/v1/health"),
        client.get("/v1/clients", headers=bearer),
        client.get("/v1/clients"),  # 401
        client.get("/v1/no-such-thing"),  # 404
        client.post("/v1/clients", json={"nombre": 1}, headers=bearer),  # 422
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 422]
    for answer in answers:
        assert answer.headers[compat.API_LEVEL_HEADER] == str(compat.API_LEVEL)
        assert answer.headers[compat.SERVER_VERSION_HEADER] == cmdesk.__version__
        assert answer.headers[compat.MIN_DESKTOP_HEADER] == ""


def _app(engine: Engine, tmp_path: Path, **settings: Any) -> TestClient:
    app = create_app(
        Settings(database_url="sqlite://", software_store=tmp_path / "f", **settings), engine=engine
    )
    return TestClient(app)


def test_a_desktop_older_than_the_minimum_may_still_sign_in_and_update_itself(engine, tmp_path):
    with _app(engine, tmp_path, min_desktop_version="0.1.0") as client:
        bearer = _signed_in(client, db.session_factory(engine))
        assert client.get("/v1/health").headers[compat.MIN_DESKTOP_HEADER] == "0.1.0"
        refused = client.get("/v1/clients", headers={**bearer, **OLD})
        assert refused.status_code == 426
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert body["code"] == compat.UPDATE_REQUIRED_CODE
        assert body["title"] == "Actualización necesaria"
        assert "0.1.0" in body["detail"] and "0.0.9" in body["detail"] and "Actualice" in body["detail"]
        assert (body["min_version"], body["your_version"]) == ("0.1.0", "0.0.9")
        # Known by its User-Agent too (desktops from before the version header).
        agent = client.get("/v1/clients", headers={**bearer, "User-Agent": "cmdesk/0.0.9"})
        assert agent.status_code == 426
        # What it still may do: health, sign in, who am I, the software catalog (its update).
        login = client.post(
            "/v1/auth/token", json={"login": "ver@dist.mx", "password": PASSWORD}, headers=OLD
        )
        assert login.status_code == 200
        for path in ("/v1/health", "/v1/me", "/v1/software"):
            assert client.get(path, headers={**bearer, **OLD}).status_code == 200, path
        # The current desktop, and anything that is not a desktop (an invoicing program), are served.
        assert client.get("/v1/clients", headers={**bearer, **NEW}).status_code == 200
        assert client.get("/v1/clients", headers=bearer).status_code == 200


def test_a_route_whose_contract_changed_refuses_only_older_desktops(engine, tmp_path):
    gates = {"POST /v1/clients/tags": "0.2.0", "PATCH /v1/clients/{client_id}": "0.2.0"}
    with _app(engine, tmp_path, desktop_requirements=gates) as client:
        bearer = _signed_in(client, db.session_factory(engine))
        made = client.post(
            "/v1/clients", json={"name": "Uno", "rfc": "XAXX010101000"}, headers={**bearer, **OLD}
        )
        assert made.status_code == 201, made.text  # not gated: the older desktop keeps working
        cid = made.json()["client"]["id"]
        tags = client.post(
            "/v1/clients/tags", json={"client_ids": [cid], "favorite": True}, headers={**bearer, **OLD}
        )
        assert tags.status_code == 426 and tags.json()["min_version"] == "0.2.0"
        edit = client.patch(f"/v1/clients/{cid}", json={"phone": "5512345678"}, headers={**bearer, **OLD})
        assert edit.status_code == 426
        assert client.get(f"/v1/clients/{cid}", headers={**bearer, **OLD}).status_code == 200
        newer = {compat.DESKTOP_VERSION_HEADER: "0.2.0"}
        assert (
            client.post(
                "/v1/clients/tags", json={"client_ids": [cid], "favorite": True}, headers={**bearer, **newer}
            ).status_code
            == 200
        )


def test_requirements_are_checked_when_the_app_is_made():
    with pytest.raises(ValueError):
        resilience.requirements({"/v1/clients": "0.2.0"})  # no method
    with pytest.raises(ValueError):
        resilience.requirements({"POST /v1/clients": "dos"})
    with pytest.raises(ValueError):
        resilience.Resilience(lambda *_a: None, min_desktop_version="último")  # type: ignore[arg-type,return-value]
    (one,) = resilience.requirements({"patch /v1/clients/{client_id}": "1.2"})
    assert one.matches("PATCH", "/v1/clients/abc") and not one.matches("PATCH", "/v1/clients/abc/x")


def test_a_database_that_is_away_answers_503_with_retry_after(tmp_path: Path):
    """Nothing listens where the database should be: every request that needs it answers a retryable
    503 in Spanish (never a 500), and the requests that do not need it are served."""
    engine = db.create_db_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    try:
        with _app(engine, tmp_path) as client:
            answers = [
                client.post("/v1/auth/token", json={"login": "a@b.mx", "password": "x12345678"}),
                client.post(
                    "/v1/stamping/consume",
                    json={"emitter_rfc": "EKU9003173C9", "cfdi_uuid": "0f0e0d0c-0000-4000-8000-000000000001"},
                    auth=("CTI1", "secreto123"),
                ),
            ]
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.headers["Retry-After"] == "2"
                assert answer.headers[compat.API_LEVEL_HEADER] == str(compat.API_LEVEL)
                body = answer.json()
                assert body["code"] == "service_unavailable"
                assert body["title"] == "Servicio no disponible"
                assert "base de datos" in body["detail"] and body["retry_after"] == 2
                assert "nobody" not in answer.text
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_run_retries_an_operation_whose_connection_died_before_the_commit(engine, db_kind):
    factory = db.session_factory(engine)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS restart_probe (n int)"))
        c.execute(text("DELETE FROM restart_probe"))
    # Every pooled connection dies (as in a restart) while idle in the pool.
    with factory() as s:
        s.execute(text("SELECT 1"))
    with engine.connect() as killer:
        killer.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
            )
        )
    calls = []

    def insert(session: Session) -> int:
        calls.append(1)
        session.execute(text("INSERT INTO restart_probe VALUES (1)"))
        return 7

    assert db.run(factory, insert) == 7
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM restart_probe")).scalar() == 1  # applied once
    engine.dispose()  # the other connections it killed stay out of the shared pool


@pytest.mark.postgres_only
def test_run_never_retries_a_connection_lost_during_the_commit(engine, db_kind):
    """The commit may have happened: running the operation again could apply it twice."""
    # The pool is shared between tests: a connection an earlier test killed must not be the one
    # handed out here, or the operation would (rightly) be retried before it reached the commit.
    engine.dispose()
    factory = db.session_factory(engine)
    calls = []

    def lose_at_commit(session: Session) -> None:
        calls.append(1)
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()

        @event.listens_for(session, "before_commit", once=True)
        def kill(_session: Session) -> None:
            with engine.connect() as killer:
                # pg_terminate_backend only signals: wait until the backend is gone, so the COMMIT
                # cannot slip through before it dies.
                killer.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})

    with pytest.raises(OperationalError) as raised:
        db.run(factory, lose_at_commit)
    assert db.is_disconnect(raised.value)
    assert resilience.database_unavailable(raised.value)
    assert calls == [1]
