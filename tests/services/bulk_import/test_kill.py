"""A desktop killed (SIGKILL) in the middle of sending an import, then started again: every row is
applied exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.services.bulk_import import Importer, RowState, read_sheet
from cmdesk.services.outbox import CommandState
from tests.services.bulk_import.conftest import movements_to, open_desk
from tests.services.bulk_import.test_sending import prepared

ROWS = 60
KILL_AFTER = 17  # rows applied before the child is killed


def test_killed_while_sending_an_import_applies_every_row_exactly_once(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    ctis, path = prepared(server, tmp_path, ROWS)
    folder = tmp_path / "desk"
    folder.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[3]), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("kill_importer.py")),
            server.url,
            str(folder),
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    killed_at = None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("done "):
                _, done, _, sent = line.split()
                # Killed right after a row was marked sent: in the middle of its request.
                if int(done) >= KILL_AFTER and sent == "1":
                    child.kill()  # SIGKILL / TerminateProcess: no cleanup of any kind
                    killed_at = int(done)
                    break
    finally:
        child.kill()
        child.wait(timeout=30)
    assert killed_at is not None, child.stderr.read() if child.stderr else ""
    assert killed_at < ROWS

    # Started again on the same folder: the journal and the outbox know where it stopped.
    d = open_desk(server.url, folder)
    try:
        digest = read_sheet(path).digest
        states = {r.state for r in d.desk.journal.rows(digest)}
        assert RowState.PLANNED in states or RowState.QUEUED in states
        assert [c.state for c in d.outbox.list()].count(CommandState.SENT) <= 1
        report = Importer(d.desk, chunk=10).resume(digest)
        assert (report.progress.applied, report.progress.refused) == (ROWS, 0)
        applied = movements_to(d.api, set(ctis))
        assert len(applied) == ROWS
        assert sorted(m["amount_cents"] for m in applied) == [i * 100 + 50 for i in range(1, ROWS + 1)]
    finally:
        d.close()
