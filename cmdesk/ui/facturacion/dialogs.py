"""The dialogs of Facturación: Registrar factura (of sales or of top-up codes), Generar código de abono
and the code just made (to copy or print: its NIP is shown only to whoever made it).

Registering an invoice is queued (`actions.register_invoice`): the sales leave the list at once and the
server settles it at the next sync. A code is made online: its code and NIP come from the server.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from cmdesk.domain import names
from cmdesk.domain.amounts import QUANTITY_MESSAGE
from cmdesk.domain.errors import validation_error
from cmdesk.ui import locale as fmt
from cmdesk.ui import translator
from cmdesk.ui.facturacion import actions
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import FormDialog, money_value, vbox

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import AppContext


tr = translator("facturacion")


def client_title(client: Mapping[str, Any] | None) -> str:
    """`[109863] - Juanito López López`, as the manual names a client in Facturación."""
    if not client:
        return ""
    return f"[{client.get('nic') or ''}] - {client.get('name') or ''}"


class RegisterInvoiceDialog(FormDialog):
    """Registrar factura: the client's name (read only) and the invoice's reference."""

    def __init__(
        self,
        context: AppContext,
        *,
        client_text: str,
        total_cents: int,
        client_id: str | None = None,
        movement_ids: Sequence[str] = (),
        top_up_code_ids: Sequence[str] = (),
        parent: QWidget | None = None,
    ) -> None:
        count = len(movement_ids) or len(top_up_code_ids)
        what = tr("ventas") if movement_ids else tr("códigos de abono")
        super().__init__(
            context,
            tr("Registrar factura"),
            parent,
            accept_text="Aceptar",
            intro=tr("Factura de {n} {what} por {total} (IVA incluido).").format(
                n=fmt.number(count), what=what, total=fmt.money(total_cents)
            ),
        )
        self.setObjectName("registerInvoiceDialog")
        self.client_id = client_id
        self.movement_ids = list(movement_ids)
        self.top_up_code_ids = list(top_up_code_ids)
        self.client = QLineEdit(
            client_text or tr("(el cliente que canjeó los códigos, si es uno solo)"), self
        )
        self.client.setReadOnly(True)
        self.reference = QLineEdit(self)
        self.reference.setMaxLength(200)
        self.reference.setPlaceholderText(tr("Folio de la factura, por ejemplo F000234"))
        self.add_field("client_id", tr("Nombre del cliente"), self.client)
        self.add_field("reference", tr("Referencia"), self.reference)
        self.reference.setFocus()
        self.fit_width(480)

    def submit(self) -> None:
        self.run(
            actions.register_invoice(
                self.context,
                reference=self.reference.text(),
                client_id=self.client_id,
                movement_ids=self.movement_ids,
                top_up_code_ids=self.top_up_code_ids,
                parent=self,
            )
        )


class GenerateCodeDialog(FormDialog):
    """Generar código de abono: the asset, the quantity taken from the account now, and its price."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        balances = ((context.session.account() if context.session else None) or {}).get("balances") or {}
        super().__init__(
            context,
            tr("Generar código de abono"),
            parent,
            accept_text="Generar",
            intro=tr(
                "La cantidad sale de su cuenta ahora y queda en el código hasta que su cliente lo canjea "
                "(o usted lo cancela). Usted tiene {stamps} timbres y {points} puntos."
            ).format(
                stamps=fmt.number(int(balances.get("stamps") or 0)),
                points=fmt.number(int(balances.get("points") or 0)),
            ),
        )
        self.setObjectName("generateCodeDialog")
        self.asset = QComboBox(self)
        for key, label in labels.items(names.PRODUCTS):
            self.asset.addItem(label, key)
        self.quantity = QSpinBox(self)
        self.quantity.setRange(0, 100_000_000)
        self.quantity.setGroupSeparatorShown(True)
        self.quantity.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.amount = QLineEdit(self)
        self.amount.setPlaceholderText("$0.00")
        self.comments = QLineEdit(self)
        self.comments.setMaxLength(500)
        self.add_field("asset", tr("Tipo"), self.asset)
        self.add_field("quantity", tr("Cantidad"), self.quantity)
        self.add_field(
            "amount_cents", tr("Importe (IVA incluido)"), self.amount, hint=tr("$0.00 si es un obsequio.")
        )
        self.add_field("comments", tr("Comentarios"), self.comments)
        self.fit_width(500)

    def submit(self) -> None:
        if self.quantity.value() <= 0:
            raise validation_error({"quantity": tr(QUANTITY_MESSAGE)})
        amount = money_value(self.amount, "amount_cents", required=False)
        self.run(
            actions.generate_code(
                self.context,
                asset=str(self.asset.currentData()),
                quantity=self.quantity.value(),
                amount_cents=amount,
                comments=self.comments.text().strip(),
                parent=self,
            )
        )


