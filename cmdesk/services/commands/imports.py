"""Transferencia desde archivo (`cmdesk.services.bulk_import`): the rows of an import queued as
transfers, each with the idempotency key the import derived for it (the file's hash and the row), in
one outbox transaction; the import's commands read back; a row taken back before it left.

A row is a transfer like any other (`ledger.transfer`): the same checks of `cmdesk.domain.amounts`,
the same command, the same wording in the pending-commands panel; the server checks the balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cmdesk.services.cache import Cache
from cmdesk.services.commands.ledger import transfer_body, transfer_description
from cmdesk.services.commands.pending import discard
from cmdesk.services.outbox import Command, CommandState, Outbox

IMPORT_MARK = "bulk_import"  # the command's `extra` key naming its import


def queue_import(outbox: Outbox, cache: Cache, rows: Iterable[Mapping[str, Any]]) -> list[Command]:
    """Queue an import's rows (one outbox transaction, one disk sync): each row has `key` (its
    idempotency key), `body` (a transfer's: asset, target, quantity, amount_cents, comments, and no_charge),
    `extra` (the import and the row, `IMPORT_MARK`) and optionally `description`."""
    specs = []
    for row in rows:
        body = row["body"]
        target = body["target"]
        checked = transfer_body(
            body["asset"],
            target["type"],
            target["id"],
            body["quantity"],
            body.get("amount_cents", 0),
            body.get("comments", ""),
            body.get("no_charge"),
        )
        specs.append(
            {
                "kind": "transfer",
                "method": "POST",
                "path": "/v1/transfers",
                "body": checked,
                "entity": target["type"],
                "entity_id": target["id"],
                "description": row.get("description")
                or transfer_description(cache, body["asset"], target["type"], target["id"], body["quantity"]),
                "extra": {**row["extra"], "local": []},
                "idempotency_key": row["key"],
            }
        )
    return outbox.enqueue_many(specs)


def import_commands(outbox: Outbox, import_id: str) -> list[Command]:
    """The transfers an import queued, in any state."""
    return [c for c in outbox.list() if c.kind == "transfer" and c.extra.get(IMPORT_MARK) == import_id]


def never_sent(command: Command) -> bool:
    """A command that never left this computer (no attempt yet): it can be taken back safely."""
    return command.state == CommandState.PENDING and not command.attempts


def take_back(outbox: Outbox, cache: Cache, command_id: str) -> bool:
    """Remove a row's transfer that never left (the import cancelled); False when it may be on its
    way (it then stays, and the server applies it once)."""
    command = outbox.get(command_id)
    if command is None or not never_sent(command):
        return False
    try:
        discard(outbox, cache, command_id)
    except Exception:  # sent meanwhile (OutboxError): it stays as it is
        return False
    return True
