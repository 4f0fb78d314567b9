"""The downloadable template: a workbook with the columns the import reads (`mapping.TEMPLATE_TITLES`)
and a sheet of instructions, or the same columns as a CSV (UTF-8 with BOM, which Excel opens with
its accents)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from cmdesk.services.bulk_import.mapping import TEMPLATE_TITLES, Column

INSTRUCTIONS = (
    ("Transferencia desde archivo: una fila por cada cuenta de timbrado que recibe timbres.", ""),
    ("", ""),
    ("Columna", "Qué escribir"),
    (TEMPLATE_TITLES[Column.CTI], "El id de la cuenta de timbrado estándar que recibe los timbres."),
    (
        TEMPLATE_TITLES[Column.CLIENT],
        "Si deja vacía la CTI: el NIC o el RFC del cliente; se usa su cuenta de timbrado estándar.",
    ),
    (TEMPLATE_TITLES[Column.QUANTITY], "Cuántos timbres transferir: un número entero mayor que cero."),
    (
        TEMPLATE_TITLES[Column.AMOUNT],
        "El importe de la venta con IVA, en pesos (1,234.50). Queda «por facturar».",
    ),
    (
        TEMPLATE_TITLES[Column.NO_CHARGE],
        "«Sí» si la transferencia no es una venta (cortesía): sin importe, no queda por facturar. "
        "Vacío o «No»: escriba el importe.",
    ),
    (TEMPLATE_TITLES[Column.COMMENT], "Opcional: hasta 500 caracteres."),
    ("", ""),
    ("Ejemplo", ""),
    ("CTI", "NIC o RFC del cliente · Cantidad · Importe · Sin cargo · Comentario"),
    ("A459B9062DF218DB", "(vacío) · 500 · 290.00 · (vacío) · Recarga de noviembre"),
    ("(vacío)", "10245 · 1000 · 580.00 · No · Recarga de noviembre"),
    ("(vacío)", "10246 · 50 · (vacío) · Sí · Timbres de cortesía"),
    ("", ""),
    (
        "Antes de enviar, la revisión muestra cada fila con su saldo y sus errores; "
        "nada se envía hasta confirmar.",
        "",
    ),
)


def write_template(path: Path) -> Path:
    """Write the template to `path` (.xlsx, or .csv by its suffix); returns the file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    titles = [TEMPLATE_TITLES[c] for c in Column]
    try:
        if path.suffix.lower() == ".csv":
            with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
                csv.writer(handle, lineterminator="\r\n").writerow(titles)
        else:
            _write_xlsx(tmp, titles)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _write_xlsx(path: Path, titles: list[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Transferencias"
    sheet.append(titles)
    bold = Font(bold=True)
    for index, width in enumerate((24, 24, 12, 14, 12, 40), start=1):
        sheet.cell(row=1, column=index).font = bold
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    # Text columns stay text (an id or an RFC never becomes a number); numbers get their format.
    for letter in ("A", "B", "E", "F"):
        for row in range(2, 1002):
            sheet[f"{letter}{row}"].number_format = "@"
    for row in range(2, 1002):
        sheet[f"C{row}"].number_format = "#,##0"
        sheet[f"D{row}"].number_format = "#,##0.00"
    help_sheet = book.create_sheet("Instrucciones")
    for line in INSTRUCTIONS:
        help_sheet.append(list(line))
    help_sheet.column_dimensions["A"].width = 28
    help_sheet.column_dimensions["B"].width = 90
    help_sheet["A1"].font = bold
    help_sheet["A3"].font = help_sheet["B3"].font = bold
    book.save(str(path))
