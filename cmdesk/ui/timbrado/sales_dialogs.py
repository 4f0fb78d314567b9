"""Transferencia masiva and Venta automática over the CTIs selected in the Timbrado table.

Both show one editable row per selected standard CTI (`SaleRowsModel`, columns declared as data):
Excluir, Cuenta, Cliente, Saldo, C.P.D., D.R., then the quantities and the amount with IVA included.

- Transferencia masiva: Cantidad and Importe per row, the totals (with the IVA part) against the stamps
  available, one comment for all. Applying queues ONE `bulk_transfer` command: the server applies every
  row or none (a row it can't cover rolls back the whole operation, and its reason comes back).
- Venta automática: Mínimo, Abonar, Importe and whether the rule is active, prefilled with each CTI's
  current rule. Applying queues one `set_auto_sale` command per CTI.

Unlimited CTIs are left out (they have no stamp balance), with a note saying so. Each amount starts as
quantity × the bulk stamp price until the user types one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from cmdesk.domain.amounts import MAX_QUANTITY, sale_amount_problem
from cmdesk.domain.errors import DomainError
from cmdesk.domain.money import parse_mxn, split_iva
from cmdesk.services.outbox import Command
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit import forecasts
from cmdesk.ui.kit.forms import WARNING_STYLE, FieldMessage, dim, first_message, hbox, secondary_color, vbox
from cmdesk.ui.kit.table import RIGHT, Column
from cmdesk.ui.timbrado import actions
from cmdesk.ui.timbrado.common import CONTEXT, queued_text, tr
from cmdesk.ui.timbrado.model import CtiRow
from cmdesk.ui.timbrado.transfer_dialog import IRREVERSIBLE

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import Action, AppContext

Index = QModelIndex | QPersistentModelIndex
ERROR_BACKGROUND = QColor(211, 47, 47, 60)


@dataclass
class SaleRow:
    """One CTI in the dialog: what it shows and what the user typed."""

    cti: CtiRow
    values: dict[str, Any]
    excluded: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    amount_text: str | None = None  # what was typed in Importe when it isn't an amount
    amount_auto: bool = True
    unit_price: int | None = None  # centavos per stamp, for the automatic amount


def _cti_read(key: str) -> Callable[[SaleRow], Any]:
    def read(row: SaleRow) -> Any:
        if key == "id":
            return row.cti.id
        if key == "client":
            return row.cti.client_name
        if key == "balance":
            return fmt.number(row.cti.balance) if row.cti.balance is not None else ""
        data = row.cti.data
        if key == "cpd":
            return forecasts.cpd_text(data.get("cpd"))
        if key == "dr":
            return forecasts.dr_text(data.get("days_left"), data.get("risk"), data.get("cpd"))
        return None

    return read


def _value(key: str) -> Callable[[SaleRow], Any]:
    return lambda row: row.values.get(key)


def _column(
    key: str, title: str, kind: str, read: Callable[[SaleRow], Any] | None = None, tooltip: str = ""
) -> Column:
    """A column of these dialogs (kinds: exclude · text · number · int · money · check)."""
    align = RIGHT if kind in ("number", "int", "money") else None
    return Column(key, title, kind, value=read or _value(key), tooltip=tooltip, align=align, context=CONTEXT)


_INFO_COLUMNS = (
    _column("exclude", QT_TRANSLATE_NOOP(CONTEXT, "Excluir"), "exclude", lambda _row: None),
    _column("id", QT_TRANSLATE_NOOP(CONTEXT, "Cuenta"), "text", _cti_read("id")),
    _column("client", QT_TRANSLATE_NOOP(CONTEXT, "Cliente"), "text", _cti_read("client")),
    _column("balance", QT_TRANSLATE_NOOP(CONTEXT, "Saldo"), "number", _cti_read("balance")),
    _column(
        "cpd",
        QT_TRANSLATE_NOOP(CONTEXT, "*C.P.D."),
        "number",
        _cti_read("cpd"),
        QT_TRANSLATE_NOOP(CONTEXT, "Consumo Promedio Diario"),
    ),
    _column(
        "dr",
        QT_TRANSLATE_NOOP(CONTEXT, "*D.R."),
        "number",
        _cti_read("dr"),
        QT_TRANSLATE_NOOP(CONTEXT, "Días Restantes"),
    ),
)
BULK_COLUMNS = (
    *_INFO_COLUMNS,
    _column("quantity", QT_TRANSLATE_NOOP(CONTEXT, "Cantidad"), "int"),
    _column("amount_cents", QT_TRANSLATE_NOOP(CONTEXT, "$ Importe (c/IVA)"), "money"),
)
AUTO_SALE_COLUMNS = (
    *_INFO_COLUMNS,
    _column("minimum", QT_TRANSLATE_NOOP(CONTEXT, "Mínimo"), "int"),
    _column("credit", QT_TRANSLATE_NOOP(CONTEXT, "Abonar"), "int"),
    _column("amount_cents", QT_TRANSLATE_NOOP(CONTEXT, "$ Importe (c/IVA)"), "money"),
    _column("enabled", QT_TRANSLATE_NOOP(CONTEXT, "Activa"), "check"),
)


class SaleRowsModel(QAbstractTableModel):
    """The editable rows of a bulk transfer or an automatic-sale dialog."""

    edited = Signal()

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[SaleRow],
        *,
        price_key: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.sale_rows = list(rows)
        self.price_key = price_key  # the quantity the automatic amount follows

    def column_of(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.sale_rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title_text()
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.columns[section].tooltip_text() or None
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        column = self.columns[index.column()]
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        row = self.sale_rows[index.row()]
        if column.kind in ("exclude", "check"):
            if column.kind == "check" and row.excluded:
                return base
            return base | Qt.ItemFlag.ItemIsUserCheckable
        if column.kind in ("int", "money") and not row.excluded:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.sale_rows):
            return None
        column = self.columns[index.column()]
        row = self.sale_rows[index.row()]
        if role == Qt.ItemDataRole.CheckStateRole:
            if column.kind == "exclude":
                return Qt.CheckState.Checked if row.excluded else Qt.CheckState.Unchecked
            if column.kind == "check":
                return Qt.CheckState.Checked if column.read(row) else Qt.CheckState.Unchecked
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.EditRole:
            if column.kind == "int":
                value = column.read(row)
                return int(value) if isinstance(value, int) else 0
            if column.kind == "money":
                return (
                    row.amount_text
                    if row.amount_text is not None
                    else fmt.money(row.values.get(column.key) or 0)
                )
            return self._display(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.alignment()
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.key in row.errors:
                return row.errors[column.key]
            if column.kind == "money" and row.values.get(column.key):
                base, iva = split_iva(int(row.values[column.key]))
                return tr("Base: {base} · IVA (16%): {iva}").format(base=fmt.money(base), iva=fmt.money(iva))
            return None
        if role == Qt.ItemDataRole.BackgroundRole and column.key in row.errors and not row.excluded:
            return ERROR_BACKGROUND
        if role == Qt.ItemDataRole.ForegroundRole and row.excluded and column.kind != "exclude":
            app = QApplication.instance()
            if isinstance(app, QApplication):
                return secondary_color(app.palette(), QPalette.ColorRole.Text, QPalette.ColorRole.Base)
        return None

    def _display(self, row: SaleRow, column: Column) -> Any:
        if column.kind in ("exclude", "check"):
            return None
        if column.kind == "int":
            value = column.read(row)
            return fmt.number(value) if isinstance(value, int) else ""
        if column.kind == "money":
            if row.amount_text is not None:
                return row.amount_text
            value = row.values.get(column.key)
            return fmt.money(value) if isinstance(value, int) else ""
        value = column.read(row)
        return "" if value is None else str(value)

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        column = self.columns[index.column()]
        row = self.sale_rows[index.row()]
        if role == Qt.ItemDataRole.CheckStateRole and column.kind in ("exclude", "check"):
            checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
            if column.kind == "exclude":
                row.excluded = checked
                self.dataChanged.emit(
                    self.index(index.row(), 0), self.index(index.row(), len(self.columns) - 1)
                )
            else:
                row.values[column.key] = checked
                self.dataChanged.emit(index, index)
            self.edited.emit()
            return True
        if role != Qt.ItemDataRole.EditRole or not self.flags(index) & Qt.ItemFlag.ItemIsEditable:
            return False
        if column.kind == "int":
            try:
                number = int(value)
            except (TypeError, ValueError):
                return False
            row.values[column.key] = max(0, min(MAX_QUANTITY, number))
            row.errors.pop(column.key, None)
            if column.key == self.price_key:
                self._auto_amount(row)
        elif column.kind == "money":
            text = str(value or "").strip()
            row.amount_auto = not text
            try:
                row.values[column.key] = parse_mxn(text) if text else 0
                row.amount_text = None
                row.errors.pop(column.key, None)
            except DomainError as error:
                row.amount_text = text
                row.errors[column.key] = first_message(error)
        else:
            return False
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(self.columns) - 1))
        self.edited.emit()
        return True

    def _auto_amount(self, row: SaleRow) -> None:
        if row.amount_auto and row.unit_price is not None:
            row.values["amount_cents"] = int(row.values.get(self.price_key) or 0) * row.unit_price
            row.amount_text = None
            row.errors.pop("amount_cents", None)

    def set_prices(self, prices: dict[str, int | None]) -> None:
        """Each row's stamp price (by client id); amounts not typed by the user follow it."""
        for row in self.sale_rows:
            row.unit_price = prices.get(row.cti.client_id)
            self._auto_amount(row)
        if self.sale_rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self.sale_rows) - 1, len(self.columns) - 1)
            )
        self.edited.emit()

    def set_value(self, row: int, key: str, value: Any) -> bool:
        """Edit a cell by column key (as the delegate's editor would)."""
        return self.setData(self.index(row, self.column_of(key)), value)

    def included(self) -> list[SaleRow]:
        return [r for r in self.sale_rows if not r.excluded]

    def validate(self, checks: Callable[[SaleRow], dict[str, str]]) -> bool:
        """Run `checks` on every included row; their messages mark the cells. True when none."""
        ok = True
        for row in self.sale_rows:
            kept = {
                k: v for k, v in row.errors.items() if k == "amount_cents" and row.amount_text is not None
            }
            row.errors = {} if row.excluded else {**checks(row), **kept}
            ok = ok and not row.errors
        if self.sale_rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self.sale_rows) - 1, len(self.columns) - 1)
            )
        return ok


