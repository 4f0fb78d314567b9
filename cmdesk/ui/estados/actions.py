"""What the statements' screens do, as actions (`cmdesk.ui.kit.actions`): read a statement (from the
cache; online, the server's when the cache lacks the daily CFDI a stamps statement needs) and write it
to Excel or PDF."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtWidgets import QWidget

from cmdesk.services import statement_files, statements
from cmdesk.ui import translator
from cmdesk.ui.estados import pdf
from cmdesk.ui.kit.actions import Action, AppContext, online, read, task
from cmdesk.ui.operations import Pool

tr = translator("estados")


def statement(
    context: AppContext,
    party_type: str,
    party_id: str | None,
    asset: str,
    first: dt.date,
    last: dt.date,
    *,
    offline: bool = False,
    parent: QWidget | None = None,
) -> Action:
    """The statement of a party for the Mexico City days `first`..`last`: online, the cache's when it
    has everything, else the server's; offline (or `offline`), the cache's (`StatementIncomplete` when
    it lacks the daily CFDI of a CTI)."""
    label = tr("Calculando el estado de cuenta")
    if context.is_online() and not offline:
        return online(
            context,
            statements.statement,
            party_type,
            party_id,
            asset,
            first,
            last,
            parent=parent,
            label=label,
        )
    return read(
        context,
        statements.local_statement,
        party_type,
        party_id,
        asset,
        first,
        last,
        parent=parent,
        label=label,
    )


def export_xlsx(context: AppContext, view: statements.StatementView, path: Path) -> Action:
    return task(
        context,
        statement_files.write_statement_xlsx,
        view,
        path,
        pool=Pool.CACHE,
        label=tr("Exportando a Excel"),
    )


def export_pdf(context: AppContext, view: statements.StatementView, path: Path) -> Action:
    return task(context, pdf.write_statement_pdf, view, path, pool=Pool.CACHE, label=tr("Generando el PDF"))
