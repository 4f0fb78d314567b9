"""Export of the clients view to Excel (.xlsx) and CSV: the rows the user is looking at — the same
search, filter and order — all of them, not only the page the table has loaded.

    export_clients(cache, Path("clientes.xlsx"), q="martínez", category="favorites", sort="stamps_desc")

Rows are read from the cache in pages (`Cache.query_clients`, sorted in SQL) and written as they come,
so 100,000 clients never sit in memory at once (openpyxl's write-only workbook streams them too).

- Excel: numbers are numbers, dates are real dates (Mexico City time, shown `dd/mm/yyyy hh:mm`), the
  header row is bold and frozen, and the columns have sensible widths.
- CSV: UTF-8 with a BOM (Excel on Windows reads accents and ñ only then), comma separated, CRLF line
  ends, dates as `dd/mm/yyyy hh:mm`, numbers without thousands separators (so Excel reads them as
  numbers).

Runs in the cache pool (it reads the cache); `progress(done, total)` is called after each page, and
returning True from `cancelled()` stops it (the partial file is removed). No Qt here.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cmdesk.domain.clock import in_mexico_city
from cmdesk.domain.names import COLORS
from cmdesk.services.cache import Cache

PAGE = 2000
FORMATS = ("xlsx", "csv")


def local_time(value: Any) -> dt.datetime | None:
    """A stored UTC time (ISO text or datetime) as a naive Mexico City datetime (what a spreadsheet
    cell holds), or None."""
    moment = in_mexico_city(value)
    return moment.replace(tzinfo=None, microsecond=0) if moment is not None else None


@dataclass(frozen=True)
class ExportColumn:
    title: str
    value: Callable[[Mapping[str, Any]], Any]
    # text · number · money (centavos: pesos in the file) · date · datetime · bool · auto (a whole
    # number stays a number, anything else is text: a balance that may read "Ilimitado")
    kind: str = "text"
    width: int = 14


def _yes_no(value: Any) -> str:
    return "Sí" if value else "No"


COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("NIC", lambda r: r.get("nic") or "", width=10),
    ExportColumn("Nombre", lambda r: r.get("name") or "", width=40),
    ExportColumn("Nombre comercial", lambda r: r.get("trade_name") or "", width=28),
    ExportColumn("RFC", lambda r: r.get("rfc") or "", width=15),
    ExportColumn("Teléfono", lambda r: r.get("phone") or "", width=13),
    ExportColumn("Correo", lambda r: r.get("email") or "", width=30),
    ExportColumn("Cuentas de timbrado", lambda r: " ".join(r.get("cti_id_list") or []), width=36),
    ExportColumn("Abonados", lambda r: r.get("credited") or 0, "number", 11),
    ExportColumn("Usados", lambda r: r.get("issued") or 0, "number", 11),
    ExportColumn("Timbres", lambda r: r.get("stamps") or 0, "number", 11),
    ExportColumn("Puntos", lambda r: r.get("points") or 0, "number", 11),
    ExportColumn("Fecha alta", lambda r: r.get("created_at"), "datetime", 17),
    ExportColumn("Última compra", lambda r: r.get("last_purchase_at"), "datetime", 17),
    ExportColumn("Última emisión", lambda r: r.get("last_issue_at"), "datetime", 17),
    ExportColumn("Activo", lambda r: r.get("active"), "bool", 8),
    ExportColumn("Favorito", lambda r: r.get("favorite"), "bool", 9),
    ExportColumn("Baja", lambda r: r.get("dropped"), "bool", 7),
    ExportColumn("Color", lambda r: COLORS.get(str(r.get("color") or ""), ""), width=10),
)

HEADERS = [c.title for c in COLUMNS]


class ExportCancelled(Exception):
    """The user stopped the export."""


def iter_client_pages(
    cache: Cache,
    *,
    q: str | None = None,
    category: str = "all",
    color: str | None = None,
    sort: str = "name",
    page: int = PAGE,
) -> Any:
    """The view's rows, page by page, each row with `cti_id_list` (its CTI ids)."""
    offset = 0
    while True:
        rows = cache.query_clients(q=q, category=category, color=color, sort=sort, limit=page, offset=offset)
        if not rows:
            return
        ctis = cache.cti_ids_by_client([r["id"] for r in rows])
        for row in rows:
            row["cti_id_list"] = ctis.get(row["id"], [])
        yield rows
        if len(rows) < page:
            return
        offset += len(rows)


