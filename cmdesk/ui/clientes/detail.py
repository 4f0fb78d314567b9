"""A client's window, with the portal's tabs: Datos generales (`general_html`), Cuentas de timbrado, Puntos,
Facturación y pagos, Pólizas, Licencias and Interacciones — each from the cache (`actions.read_detail`),
kept up to date by the page when a sync or a command changes them.

From here the user edits the client, assigns its admin profile, transfers stamps or points, registers
an interaction or a support policy (commands: queued, shown pending offline) and generates MKL
licenses ("Usar MKL": online, `commands.generate_licenses`; without the MKL contracted the server's Spanish
reason is shown).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import clock, sales
from cmdesk.domain.unlimited import can_stamp
from cmdesk.services import commands
from cmdesk.services.server_info import server_now
from cmdesk.ui import locale as fmt
from cmdesk.ui.clientes import actions
from cmdesk.ui.clientes.general import general_html
from cmdesk.ui.clientes.model import tr
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import ERROR_STYLE, hbox, vbox
from cmdesk.ui.kit.messages import error_text, field_errors
from cmdesk.ui.timbrado.common import client_text
from cmdesk.ui.timbrado.unlimited import UnlimitedFeeDialog, fee_problem, fee_text

TABS: tuple[tuple[str, str], ...] = (
    ("general", "Datos generales"),
    ("ctis", "Cuentas de timbrado"),
    ("points", "Puntos"),
    ("billing", "Facturación y pagos"),
    ("policies", "Pólizas"),
    ("licenses", "Licencias"),
    ("interactions", "Interacciones"),
)
ENTITIES = frozenset(
    {
        "client",
        "stamping_account",
        "movement",
        "invoice",
        "support_policy",
        "license",
        "interaction",
        "contract",
    }
)


def make_table(name: str, headers: Sequence[str], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setObjectName(name)
    table.setHorizontalHeaderLabels([tr(h) for h in headers])
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fill(table: QTableWidget, rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> None:
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, text in enumerate(values):
            item = QTableWidgetItem(text)
            if c in right:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


def _date(value: Any) -> str:
    if isinstance(value, str) and len(value) == 10:  # a plain date (policies): no time zone to apply
        try:
            return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return fmt.date(value)


def _day(value: QDate) -> dt.date:
    return dt.date(value.year(), value.month(), value.day())


def _yes(value: Any) -> str:
    return tr("Sí") if value else tr("No")


class ClientDetailWindow(QDialog):
    """Non-modal: several clients can be open at once, beside the table."""

    loaded = Signal()

    def __init__(
        self, context: AppContext, client_id: str, parent: QWidget | None = None, *, tab: str | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.client_id = client_id
        self.data: dict[str, Any] = {}
        self._loading = False
        self._again = False
        self.setObjectName("clientDetail")
        self.setModal(False)
        self.setWindowTitle(tr("Cliente"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)

        self.heading = QLabel(self)
        self.heading.setObjectName("heading")
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("detailTabs")
        self.pages: dict[str, QWidget] = {}
        builders: dict[str, Callable[[], QWidget]] = {
            "general": self._general_tab,
            "ctis": self._ctis_tab,
            "points": self._points_tab,
            "billing": self._billing_tab,
            "policies": self._policies_tab,
            "licenses": self._licenses_tab,
            "interactions": self._interactions_tab,
        }
        for key, title in TABS:
            page = builders[key]()
            page.setObjectName(f"tab_{key}")
            self.pages[key] = page
            self.tabs.addTab(page, tr(title))
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)
        statement = QPushButton(tr("Estado de cuenta…"), self)
        statement.setObjectName("statement")
        statement.clicked.connect(self.open_statement)
        history = QPushButton(tr("Historial…"), self)
        history.setObjectName("history")
        history.clicked.connect(self.open_history)
        bottom = hbox(statement, history, None, close)
        vbox(self, self.heading, (self.tabs, 1), bottom)
        self.resize(980, 620)
        self.show_tab(tab)
        self.reload()

    def _title(self) -> str:
        client = self.data.get("client") or {}
        return str(client.get("name") or self.client_id)

    def open_statement(self) -> QWidget:
        """The client's statement (points; stamps through its CTIs)."""
        from cmdesk.ui.estados import open_statement

        self.child = open_statement(self.context, "client", self.client_id, self._title(), self)
        return self.child

    def open_history(self) -> QWidget:
        """The client's history in the bitácora (its CTIs' changes and the transfers to them too)."""
        from cmdesk.ui.bitacora import open_history

        self.child = open_history(self.context, "client", self.client_id, self._title(), self)
        return self.child

    child: QWidget | None = None  # the last window opened from here

    def show_tab(self, tab: str | None) -> None:
        if tab in self.pages:
            self.tabs.setCurrentWidget(self.pages[tab])

    # ---- tabs ------------------------------------------------------------------------------------------

    def _general_tab(self) -> QWidget:
        page = QWidget()
        self.general = QTextBrowser(page)
        self.general.setObjectName("general")
        self.general.setOpenLinks(False)
        edit = QPushButton(tr("Editar datos…"), page)
        edit.setObjectName("edit")
        edit.clicked.connect(self.edit)
        admin = QPushButton(tr("Asignar perfil admin…"), page)
        admin.setObjectName("admin")
        admin.clicked.connect(self.admin_profile)
        convert = QPushButton(tr("Convertir en distribuidor…"), page)
        convert.setObjectName("convert")
        convert.setToolTip(tr("Da de alta al cliente como sub-distribuidor, con su propia Cuenta Maestra."))
        convert.clicked.connect(self.convert)
        buttons = hbox(edit, admin, convert, None)
        vbox(page, buttons, (self.general, 1))
        return page

    def _ctis_tab(self) -> QWidget:
        page = QWidget()
        self.ctis = make_table(
            "ctis",
            (
                "Cuenta de timbrado",
                "Tipo",
                "F. creación",
                "Primera emisión",
                "Última emisión",
                "Abonados",
                "Emitidos",
                "Saldo",
                "Pagada hasta",
                "Activo",
            ),
            page,
        )
        self.cti_buttons: dict[str, QPushButton] = {}
        for name, text, slot in (
            ("transfer", tr("Transferir timbres…"), lambda: self.transfer("stamps")),
            ("create", tr("Crear cuenta…"), self.create_account),
            ("reset", tr("Restablecer contraseña…"), self.reset_password),
            ("fee", tr("Pagar cuota anual…"), self.pay_fee),
        ):
            button = QPushButton(text, page)
            button.setObjectName(f"cti_{name}")
            button.clicked.connect(slot)
            self.cti_buttons[name] = button
        self.ctis.itemSelectionChanged.connect(self._cti_selection_changed)
        self.ctis.itemDoubleClicked.connect(lambda _item: self._cti_double_clicked())
        self._cti_selection_changed()
        layout = QVBoxLayout(page)
        row = hbox(*self.cti_buttons.values(), None)
        layout.addLayout(row)
        layout.addWidget(self.ctis, 1)
        return page

    def _points_tab(self) -> QWidget:
        page = QWidget()
        self.points_balance = QLabel(page)
        self.points_balance.setObjectName("pointsBalance")
        self.points = make_table("points", ("Fecha", "Movimiento", "Puntos", "Importe", "Comentarios"), page)
        transfer = QPushButton(tr("Transferir puntos…"), page)
        transfer.clicked.connect(lambda: self.transfer("points"))
        row = hbox(self.points_balance, None, transfer)
        vbox(page, row, (self.points, 1))
        return page

    def _billing_tab(self) -> QWidget:
        page = QWidget()
        self.billing_summary = QLabel(page)
        self.billing_summary.setObjectName("billingSummary")
        self.sales = make_table("sales", ("Fecha", "Concepto", "Cantidad", "Importe", "Factura"), page)
        self.invoices = make_table("invoices", ("Fecha", "Referencia", "Total"), page)
        vbox(
            page,
            self.billing_summary,
            QLabel("<b>" + tr("Ventas") + "</b>", page),
            (self.sales, 3),
            QLabel("<b>" + tr("Facturas registradas") + "</b>", page),
            (self.invoices, 2),
        )
        return page

    def _policies_tab(self) -> QWidget:
        page = QWidget()
        self.policies = make_table("policies", ("Producto", "Inicio", "Fin", "Referencia", "Vigente"), page)
        add = QPushButton(tr("Agregar póliza…"), page)
        add.setObjectName("addPolicy")
        add.clicked.connect(self.add_policy)
        row = hbox(add, None)
        vbox(page, row, (self.policies, 1))
        return page

    def _licenses_tab(self) -> QWidget:
        page = QWidget()
        intro = QLabel(
            tr(
                "Usar MKL: si tiene contratada una MKL (licencia maestra de un producto Induxsoft) puede "
                "generar licencias de ese producto para este cliente, cada una válida por un año."
            ),
            page,
        )
        intro.setWordWrap(True)
        self.mkl = QComboBox(page)
        self.mkl.setObjectName("mkl")
        self.license_count = QSpinBox(page)
        self.license_count.setObjectName("licenseCount")
        self.license_count.setRange(1, 100)
        self.generate = QPushButton(tr("Generar licencias"), page)
        self.generate.setObjectName("generate")
        self.generate.clicked.connect(self.generate_licenses)
        self.license_message = QLabel(page)
        self.license_message.setObjectName("licenseMessage")
        self.license_message.setWordWrap(True)
        self.license_message.setVisible(False)
        row = hbox(
            QLabel(tr("MKL:"), page),
            (self.mkl, 1),
            QLabel(tr("Cantidad:"), page),
            self.license_count,
            self.generate,
        )
        self.licenses = make_table(
            "licenses", ("Producto", "Clave de licencia", "Válida desde", "Válida hasta"), page
        )
        vbox(page, intro, row, self.license_message, (self.licenses, 1))
        return page

    def _interactions_tab(self) -> QWidget:
        page = QWidget()
        self.interactions = make_table("interactions", ("Fecha", "Autor", "Interacción"), page)
        self.interactions.setWordWrap(True)
        self.interaction_text = QPlainTextEdit(page)
        self.interaction_text.setObjectName("interactionText")
        self.interaction_text.setPlaceholderText(
            tr("Llamada, visita, acuerdo… (se registra con la fecha de hoy)")
        )
        self.interaction_text.setMaximumHeight(70)
        add = QPushButton(tr("Agregar interacción"), page)
        add.setObjectName("addInteraction")
        add.clicked.connect(self.add_interaction)
        self.interaction_error = QLabel(page)
        self.interaction_error.setStyleSheet(ERROR_STYLE)
        self.interaction_error.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.interaction_text, 1)
        row.addWidget(add, 0, Qt.AlignmentFlag.AlignTop)
        vbox(page, row, self.interaction_error, (self.interactions, 1))
        return page

    # ---- loading ---------------------------------------------------------------------------------------

    def reload(self) -> None:
        if self.context.session is None or self.context.session.cache is None:
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        actions.read_detail(self.context, self.client_id).success(self._loaded).failure(
            lambda e: self._loaded({"error": error_text(e)})
        ).run()

    def _loaded(self, data: dict[str, Any]) -> None:
        self._loading = False
        if self._again:
            self._again = False
            self.reload()
            return
        self.data = data
        client = data.get("client")
        if not client:
            self.heading.setText(tr("El cliente ya no existe en este equipo."))
            self.loaded.emit()
            return
        name = str(client.get("name") or "")
        self.setWindowTitle(
            tr("Cliente {nic} — {name}").format(nic=client.get("nic") or tr("pendiente"), name=name)
        )
        self.heading.setText(
            f"<span style='font-size:14pt'><b>{html.escape(name)}</b></span>"
            + "<br>NIC "
            + html.escape(str(client.get("nic") or tr("pendiente")))
            + " · RFC "
            + html.escape(str(client.get("rfc") or ""))
        )
        self.general.setHtml(general_html(client))
        self._fill_ctis(data["ctis"])
        self._fill_points(client, data["movements"])
        self._fill_billing(data["movements"], data["invoices"])
        self._fill_policies(data["policies"])
        self._fill_licenses(data["licenses"], data["mkl"], data["contracted"])
        self._fill_interactions(data["interactions"])
        self.loaded.emit()

    def _fill_ctis(self, ctis: Sequence[Mapping[str, Any]]) -> None:
        rows = [
            (
                str(c["id"]) + (" " + tr("(pendiente)") if c.get("pending") else ""),
                labels.cti_kind(c.get("kind")),
                fmt.date(c.get("created_at")),
                fmt.date(c.get("first_issue_at")),
                fmt.date(c.get("last_issue_at")),
                fmt.number(c.get("credited") or 0),
                fmt.number(c.get("issued") or 0),
                fmt.number(c["balance"]) if c.get("balance") is not None else tr("Ilimitado"),
                fee_text(str(c.get("kind") or "standard"), c.get("paid_until")),
                _yes(c.get("active")),
            )
            for c in ctis
        ]
        fill(self.ctis, rows, right=(5, 6, 7))
        for r, c in enumerate(ctis):
            problem = fee_problem(str(c.get("kind") or "standard"), c.get("paid_until"))
            item = self.ctis.item(r, 8)
            if problem and item is not None:
                item.setToolTip(problem)
                if not can_stamp(str(c.get("kind") or "standard"), c.get("paid_until"), server_now()):
                    item.setForeground(QColor("#d32f2f"))
        self._cti_selection_changed()

    def _fill_points(self, client: Mapping[str, Any], movements: Sequence[Mapping[str, Any]]) -> None:
        balance = int((client.get("balances") or {}).get("points") or 0)
        self.points_balance.setText(tr("Saldo de puntos: {n}").format(n=fmt.number(balance)))
        rows = [
            (
                fmt.date_time(m.get("created_at")),
                labels.movement(m.get("kind")),
                fmt.number((-1 if m.get("source_id") == self.client_id else 1) * int(m.get("quantity") or 0)),
                fmt.money(m.get("amount_cents") or 0),
                str(m.get("comments") or ""),
            )
            for m in movements
            if m.get("asset") == "points"
        ]
        fill(self.points, rows, right=(2, 3))

    def _fill_billing(
        self, movements: Sequence[Mapping[str, Any]], invoices: Sequence[Mapping[str, Any]]
    ) -> None:
        references = {str(i["id"]): str(i.get("reference") or "") for i in invoices}
        sold = [m for m in movements if sales.is_sale(m)]
        pending = [m for m in sold if sales.is_pending_sale(m)]
        self.billing_summary.setText(
            (
                tr("Por facturar: {amount} en 1 venta")
                if len(pending) == 1
                else tr("Por facturar: {amount} en {n} ventas")
            ).format(
                amount=fmt.money(sum(int(m.get("amount_cents") or 0) for m in pending)),
                n=fmt.number(len(pending)),
            )
            + " · "
            + tr("Facturas registradas: {n}").format(n=fmt.number(len(invoices)))
        )
        rows = [
            (
                fmt.date_time(m.get("created_at")),
                labels.asset(m.get("asset")),
                fmt.number(int(m.get("quantity") or 0)),
                fmt.money(int(m.get("amount_cents") or 0)),
                references.get(str(m.get("invoice_id")), str(m.get("invoice_id") or ""))
                if m.get("invoice_id")
                else tr("Por facturar"),
            )
            for m in sold
        ]
        fill(self.sales, rows, right=(2, 3))
        fill(
            self.invoices,
            [
                (
                    fmt.date_time(i.get("created_at")),
                    str(i.get("reference") or ""),
                    fmt.money(i.get("total_cents") or 0),
                )
                for i in invoices
            ],
            right=(2,),
        )

    def _fill_policies(self, policies: Sequence[Mapping[str, Any]]) -> None:
        today = clock.today(server_now()).isoformat()  # Mexico City's day, by the server's clock
        rows = [
            (
                str(p.get("product") or ""),
                _date(p.get("starts_on")),
                _date(p.get("ends_on")),
                str(p.get("reference") or ""),
                _yes(str(p.get("starts_on") or "") <= today <= str(p.get("ends_on") or ""))
                + (" " + tr("(pendiente)") if commands.is_local(str(p.get("id", ""))) else ""),
            )
            for p in policies
        ]
        fill(self.policies, rows)

    def _fill_licenses(
        self,
        licenses: Sequence[Mapping[str, Any]],
        mkl: Sequence[Mapping[str, Any]],
        contracted: Sequence[str],
    ) -> None:
        names = {str(m.get("code")): str(m.get("name") or m.get("code")) for m in mkl}
        current = self.mkl.currentData()
        self.mkl.blockSignals(True)
        self.mkl.clear()
        ordered = sorted(mkl, key=lambda m: (str(m.get("code")) not in contracted, str(m.get("name"))))
        for m in ordered:
            code = str(m.get("code"))
            label = names[code] + ("" if code in contracted else " " + tr("(no contratado)"))
            self.mkl.addItem(label, code)
        if current is not None and self.mkl.findData(current) >= 0:
            self.mkl.setCurrentIndex(self.mkl.findData(current))
        self.mkl.blockSignals(False)
        rows = [
            (
                names.get(str(x.get("product_code")), str(x.get("product_code") or "")),
                str(x.get("license_key") or ""),
                fmt.date(x.get("valid_from")),
                fmt.date(x.get("valid_until")),
            )
            for x in licenses
        ]
        fill(self.licenses, rows)

    def _fill_interactions(self, interactions: Sequence[Mapping[str, Any]]) -> None:
        rows = [
            (
                fmt.date_time(i.get("occurred_at")),
                str(i.get("author") or "")
                or (tr("(pendiente)") if commands.is_local(str(i.get("id", ""))) else ""),
                str(i.get("text") or ""),
            )
            for i in interactions
        ]
        fill(self.interactions, rows)
        self.interactions.resizeRowsToContents()

    # ---- actions ---------------------------------------------------------------------------------------

    def _client(self) -> dict[str, Any] | None:
        client = self.data.get("client")
        return dict(client) if isinstance(client, dict) else None

    def edit(self) -> None:
        from cmdesk.ui.clientes.client_form import ClientForm

        client = self._client()
        if client is not None:
            self.form = ClientForm(self.context, client, self)
            self.form.open()

    def admin_profile(self) -> None:
        from cmdesk.ui.clientes.admin_profile import AdminProfileDialog

        client = self._client()
        if client is not None:
            self.admin_dialog = AdminProfileDialog(self.context, client, self)
            self.admin_dialog.assigned.connect(lambda _c: self.reload())
            self.admin_dialog.open()

    def transfer(self, asset: str) -> None:
        from cmdesk.ui.timbrado.transfer_dialog import TransferDialog

        client = self._client()
        if client is not None:
            standard = [str(c["id"]) for c in self.data.get("ctis") or [] if c.get("kind") == "standard"]
            self.transfer_dialog = TransferDialog.for_client(
                self.context, asset, str(client["id"]), standard, parent=self
            )

    # ---- its stamping accounts (the manual's «Cuentas de timbrado» of the client) ---------------------

    def selected_cti(self) -> dict[str, Any] | None:
        rows = {i.row() for i in self.ctis.selectedIndexes()}
        ctis = self.data.get("ctis") or []
        return dict(ctis[rows.pop()]) if len(rows) == 1 and max(rows) < len(ctis) else None

    def _cti_selection_changed(self) -> None:
        cti = self.selected_cti()
        self.cti_buttons["reset"].setEnabled(cti is not None)
        self.cti_buttons["fee"].setEnabled(cti is not None and cti.get("kind") == "unlimited")
        self.cti_buttons["fee"].setToolTip(
            "" if self.cti_buttons["fee"].isEnabled() else tr("Seleccione una cuenta ilimitada.")
        )
        self.cti_buttons["reset"].setToolTip("" if cti is not None else tr("Seleccione una cuenta."))

    def _cti_double_clicked(self) -> None:
        cti = self.selected_cti()
        if cti is not None and cti.get("kind") == "unlimited":
            self.pay_fee()

    def _label(self) -> str:
        client = self._client() or {}
        return client_text(client.get("nic"), client.get("name"))

    def create_account(self) -> None:
        from cmdesk.ui.timbrado.account_dialogs import CreateStampingAccountDialog

        if self._client() is None:
            return
        dialog = CreateStampingAccountDialog(self.context, self.client_id, self._label(), parent=self)
        dialog.accepted.connect(self.reload)
        self.cti_dialog: QDialog = dialog
        dialog.open()

    def reset_password(self) -> None:
        from cmdesk.ui.timbrado.account_dialogs import ResetPasswordDialog

        cti = self.selected_cti()
        if cti is not None:
            self.cti_dialog = ResetPasswordDialog(self.context, str(cti["id"]), self._label(), parent=self)
            self.cti_dialog.open()

    def pay_fee(self) -> None:
        cti = self.selected_cti()
        if cti is not None and cti.get("kind") == "unlimited":
            dialog = UnlimitedFeeDialog(self.context, cti, self._label(), parent=self)
            dialog.accepted.connect(self.reload)
            self.cti_dialog = dialog
            dialog.open()

    def convert(self) -> None:
        from cmdesk.ui.distribuidores import convert_client

        if self._client() is not None:
            self.convert_dialog = convert_client(self.context, self.client_id, self)

    def add_interaction(self) -> None:
        text = self.interaction_text.toPlainText().strip()
        self.interaction_error.setVisible(False)

        def done(_c: object) -> None:
            self.interaction_text.clear()
            self.reload()

        def failed(error: BaseException) -> None:
            self.interaction_error.setText(" ".join(field_errors(error).values()) or error_text(error))
            self.interaction_error.setVisible(True)

        actions.add_interaction(self.context, self.client_id, text, parent=self).success(done).failure(
            failed
        ).run()

    def add_policy(self) -> PolicyDialog:
        dialog = PolicyDialog(self.context, self.client_id, self)
        dialog.added.connect(lambda _c: self.reload())
        dialog.open()
        self.policy_dialog = dialog
        return dialog

    def generate_licenses(self) -> None:
        code = self.mkl.currentData()
        if not code:
            return
        self.generate.setEnabled(False)
        self.license_message.setVisible(False)
        actions.generate_licenses(
            self.context, self.client_id, str(code), int(self.license_count.value()), parent=self
        ).success(self._licenses_made).failure(self._licenses_refused).run()

    def _licenses_made(self, items: list[dict[str, Any]]) -> None:
        self.generate.setEnabled(True)
        self._license_text(
            tr("Se generaron {n} licencias, válidas por un año.").format(n=fmt.number(len(items)))
            if len(items) != 1
            else tr("Se generó 1 licencia, válida por un año."),
            error=False,
        )
        self.reload()

    def _licenses_refused(self, error: BaseException) -> None:
        self.generate.setEnabled(True)
        self._license_text(error_text(error), error=True)

    def _license_text(self, text: str, *, error: bool) -> None:
        self.license_message.setText(text)
        self.license_message.setStyleSheet(ERROR_STYLE if error else "")
        self.license_message.setVisible(True)


