"""The changes a user makes, as outbox commands (offline first), and the few that need the line.

Each function checks what can be checked without the server (so an obviously wrong value never waits
in the queue), writes ONE command to the outbox (its idempotency key included) and, where the result
is known beforehand (an edit, a tag, blocking a CTI), lays the new value over the cache so the views
show it at once, marked pending. Transfers and purchases show no optimistic balance: the server decides
whether they are allowed, and until then they are listed as pending commands.

Each command lists the optimistic values it laid (`extra["local"] = [[entity, id, fields], ...]`), so
`refresh_overlays` can rebuild what the views show from the commands still on their way.

Commands that carry a password (a new CTI, a CTI password reset) are never queued — the outbox is a
plain file — they go straight to the server and raise `OfflineError` when the line is down.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache, deep_merge
from cmdesk.services.outbox import TO_PUSH, Command, CommandState, Outbox

LOCAL_PREFIX = "local-"

_ASSET_NAMES = {"stamps": "timbres", "points": "puntos"}
_COLORS = {"red", "orange", "yellow", "green", "blue", "purple", "gray"}
_TARGET_TYPES = {"stamping_account", "client", "account", "distributor"}


# ---- Field paths ----------------------------------------------------------------------------------


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"address": {"city": "X"}}` → `{"address.city": "X"}` (the fields an edit is merged by)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        target = out
        *parents, last = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return out


def value_at(data: Mapping[str, Any] | None, path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


# ---- Optimistic values ----------------------------------------------------------------------------


def touched(command: Command) -> list[tuple[str, str, dict[str, Any]]]:
    """The optimistic values a command laid over the cache: (entity, id, fields)."""
    return [(str(e), str(i), dict(f)) for e, i, f in command.extra.get("local", [])]


def refresh_overlays(outbox: Outbox, cache: Cache, refs: Iterable[tuple[str, str]]) -> None:
    """Rebuild what the views show for `refs`: the server's copy plus the values of the commands still
    on their way (a finished, rejected or conflicting command no longer shows its value)."""
    wanted = set(refs)
    if not wanted:
        return
    live = [c for c in outbox.list(TO_PUSH)]
    for entity, ident in sorted(wanted):
        cache.restore(entity, ident)
        for command in live:
            for e, i, fields in touched(command):
                if (e, i) == (entity, ident):
                    cache.apply_local(entity, ident, fields)


def reapply_all(outbox: Outbox, cache: Cache) -> None:
    """After the cache was rebuilt: lay again the values of every command on its way."""
    refs = {(e, i) for c in outbox.list(TO_PUSH) for e, i, _ in touched(c)}
    refs.update(cache.local_ids())
    refresh_overlays(outbox, cache, refs)


def _enqueue(
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
    local: Sequence[tuple[str, str, Mapping[str, Any]]] = (),
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
        extra={**(extra or {}), "local": [[e, i, dict(f)] for e, i, f in local]},
    )
    for e, i, fields in local:
        cache.apply_local(e, i, fields)
    return command


# ---- Clients --------------------------------------------------------------------------------------


def _check_client_fields(data: Mapping[str, Any], *, creating: bool) -> None:
    errors: dict[str, str] = {}
    if (creating or "name" in data) and not str(data.get("name") or "").strip():
        errors["name"] = "El nombre es obligatorio."
    if (creating or "rfc" in data) and not str(data.get("rfc") or "").strip():
        errors["rfc"] = "El RFC es obligatorio."
    color = data.get("color")
    if color is not None and color not in _COLORS:
        errors["color"] = "Color no válido."
    if errors:
        raise validation_error(errors)


def create_client(outbox: Outbox, cache: Cache, data: Mapping[str, Any]) -> Command:
    """Alta de cliente. Until the server answers, the client shows with a provisional id and no NIC;
    the server's answer (with its standard CTI and that CTI's password) replaces it."""
    _check_client_fields(data, creating=True)
    local_id = LOCAL_PREFIX + uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    provisional = deep_merge(
        {"nic": "", "balances": {"stamps": 0, "points": 0}, "credited": 0, "issued": 0, "created_at": now},
        {**data, "id": local_id},
    )
    return _enqueue(
        outbox,
        cache,
        "create_client",
        "POST",
        "/v1/clients",
        dict(data),
        description=f"Alta del cliente {data.get('name', '')}".strip(),
        entity="client",
        entity_id=local_id,
        local=[("client", local_id, provisional)],
        extra={"local_id": local_id},
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
    if client_id.startswith(LOCAL_PREFIX):
        # Created offline and not sent yet: the edit goes into the creation itself.
        create = next(iter(outbox.for_entity("client", client_id, [CommandState.PENDING])), None)
        if create is not None and create.kind == "create_client" and create.attempts == 0:
            body = deep_merge(create.body, changes)
            extra = _with_local(create, "client", client_id, changes)
            with contextlib.suppress(KeyError):  # KeyError: the push took it meanwhile
                amended = outbox.amend(create.id, body, None, extra=extra)
                cache.apply_local("client", client_id, changes)
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
            extra = _with_local(earlier, "client", client_id, changes)
            with contextlib.suppress(KeyError):  # KeyError: the push took it meanwhile; queue anew
                amended = outbox.amend(
                    earlier.id, deep_merge(earlier.body, changes), merged_base, label, extra
                )
                cache.apply_local("client", client_id, changes)
                return amended
        break
    return _enqueue(
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


def _with_local(command: Command, entity: str, ident: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The command's `extra` with `fields` added to its optimistic values (for an amended command)."""
    local = [[e, i, dict(f)] for e, i, f in touched(command)]
    for item in local:
        if (item[0], item[1]) == (entity, ident):
            item[2] = deep_merge(item[2], fields)  # type: ignore[arg-type]
            break
    else:
        local.append([entity, ident, dict(fields)])
    return {**command.extra, "local": local}


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
    if any(i.startswith(LOCAL_PREFIX) for i in ids):
        raise validation_error({"client_ids": "Un cliente nuevo se clasifica cuando ya está registrado."})
    body: dict[str, Any] = {"client_ids": ids}
    fields: dict[str, Any] = {}
    if favorite is not None:
        body["favorite"] = fields["favorite"] = bool(favorite)
    if dropped is not None:
        body["dropped"] = fields["dropped"] = bool(dropped)
    if color is not _UNSET:
        if color is not None and color not in _COLORS:
            raise validation_error({"color": "Color no válido."})
        body["color"] = color if color is not None else "none"
        fields["color"] = color
    if not fields:
        raise validation_error({"tags": "Indique qué clasificación aplicar."})
    what = "Clasificar " + clients_label(cache, ids)
    return _enqueue(
        outbox,
        cache,
        "set_tags",
        "POST",
        "/v1/clients/tags",
        body,
        description=what,
        entity="client",
        entity_id=ids[0] if len(ids) == 1 else None,
        local=[("client", i, fields) for i in ids],
    )


