"""Facturación (manual, "Facturación"): the sales still to invoice, client by client ("Por facturar →
Timbres y Puntos"), the top-up codes by year, month and type ("Códigos de abono", where codes are also
made and cancelled), and the invoices registered.

Everything is read from the cache: the pending sales from its typed movements (in SQL, grouped by
client), the codes and invoices from their synced records (the loaders of `facturacion.actions`).
Registering an invoice is queued; making or cancelling a code goes to the server at once (it moves
balances and its answer must be shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import clock
from cmdesk.services.commands import is_local
from cmdesk.services.server_info import server_now
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.facturacion import actions
from cmdesk.ui.facturacion.dialogs import (
    CodeIssuedDialog,
    GenerateCodeDialog,
    RegisterInvoiceDialog,
    client_title,
)
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.export import export_button
from cmdesk.ui.kit.forms import Notice, dim, hbox, push_button, vbox
from cmdesk.ui.kit.messages import ask, error_text, inform
from cmdesk.ui.kit.table import (
    Column,
    PagedTableModel,
    Query,
    fit_columns,
    make_table,
    selected_record,
)
from cmdesk.ui.tabs import AppContext, TabPage

tr = translator("facturacion")


MONTHS = (
    QT_TRANSLATE_NOOP("facturacion", "Enero"),
    QT_TRANSLATE_NOOP("facturacion", "Febrero"),
    QT_TRANSLATE_NOOP("facturacion", "Marzo"),
    QT_TRANSLATE_NOOP("facturacion", "Abril"),
    QT_TRANSLATE_NOOP("facturacion", "Mayo"),
    QT_TRANSLATE_NOOP("facturacion", "Junio"),
    QT_TRANSLATE_NOOP("facturacion", "Julio"),
    QT_TRANSLATE_NOOP("facturacion", "Agosto"),
    QT_TRANSLATE_NOOP("facturacion", "Septiembre"),
    QT_TRANSLATE_NOOP("facturacion", "Octubre"),
    QT_TRANSLATE_NOOP("facturacion", "Noviembre"),
    QT_TRANSLATE_NOOP("facturacion", "Diciembre"),
)

# ---- Por facturar: timbres y puntos -------------------------------------------------------------------


def _reference(row: Mapping[str, Any]) -> str:
    """What the sale went to: the CTI (its id is what the client uses to stamp), or the client's points."""
    if row.get("target_type") == "stamping_account":
        return tr("CTI {id}").format(id=row.get("target_id") or "")
    return tr("Puntos del cliente")


CLIENT_COLUMNS = (
    Column("nic", QT_TRANSLATE_NOOP("portal", "NIC")),
    Column("name", QT_TRANSLATE_NOOP("portal", "Cliente")),
    Column("count", QT_TRANSLATE_NOOP("portal", "Ventas"), "number"),
    Column("total_cents", QT_TRANSLATE_NOOP("portal", "Total"), "money"),
)

SALE_COLUMNS = (
    Column("created_at", QT_TRANSLATE_NOOP("portal", "Fecha"), "datetime"),
    Column("target_id", QT_TRANSLATE_NOOP("portal", "Referencia"), value=_reference),
    Column("asset", QT_TRANSLATE_NOOP("portal", "Tipo"), value=lambda r: labels.asset_word(r.get("asset"))),
    Column("quantity", QT_TRANSLATE_NOOP("portal", "Cantidad"), "number"),
    Column("amount_cents", QT_TRANSLATE_NOOP("portal", "Importe"), "money"),
    Column("invoice", QT_TRANSLATE_NOOP("portal", "Facturar"), "check", value=lambda _r: ""),
)