def code_html(code: Mapping[str, Any]) -> str:
    """The code as printed for the client."""
    return (
        "<h2>{title}</h2><table cellpadding='6'>"
        "<tr><td>{code_label}</td><td><b style='font-size:16pt'>{code}</b></td></tr>"
        "<tr><td>NIP</td><td><b style='font-size:16pt'>{nip}</b></td></tr>"
        "<tr><td>{what_label}</td><td>{quantity} {what}</td></tr>"
        "<tr><td>{amount_label}</td><td>{amount}</td></tr>"
        "<tr><td>{date_label}</td><td>{date}</td></tr></table>"
    ).format(
        title=html.escape(tr("Código de abono")),
        code_label=html.escape(tr("Código")),
        code=html.escape(str(code.get("code") or "")),
        nip=html.escape(str(code.get("nip") or "")),
        what_label=html.escape(tr("Cantidad")),
        quantity=fmt.number(int(code.get("quantity") or 0)),
        what=html.escape(labels.product(code.get("asset"))),
        amount_label=html.escape(tr("Importe (IVA incluido)")),
        amount=fmt.money(int(code.get("amount_cents") or 0)),
        date_label=html.escape(tr("Fecha de creación")),
        date=fmt.date_time(code.get("created_at")),
    )


class CodeIssuedDialog(QDialog):
    """The code just made and its NIP, to copy or print for the client."""

    def __init__(self, code: Mapping[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeIssuedDialog")
        self.setWindowTitle(tr("Código de abono generado"))
        self.code = dict(code)
        intro = QLabel(
            tr(
                "Entregue a su cliente el código y su NIP. Con ellos abona {quantity} {what} a su cuenta."
            ).format(
                quantity=fmt.number(int(code.get("quantity") or 0)),
                what=labels.asset_word(code.get("asset")),
            ),
            self,
        )
        intro.setWordWrap(True)
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.4)
        big.setBold(True)
        big.setStyleHint(QFont.StyleHint.Monospace)
        grid = QGridLayout()
        self.code_label = QLabel(str(code.get("code") or ""), self)
        self.code_label.setObjectName("code")
        self.nip_label = QLabel(str(code.get("nip") or ""), self)
        self.nip_label.setObjectName("nip")
        for row, (caption, label) in enumerate(
            ((tr("Código de abono"), self.code_label), (tr("NIP"), self.nip_label))
        ):
            label.setFont(big)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(QLabel(caption, self), row, 0)
            grid.addWidget(label, row, 1)
        amount = QLabel(
            tr("Importe: {amount} (IVA incluido)").format(
                amount=fmt.money(int(code.get("amount_cents") or 0))
            ),
            self,
        )
        buttons = QDialogButtonBox(self)
        copy = buttons.addButton(tr("Copiar"), QDialogButtonBox.ButtonRole.ActionRole)
        copy.setObjectName("copyButton")
        copy.clicked.connect(self.copy)
        print_button = buttons.addButton(tr("Imprimir…"), QDialogButtonBox.ButtonRole.ActionRole)
        print_button.setObjectName("printButton")
        print_button.clicked.connect(self.print_code)
        close = buttons.addButton(tr("Cerrar"), QDialogButtonBox.ButtonRole.AcceptRole)
        close.setObjectName("closeButton")
        buttons.accepted.connect(self.accept)
        vbox(self, intro, grid, amount, buttons)
        self.resize(max(560, self.sizeHint().width()), self.sizeHint().height())

    def text(self) -> str:
        return tr("Código de abono: {code}\nNIP: {nip}").format(
            code=self.code.get("code") or "", nip=self.code.get("nip") or ""
        )

    def copy(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.text())

    def print_code(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle(tr("Imprimir el código de abono"))

        def accepted() -> None:
            document = QTextDocument()
            document.setHtml(code_html(self.code))
            document.print_(printer)

        dialog.accepted.connect(accepted)
        QDialog.open(dialog)
