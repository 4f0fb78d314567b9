"""What the Clientes screens do, as actions (`cmdesk.ui.kit.actions`): each factory names a service of
`cmdesk.services.commands` (queued or online) or a read of the cache; the widget chains `.success()` /
`.failure()` and runs it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from cmdesk.domain import contracts
from cmdesk.services import commands, export
from cmdesk.services.server_info import server_now
from cmdesk.ui.kit.actions import Action, AppContext, command, online, read, task
from cmdesk.ui.kit.table import Query
from cmdesk.ui.operations import Pool, Progress

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.services.outbox import Outbox


def tr(text: str) -> str:
    return QCoreApplication.translate("clientes", text)


# ---- the portfolio ---------------------------------------------------------------------------------------


def set_tags(
    context: AppContext, client_ids: Sequence[str], *, parent: QWidget | None = None, **tags: Any
) -> Action:
    """Favoritos / Bajas / color of clients (queued; shown at once as pending)."""
    return command(
        context, commands.set_tags, list(client_ids), parent=parent, label=tr("Clasificando"), **tags
    )


def save_client(
    context: AppContext, client_id: str | None, changes: Mapping[str, Any], *, parent: QWidget | None = None
) -> Action:
    """Alta (`client_id` None) or Editar cliente (queued: it works offline)."""
    if client_id is None:
        return command(context, commands.create_client, dict(changes), parent=parent, label=tr("Guardando"))
    return command(
        context, commands.update_client, client_id, dict(changes), parent=parent, label=tr("Guardando")
    )


def assign_admin_profile(
    context: AppContext, client_id: str, email: str, mobile: str, *, parent: QWidget | None = None
) -> Action:
    """Asignar Perfil Admin (online: the server must find the profile now)."""
    return online(
        context,
        commands.assign_admin_profile,
        client_id,
        email,
        mobile,
        parent=parent,
        label=tr("Asignando perfil"),
    )


def read_client(context: AppContext, client_id: str) -> Action:
    return read(context, lambda cache: cache.get("client", client_id), label=tr("Leyendo el cliente"))


def _export(cache: Cache, path: Path, query: Query, progress: Progress) -> int:
    return export.export_clients(
        cache,
        path,
        q=query.q or None,
        category=query.get("category", "all"),
        color=query.get("color"),
        sort=query.sort or "name",
        progress=lambda done, total: progress(done, total),
        cancelled=lambda: progress.cancelled,
    )


def export_view(context: AppContext, path: Path, query: Query, *, parent: QWidget | None = None) -> Action:
    """The clients of the current view (search, filter and order; every row) to an Excel or CSV file;
    chain `.progress()` to follow it (the job stops when its handle is cancelled)."""
    return read(context, _export, path, query, parent=parent, label=tr("Exportando clientes"))


def _new_passwords(outbox: Outbox | None, secrets: Mapping[str, str]) -> list[tuple[str, str, str]]:
    out = []
    for command_id, password in secrets.items():
        made = outbox.get(command_id) if outbox is not None else None
        result = made.result if made is not None and isinstance(made.result, dict) else {}
        client = result.get("client") or {}
        cti = result.get("stamping_account") or {}
        out.append((str(client.get("name") or ""), str(cti.get("id") or ""), password))
    return out


def new_passwords(context: AppContext, secrets: Mapping[str, str]) -> Action:
    """(client name, CTI id, password) of the clients created here whose CTI the sync just made: the
    password the server generated, shown once (never written to the outbox)."""
    session = context.session
    outbox = session.outbox if session is not None else None
    return task(context, _new_passwords, outbox, dict(secrets), pool=Pool.CACHE)


# ---- a client's window --------------------------------------------------------------------------------


def _detail(cache: Cache, client_id: str) -> dict[str, Any]:
    """Everything the window shows about one client."""
    now = server_now()
    in_force = [c for c in cache.all("contract") if c.get("kind") == "mkl" and contracts.in_force(c, now)]

    def newest(entity: str, key: str) -> list[dict[str, Any]]:
        return sorted(
            cache.entities_of_client(entity, client_id), key=lambda r: str(r.get(key)), reverse=True
        )

    return {
        "client": cache.get("client", client_id),
        "ctis": cache.query_stamping_accounts(client_id=client_id, sort="created_asc", limit=1000),
        "movements": cache.query_movements(client_id=client_id, limit=5000),
        "invoices": newest("invoice", "created_at"),
        "policies": newest("support_policy", "ends_on"),
        "licenses": newest("license", "created_at"),
        "interactions": newest("interaction", "occurred_at"),
        "mkl": list((cache.catalog() or {}).get("mkl") or []),
        "contracted": sorted({str(c.get("code")) for c in in_force}),
    }


def read_detail(context: AppContext, client_id: str) -> Action:
    return read(context, _detail, client_id, label=tr("Leyendo el cliente"))


def add_interaction(
    context: AppContext, client_id: str, text: str, *, parent: QWidget | None = None
) -> Action:
    return command(context, commands.add_interaction, client_id, text, parent=parent, label=tr("Guardando"))


def add_policy(
    context: AppContext,
    client_id: str,
    *,
    product: str,
    starts_on: dt.date,
    ends_on: dt.date,
    reference: str,
    parent: QWidget | None = None,
) -> Action:
    return command(
        context,
        commands.add_policy,
        client_id,
        product=product,
        starts_on=starts_on,
        ends_on=ends_on,
        reference=reference,
        parent=parent,
        label=tr("Guardando"),
    )


def generate_licenses(
    context: AppContext, client_id: str, code: str, count: int, *, parent: QWidget | None = None
) -> Action:
    """Usar MKL (online: the server checks the contract and makes the keys)."""
    return online(
        context,
        commands.generate_licenses,
        client_id,
        code,
        count,
        parent=parent,
        label=tr("Generando licencias"),
    )
