"""The client portfolio's commands: Alta, Editar, Favoritos / Bajas / color (queued, shown at once as
pending), and Asignar Perfil Admin (online: the server must find the profile now, and the user must
hear its answer now)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from cmdesk.domain.enums import Color
from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.domain.field_paths import deep_merge, flatten, value_at
from cmdesk.services import overlays
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.commands.labels import clients_label
from cmdesk.services.commands.queue import enqueue, is_local, local_id, now_text
from cmdesk.services.outbox import Command, CommandState, Outbox

COLORS = frozenset(c.value for c in Color)


def _check_client_fields(data: Mapping[str, Any], *, creating: bool) -> None:
    errors: dict[str, str] = {}
    if (creating or "name" in data) and not str(data.get("name") or "").strip():
        errors["name"] = "El nombre es obligatorio."
    if (creating or "rfc" in data) and not str(data.get("rfc") or "").strip():
        errors["rfc"] = "El RFC es obligatorio."
    color = data.get("color")
    if color is not None and color not in COLORS:
        errors["color"] = "Color no válido."
    if errors:
        raise validation_error(errors)


def create_client(outbox: Outbox, cache: Cache, data: Mapping[str, Any]) -> Command:
    """Alta de cliente. Until the server answers, the client shows with a provisional id and no NIC;
    the server's answer (with its standard CTI and that CTI's password) replaces it."""
    _check_client_fields(data, creating=True)
    ident = local_id()
    provisional = deep_merge(
        {
            "nic": "",
            "balances": {"stamps": 0, "points": 0},
            "credited": 0,
            "issued": 0,
            "created_at": now_text(),
        },
        {**data, "id": ident},
    )
    return enqueue(
        outbox,
        cache,
        "create_client",
        "POST",
        "/v1/clients",
        dict(data),
        description=f"Alta del cliente {data.get('name', '')}".strip(),
        entity="client",
        entity_id=ident,
        local=[("client", ident, provisional)],
        extra={"local_id": ident},
    )


def update_client(outbox: Outbox, cache: Cache, client_id: str, changes: Mapping[str, Any]) -> Command:
    """Editar cliente: `changes` holds the changed fields, nested as in the API. The command keeps the
    version and the values the user started from, so a collision with another user's edit can be
    merged field by field (see `cmdesk.services.sync`)."""
    _check_client_fields(changes, creating=False)
    current = cache.get("client", client_id)
    if current is None:
        raise DomainError(ErrorCode.NOT_FOUND, "El cliente no existe.")
    flat = flatten(changes)
    label = f"Editar el cliente {current.get('name', '')}".strip()
    if is_local(client_id):
        # Created offline and not sent yet: the edit goes into the creation itself.
        create = next(iter(outbox.for_entity("client", client_id, [CommandState.PENDING])), None)
        if create is not None and create.kind == "create_client" and create.attempts == 0:
            body = deep_merge(create.body, changes)
            extra = overlays.amended_extra(create, "client", client_id, changes)
            with contextlib.suppress(KeyError):  # KeyError: the push took it meanwhile
                amended = outbox.amend(create.id, body, None, extra=extra)
                overlays.lay(cache, [("client", client_id, changes)])
                return amended
        raise DomainError(
            ErrorCode.NOT_FOUND, "El cliente aún no se registra en el servidor; espere a que se envíe."
        )
    base = {path: value_at(current, path) for path in flat}
    server = cache.server_copy("client", client_id) or {}
    version = server.get("version")
    # An edit of this client still waiting (never sent): fold this one into it.
    for earlier in reversed(outbox.for_entity("client", client_id, [CommandState.PENDING])):
        if earlier.kind == "update_client" and earlier.attempts == 0:
            merged_base = {**base, **(earlier.base or {})}
            extra = overlays.amended_extra(earlier, "client", client_id, changes)
            with contextlib.suppress(KeyError):  # KeyError: the push took it meanwhile; queue anew
                amended = outbox.amend(
                    earlier.id, deep_merge(earlier.body, changes), merged_base, label, extra
                )
                overlays.lay(cache, [("client", client_id, changes)])
                return amended
        break
    return enqueue(
        outbox,
        cache,
        "update_client",
        "PATCH",
        f"/v1/clients/{client_id}",
        dict(changes),
        description=label,
        entity="client",
        entity_id=client_id,
        if_match=version if isinstance(version, int) else None,
        base=base,
        local=[("client", client_id, dict(changes))],
    )


_UNSET: Any = object()


def set_tags(
    outbox: Outbox,
    cache: Cache,
    client_ids: Sequence[str],
    *,
    favorite: bool | None = None,
    dropped: bool | None = None,
    color: str | None = _UNSET,
) -> Command:
    """Favoritos / Bajas / color of many clients at once (`color=None` removes it)."""
    ids = list(dict.fromkeys(client_ids))
    if not ids:
        raise validation_error({"client_ids": "Seleccione al menos un cliente."})
    if any(is_local(i) for i in ids):
        raise validation_error({"client_ids": "Un cliente nuevo se clasifica cuando ya está registrado."})
    body: dict[str, Any] = {"client_ids": ids}
    fields: dict[str, Any] = {}
    if favorite is not None:
        body["favorite"] = fields["favorite"] = bool(favorite)
    if dropped is not None:
        body["dropped"] = fields["dropped"] = bool(dropped)
    if color is not _UNSET:
        if color is not None and color not in COLORS:
            raise validation_error({"color": "Color no válido."})
        body["color"] = color if color is not None else "none"
        fields["color"] = color
    if not fields:
        raise validation_error({"tags": "Indique qué clasificación aplicar."})
    return enqueue(
        outbox,
        cache,
        "set_tags",
        "POST",
        "/v1/clients/tags",
        body,
        description="Clasificar " + clients_label(cache, ids),
        entity="client",
        entity_id=ids[0] if len(ids) == 1 else None,
        local=[("client", i, fields) for i in ids],
    )


def assign_admin_profile(
    api: ApiClient, cache: Cache, client_id: str, email: str, mobile: str
) -> dict[str, Any]:
    """Asignar Perfil Admin (online): the server checks the profile exists and administers no Cuenta
    Maestra; its answer (the client) is kept in the cache."""
    answer: dict[str, Any] = api.put(
        f"/v1/clients/{client_id}/admin-profile", {"email": email, "mobile": mobile}
    )
    cache.apply_answer("client", answer)
    return answer


def new_passwords(outbox: Outbox | None, secrets: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(client name, CTI id, password) of clients created here whose CTI the sync just made, from the
    commands' answers (`secrets`: command id → the password the server generated, shown once and never
    written to the outbox)."""
    out = []
    for command_id, password in secrets.items():
        made = outbox.get(command_id) if outbox is not None else None
        result = made.result if made is not None and isinstance(made.result, dict) else {}
        client = result.get("client") or {}
        cti = result.get("stamping_account") or {}
        out.append((str(client.get("name") or ""), str(cti.get("id") or ""), password))
    return out
