"""The soak test's short form: desktops, invoicing clients, killed workers and desktops, lost requests
and answers, and the faults of real deployments — the database restarting and away for a while, a
rolling upgrade with the previous desktop release running, wrong desktop clocks, a disk that fills —
on PostgreSQL with two server workers; and afterwards nothing lost, nothing applied twice, every
balance adding up, every cache equal to the server (see bench/soak.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench.soak import SoakConfig, run_soak


@pytest.mark.slow
def test_short_soak_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    if os.environ.get("CMDESK_TEST_SKIP_PG") == "1":
        pytest.skip("CMDESK_TEST_SKIP_PG=1: PostgreSQL is not available here")
    config = SoakConfig(
        seconds=40,
        desktops=3,
        workers=2,
        distributors=2,
        invoicers=2,
        clients_per_distributor=8,
        seed=11,
        database_url=None,  # its own cluster: the soak restarts it
        folder=tmp_path,
        worker_kill_every=9,
        desktop_kill_every=6,
        line_drop_every=7,
        drain_seconds=90,
        db_restart_every=10,
        db_away_every=3,
        upgrade_at=0.4,
        old_desktops=1,
        clocks=True,
        disk_fill_every=8,
    )
    report = run_soak(config, say=lambda _m: None)
    assert report.ok, report.render()
    assert not report.anomalies, report.render()
    faults = report.faults
    # The faults really happened, and the desktops really worked through them.
    if sys.platform.startswith("linux"):  # workers are found through /proc
        assert faults["server workers killed (SIGKILL)"] >= 1, report.render()
    assert faults["desktops killed (SIGKILL)"] >= 1, report.render()
    assert faults["answers lost after the server applied"] >= 1, report.render()
    assert faults["line drops (all connections cut)"] >= 1, report.render()
    restarts = sum(n for name, n in faults.items() if name.startswith(("database restarts", "database away")))
    assert restarts >= 2, report.render()
    assert faults["rolling upgrade: new server started, proxy switched, old one stopped"] == 1, report.render()
    assert faults["expand migration applied under load (column, index concurrently)"] == 1, report.render()
    assert any(name.startswith("desktop 2: clock") for name in faults), report.render()
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # the small disk is a tmpfs
        assert faults["disk filled to the last byte (one desktop's folder)"] >= 1, report.render()
    assert report.operations["transfer done"] >= 10, report.render()
    assert report.operations["consume CFDI stamped (200)"] >= 20, report.render()
