"""Writing a command to the outbox, the way every queued change does it.

Each command function checks what can be checked without the server (so an obviously wrong value
never waits in the queue), then calls `enqueue`: ONE command written to the outbox with its
idempotency key, and the optimistic values it lays over the cache (`cmdesk.services.overlays`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cmdesk.domain.errors import validation_error
from cmdesk.services import overlays
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Command, Outbox
from cmdesk.services.server_info import server_now

# Records created offline carry a provisional id until the server answers with theirs.
LOCAL_PREFIX = "local-"
NOT_REGISTERED = "El cliente aún no se registra en el servidor; espere a que se envíe."


def local_id() -> str:
    return LOCAL_PREFIX + uuid.uuid4().hex


def is_local(ident: str | None) -> bool:
    """A record created here that the server has not registered yet."""
    return str(ident or "").startswith(LOCAL_PREFIX)


def new_key() -> str:
    """An idempotency key for a call made online (a retry of the same call reuses it)."""
    return uuid.uuid4().hex


def now_text(moment: dt.datetime | None = None) -> str:
    """A moment (default: the server's now, never this computer's clock) as the API writes it."""
    return (moment or server_now()).astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def require_registered(client_id: str, field: str = "client_id") -> None:
    if is_local(client_id):
        raise validation_error({field: NOT_REGISTERED})


def enqueue(
    outbox: Outbox,
    cache: Cache,
    kind: str,
    method: str,
    path: str,
    body: Any,
    *,
    description: str,
    entity: str | None = None,
    entity_id: str | None = None,
    if_match: int | None = None,
    base: Mapping[str, Any] | None = None,
    local: Sequence[overlays.Overlay] = (),
    extra: Mapping[str, Any] | None = None,
) -> Command:
    command = outbox.enqueue(
        kind,
        method,
        path,
        body,
        entity=entity,
        entity_id=entity_id,
        if_match=if_match,
        base=base,
        description=description,
        extra={**(extra or {}), "local": overlays.as_extra(local)},
    )
    overlays.lay(cache, local)
    return command