def set_admin_profile(outbox: Outbox, cache: Cache, client_id: str, *, email: str, mobile: str) -> Command:
    """Asignar Perfil Admin (the server checks the profile exists and administers no Cuenta Maestra)."""
    if not email.strip() or not mobile.strip():
        raise validation_error(
            {k: "Es obligatorio." for k, v in (("email", email), ("mobile", mobile)) if not v.strip()}
        )
    return _enqueue(
        outbox,
        cache,
        "set_admin_profile",
        "PUT",
        f"/v1/clients/{client_id}/admin-profile",
        {"email": email.strip(), "mobile": mobile.strip()},
        description=f"Asignar el perfil principal de {client_label(cache, client_id)}",
        entity="client",
        entity_id=client_id,
    )


# ---- Stamping accounts ----------------------------------------------------------------------------


def set_cti_active(outbox: Outbox, cache: Cache, cti_id: str, active: bool) -> Command:
    """Bloquear (`active=False`) / reactivar una cuenta de timbrado."""
    return _enqueue(
        outbox,
        cache,
        "set_cti_active",
        "PATCH",
        f"/v1/stamping-accounts/{cti_id}",
        {"active": bool(active)},
        description=("Reactivar " if active else "Bloquear ")
        + target_label(cache, "stamping_account", cti_id),
        entity="stamping_account",
        entity_id=cti_id,
        local=[("stamping_account", cti_id, {"active": bool(active)})],
    )


