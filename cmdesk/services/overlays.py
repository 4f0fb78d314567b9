"""Optimistic values: what a command on its way shows in the views before the server has answered.

A queued command whose result is known beforehand (an edit, a tag, blocking a CTI, a client created
offline) lists the values it lays over the cache in `extra["local"] = [[entity, id, fields], ...]`, and
the cache keeps them apart from the server's copy (`Cache.apply_local` / `Cache.restore`), marked
pending. Every rule about them is here:

- `lay`: a command just queued lays its values;
- `amended_extra`: a command amended in place (an edit folded into an earlier one) adds its fields;
- `refresh`: after a command settles (applied, rejected, discarded, retried), the values of the records
  it touched are rebuilt from the commands still on their way — a refused command leaves nothing;
- `reapply_all`: after the cache was rebuilt from scratch, every command on its way lays its values
  again;
- `settle`: at the first push of a run, what the cache shows is set right against the outbox (a
  desktop killed between recording an answer and removing a value, or between queueing a command and
  laying it, would otherwise show a stale value for good; found by the soak test, bench/soak.py).

Transfers and purchases lay nothing: the server decides whether they are allowed, and until then they
are listed as pending commands.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cmdesk.domain.field_paths import deep_merge
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import TO_PUSH, Command, Outbox

log = logging.getLogger(__name__)

Overlay = tuple[str, str, Mapping[str, Any]]  # entity, id, the fields laid over it


def touched(command: Command) -> list[tuple[str, str, dict[str, Any]]]:
    """The optimistic values a command laid over the cache: (entity, id, fields)."""
    return [(str(e), str(i), dict(f)) for e, i, f in command.extra.get("local", [])]


def as_extra(local: Sequence[Overlay]) -> list[list[Any]]:
    """The values in the form a command's `extra["local"]` keeps them."""
    return [[e, i, dict(f)] for e, i, f in local]


def lay(cache: Cache, local: Iterable[Overlay]) -> None:
    """Show a command's values at once, marked pending."""
    for entity, ident, fields in local:
        cache.apply_local(entity, ident, fields)


def amended_extra(command: Command, entity: str, ident: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The command's `extra` with `fields` added to its values (for a command amended in place)."""
    local = [[e, i, dict(f)] for e, i, f in touched(command)]
    for item in local:
        if (item[0], item[1]) == (entity, ident):
            item[2] = deep_merge(item[2], fields)  # type: ignore[arg-type]
            break
    else:
        local.append([entity, ident, dict(fields)])
    return {**command.extra, "local": local}


def refresh(outbox: Outbox, cache: Cache, refs: Iterable[tuple[str, str]]) -> None:
    """Rebuild what the views show for `refs`: the server's copy plus the values of the commands still
    on their way (a finished, rejected or conflicting command no longer shows its value)."""
    wanted = set(refs)
    if not wanted:
        return
    live = outbox.list(TO_PUSH)
    for entity, ident in sorted(wanted):
        cache.restore(entity, ident)
        for command in live:
            for e, i, fields in touched(command):
                if (e, i) == (entity, ident):
                    cache.apply_local(entity, ident, fields)


def refresh_command(outbox: Outbox, cache: Cache, command: Command) -> None:
    """`refresh` of the records one command touched."""
    refresh(outbox, cache, [(e, i) for e, i, _ in touched(command)])


def reapply_all(outbox: Outbox, cache: Cache) -> None:
    """After the cache was rebuilt: lay again the values of every command on its way."""
    refs = {(e, i) for c in outbox.list(TO_PUSH) for e, i, _ in touched(c)}
    refs.update(cache.local_ids())
    refresh(outbox, cache, refs)


def settle(outbox: Outbox, cache: Cache) -> set[str]:
    """Set the values right against the outbox (see the module docstring); the entities that changed."""
    live = {(e, i) for c in outbox.list(TO_PUSH) for e, i, _ in touched(c)}
    laid = set(cache.local_ids())
    wrong = (laid - live) | (live - laid)
    if wrong:
        log.info("settling %d optimistic values left by an interrupted run", len(wrong))
        refresh(outbox, cache, wrong)
    return {e for e, _ in wrong}
