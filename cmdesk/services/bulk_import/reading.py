"""Reading the distributor's file: `.xlsx` (the first sheet with data) or `.csv` (UTF-8 with or without
BOM, UTF-16 with BOM, or Windows-1252; comma, semicolon or tab, detected from the title row).

The first row with anything in it holds the column titles; every later row that is not empty is a
row to import, numbered as the spreadsheet shows it (so «fila 7» is row 7 in Excel). Cells keep
what the file holds: Excel numbers stay numbers, CSV cells are text. A file that cannot be read
raises `ImportFileError` with a Spanish message; nothing is sent then.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

Cell = str | int | float | dt.datetime | dt.date | bool | None

MAX_ROWS = 10_000
MAX_BYTES = 20 * 1024 * 1024
DELIMITERS = (",", ";", "\t")


class ImportFileError(Exception):
    """The file cannot be imported; `message` says why, in Spanish."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SheetRow:
    number: int  # as the spreadsheet shows it: the title row is 1 when it is the first one
    values: tuple[Cell, ...]

    def get(self, column: int) -> Cell:
        return self.values[column] if column < len(self.values) else None


@dataclass(frozen=True)
class Sheet:
    """What a file holds: its column titles, its rows, and what identifies it (`digest`: SHA-256 of
    its bytes, the import's identity)."""

    file_name: str
    kind: str  # "xlsx" or "csv"
    headers: tuple[str, ...]
    rows: tuple[SheetRow, ...]
    digest: str
    encoding: str = ""
    delimiter: str = ""

    def column(self, title: str) -> int | None:
        try:
            return self.headers.index(title)
        except ValueError:
            return None


def read_sheet(path: Path) -> Sheet:
    """Read a `.xlsx` or `.csv` file (see the module docstring)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise ImportFileError(
            "Los libros de Excel antiguos (.xls) no se pueden leer: ábralo en Excel y guárdelo como "
            "«Libro de Excel (.xlsx)» o como CSV."
        )
    if suffix not in (".xlsx", ".csv", ".txt"):
        raise ImportFileError("Elija un archivo de Excel (.xlsx) o de texto separado por comas (.csv).")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ImportFileError("El archivo es demasiado grande (más de 20 MB); divídalo en varios.")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"No se encontró el archivo {path.name}.") from None
    except PermissionError:
        raise ImportFileError(
            f"No se pudo abrir {path.name}: puede estar abierto en Excel. Ciérrelo e intente de nuevo."
        ) from None
    except OSError as exc:
        raise ImportFileError(f"No se pudo leer {path.name} ({exc.strerror or exc}).") from None
    if not raw.strip():
        raise ImportFileError(f"El archivo {path.name} está vacío.")
    digest = hashlib.sha256(raw).hexdigest()
    if suffix == ".xlsx":
        headers, rows = _read_xlsx(raw, path.name)
        sheet = Sheet(path.name, "xlsx", headers, rows, digest)
    else:
        text, encoding = _decode(raw, path.name)
        delimiter = _delimiter(text)
        headers, rows = _table(_csv_rows(text, delimiter, path.name), path.name)
        sheet = Sheet(path.name, "csv", headers, rows, digest, encoding, delimiter)
    if not sheet.rows:
        raise ImportFileError(
            f"El archivo {path.name} sólo tiene la fila de títulos: no hay filas que importar."
        )
    return sheet


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise ImportFileError(f"{name} dice ser UTF-8 pero tiene caracteres no válidos.") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ImportFileError(f"{name} dice ser UTF-16 pero tiene caracteres no válidos.") from None
    if b"\x00" in raw:
        raise ImportFileError(f"{name} no es un archivo de texto (CSV).")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode(
            "cp1252"
        ), "cp1252"  # what Excel for Windows writes for «CSV (delimitado por comas)»
    except UnicodeDecodeError:
        raise ImportFileError(
            f"No se reconoce la codificación de {name}: guárdelo como «CSV UTF-8» desde Excel."
        ) from None


def _delimiter(text: str) -> str:
    """The separator of the title row: the one it holds most of (outside quotes); comma by default.
    Titles almost never hold a separator, while amounts like 1,234.50 do in the rows."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for char in first:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _csv_rows(text: str, delimiter: str, name: str) -> list[tuple[int, list[Cell]]]:
    out: list[tuple[int, list[Cell]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for values in reader:
            out.append((reader.line_num, [v.strip() for v in values]))
            if len(out) > MAX_ROWS + 1:
                break
    except csv.Error as exc:
        raise ImportFileError(
            f"{name} no es un CSV válido cerca de la línea {reader.line_num}: {exc}."
        ) from None
    # csv's line_num counts physical lines; a quoted cell may span several. Excel numbers records.
    return [(i + 1, values) for i, (_line, values) in enumerate(out)]


def _read_xlsx(raw: bytes, name: str) -> tuple[tuple[str, ...], tuple[SheetRow, ...]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError):
        raise ImportFileError(
            f"{name} no es un libro de Excel válido (.xlsx). Ábralo en Excel y guárdelo de nuevo."
        ) from None
    try:
        for worksheet in book.worksheets:
            rows: list[tuple[int, list[Cell]]] = []
            for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
                cells = [_cell(v) for v in values]
                if any(v not in (None, "") for v in cells):  # formatted but empty rows are skipped
                    rows.append((number, cells))
                    if len(rows) > MAX_ROWS + 1:
                        break
            if rows:
                return _table(rows, name)
    finally:
        book.close()
    raise ImportFileError(f"El libro {name} no tiene datos.")


def _cell(value: object) -> Cell:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float | bool | dt.datetime | dt.date) or value is None:
        return value
    return str(value)


def _table(rows: list[tuple[int, list[Cell]]], name: str) -> tuple[tuple[str, ...], tuple[SheetRow, ...]]:
    """The title row (the first with anything in it) and the rows after it that are not empty."""
    filled = [(n, values) for n, values in rows if any(v not in (None, "") for v in values)]
    if not filled:
        raise ImportFileError(f"El archivo {name} no tiene datos.")
    title_number, titles = filled[0]
    width = max(i + 1 for i, v in enumerate(titles) if v not in (None, ""))
    headers: list[str] = []
    for i in range(width):
        title = str(titles[i]).strip() if i < len(titles) and titles[i] not in (None, "") else ""
        title = title or f"Columna {_letters(i)}"
        base, n = title, 2
        while title in headers:  # two columns with one title: told apart
            title, n = f"{base} ({n})", n + 1
        headers.append(title)
    body = [SheetRow(n, tuple(values)) for n, values in filled[1:] if n > title_number]
    if len(body) > MAX_ROWS:
        raise ImportFileError(
            f"El archivo tiene más de {MAX_ROWS:,} filas: divídalo en varios archivos de hasta {MAX_ROWS:,}."
        )
    return tuple(headers), tuple(body)


def _letters(index: int) -> str:
    """A column's letters as Excel names it (0 → A, 26 → AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(ord("A") + rest) + out
    return out
