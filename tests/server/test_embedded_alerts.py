"""The desktop's embedded server evaluates low-balance alerts itself (its lifespan is off, so it
starts the evaluator on its own), on SQLite and PostgreSQL: a CTI stamped dry is alerted without any
other process, and stopping the server stops the evaluator."""

from __future__ import annotations

import time
import uuid

import requests
from sqlalchemy import select

from cmdesk.domain.enums import Asset
from cmdesk.models import Alert
from cmdesk.server import db
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.settings import Settings
from tests.server.helpers import fund_cti, give, make_client, make_distributor


def test_the_embedded_server_raises_alerts_by_itself(engine, factory, tmp_path) -> None:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 100)
    made = make_client(factory, actor)
    cti, password = made["stamping_account"]["id"], made["password"]
    fund_cti(factory, actor, cti, 3)
    settings = Settings(
        database_url=str(engine.url),
        software_store=tmp_path / "files",
        mail_sender=False,
        alerts_interval_seconds=0.2,
    )
    server = EmbeddedServer(str(engine.url), engine=engine, settings=settings, prepare=None)
    server.start()
    try:
        evaluator = server._app.state.alert_evaluator
        assert evaluator is not None and evaluator._thread is not None and evaluator._thread.is_alive()
        http = requests.Session()
        http.trust_env = False
        for _ in range(3):
            r = http.post(
                f"{server.url}/v1/stamping/consume",
                json={"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())},
                auth=(cti, password),
                timeout=30,
            )
            assert r.status_code == 200, r.text
        # A round may run between two of the stamps: the days-left alert can come a round before the
        # balance's, so wait for the balance's itself.
        deadline = time.monotonic() + 30
        found: list[Alert] = []
        while "balance" not in {a.threshold_kind for a in found}:
            assert time.monotonic() < deadline, f"the embedded server raised no balance alert: {found}"
            time.sleep(0.2)
            with db.transaction(factory) as s:
                found = list(s.scalars(select(Alert).where(Alert.account_id == actor.account_id)))
        assert {a.subject_id for a in found} == {cti}
    finally:
        server.stop()
    assert evaluator._thread is None