def _check_quantity(field: str, value: Any, *, low: int) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        return (
            "Debe ser un número entero mayor que cero."
            if low
            else "Debe ser un número entero mayor o igual a cero."
        )
    return None


def set_auto_sale(
    outbox: Outbox,
    cache: Cache,
    cti_id: str,
    *,
    minimum: int,
    credit: int,
    amount_cents: int,
    enabled: bool = True,
) -> Command:
    """Venta automática of a standard CTI."""
    errors = {
        f: m
        for f, m in (
            ("minimum", _check_quantity("minimum", minimum, low=0)),
            ("credit", _check_quantity("credit", credit, low=1)),
            ("amount_cents", _check_quantity("amount_cents", amount_cents, low=0)),
        )
        if m
    }
    if errors:
        raise validation_error(errors)
    rule = {"minimum": minimum, "credit": credit, "amount_cents": amount_cents, "enabled": bool(enabled)}
    return _enqueue(
        outbox,
        cache,
        "set_auto_sale",
        "PUT",
        f"/v1/stamping-accounts/{cti_id}/auto-sale",
        rule,
        description="Venta automática de " + target_label(cache, "stamping_account", cti_id),
        entity="stamping_account",
        entity_id=cti_id,
        local=[("stamping_account", cti_id, {"auto_sale": rule})],
    )


def create_stamping_account(
    api: ApiClient,
    cache: Cache,
    client_id: str,
    *,
    kind: str = "standard",
    password: str,
    password_confirmation: str | None = None,
    id: str | None = None,
    rfc_restriction: str | None = None,
) -> dict[str, Any]:
    """Crear cuenta de timbrado: ONLINE ONLY (it carries a password, which is never written to the
    outbox). Raises `OfflineError` without the line, `ApiError` when the server refuses."""
    body: dict[str, Any] = {"kind": kind, "password": password}
    if password_confirmation is not None:
        body["password_confirmation"] = password_confirmation
    if id:
        body["id"] = id
    if rfc_restriction:
        body["rfc_restriction"] = rfc_restriction
    answer: dict[str, Any] = api.post(
        f"/v1/clients/{client_id}/stamping-accounts", body, idempotency_key=uuid.uuid4().hex
    )
    cache.apply_answer("stamping_account", answer)
    return answer


def reset_stamping_password(
    api: ApiClient, cti_id: str, *, password: str, password_confirmation: str | None = None
) -> None:
    """Restablecer contraseña de una CTI: ONLINE ONLY, like `create_stamping_account`."""
    body: dict[str, Any] = {"password": password}
    if password_confirmation is not None:
        body["password_confirmation"] = password_confirmation
    api.post(f"/v1/stamping-accounts/{cti_id}/password", body)


# ---- Ledger ---------------------------------------------------------------------------------------


