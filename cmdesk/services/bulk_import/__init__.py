"""Transferencia desde archivo (Timbrado): refilling many CTIs from a spreadsheet, without Qt.

How a screen uses it (each step a service call the screen runs off the GUI thread):

    desk = for_session(session)                     # or SessionDesktop(cache, outbox, push=...)
    sheet = read_sheet(path)                        # ImportFileError: a Spanish reason, nothing sent
    mapping = desk.remembered(layout_key(sheet.headers)) or guess(sheet.headers)
    ... the user corrects the mapping (ColumnMapping.problems), then desk.remember(layout, mapping)
    run = dry_run(sheet, mapping, desk)             # each row: target, quantity, amount, balances, errors
    run.exclude([7, 12])                            # or run.exclude_errors(); run.ready / why_not_ready()
    importer = Importer(desk)
    importer.warning(sheet)                         # «Este archivo ya se importó el …» (or '')
    report = importer.send(run, progress=on_progress, cancelled=lambda: stop.is_set())
    importer.results(report.import_id); importer.retry_failed(report.import_id)
    importer.unfinished(); importer.resume(import_id)  # an import the app was closed in the middle of
    importer.export_results(report.import_id, Path("resultado.xlsx"))

`write_template(path)` writes the downloadable template. See each module: `reading`, `mapping`,
`dry_run`, `sending` (keys, chunks, the journal), `desktop` (the only module that touches the cache,
the outbox and the settings).
"""

from cmdesk.services.bulk_import.desktop import SessionDesktop, for_session
from cmdesk.services.bulk_import.dry_run import DryRun, RowCheck, Totals, dry_run
from cmdesk.services.bulk_import.journal import JournalRow, RowState
from cmdesk.services.bulk_import.mapping import (
    COLUMN_LABELS,
    Column,
    ColumnMapping,
    MappingError,
    guess,
    layout_key,
)
from cmdesk.services.bulk_import.reading import ImportFileError, Sheet, read_sheet
from cmdesk.services.bulk_import.sending import Importer, Progress, SendReport
from cmdesk.services.bulk_import.template import write_template

__all__ = [
    "COLUMN_LABELS",
    "Column",
    "ColumnMapping",
    "DryRun",
    "ImportFileError",
    "Importer",
    "JournalRow",
    "MappingError",
    "Progress",
    "RowCheck",
    "RowState",
    "SendReport",
    "SessionDesktop",
    "Sheet",
    "Totals",
    "dry_run",
    "for_session",
    "guess",
    "layout_key",
    "read_sheet",
    "write_template",
]
