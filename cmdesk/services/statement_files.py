"""A statement as a spreadsheet (.xlsx): a title block (distributor, NIC, party, asset, period, opening
and closing balances) over a table of real values — dates are dates (Mexico City time), quantities
and balances numbers, money in pesos with a currency format — so the file sums and filters in Excel.

The PDF is drawn by the desktop with Qt (`cmdesk.ui.estados.pdf`); both take their columns from
`STATEMENT_COLUMNS`. No Qt here.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cmdesk.domain import statements as st
from cmdesk.domain.names import ASSETS
from cmdesk.services.export import local_time, safe_text
from cmdesk.services.server_info import server_now
from cmdesk.services.statements import StatementView

PARTY_LABELS = {"account": "Cuenta Maestra", "client": "Cliente", "stamping_account": "Cuenta de timbrado"}
MONEY_FORMAT = '"$"#,##0.00'
COUNT_FORMAT = "#,##0"
ASSET_LABELS = {**dict(ASSETS), "money": "Dinero cargado"}


@dataclass(frozen=True)
class StatementColumn:
    title: str
    value: Callable[[st.Row, StatementView], Any]
    kind: str = "text"  # text · datetime · count (a quantity of the asset: money when the asset is) · money
    width: int = 14


def _counterpart(row: st.Row, _view: StatementView) -> str:
    e = row.entry
    if e.kind == "issued":
        return e.stamping_account_id or ""
    return e.counterpart_name or e.counterpart_id or ""


STATEMENT_COLUMNS: tuple[StatementColumn, ...] = (
    StatementColumn("Fecha", lambda r, _v: r.entry.at, "datetime", 17),
    StatementColumn("Movimiento", lambda r, _v: st.KIND_LABELS.get(r.entry.kind, r.entry.kind), width=22),
    StatementColumn("Contraparte", _counterpart, width=32),
    StatementColumn("Cantidad", lambda r, _v: r.entry.quantity, "count", 11),
    StatementColumn("Cargo / abono", lambda r, _v: r.entry.delta, "count", 13),
    StatementColumn("Importe", lambda r, _v: r.entry.amount_cents, "money", 13),
    StatementColumn("Saldo", lambda r, _v: r.balance, "count", 13),
    StatementColumn("Comentarios", lambda r, _v: r.entry.comments, width=30),
    StatementColumn("Realizó", lambda r, _v: r.entry.created_by_name or r.entry.created_by, width=22),
)


def title_lines(view: StatementView) -> list[tuple[str, str]]:
    """(label, value) lines of the statement's heading (Spanish)."""
    party = PARTY_LABELS.get(view.party_type, view.party_type)
    return [
        ("Distribuidor", view.account_name),
        ("NIC", view.account_nic),
        (party, view.party_name or view.party_id),
        ("Concepto", ASSET_LABELS.get(view.asset, view.asset)),
        ("Periodo", f"{view.first:%d/%m/%Y} al {view.last:%d/%m/%Y}"),
    ]


def pesos(cents: int) -> Decimal:
    return Decimal(cents) / 100


def cell_value(column: StatementColumn, row: st.Row, view: StatementView) -> Any:
    value = column.value(row, view)
    if column.kind == "datetime":
        return local_time(value)
    if column.kind == "money" or (column.kind == "count" and view.asset == "money"):
        return pesos(int(value or 0))
    if column.kind == "count":
        return int(value or 0)
    return safe_text(str(value or ""))


def write_statement_xlsx(view: StatementView, path: Path) -> int:
    """Write the statement to `path` (.xlsx); returns how many rows. The workbook is written as it
    goes (openpyxl's write-only mode) from the statement's pages: a statement of 100,000 movements is
    never 100,000 rows of cells in memory."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Estado de cuenta")
    bold = Font(bold=True)

    def cell(value: Any, *, font: Font | None = None, number_format: str | None = None) -> WriteOnlyCell:
        made = WriteOnlyCell(sheet, value=value)
        if font is not None:
            made.font = font
        if number_format is not None:
            made.number_format = number_format
        return made

    money = view.asset == "money"
    balance_format = MONEY_FORMAT if money else COUNT_FORMAT
    totals = (
        ("Saldo inicial", view.opening),
        ("Abonos", view.credits),
        ("Cargos", view.debits),
        ("Saldo final", view.closing),
    )
    heading = title_lines(view)
    header_row = 1 + len(heading) + len(totals) + 2  # the title, its lines, the totals, a blank line
    for index, column in enumerate(STATEMENT_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.append([cell("Estado de cuenta", font=Font(bold=True, size=14))])
    for label, value in heading:
        sheet.append([cell(label, font=bold), safe_text(value)])
    for label, amount in totals:
        sheet.append(
            [cell(label, font=bold), cell(pesos(amount) if money else amount, number_format=balance_format)]
        )
    sheet.append([])
    sheet.append([cell(c.title, font=bold) for c in STATEMENT_COLUMNS])
    formats = [
        "dd/mm/yyyy hh:mm"
        if c.kind == "datetime"
        else MONEY_FORMAT
        if c.kind == "money" or (c.kind == "count" and money)
        else COUNT_FORMAT
        if c.kind == "count"
        else None
        for c in STATEMENT_COLUMNS
    ]
    for row in view.iter_rows():
        sheet.append(
            [
                cell(cell_value(c, row, view), number_format=f) if f else cell_value(c, row, view)
                for c, f in zip(STATEMENT_COLUMNS, formats, strict=True)
            ]
        )
    tmp = path.with_name(path.name + ".tmp")
    try:
        book.save(str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return view.count


def generated_at(now: dt.datetime | None = None) -> str:
    moment = local_time(now or server_now())
    return f"{moment:%d/%m/%Y %H:%M}" if moment else ""
