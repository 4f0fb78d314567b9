"""Reading the distributor's file: encodings, separators, Excel cells, the template, and files that
cannot be read (a clear Spanish reason, nothing sent)."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from cmdesk.services.bulk_import import (
    Column,
    ColumnMapping,
    ImportFileError,
    guess,
    layout_key,
    read_sheet,
    write_template,
)
from cmdesk.services.bulk_import.mapping import TEMPLATE_TITLES
from cmdesk.services.bulk_import.reading import MAX_ROWS

ROWS = [
    ["CTI", "NIC o RFC del cliente", "Cantidad", "Importe", "Comentario"],
    ["A1B2C3", "", "500", "1,234.50", "Recarga de diciembre, año 2026"],
    ["", "10245", "1000", "", "Señor Peña"],
]


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(delimiter: str) -> str:
    def cell(value: str) -> str:
        return f'"{value}"' if delimiter in value or "," in value else value

    return "\r\n".join(delimiter.join(cell(v) for v in row) for row in ROWS) + "\r\n"


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("utf-8", ";"), ("cp1252", ";"), ("cp1252", ","), ("utf-16", "\t"), ("utf-8", "\t")],
)
def test_csv_encodings_and_separators(tmp_path: Path, encoding: str, delimiter: str) -> None:
    sheet = read_sheet(write(tmp_path / "recargas.csv", csv_text(delimiter), encoding))
    assert sheet.kind == "csv" and sheet.delimiter == delimiter
    assert sheet.headers == tuple(ROWS[0])
    assert [r.number for r in sheet.rows] == [2, 3]
    assert sheet.rows[0].values == tuple(ROWS[1])
    assert sheet.rows[1].get(4) == "Señor Peña"  # accents and ñ survive every encoding
    if encoding == "utf-8-sig":
        assert sheet.encoding == "utf-8-sig"


def test_the_digest_is_the_files_identity(tmp_path: Path) -> None:
    a = read_sheet(write(tmp_path / "a.csv", csv_text(","), "utf-8"))
    b = read_sheet(write(tmp_path / "b.csv", csv_text(","), "utf-8"))
    c = read_sheet(write(tmp_path / "c.csv", csv_text(";"), "utf-8"))
    assert a.digest == b.digest != c.digest


def test_blank_lines_keep_the_spreadsheets_row_numbers(tmp_path: Path) -> None:
    text = "\n\nCTI,Cantidad\nA,1\n\n,\nB,2\n"
    sheet = read_sheet(write(tmp_path / "x.csv", text, "utf-8"))
    assert sheet.headers == ("CTI", "Cantidad")
    assert [(r.number, r.values) for r in sheet.rows] == [(4, ("A", "1")), (7, ("B", "2"))]


def test_xlsx_cells_keep_their_types(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([])
    sheet.append(["Cuenta de timbrado", "Timbres", "Monto", "Notas", None, "Notas"])
    sheet.append(["ABC123", 500, 290.5, "noviembre", None, "x"])
    sheet.append([None, None, None, None])
    sheet.append([12345, 3.0, 10, dt.datetime(2026, 11, 30, 10, 0), None, None])
    path = tmp_path / "recargas.xlsx"
    book.save(path)
    read = read_sheet(path)
    assert read.kind == "xlsx"
    assert read.headers == ("Cuenta de timbrado", "Timbres", "Monto", "Notas", "Columna E", "Notas (2)")
    assert [r.number for r in read.rows] == [3, 5]
    assert read.rows[0].values[:3] == ("ABC123", 500, 290.5)
    assert read.rows[1].values[:4] == (12345, 3.0, 10, dt.datetime(2026, 11, 30, 10, 0))
    mapping = guess(read.headers)
    assert mapping.columns == {
        Column.CTI: "Cuenta de timbrado",
        Column.QUANTITY: "Timbres",
        Column.AMOUNT: "Monto",
        Column.COMMENT: "Notas",
    }


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_the_template_reads_back_fully_mapped(tmp_path: Path, suffix: str) -> None:
    path = write_template(tmp_path / f"plantilla{suffix}")
    if suffix == ".csv":
        assert path.read_bytes().startswith(codecs.BOM_UTF8)
        path.write_bytes(path.read_bytes() + b"A1,,10,,\r\n")
    else:
        from openpyxl import load_workbook

        book = load_workbook(path)
        assert book.sheetnames == ["Transferencias", "Instrucciones"]
        book["Transferencias"]["A2"] = "A1"  # typed in the first row under the titles
        book["Transferencias"]["C2"] = 10
        book.save(path)
    sheet = read_sheet(path)
    assert sheet.headers == tuple(TEMPLATE_TITLES[c] for c in Column)
    mapping = guess(sheet.headers)
    assert mapping == ColumnMapping(dict(TEMPLATE_TITLES))
    assert mapping.problems(sheet.headers) == []
    assert [r.number for r in sheet.rows] == [2]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("vacio.csv", b"", "está vacío"),
        ("espacios.csv", b"  \r\n \r\n", "está vacío"),
        ("titulos.csv", b"CTI,Cantidad\r\n", "sólo tiene la fila de títulos"),
        ("viejo.xls", b"\xd0\xcf\x11\xe0", "(.xls)"),
        ("falso.xlsx", b"esto no es un zip", "no es un libro de Excel válido"),
        ("binario.csv", b"\x00\x01\x02CTI", "no es un archivo de texto"),
        ("roto.csv", b'CTI,Cantidad\r\n"A1,10\r\n', "no es un CSV válido"),
        ("imagen.png", b"\x89PNG", "Elija un archivo de Excel (.xlsx)"),
    ],
)
def test_files_that_cannot_be_read(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as e:
        read_sheet(path)
    assert message in e.value.message


def test_a_missing_file_and_one_too_long(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as e:
        read_sheet(tmp_path / "no-existe.csv")
    assert e.value.message == "No se encontró el archivo no-existe.csv."
    path = tmp_path / "largo.csv"
    path.write_text("CTI,Cantidad\n" + "A,1\n" * (MAX_ROWS + 1), encoding="utf-8")
    with pytest.raises(ImportFileError) as e:
        read_sheet(path)
    assert "más de 10,000 filas" in e.value.message


def test_mapping_problems_are_spanish(tmp_path: Path) -> None:
    headers = ("Cuenta", "Cantidad", "Comentario")
    assert ColumnMapping({}).problems(headers) == [
        "Indique la columna con la cantidad de timbres.",
        "Indique la columna de la cuenta de timbrado (CTI) o la del cliente (NIC o RFC).",
    ]
    twice = ColumnMapping({Column.CTI: "Cuenta", Column.QUANTITY: "Cuenta", Column.AMOUNT: "Importe"})
    assert twice.problems(headers) == [
        "El archivo no tiene la columna «Importe» (Importe con IVA).",
        "La columna «Cuenta» está asignada a Cuenta de timbrado (CTI) y a Cantidad de timbres.",
    ]
    assert layout_key(["  Cantidad ", "Número de Cuenta"]) == "cantidad|numero de cuenta"
    assert ColumnMapping.from_json({"cti": "A", "otra": "B"}) == ColumnMapping({Column.CTI: "A"})