class SaleDelegate(QStyledItemDelegate):
    """Whole numbers in a spin box (from the column's minimum), amounts as text checked by parse_mxn."""

    def __init__(self, model: SaleRowsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sales = model

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        column = self.sales.columns[index.column()]
        if column.kind == "int":
            spin = QSpinBox(parent)
            spin.setRange(0, MAX_QUANTITY)
            spin.setGroupSeparatorShown(True)
            spin.setFrame(False)
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
            return spin
        if column.kind == "money":
            edit = QLineEdit(parent)
            edit.setFrame(False)
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            return edit
        return super().createEditor(parent, option, index)


def _sale_rows(ctis: Sequence[CtiRow], values: Callable[[CtiRow], dict[str, Any]]) -> list[SaleRow]:
    return [SaleRow(cti, values(cti)) for cti in ctis if cti.kind == "standard"]


class _SalesDialog(QDialog):
    """What both dialogs share: the table, the notes, the message and the Aplicar button."""

    queued = Signal(list)  # the Commands

    def __init__(
        self,
        context: AppContext,
        ctis: Sequence[CtiRow],
        columns: Sequence[Column],
        rows: list[SaleRow],
        price_key: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.commands: list[Command] = []
        self.pushed = False
        self.busy = False
        self.info: dict[str, Any] = {}
        self.model = SaleRowsModel(columns, rows, price_key=price_key, parent=self)
        self.table = QTableView(self)
        self.table.setObjectName("saleTable")
        self.table.setModel(self.model)
        self.table.setItemDelegate(SaleDelegate(self.model, self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.model.column_of("client"), QHeaderView.ResizeMode.Stretch)
        left_out = len(ctis) - len(rows)
        self.left_out = QLabel(self)
        self.left_out.setObjectName("leftOut")
        self.left_out.setWordWrap(True)
        dim(self.left_out)
        if left_out:
            self.left_out.setText(
                fmt.counted(
                    left_out,
                    tr("Se omitió 1 cuenta ilimitada: no tiene saldo de timbres."),
                    tr("Se omitieron {n} cuentas ilimitadas: no tienen saldo de timbres."),
                )
            )
        self.left_out.setVisible(bool(left_out))
        self.legend = QLabel(tr("*C.P.D. = Consumo Promedio Diario    *D.R. = Días Restantes"), self)
        dim(self.legend)
        self.message = FieldMessage(self, "formMessage")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(tr("Aplicar"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancelar"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.model.edited.connect(self._update)
        self.resize(920, 460)

    def _load_info(self, first: CtiRow | None) -> None:
        """The balances, what pending transfers take, and each client's stamp price."""
        clients = sorted({r.cti.client_id for r in self.model.sale_rows})
        actions.transfer_info(
            self.context, "stamping_account", first.id if first is not None else "", clients
        ).success(self._info_loaded).failure(lambda _e: None).run()

    def _info_loaded(self, info: dict[str, Any]) -> None:
        self.info = info
        self.model.set_prices(dict(info.get("client_prices") or {}))
        self._update()

    def available(self) -> int:
        balance = (self.info.get("balances") or {}).get("stamps")
        pending = (self.info.get("pending") or {}).get("stamps", 0)
        pending = int(pending or 0)
        return max(0, (balance if isinstance(balance, int) else 0) - pending)

    def _update(self) -> None:
        """Refresh totals and warnings (subclasses)."""

    def submit(self) -> None:
        raise NotImplementedError

    def _queue(self, action: Action) -> None:
        self.busy = True
        self.ok_button.setEnabled(False)
        action.success(self._queued).failure(self._failed).run()

    def _queued(self, queued: Command | list[Command]) -> None:
        self.busy = False
        self.commands = queued if isinstance(queued, list) else [queued]
        self.pushed = self.context.is_online()
        self.queued.emit(self.commands)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self.ok_button.setEnabled(True)
        if isinstance(error, DomainError):
            self.message.set_error(" ".join(e.message for e in error.errors) or error.detail)
        else:
            self.message.set_error(str(error))

    def result_text(self) -> str:
        return queued_text(self.commands, self.pushed)


class BulkTransferDialog(_SalesDialog):
    """Transferencia Masiva (one command, all or nothing)."""

    def __init__(self, context: AppContext, ctis: Sequence[CtiRow], parent: QWidget | None = None) -> None:
        rows = _sale_rows(ctis, lambda _cti: {"quantity": 0, "amount_cents": 0})
        super().__init__(context, ctis, BULK_COLUMNS, rows, "quantity", parent)
        self.setObjectName("bulkTransferDialog")
        self.setWindowTitle(tr("Transferencia masiva"))
        self.available_label = QLabel(self)
        self.available_label.setObjectName("available")
        self.totals = QLabel(self)
        self.totals.setObjectName("totals")
        self.totals.setWordWrap(True)
        self.balance_warning = QLabel(self)
        self.balance_warning.setObjectName("balanceWarning")
        self.balance_warning.setWordWrap(True)
        self.balance_warning.setStyleSheet(WARNING_STYLE)
        self.comments = QLineEdit(self)
        self.comments.setObjectName("comments")
        self.comments.setMaxLength(500)
        self.comments.setPlaceholderText(tr("timbres a granel"))
        warning = QLabel(tr("Se aplican todas las transferencias o ninguna.") + " " + tr(IRREVERSIBLE), self)
        warning.setObjectName("irreversible")
        warning.setStyleSheet(WARNING_STYLE + " font-weight: bold;")
        warning.setWordWrap(True)
        comments_row = hbox(QLabel(tr("Comentarios:"), self), (self.comments, 1))
        # Never a silent sale of $0.00: each row has its amount, or the whole transfer is «Sin cargo».
        self.no_charge = QCheckBox(tr("Sin cargo (no son ventas: no quedan por facturar)"), self)
        self.no_charge.setObjectName("noCharge")
        self.no_charge.toggled.connect(lambda _on: self._update())
        vbox(
            self,
            self.available_label,
            (self.table, 1),
            self.legend,
            self.left_out,
            self.no_charge,
            self.totals,
            self.balance_warning,
            comments_row,
            warning,
            self.message,
            self.buttons,
        )
        self._update()
        self._load_info(rows[0].cti if rows else None)
        if not rows:
            self.message.set_error(tr("Seleccione al menos una cuenta de timbrado estándar."))
            self.ok_button.setEnabled(False)

    def total_quantity(self) -> int:
        return sum(int(r.values.get("quantity") or 0) for r in self.model.included())

    def total_cents(self) -> int:
        if self.no_charge.isChecked():
            return 0
        return sum(int(r.values.get("amount_cents") or 0) for r in self.model.included())

    def _update(self) -> None:
        included = self.model.included()
        available = self.available()
        if self.info:
            self.available_label.setText(
                "<b>" + tr("Timbres disponibles: {n}").format(n=fmt.number(available)) + "</b>"
            )
        quantity, cents = self.total_quantity(), self.total_cents()
        base, iva = split_iva(cents)
        self.totals.setText(
            fmt.counted(
                len(included),
                tr("Total: {q} timbres a 1 cuenta · Importe: {total} (base {base} + IVA {iva})"),
                tr("Total: {q} timbres a {n} cuentas · Importe: {total} (base {base} + IVA {iva})"),
                q=fmt.number(quantity),
                total=fmt.money(cents),
                base=fmt.money(base),
                iva=fmt.money(iva),
            )
        )
        if self.info and quantity > available:
            self.balance_warning.setText(
                tr(
                    "La suma ({q}) supera sus timbres disponibles ({n}) según los datos guardados: si el "
                    "servidor tampoco tiene el saldo, rechazará la transferencia completa."
                ).format(q=fmt.number(quantity), n=fmt.number(available))
            )
            self.balance_warning.show()
        else:
            self.balance_warning.hide()

    def _check(self, row: SaleRow) -> dict[str, str]:
        if int(row.values.get("quantity") or 0) < 1:
            return {"quantity": tr("Indique una cantidad mayor que cero (o excluya la cuenta).")}
        no_charge = self.no_charge.isChecked()
        cents = 0 if no_charge else int(row.values.get("amount_cents") or 0)
        if problem := sale_amount_problem(cents, no_charge):
            return {"amount_cents": tr(problem)}
        return {}

    def submit(self) -> None:
        if self.busy:
            return
        self.message.clear()
        if not self.model.included():
            self.message.set_error(tr("Todas las cuentas están excluidas: no hay nada que transferir."))
            return
        if not self.model.validate(self._check):
            self.message.set_error(
                tr("Corrija las celdas marcadas (pase el puntero sobre ellas para ver por qué).")
            )
            return
        comments = self.comments.text().strip()
        no_charge = self.no_charge.isChecked()
        items = [
            {
                "asset": "stamps",
                "target_type": "stamping_account",
                "target_id": r.cti.id,
                "quantity": int(r.values["quantity"]),
                "amount_cents": 0 if no_charge else int(r.values.get("amount_cents") or 0),
                "comments": comments,
                "no_charge": no_charge,
            }
            for r in self.model.included()
        ]
        self._queue(actions.bulk_transfer(self.context, items, parent=self))


class AutoSaleDialog(_SalesDialog):
    """Venta Automática (one command per CTI)."""

    def __init__(self, context: AppContext, ctis: Sequence[CtiRow], parent: QWidget | None = None) -> None:
        def current(cti: CtiRow) -> dict[str, Any]:
            data = cti.data
            has_rule = data.get("auto_sale_credit") is not None
            return {
                "minimum": int(data.get("auto_sale_minimum") or 0),
                "credit": int(data.get("auto_sale_credit") or 0),
                "amount_cents": int(data.get("auto_sale_amount_cents") or 0),
                "enabled": bool(data.get("auto_sale_enabled")) if has_rule else True,
            }

        rows = _sale_rows(ctis, current)
        for row in rows:
            row.amount_auto = not row.values["amount_cents"]
        super().__init__(context, ctis, AUTO_SALE_COLUMNS, rows, "credit", parent)
        self.setObjectName("autoSaleDialog")
        self.setWindowTitle(tr("Venta automática"))
        explain = QLabel(
            tr(
                "Cuando el saldo de la cuenta baje del <b>Mínimo</b>, se le abonan automáticamente los "
                "timbres de <b>Abonar</b> por el <b>Importe</b> indicado (IVA incluido), descontándolos de "
                "sus timbres."
            ),
            self,
        )
        explain.setWordWrap(True)
        vbox(self, explain, (self.table, 1), self.legend, self.left_out, self.message, self.buttons)
        self._load_info(rows[0].cti if rows else None)
        if not rows:
            self.message.set_error(tr("Seleccione al menos una cuenta de timbrado estándar."))
            self.ok_button.setEnabled(False)

    @staticmethod
    def _check(row: SaleRow) -> dict[str, str]:
        errors: dict[str, str] = {}
        if int(row.values.get("credit") or 0) < 1:
            errors["credit"] = tr("Indique cuántos timbres abonar (mayor que cero).")
        return errors

    def submit(self) -> None:
        if self.busy:
            return
        self.message.clear()
        if not self.model.included():
            self.message.set_error(tr("Todas las cuentas están excluidas: no hay nada que aplicar."))
            return
        if not self.model.validate(self._check):
            self.message.set_error(
                tr("Corrija las celdas marcadas (pase el puntero sobre ellas para ver por qué).")
            )
            return
        rules = [(r.cti.id, dict(r.values)) for r in self.model.included()]
        self._queue(actions.auto_sale(self.context, rules, parent=self))


__all__ = [
    "AUTO_SALE_COLUMNS",
    "BULK_COLUMNS",
    "AutoSaleDialog",
    "BulkTransferDialog",
    "SaleRowsModel",
]
