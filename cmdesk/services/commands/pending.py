"""The pending-commands panel's actions over the outbox: retry a rejected command, discard one, settle an
edit in conflict. Each sets the optimistic values right afterwards (`cmdesk.services.overlays`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.field_paths import flatten, unflatten, value_at
from cmdesk.services import overlays
from cmdesk.services.cache import Cache
from cmdesk.services.commands.queue import enqueue
from cmdesk.services.outbox import Command, CommandState, Outbox


def retry(outbox: Outbox, cache: Cache, command_id: str) -> Command:
    """Send a rejected command again, with a new idempotency key (after a purchase, say)."""
    command = outbox.retry(command_id)
    overlays.refresh_command(outbox, cache, command)
    return command


def discard(outbox: Outbox, cache: Cache, command_id: str) -> None:
    """Give up a command that is not on its way: its optimistic values disappear."""
    command = outbox.get(command_id)
    if command is None:
        return
    outbox.discard(command_id)
    overlays.refresh_command(outbox, cache, command)


def resolve_conflict(
    outbox: Outbox, cache: Cache, command_id: str, choices: Mapping[str, str]
) -> Command | None:
    """Settle an edit in conflict: for each field, "mine" (send my value) or "server" (keep theirs).
    Fields not named keep the server's value. The conflicting command is replaced by a new edit based
    on the server's current version (None when every field kept the server's value)."""
    command = outbox.get(command_id)
    if command is None or command.state != CommandState.CONFLICT or command.entity_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, "La operación en conflicto ya no existe.")
    current = (
        (command.error_body or {}).get("current") or cache.server_copy("client", command.entity_id) or {}
    )
    mine = flatten(command.body or {})
    resend: dict[str, Any] = {}
    for path, value in mine.items():
        conflict = (command.conflict or {}).get(path)
        if (conflict is None or choices.get(path) == "mine") and value_at(current, path) != value:
            resend[path] = value
    outbox.discard(command_id)
    if not resend:
        overlays.refresh(outbox, cache, [("client", command.entity_id)])
        return None
    version = current.get("version")
    return enqueue(
        outbox,
        cache,
        command.kind,
        command.method,
        command.path,
        unflatten(resend),
        description=command.description,
        entity=command.entity,
        entity_id=command.entity_id,
        if_match=version if isinstance(version, int) else None,
        base={path: value_at(current, path) for path in resend},
        local=[("client", command.entity_id, unflatten(resend))],
    )
