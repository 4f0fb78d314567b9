"""Alerts under load, over real HTTP: a `cmdesk-server` with two worker processes on PostgreSQL (two
evaluators sharing the lease) while threads stamp through the API (the fast path) and refill.

Each thread runs its CTI dry again and again: it stamps until `insufficient_balance`, waits until the
crossing's alert is listed, refills through `POST /v1/transfers` and goes on. Every crossing must be
alerted exactly once (never missed, never twice), and no message recorded twice."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select, update

from cmdesk.domain.enums import Asset
from cmdesk.models import Alert, AlertDelivery, StampingAccount
from cmdesk.server import db
from tests.server.helpers import give, make_client, make_distributor, server_on_new_database

pytestmark = pytest.mark.postgres_only

CTIS = 4
CYCLES = 3
STAMPS = 12


@pytest.fixture
def server(pg_url, tmp_path):
    with server_on_new_database(
        pg_url, tmp_path, workers=2, env={"CMDESK_ALERTS_INTERVAL_SECONDS": "0.2"}
    ) as running:
        yield running


def test_every_crossing_is_alerted_exactly_once(server):
    proc, factory = server
    actor = make_distributor(factory, email="soak@alertas.mx", mobile="5577778888", password="secreto123")
    give(factory, actor, Asset.STAMPS, 100_000)
    made = [make_client(factory, actor) for _ in range(CTIS)]
    with db.transaction(factory) as s:  # C.P.D. over a full 30-day window
        s.execute(
            update(StampingAccount)
            .where(StampingAccount.account_id == actor.account_id)
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=60))
        )
    token = requests.post(
        f"{proc.url}/v1/auth/token", json={"login": "soak@alertas.mx", "password": "secreto123"}, timeout=30
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    def refill(cti: str) -> None:
        body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti}, "quantity": STAMPS}
        r = requests.post(
            f"{proc.url}/v1/transfers",
            json=body,
            headers={**bearer, "Idempotency-Key": str(uuid.uuid4())},
            timeout=60,
        )
        assert r.status_code == 201, r.text

    def empty_alerts(cti: str) -> set[str]:
        """The ids of this CTI's "se quedó sin timbres" alerts so far."""
        items = requests.get(
            f"{proc.url}/v1/alerts", params={"limit": 1000}, headers=bearer, timeout=60
        ).json()["items"]
        return {
            a["id"]
            for a in items
            if a["subject"]["id"] == cti and a["threshold"] == {"kind": "balance", "value": 0}
        }

    def run(one: dict) -> int:
        cti, password = one["stamping_account"]["id"], one["password"]
        stamped = 0
        seen: set[str] = set()
        for _ in range(CYCLES):
            refill(cti)
            while True:
                r = requests.post(
                    f"{proc.url}/v1/stamping/consume",
                    json={"emitter_rfc": "EKU9003173C9", "cfdi_uuid": str(uuid.uuid4())},
                    auth=(cti, password),
                    timeout=60,
                )
                if r.status_code == 409:
                    assert r.json()["code"] == "insufficient_balance"
                    break
                assert r.status_code == 200, r.text
                stamped += 1
            # This crossing's own alert (a new one) before refilling again.
            deadline = time.monotonic() + 60
            while not (empty_alerts(cti) - seen):
                assert time.monotonic() < deadline, f"no alert for {cti} within a minute"
                time.sleep(0.1)
            seen = empty_alerts(cti)
        return stamped

    with ThreadPoolExecutor(CTIS) as pool:
        stamped = list(pool.map(run, made))
    assert stamped == [STAMPS * CYCLES] * CTIS
    with db.transaction(factory) as s:
        alerts = s.scalars(select(Alert).where(Alert.account_id == actor.account_id)).all()
        sent = s.execute(select(AlertDelivery.alert_id, AlertDelivery.recipient)).all()
    per_crossing = Counter(
        (a.subject_id, a.threshold_kind) for a in alerts if a.subject_type == "stamping_account"
    )
    # Each cycle ran the CTI from 12 stamps to none: D.R. ≤ 7 and empty, once each per cycle.
    assert per_crossing == Counter(
        {(m["stamping_account"]["id"], kind): CYCLES for m in made for kind in ("days", "balance")}
    )
    # All but each CTI's last crossing were re-armed by the next refill.
    open_ones = [a for a in alerts if a.subject_type == "stamping_account" and a.rearmed_at is None]
    assert len(open_ones) == CTIS * 2
    assert max(Counter(sent).values()) == 1