class SalesTab(QWidget):
    """Clients with sales to invoice; a client's sales with a check to choose them; Facturar."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.client: dict[str, Any] | None = None
        self.dialog: RegisterInvoiceDialog | None = None
        self.last_box: Any = None
        self.clients = PagedTableModel(context, CLIENT_COLUMNS, actions.load_clients_to_invoice, parent=self)
        self.sales = PagedTableModel(
            context, SALE_COLUMNS, actions.load_sales, checkable=lambda _r: True, page_size=1000, parent=self
        )
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel(f"<b>{tr('Clientes con ventas por facturar')}</b>", left))
        self.clients_view = make_table(
            self.clients, left, "clientsTable", stretch=1, sortable=False, widths=(8, 0, 6, 10)
        )
        self.clients_view.selectionModel().selectionChanged.connect(lambda *_: self._client_chosen())
        left_layout.addWidget(self.clients_view, 1)
        self.empty = QLabel(tr("No hay ventas pendientes de facturar."), left)
        dim(self.empty)
        self.empty.hide()
        left_layout.addWidget(self.empty)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.heading = QLabel(tr("Elija un cliente para ver sus ventas por facturar."), right)
        self.heading.setObjectName("clientHeading")
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        right_layout.addWidget(self.heading)
        self.sales_view = make_table(
            self.sales, right, "salesTable", stretch=1, sortable=False, widths=(10, 0, 9, 8, 10, 8)
        )
        right_layout.addWidget(self.sales_view, 1)
        bottom = QHBoxLayout()
        self.all_button = push_button(tr("Seleccionar todas"), right, "selectAll", self.check_all)
        self.none_button = push_button(tr("Ninguna"), right, "selectNone", lambda: self.check_all(False))
        self.total = QLabel(right)
        self.total.setObjectName("total")
        self.invoice_button = push_button(tr("Facturar…"), right, "invoiceButton", self.invoice)
        self.invoice_button.setEnabled(False)
        # The total on a line of its own: beside the buttons it made the sales' side so wide that the
        # clients' names were cut at 1024 px.
        self.total.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        right_layout.addWidget(self.total)
        bottom.addWidget(self.all_button)
        bottom.addWidget(self.none_button)
        bottom.addStretch(1)
        bottom.addWidget(
            export_button(
                right, self.sales_view, "ventas-por-facturar", title=tr("Exportar ventas por facturar")
            )
        )
        bottom.addWidget(self.invoice_button)
        right_layout.addLayout(bottom)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        # Near halves: at 1024 px most clients' names then fit, and the sales' six columns still do.
        splitter.setStretchFactor(0, 9)
        splitter.setStretchFactor(1, 11)
        splitter.setSizes([540, 660])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.clients.loaded.connect(self._clients_loaded)
        self.sales.loaded.connect(self._sales_loaded)
        self.sales.checks_changed.connect(self._update_total)
        self._update_total()

    def refresh(self) -> None:
        self.clients.reload()

    def _clients_loaded(self) -> None:
        self.empty.setVisible(self.clients.rowCount() == 0)
        # Keep the chosen client, or let go of it once its sales are all invoiced.
        if self.client is not None:
            row = self.clients.find(str(self.client["client_id"]))
            if row >= 0:
                self.clients_view.selectRow(row)
                self.client = dict(self.clients.record(row))
                self.sales.reload()
            else:
                self.choose(None)

    def _client_chosen(self) -> None:
        row = selected_record(self.clients_view)
        if row is not None and (self.client is None or row["client_id"] != self.client["client_id"]):
            self.choose(row)

    def choose(self, client: Mapping[str, Any] | None) -> None:
        self.client = dict(client) if client is not None else None
        self.heading.setText(
            client_title(self.client)
            if self.client
            else tr("Elija un cliente para ver sus ventas por facturar.")
        )
        self.sales.set_query(Query().filtered(client_id=self.client["client_id"] if self.client else None))

    def choose_client(self, client_id: str) -> bool:
        """Select a client of the list (tests)."""
        row = next((i for i, r in enumerate(self.clients.rows()) if r["client_id"] == client_id), -1)
        if row < 0:
            return False
        self.clients_view.selectRow(row)
        return True

    def _sales_loaded(self) -> None:
        if self.sales.rowCount():
            fit_columns(self.sales_view, (16, 0, 8, 9, 12, 9))
        self._update_total()

    def check_all(self, checked: bool = True) -> None:
        for ident in [str(r["id"]) for r in self.sales.records()]:
            self.sales.set_checked(ident, checked)

    def _update_total(self) -> None:
        chosen = self.sales.checked_rows()
        total = sum(int(r.get("amount_cents") or 0) for r in chosen)
        self.total.setText(
            fmt.counted(
                len(chosen),
                tr("Total: {total} (1 seleccionada)"),
                tr("Total: {total} ({n} seleccionadas)"),
                total=fmt.money(total),
            )
        )
        self.invoice_button.setEnabled(bool(chosen))
        has_rows = self.sales.rowCount() > 0
        self.all_button.setEnabled(has_rows)
        self.none_button.setEnabled(has_rows)

    def invoice(self) -> RegisterInvoiceDialog | None:
        chosen = self.sales.checked_rows()
        if self.client is None or not chosen:
            return None
        dialog = RegisterInvoiceDialog(
            self.context,
            client_text=client_title(self.client),
            total_cents=sum(int(r.get("amount_cents") or 0) for r in chosen),
            client_id=str(self.client["client_id"]),
            movement_ids=[str(r["id"]) for r in chosen],
            parent=self,
        )
        self.dialog = dialog
        dialog.open()
        return dialog


# ---- Códigos de abono ---------------------------------------------------------------------------------


def _receiver(row: Mapping[str, Any]) -> str:
    receiver = row.get("receiver") or {}
    if not receiver:
        return ""
    if receiver.get("client_name"):
        return f"[{receiver.get('client_nic') or ''}] - {receiver.get('client_name')}"
    return str(receiver.get("id") or "")


def _nip(row: Mapping[str, Any]) -> str:
    """The code's NIP; when this computer keeps it but can't open it (the key of the cache's secrets
    was lost: another Windows profile, a reset keyring; cache.sealed), why it isn't shown."""
    if row.get("nip"):
        return str(row["nip"])
    if "nip" in (row.get("unopened") or ()):
        return tr("No disponible en este equipo")
    return ""


