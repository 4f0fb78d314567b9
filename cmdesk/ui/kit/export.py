"""One export for every table: what a `PagedTableModel` shows — its columns, in its order, with its
search, filters and sort (the same loader, in SQL on the cache), every row, not only those loaded — to
Excel (.xlsx) or CSV, with real types: numbers are numbers, money is pesos with a currency format,
dates are dates (Mexico City); labels (states, colors, yes/no) as the table writes them.

    export_button(page, page.table, "timbrado", title=tr("Exportar cuentas de timbrado"))

The button offers "A Excel (.xlsx)…" and "A CSV (.csv)…"; the file is written in the cache pool
(`cmdesk.services.export.write_table`) with a progress box that can cancel it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QProgressDialog, QPushButton, QTableView, QWidget

from cmdesk.domain.field_paths import value_at
from cmdesk.services import export
from cmdesk.ui import locale as fmt
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, read
from cmdesk.ui.kit.messages import error_text, inform
from cmdesk.ui.kit.table import Column, PagedTableModel, Query, record_of
from cmdesk.ui.operations import Progress

tr = translator("kit")

PAGE = 2000
# How a table's column kind becomes a file's; the others ("auto") write the cell's text, or the
# record's whole number when the cell shows that number.
_KINDS = {"number": "number", "money": "money", "date": "date", "datetime": "datetime"}


def file_columns(model: PagedTableModel) -> list[export.ExportColumn]:
    """The model's columns as the file's (titles translated now, on the UI thread)."""
    out: list[export.ExportColumn] = []
    for column in model.columns:
        if column.kind == "check":
            continue
        kind = _KINDS.get(column.kind, "auto")
        out.append(
            export.ExportColumn(
                column.title_text(),
                _reader(column, "text" if kind == "auto" else kind),
                kind,
                max(8, min(50, len(column.title_text()) + 4)),
            )
        )
    return out


def _reader(column: Column, kind: str) -> Any:
    if kind != "text":
        return column.read

    def value(row: Any) -> Any:
        # A column that writes a number as text ("2,224", or "Ilimitado"): the record's number.
        raw = value_at(record_of(row), column.key) if "." in column.key else record_of(row).get(column.key)
        if isinstance(raw, int) and not isinstance(raw, bool):
            shown = column.text(row)
            if shown.replace(",", "").lstrip("-").isdigit():
                return raw
            return shown
        return column.text(row)

    return value


def table_pages(
    cache: Any, model: PagedTableModel, query: Query, page: int = PAGE
) -> Iterator[Sequence[Any]]:
    """Every row of the query, page by page, as the model makes them (its loader, then `prepare`)."""
    offset = 0
    while True:
        records = model.loader(cache, query, page, offset)
        if not records:
            return
        yield model.prepare(cache, records) if model.prepare is not None else records
        if len(records) < page:
            return
        offset += len(records)


def _export(
    cache: Any,
    model: PagedTableModel,
    query: Query,
    columns: list[export.ExportColumn],
    path: Path,
    sheet: str,
    total: int,
    progress: Progress,
) -> int:
    return export.write_table(
        path,
        columns,
        table_pages(cache, model, query),
        total,
        sheet=sheet,
        progress=lambda done, all_: progress(done, all_),
        cancelled=lambda: progress.cancelled,
    )


def export_table(
    context: AppContext, model: PagedTableModel, path: Path, *, sheet: str = "", parent: QWidget | None = None
) -> Action:
    """The rows of `model`'s current query to `path` (.xlsx or .csv); chain `.progress()` to follow it."""
    return read(
        context,
        _export,
        model,
        model.query,
        file_columns(model),
        path,
        sheet or "Hoja1",
        model.total,
        parent=parent,
        label=tr("Exportando"),
    )


class Exporter(QObject):
    """The "Exportar" button's work: the file dialog, the progress box, the message at the end."""

    exported = Signal(str, int)  # the path ("" when it failed or was cancelled) and how many rows

    def __init__(self, parent: QWidget, view: QTableView, base_name: str, title: str) -> None:
        super().__init__(parent)
        self.widget, self.view, self.base_name, self.title = parent, view, base_name, title

    def model(self) -> PagedTableModel:
        model = self.view.model()
        assert isinstance(model, PagedTableModel)
        return model

    def choose(self, kind: str) -> None:
        file_filter = (
            tr("Libro de Excel (*.xlsx)") if kind == "xlsx" else tr("Valores separados por comas (*.csv)")
        )
        path, _ = QFileDialog.getSaveFileName(
            self.widget, self.title, str(Path.home() / f"{self.base_name}.{kind}"), file_filter
        )
        if path:
            self.export_to(Path(path if path.lower().endswith("." + kind) else f"{path}.{kind}"))

    def export_to(self, path: Path) -> None:
        model = self.model()
        box = QProgressDialog(tr("Exportando…"), tr("Cancelar"), 0, max(model.total, 1), self.widget)
        box.setObjectName("exportProgress")
        box.setWindowTitle(self.title)
        box.setMinimumDuration(400)
        box.setAutoClose(True)

        def done(count: int) -> None:
            box.reset()
            self.exported.emit(str(path), count)
            inform(
                self.widget,
                self.title,
                tr("Se exportaron {n} filas a {path}.").format(n=fmt.number(count), path=str(path)),
            )

        def failed(error: BaseException) -> None:
            box.reset()
            self.exported.emit("", 0)
            if isinstance(error, export.ExportCancelled):
                return
            inform(
                self.widget,
                self.title,
                tr("No se pudo exportar: {error}").format(error=error_text(error)),
                error=True,
            )

        handle = (
            export_table(model.context, model, path, sheet=self.title, parent=self.widget)
            .progress(lambda d, _t, _x: box.setValue(min(d, box.maximum())))
            .success(done)
            .failure(failed)
            .run()
        )
        if handle is not None:
            box.canceled.connect(handle.cancel)


def export_button(parent: QWidget, view: QTableView, base_name: str, *, title: str = "") -> QPushButton:
    """An "Exportar" button with its menu (Excel, CSV) for the table `view` (its model at the time of the
    click: a screen may swap models). The button's `exporter` does the work (tests call it directly)."""
    button = QPushButton(tr("Exportar"), parent)
    button.setObjectName("exportTable")
    exporter = Exporter(parent, view, base_name, title or tr("Exportar"))
    menu = QMenu(button)
    menu.addAction(tr("A Excel (.xlsx)…"), lambda: exporter.choose("xlsx"))
    menu.addAction(tr("A CSV (.csv)…"), lambda: exporter.choose("csv"))
    button.setMenu(menu)
    button.exporter = exporter  # type: ignore[attr-defined]
    return button