def _transfer_body(
    asset: str, target_type: str, target_id: str, quantity: int, amount_cents: int, comments: str
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if asset not in _ASSET_NAMES:
        errors["asset"] = "El activo debe ser «stamps» (timbres) o «points» (puntos)."
    if target_type not in _TARGET_TYPES:
        errors["target.type"] = "Destino no válido."
    if not target_id:
        errors["target.id"] = "Indique el destino."
    elif target_id.startswith(LOCAL_PREFIX):
        errors["target.id"] = "El cliente aún no se registra en el servidor; espere a que se envíe."
    if message := _check_quantity("quantity", quantity, low=1):
        errors["quantity"] = message
    if message := _check_quantity("amount_cents", amount_cents, low=0):
        errors["amount_cents"] = message
    if errors:
        raise validation_error(errors)
    return {
        "asset": asset,
        "target": {"type": target_type, "id": target_id},
        "quantity": quantity,
        "amount_cents": amount_cents,
        "comments": comments,
    }


def transfer(
    outbox: Outbox,
    cache: Cache,
    *,
    asset: str,
    target_type: str,
    target_id: str,
    quantity: int,
    amount_cents: int = 0,
    comments: str = "",
) -> Command:
    """Transferir timbres (a una CTI estándar o un sub-distribuidor) o puntos (a un cliente o un
    sub-distribuidor). Irreversible once applied; the server checks the balance."""
    body = _transfer_body(asset, target_type, target_id, quantity, amount_cents, comments)
    return _enqueue(
        outbox,
        cache,
        "transfer",
        "POST",
        "/v1/transfers",
        body,
        description=f"Transferir {quantity:,} {_ASSET_NAMES[asset]} "
        + _to(target_label(cache, target_type, target_id)),
        entity=target_type,
        entity_id=target_id,
    )


def bulk_transfer(outbox: Outbox, cache: Cache, items: Sequence[Mapping[str, Any]]) -> Command:
    """Transferencia masiva: all the items or none. Each item: asset, target_type, target_id,
    quantity, amount_cents, comments."""
    if not items:
        raise validation_error({"items": "Indique al menos una transferencia."})
    body_items = [
        _transfer_body(
            str(i.get("asset", "stamps")),
            str(i.get("target_type", "stamping_account")),
            str(i.get("target_id", "")),
            i.get("quantity"),  # type: ignore[arg-type]
            i.get("amount_cents", 0),  # type: ignore[arg-type]
            str(i.get("comments", "")),
        )
        for i in items
    ]
    total = sum(int(b["quantity"]) for b in body_items)
    return _enqueue(
        outbox,
        cache,
        "bulk_transfer",
        "POST",
        "/v1/transfers/bulk",
        {"items": body_items},
        description=bulk_transfer_label(cache, body_items, total),
    )


def purchase(outbox: Outbox, cache: Cache, package_id: str, quantity: int = 1) -> Command:
    """Comprar paquetes del catálogo (irreversible once applied)."""
    if message := _check_quantity("quantity", quantity, low=1):
        raise validation_error({"quantity": message})
    catalog = cache.catalog() or {}
    label = package_id
    for group in ("stamp_packages", "point_packages"):
        for package in catalog.get(group, []) or []:
            if package.get("id") == package_id:
                label = (
                    f"{package.get('quantity', '')} {'timbres' if group == 'stamp_packages' else 'puntos'}"
                )
    return _enqueue(
        outbox,
        cache,
        "purchase",
        "POST",
        "/v1/purchases",
        {"package_id": package_id, "quantity": quantity},
        description=f"Comprar {quantity} × paquete {label}".strip(),
    )


# ---- The pending-commands panel --------------------------------------------------------------------


def retry(outbox: Outbox, cache: Cache, command_id: str) -> Command:
    """Send a rejected command again, with a new idempotency key (after a purchase, say)."""
    command = outbox.retry(command_id)
    refresh_overlays(outbox, cache, [(e, i) for e, i, _ in touched(command)])
    return command


def discard(outbox: Outbox, cache: Cache, command_id: str) -> None:
    """Give up a command that is not on its way: its optimistic values disappear."""
    command = outbox.get(command_id)
    if command is None:
        return
    outbox.discard(command_id)
    refresh_overlays(outbox, cache, [(e, i) for e, i, _ in touched(command)])


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
        refresh_overlays(outbox, cache, [("client", command.entity_id)])
        return None
    version = current.get("version")
    return _enqueue(
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


# ---- Names in descriptions ------------------------------------------------------------------------
# The pending-commands panel shows a command's description: people recognise clients by name, not by
# their ids.


def client_label(cache: Cache, client_id: str) -> str:
    """«Name» (NIC n) of a client in the cache, or «el cliente» when the cache does not know it."""
    client = cache.get("client", client_id) or {}
    name = str(client.get("name") or "").strip()
    if not name:
        return "el cliente"
    nic = str(client.get("nic") or "").strip()
    return f"«{name}» (NIC {nic})" if nic else f"«{name}»"


def clients_label(cache: Cache, client_ids: Sequence[str]) -> str:
    """One client by name; a few by name; many as a count with the first names."""
    if len(client_ids) == 1:
        return "a " + client_label(cache, client_ids[0])
    names = [str((cache.get("client", i) or {}).get("name") or "").strip() for i in client_ids[:3]]
    names = [f"«{n}»" for n in names if n]
    if not names:
        return f"{len(client_ids)} clientes"
    rest = len(client_ids) - len(names)
    listed = ", ".join(names) + (f" y {rest} más" if rest > 0 else "")
    return f"{len(client_ids)} clientes: {listed}"


def target_label(cache: Cache, target_type: str, target_id: str) -> str:
    """What a transfer or a CTI command is about, by name: a client, a CTI of a client, a
    sub-distributor."""
    if target_type == "client":
        return client_label(cache, target_id)
    if target_type == "stamping_account":
        cti = cache.get("stamping_account", target_id) or {}
        owner = client_label(cache, str(cti.get("client_id") or ""))
        return f"la cuenta de timbrado {target_id}" + (f" de {owner}" if owner != "el cliente" else "")
    if target_type in ("distributor", "account"):
        distributor = cache.get("distributor", target_id) or {}
        name = str(distributor.get("name") or "").strip()
        return f"el distribuidor «{name}»" if name else f"el distribuidor {target_id}"
    return target_id


def _to(label: str) -> str:
    """«a» before a label, contracted before «el» (al distribuidor)."""
    return "al " + label[3:] if label.startswith("el ") else "a " + label


# ---- Facturación (cmdesk.ui.facturacion) -----------------------------------------------------------


def register_invoice(
    outbox: Outbox,
    cache: Cache,
    *,
    reference: str,
    client_id: str | None = None,
    movement_ids: Sequence[str] = (),
    top_up_code_ids: Sequence[str] = (),
) -> Command:
    """Registrar factura of sales (`client_id` + `movement_ids`) or of top-up codes (`top_up_code_ids`,
    `client_id` optional). Queued: until the server answers, the sales and codes show as invoiced
    (pending), so they leave the lists "por facturar" at once; a refusal brings them back."""
    ref = " ".join(str(reference or "").split())
    errors: dict[str, str] = {}
    if not ref:
        errors["reference"] = "Escriba la referencia (folio) de la factura."
    elif len(ref) > 200:
        errors["reference"] = "La referencia admite como máximo 200 caracteres."
    sales = list(dict.fromkeys(movement_ids))
    codes = list(dict.fromkeys(top_up_code_ids))
    if bool(sales) == bool(codes):
        errors["movement_ids"] = "Seleccione al menos una venta o un código de abono para facturar."
    if sales and not client_id:
        errors["client_id"] = "Indique el cliente de la factura."
    if errors:
        raise validation_error(errors)
    marker = LOCAL_PREFIX + uuid.uuid4().hex
    body: dict[str, Any] = {"reference": ref}
    if client_id:
        body["client_id"] = client_id
    if sales:
        body["movement_ids"] = sales
        local = [("movement", i, {"invoice_id": marker}) for i in sales]
        what = f"{len(sales)} venta" + ("s" if len(sales) != 1 else "")
    else:
        body["top_up_code_ids"] = codes
        local = [("top_up_code", i, {"invoice_id": marker}) for i in codes]
        what = f"{len(codes)} código" + ("s" if len(codes) != 1 else "") + " de abono"
    who = f" de {client_label(cache, client_id)}" if client_id else ""
    return _enqueue(
        outbox,
        cache,
        "register_invoice",
        "POST",
        "/v1/invoices",
        body,
        description=f"Registrar la factura {ref}{who} ({what})",
        entity="invoice",
        local=local,
    )



# ---- A client's records (detail window: Interacciones, Pólizas) -------------------------------------


def add_interaction(
    outbox: Outbox, cache: Cache, client_id: str, text: str, occurred_at: dt.datetime | None = None
) -> Command:
    """Registrar una interacción (llamada, visita, acuerdo) with a client. Shown at once, pending."""
    text = text.strip()
    if not text:
        raise validation_error({"text": "Escriba la interacción."})
    if len(text) > 10_000:
        raise validation_error({"text": "La interacción admite como máximo 10,000 caracteres."})
    if client_id.startswith(LOCAL_PREFIX):
        raise validation_error(
            {"client_id": "El cliente aún no se registra en el servidor; espere a que se envíe."}
        )
    body: dict[str, Any] = {"text": text}
    when = occurred_at or dt.datetime.now(dt.UTC)
    if occurred_at is not None:
        body["occurred_at"] = occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    local_id = LOCAL_PREFIX + uuid.uuid4().hex
    provisional = {
        "client_id": client_id,
        "text": text,
        "occurred_at": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "author": "",
    }
    return _enqueue(
        outbox,
        cache,
        "add_interaction",
        "POST",
        f"/v1/clients/{client_id}/interactions",
        body,
        description="Interacción con " + client_label(cache, client_id),
        entity="interaction",
        entity_id=local_id,
        local=[("interaction", local_id, provisional)],
    )


def add_policy(
    outbox: Outbox,
    cache: Cache,
    client_id: str,
    *,
    product: str,
    starts_on: dt.date,
    ends_on: dt.date,
    reference: str = "",
) -> Command:
    """Registrar una póliza de soporte del cliente, vigente de `starts_on` a `ends_on`."""
    errors: dict[str, str] = {}
    product = product.strip()
    if not product:
        errors["product"] = "Escriba el producto de la póliza."
    if ends_on < starts_on:
        errors["ends_on"] = "El fin de la vigencia no puede ser anterior a su inicio."
    if client_id.startswith(LOCAL_PREFIX):
        errors["client_id"] = "El cliente aún no se registra en el servidor; espere a que se envíe."
    if errors:
        raise validation_error(errors)
    body = {
        "product": product,
        "starts_on": starts_on.isoformat(),
        "ends_on": ends_on.isoformat(),
        "reference": reference.strip(),
    }
    local_id = LOCAL_PREFIX + uuid.uuid4().hex
    return _enqueue(
        outbox,
        cache,
        "add_policy",
        "POST",
        f"/v1/clients/{client_id}/policies",
        body,
        description=f"Póliza «{product}» de " + client_label(cache, client_id),
        entity="support_policy",
        entity_id=local_id,
        local=[("support_policy", local_id, {**body, "client_id": client_id})],
    )


# ---- Timbrado (cmdesk.ui.timbrado) -----------------------------------------------------------------


def bulk_transfer_label(cache: Cache, items: Sequence[Mapping[str, Any]], total: int) -> str:
    """«Transferencia masiva: 1,200 timbres a 3 cuentas de timbrado (Pruebas de «Empresa», …)»: the
    CTIs by id with their client's name, the first three."""
    assets = {str(i.get("asset")) for i in items}
    what = _ASSET_NAMES[assets.pop()] if len(assets) == 1 and next(iter(assets), "") in _ASSET_NAMES else ""
    n = len(items)
    named = []
    for item in items[:3]:
        target = item.get("target") or {}
        ident = str(target.get("id") or "")
        if target.get("type") == "stamping_account":
            owner = (cache.get("stamping_account", ident) or {}).get("client_id")
            name = str((cache.get("client", str(owner or "")) or {}).get("name") or "").strip()
            named.append(f"{ident} de «{name}»" if name else ident)
        else:
            label = target_label(cache, str(target.get("type") or ""), ident)
            named.append(label[3:] if label.startswith("el ") else label)
    listed = ", ".join(named) + (f" y {n - len(named)} más" if n > len(named) else "")
    accounts = "cuenta de timbrado" if n == 1 else "cuentas de timbrado"
    if any((i.get("target") or {}).get("type") != "stamping_account" for i in items):
        accounts = "destino" if n == 1 else "destinos"
    return f"Transferencia masiva: {total:,} {what} a {n} {accounts} ({listed})".replace("  ", " ")
