"""Estado de cuenta: a statement like a bank's — opening balance, each movement with date, kind,
counterpart, quantity, amount, comment and who did it, the running balance after it, and the closing
balance — for the Cuenta Maestra (Herramientas → Estado de cuenta: timbres, puntos, dinero cargado), a
client (puntos; timbres through its CTIs) or a CTI (from their context menus).

Read offline from the cache (`cmdesk.services.statements`, the server's rules), or from the server
when the cache lacks a CTI's daily CFDI; the panel says which. Exports: Excel (real numbers and dates)
and PDF (printable, with page numbers), and the table as shown to Excel or CSV.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import statements as st
from cmdesk.services.server_info import server_now
from cmdesk.services.statements import PARTY_ASSETS, StatementIncomplete, StatementView
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.estados import actions
from cmdesk.ui.estados.actions import tr
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.export import export_button
from cmdesk.ui.kit.forms import Notice, fit_window, hbox, heading, push_button
from cmdesk.ui.kit.messages import error_text, inform
from cmdesk.ui.kit.table import Column, PagedTableModel, Query, make_table
from cmdesk.ui.tabs import TabPage

ASSET_TITLES = {
    "stamps": QT_TRANSLATE_NOOP("estados", "Timbres"),
    "points": QT_TRANSLATE_NOOP("estados", "Puntos"),
    "money": QT_TRANSLATE_NOOP("estados", "Dinero cargado"),
}


def _columns(money: bool) -> tuple[Column, ...]:
    amount = "money" if money else "number"
    return (
        Column("at", QT_TRANSLATE_NOOP("estados", "Fecha"), "datetime", context="estados"),
        Column("kind_label", QT_TRANSLATE_NOOP("estados", "Movimiento"), context="estados"),
        Column("counterpart", QT_TRANSLATE_NOOP("estados", "Contraparte"), context="estados"),
        Column("quantity", QT_TRANSLATE_NOOP("estados", "Cantidad"), amount, context="estados"),
        Column("delta", QT_TRANSLATE_NOOP("estados", "Cargo / abono"), amount, context="estados"),
        Column("amount_cents", QT_TRANSLATE_NOOP("estados", "Importe"), "money", context="estados"),
        Column("balance", QT_TRANSLATE_NOOP("estados", "Saldo"), amount, context="estados"),
        Column("comments", QT_TRANSLATE_NOOP("estados", "Comentarios"), context="estados"),
        Column("author", QT_TRANSLATE_NOOP("estados", "Realizó"), context="estados"),
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{fmt.number(n)} {tr(one) if n == 1 else tr(many)}"


def _record(row: st.Row) -> dict[str, Any]:
    e = row.entry
    counterpart = (
        e.stamping_account_id or "" if e.kind == "issued" else e.counterpart_name or e.counterpart_id or ""
    )
    return {
        "id": e.ref,
        "at": e.at,
        "kind_label": st.KIND_LABELS.get(e.kind, e.kind),
        "counterpart": counterpart,
        "quantity": e.quantity,
        "delta": e.delta,
        "amount_cents": e.amount_cents or None,
        "balance": row.balance,
        "comments": e.comments,
        "author": e.created_by_name or e.created_by,
    }


class StatementPanel(QWidget):
    """The statement of one party: asset, period, the table and its totals, the exports."""

    shown = Signal()  # a statement is on screen (tests wait on it)

    def __init__(
        self,
        context: AppContext,
        party_type: str,
        party_id: str | None,
        *,
        asset: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statementPanel")
        self.context, self.party_type, self.party_id = context, party_type, party_id
        self.view: StatementView | None = None
        self.asset = QComboBox(self)
        self.asset.setObjectName("asset")
        for key in PARTY_ASSETS[party_type]:
            self.asset.addItem(tr(ASSET_TITLES[key]), key)
        if asset:
            self.asset.setCurrentIndex(max(0, self.asset.findData(asset)))
        today = st.local_day(server_now())
        self.first = QDateEdit(QDate(today.year, today.month, 1), self)
        self.last = QDateEdit(QDate(today.year, today.month, today.day), self)
        for edit, name in ((self.first, "first"), (self.last, "last")):
            edit.setObjectName(name)
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd/MM/yyyy")
        self.show_button = push_button(tr("Consultar"), self, "show", self.load)
        self.pdf_button = push_button(tr("PDF…"), self, "pdf", self.choose_pdf)
        self.xlsx_button = push_button(tr("Excel…"), self, "xlsx", self.choose_xlsx)
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")
        self.source = QLabel(self)
        self.source.setObjectName("source")
        self.source.setStyleSheet("color: palette(mid);")
        self.notice = Notice(self)
        self.model = PagedTableModel(context, _columns(False), self._load_rows, page_size=500, parent=self)
        self.table = make_table(
            self.model,
            self,
            "statement",
            sortable=False,
            widths=(16, 18, 26, 9, 11, 11, 11, 26, 18),
            empty_text=tr("Elija el periodo y pulse Consultar."),
        )
        self.table_export = export_button(
            self, self.table, tr("estado-de-cuenta"), title=tr("Exportar el estado de cuenta")
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(
            hbox(
                QLabel(tr("Concepto:"), self),
                self.asset,
                12,
                QLabel(tr("Del"), self),
                self.first,
                QLabel(tr("al"), self),
                self.last,
                self.show_button,
                None,
                self.xlsx_button,
                self.pdf_button,
                self.table_export,
            )
        )
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(hbox(self.source, None))
        layout.addWidget(self.notice)
        self._set_exports(False)

    # ---- reading -----------------------------------------------------------------------------------

    def _load_rows(self, _cache: Any, _query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
        """A page of the statement on screen (in the cache pool: a statement of the cache reads it from
        its table in SQL)."""
        view = self.view
        return [] if view is None else [_record(r) for r in view.page(offset, limit)]

    def period(self) -> tuple[dt.date, dt.date]:
        return self.first.date().toPython(), self.last.date().toPython()  # type: ignore[return-value]

    def load(self, *, offline: bool = False) -> None:
        first, last = self.period()
        if last < first:
            self.notice.show_text(
                tr("El periodo debe terminar el mismo día o después de su inicio."), error=True
            )
            return
        self.show_button.setEnabled(False)
        self.notice.show_text(tr("Calculando…"))
        asset = str(self.asset.currentData())
        actions.statement(
            self.context, self.party_type, self.party_id, asset, first, last, offline=offline, parent=self
        ).success(self._show).failure(lambda e: self._failed(e, offline)).run()

    def _failed(self, error: BaseException, offline: bool) -> None:
        from cmdesk.services.api_client import OfflineError

        self.show_button.setEnabled(True)
        if isinstance(error, OfflineError) and not offline:
            self.load(offline=True)  # the line dropped: what the cache has
            return
        self.notice.show_text(error_text(error), error=True)
        self.shown.emit()

    def _show(self, view: StatementView) -> None:
        self.show_button.setEnabled(True)
        self.view = view
        money = view.asset == "money"
        if money != (self.model.columns[4].kind == "money"):  # money columns: another model
            old = self.model
            self.model = PagedTableModel(
                self.context, _columns(money), self._load_rows, page_size=500, parent=self
            )
            self.table.setModel(self.model)
            old.deleteLater()
        amount = fmt.money if money else fmt.number
        self.summary.setText(
            tr(
                "Saldo inicial: {o}   ·   Abonos: {c}   ·   Cargos: {d}   ·   Saldo final: {f}   ·   {n}"
            ).format(
                o=amount(view.opening),
                c=amount(view.credits),
                d=amount(view.debits),
                f=amount(view.closing),
                n=_count(view.count, "movimiento", "movimientos"),
            )
        )
        self.source.setText(
            tr("Calculado con la caché local (disponible sin conexión).")
            if view.source == "cache"
            else tr("Leído del servidor: la caché no tiene los CFDI emitidos por día de estas cuentas.")
        )
        self.notice.show_text("")
        self.model.set_query(Query(filters=(("generation", id(view)),)))
        self._set_exports(True)
        self.shown.emit()

    def _set_exports(self, enabled: bool) -> None:
        for button in (self.pdf_button, self.xlsx_button, self.table_export):
            button.setEnabled(enabled)

    # ---- files -------------------------------------------------------------------------------------

    def _file_name(self, suffix: str) -> str:
        first, last = self.period()
        name = (self.view.party_name if self.view else "") or self.party_type
        safe = "".join(ch for ch in name if ch.isalnum() or ch in " -_").strip().replace(" ", "-")
        return f"estado-de-cuenta-{safe}-{first:%Y%m%d}-{last:%Y%m%d}.{suffix}"

    def choose_pdf(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            tr("Guardar el estado de cuenta en PDF"),
            str(Path.home() / self._file_name("pdf")),
            tr("Documento PDF (*.pdf)"),
        )
        if path:
            self.save_pdf(Path(path if path.lower().endswith(".pdf") else path + ".pdf"))

    def choose_xlsx(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            tr("Exportar el estado de cuenta a Excel"),
            str(Path.home() / self._file_name("xlsx")),
            tr("Libro de Excel (*.xlsx)"),
        )
        if path:
            self.save_xlsx(Path(path if path.lower().endswith(".xlsx") else path + ".xlsx"))

    def save_pdf(self, path: Path) -> None:
        assert self.view is not None
        actions.export_pdf(self.context, self.view, path).success(
            lambda pages: self._saved(path, _count(int(pages), "página", "páginas"))
        ).failure(self._not_saved).run()

    def save_xlsx(self, path: Path) -> None:
        assert self.view is not None
        actions.export_xlsx(self.context, self.view, path).success(
            lambda rows: self._saved(path, _count(int(rows), "movimiento", "movimientos"))
        ).failure(self._not_saved).run()

    saved = Signal(str)  # the path written ("" when it failed)

    def _saved(self, path: Path, what: str) -> None:
        self.notice.show_text(tr("Se guardó {path} ({what}).").format(path=str(path), what=what))
        self.saved.emit(str(path))

    def _not_saved(self, error: BaseException) -> None:
        self.saved.emit("")
        inform(
            self,
            tr("Estado de cuenta"),
            tr("No se pudo guardar: {e}").format(e=error_text(error)),
            error=True,
        )


class StatementDialog(QDialog):
    """The statement of a client or a CTI, in its own window."""

    def __init__(
        self,
        context: AppContext,
        party_type: str,
        party_id: str,
        title: str,
        *,
        asset: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statementDialog")
        self.setWindowTitle(tr("Estado de cuenta: {who}").format(who=title))
        self.panel = StatementPanel(context, party_type, party_id, asset=asset, parent=self)
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(heading(tr("Estado de cuenta"), self, title))
        layout.addWidget(self.panel, 1)
        layout.addLayout(hbox(None, close))
        self.resize(1200, 640)
        fit_window(self)
        self.panel.load()


class StatementsPage(TabPage):
    """Herramientas → Estado de cuenta: the Cuenta Maestra's stamps, points and money charged."""

    entities = frozenset({"movement", "charge", "account"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.panel = StatementPanel(context, "account", None, parent=self)
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Estado de cuenta"),
                self,
                tr(
                    "Los timbres, puntos y el dinero cargado de su Cuenta Maestra en un periodo: saldo "
                    "inicial, cada movimiento con el saldo después de él, y saldo final."
                ),
            )
        )
        layout.addWidget(self.panel, 1)
        layout.addWidget(self.notice)

    def reload(self, changed: frozenset[str]) -> None:
        if self.panel.view is not None:
            self.panel.load()


def open_statement(
    context: AppContext, party_type: str, party_id: str, title: str, parent: QWidget, asset: str | None = None
) -> StatementDialog:
    dialog = StatementDialog(context, party_type, party_id, title, asset=asset, parent=parent)
    dialog.show()
    return dialog


__all__ = ["StatementDialog", "StatementIncomplete", "StatementPanel", "StatementsPage", "open_statement"]
