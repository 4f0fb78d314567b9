"""PostgreSQL restarts (pg_ctl) under a real `cmdesk-server` with two workers while clients stamp CFDI,
transfer and read: nothing needs a manual step, no request gets a 500 or a wrong answer, a request in
flight gets a retryable 503 (Spanish, Retry-After), and what the clients were told is what the
database holds. The cluster is this test's own (the session's shared one is never restarted)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from cmdesk.devtools import postgres, server_process
from cmdesk.domain.enums import Asset
from cmdesk.models import IssuedCfdi, Movement
from cmdesk.server import db, migrations
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from tests.server.helpers import assert_ledger_ok, fund_cti, give, make_client, make_distributor

RFC = "EKU9003173C9"
LOGIN, PASSWORD = "restart@dist.mx", "secreto123"


@pytest.fixture
def cluster() -> Iterator[postgres.TempPostgres]:
    if os.environ.get("CMDESK_TEST_SKIP_PG") == "1":
        pytest.skip("CMDESK_TEST_SKIP_PG=1: PostgreSQL is not available here")
    # Synchronous commits: an immediate stop (a crash of PostgreSQL) must not lose an acknowledged one.
    pg = postgres.start(crash_safe=True)
    try:
        yield pg
    finally:
        pg.stop()


class Invoicer(threading.Thread):
    """Stamps CFDI over plain HTTP as an invoicing program would: a CFDI keeps its UUID until it gets
    a definitive answer (200 or 409), waiting what `Retry-After` says on a 503."""

    def __init__(self, url: str, cti: tuple[str, str], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.cti, self.stop_event = url, cti, stop
        self.statuses: Counter[int | str] = Counter()
        self.stamped: set[str] = set()
        self.unavailable: list[requests.Response] = []

    def run(self) -> None:
        with requests.Session() as http:
            http.trust_env = False
            while not self.stop_event.is_set():
                cfdi = str(uuid.uuid4())
                while True:
                    try:
                        r = http.post(
                            f"{self.url}/v1/stamping/consume",
                            json={"emitter_rfc": RFC, "cfdi_uuid": cfdi},
                            auth=self.cti,
                            timeout=15,
                        )
                    except requests.RequestException:
                        self.statuses["no answer"] += 1
                        time.sleep(0.2)
                        continue
                    self.statuses[r.status_code] += 1
                    if r.status_code == 503:
                        self.unavailable.append(r)
                        time.sleep(min(float(r.headers.get("Retry-After", "1")), 0.5))
                        continue
                    if r.status_code == 200:
                        self.stamped.add(cfdi)
                    break
                time.sleep(0.01)


@pytest.mark.slow
def test_the_server_goes_on_by_itself_across_database_restarts(cluster, tmp_path: Path) -> None:
    url = cluster.create_database("restarts")
    migrations.upgrade(url)
    engine = db.create_db_engine(url)
    factory = db.session_factory(engine)
    actor = make_distributor(factory, email=LOGIN, mobile="5500112233", password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 5000)
    ctis = []
    for _ in range(3):
        made = make_client(factory, actor)
        fund_cti(factory, actor, made["stamping_account"]["id"], 600)
        ctis.append((made["stamping_account"]["id"], made["password"]))
    engine.dispose()

    server = server_process.start(url, workers=2, log_dir=tmp_path)
    stop = threading.Event()
    invoicers = [Invoicer(server.url, ctis[i], stop) for i in range(2)]
    desk = ApiClient(server.url, connect_timeout=3, read_timeout=15, retries=6, backoff=0.3)
    transfers: dict[str, str] = {}  # idempotency key -> movement id the desktop was told
    desk_errors: list[BaseException] = []

    def desktop() -> None:
        desk.sign_in(LOGIN, PASSWORD)
        while not stop.is_set():
            key = uuid.uuid4().hex
            body = {"asset": "stamps", "target": {"type": "stamping_account", "id": ctis[2][0]}, "quantity": 1}
            while True:  # the outbox's way: the same key until an answer
                try:
                    transfers[key] = desk.post("/v1/transfers", body, idempotency_key=key)["id"]
                    break
                except (OfflineError, ApiError) as error:
                    if isinstance(error, ApiError) and error.status < 500 and error.status != 409:
                        desk_errors.append(error)
                        break
                    time.sleep(0.3)
            try:
                desk.get("/v1/clients", params={"limit": 5})
            except (OfflineError, ApiError) as error:
                if isinstance(error, ApiError) and error.status != 503:
                    desk_errors.append(error)
            time.sleep(0.02)

    worker = threading.Thread(target=desktop, daemon=True)
    try:
        for t in invoicers:
            t.start()
        worker.start()
        time.sleep(2)
        cluster.restart("fast")  # every connection of both workers' pools dies
        time.sleep(2)
        cluster.restart("immediate")  # as a crash: no goodbye to the clients
        time.sleep(2)
        # Away for longer than the fast path waits for a connection (5 s): requests meanwhile answer
        # 503; shorter absences are waited out and answered normally.
        cluster.halt("fast")
        time.sleep(7)
        cluster.resume()
        time.sleep(3)
        stop.set()
        for t in [*invoicers, worker]:
            t.join(60)
            assert not t.is_alive()

        # The pools recovered by themselves: right away, every request is answered normally.
        with requests.Session() as http:
            http.trust_env = False
            for _ in range(10):
                assert http.get(f"{server.url}/v1/health", timeout=10).status_code == 200
                cfdi = str(uuid.uuid4())
                r = http.post(
                    f"{server.url}/v1/stamping/consume",
                    json={"emitter_rfc": RFC, "cfdi_uuid": cfdi},
                    auth=ctis[0],
                    timeout=10,
                )
                assert r.status_code in (200, 409), r.text
                if r.status_code == 200:
                    invoicers[0].stamped.add(cfdi)
    finally:
        stop.set()
        desk.close()
        server.stop()

    statuses = sum((t.statuses for t in invoicers), Counter())
    log = server.log_path.read_text(errors="replace")
    assert 500 not in statuses, statuses
    assert "unexpected error" not in log, log[-4000:]
    assert not desk_errors, desk_errors
    # The faults did happen, and were answered as retryable problems.
    assert statuses[503] >= 1, statuses
    assert "database unavailable answering" in log
    assert "retrying on a new connection" in log  # db.run met dead connections and went on
    for r in (u for t in invoicers for u in t.unavailable):
        assert r.headers["Retry-After"].isdigit()
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "service_unavailable" and r.json()["title"] == "Servicio no disponible"

    # What the clients were told is what the database holds: no CFDI lost or stamped twice, each
    # transfer applied once.
    engine = db.create_db_engine(url)
    factory = db.session_factory(engine)
    try:
        stamped = set().union(*(t.stamped for t in invoicers))
        with engine.connect() as c:
            issued = set(c.execute(select(IssuedCfdi.cfdi_uuid)).scalars())
            moved = set(
                c.execute(select(Movement.id).where(Movement.kind == "transfer", Movement.quantity == 1)).scalars()
            )
            total = c.execute(select(func.count()).select_from(IssuedCfdi)).scalar_one()
        assert {u.upper() for u in stamped} == {u.upper() for u in issued}
        assert total == len(issued)
        assert len(transfers) >= 3
        assert set(transfers.values()) == moved
        assert_ledger_ok(factory)
    finally:
        engine.dispose()
