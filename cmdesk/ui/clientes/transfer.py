"""Transferir timbres / Transferir puntos from a client's row (manual: "Abono de Timbres [Granel]").

`open_transfer_dialog` uses the Timbrado tab's `TransferDialog` when that package provides one, and
this package's small dialog otherwise: stamps go to one of the client's standard CTIs, points to the
client. The transfer is a command (`commands.transfer`): queued, and decided by the server, which checks
the balance — a refusal shows in the pending-commands panel with the server's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain.errors import DomainError
from cmdesk.domain.money import parse_mxn
from cmdesk.services import commands
from cmdesk.services.cache import Cache
from cmdesk.ui import locale as fmt
from cmdesk.ui.clientes.client_form import ERROR_COLOR, WARNING_COLOR
from cmdesk.ui.clientes.common import error_text, field_errors, request_sync, tr
from cmdesk.ui.tabs import AppContext

log = logging.getLogger(__name__)


def open_transfer_dialog(
    context: AppContext,
    asset: str,
    client: Mapping[str, Any],
    parent: QWidget | None,
    cti_ids: Sequence[str] = (),
) -> QDialog | None:
    """The transfer dialog for `client`, opened: the Timbrado tab's `TransferDialog` for points (to the
    client) and for stamps when the client has a single CTI; ours — which lets the user choose among
    the client's standard CTIs — otherwise, or when that package is missing."""
    shared: Any = None
    try:
        from cmdesk.ui.timbrado.transfer_dialog import TransferDialog

        shared = TransferDialog
    except ImportError:
        pass
    if shared is not None and (asset == "points" or len(cti_ids) == 1):
        target_type, target_id = (
            ("client", str(client["id"])) if asset == "points" else ("stamping_account", cti_ids[0])
        )
        try:
            dialog: QDialog = shared(context, target_type, target_id, asset=asset, parent=parent)
        except TypeError:  # another signature than this package was written against: use ours
            log.warning("cmdesk.ui.timbrado.transfer_dialog.TransferDialog has another signature; using ours")
        else:
            dialog.open()
            return dialog
    own = ClientTransferDialog(context, asset, client, parent)
    own.open()
    return own


def read_targets(cache: Cache, client_id: str) -> dict[str, Any]:
    """The account's balances and the client's standard CTIs (runs in the cache pool)."""
    account = cache.account() or {}
    ctis = [
        c
        for c in cache.query_stamping_accounts(client_id=client_id, sort="created_asc", limit=1000)
        if c.get("kind") == "standard"
    ]
    return {"balances": account.get("balances") or {}, "ctis": ctis}


