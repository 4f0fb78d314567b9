"""What the Clientes screens do, as actions (`cmdesk.ui.kit.actions`): each factory names a service of
`cmdesk.services.commands` (queued or online) or a read of the cache; the widget chains `.success()` /
`.failure()` and runs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import commands, export, handoff
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, command, online, read, task
from cmdesk.ui.kit.table import Query
from cmdesk.ui.operations import Pool, Progress

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache


tr = translator("clientes")


# ---- the portfolio ---------------------------------------------------------------------------------------


def set_tags(
    context: AppContext, client_ids: Sequence[str], *, parent: QWidget | None = None, **tags: Any
) -> Action:
    """Favoritos / Bajas / color of clients (queued; shown at once as pending)."""
    label = tr("Clasificando")
    return command(context, commands.set_tags, list(client_ids), parent=parent, label=label, **tags)


def save_client(
    context: AppContext, client_id: str | None, changes: Mapping[str, Any], *, parent: QWidget | None = None
) -> Action:
    """Alta (`client_id` None) or Editar cliente (queued: it works offline)."""
    label = tr("Guardando")
    if client_id is None:
        return command(context, commands.create_client, dict(changes), parent=parent, label=label)
    return command(context, commands.update_client, client_id, dict(changes), parent=parent, label=label)


def assign_admin_profile(
    context: AppContext, client_id: str, email: str, mobile: str, *, parent: QWidget | None = None
) -> Action:
    """Asignar Perfil Admin (online: the server must find the profile now)."""
    label = tr("Asignando perfil")
    return online(
        context, commands.assign_admin_profile, client_id, email, mobile, parent=parent, label=label
    )


def read_client(context: AppContext, client_id: str) -> Action:
    return read(context, lambda cache: cache.get("client", client_id), label=tr("Leyendo el cliente"))


def handoff_sheet(
    context: AppContext, cti_id: str, password: str, *, parent: QWidget | None = None
) -> Action:
    """The hand-off sheet of a new client's CTI (the password only in memory)."""
    return online(
        context,
        handoff.handoff_sheet,
        cti_id,
        password,
        event="created",
        parent=parent,
        label=tr("Hoja de entrega"),
    )


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


def new_passwords(context: AppContext, secrets: Mapping[str, str]) -> Action:
    """(client name, CTI id, password) of the clients created here whose CTI the sync just made: the
    password the server generated, shown once (never written to the outbox)."""
    session = context.session
    outbox = session.outbox if session is not None else None
    return task(context, commands.new_passwords, outbox, dict(secrets), pool=Pool.CACHE)


# ---- a client's window --------------------------------------------------------------------------------


def read_detail(context: AppContext, client_id: str) -> Action:
    """Everything the client's window shows (`Cache.client_detail`)."""
    return read(context, lambda cache: cache.client_detail(client_id), label=tr("Leyendo el cliente"))


def add_interaction(
    context: AppContext, client_id: str, text: str, *, parent: QWidget | None = None
) -> Action:
    return command(context, commands.add_interaction, client_id, text, parent=parent, label=tr("Guardando"))


def add_policy(
    context: AppContext, client_id: str, *, parent: QWidget | None = None, **fields: Any
) -> Action:
    """`commands.add_policy`: product, starts_on, ends_on, reference (queued)."""
    return command(context, commands.add_policy, client_id, parent=parent, label=tr("Guardando"), **fields)


def generate_licenses(
    context: AppContext, client_id: str, code: str, count: int, *, parent: QWidget | None = None
) -> Action:
    """Usar MKL (online: the server checks the contract and makes the keys)."""
    label = tr("Generando licencias")
    return online(context, commands.generate_licenses, client_id, code, count, parent=parent, label=label)
