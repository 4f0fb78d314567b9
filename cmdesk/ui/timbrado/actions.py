"""What the Timbrado screens do, as actions (`cmdesk.ui.kit.actions`): transfers, the bulk transfer and
the automatic sale, blocking and reactivating (queued: sent at once when online, pending otherwise, and
watched until the server settles them); creating a CTI and resetting its password (online: they carry
a password); the daily usage of CTIs (online, kept in the cache); and the cache reads the dialogs need.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import bulk_import, commands, handoff
from cmdesk.services.sync import SessionExpired
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, command, online, read, task
from cmdesk.ui.kit.messages import NO_SESSION_TEXT
from cmdesk.ui.operations import Pool, Progress

tr = translator("timbrado")


def transfer(context: AppContext, *, parent: QWidget | None = None, **fields: Any) -> Action:
    """Transferir timbres o puntos (`commands.transfer`: asset, target_type, target_id, quantity,
    amount_cents, comments): one queued command; the server decides."""
    label = tr("Registrando la transferencia")
    return command(context, commands.transfer, parent=parent, label=label, **fields)


def bulk_transfer(
    context: AppContext, items: Sequence[Mapping[str, Any]], *, parent: QWidget | None = None
) -> Action:
    """Transferencia masiva: one command, all the items or none."""
    label = tr("Registrando la transferencia masiva")
    return command(context, commands.bulk_transfer, list(items), parent=parent, label=label)


def auto_sale(
    context: AppContext, rules: Sequence[tuple[str, Mapping[str, Any]]], *, parent: QWidget | None = None
) -> Action:
    """Venta automática: one command per CTI (`rules`: CTI id → minimum, credit, amount, enabled)."""
    label = tr("Registrando la venta automática")
    return command(context, commands.set_auto_sales, list(rules), parent=parent, label=label)


def set_active(
    context: AppContext,
    cti_ids: Sequence[str],
    active: bool,
    *,
    reason: str = "",
    parent: QWidget | None = None,
) -> Action:
    """Bloquear / Reactivar CTIs: one command each (`reason`: for the bitácora)."""
    label = tr("Registrando el cambio")
    return command(
        context, commands.set_ctis_active, list(cti_ids), active, reason=reason, parent=parent, label=label
    )


def handoff_sheet(
    context: AppContext, cti_id: str, password: str, *, event: str, parent: QWidget | None = None
) -> Action:
    """The hand-off sheet of a CTI just created or reset (the password only in memory)."""
    return online(
        context,
        handoff.handoff_sheet,
        cti_id,
        password,
        event=event,
        parent=parent,
        label=tr("Hoja de entrega"),
    )


def create_account(
    context: AppContext, client_id: str, *, parent: QWidget | None = None, **fields: Any
) -> Action:
    """Crear cuenta de timbrado (online: it carries a password; `commands.create_stamping_account`:
    kind, password, password_confirmation, id, rfc_restriction)."""
    label = tr("Creando la cuenta de timbrado")
    return online(context, commands.create_stamping_account, client_id, parent=parent, label=label, **fields)


def reset_password(
    context: AppContext, cti_id: str, *, parent: QWidget | None = None, **fields: Any
) -> Action:
    """Restablecer contraseña (online: it carries a password, and its confirmation)."""
    label = tr("Restableciendo la contraseña")
    return online(context, commands.reset_stamping_password, cti_id, parent=parent, label=label, **fields)


def pay_unlimited_fee(
    context: AppContext, cti_id: str, *, payer: str, years: int = 1, parent: QWidget | None = None
) -> Action:
    """Pagar / renovar la cuota anual de una CTI ilimitada (online: the server says until when)."""
    label = tr("Pagando la cuota anual")
    return online(
        context, commands.pay_unlimited_fee, cti_id, payer=payer, years=years, parent=parent, label=label
    )


def fetch_catalog(context: AppContext) -> Action:
    """Induxsoft's catalog, downloaded again (it says what a year of an unlimited CTI costs)."""
    return online(context, commands.fetch_catalog, label=tr("Consultando el catálogo"))


def fetch_usage(context: AppContext, items: Sequence[tuple[str, int | None]]) -> Action:
    """The daily usage of CTIs (id, issued count now), fetched and kept in the cache."""
    return online(
        context, commands.fetch_usage, list(items), label=tr("Consultando el consumo de las cuentas")
    )


# ---- reads ----------------------------------------------------------------------------------------------


def transfer_info(
    context: AppContext, target_type: str, target_id: str, client_ids: Sequence[str] = ()
) -> Action:
    """What a transfer form shows (`commands.transfer_info`)."""
    session = context.session
    outbox = session.outbox if session is not None else None
    return read(context, commands.transfer_info, outbox, target_type, target_id, list(client_ids))


def unlimited_fee_info(context: AppContext, client_id: str | None) -> Action:
    """The unlimited fee in points and the points of the client and of the distributor."""
    return read(context, commands.unlimited_fee_info, client_id)