def invoiceable(row: Mapping[str, Any]) -> bool:
    """A code can be invoiced once: sold (with an amount), not cancelled, not invoiced yet."""
    return (
        not row.get("invoice_id")
        and int(row.get("amount_cents") or 0) > 0
        and row.get("status") != "cancelled"
    )


def _invoice_state(row: Mapping[str, Any]) -> str:
    invoice = str(row.get("invoice_id") or "")
    if is_local(invoice):
        return tr("Por enviar")
    if invoice:
        return tr("Facturado")
    return ""


CODE_COLUMNS = (
    Column("code", QT_TRANSLATE_NOOP("portal", "Código de abono"), sort="code"),
    Column(
        "nip",
        QT_TRANSLATE_NOOP("portal", "NIP"),
        value=_nip,
        tooltip=QT_TRANSLATE_NOOP(
            "portal",
            "Si dice «No disponible en este equipo», la clave que protege los NIP en este equipo se "
            "perdió: el NIP se mostrará otra vez cuando el código cambie en el servidor.",
        ),
    ),
    Column("created_at", QT_TRANSLATE_NOOP("portal", "Fecha de creación"), "datetime", sort="created_at"),
    Column(
        "asset",
        QT_TRANSLATE_NOOP("portal", "Tipo"),
        value=lambda r: labels.product(r.get("asset")),
        sort="asset",
    ),
    Column("quantity", QT_TRANSLATE_NOOP("portal", "Cantidad"), "number", sort="quantity"),
    Column("amount_cents", QT_TRANSLATE_NOOP("portal", "Importe"), "money", sort="amount_cents"),
    Column("consumed", QT_TRANSLATE_NOOP("portal", "Consumido"), "bool", sort="consumed"),
    Column("receiver", QT_TRANSLATE_NOOP("portal", "Receptor"), value=_receiver),
    Column(
        "status",
        QT_TRANSLATE_NOOP("portal", "Estado"),
        value=lambda r: labels.code_status(r.get("status")),
        sort="status",
    ),
    Column("invoice_id", QT_TRANSLATE_NOOP("portal", "Facturar"), "check", value=_invoice_state),
)


