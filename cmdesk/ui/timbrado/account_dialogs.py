"""Crear cuenta de timbrado and Restablecer contraseña: the two CTI actions that need the line.

Both carry a password, which is never written to the outbox (a plain file), so they go straight to the
server (`actions.create_account`, `actions.reset_password`: online calls of `cmdesk.services.commands`).
Every field is checked in place first with the domain's rules (CTI id format, password policy and its
confirmation, RFC of an unlimited account); what the server still refuses (an id already taken, say)
is shown beside its field, or under the form. Without the line the dialog says so and keeps the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain.codes import check_cti_id
from cmdesk.domain.errors import DomainError
from cmdesk.domain.identity import check_rfc, rfc_counter_text, rfc_warning
from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui.kit.forms import FieldMessage, FormGrid, dim, first_message, fit_later, hbox, vbox
from cmdesk.ui.timbrado import actions
from cmdesk.ui.timbrado.common import CONTEXT, tr
from cmdesk.ui.timbrado.forms import ClientPicker, PasswordFields
from cmdesk.ui.timbrado.unlimited import FeePayerBox

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import AppContext

OFFLINE_TEXT = QT_TRANSLATE_NOOP(
    CONTEXT,
    "No hay conexión con el servidor. {what} requiere conexión porque lleva una contraseña, que no se "
    "guarda en este equipo; intente de nuevo al reconectar.",
)


class CreateStampingAccountDialog(QDialog):
    """Crear Cuenta de Timbrado (for `client_id`, or a client picked in the dialog)."""

    def __init__(
        self,
        context: AppContext,
        client_id: str | None = None,
        client_label: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("createStampingAccountDialog")
        self.setWindowTitle(tr("Crear cuenta de timbrado"))
        self.context = context
        self.client_id = client_id
        self.created: dict[str, Any] | None = None
        self.busy = False

        # Cliente
        self.picker: ClientPicker | None = None
        client_box = QGroupBox(tr("Cliente"), self)
        client_layout = QVBoxLayout(client_box)
        if client_id:
            self.client_name = QLabel(f"<b>{client_label}</b>", client_box)
            self.client_name.setObjectName("clientName")
            client_layout.addWidget(self.client_name)
        else:
            self.picker = ClientPicker(context, client_box)
            self.picker.picked.connect(self._picked)
            client_layout.addWidget(self.picker)
        self.client_message = FieldMessage(client_box, "clientMessage")
        client_layout.addWidget(self.client_message)

        # Tipo de cuenta
        self.standard = QRadioButton(tr("Estándar"), self)
        self.standard.setObjectName("kindStandard")
        self.unlimited = QRadioButton(tr("Ilimitada"), self)
        self.unlimited.setObjectName("kindUnlimited")
        self.standard.setChecked(True)
        kinds = QButtonGroup(self)
        kinds.addButton(self.standard)
        kinds.addButton(self.unlimited)
        kind_row = hbox(self.standard, self.unlimited, None)
        self.kind_note = QLabel(self)
        self.kind_note.setObjectName("kindNote")
        self.kind_note.setWordWrap(True)
        dim(self.kind_note)

        # Id
        self.choose_id = QCheckBox(tr("Elegir el Id (si no, el sistema asigna uno automático)"), self)
        self.choose_id.setObjectName("chooseId")
        self.cti_id = QLineEdit(self)
        self.cti_id.setObjectName("ctiId")
        self.cti_id.setMaxLength(64)
        self.cti_id.setPlaceholderText(tr("Automático"))
        self.cti_id.setEnabled(False)
        self.id_message = FieldMessage(self, "idMessage")
        self.choose_id.toggled.connect(self._id_toggled)
        self.cti_id.textChanged.connect(lambda _t: self.id_message.clear())

        # Contraseña
        self.passwords = PasswordFields(self)

        # RFC (ilimitada)
        self.rfc = QLineEdit(self)
        self.rfc.setObjectName("rfcRestriction")
        self.rfc.setMaxLength(20)
        # Short enough to be read whole in the field (it was cut at «…si se deja v»); the rest in the tip.
        self.rfc.setPlaceholderText(tr("Vacío: cualquier RFC emisor"))
        self.rfc.setToolTip(tr("Opcional: restrinja la cuenta a un RFC emisor; vacía, acepta cualquiera."))
        self.rfc.setMinimumWidth(self.rfc.fontMetrics().horizontalAdvance(self.rfc.placeholderText()) + 24)
        self.rfc_counter = QLabel(rfc_counter_text(""), self)
        dim(self.rfc_counter)
        self.rfc_message = FieldMessage(self, "rfcMessage")
        self.rfc_confirm = QCheckBox(tr("Confirmo que el RFC es correcto"), self)
        self.rfc_confirm.setObjectName("rfcConfirm")
        self.rfc_confirm.hide()
        self.rfc.textChanged.connect(self._rfc_changed)
        rfc_row = hbox((self.rfc, 1), self.rfc_counter)

        # Cuota anual (ilimitada): charged when the account is created
        self.fee = FeePayerBox(context, self)
        self.fee.load(client_id)

        form = FormGrid()
        form.addRow(tr("Tipo de cuenta:"), kind_row)
        form.addRow("", self.kind_note)
        form.addRow("", self.choose_id)
        form.addRow(tr("Id cuenta:"), self.cti_id)
        form.addRow("", self.id_message)
        self.passwords.add_rows(form)
        self.rfc_label = QLabel(tr("Restringir al RFC emisor:"), self)
        form.addRow(self.rfc_label, rfc_row)
        form.addRow("", self.rfc_message)
        form.addRow("", self.rfc_confirm)

        self.message = FieldMessage(self, "formMessage")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(tr("Crear cuenta"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancelar"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        vbox(self, client_box, form, self.fee, self.message, self.buttons)
        self.standard.toggled.connect(lambda _on: self._kind_changed())
        self._kind_changed()
        if not context.is_online():
            self.message.set_warning(tr(OFFLINE_TEXT).format(what=tr("Crear una cuenta de timbrado")))
        self.setMinimumWidth(560)

    # ---- reacting ---------------------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return "unlimited" if self.unlimited.isChecked() else "standard"

    def _picked(self, client_id: str) -> None:
        self.client_id = client_id
        self.client_message.clear()
        self.fee.load(client_id)

    def _id_toggled(self, on: bool) -> None:
        self.cti_id.setEnabled(on)
        self.cti_id.setPlaceholderText("" if on else tr("Automático"))
        if on:
            self.cti_id.setFocus()
        else:
            self.cti_id.clear()
            self.id_message.clear()

    def _kind_changed(self) -> None:
        unlimited = self.kind == "unlimited"
        for widget in (self.rfc, self.rfc_label, self.rfc_counter):
            widget.setEnabled(unlimited)
        self.fee.setVisible(unlimited)
        if not unlimited:
            self.rfc.clear()
            self.rfc_message.clear()
        self.kind_note.setText(
            tr(
                "Sin saldo de timbres: emite cualquier cantidad de CFDI. Está sujeta a un pago anual en "
                "puntos, que se cobra al crearla, y puede abrirse a cualquier RFC emisor o restringirse a "
                "uno. Sólo las aplicaciones de Induxsoft V10 o posteriores y FactuDesk Web timbran con ella."
            )
            if unlimited
            else tr("Maneja un saldo de timbres: cada CFDI timbrado descuenta un timbre.")
        )
        fit_later(self)

    def _rfc_changed(self, text: str) -> None:
        self.rfc_counter.setText(rfc_counter_text(text))
        self.rfc_message.clear()
        self.rfc_confirm.hide()
        self.rfc_confirm.setChecked(False)

    # ---- checking and sending ---------------------------------------------------------------------------

    def validate(self) -> dict[str, Any] | None:
        """Check every field with the domain's rules, showing each problem beside its field; the
        values to send, or None."""
        ok = True
        self.message.clear()
        if not self.client_id:
            self.client_message.set_error(tr("Seleccione el cliente."))
            ok = False
        values: dict[str, Any] = {"kind": self.kind}
        if self.kind == "unlimited":
            values["fee_payer"] = self.fee.payer
        if self.choose_id.isChecked():
            try:
                values["id"] = check_cti_id(self.cti_id.text(), "id")
            except DomainError as error:
                self.id_message.set_error(first_message(error))
                ok = False
        ok = self.passwords.validate() and ok
        if self.kind == "unlimited" and self.rfc.text().strip():
            try:
                check = check_rfc(self.rfc.text(), "rfc_restriction")
            except DomainError as error:
                self.rfc_message.set_error(first_message(error))
                ok = False
            else:
                warning = rfc_warning(check)
                if warning and not self.rfc_confirm.isChecked():
                    self.rfc_message.set_warning(warning)
                    self.rfc_confirm.show()
                    ok = False
                values["rfc_restriction"] = check.rfc
        values["password"] = self.passwords.password.text()
        values["password_confirmation"] = self.passwords.confirm.text()
        return values if ok else None

    def submit(self) -> None:
        if self.busy:
            return
        values = self.validate()
        session = self.context.session
        if values is None or session is None:
            return
        if session.api is None or session.cache is None:
            self.message.set_error(tr(OFFLINE_TEXT).format(what=tr("Crear una cuenta de timbrado")))
            return
        self._set_busy(True)
        actions.create_account(
            self.context,
            self.client_id or "",
            kind=values["kind"],
            password=values["password"],
            password_confirmation=values["password_confirmation"],
            id=values.get("id"),
            rfc_restriction=values.get("rfc_restriction"),
            fee_payer=values.get("fee_payer"),
            parent=self,
        ).success(self._created).failure(self._failed).run()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.ok_button.setEnabled(not busy)
        self.ok_button.setText(tr("Creando…") if busy else tr("Crear cuenta"))

    def _created(self, answer: dict[str, Any]) -> None:
        self._set_busy(False)
        self.created = answer
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        if isinstance(error, OfflineError):
            self.message.set_error(tr(OFFLINE_TEXT).format(what=tr("Crear una cuenta de timbrado")))
            return
        if not isinstance(error, ApiError):
            self.message.set_error(tr("No se pudo crear la cuenta: {error}").format(error=str(error)))
            return
        fields = error.field_errors()
        shown = self.passwords.show_errors(fields)
        for name, message in fields.items():
            if name == "id":
                self.id_message.set_error(message)
                shown = True
            elif name == "rfc_restriction":
                self.rfc_message.set_error(message)
                shown = True
        if error.code == "insufficient_balance":
            self.fee.message.set_error(
                error.detail + " " + tr("No se creó la cuenta: elija quién paga o compre puntos.")
            )
            return
        if error.code == "duplicate":
            self.choose_id.setChecked(True)
            self.id_message.set_error(error.detail)
            return
        if not shown:
            self.message.set_error(error.detail)


class ResetPasswordDialog(QDialog):
    """Restablecer contraseña de una CTI (online only)."""

    def __init__(
        self, context: AppContext, cti_id: str, client_label: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("resetPasswordDialog")
        self.setWindowTitle(tr("Restablecer contraseña"))
        self.context = context
        self.cti_id = cti_id
        self.done_ok = False
        self.busy = False
        heading = QLabel(
            tr("Cuenta de timbrado <b>{cti}</b>").format(cti=cti_id)
            + (f"<br>{client_label}" if client_label else ""),
            self,
        )
        heading.setObjectName("ctiHeading")
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reminder = QLabel(
            tr(
                "Después de restablecerla, configure la nueva contraseña en las aplicaciones que timbran "
                "con esta cuenta (CTI): con la anterior ya no podrán timbrar."
            ),
            self,
        )
        self.reminder.setObjectName("reminder")
        self.reminder.setWordWrap(True)
        self.reminder.setStyleSheet("color: #b26a00;")
        self.passwords = PasswordFields(
            self, first_label=tr("Nueva contraseña:"), second_label=tr("Confirmar contraseña:")
        )
        self.message = FieldMessage(self, "formMessage")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(tr("Restablecer"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancelar"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        form = FormGrid()
        self.passwords.add_rows(form)
        vbox(self, heading, self.reminder, form, self.message, self.buttons)
        if not context.is_online():
            self.message.set_warning(tr(OFFLINE_TEXT).format(what=tr("Restablecer la contraseña")))
        self.setMinimumWidth(500)

    def submit(self) -> None:
        if self.busy:
            return
        self.message.clear()
        session = self.context.session
        if not self.passwords.validate() or session is None:
            return
        if session.api is None:
            self.message.set_error(tr(OFFLINE_TEXT).format(what=tr("Restablecer la contraseña")))
            return
        self.busy = True
        self.ok_button.setEnabled(False)
        actions.reset_password(
            self.context,
            self.cti_id,
            password=self.passwords.password.text(),
            password_confirmation=self.passwords.confirm.text(),
            parent=self,
        ).success(self._done).failure(self._failed).run()

    def _done(self, _result: object) -> None:
        self.busy = False
        self.ok_button.setEnabled(True)
        self.done_ok = True
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self.ok_button.setEnabled(True)
        if isinstance(error, OfflineError):
            self.message.set_error(tr(OFFLINE_TEXT).format(what=tr("Restablecer la contraseña")))
        elif isinstance(error, ApiError):
            if not self.passwords.show_errors(error.field_errors()):
                self.message.set_error(error.detail)
        else:
            self.message.set_error(
                tr("No se pudo restablecer la contraseña: {error}").format(error=str(error))
            )