def search_clients(context: AppContext, text: str) -> Action:
    """The first clients that match a search, by name (a dialog's client picker)."""
    return read(context, lambda cache: cache.query_clients(q=text.strip() or None, sort="name", limit=30))


# ---- Transferencia desde archivo (`cmdesk.services.bulk_import`) -----------------------------------------


def _desk(context: AppContext) -> bulk_import.SessionDesktop:
    session = context.session
    if session is None:
        raise SessionExpired(tr(NO_SESSION_TEXT))
    return bulk_import.for_session(session)


def open_import(context: AppContext) -> Action:
    """The import's desktop (cache, outbox, journal) for a dialog: and the imports left in the middle."""

    def opened() -> tuple[bulk_import.SessionDesktop, list[Any]]:
        desk = _desk(context)
        return desk, bulk_import.Importer(desk).unfinished()

    return task(context, opened, pool=Pool.CACHE, label=tr("Abriendo la importación"))


@dataclass(frozen=True)
class OpenedFile:
    sheet: bulk_import.Sheet
    mapping: bulk_import.ColumnMapping
    remembered: bool  # the mapping is the one the user chose for files like this one
    warning: str  # «Este archivo ya se importó el …» ('' for a new file)


def _open_file(desk: bulk_import.SessionDesktop, path: Path) -> OpenedFile:
    sheet = bulk_import.read_sheet(path)
    remembered = desk.remembered(bulk_import.layout_key(sheet.headers))
    mapping = remembered or bulk_import.guess(sheet.headers)
    return OpenedFile(sheet, mapping, remembered is not None, bulk_import.Importer(desk).warning(sheet))


def read_import_file(context: AppContext, desk: bulk_import.SessionDesktop, path: Path) -> Action:
    """Read a .xlsx or .csv (`ImportFileError`: why not, in Spanish) and its column mapping."""
    return task(context, _open_file, desk, path, pool=Pool.CACHE, label=tr("Leyendo el archivo"))


def _check(
    desk: bulk_import.SessionDesktop, sheet: bulk_import.Sheet, mapping: bulk_import.ColumnMapping
) -> bulk_import.DryRun:
    mapping.check(sheet.headers)
    desk.remember(bulk_import.layout_key(sheet.headers), mapping)
    return bulk_import.dry_run(sheet, mapping, desk)


def import_dry_run(
    context: AppContext,
    desk: bulk_import.SessionDesktop,
    sheet: bulk_import.Sheet,
    mapping: bulk_import.ColumnMapping,
) -> Action:
    """The dry run of a file (the mapping remembered for files like it): every row checked."""
    return task(context, _check, desk, sheet, mapping, pool=Pool.CACHE, label=tr("Revisando las filas"))


def _sending(
    how: str,
    desk: bulk_import.SessionDesktop,
    what: Any,
    stop: threading.Event,
    *,
    progress: Progress,
) -> bulk_import.SendReport:
    importer = bulk_import.Importer(desk)

    def report(p: bulk_import.Progress) -> None:
        progress(p.done, p.total, p.message)

    if how == "send":
        return importer.send(what, progress=report, cancelled=stop.is_set)
    if how == "retry":
        return importer.retry_failed(what, progress=report, cancelled=stop.is_set)
    return importer.resume(what, progress=report, cancelled=stop.is_set)


def send_import(
    context: AppContext, desk: bulk_import.SessionDesktop, how: str, what: Any, stop: threading.Event
) -> Action:
    """Send an import off the UI thread, chunk after chunk, with its progress: `how` "send" (`what`: a
    ready dry run), "resume" or "retry" (the refused rows; `what`: the import's id). Setting `stop`
    stops after the chunk in flight."""
    label = tr("Enviando las transferencias del archivo")
    return task(context, _sending, how, desk, what, stop, label=label)


def import_results(context: AppContext, desk: bulk_import.SessionDesktop, import_id: str) -> Action:
    """Each row of an import with its outcome (applied, refused and why, waiting)."""
    importer = bulk_import.Importer(desk)
    return task(context, importer.results, import_id, pool=Pool.CACHE, label=tr("Leyendo el resultado"))


def export_import(
    context: AppContext, desk: bulk_import.SessionDesktop, import_id: str, path: Path
) -> Action:
    """The result of an import, row by row, to Excel."""
    importer = bulk_import.Importer(desk)
    return task(context, importer.export_results, import_id, path, label=tr("Exportando el resultado"))


def write_import_template(context: AppContext, path: Path) -> Action:
    """The downloadable template (.xlsx or .csv by the file's extension)."""
    return task(context, bulk_import.write_template, path, label=tr("Guardando la plantilla"))


def close_import(context: AppContext, desk: bulk_import.SessionDesktop) -> Action:
    return task(context, desk.close, pool=Pool.CACHE, label=tr("Cerrando la importación"))
