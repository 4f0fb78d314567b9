"""One export for every table (`cmdesk.ui.kit.export`): what each table shows — its columns, filter
and order, every row — to Excel with real types (numbers, pesos, dates) and to CSV, from the real
pages over the embedded server."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import Qt

from cmdesk.ui.kit.export import Exporter
from cmdesk.ui.kit.table import PagedTableModel
from cmdesk.ui.main_window import MainWindow
from tests.ui.portal_helpers import show_page

PAGES = [
    ("clientes.timbrado", "export_button", "view"),
    ("clientes.distribuidores", "export_button", "table"),
    ("herramientas.precios", "export_button", "table"),
    ("herramientas.usuarios", "export_button", "table"),
    ("facturacion", "codes.export_button", "codes.view"),
]


def attr(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def export(qtbot: Any, exporter: Exporter, path: Path) -> int:
    with qtbot.waitSignal(exporter.exported, timeout=60_000) as done:
        exporter.export_to(path)
    assert done.args[0] == str(path)
    return int(done.args[1])


def count_all(qtbot: Any, model: PagedTableModel) -> int:
    qtbot.waitUntil(lambda: not model.busy and model.rowCount() > 0, timeout=30_000)
    while model.canFetchMore():
        model.fetchMore()
        qtbot.waitUntil(lambda: not model.busy, timeout=30_000)
    return model.rowCount()


@pytest.mark.parametrize(("name", "button", "view"), PAGES)
def test_every_table_exports_what_it_shows(
    qtbot: Any, started_window: MainWindow, tmp_path: Path, name: str, button: str, view: str
) -> None:
    page = show_page(started_window, name)
    table = attr(page, view)
    model = table.model()
    rows = count_all(qtbot, model)
    exporter = attr(page, button).exporter
    assert export(qtbot, exporter, tmp_path / "t.xlsx") == rows
    sheet = load_workbook(tmp_path / "t.xlsx").active
    values = list(sheet.iter_rows(values_only=True))
    titles = [c.title_text() for c in model.columns if c.kind != "check"]
    assert list(values[0]) == titles
    assert len(values) == rows + 1
    columns = [c for c in model.columns if c.kind != "check"]
    for index, column in enumerate(columns):
        cells = [r[index] for r in values[1:] if r[index] is not None]
        if column.kind == "number":
            assert all(isinstance(v, int) for v in cells), column.key
        elif column.kind == "money":
            assert all(isinstance(v, int | float | Decimal) for v in cells), column.key
        elif column.kind in ("date", "datetime"):
            assert all(isinstance(v, dt.datetime) for v in cells), column.key
    # The same rows in the table's order: the first column's texts match the loaded rows'.
    first = [model.data(model.index(i, 0)) or "" for i in range(rows)]
    if columns[0].kind == "text":
        assert [str(r[0] or "") for r in values[1:]] == first
    # CSV: the same rows, UTF-8 with BOM.
    assert export(qtbot, exporter, tmp_path / "t.csv") == rows
    with (tmp_path / "t.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.reader(handle))) == rows + 1


def test_the_export_follows_the_filter_and_order(qtbot: Any, started_window: MainWindow, tmp_path: Path) -> None:
    page = show_page(started_window, "clientes.timbrado")
    model = page.view.model()
    count_all(qtbot, model)
    balance = next(i for i, c in enumerate(model.columns) if c.key == "balance")
    model.sort(balance, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: not model.busy, timeout=30_000)
    rows = count_all(qtbot, model)
    export(qtbot, page.export_button.exporter, tmp_path / "s.xlsx")
    sheet = load_workbook(tmp_path / "s.xlsx").active
    values = list(sheet.iter_rows(values_only=True))[1:]
    column = [c for c in model.columns if c.kind != "check"].index(model.columns[balance])
    exported = [r[column] for r in values]
    shown = [model.record(i).get("balance") for i in range(rows)]
    texts = [model.data(model.index(i, balance)) for i in range(rows)]
    # Numbers stay numbers; an unlimited CTI's balance is the word the table shows.
    assert exported == [n if isinstance(n, int) else t for n, t in zip(shown, texts, strict=True)]
    assert any(isinstance(v, int) for v in exported)
