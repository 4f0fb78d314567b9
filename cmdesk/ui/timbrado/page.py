"""Clientes → Timbrado: every CTI of the portfolio, and what the manual does with them.

The table (`StampingAccountsModel`) is searched by CTI id, client NIC or name and sorted by clicking a
header, both in SQL on the cache; rows page in as the view scrolls. Select one or several rows, then:

- Crear cuenta (for the selected row's client, or one picked in the dialog) — online only;
- Transferir timbres (to the selected standard CTI) and Transferir puntos (to its client);
- Transferencia masiva and Venta automática over the selected standard CTIs;
- Bloquear / Reactivar (also a double click on the Activo column), after the manual's question
  "¿Realmente desea desactivar la cuenta?";
- Restablecer contraseña — online only.

Writes are outbox commands (`timbrado.actions`: sent at once when online, pending otherwise: the row
turns amber with the commands in its tooltip); a refusal that comes back later is shown with the
server's reason (the context's `CommandWatcher`). Under the table, the consumption chart of the current
CTI (its daily series fetched in the background, `usage_fetch.UsageFetcher`). C.P.D. and D.R. are
columns of the cache (sortable); the Riesgo combo shows only the CTIs that run out within 7, 15 or 30
days, or those without use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPoint,
    Qt,
    QTimer,
)
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from cmdesk.services.outbox import Command
from cmdesk.ui import locale as fmt
from cmdesk.ui import tabs
from cmdesk.ui.kit import forecasts
from cmdesk.ui.kit.export import export_button
from cmdesk.ui.kit.flow import FlowLayout
from cmdesk.ui.kit.forms import WARNING_STYLE, dim, hbox, vbox
from cmdesk.ui.kit.messages import add_reason, reason_of
from cmdesk.ui.kit.table import make_table
from cmdesk.ui.timbrado import actions
from cmdesk.ui.timbrado.account_dialogs import CreateStampingAccountDialog, ResetPasswordDialog
from cmdesk.ui.timbrado.chart import ConsumptionPanel
from cmdesk.ui.timbrado.common import client_text, queued_text, tr
from cmdesk.ui.timbrado.import_dialog import ImportDialog
from cmdesk.ui.timbrado.model import COLUMN_KEYS, CtiRow, StampingAccountsModel
from cmdesk.ui.timbrado.sales_dialogs import AutoSaleDialog, BulkTransferDialog
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog
from cmdesk.ui.timbrado.unlimited import UnlimitedFeeDialog, paid_text
from cmdesk.ui.timbrado.usage_fetch import UsageFetcher

if TYPE_CHECKING:
    from cmdesk.ui.tabs import AppContext

# The buttons shown only while accounts are selected (the rest: Crear cuenta, desde archivo).
SELECTION_ACTIONS = frozenset({"transfer", "points", "bulk", "auto_sale", "block", "reactivate", "reset"})
DEACTIVATE_QUESTION = "¿Realmente desea desactivar la cuenta?"
REACTIVATE_QUESTION = "¿Realmente desea reactivar la cuenta?"


class ElideRight(QStyledItemDelegate):
    """A column whose text keeps its beginning when cut (the client: «[NIC] name…»), while the view
    cuts CTI ids in the middle."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Any) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight  # type: ignore[attr-defined]


