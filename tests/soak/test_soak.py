"""The soak test's short form: desktops, invoicing clients, killed workers and desktops, lost requests
and answers, on PostgreSQL with two server workers — and afterwards nothing lost, nothing applied
twice, every balance adding up, every cache equal to the server (see bench/soak.py)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from bench.soak import SoakConfig, run_soak


@pytest.fixture
def soak_db(pg_url: str) -> Iterator[str]:
    base = make_url(pg_url)
    name = f"soak_{uuid.uuid4().hex[:8]}"
    dsn = f"host={base.host} port={base.port} user={base.username} dbname={base.database}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_short_soak_loses_nothing_and_applies_nothing_twice(soak_db: str, tmp_path: Path) -> None:
    config = SoakConfig(
        seconds=35,
        desktops=3,
        workers=2,
        distributors=2,
        invoicers=2,
        clients_per_distributor=8,
        seed=11,
        database_url=soak_db,
        folder=tmp_path,
        worker_kill_every=9,
        desktop_kill_every=6,
        line_drop_every=7,
        drain_seconds=60,
    )
    report = run_soak(config, say=lambda _m: None)
    assert report.ok, report.render()
    assert not report.anomalies, report.render()
    # The faults really happened, and the desktops really worked through them.
    if sys.platform.startswith("linux"):  # workers are found through /proc
        assert report.faults["server workers killed (SIGKILL)"] >= 1, report.render()
    assert report.faults["desktops killed (SIGKILL)"] >= 1, report.render()
    assert report.faults["answers lost after the server applied"] >= 1, report.render()
    assert report.faults["line drops (all connections cut)"] >= 1, report.render()
    assert report.operations["transfer done"] >= 10, report.render()
    assert report.operations["consume CFDI stamped (200)"] >= 20, report.render()