class ClientTransferDialog(QDialog):
    """Abono de timbres (to a standard CTI of the client) or de puntos (to the client)."""

    queued = Signal(object)

    def __init__(
        self, context: AppContext, asset: str, client: Mapping[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        if asset not in ("stamps", "points"):
            raise ValueError(asset)
        self.context = context
        self.asset = asset
        self.client = dict(client)
        stamps = asset == "stamps"
        self.setObjectName("transferDialog")
        self.setWindowTitle(tr("Abono de timbres (granel)") if stamps else tr("Abono de puntos"))
        who = QLabel(
            "<b>[{nic}] {name}</b>{trade}<br>{rfc}".format(
                nic=client.get("nic") or tr("pendiente"),
                name=client.get("name", ""),
                trade=f" ({client['trade_name']})" if client.get("trade_name") else "",
                rfc=client.get("rfc", ""),
            ),
            self,
        )
        self.available = QLabel(tr("Leyendo saldo…"), self)
        self.available.setObjectName("available")
        self.cti = QComboBox(self)
        self.cti.setObjectName("cti")
        self.quantity = QSpinBox(self)
        self.quantity.setObjectName("quantity")
        self.quantity.setRange(1, 1_000_000_000)
        self.quantity.setGroupSeparatorShown(True)
        self.quantity.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.amount = QLineEdit(self)
        self.amount.setObjectName("amount")
        self.amount.setPlaceholderText(tr("0.00"))
        self.amount.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.comments = QLineEdit(self)
        self.comments.setObjectName("comments")
        self.comments.setText(tr("timbres a granel") if stamps else tr("Puntos Induxsoft"))
        self.error = QLabel(self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.setVisible(False)
        warning = QLabel(tr("El proceso es incancelable e irreversible."), self)
        warning.setStyleSheet(f"color: {WARNING_COLOR};")

        form = QFormLayout()
        if stamps:
            form.addRow(tr("Cuenta para timbrar:"), self.cti)
        else:
            self.cti.setVisible(False)
        form.addRow(tr("Cantidad:"), self.quantity)
        form.addRow(tr("Importe $ (IVA incluido):"), self.amount)
        form.addRow(tr("Comentarios:"), self.comments)

        buttons = QDialogButtonBox(self)
        self.ok_button = buttons.addButton(
            tr("Abonar timbres") if stamps else tr("Abonar puntos"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.ok_button.setObjectName("ok")
        self.ok_button.setEnabled(False)
        self.ok_button.clicked.connect(self.submit)
        buttons.addButton(tr("Cancelar"), QDialogButtonBox.ButtonRole.RejectRole).clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(who)
        layout.addWidget(self.available)
        layout.addLayout(form)
        layout.addWidget(warning)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(460, 0)
        self._load()

    def _load(self) -> None:
        session = self.context.session
        cache = session.cache if session is not None else None
        if cache is None:
            return
        self.context.ops.run(
            read_targets,
            cache,
            str(self.client["id"]),
            on_done=self._loaded,
            pool="cache",
            label=tr("Leyendo"),
        )

    def _loaded(self, data: dict[str, Any]) -> None:
        balance = int((data.get("balances") or {}).get(self.asset) or 0)
        text = tr("Timbres disponibles: {n}") if self.asset == "stamps" else tr("Puntos disponibles: {n}")
        self.available.setText(text.format(n=fmt.number(balance)))
        for cti in data.get("ctis") or []:
            label = str(cti["id"]) + ("" if cti.get("active") else " " + tr("(bloqueada)"))
            self.cti.addItem(
                tr("{id} — saldo {n}").format(id=label, n=fmt.number(cti.get("balance") or 0)), cti["id"]
            )
        if self.asset == "stamps" and self.cti.count() == 0:
            self._show_error(tr("El cliente no tiene cuentas de timbrado estándar a las que abonar timbres."))
            return
        self.ok_button.setEnabled(True)

    def _show_error(self, text: str | None) -> None:
        self.error.setText(text or "")
        self.error.setVisible(bool(text))

    def submit(self) -> None:
        amount_text = self.amount.text().strip()
        try:
            amount = parse_mxn(amount_text, "amount_cents") if amount_text else 0
        except DomainError as error:
            self._show_error(error.errors[0].message if error.errors else error.detail)
            return
        stamps = self.asset == "stamps"
        target_type = "stamping_account" if stamps else "client"
        target_id = str(self.cti.currentData() or "") if stamps else str(self.client["id"])
        session = self.context.session
        if session is None:
            return
        self._show_error(None)
        self.ok_button.setEnabled(False)
        quantity = int(self.quantity.value())
        comments = self.comments.text().strip()
        self.context.ops.run(
            lambda: session.command(
                commands.transfer,
                asset=self.asset,
                target_type=target_type,
                target_id=target_id,
                quantity=quantity,
                amount_cents=amount,
                comments=comments,
            ),
            on_done=self._queued,
            on_error=self._failed,
            pool="cache",
            label=tr("Guardando"),
        )

    def _queued(self, command: object) -> None:
        self.queued.emit(command)
        request_sync(self.parentWidget() or self)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.ok_button.setEnabled(True)
        fields = field_errors(error)
        self._show_error(" ".join(fields.values()) if fields else error_text(error))