def _csv_value(column: ExportColumn, row: Mapping[str, Any]) -> str:
    value = column.value(row)
    if column.kind in ("datetime", "date"):
        moment = local_time(value)
        if moment is None:
            return ""
        return moment.strftime("%d/%m/%Y %H:%M" if column.kind == "datetime" else "%d/%m/%Y")
    if column.kind == "bool":
        return _yes_no(value)
    if column.kind == "number":
        return "" if value is None else str(int(value))
    if column.kind == "money":
        return "" if value is None else f"{Decimal(int(value)) / 100:.2f}"
    if column.kind == "auto" and _whole(value):
        return str(value)
    return safe_text(str(value))


def _xlsx_value(column: ExportColumn, row: Mapping[str, Any]) -> Any:
    value = column.value(row)
    if column.kind in ("datetime", "date"):
        return local_time(value)
    if column.kind == "bool":
        return _yes_no(value)
    if column.kind == "number":
        return None if value is None else int(value)
    if column.kind == "money":
        return None if value is None else Decimal(int(value)) / 100
    if column.kind == "auto" and _whole(value):
        return value
    return safe_text(str(value))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def safe_text(text: str) -> str:
    """Text a spreadsheet must not run as a formula (a name typed as "=HYPERLINK(...)")."""
    return "'" + text if text[:1] in ("=", "+", "@") or (text[:1] == "-" and len(text) > 1) else text


def export_clients(
    cache: Cache,
    path: Path,
    *,
    q: str | None = None,
    category: str = "all",
    color: str | None = None,
    sort: str = "name",
    file_format: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Write the clients of the view to `path` (format from `file_format`, else from the suffix).
    Returns how many clients were written."""
    path = Path(path)
    kind = (file_format or path.suffix.lstrip(".")).lower()
    if kind not in FORMATS:
        raise ValueError(f"formato de exportación desconocido: {kind!r}")
    total = cache.count_clients(q=q, category=category, color=color)
    pages = iter_client_pages(cache, q=q, category=category, color=color, sort=sort)
    return write_table(
        path,
        COLUMNS,
        pages,
        total,
        file_format=kind,
        sheet="Clientes",
        progress=progress,
        cancelled=cancelled,
    )


def write_table(
    path: Path,
    columns: Sequence[ExportColumn],
    pages: Iterable[Sequence[Any]],
    total: int,
    *,
    file_format: str | None = None,
    sheet: str = "Hoja1",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Write the rows of `pages` (lists of rows; each column reads its value from a row) to `path`,
    Excel or CSV (from `file_format`, else the suffix), through a temporary file replaced at the end:
    a failed or cancelled export leaves no half file. Returns how many rows were written."""
    path = Path(path)
    kind = (file_format or path.suffix.lstrip(".")).lower()
    if kind not in FORMATS:
        raise ValueError(f"formato de exportación desconocido: {kind!r}")
    tmp = path.with_name(path.name + ".tmp")
    try:
        if kind == "csv":
            written = _write_csv(tmp, columns, pages, total, progress, cancelled)
        else:
            title = "".join(" " if ch in "[]:*?/\\" else ch for ch in sheet)[:31] or "Hoja1"
            written = _write_xlsx(tmp, columns, pages, total, progress, cancelled, title)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return written


def _check(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise ExportCancelled("Exportación cancelada.")


def _write_csv(
    path: Path,
    columns: Sequence[ExportColumn],
    pages: Any,
    total: int,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
) -> int:
    written = 0
    # utf-8-sig: the BOM that tells Excel the file is UTF-8.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([c.title for c in columns])
        for rows in pages:
            _check(cancelled)
            writer.writerows([_csv_value(c, r) for c in columns] for r in rows)
            written += len(rows)
            if progress is not None:
                progress(written, total)
    return written


def _write_xlsx(
    path: Path,
    columns: Sequence[ExportColumn],
    pages: Any,
    total: int,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
    title: str,
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header: list[Any] = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    formats = {
        i: {"datetime": "dd/mm/yyyy hh:mm", "date": "dd/mm/yyyy", "money": '"$"#,##0.00'}[c.kind]
        for i, c in enumerate(columns)
        if c.kind in ("datetime", "date", "money")
    }
    written = 0
    for rows in pages:
        _check(cancelled)
        for row in rows:
            values: Sequence[Any] = [_xlsx_value(c, row) for c in columns]
            out: list[Any] = []
            for i, value in enumerate(values):
                if i in formats and value is not None:
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = formats[i]
                    out.append(cell)
                else:
                    out.append(value)
            sheet.append(out)
        written += len(rows)
        if progress is not None:
            progress(written, total)
    book.save(str(path))
    return written
