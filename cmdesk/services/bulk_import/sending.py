"""Sending an import: each row its own transfer, through the outbox, with a key that never changes.

A row's idempotency key is derived from the file and the row (`journal.row_key`): sending a file again,
importing it again, or a push repeated after a crash or a lost answer sends the same key, and the
server applies the row once. The rows go to the outbox in chunks (`CHUNK` rows in one outbox
transaction), each chunk pushed before the next is queued, so a cancellation leaves little queued,
and everything queued survives a closed app or a dropped line (the next sync pushes it). The
journal (`journal.Journal`) remembers the plan and each row's outcome: `resume` goes on with an
interrupted import, `retry_failed` sends again only the refused rows (a new attempt, with its own
key: the server keeps answering the old key with its refusal), `results` and `export_results` give
each row's outcome, and `previous` recognises a file imported before.

Progress is reported after every chunk (`progress(Progress)`); `cancelled()` returning True stops
after the chunk in flight: rows not queued yet, and queued ones that never left, are not sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cmdesk.services.bulk_import.desktop import Queued, when_text
from cmdesk.services.bulk_import.dry_run import DryRun
from cmdesk.services.bulk_import.journal import (
    ImportRecord,
    Journal,
    JournalRow,
    RowState,
    row_key,
)
from cmdesk.services.bulk_import.reading import Sheet
from cmdesk.services.commands.imports import IMPORT_MARK

CHUNK = 200


class Desk(Protocol):
    """What sending needs of the desktop (`desktop.SessionDesktop`)."""

    journal: Journal

    def label(self, cti_id: str) -> str: ...

    def enqueue(self, specs: Iterable[dict[str, Any]]) -> None: ...

    def import_commands(self, import_id: str) -> dict[str, Queued]: ...

    def take_back(self, queued: Queued) -> bool: ...

    def discard(self, queued: Queued) -> None: ...

    def push(self) -> bool: ...


@dataclass(frozen=True)
class Progress:
    total: int
    applied: int
    refused: int
    waiting: int  # queued: on its way, or waiting for the line
    not_sent: int

    @property
    def done(self) -> int:
        return self.applied + self.refused

    @property
    def message(self) -> str:
        text = f"{self.done:,} de {self.total:,} filas enviadas: {self.applied:,} aplicadas"
        if self.refused:
            text += f", {self.refused:,} rechazadas"
        if self.waiting:
            text += f", {self.waiting:,} en espera"
        return text + "."


@dataclass(frozen=True)
class SendReport:
    import_id: str
    progress: Progress
    cancelled: bool = False
    offline: bool = False

    @property
    def message(self) -> str:
        p = self.progress
        if self.cancelled:
            return f"Envío cancelado. {p.message} {p.not_sent:,} filas quedaron sin enviar."
        if self.offline and p.waiting:
            return f"{p.message} Sin conexión: las filas en espera se enviarán al volver la línea."
        if p.waiting:
            return (
                f"{p.message} El servidor pidió esperar: las filas en espera se enviarán en la próxima "
                "sincronización."
            )
        return p.message


ProgressCallback = Callable[[Progress], None]
Cancelled = Callable[[], bool]


class Importer:
    def __init__(self, desk: Desk, *, chunk: int = CHUNK) -> None:
        self.desk = desk
        self.chunk = chunk

    # ---- before sending ------------------------------------------------------------------------------

    def previous(self, sheet: Sheet) -> ImportRecord | None:
        """The earlier import of this very file (same bytes), if any."""
        return self.desk.journal.record(sheet.digest)

    def warning(self, sheet: Sheet) -> str:
        """What the screen says before sending a file imported before ('' for a new file)."""
        record = self.previous(sheet)
        if record is None:
            return ""
        text = (
            f"Este archivo ya se importó el {when_text(record.created_at)}: "
            f"{record.applied:,} de {record.rows:,} filas aplicadas"
        )
        if record.refused:
            text += f", {record.refused:,} rechazadas"
        return text + ". Enviarlo otra vez no repite las filas ya aplicadas."

    # ---- sending ---------------------------------------------------------------------------------------

    def send(
        self, run: DryRun, *, progress: ProgressCallback | None = None, cancelled: Cancelled | None = None
    ) -> SendReport:
        """Send the rows of a dry run that is `ready` (see the module docstring)."""
        if not run.ready:
            raise ValueError(run.why_not_ready())
        import_id = run.sheet.digest
        planned = [
            JournalRow(
                import_id,
                c.row,
                1,
                row_key(import_id, c.row),
                c.cti_id or "",
                self.desk.label(c.cti_id or ""),
                c.quantity or 0,
                c.amount_cents,
                c.comment,
                RowState.PLANNED,
                "",
                "",
            )
            for c in run.rows
            if c.to_send
        ]
        self.desk.journal.plan(import_id, run.sheet.file_name, planned)
        return self._send(import_id, progress, cancelled)

    def unfinished(self) -> list[ImportRecord]:
        """Imports left in the middle (the app closed, the line lost, a cancellation): to resume."""
        return self.desk.journal.unfinished()

    def resume(
        self, import_id: str, *, progress: ProgressCallback | None = None, cancelled: Cancelled | None = None
    ) -> SendReport:
        """Go on with an import that was interrupted or cancelled."""
        return self._send(import_id, progress, cancelled)

    def retry_failed(
        self,
        import_id: str,
        rows: Iterable[int] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancelled: Cancelled | None = None,
    ) -> SendReport:
        """Send the refused rows again (all, or those in `rows`), each as a new attempt."""
        self._settle(import_id)
        wanted = set(rows) if rows is not None else None
        commands = self.desk.import_commands(import_id)
        for row in self.desk.journal.rows(import_id):
            if row.state == RowState.REFUSED and (wanted is None or row.row in wanted):
                old = commands.get(row.key)
                if old is not None and old.outcome == "refused":
                    self.desk.discard(old)  # the refusal is kept in the journal's results until then
                self.desk.journal.next_attempt(import_id, row.row)
        return self._send(import_id, progress, cancelled)

    def _send(
        self, import_id: str, progress: ProgressCallback | None, cancelled: Cancelled | None
    ) -> SendReport:
        offline = False
        while True:
            rows = self._settle(import_id)
            if cancelled is not None and cancelled():
                self._cancel(import_id)
                return SendReport(import_id, self._progress(self._settle(import_id)), cancelled=True)
            planned = [r for r in rows if r.state == RowState.PLANNED][: self.chunk]
            if planned:
                self.desk.enqueue(self._spec(r) for r in planned)
                self.desk.journal.set_states(import_id, [(r.row, RowState.QUEUED, "", "") for r in planned])
            waiting_before = sum(1 for r in rows if r.state == RowState.QUEUED) + len(planned)
            offline = not self.desk.push()
            rows = self._settle(import_id)
            state = self._progress(rows)
            if progress is not None:
                progress(state)
            if offline or (not state.not_sent and not state.waiting):
                break
            if not state.not_sent and state.waiting >= waiting_before:
                break  # nothing moved (the server asked to wait): the regular sync goes on with it
        return SendReport(import_id, state, offline=offline)

    def _spec(self, row: JournalRow) -> dict[str, Any]:
        return {
            "key": row.key,
            "body": {
                "asset": "stamps",
                "target": {"type": "stamping_account", "id": row.cti_id},
                "quantity": row.quantity,
                "amount_cents": row.amount_cents,
                "comments": row.comment,
                # The dry run lets a row through with no amount only as «Sin cargo»: no sale.
                "no_charge": row.amount_cents == 0,
            },
            "description": f"Transferir {row.quantity:,} timbres a {row.label} (archivo, fila {row.row})",
            "extra": {IMPORT_MARK: row.import_id, "row": row.row, "attempt": row.attempt},
        }

    def _settle(self, import_id: str) -> list[JournalRow]:
        """Copy the outcome of the import's commands into the journal; its rows as they stand."""
        commands = self.desk.import_commands(import_id)
        changes = []
        for row in self.desk.journal.rows(import_id):
            command = commands.get(row.key)
            new = _outcome(command, row)
            if new != (row.state, row.reason, row.movement_id):
                changes.append((row.row, *new))
        if changes:
            self.desk.journal.set_states(import_id, changes)
        return self.desk.journal.rows(import_id)

    def _cancel(self, import_id: str) -> None:
        commands = self.desk.import_commands(import_id)
        back = [
            (row.row, RowState.PLANNED, "", "")
            for row in self.desk.journal.rows(import_id)
            if row.state == RowState.QUEUED and row.key in commands and self.desk.take_back(commands[row.key])
        ]
        self.desk.journal.set_states(import_id, back)

    @staticmethod
    def _progress(rows: list[JournalRow]) -> Progress:
        count = {state: 0 for state in RowState}
        for row in rows:
            count[row.state] += 1
        return Progress(
            total=len(rows),
            applied=count[RowState.APPLIED],
            refused=count[RowState.REFUSED],
            waiting=count[RowState.QUEUED],
            not_sent=count[RowState.PLANNED],
        )

    # ---- after sending ---------------------------------------------------------------------------------

    def results(self, import_id: str) -> list[JournalRow]:
        """Each row of the import with its outcome as it stands (applied, refused and why, …)."""
        return self._settle(import_id)

    def export_results(self, import_id: str, path: Path) -> Path:
        """Each row's outcome to Excel (.xlsx): applied (with the movement) or refused, and why."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Resultado")
        titles = [
            "Fila",
            "Cuenta de timbrado",
            "Destino",
            "Timbres",
            "Importe",
            "Comentario",
            "Resultado",
            "Motivo",
            "Movimiento",
        ]
        widths = [7, 36, 48, 10, 14, 36, 12, 60, 34]
        for index, width in enumerate(widths):
            sheet.column_dimensions[chr(ord("A") + index)].width = width
        sheet.freeze_panes = "A2"
        from openpyxl.cell import WriteOnlyCell

        header: list[Any] = []
        for title in titles:
            cell = WriteOnlyCell(sheet, value=title)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        for r in self.results(import_id):
            amount = WriteOnlyCell(sheet, value=r.amount_cents / 100)
            amount.number_format = "#,##0.00"
            sheet.append(
                [
                    r.row,
                    _text_cell(sheet, r.cti_id),
                    _text_cell(sheet, r.label),
                    r.quantity,
                    amount,
                    _text_cell(sheet, r.comment),
                    r.state_label,
                    _text_cell(sheet, r.reason),
                    r.movement_id,
                ]
            )
        try:
            book.save(str(tmp))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path


def _outcome(queued: Queued | None, row: JournalRow) -> tuple[RowState, str, str]:
    if queued is None:
        # Not in the outbox: never queued, taken back, or gone from its history after being settled.
        if row.state in (RowState.APPLIED, RowState.REFUSED):
            return row.state, row.reason, row.movement_id
        return RowState.PLANNED, "", ""
    if queued.outcome == "applied":
        return RowState.APPLIED, "", queued.movement_id
    if queued.outcome == "refused":
        return RowState.REFUSED, queued.reason, ""
    return RowState.QUEUED, "", ""


def _text_cell(sheet: Any, value: str) -> Any:
    """A cell that holds `value` as text, never as a formula (a comment typed as «=HYPERLINK(…)»)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell
