"""Transferir timbres o puntos: the portal's "Abono de timbres [Granel]" window — the one transfer dialog
of every screen (Timbrado, Clientes and its client windows, Distribuidores), for every target.

    TransferDialog(context, "stamping_account", cti_id)            # timbres to a standard CTI
    TransferDialog(context, "client", client_id)                   # puntos to a client
    TransferDialog(context, "client", client_id, asset="stamps")   # timbres to one of its standard CTIs
    TransferDialog(context, "account", distributor_id)             # timbres or puntos to a sub-distributor
    TransferDialog(context, "account", distributor_id, asset="points")
    TransferDialog.for_client(context, asset, client_id, cti_ids)  # from a client's row or window

It shows what the distributor has available (the cached balance, less what transfers still on their way
take), the recipient (NIC, name, RFC and, for a CTI, the account that will stamp), the quantity, the
amount charged with IVA included (16%: its base and IVA parts shown with `cmdesk.domain.money`),
comments, and the manual's warning that the process can't be cancelled or undone. The amount starts
as quantity × the client's bulk stamp price (or the global one; a point is worth a peso) until the user
types one; with no price above $0.00 it starts empty. A transfer is a sale with an amount, or the
user ticks «Sin cargo» (no sale, nothing to invoice): a sale of $0.00 is never proposed nor sent.

Accepting queues ONE `transfer` command (`actions.transfer`) and sends it at once when online; offline
it stays pending (the Timbrado table marks the CTI). The server decides: a quantity above the cached
balance is only warned about here, and a refusal (not enough stamps, say) comes back with the server's
reason through the context's command watcher. `queued(command)` is emitted once it is queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from cmdesk.domain.amounts import MAX_QUANTITY, POINT_PRICE_CENTS, QUANTITY_MESSAGE, sale_amount_problem
from cmdesk.domain.errors import DomainError
from cmdesk.domain.money import parse_mxn, split_iva
from cmdesk.services.outbox import Command
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit.forms import (
    WARNING_STYLE,
    FieldMessage,
    FormGrid,
    dim,
    first_message,
    fit_later,
    hbox,
    vbox,
)
from cmdesk.ui.timbrado import actions
from cmdesk.ui.timbrado.common import CONTEXT, client_text, tr

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import AppContext

IRREVERSIBLE = QT_TRANSLATE_NOOP(CONTEXT, "Este proceso es incancelable e irreversible.")


class TransferDialog(QDialog):
    """Transferir timbres / puntos (see the module docstring)."""

    queued = Signal(object)  # the Command

    def __init__(
        self,
        context: AppContext,
        target_type: str,
        target_id: str,
        *,
        asset: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("transferDialog")
        self.context = context
        self.target_type = "account" if target_type == "distributor" else target_type
        self.target_id = str(target_id)
        self.asset = asset or ("points" if self.target_type == "client" else "stamps")
        # Stamps for a client go to one of its standard CTIs, chosen here.
        self.choose_cti = self.target_type == "client" and self.asset == "stamps"
        self.info: dict[str, Any] = {}
        self.command: Command | None = None
        self.pushed = False
        self.busy = False
        self.loaded = False
        self._amount_auto = True
        self._blocked_reason: str | None = None

        titles = {
            "stamping_account": tr("Abono de timbres [Granel]"),
            "client": tr("Abono de timbres [Granel]")
            if self.choose_cti
            else tr("Transferir puntos al cliente"),
            "account": tr("Transferir al distribuidor"),
        }
        self.setWindowTitle(titles.get(self.target_type, tr("Transferir")))

        # Available
        self.available = QLabel(self)
        self.available.setObjectName("available")
        self.available.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        # Recipient
        recipient_title = (
            tr("Datos del distribuidor") if self.target_type == "account" else tr("Datos del cliente")
        )
        recipient = QGroupBox(recipient_title, self)
        self.recipient_name = QLabel(recipient)
        self.recipient_name.setObjectName("recipientName")
        self.recipient_name.setWordWrap(True)
        self.recipient_rfc = QLabel(recipient)
        self.recipient_rfc.setObjectName("recipientRfc")
        self.cti_label = QLabel(recipient)
        self.cti_label.setObjectName("ctiLabel")
        self.cti_label.setWordWrap(True)
        for label in (self.recipient_name, self.recipient_rfc, self.cti_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cti_choice = QComboBox(recipient)
        self.cti_choice.setObjectName("ctiChoice")
        self.cti_choice.currentIndexChanged.connect(lambda _i: self._cti_chosen())
        box = vbox(recipient, self.recipient_name, self.recipient_rfc, self.cti_label)
        if self.choose_cti:
            cti_row = hbox(QLabel(tr("Cuenta para timbrar:"), recipient), (self.cti_choice, 1))
            box.addLayout(cti_row)
        else:
            self.cti_choice.hide()

        # The sale
        sale = QGroupBox(tr("Datos de la venta"), self)
        self.asset_stamps = QRadioButton(tr("Timbres"), sale)
        self.asset_points = QRadioButton(tr("Puntos"), sale)
        self.asset_stamps.setObjectName("assetStamps")
        self.asset_points.setObjectName("assetPoints")
        (self.asset_points if self.asset == "points" else self.asset_stamps).setChecked(True)
        assets = QButtonGroup(self)
        assets.addButton(self.asset_stamps)
        assets.addButton(self.asset_points)
        asset_row = hbox(self.asset_stamps, self.asset_points, None)
        self.asset_stamps.toggled.connect(lambda _on: self._asset_changed())

        self.quantity = QSpinBox(sale)
        self.quantity.setObjectName("quantity")
        self.quantity.setRange(0, MAX_QUANTITY)
        self.quantity.setGroupSeparatorShown(True)
        self.quantity.setMinimumWidth(160)
        self.quantity.setAccelerated(True)
        self.quantity_message = FieldMessage(sale, "quantityMessage")
        self.amount = QLineEdit(sale)
        self.amount.setObjectName("amount")
        self.amount.setPlaceholderText(tr("Importe de la venta"))
        self.amount.setMinimumWidth(160)
        self.no_charge = QCheckBox(tr("Sin cargo (no es una venta: no queda por facturar)"), sale)
        self.no_charge.setObjectName("noCharge")
        self.no_charge.toggled.connect(self._no_charge_toggled)
        self.amount_parts = QLabel(sale)
        self.amount_parts.setObjectName("amountParts")
        dim(self.amount_parts)
        self.amount_message = FieldMessage(sale, "amountMessage")
        self.comments = QLineEdit(sale)
        self.comments.setObjectName("comments")
        self.comments.setMaxLength(500)
        self.comments_message = FieldMessage(sale, "commentsMessage")
        self.quantity.valueChanged.connect(lambda _v: self._quantity_changed())
        self.amount.textEdited.connect(lambda _t: self._amount_edited())
        self.amount.textChanged.connect(lambda _t: self._amount_changed())

        form = FormGrid(sale)
        if self.target_type == "account":
            form.addRow(tr("Producto:"), asset_row)
        else:
            self.asset_stamps.hide()
            self.asset_points.hide()
        self.quantity_label = QLabel(sale)
        form.addRow(self.quantity_label, self.quantity)
        form.addRow("", self.quantity_message)
        amount_row = hbox(self.amount, self.no_charge, None)
        form.addRow(tr("Importe (IVA incluido 16%):"), amount_row)
        form.addRow("", self.amount_parts)
        form.addRow("", self.amount_message)
        form.addRow(tr("Comentarios:"), self.comments)
        form.addRow("", self.comments_message)

        self.warning = QLabel(tr(IRREVERSIBLE), self)
        self.warning.setObjectName("irreversible")
        self.warning.setStyleSheet(WARNING_STYLE + " font-weight: bold;")
        self.message = FieldMessage(self, "formMessage")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setDefault(True)  # Enter accepts (once the balances are read), Esc cancels
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancelar"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        vbox(self, self.available, recipient, sale, self.warning, self.message, self.buttons)
        self.setMinimumWidth(600)
        self._asset_changed()
        self.ok_button.setEnabled(False)
        actions.transfer_info(context, self.target_type, self.target_id).success(self._loaded).failure(
            lambda e: self.message.set_error(str(e))
        ).run()

    @classmethod
    def for_client(
        cls,
        context: AppContext,
        asset: str,
        client_id: str,
        cti_ids: Sequence[str] = (),
        *,
        parent: QWidget | None = None,
    ) -> TransferDialog:
        """Opened for a client: its points, or stamps to its standard CTI (`cti_ids`: straight to it when
        it has one, chosen in the dialog when it has several). The dialog is open when returned."""
        if asset == "stamps" and len(cti_ids) == 1:
            dialog = cls(context, "stamping_account", cti_ids[0], parent=parent)
        else:
            dialog = cls(context, "client", client_id, asset=asset, parent=parent)
        dialog.open()
        return dialog

    # ---- showing ----------------------------------------------------------------------------------------

    def available_quantity(self) -> int:
        asset = self.current_asset
        balance = self.info.get("balances", {}).get(asset)
        pending = self.info.get("pending", {}).get(asset, 0)
        pending = int(pending or 0)
        return max(0, (balance if isinstance(balance, int) else 0) - pending)

    @property
    def current_asset(self) -> str:
        return "points" if self.asset_points.isChecked() else "stamps"

    def _loaded(self, info: dict[str, Any]) -> None:
        self.info = info
        self.loaded = True
        client = info.get("client") or {}
        if self.target_type == "account":
            distributor = info.get("distributor") or {}
            self.recipient_name.setText(
                client_text(distributor.get("nic"), distributor.get("name")) or self.target_id
            )
            rfc = distributor.get("rfc") or ""
        else:
            name = client_text(client.get("nic"), client.get("name"))
            trade = str(client.get("trade_name") or "").strip()
            self.recipient_name.setText(f"<b>{name}</b>" + (f" ({trade})" if trade else "") if name else "")
            rfc = client.get("rfc") or ""
        self.recipient_rfc.setText(tr("RFC: {rfc}").format(rfc=rfc) if rfc else "")
        self.recipient_rfc.setVisible(bool(rfc))
        cti = info.get("cti")
        if self.target_type == "stamping_account":
            if cti is None:
                self._blocked_reason = tr("La cuenta de timbrado no está en los datos guardados.")
                self.cti_label.setText(tr("Cuenta para timbrar: {cti}").format(cti=self.target_id))
            else:
                balance = cti.get("balance")
                text = tr("Cuenta para timbrar: <b>{cti}</b>").format(cti=cti["id"])
                if cti.get("kind") != "standard":
                    self._blocked_reason = tr(
                        "Las cuentas de timbrado ilimitadas no tienen saldo de timbres; no se les "
                        "transfieren timbres."
                    )
                elif isinstance(balance, int):
                    text += "<br>" + tr("Saldo actual de la cuenta: {n} timbres").format(
                        n=fmt.number(balance)
                    )
                if not cti.get("active", True):
                    text += "<br>" + tr(
                        "La cuenta está bloqueada: recibe timbres, pero no timbra hasta reactivarla."
                    )
                self.cti_label.setText(text)
        elif self.choose_cti:
            self.cti_label.hide()
            for cti in info.get("ctis") or []:
                balance = cti.get("balance")
                label = str(cti["id"])
                if isinstance(balance, int):
                    label += " · " + tr("saldo: {n}").format(n=fmt.number(balance))
                if not cti.get("active", True):
                    label += " · " + tr("bloqueada")
                self.cti_choice.addItem(label, str(cti["id"]))
            if not self.cti_choice.count():
                self._blocked_reason = tr(
                    "El cliente no tiene cuentas de timbrado estándar a las que abonar timbres."
                )
        else:
            balances = (info.get("distributor") or client).get("balances") or {}
            points = balances.get("points")
            if self.target_type == "client" and isinstance(points, int):
                self.cti_label.setText(tr("Puntos del cliente: {n}").format(n=fmt.number(points)))
            else:
                self.cti_label.hide()
        if self._blocked_reason:
            self.message.set_error(self._blocked_reason)
        self.ok_button.setEnabled(not self._blocked_reason)
        self._asset_changed()
        self.quantity.setFocus()
        self.quantity.selectAll()
        fit_later(self)

    def _asset_changed(self) -> None:
        asset = self.current_asset
        self.quantity_label.setText(
            tr("Cantidad de timbres:") if asset == "stamps" else tr("Cantidad de puntos:")
        )
        self.ok_button.setText(tr("Abonar timbres") if asset == "stamps" else tr("Transferir puntos"))
        self.comments.setPlaceholderText(
            tr("timbres a granel") if asset == "stamps" else tr("Puntos Induxsoft")
        )
        if self.loaded:
            available = self.info.get("balances", {}).get(asset)
            pending = self.info.get("pending", {}).get(asset, 0)
            what = tr("Timbres disponibles") if asset == "stamps" else tr("Puntos disponibles")
            text = f"<b>{what}: {fmt.number(self.available_quantity())}</b>"
            if pending:
                text += " " + tr("({balance} menos {pending} en operaciones pendientes)").format(
                    balance=fmt.number(available if isinstance(available, int) else 0),
                    pending=fmt.number(pending),
                )
            self.available.setText(text)
        self._quantity_changed()

    def _cti_chosen(self) -> None:
        self.message.clear()

    def unit_price(self) -> int | None:
        if self.current_asset == "points":
            return POINT_PRICE_CENTS
        if self.target_type == "account":
            return None
        price = self.info.get("stamp_price_cents")
        return price if isinstance(price, int) else None

    def _quantity_changed(self) -> None:
        quantity = self.quantity.value()
        self.quantity_message.clear()
        if self.loaded and quantity > self.available_quantity():
            self.quantity_message.set_warning(
                tr(
                    "Supera lo disponible ({n}) según los datos guardados; si el servidor tampoco tiene el "
                    "saldo, rechazará la transferencia."
                ).format(n=fmt.number(self.available_quantity()))
            )
        price = self.unit_price()
        if self._amount_auto and not self.no_charge.isChecked():
            # Never a proposed $0.00: without a price the user types the amount (or «Sin cargo»).
            proposed = quantity * price if price else 0
            self.amount.setText(fmt.money(proposed) if proposed else "")

    def _no_charge_toggled(self, on: bool) -> None:
        self.amount.setEnabled(not on)
        self.amount_message.clear()
        if on:
            self.amount.clear()
            self._amount_auto = True
        else:
            self._quantity_changed()
            self.amount.setFocus()

    def _amount_edited(self) -> None:
        self._amount_auto = not self.amount.text().strip()

    def _amount_changed(self) -> None:
        self.amount_message.clear()
        cents = self.amount_cents(show=False)
        if cents is None:
            self.amount_parts.setText("")
            return
        base, iva = split_iva(cents)
        self.amount_parts.setText(
            tr("Base: {base} · IVA (16%): {iva}").format(base=fmt.money(base), iva=fmt.money(iva))
        )

    def amount_cents(self, *, show: bool = True) -> int | None:
        text = self.amount.text().strip()
        if not text:
            return 0
        try:
            return parse_mxn(text)
        except DomainError as error:
            if show:
                self.amount_message.set_error(first_message(error))
            return None

    # ---- sending ----------------------------------------------------------------------------------------

    def submit(self) -> None:
        session = self.context.session
        if self.busy or session is None or self._blocked_reason:
            return
        self.message.clear()
        ok = True
        quantity = self.quantity.value()
        if quantity < 1:
            self.quantity_message.set_error(tr(QUANTITY_MESSAGE))
            ok = False
        no_charge = self.no_charge.isChecked()
        cents = 0 if no_charge else self.amount_cents()
        if cents is not None and (problem := sale_amount_problem(cents, no_charge)):
            self.amount_message.set_error(tr(problem))
            self.amount.setFocus()
            cents = None
        ok = ok and cents is not None
        if not ok or cents is None:
            return
        target_type, target_id = self.target_type, self.target_id
        if self.choose_cti:
            target_type, target_id = "stamping_account", str(self.cti_choice.currentData() or "")
        self.busy = True
        self.ok_button.setEnabled(False)
        actions.transfer(
            self.context,
            asset=self.current_asset,
            target_type=target_type,
            target_id=target_id,
            quantity=quantity,
            amount_cents=cents,
            comments=self.comments.text().strip(),
            no_charge=no_charge,
            parent=self,
        ).success(self._queued).failure(self._failed).run()

    def _queued(self, command: Command) -> None:
        self.busy = False
        self.command = command
        self.pushed = self.context.is_online()
        self.queued.emit(command)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self.ok_button.setEnabled(True)
        if not isinstance(error, DomainError):
            self.message.set_error(str(error))
            return
        shown = False
        for field in error.errors:
            if field.field == "quantity":
                self.quantity_message.set_error(field.message)
                shown = True
            elif field.field == "amount_cents":
                self.amount_message.set_error(field.message)
                shown = True
            elif field.field == "comments":
                self.comments_message.set_error(field.message)
                shown = True
        if not shown:
            self.message.set_error(" ".join(e.message for e in error.errors) or error.detail)
