"""Timbrado → Transferencia desde archivo: refill many CTIs from a spreadsheet
(`cmdesk.services.bulk_import`).

Five steps in one window, each a page of `steps`:

1. **Archivo**: choose a .xlsx or .csv (UTF-8 with or without BOM, or Windows-1252; comma or
   semicolon), or download the template; an import left in the middle (the app closed, the line lost,
   a cancellation) can be resumed from the journal.
2. **Columnas**: which column of the file holds the CTI (or the client's NIC or RFC), the quantity,
   the amount and the comment — guessed from the titles, or the mapping chosen before for files like
   this one — with the first rows as they will be read.
3. **Revisión** (the dry run): every row checked against the cache — its CTI, quantity, amount,
   duplicates, the balance before and after — with its errors in Spanish; nothing is sent while a row
   to send has an error, unless it is excluded.
4. **Envío**: the rows go to the outbox in chunks, each with its own key, off the UI thread, with a
   progress bar; «Detener» stops after the chunk in flight.
5. **Resultado**: each row applied, refused (and why) or waiting; refused rows can be sent again;
   the result exported to Excel.

Every call goes through `timbrado.actions` (tasks in the pools, never on the UI thread); the tables are
kit `PagedTableModel`s whose loaders read the dry run or the journal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cmdesk.services import bulk_import
from cmdesk.services.bulk_import.sending import CHUNK
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import (
    ERROR_COLOR,
    ERROR_STYLE,
    WARNING_STYLE,
    FormGrid,
    hbox,
    heading,
    push_button,
    vbox,
)
from cmdesk.ui.kit.messages import error_text
from cmdesk.ui.kit.table import RIGHT, Column, PagedTableModel, Query, make_table
from cmdesk.ui.timbrado import actions
from cmdesk.ui.timbrado.common import CONTEXT, tr

UNASSIGNED = QT_TRANSLATE_NOOP(CONTEXT, "— Sin asignar —")
PREVIEW_ROWS = 50
FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
EXCLUDED_COLOR = "#8a8a8a"


def _col(key: str, title: str, kind: str = "text") -> Column:
    return Column(key, title, kind, context=CONTEXT)


PREVIEW_COLUMNS = (
    _col("row", QT_TRANSLATE_NOOP(CONTEXT, "Fila"), "number"),
    _col("cti", QT_TRANSLATE_NOOP(CONTEXT, "Cuenta de timbrado (CTI)")),
    _col("client", QT_TRANSLATE_NOOP(CONTEXT, "Cliente (NIC o RFC)")),
    _col("quantity", QT_TRANSLATE_NOOP(CONTEXT, "Cantidad de timbres")),
    _col("amount", QT_TRANSLATE_NOOP(CONTEXT, "Importe con IVA")),
    _col("no_charge", QT_TRANSLATE_NOOP(CONTEXT, "Sin cargo")),
    _col("comment", QT_TRANSLATE_NOOP(CONTEXT, "Comentario")),
)


def _amount_text(row: Any) -> str:
    """A row's amount, or «Sin cargo» (no sale: nothing to invoice)."""
    if row.get("no_charge"):
        return tr("Sin cargo")
    return fmt.money(int(row["amount"])) if row.get("amount") is not None else ""


CHECK_COLUMNS = (
    _col("row", QT_TRANSLATE_NOOP(CONTEXT, "Fila"), "number"),
    _col("state", QT_TRANSLATE_NOOP(CONTEXT, "Estado")),
    _col("cti", QT_TRANSLATE_NOOP(CONTEXT, "Cuenta")),
    _col("client", QT_TRANSLATE_NOOP(CONTEXT, "Cliente")),
    _col("quantity", QT_TRANSLATE_NOOP(CONTEXT, "Timbres"), "number"),
    Column(
        "amount", QT_TRANSLATE_NOOP(CONTEXT, "$ Importe"), value=_amount_text, align=RIGHT, context=CONTEXT
    ),
    _col("before", QT_TRANSLATE_NOOP(CONTEXT, "Saldo antes"), "number"),
    _col("after", QT_TRANSLATE_NOOP(CONTEXT, "Saldo después"), "number"),
    _col("notes", QT_TRANSLATE_NOOP(CONTEXT, "Errores y avisos")),
)
RESULT_COLUMNS = (
    _col("row", QT_TRANSLATE_NOOP(CONTEXT, "Fila"), "number"),
    _col("state", QT_TRANSLATE_NOOP(CONTEXT, "Resultado")),
    _col("label", QT_TRANSLATE_NOOP(CONTEXT, "Destino")),
    _col("quantity", QT_TRANSLATE_NOOP(CONTEXT, "Timbres"), "number"),
    _col("amount", QT_TRANSLATE_NOOP(CONTEXT, "$ Importe"), "money"),
    _col("reason", QT_TRANSLATE_NOOP(CONTEXT, "Motivo")),
)


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