class TimbradoPage(tabs.TabPage):
    entities = frozenset({"stamping_account", "client", "account", "settings"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = StampingAccountsModel(context, self)
        self.fetcher = UsageFetcher(context, self)
        self.confirm_box: QMessageBox | None = None
        self._keep_ids: list[str] = []
        self._current_id: str | None = None
        self._select_after_load: str | None = None

        # Search and count
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText(tr("Buscar por cuenta (Id), NIC, nombre o RFC del cliente…"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(360)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._search_timer.timeout.connect(lambda: self.set_search(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")
        self.risk = forecasts.risk_combo(self)
        self.risk.currentIndexChanged.connect(lambda _i: self._risk_chosen())

        # Actions
        self.actions_by_name: dict[str, QAction] = {}
        self.buttons: dict[str, QPushButton] = {}
        specs: list[tuple[str, str, Callable[[], object]]] = [
            ("create", tr("Crear cuenta"), self.create_account),
            ("transfer", tr("Transferir timbres"), self.transfer_stamps),
            ("points", tr("Transferir puntos"), self.transfer_points),
            ("bulk", tr("Transferencia masiva"), self.bulk_transfer),
            ("import", tr("Transferencia desde archivo"), self.import_file),
            ("auto_sale", tr("Venta automática"), self.auto_sale),
            ("block", tr("Bloquear"), lambda: self.set_active(False)),
            ("reactivate", tr("Reactivar"), lambda: self.set_active(True)),
            ("reset", tr("Restablecer contraseña"), self.reset_password),
            ("fee", tr("Pagar cuota anual"), self.pay_fee),
        ]
        # A row that wraps at 1024 px instead of widening the window; what needs a selection shows
        # once there is one (a hint stands in for it until then, and the context menu has it all).
        actions_row = FlowLayout(spacing=6)
        for name, text, slot in specs:
            action = QAction(text, self)
            action.setObjectName(f"action_{name}")
            action.triggered.connect(slot)
            self.actions_by_name[name] = action
            button = QPushButton(text, self)
            button.setObjectName(f"button_{name}")
            button.clicked.connect(action.trigger)
            self.buttons[name] = button
            if name == "fee":
                # Of one unlimited CTI only: in the context menu and on double-click (its row says
                # when it is due), not one more grey button in a row that must fit 1024 px.
                button.hide()
            actions_row.addWidget(button)
        self.selection_hint = QLabel(
            tr(
                "Seleccione una o varias cuentas para transferir, bloquear o restablecer su contraseña "
                "(también con clic derecho)."
            ),
            self,
        )
        self.selection_hint.setObjectName("selectionHint")
        dim(self.selection_hint)
        actions_row.addWidget(self.selection_hint)

        # The table
        self.view = make_table(self.model, self, "table", multiple=True)
        self.export_button = export_button(
            self, self.view, "cuentas-de-timbrado", title=tr("Exportar cuentas de timbrado")
        )
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 8)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(self._double_clicked)
        # Enter on a row does what a double-click does (the mouse's own goes through doubleClicked).
        self.view.activated.connect(
            lambda index: self._double_clicked(index) if not self.view.underMouse() else None
        )
        header = self.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)
        self._size_columns()
        self.empty = QLabel(self)
        self.empty.setObjectName("empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dim(self.empty)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)

        self.legend = QLabel(tr("*C.P.D. = Consumo Promedio Diario    *D.R. = Días Restantes"), self)
        dim(self.legend)
        self.pending_legend = QLabel(
            tr("Filas en ámbar: operaciones pendientes de enviar (pase el puntero sobre ellas para verlas)."),
            self,
        )
        self.pending_legend.setObjectName("pendingLegend")
        self.pending_legend.setStyleSheet(WARNING_STYLE)
        self.pending_legend.hide()

        self.chart_panel = ConsumptionPanel(self)

        top = hbox(
            QLabel(tr("<b>Cuentas de timbrado</b>"), self),
            12,
            (self.search, 1),
            self.risk,
            self.summary,
            self.export_button,
        )
        upper = QWidget(self)
        upper_layout = vbox(upper, top, actions_row, (self.stack, 1))
        upper_layout.setContentsMargins(0, 0, 0, 0)
        bottom = hbox(self.legend, None, self.pending_legend)
        upper_layout.addLayout(bottom)
        upper_layout.addWidget(self.notice)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(self.chart_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.model.loaded.connect(self._loaded)
        self.model.counted.connect(lambda _n: self._show_count())
        self.model.failed.connect(
            lambda e: self.show_notice(tr("No se pudo leer la caché: {e}").format(e=str(e)))
        )
        self.fetcher.updated.connect(lambda _ids: self.model.reload())
        selection = self.view.selectionModel()
        selection.selectionChanged.connect(self._selection_changed)
        selection.currentRowChanged.connect(self._current_changed)
        self._update_actions()
        self._update_empty()

    # ---- loading ----------------------------------------------------------------------------------------

    def wants(self, changed: frozenset[str]) -> bool:
        # An empty set: the outbox changed (a command queued, sent or settled), so pending marks may too.
        return not changed or super().wants(changed)

    def set_search(self, text: str) -> None:
        if text.strip() != self.model.query.q.strip():
            self.model.set_query(self.model.query.with_(q=text))

    def _show_count(self) -> None:
        total = self.model.total
        self.summary.setText(tr("1 cuenta") if total == 1 else tr("{n} cuentas").format(n=fmt.number(total)))

    def _loaded(self) -> None:
        self._show_count()
        self._update_empty()
        self.pending_legend.setVisible(any(r.is_pending for r in self.model.rows()))
        if self._select_after_load:
            row = self.model.row_of(self._select_after_load)
            if row >= 0:
                self._select_after_load = None
                self.view.selectRow(row)
                self.view.scrollTo(self.model.index(row, 0))
        self._show_current()
        self._update_actions()

    def _update_empty(self) -> None:
        q = self.model.query.q.strip()
        if self.model.rowCount() == 0:
            if self.model.query.get("risk"):
                text = tr("Ninguna cuenta de timbrado cumple el filtro «{risk}».").format(
                    risk=self.risk.currentText()
                )
            elif q:
                text = tr("Ninguna cuenta de timbrado coincide con «{q}».").format(q=q)
            else:
                text = tr("Aún no hay cuentas de timbrado: se crea una con cada cliente nuevo.")
            self.empty.setText(text)
            self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.view)

    def _size_columns(self) -> None:
        """Widths from the font: snug dates and figures, the CTI id at about two thirds of its 32
        characters (elided in the middle, whole in its tooltip), and the client's name taking the rest."""
        metrics = self.view.fontMetrics()
        pad = 16
        samples = {
            "id": "D2F81F20D0614ACDB02783",
            "kind": tr("Ilimitada"),
            "balance": tr("Ilimitada"),
            "cpd": "00.00",
            "dr": "0,000",
            "credited": "000,000",
            "issued": "000,000",
            "paid_until": "00/00/0000",
        }
        header = self.view.horizontalHeader()
        for i, key in enumerate(COLUMN_KEYS):
            title = str(self.model.headerData(i, Qt.Orientation.Horizontal))
            sample = "00/00/0000" if key.endswith("_at") else samples.get(key, "")
            width = max(metrics.horizontalAdvance(title), metrics.horizontalAdvance(sample)) + pad
            self.view.setColumnWidth(i, width)
        header.setMinimumSectionSize(metrics.horizontalAdvance("0000") + pad)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setItemDelegateForColumn(COLUMN_KEYS.index("client"), ElideRight(self.view))
        self.view.viewport().installEventFilter(self)
        self._fit_client()

    def _fit_client(self) -> None:
        """The client's column takes the room the others leave, but never less than a readable
        «[NIC] name» (about 26 characters): on a narrow screen the table scrolls sideways instead."""
        client = COLUMN_KEYS.index("client")
        others = sum(self.view.columnWidth(i) for i in range(len(COLUMN_KEYS)) if i != client)
        readable = self.view.fontMetrics().horizontalAdvance("[200000] Comercializadora del Sur") + 16
        room = self.view.viewport().width() - others
        self.view.setColumnWidth(client, max(readable, room))

    def _risk_chosen(self) -> None:
        """The Riesgo filter: the model picks the band's order; the header's arrow follows it."""
        self.model.set_risk(self.risk.currentData())
        header = self.view.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(*(self.model.sort_column() or (-1, Qt.SortOrder.AscendingOrder)))
        header.blockSignals(False)

    def _sort_indicator_changed(self, column: int, _order: Qt.SortOrder) -> None:
        if not self.model.sortable(column):
            header = self.view.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(*(self.model.sort_column() or (-1, Qt.SortOrder.AscendingOrder)))
            header.blockSignals(False)
            self.show_notice(
                tr("La columna «{c}» no se puede ordenar.").format(
                    c=str(self.model.headerData(column, Qt.Orientation.Horizontal))
                )
            )

    # ---- usage of the rows on screen ----------------------------------------------------------------------

    def visible_rows(self) -> list[CtiRow]:
        count = self.model.rowCount()
        if not count:
            return []
        first = self.view.rowAt(0)
        last = self.view.rowAt(self.view.viewport().height() - 1)
        first = 0 if first < 0 else first
        last = count - 1 if last < 0 else last
        return [self.model.row(i) for i in range(first, min(last, count - 1) + 1)]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_client()  # the table's own width changed (the window, the splitter)
        return super().eventFilter(watched, event)

    # ---- selection ----------------------------------------------------------------------------------------

    def selected_rows(self) -> list[CtiRow]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.model.row(r) for r in rows if r < self.model.rowCount()]

    def select_ids(self, ids: list[str]) -> None:
        selection = QItemSelection()
        for ident in ids:
            row = self.model.row_of(ident)
            if row >= 0:
                selection.select(
                    self.model.index(row, 0), self.model.index(row, self.model.columnCount() - 1)
                )
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.view.selectionModel().select(selection, flags)
        if ids:
            row = self.model.row_of(ids[0])
            if row >= 0:
                self.view.selectionModel().setCurrentIndex(
                    self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
                )

    def _remember_selection(self) -> None:
        self._keep_ids = [r.id for r in self.selected_rows()]
        current = self.view.currentIndex()
        self._current_id = self.model.row(current.row()).id if current.isValid() else None

    def _restore_selection(self) -> None:
        if self._keep_ids:
            self.select_ids(self._keep_ids)
        if self._current_id:
            row = self.model.row_of(self._current_id)
            if row >= 0:
                self.view.selectionModel().setCurrentIndex(
                    self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
                )

    def _selection_changed(self, *_args: Any) -> None:
        self._update_actions()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_current()
        if current.isValid() and self.context.is_online():
            self.fetcher.want([self.model.row(current.row())], first=True)

    def current_row(self) -> CtiRow | None:
        index = self.view.currentIndex()
        if index.isValid() and index.row() < self.model.rowCount():
            row: CtiRow = self.model.row(index.row())
            return row
        selected = self.selected_rows()
        return selected[0] if selected else None

    def _show_current(self) -> None:
        self.chart_panel.set_row(self.current_row(), online=self.context.is_online())

    def _update_actions(self) -> None:
        rows = self.selected_rows()
        one = len(rows) == 1
        standard = [r for r in rows if r.kind == "standard"]
        has_session = self.context.session is not None
        enabled = {
            "create": has_session,
            "transfer": one and bool(standard),
            "points": one,
            "bulk": bool(standard),
            "import": has_session,
            "auto_sale": bool(standard),
            "block": any(r.active for r in rows),
            "reactivate": any(not r.active for r in rows),
            "reset": one,
            "fee": one and rows[0].kind == "unlimited",
        }
        tips = {
            "transfer": tr("Seleccione una cuenta de timbrado estándar."),
            "points": tr("Seleccione una cuenta: los puntos se transfieren a su cliente."),
            "bulk": tr("Seleccione una o varias cuentas estándar."),
            "auto_sale": tr("Seleccione una o varias cuentas estándar."),
            "reset": tr("Seleccione una cuenta."),
            "fee": tr("Seleccione una cuenta ilimitada: su cuota anual se paga en puntos."),
        }
        for name, action in self.actions_by_name.items():
            action.setEnabled(enabled[name])
            self.buttons[name].setEnabled(enabled[name])
            self.buttons[name].setToolTip("" if enabled[name] else tips.get(name, ""))
            if name in SELECTION_ACTIONS:
                self.buttons[name].setVisible(bool(rows))
        self.selection_hint.setVisible(not rows)

    def _context_menu(self, point: QPoint) -> None:
        menu = QMenu(self)
        for name in (
            "transfer",
            "points",
            "bulk",
            "auto_sale",
            None,
            "block",
            "reactivate",
            "reset",
            "fee",
            None,
            "create",
        ):
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(self.actions_by_name[name])
        rows = self.selected_rows()
        if len(rows) == 1:
            menu.addSeparator()
            menu.addAction(tr("Estado de cuenta…"), lambda: self.open_statement(rows[0].id))
            menu.addAction(tr("Historial…"), lambda: self.open_history(rows[0].id))
        menu.popup(self.view.viewport().mapToGlobal(point))

    def open_statement(self, cti_id: str) -> Any:
        from cmdesk.ui.estados import open_statement

        self.dialog = open_statement(self.context, "stamping_account", cti_id, cti_id, self)
        return self.dialog

    def open_history(self, cti_id: str) -> Any:
        from cmdesk.ui.bitacora import open_history

        self.dialog = open_history(self.context, "stamping_account", cti_id, cti_id, self)
        return self.dialog

    def _double_clicked(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        row = self.model.row(index.row())
        if COLUMN_KEYS[index.column()] == "active":
            self.select_ids([row.id])
            self.set_active(not row.active)
        elif row.kind == "standard":
            self.select_ids([row.id])
            self.transfer_stamps()
        else:
            self.select_ids([row.id])
            self.pay_fee()

    # ---- messages -------------------------------------------------------------------------------------

    def _open(self, dialog: QWidget) -> None:
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: self._forget(dialog))
        if hasattr(dialog, "open"):
            dialog.open()

    def _forget(self, dialog: QWidget) -> None:
        if self.dialog is dialog:
            self.dialog = None

    # ---- actions ----------------------------------------------------------------------------------------

    def create_account(self) -> CreateStampingAccountDialog | None:
        if self.context.session is None:
            return None
        rows = self.selected_rows()
        row = rows[0] if len(rows) == 1 else None
        dialog = CreateStampingAccountDialog(
            self.context,
            row.client_id if row else None,
            client_text(row.data.get("client_nic"), row.client_name) if row else "",
            parent=self,
        )

        def created() -> None:
            answer = dialog.created or {}
            self._select_after_load = str(answer.get("id") or "") or None
            self.show_notice(
                tr("Se creó la cuenta de timbrado {id}. Anote la contraseña: no se vuelve a mostrar.").format(
                    id=answer.get("id", "")
                )
            )
            password = str(answer.get("password") or dialog.passwords.password.text())
            if answer.get("id") and password:
                self.open_handoff(str(answer["id"]), password, "created")

        dialog.accepted.connect(created)
        self._open(dialog)
        return dialog

    def transfer_stamps(self) -> TransferDialog | None:
        rows = [r for r in self.selected_rows() if r.kind == "standard"]
        if len(rows) != 1:
            return None
        return self._transfer("stamping_account", rows[0].id)

    def transfer_points(self) -> TransferDialog | None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return None
        return self._transfer("client", rows[0].client_id)

    def _transfer(self, target_type: str, target_id: str) -> TransferDialog:
        dialog = TransferDialog(self.context, target_type, target_id, parent=self)
        dialog.queued.connect(lambda command: self._queued([command], dialog.pushed))
        self._open(dialog)
        return dialog

    def bulk_transfer(self) -> BulkTransferDialog | None:
        rows = self.selected_rows()
        if not rows:
            return None
        dialog = BulkTransferDialog(self.context, rows, parent=self)
        dialog.queued.connect(lambda queued: self._queued(queued, dialog.pushed))
        self._open(dialog)
        return dialog

    def import_file(self) -> ImportDialog:
        """Transferencia desde archivo: the rows of a spreadsheet, checked, then sent one by one."""
        dialog = ImportDialog(self.context, parent=self)
        dialog.sent.connect(self._imported)
        self._open(dialog)
        return dialog

    def _imported(self, report: Any) -> None:
        self.show_notice(report.message)
        self.model.reload()

    def auto_sale(self) -> AutoSaleDialog | None:
        rows = self.selected_rows()
        if not rows:
            return None
        dialog = AutoSaleDialog(self.context, rows, parent=self)
        dialog.queued.connect(lambda queued: self._queued(queued, dialog.pushed))
        self._open(dialog)
        return dialog

    def _queued(self, queued: list[Command], pushed: bool) -> None:
        self.show_notice(queued_text(queued, pushed))
        self.model.reload()

    def set_active(self, active: bool) -> QMessageBox | None:
        """Bloquear / reactivar the selected CTIs that are not already so, after the question."""
        rows = [r for r in self.selected_rows() if r.active != active]
        if not rows or self.context.session is None:
            return None
        box = QMessageBox(self)
        box.setObjectName("confirmActive")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(tr("Reactivar cuenta") if active else tr("Bloquear cuenta"))
        if len(rows) == 1:
            box.setText(tr(REACTIVATE_QUESTION) if active else tr(DEACTIVATE_QUESTION))
            box.setInformativeText(
                tr("Cuenta: {cti}\nCliente: {client}").format(
                    cti=rows[0].id, client=client_text(rows[0].data.get("client_nic"), rows[0].client_name)
                )
                + ("" if active else "\n\n" + tr("Mientras esté bloqueada no podrá timbrar."))
            )
        else:
            box.setText(
                (
                    tr("¿Realmente desea reactivar las {n} cuentas?")
                    if active
                    else tr("¿Realmente desea desactivar las {n} cuentas?")
                ).format(n=len(rows))
            )
            box.setInformativeText(", ".join(r.id for r in rows[:6]) + ("…" if len(rows) > 6 else ""))
        yes = box.addButton(tr("Sí"), QMessageBox.ButtonRole.YesRole)
        box.addButton(tr("No"), QMessageBox.ButtonRole.NoRole)
        box.setDefaultButton(yes)
        add_reason(box)  # for the bitácora
        ids = [r.id for r in rows]

        def answered() -> None:
            if box.clickedButton() is yes:
                self._queue_active(ids, active, reason_of(box))

        box.finished.connect(lambda _code: answered())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.confirm_box = box
        box.destroyed.connect(
            lambda *_: setattr(self, "confirm_box", None) if self.confirm_box is box else None
        )
        box.open()
        return box

    def _queue_active(self, ids: list[str], active: bool, reason: str = "") -> None:
        actions.set_active(self.context, ids, active, reason=reason, parent=self).success(
            lambda result: self._queued(result, self.context.is_online())
        ).failure(lambda e: self.show_notice(str(e))).run()

    def pay_fee(self) -> UnlimitedFeeDialog | None:
        """Pagar (o renovar) la cuota anual de la CTI ilimitada seleccionada."""
        rows = [r for r in self.selected_rows() if r.kind == "unlimited"]
        if len(rows) != 1:
            return None
        row = rows[0]
        dialog = UnlimitedFeeDialog(
            self.context, row.data, client_text(row.data.get("client_nic"), row.client_name), parent=self
        )
        dialog.accepted.connect(lambda: self.show_notice(paid_text(dialog.answer or {})))
        self._open(dialog)
        return dialog

    def reset_password(self) -> ResetPasswordDialog | None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return None
        row = rows[0]
        dialog = ResetPasswordDialog(
            self.context, row.id, client_text(row.data.get("client_nic"), row.client_name), parent=self
        )

        def reset() -> None:
            self.show_notice(
                tr(
                    "Se restableció la contraseña de la cuenta {cti}. Configure la nueva contraseña en las "
                    "aplicaciones que timbran con ella."
                ).format(cti=row.id)
            )
            self.open_handoff(row.id, dialog.passwords.password.text(), "reset")

        dialog.accepted.connect(reset)
        self._open(dialog)
        return dialog

    def open_handoff(self, cti_id: str, password: str, event: str) -> None:
        """Offer the hand-off sheet for the client (the password stays only in its window)."""
        from cmdesk.ui.timbrado.handoff import HandoffDialog

        def show(sheet: Any) -> None:
            self.handoff = HandoffDialog(sheet, self)
            self.handoff.show()

        actions.handoff_sheet(self.context, cti_id, password, event=event, parent=self).success(show).failure(
            lambda _e: None
        ).run()

    handoff: Any = None  # the last hand-off sheet window (tests reach it)