class CodesTab(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.dialog: Any = None
        self.last_box: Any = None
        self.model = PagedTableModel(
            context,
            CODE_COLUMNS,
            actions.load_codes,
            query=Query(sort="created_at", descending=True),
            checkable=invoiceable,
            parent=self,
        )
        filters = QHBoxLayout()
        self.year = QComboBox(self)
        self.year.setObjectName("year")
        self.year.addItem(tr("Todos"), None)
        this_year = clock.today(server_now()).year
        for year in range(this_year, this_year - 6, -1):
            self.year.addItem(str(year), year)
        self.month = QComboBox(self)
        self.month.setObjectName("month")
        self.month.addItem(tr("Todos los meses"), None)
        for number, name in enumerate(MONTHS, start=1):
            self.month.addItem(tr(name), number)
        self.assets = QButtonGroup(self)
        self.asset_buttons: dict[str | None, QRadioButton] = {}
        for key, text in ((None, tr("Todos")), ("stamps", tr("Timbres")), ("points", tr("Puntos"))):
            radio = QRadioButton(text, self)
            radio.setObjectName(f"asset_{key or 'all'}")
            self.assets.addButton(radio)
            self.asset_buttons[key] = radio
        self.asset_buttons[None].setChecked(True)
        self.pending_only = QCheckBox(tr("Sólo los no facturados"), self)
        self.pending_only.setObjectName("pendingOnly")
        filters.addWidget(QLabel(tr("Año"), self))
        filters.addWidget(self.year)
        filters.addWidget(QLabel(tr("Mes"), self))
        filters.addWidget(self.month)
        filters.addSpacing(12)
        for radio in self.asset_buttons.values():
            filters.addWidget(radio)
        filters.addSpacing(12)
        filters.addWidget(self.pending_only)
        filters.addStretch(1)
        self.generate_button = push_button(
            tr("Generar código de abono…"), self, "generateCode", self.generate
        )
        for signal in (self.year.currentIndexChanged, self.month.currentIndexChanged):
            signal.connect(lambda *_: self._filter())
        self.assets.buttonClicked.connect(lambda *_: self._filter())
        self.pending_only.toggled.connect(lambda *_: self._filter())

        self.view = make_table(
            self.model, self, "codesTable", stretch=7, widths=(0, 6, 16, 12, 9, 11, 10, 0, 11, 10)
        )
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update())
        bottom = QHBoxLayout()
        self.cancel_button = push_button(tr("Cancelar código…"), self, "cancelCode", self.cancel_code)
        self.summary = QLabel(self)
        self.invoice_button = push_button(tr("Facturar seleccionados…"), self, "invoiceCodes", self.invoice)
        bottom.addWidget(self.generate_button)
        bottom.addWidget(self.cancel_button)
        bottom.addStretch(1)
        bottom.addWidget(self.summary)
        self.export_button = export_button(
            self, self.view, "codigos-de-abono", title=tr("Exportar códigos de abono")
        )
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.invoice_button)
        self.notice = Notice(self)
        vbox(self, filters, (self.view, 1), bottom, self.notice)
        self.model.loaded.connect(self._update)
        self.model.checks_changed.connect(self._update)
        self._update()

    def _filter(self) -> None:
        """The list with the filters as they are now (year, month, type, not invoiced)."""
        self.model.set_query(
            self.model.query.filtered(
                asset=next((k for k, b in self.asset_buttons.items() if b.isChecked()), None),
                pending_only=self.pending_only.isChecked() or None,
                year=self.year.currentData(),
                month=self.month.currentData(),
            )
        )

    def refresh(self) -> None:
        self.model.reload()

    def selected(self) -> Mapping[str, Any] | None:
        return selected_record(self.view)

    def _update(self) -> None:
        row = self.selected()
        self.cancel_button.setEnabled(row is not None and row.get("status") in ("available", "locked"))
        chosen = self.model.checked_rows()
        total = sum(int(r.get("amount_cents") or 0) for r in chosen)
        self.summary.setText(tr("Seleccionados: {total}").format(total=fmt.money(total)))
        self.invoice_button.setEnabled(bool(chosen))

    def show_notice(self, text: str, error: bool = False) -> None:
        self.notice.show_text(text, error=error)

    def generate(self) -> GenerateCodeDialog:
        dialog = GenerateCodeDialog(self.context, self)
        dialog.done_ok.connect(self._generated)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _generated(self, answer: dict[str, Any]) -> None:
        code = answer["code"]
        self.show_notice(tr("Se generó el código de abono {code}.").format(code=code.get("code") or ""))
        issued = CodeIssuedDialog(code, self)
        self.dialog = issued
        issued.open()

    def cancel_code(self) -> None:
        row = self.selected()
        if row is None:
            return
        ident, text = str(row["id"]), str(row.get("code") or "")
        ask(
            self,
            tr("Códigos de abono"),
            tr("¿Realmente desea cancelar el código de abono?"),
            lambda: self._cancel(ident),
            informative=tr(
                "{code}: {quantity} {what} regresan a su cuenta; el código ya no podrá canjearse."
            ).format(
                code=text,
                quantity=fmt.number(int(row.get("quantity") or 0)),
                what=labels.asset_word(row.get("asset")),
            ),
        )

    def _cancel(self, ident: str) -> None:
        def done(answer: dict[str, Any]) -> None:
            self.show_notice(
                tr("Se canceló el código {code}; la cantidad regresó a su cuenta.").format(
                    code=answer["code"].get("code") or ""
                )
            )

        def failed(error: BaseException) -> None:
            self.show_notice(error_text(error), error=True)
            inform(self, tr("Códigos de abono"), error_text(error), error=True)

        actions.cancel_code(self.context, ident, parent=self).success(done).failure(failed).run()

    def invoice(self) -> RegisterInvoiceDialog | None:
        chosen = self.model.checked_rows()
        if not chosen:
            return None
        receivers = {(r.get("receiver") or {}).get("client_id") for r in chosen}
        client_text = ""
        if len(receivers) == 1 and None not in receivers:
            receiver = chosen[0]["receiver"]
            client_text = f"[{receiver.get('client_nic') or ''}] - {receiver.get('client_name') or ''}"
        dialog = RegisterInvoiceDialog(
            self.context,
            client_text=client_text,
            total_cents=sum(int(r.get("amount_cents") or 0) for r in chosen),
            top_up_code_ids=[str(r["id"]) for r in chosen],
            parent=self,
        )
        self.dialog = dialog
        dialog.open()
        return dialog