def _slice(
    rows: Callable[[], Sequence[dict[str, Any]]],
) -> Callable[[Any, Query, int, int], list[dict[str, Any]]]:
    """A table's loader over rows made off the UI thread (the cache pool), filtered by the query's
    `only_errors`."""

    def load(_cache: Any, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
        found = [r for r in rows() if not query.get("only_errors") or r["problem"]]
        return found[offset : offset + limit]

    return load


class RowsModel(PagedTableModel):
    """A dry run's or a result's rows: rows with an error in red, excluded ones dimmed."""

    def extra_data(self, row: int, column: int, role: int) -> Any:
        if role == FOREGROUND:
            record = self.record(row)
            if record.get("excluded"):
                return QColor(EXCLUDED_COLOR)
            if record.get("problem"):
                return QColor(ERROR_COLOR)
        return super().extra_data(row, column, role)


class ImportDialog(QDialog):
    """See the module docstring. `sent(report)` after each sending."""

    sent = Signal(object)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle(tr("Transferencia desde archivo"))
        self.setObjectName("importDialog")
        self.resize(1180, 700)
        self.desk: bulk_import.SessionDesktop | None = None
        self.opened: actions.OpenedFile | None = None
        self.run: bulk_import.DryRun | None = None
        self.import_id: str | None = None
        self.unfinished: list[Any] = []
        self.stop = threading.Event()
        self.sending = False
        self.report: bulk_import.SendReport | None = None
        self._preview: list[dict[str, Any]] = []
        self._checks: list[dict[str, Any]] = []
        self._results: list[dict[str, Any]] = []

        self.steps = QStackedWidget(self)
        self.steps.setObjectName("steps")
        self.message = QLabel(self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.hide()
        self.back_button = push_button(tr("Atrás"), self, "backButton", self.back)
        self.close_button = push_button(tr("Cerrar"), self, "closeButton", self.close)
        vbox(self, self.steps, self.message, hbox(self.back_button, None, self.close_button))
        self._file_page()
        self._mapping_page()
        self._check_page()
        self._send_page()
        self._result_page()
        self._show(0)

    # ---- pages ----------------------------------------------------------------------------------------

    def _page(self, title: str, subtitle: str) -> tuple[QWidget, QVBoxLayout]:
        page = QWidget(self.steps)
        layout = vbox(page)
        layout.addLayout(heading(title, page, subtitle))
        self.steps.addWidget(page)
        return page, layout

    def _file_page(self) -> None:
        page, layout = self._page(
            tr("1. Archivo"),
            tr(
                "Elija un archivo de Excel (.xlsx) o de texto separado por comas o punto y coma (.csv) "
                "con una fila por cuenta de timbrado: la cuenta (o el NIC o RFC del cliente), la cantidad "
                "de timbres, el importe con IVA y un comentario. Nada se envía hasta que revise las filas."
            ),
        )
        self.choose_button = push_button(tr("Elegir archivo…"), page, "chooseButton", self.choose_file)
        self.template_button = push_button(
            tr("Descargar plantilla…"), page, "templateButton", self.save_template
        )
        self.resume_label = QLabel(page)
        self.resume_label.setObjectName("resumeLabel")
        self.resume_label.setWordWrap(True)
        self.resume_box = QComboBox(page)
        self.resume_box.setObjectName("resumeBox")
        self.resume_button = push_button(tr("Reanudar el envío"), page, "resumeButton", self.resume)
        layout.addLayout(hbox(self.choose_button, self.template_button, None))
        layout.addSpacing(16)
        layout.addWidget(self.resume_label)
        layout.addLayout(hbox((self.resume_box, 1), self.resume_button))
        layout.addStretch(1)
        self._set_unfinished([])

    def _mapping_page(self) -> None:
        page, layout = self._page(
            tr("2. Columnas"),
            tr(
                "Indique qué columna del archivo tiene cada dato. La elección se recuerda para los "
                "archivos con las mismas columnas."
            ),
        )
        self.file_label = QLabel(page)
        self.file_label.setObjectName("fileLabel")
        self.file_label.setWordWrap(True)
        self.warning = QLabel(page)
        self.warning.setObjectName("previousImport")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)
        grid = FormGrid()
        self.combos: dict[bulk_import.Column, QComboBox] = {}
        for column in bulk_import.Column:
            combo = QComboBox(page)
            combo.setObjectName(f"map_{column.value}")
            combo.setMinimumWidth(320)
            combo.currentIndexChanged.connect(lambda _i: self._mapping_changed())
            self.combos[column] = combo
            grid.addRow(tr(bulk_import.COLUMN_LABELS[column]), hbox((combo, 0), None))
        self.mapping_problems = QLabel(page)
        self.mapping_problems.setObjectName("mappingProblems")
        self.mapping_problems.setStyleSheet(ERROR_STYLE)
        self.mapping_problems.setWordWrap(True)
        self.preview_model = RowsModel(
            self.context, PREVIEW_COLUMNS, _slice(lambda: self._preview), parent=self
        )
        self.preview = make_table(
            self.preview_model, page, "preview", sortable=False, widths=(5, 30, 20, 14, 14, 10)
        )
        self.check_button = push_button(tr("Revisar las filas"), page, "checkButton", self.check)
        for widget in (self.file_label, self.warning):
            layout.addWidget(widget)
        layout.addLayout(grid)
        layout.addWidget(self.mapping_problems)
        layout.addWidget(QLabel(tr("Las primeras filas como se leerán:"), page))
        layout.addWidget(self.preview)
        layout.addLayout(hbox(None, self.check_button))

    def _check_page(self) -> None:
        page, layout = self._page(
            tr("3. Revisión"),
            tr(
                "Cada fila revisada contra su caché: la cuenta, la cantidad, el importe, las filas "
                "repetidas y su saldo."
            ),
        )
        self.totals = QLabel(page)
        self.totals.setObjectName("totals")
        self.totals.setWordWrap(True)
        self.blocking = QLabel(page)
        self.blocking.setObjectName("blocking")
        self.blocking.setWordWrap(True)
        self.blocking.setStyleSheet(ERROR_STYLE)
        self.check_model = RowsModel(self.context, CHECK_COLUMNS, _slice(lambda: self._checks), parent=self)
        self.check_table = make_table(
            self.check_model,
            page,
            "checkTable",
            sortable=False,
            multiple=True,
            stretch=8,
            widths=(5, 10, 34, 30, 8, 12, 10, 12),
        )
        self.only_errors = QPushButton(tr("Sólo filas con errores"), page)
        self.only_errors.setObjectName("onlyErrors")
        self.only_errors.setCheckable(True)
        self.only_errors.toggled.connect(
            lambda on: self.check_model.set_query(self.check_model.query.filtered(only_errors=on or None))
        )
        self.exclude_button = push_button(
            tr("Excluir las filas con errores"), page, "excludeButton", self.exclude_errors
        )
        self.toggle_button = push_button(
            tr("Excluir o incluir las seleccionadas"), page, "toggleButton", self.toggle_selected
        )
        self.send_button = push_button(tr("Enviar"), page, "sendButton", self.send)
        layout.addWidget(self.totals)
        layout.addWidget(self.check_table)
        layout.addWidget(self.blocking)
        layout.addLayout(
            hbox(self.only_errors, self.exclude_button, self.toggle_button, None, self.send_button)
        )

    def _send_page(self) -> None:
        page, layout = self._page(
            tr("4. Envío"),
            tr(
                "Cada fila viaja con su propia clave: si se cierra la aplicación o se pierde la línea, "
                "al reanudar ninguna se aplica dos veces."
            ),
        )
        self.progress_bar = QProgressBar(page)
        self.progress_bar.setObjectName("progressBar")
        self.progress_text = QLabel(page)
        self.progress_text.setObjectName("progressText")
        self.progress_text.setWordWrap(True)
        self.stop_button = push_button(tr("Detener"), page, "stopButton", self.stop_sending)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_text)
        layout.addLayout(hbox(None, self.stop_button))
        layout.addStretch(1)

    def _result_page(self) -> None:
        page, layout = self._page(tr("5. Resultado"), "")
        self.summary = QLabel(page)
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.result_model = RowsModel(
            self.context, RESULT_COLUMNS, _slice(lambda: self._results), parent=self
        )
        self.result_table = make_table(
            self.result_model, page, "resultTable", sortable=False, stretch=5, widths=(5, 11, 48, 8, 12)
        )
        self.retry_button = push_button(tr("Reenviar las rechazadas"), page, "retryButton", self.retry)
        self.export_button = push_button(tr("Exportar a Excel…"), page, "exportButton", self.export)
        layout.addWidget(self.summary)
        layout.addWidget(self.result_table)
        layout.addLayout(hbox(self.retry_button, None, self.export_button))

    # ---- helpers -------------------------------------------------------------------------------------------

    def _show(self, step: int) -> None:
        self.steps.setCurrentIndex(step)
        self.back_button.setVisible(step in (1, 2, 4))
        self.back_button.setEnabled(not self.sending)
        self.close_button.setEnabled(not self.sending)

    def show_error(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _failed(self, error: BaseException) -> None:
        self.show_error(error_text(error))

    def back(self) -> None:
        self.show_error("")
        step = self.steps.currentIndex()
        self._show(0 if step in (1, 4) else step - 1)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.desk is None:
            actions.open_import(self.context).success(self._opened).failure(self._failed).run()

    def _opened(self, result: tuple[bulk_import.SessionDesktop, list[Any]]) -> None:
        self.desk, unfinished = result
        self._set_unfinished(unfinished)

    def _set_unfinished(self, records: list[Any]) -> None:
        self.unfinished = list(records)
        self.resume_box.clear()
        for record in self.unfinished:
            self.resume_box.addItem(
                tr("«{name}» del {when}: {applied} de {rows} filas aplicadas").format(
                    name=record.file_name,
                    when=fmt.date_time(record.created_at),
                    applied=fmt.number(record.applied),
                    rows=fmt.number(record.rows),
                )
            )
        has = bool(self.unfinished)
        self.resume_label.setText(
            tr("Hay importaciones que quedaron a medias; puede reanudar su envío:") if has else ""
        )
        for widget in (self.resume_label, self.resume_box, self.resume_button):
            widget.setVisible(has)

    def closeEvent(self, event: Any) -> None:
        if self.sending:
            event.ignore()
            return
        if self.desk is not None:
            actions.close_import(self.context, self.desk).run()
            self.desk = None
        super().closeEvent(event)

    # ---- 1. the file ---------------------------------------------------------------------------------------

    def choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, tr("Elegir archivo"), "", tr("Hojas de cálculo (*.xlsx *.csv);;Todos los archivos (*)")
        )
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> None:
        if self.desk is None:
            return
        self.show_error("")
        actions.read_import_file(self.context, self.desk, path).success(self._file_read).failure(
            self._failed
        ).run()

    def _file_read(self, opened: actions.OpenedFile) -> None:
        self.opened = opened
        sheet = opened.sheet
        self.file_label.setText(
            tr("«{name}»: {rows} filas, {columns} columnas.").format(
                name=sheet.file_name, rows=fmt.number(len(sheet.rows)), columns=fmt.number(len(sheet.headers))
            )
            + (
                "  " + tr("Se usan las columnas que eligió antes para archivos como éste.")
                if opened.remembered
                else ""
            )
        )
        self.warning.setText(opened.warning)
        self.warning.setVisible(bool(opened.warning))
        for column, combo in self.combos.items():
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(tr(UNASSIGNED), "")
            for title in sheet.headers:
                combo.addItem(title, title)
            chosen = opened.mapping.title(column)
            combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen else 0)
            combo.blockSignals(False)
        self._mapping_changed()
        self._show(1)

    def save_template(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, tr("Guardar plantilla"), "plantilla-transferencias.xlsx", tr("Excel (*.xlsx);;CSV (*.csv)")
        )
        if path:
            actions.write_import_template(self.context, Path(path)).success(
                lambda saved: self.show_error("")
            ).failure(self._failed).run()

    # ---- 2. the columns ------------------------------------------------------------------------------------

    def mapping(self) -> bulk_import.ColumnMapping:
        return bulk_import.ColumnMapping(
            {column: combo.currentData() for column, combo in self.combos.items() if combo.currentData()}
        )

    def _mapping_changed(self) -> None:
        if self.opened is None:
            return
        sheet, mapping = self.opened.sheet, self.mapping()
        problems = mapping.problems(sheet.headers)
        self.mapping_problems.setText("\n".join(problems))
        self.mapping_problems.setVisible(bool(problems))
        self.check_button.setEnabled(not problems)
        where = {column: sheet.column(title) for column, title in mapping.columns.items()}

        def value(row: Any, column: bulk_import.Column) -> str:
            index = where.get(column)
            return _cell_text(row.get(index)) if index is not None else ""

        self._preview = [
            {
                "id": str(row.number),
                "row": row.number,
                "cti": value(row, bulk_import.Column.CTI),
                "client": value(row, bulk_import.Column.CLIENT),
                "quantity": value(row, bulk_import.Column.QUANTITY),
                "amount": value(row, bulk_import.Column.AMOUNT),
                "no_charge": value(row, bulk_import.Column.NO_CHARGE),
                "comment": value(row, bulk_import.Column.COMMENT),
                "problem": False,
            }
            for row in sheet.rows[:PREVIEW_ROWS]
        ]
        self.preview_model.set_query(Query())

    def check(self) -> None:
        if self.desk is None or self.opened is None:
            return
        self.show_error("")
        self.check_button.setEnabled(False)
        actions.import_dry_run(self.context, self.desk, self.opened.sheet, self.mapping()).success(
            self._checked
        ).failure(self._check_failed).run()

    def _check_failed(self, error: BaseException) -> None:
        self.check_button.setEnabled(True)
        self._failed(error)

    # ---- 3. the dry run ------------------------------------------------------------------------------------

    def _checked(self, run: bulk_import.DryRun) -> None:
        self.check_button.setEnabled(True)
        self.run = run
        self._show(2)
        self._refresh_checks()

    def _refresh_checks(self) -> None:
        run = self.run
        if run is None:
            return
        self._checks = [_check_row(c) for c in run.rows]
        totals = run.totals()
        self.totals.setText(
            tr(
                "{rows} filas: {to_send} por enviar con {stamps} timbres, {errors} con errores, "
                "{excluded} excluidas. Saldo disponible: {available} timbres; después del envío: "
                "{remaining}. Por facturar: {amount}."
            ).format(
                rows=fmt.number(totals.rows),
                to_send=fmt.number(totals.to_send),
                stamps=fmt.number(totals.stamps),
                errors=fmt.number(totals.with_errors),
                excluded=fmt.number(totals.excluded),
                available=fmt.number(totals.available),
                remaining=fmt.number(totals.remaining),
                amount=fmt.money(totals.amount_cents),
            )
        )
        why = run.why_not_ready()
        self.blocking.setText(why)
        self.blocking.setVisible(bool(why))
        self.send_button.setEnabled(run.ready)
        self.send_button.setText(
            tr("Enviar {n} transferencias").format(n=fmt.number(totals.to_send))
            if totals.to_send != 1
            else tr("Enviar 1 transferencia")
        )
        self.exclude_button.setEnabled(any(not c.ok and not c.excluded for c in run.rows))
        self.check_model.set_query(self.check_model.query)

    def exclude_errors(self) -> None:
        if self.run is not None:
            self.run.exclude_errors()
            self._refresh_checks()

    def toggle_selected(self) -> None:
        run = self.run
        if run is None:
            return
        chosen = {int(str(r["row"])) for r in self._selected(self.check_table, self.check_model)}
        rows = [c for c in run.rows if c.row in chosen]
        if rows:
            exclude = not all(c.excluded for c in rows)
            run.exclude([c.row for c in rows], exclude)
            self._refresh_checks()

    @staticmethod
    def _selected(view: Any, model: PagedTableModel) -> list[Any]:
        return [model.record(i.row()) for i in view.selectionModel().selectedRows()]

    # ---- 4. sending ----------------------------------------------------------------------------------------

    def send(self) -> None:
        if self.run is not None and self.run.ready:
            self.import_id = self.run.sheet.digest
            self._start("send", self.run)

    def resume(self) -> None:
        index = self.resume_box.currentIndex()
        if 0 <= index < len(self.unfinished):
            self.import_id = self.unfinished[index].id
            self._start("resume", self.import_id)

    def retry(self) -> None:
        if self.import_id is not None:
            self._start("retry", self.import_id)

    def _start(self, how: str, what: Any) -> None:
        if self.desk is None or self.sending:
            return
        self.show_error("")
        self.stop.clear()
        self.sending = True
        self.progress_bar.setRange(0, 0)  # busy until the first chunk is in
        self.progress_text.setText(tr("Enviando las filas en bloques de {n}…").format(n=fmt.number(CHUNK)))
        self.stop_button.setEnabled(True)
        self._show(3)
        actions.send_import(self.context, self.desk, how, what, self.stop).progress(self._progress).success(
            self._sent
        ).failure(self._send_failed).run()

    def _progress(self, done: int, total: int, text: str) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(tr("%v de %m filas"))
        self.progress_text.setText(text)

    def stop_sending(self) -> None:
        self.stop.set()
        self.stop_button.setEnabled(False)
        self.progress_text.setText(tr("Deteniendo después del bloque en curso…"))

    def _sent(self, report: bulk_import.SendReport) -> None:
        self.sending = False
        self.report = report
        self.sent.emit(report)
        self.summary.setText(report.message)
        self._load_results()

    def _send_failed(self, error: BaseException) -> None:
        self.sending = False
        self._failed(error)
        self._load_results()

    # ---- 5. the result -------------------------------------------------------------------------------------

    def _load_results(self) -> None:
        if self.desk is None or self.import_id is None:
            return
        actions.import_results(self.context, self.desk, self.import_id).success(self._results_read).failure(
            self._failed
        ).run()

    def _results_read(self, rows: list[bulk_import.JournalRow]) -> None:
        self._results = [_result_row(r) for r in rows]
        refused = sum(1 for r in rows if r.state == bulk_import.RowState.REFUSED)
        if not self.summary.text():
            applied = sum(1 for r in rows if r.state == bulk_import.RowState.APPLIED)
            self.summary.setText(
                tr("{applied} de {rows} filas aplicadas.").format(
                    applied=fmt.number(applied), rows=fmt.number(len(rows))
                )
            )
        self.retry_button.setEnabled(refused > 0)
        self.retry_button.setText(
            tr("Reenviar las {n} rechazadas").format(n=fmt.number(refused))
            if refused
            else tr("Reenviar las rechazadas")
        )
        self.result_model.set_query(Query())
        self._show(4)

    def export(self) -> None:
        if self.desk is None or self.import_id is None:
            return
        path, _filter = QFileDialog.getSaveFileName(
            self, tr("Exportar el resultado"), "resultado-transferencias.xlsx", tr("Excel (*.xlsx)")
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        if self.desk is not None and self.import_id is not None:
            actions.export_import(self.context, self.desk, self.import_id, path).success(
                lambda saved: self.summary.setText(
                    self.summary.text() + "  " + tr("Resultado guardado en «{path}».").format(path=saved)
                )
            ).failure(self._failed).run()


def _check_row(check: bulk_import.RowCheck) -> dict[str, Any]:
    notes = check.problems + check.warnings
    if check.excluded:
        state = tr("Excluida")
    elif check.problems:
        state = tr("Con errores")
    else:
        state = tr("Por enviar")
    client = check.client_name + (f" ({check.client_nic})" if check.client_nic else "")
    return {
        "id": str(check.row),
        "row": check.row,
        "state": state,
        "cti": check.cti_id or "",
        "client": client,
        "quantity": check.quantity,
        "amount": check.amount_cents,
        "no_charge": check.no_charge,
        "before": check.balance_before,
        "after": check.balance_after,
        "notes": " ".join(notes),
        "problem": bool(check.problems),
        "excluded": check.excluded,
    }


def _result_row(row: bulk_import.JournalRow) -> dict[str, Any]:
    return {
        "id": str(row.row),
        "row": row.row,
        "state": tr(row.state_label),
        "label": row.label,
        "quantity": row.quantity,
        "amount": row.amount_cents,
        "reason": row.reason,
        "problem": row.state == bulk_import.RowState.REFUSED,
    }
