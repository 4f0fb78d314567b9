"""Compras (manual, "Compras"): Timbres CFDI and Puntos packages of Induxsoft's catalog, and the MKL and
Suscripciones, annual contracts prorated to the Cuenta Maestra's expiry.

The catalog is downloaded and kept in the cache (`actions.fetch_catalog`) so the page reads offline;
it is asked again when the page is shown (at most every ten minutes) while online.

Buying packages moves balances: it is queued like a transfer (`actions.purchase`, with its idempotency
key) after the manual's confirmation, and the header's balance rises when the sync brings it back.
Contracting an MKL or a subscription needs the server's quote first (the prorated charge the user
confirms), so it goes online: quote, confirmation ("Se aplicará un cargo por …"), contract.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain.money import div_round_half_up
from cmdesk.domain.proration import MONTHS_PER_YEAR, prorated_charge_cents
from cmdesk.domain.roles import Permission
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.compras import actions
from cmdesk.ui.compras.renewal import RenewalDialog, renewed_text
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import Notice, dim, hbox, push_button, vbox
from cmdesk.ui.kit.messages import ask, error_text, inform
from cmdesk.ui.kit.table import RIGHT, Column, PagedTableModel, Query, fit_columns, make_table
from cmdesk.ui.tabs import AppContext, TabPage

CATALOG_MAX_AGE = 600.0  # seconds between two downloads of the catalog while the page is shown


tr = translator("compras")


def package_text(asset: str, quantity: int) -> str:
    """`2,000 Timbres CFDI`, as the manual lists the packages."""
    return f"{fmt.number(quantity)} {labels.product(asset)}"


class PackagesTab(QWidget):
    """The catalog packages of one asset as a radio list with their prices, the quantity, the total and
    Comprar."""

    def __init__(self, context: AppContext, asset: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.asset = asset
        self.last_box: Any = None
        self.packages: list[dict[str, Any]] = []
        self.group = QButtonGroup(self)
        self.group.buttonClicked.connect(lambda *_: self._update())
        self.list_widget = QWidget(self)
        self.grid = QGridLayout(self.list_widget)
        self.grid.setColumnStretch(3, 1)
        self.grid.setHorizontalSpacing(18)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.list_widget)
        self.empty = QLabel(
            tr("El catálogo aún no se ha descargado; se obtiene al conectarse con el servidor."), self
        )
        dim(self.empty)
        self.empty.setWordWrap(True)
        self.quantity = QSpinBox(self)
        self.quantity.setObjectName("quantity")
        self.quantity.setRange(1, 1000)
        self.quantity.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.quantity.valueChanged.connect(lambda *_: self._update())
        self.detail = QLabel(self)
        self.detail.setObjectName("detail")
        # Room for the longest «1,000 × 2,000,000 Timbres CFDI» (it was cut to «…Timbres CFD»).
        longest = f"{fmt.number(1000)} × {package_text(asset, 2_000_000)}"
        self.detail.setMinimumWidth(self.detail.fontMetrics().horizontalAdvance(longest) + 8)
        self.total = QLabel(self)
        self.total.setObjectName("total")
        font = self.total.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.total.setFont(font)
        self.buy_button = QPushButton(tr("Comprar"), self)
        self.buy_button.setObjectName("buyButton")
        self.buy_button.clicked.connect(self.buy)
        self.notice = Notice(self)
        self.quantity.setMaximumWidth(120)
        self.buy_button.setMinimumWidth(140)
        side = QGridLayout()
        side.addWidget(QLabel(tr("Cantidad"), self), 0, 0)
        side.addWidget(self.quantity, 0, 1, Qt.AlignmentFlag.AlignLeft)
        side.addWidget(self.detail, 1, 1)
        side.addWidget(QLabel(tr("Total (IVA incluido)"), self), 2, 0)
        side.addWidget(self.total, 2, 1)
        side.addWidget(self.buy_button, 3, 1, Qt.AlignmentFlag.AlignLeft)
        side.setVerticalSpacing(10)
        side_box = QWidget(self)
        side_box.setLayout(side)
        scroll.setMinimumWidth(380)
        scroll.setMaximumWidth(520)
        body = hbox((scroll, 1), 24)
        body.addWidget(side_box, 0, Qt.AlignmentFlag.AlignTop)
        body.addStretch(1)
        vbox(self, self.empty, (body, 1), self.notice)
        self._update()

    def set_catalog(self, catalog: Mapping[str, Any] | None) -> None:
        key = "stamp_packages" if self.asset == "stamps" else "point_packages"
        packages = sorted((catalog or {}).get(key) or [], key=lambda p: int(p.get("quantity") or 0))
        chosen = self.selected_id()
        if [p.get("id") for p in packages] == [p.get("id") for p in self.packages]:
            self.packages = [dict(p) for p in packages]
            self._update()
            return
        for button in self.group.buttons():
            self.group.removeButton(button)
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.packages = [dict(p) for p in packages]
        for row, package in enumerate(self.packages):
            radio = QRadioButton(
                package_text(self.asset, int(package.get("quantity") or 0)), self.list_widget
            )
            radio.setObjectName(f"package_{package.get('id')}")
            radio.setProperty("package_id", package.get("id"))
            self.group.addButton(radio, row)
            price = QLabel(fmt.money(int(package.get("price_cents") or 0)), self.list_widget)
            price.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            quantity = int(package.get("quantity") or 0)
            unit = QLabel(
                tr("{price} c/u").format(
                    price=fmt.money(div_round_half_up(int(package.get("price_cents") or 0), quantity or 1))
                ),
                self.list_widget,
            )
            dim(unit)
            unit.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.grid.addWidget(radio, row, 0)
            self.grid.addWidget(price, row, 1)
            self.grid.addWidget(unit, row, 2)
            if package.get("id") == chosen or (chosen is None and row == 0):
                radio.setChecked(True)
        self.grid.setRowStretch(len(self.packages), 1)
        self.empty.setVisible(not self.packages)
        self._update()

    def selected_id(self) -> str | None:
        button = self.group.checkedButton()
        value = button.property("package_id") if button is not None else None
        return str(value) if value else None

    def select(self, package_id: str) -> None:
        for button in self.group.buttons():
            if button.property("package_id") == package_id:
                button.setChecked(True)
        self._update()

    def selected_package(self) -> dict[str, Any] | None:
        ident = self.selected_id()
        return next((p for p in self.packages if p.get("id") == ident), None)

    def _update(self) -> None:
        package = self.selected_package()
        count = self.quantity.value()
        if package is None:
            self.detail.clear()
            self.total.setText(fmt.money(0))
            self.buy_button.setEnabled(False)
            return
        self.detail.setText(f"{fmt.number(count)} × {package_text(self.asset, int(package['quantity']))}")
        self.total.setText(fmt.money(int(package.get("price_cents") or 0) * count))
        self.buy_button.setEnabled(True)

    def buy(self) -> None:
        package = self.selected_package()
        if package is None:
            return
        count = self.quantity.value()
        ask(
            self,
            tr("Confirmación de compra"),
            tr("Gracias por su compra en {what}.\nEste proceso es incancelable e irreversible.").format(
                what=labels.asset(self.asset)
            ),
            lambda: self._queue(str(package["id"]), count),
            informative=tr("{detail}: {total}\n\n¿Realmente desea continuar?").format(
                detail=self.detail.text(), total=self.total.text()
            ),
        )

    def _queue(self, package_id: str, count: int) -> None:
        actions.purchase(self.context, package_id, count, parent=self).success(
            lambda _c: self.show_notice(
                tr("Su compra quedó registrada y se envía al servidor; el saldo se actualiza al sincronizar.")
            )
        ).failure(lambda e: self.show_notice(error_text(e), error=True)).run()

    def show_notice(self, text: str, error: bool = False) -> None:
        self.notice.show_text(text, error=error)


# ---- MKL and Suscripciones -----------------------------------------------------------------------------


def _notes(row: Mapping[str, Any]) -> str:
    expiry = fmt.date(row.get("account_expires_at"))
    notes = tr("Vencimiento: {date}").format(date=expiry) if expiry else ""
    if row.get("contracted"):
        notes = tr("Contratado hasta el {date}").format(date=fmt.date(row.get("contracted_until")))
    return notes


def annual_price_cents(row: Mapping[str, Any]) -> int:
    """A contract's year with IVA included, as every other price of the desktop is said (the catalog
    lists contracts before IVA): exactly what twelve months would charge."""
    return prorated_charge_cents(int(row.get("annual_price_before_tax_cents") or 0), MONTHS_PER_YEAR)


def _price_text(row: Mapping[str, Any]) -> str:
    cents = annual_price_cents(row)
    return fmt.money(cents) if cents else tr("Sin costo")


CONTRACT_COLUMNS = (
    Column("name", QT_TRANSLATE_NOOP("portal", "Nombre")),
    Column(
        "annual_price_before_tax_cents",
        QT_TRANSLATE_NOOP("portal", "Precio anual (IVA incluido)"),
        value=_price_text,
        align=RIGHT,
    ),
    Column("notes", QT_TRANSLATE_NOOP("portal", "Notas"), value=_notes),
    Column("buy", QT_TRANSLATE_NOOP("portal", "Comprar"), value=lambda _r: ""),
)


class QuoteDialog(QDialog):
    """The manual's confirmation of a contract, with the server's prorated charge and «Pagar con puntos»."""

    def __init__(self, quote: Mapping[str, Any], points: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quoteDialog")
        self.setWindowTitle(tr("Confirmación de compra"))
        self.quote = dict(quote)
        months = int(quote.get("months_remaining") or 0)
        free = not int(quote.get("amount_cents") or 0)
        text = QLabel(
            tr(
                "<p><b>Gracias por su compra</b></p>"
                "<p>Se aplicará un cargo por <b>{amount}</b> hasta el {date} "
                "por la suscripción <b>{name}</b> ({months}, IVA incluido).</p>"
                "<p>Este proceso es incancelable e irreversible.</p>"
                "<p>¿Realmente desea continuar?</p>"
            ).format(
                amount=fmt.money(int(quote.get("amount_cents") or 0)),
                date=fmt.date(quote.get("expires_at")),
                name=quote.get("name") or "",
                months=tr("1 mes") if months == 1 else tr("{n} meses").format(n=months),
            )
            if not free
            else tr(
                "<p><b>{name}</b> no tiene costo: se activa hasta el {date} y se renueva con su Cuenta "
                "Maestra, sin cargo.</p><p>¿Desea activarla?</p>"
            ).format(name=quote.get("name") or "", date=fmt.date(quote.get("expires_at"))),
            self,
        )
        text.setObjectName("quoteText")
        text.setWordWrap(True)
        self.text = text
        required = int(quote.get("points_required") or 0)
        self.pay_with_points = QCheckBox(
            tr("Pagar con puntos ({required} puntos; usted tiene {points})").format(
                required=fmt.number(required), points=fmt.number(points)
            ),
            self,
        )
        self.pay_with_points.setObjectName("payWithPoints")
        self.pay_with_points.setEnabled(0 < required <= points)
        self.pay_with_points.setVisible(not free)
        buttons = QDialogButtonBox(self)
        self.ok_button = buttons.addButton(
            tr("Activar") if free else tr("Aceptar"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.ok_button.setDefault(True)
        self.ok_button.setObjectName("okButton")
        cancel = buttons.addButton(tr("Cancelar"), QDialogButtonBox.ButtonRole.RejectRole)
        cancel.setObjectName("cancelButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = vbox(self, text, self.pay_with_points, buttons)
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetDefaultConstraint)
        self.resize(480, max(layout.totalHeightForWidth(480), self.minimumSizeHint().height()))


class ContractsTab(QWidget):
    """MKL or Suscripciones: Nombre, Precio, Notas ("Vencimiento: …"), Comprar."""

    def __init__(self, context: AppContext, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.key = key
        self.last_box: Any = None
        self.dialog: QuoteDialog | None = None
        self.model = PagedTableModel(
            context, CONTRACT_COLUMNS, actions.load_contracts, query=Query().filtered(key=key), parent=self
        )
        self.view = make_table(self.model, self, "contractsTable", stretch=2, sortable=False)
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 16)
        intro = QLabel(
            tr(
                "Contratos de pago anual auto-renovables ajustados al vencimiento de su Cuenta Maestra: el "
                "importe se prorratea según los meses que faltan, y al renovar la cuenta se incluye el cargo "
                "anual completo."
            ),
            self,
        )
        intro.setWordWrap(True)
        dim(intro)
        self.notice = Notice(self)
        vbox(self, intro, (self.view, 1), self.notice)
        self.model.loaded.connect(self._loaded)
        self.buttons: dict[str, QPushButton] = {}

    def refresh(self) -> None:
        self.model.reload()

    def _loaded(self) -> None:
        self.buttons = {}
        column = len(CONTRACT_COLUMNS) - 1
        for index, row in enumerate(self.model.records()):
            free = not annual_price_cents(row)
            text = tr("Contratado") if row.get("contracted") else tr("Activar") if free else tr("Comprar")
            button = QPushButton(text, self.view)
            if free and not row.get("contracted"):
                button.setToolTip(tr("Sin costo: se activa y se renueva con su Cuenta Maestra."))
            button.setObjectName(f"buy_{row['code']}")
            button.setEnabled(not row.get("contracted") and self.context.can(Permission.PURCHASES))
            button.clicked.connect(functools.partial(self.buy, str(row["code"])))
            self.view.setIndexWidget(self.model.index(index, column), button)
            self.buttons[str(row["code"])] = button
        fit_columns(self.view, (0, 0, 0, 16))

    def buy(self, code: str) -> None:
        """Comprar: ask the server what it would charge now, then confirm."""
        button = self.buttons.get(code)
        if button is not None:
            button.setEnabled(False)

        def failed(error: BaseException) -> None:
            if button is not None:
                button.setEnabled(True)
            self._failed(error)

        actions.quote(self.context, code, parent=self).success(self._confirm).failure(failed).run()

    def _confirm(self, quote: dict[str, Any]) -> None:
        code = str(quote.get("code"))
        button = self.buttons.get(code)
        if button is not None:
            button.setEnabled(True)
        account = (self.context.session.account() if self.context.session else None) or {}
        points = int((account.get("balances") or {}).get("points") or 0)
        dialog = QuoteDialog(quote, points, self)
        dialog.accepted.connect(lambda: self._contract(code, dialog.pay_with_points.isChecked()))
        self.dialog = dialog
        dialog.open()

    def _contract(self, code: str, pay_with_points: bool) -> None:
        def done(answer: dict[str, Any]) -> None:
            charge = answer.get("charge") or {}
            how = tr(" con {n} puntos").format(n=fmt.number(int(answer.get("points_spent") or 0)))
            self.show_notice(
                tr("Se contrató {name}: cargo de {amount}{how}.").format(
                    name=answer["contract"].get("name") or code,
                    amount=fmt.money(int(charge.get("amount_cents") or 0)),
                    how=how if answer.get("points_spent") else "",
                )
            )

        actions.contract(self.context, code, pay_with_points=pay_with_points, parent=self).success(
            done
        ).failure(self._failed).run()

    def _failed(self, error: BaseException) -> None:
        self.show_notice(error_text(error), error=True)
        inform(self, tr("Compras"), error_text(error), error=True)

    def show_notice(self, text: str, error: bool = False) -> None:
        self.notice.show_text(text, error=error)


# ---- The page -----------------------------------------------------------------------------------------


class PurchasesPage(TabPage):
    entities = frozenset({"catalog", "contract", "account"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.stamps = PackagesTab(context, "stamps", self)
        self.points = PackagesTab(context, "points", self)
        self.mkl = ContractsTab(context, "mkl", self)
        self.subscriptions = ContractsTab(context, "subscriptions", self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("comprasTabs")
        self.tabs.addTab(self.stamps, tr("Timbres CFDI"))
        self.tabs.addTab(self.points, tr("Puntos"))
        self.tabs.addTab(self.mkl, tr("MKL"))
        self.tabs.addTab(self.subscriptions, tr("Suscripciones"))
        self.renew_button = push_button(tr("Renovar mi cuenta…"), self, "renewAccount", self.renew_account)
        title = hbox(QLabel(f"<b>{tr('Compras')}</b>", self), None, self.renew_button)
        vbox(self, title, self.role_note, (self.tabs, 1), self.notice)
        self.gate(Permission.PURCHASES, self.stamps.buy_button, self.points.buy_button, self.renew_button)
        self.catalog_fetched_at: float | None = None
        self._fetching = False
        self._reading = False

    def renew_account(self) -> RenewalDialog:
        """Renovar mi cuenta: what it charges, then one more year (a notice says until when)."""
        dialog = RenewalDialog(self.context, self.window())
        dialog.done_ok.connect(lambda answer: self._renewed(dialog, answer))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _renewed(self, dialog: RenewalDialog, answer: dict[str, Any]) -> None:
        self.show_notice(renewed_text(answer))
        inform(self.window(), dialog.windowTitle(), renewed_text(answer))

    def reload(self, changed: frozenset[str]) -> None:
        if "*" in changed or "catalog" in changed:
            self._read_catalog()
        self.mkl.refresh()
        self.subscriptions.refresh()

    def _read_catalog(self) -> None:
        if self._reading:
            return
        self._reading = True

        def done(catalog: dict[str, Any] | None) -> None:
            self._reading = False
            self.stamps.set_catalog(catalog)
            self.points.set_catalog(catalog)

        def failed(_error: BaseException) -> None:
            self._reading = False

        actions.read_catalog(self.context).success(done).failure(failed).run()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.fetch_catalog()

    def fetch_catalog(self, *, force: bool = False) -> None:
        """Download the catalog (online) when it is older than `CATALOG_MAX_AGE`; the cache keeps it."""
        if self._fetching or self.context.session is None:
            return
        fresh = (
            self.catalog_fetched_at is not None
            and time.monotonic() - self.catalog_fetched_at < CATALOG_MAX_AGE
        )
        if fresh and not force:
            return
        self._fetching = True

        def done(_result: object) -> None:
            self._fetching = False
            self.catalog_fetched_at = time.monotonic()

        def failed(_error: BaseException) -> None:
            self._fetching = False  # offline: the cached catalog stays on screen

        actions.fetch_catalog(self.context).success(done).failure(failed).run()