class PolicyDialog(QDialog):
    """Agregar póliza: product, validity and reference (a command: works offline)."""

    added = Signal(object)

    def __init__(self, context: AppContext, client_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.client_id = client_id
        self.setObjectName("policyDialog")
        self.setWindowTitle(tr("Agregar póliza de soporte"))
        self.product = QLineEdit(self)
        self.product.setObjectName("product")
        self.starts = QDateEdit(QDate.currentDate(), self)
        self.starts.setObjectName("starts")
        self.starts.setCalendarPopup(True)
        self.starts.setDisplayFormat("dd/MM/yyyy")
        self.ends = QDateEdit(QDate.currentDate().addYears(1), self)
        self.ends.setObjectName("ends")
        self.ends.setCalendarPopup(True)
        self.ends.setDisplayFormat("dd/MM/yyyy")
        self.reference = QLineEdit(self)
        self.reference.setObjectName("reference")
        self.error = QLabel(self)
        self.error.setObjectName("error")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        form = QFormLayout()
        form.addRow(tr("Producto:"), self.product)
        form.addRow(tr("Inicio de vigencia:"), self.starts)
        form.addRow(tr("Fin de vigencia:"), self.ends)
        form.addRow(tr("Referencia:"), self.reference)
        buttons = QDialogButtonBox(self)
        self.save_button = buttons.addButton(tr("Guardar"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("save")
        self.save_button.clicked.connect(self.save)
        buttons.addButton(tr("Cancelar"), QDialogButtonBox.ButtonRole.RejectRole).clicked.connect(self.reject)
        vbox(self, form, self.error, buttons)

    def save(self) -> None:
        self.error.setVisible(False)

        def failed(error: BaseException) -> None:
            self.error.setText(" ".join(field_errors(error).values()) or error_text(error))
            self.error.setVisible(True)

        def done(command: object) -> None:
            self.added.emit(command)
            self.accept()

        actions.add_policy(
            self.context,
            self.client_id,
            product=self.product.text(),
            starts_on=_day(self.starts.date()),
            ends_on=_day(self.ends.date()),
            reference=self.reference.text(),
            parent=self,
        ).success(done).failure(failed).run()
