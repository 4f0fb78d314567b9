"""No date the desktop decides comes from this computer's clock (issue 22: office PCs run minutes or days
off). The desktop's code (`cmdesk/services`, `cmdesk/ui`) asks `server_info.server_now()` — this
computer's clock corrected by the offset measured against every answer — and never reads the clock
itself, nor calls a rule of `cmdesk.domain` whose `now` would default to it.

A static check over the source (AST): it names the file and line of each use, and the few places that
may read the computer's clock say why below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cmdesk

PACKAGE = Path(cmdesk.__file__).resolve().parent
DESKTOP = ("services", "ui")

# Reading the computer's clock directly: `<x>.now(...)`, `<x>.today()`, `<x>.utcnow()`, `time.time()`.
CLOCK_READS = {"now", "today", "utcnow", "time"}
# Where the computer's own clock is what is wanted.
ALLOWED = {
    "services/server_info.py": "the computer's clock itself, which the measured offset corrects",
    "services/frozen.py": "the crash log's stamp, in the same time as the other log lines",
    "services/updates.py": "the daily update check's interval (a clock set back counts as due)",
    "services/downloads/queue.py": "bookkeeping of the download queue (ordered by sequence, never by it)",
    "ui/app.py": "start-up timings (durations, not dates)",
}
# Rules of cmdesk.domain whose `now` defaults to the computer's clock: the desktop passes the server's.
DOMAIN_RULES = {
    ("clock", "today"): 1,
    ("contracts", "in_force"): 2,
    ("contracts", "contracted"): 2,
    ("contracts", "has_multinivel"): 2,
    ("unlimited", "fee_state"): 3,
    ("unlimited", "can_stamp"): 3,
}
# The same rules imported by name (`from cmdesk.domain.unlimited import can_stamp`).
IMPORTED_RULES = {"fee_state": 3, "can_stamp": 3}


def _uses(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in IMPORTED_RULES:
            given = len(node.args) + sum(1 for k in node.keywords if k.arg == "now")
            if given < IMPORTED_RULES[node.func.id]:
                found.append((node.lineno, f"{node.func.id}(…) without the server's now"))
            continue
        if not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        owner = node.func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        wanted = DOMAIN_RULES.get((owner_name, name))
        if wanted is not None:
            given = len(node.args) + sum(1 for k in node.keywords if k.arg == "now")
            if given < wanted:
                found.append((node.lineno, f"{owner_name}.{name}(…) without the server's now"))
            continue
        if name in CLOCK_READS and owner_name in {"datetime", "date", "time", "dt"}:
            if name == "time" and owner_name != "time":
                continue
            found.append((node.lineno, f"{owner_name}.{name}()"))
    return found


def test_the_desktop_takes_every_date_from_the_servers_clock() -> None:
    offenders: list[str] = []
    for part in DESKTOP:
        for path in sorted((PACKAGE / part).rglob("*.py")):
            relative = path.relative_to(PACKAGE).as_posix()
            if relative in ALLOWED:
                continue
            for line, what in _uses(ast.parse(path.read_text(encoding="utf-8"))):
                offenders.append(f"cmdesk/{relative}:{line}: {what}")
    assert offenders == [], "\n".join(offenders)


def test_the_check_finds_a_clock_read_and_a_rule_left_to_its_default() -> None:
    source = """
import datetime as dt
from cmdesk.domain import clock, contracts

a = dt.datetime.now(dt.UTC)
b = dt.date.today()
c = contracts.has_multinivel(rows)
d = clock.today()
e = clock.today(server_now())
f = contracts.in_force(row, now=server_now())
g = can_stamp("unlimited", paid_until)
h = fee_state("unlimited", paid_until, server_now())
"""
    assert [line for line, _ in _uses(ast.parse(source))] == [5, 6, 7, 8, 11]
