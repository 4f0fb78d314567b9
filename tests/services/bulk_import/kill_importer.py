"""A desktop process sending an import, for `test_kill.py` to kill in the middle.

    python kill_importer.py <server url> <desktop folder> <file>

It opens the service layer on the folder (cache, outbox, the imports' journal), checks the file and
sends it in chunks of 10 rows. After every change of the outbox it prints `done <n> sent <m>`
(commands applied, and those marked sent whose answer is not recorded yet), so the test can kill it
in the middle of a request.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cmdesk.services.bulk_import import Importer, dry_run, guess, read_sheet
from cmdesk.services.outbox import CommandState
from tests.services.bulk_import.conftest import open_desk


def main() -> None:
    url, folder, file = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    d = open_desk(url, folder)
    outbox = d.outbox

    def report() -> None:
        states = [c.state for c in outbox.list()]
        print(f"done {states.count(CommandState.DONE)} sent {states.count(CommandState.SENT)}", flush=True)

    outbox.subscribe(report)
    sheet = read_sheet(file)
    run = dry_run(sheet, guess(sheet.headers), d.desk)
    print("ready", flush=True)
    Importer(d.desk, chunk=10).send(run)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