# ---- Facturas -----------------------------------------------------------------------------------------


def _client_of_invoice(row: Mapping[str, Any]) -> str:
    return client_title(row.get("client")) if row.get("client") else ""


INVOICE_COLUMNS = (
    Column("created_at", QT_TRANSLATE_NOOP("portal", "Fecha"), "datetime", sort="created_at"),
    Column("reference", QT_TRANSLATE_NOOP("portal", "Referencia"), sort="reference"),
    Column("client", QT_TRANSLATE_NOOP("portal", "Cliente"), value=_client_of_invoice),
    Column("total_cents", QT_TRANSLATE_NOOP("portal", "Total"), "money", sort="total_cents"),
)


class InvoicesTab(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PagedTableModel(
            context,
            INVOICE_COLUMNS,
            actions.load_invoices,
            query=Query(sort="created_at", descending=True),
            parent=self,
        )
        self.view = make_table(self.model, self, "invoicesTable", stretch=2, widths=(16, 24, 0, 14))
        self.export_button = export_button(self, self.view, "facturas", title=tr("Exportar facturas"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        layout.addLayout(hbox(None, self.export_button))

    def refresh(self) -> None:
        self.model.reload()


# ---- The page -----------------------------------------------------------------------------------------


class BillingPage(TabPage):
    entities = frozenset({"movement", "client", "invoice", "top_up_code"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.sales = SalesTab(context, self)
        self.codes = CodesTab(context, self)
        self.invoices = InvoicesTab(context, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("facturacionTabs")
        self.tabs.addTab(self.sales, tr("Por facturar: timbres y puntos"))
        self.tabs.addTab(self.codes, tr("Códigos de abono"))
        self.tabs.addTab(self.invoices, tr("Facturas registradas"))
        intro = QLabel(
            tr(
                "Todas las operaciones que realice a favor de sus clientes deberían dar origen a facturas "
                "por cobrar: registre aquí la factura de cada venta."
            ),
            self,
        )
        dim(intro)
        intro.setWordWrap(True)
        vbox(self, QLabel(f"<b>{tr('Facturación')}</b>", self), intro, (self.tabs, 1))

    def reload(self, changed: frozenset[str]) -> None:
        everything = "*" in changed
        if everything or changed & {"movement", "client"}:
            self.sales.refresh()
        if everything or changed & {"top_up_code", "client"}:
            self.codes.refresh()
        if everything or changed & {"invoice", "client"}:
            self.invoices.refresh()
