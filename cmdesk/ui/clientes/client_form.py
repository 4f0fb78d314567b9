"""Agregar cliente / Editar cliente: the manual's form in its five sections — Datos generales,
Representante legal, Contacto financiero, Contacto técnico and Otros (precio de timbres a granel,
porcentaje de descuento, días de crédito).

Every field is checked where it is typed, with the domain's rules (`cmdesk.domain`: RFC of 12 or 13
characters with its "n/13" counter, format and date; CURP; e-mail; phones; postal code; the states'
list), and each error shows in Spanish right under its field; a section with errors is marked in its
tab. An RFC whose check digit does not match is a warning the user confirms, not an error (the SAT
issued some such RFCs).

Saving queues `actions.save_client` (`commands.create_client` / `update_client`): the outbox, so it works
offline — the client shows in the table at once, marked pending, and goes to the server with the next
sync. An edit sends only the fields that changed (with the version it started from).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import contact, field_paths, identity, names
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.geography import MEXICAN_STATES
from cmdesk.domain.money import parse_mxn
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.clientes import actions
from cmdesk.ui.clientes.model import tr
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import ERROR_COLOR, WARNING_COLOR, dim, hbox, vbox
from cmdesk.ui.kit.messages import ask, error_text, field_errors, inform


@dataclass(frozen=True)
class FormField:
    """A field of the form: its API path (`address.city`), its label, its kind and its section."""

    path: str
    label: str
    kind: str = "text"  # text · required · rfc · email · phone · postal_code · state · curp · money ·
    #                    percent · days · person_type · multiline
    section: int = 0


SECTIONS = (
    QT_TRANSLATE_NOOP("clientes", "Datos generales"),
    QT_TRANSLATE_NOOP("clientes", "Representante legal"),
    QT_TRANSLATE_NOOP("clientes", "Contacto financiero"),
    QT_TRANSLATE_NOOP("clientes", "Contacto técnico"),
    QT_TRANSLATE_NOOP("clientes", "Otros"),
)


def _contact(prefix: str, section: int) -> list[FormField]:
    return [
        FormField(f"{prefix}.name", QT_TRANSLATE_NOOP("clientes", "Nombre"), "text", section),
        FormField(f"{prefix}.position", QT_TRANSLATE_NOOP("clientes", "Puesto"), "text", section),
        FormField(f"{prefix}.email", QT_TRANSLATE_NOOP("clientes", "Correo"), "email", section),
        FormField(f"{prefix}.phone", QT_TRANSLATE_NOOP("clientes", "Teléfono"), "phone", section),
        FormField(
            f"{prefix}.phone_alt", QT_TRANSLATE_NOOP("clientes", "Teléfono auxiliar"), "phone", section
        ),
    ]


FIELDS: tuple[FormField, ...] = (
    FormField("name", QT_TRANSLATE_NOOP("clientes", "Nombre (razón social)"), "required", 0),
    FormField("trade_name", QT_TRANSLATE_NOOP("clientes", "Nombre comercial"), "text", 0),
    FormField("rfc", QT_TRANSLATE_NOOP("clientes", "RFC"), "rfc", 0),
    FormField("phone", QT_TRANSLATE_NOOP("clientes", "Teléfono"), "phone", 0),
    FormField("email", QT_TRANSLATE_NOOP("clientes", "Correo"), "email", 0),
    FormField("other.client_type", QT_TRANSLATE_NOOP("clientes", "Tipo de cliente"), "text", 0),
    FormField("address.state", QT_TRANSLATE_NOOP("clientes", "Estado"), "state", 0),
    FormField("address.city", QT_TRANSLATE_NOOP("clientes", "Ciudad"), "text", 0),
    FormField("address.postal_code", QT_TRANSLATE_NOOP("clientes", "Código postal"), "postal_code", 0),
    FormField("address.neighborhood", QT_TRANSLATE_NOOP("clientes", "Colonia"), "text", 0),
    FormField("address.street", QT_TRANSLATE_NOOP("clientes", "Calle"), "text", 0),
    FormField("address.exterior_number", QT_TRANSLATE_NOOP("clientes", "Número exterior"), "text", 0),
    FormField("address.interior_number", QT_TRANSLATE_NOOP("clientes", "Número interior"), "text", 0),
    FormField("address.reference", QT_TRANSLATE_NOOP("clientes", "Referencia"), "text", 0),
    FormField(
        "legal_representative.person_type", QT_TRANSLATE_NOOP("clientes", "Tipo de persona"), "person_type", 1
    ),
    FormField("legal_representative.name", QT_TRANSLATE_NOOP("clientes", "Nombre"), "text", 1),
    FormField("legal_representative.position", QT_TRANSLATE_NOOP("clientes", "Puesto"), "text", 1),
    FormField("legal_representative.email", QT_TRANSLATE_NOOP("clientes", "Correo"), "email", 1),
    FormField("legal_representative.phone", QT_TRANSLATE_NOOP("clientes", "Teléfono"), "phone", 1),
    FormField(
        "legal_representative.phone_alt", QT_TRANSLATE_NOOP("clientes", "Teléfono auxiliar"), "phone", 1
    ),
    FormField("legal_representative.curp", QT_TRANSLATE_NOOP("clientes", "CURP"), "curp", 1),
    *_contact("financial_contact", 2),
    *_contact("technical_contact", 3),
    FormField(
        "other.bulk_stamp_price_cents",
        QT_TRANSLATE_NOOP("clientes", "Precio de timbres a granel (IVA incluido)"),
        "money",
        4,
    ),
    FormField(
        "other.discount_percent", QT_TRANSLATE_NOOP("clientes", "Porcentaje de descuento"), "percent", 4
    ),
    FormField("other.credit_days", QT_TRANSLATE_NOOP("clientes", "Días de crédito"), "days", 4),
    FormField("other.fax", QT_TRANSLATE_NOOP("clientes", "Fax"), "phone", 4),
    FormField("other.business_activity", QT_TRANSLATE_NOOP("clientes", "Giro"), "text", 4),
    FormField("other.comments", QT_TRANSLATE_NOOP("clientes", "Comentarios"), "multiline", 4),
)
FIELD_BY_PATH = {f.path: f for f in FIELDS}


class FieldBox(QWidget):
    """An input with its error (or warning) line under it."""

    def __init__(self, field: FormField, editor: QWidget, extra: QWidget | None = None) -> None:
        super().__init__()
        self.field = field
        self.editor = editor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        if extra is not None:
            row = hbox((editor, 1), extra)
            row.setContentsMargins(0, 0, 0, 0)
            layout.addLayout(row)
        else:
            layout.addWidget(editor)
        self.message = QLabel(self)
        self.message.setObjectName("error:" + field.path)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        layout.addWidget(self.message)

    def show_message(self, text: str | None, *, warning: bool = False) -> None:
        self.message.setText(text or "")
        self.message.setStyleSheet(f"color: {WARNING_COLOR if warning else ERROR_COLOR};")
        self.message.setVisible(bool(text))
        self.is_error = bool(text) and not warning

    is_error = False


class ClientForm(QDialog):
    """Agregar cliente (`data=None`) or Editar cliente (`data` = the client as the cache has it)."""

    saved = Signal(object)  # the queued command

    def __init__(
        self, context: AppContext, data: Mapping[str, Any] | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.data = dict(data) if data else None
        self.client_id = str(data["id"]) if data else None
        self.setObjectName("clientForm")
        self.setWindowTitle(
            tr("Editar cliente — {name}").format(name=data.get("name", "")) if data else tr("Agregar cliente")
        )
        self.boxes: dict[str, FieldBox] = {}
        self._half_rows: dict[int, int | None] = {}
        self.editors: dict[str, QWidget] = {}
        self.rfc_warning_confirmed = ""
        self._saving = False

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("sections")
        pages = [self._section_page() for _ in SECTIONS]
        for field in FIELDS:
            self._add_field(pages[field.section], field)
        for page, title in zip(pages, SECTIONS, strict=True):
            self.tabs.addTab(page[0], tr(title))

        self.summary = QLabel(self)
        self.summary.setObjectName("formSummary")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(f"color: {ERROR_COLOR};")
        self.summary.setVisible(False)
        note = QLabel(
            tr(
                "Los campos con * son obligatorios. Los cambios se guardan en este equipo y se envían al "
                "servidor en la siguiente sincronización."
            ),
            self,
        )
        note.setWordWrap(True)
        dim(note)

        buttons = QDialogButtonBox(self)
        self.save_button = buttons.addButton(tr("Guardar"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("save")
        self.save_button.setDefault(True)
        cancel = buttons.addButton(tr("Cancelar"), QDialogButtonBox.ButtonRole.RejectRole)
        cancel.setObjectName("cancel")
        self.save_button.clicked.connect(self.save)
        cancel.clicked.connect(self.reject)

        top = QHBoxLayout()
        heading = QLabel(
            "<b>"
            + (
                tr("NIC {nic}").format(nic=data.get("nic"))
                if data and data.get("nic")
                else tr("Cliente nuevo")
            )
            + "</b>",
            self,
        )
        top.addWidget(heading)
        top.addStretch(1)
        if data is not None:
            self.admin_button = QPushButton(tr("Asignar perfil admin"), self)
            self.admin_button.setObjectName("adminProfile")
            self.admin_button.clicked.connect(self._admin_profile)
            top.addWidget(self.admin_button)

        vbox(self, top, (self.tabs, 1), self.summary, note, buttons)
        self._load(self.data)
        self.resize(720, 560)

    # ---- building ----------------------------------------------------------------------------------

    def _section_page(self) -> tuple[QWidget, QGridLayout]:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(6)
        grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        return page, grid

    def _add_field(self, page: tuple[QWidget, QGridLayout], field: FormField) -> None:
        _widget, grid = page
        extra: QWidget | None = None
        editor: QWidget
        if field.kind == "state":
            combo = QComboBox()
            combo.addItem(tr("(Seleccione)"), "")
            for state in MEXICAN_STATES:
                combo.addItem(state, state)
            combo.currentIndexChanged.connect(lambda _i, f=field: self.check_field(f.path))
            editor = combo
        elif field.kind == "person_type":
            holder = QWidget()
            radios = QHBoxLayout(holder)
            radios.setContentsMargins(0, 0, 0, 0)
            self.person_group = QButtonGroup(holder)
            for value, text in labels.items(names.PERSON_TYPES):
                radio = QRadioButton(text, holder)
                radio.setObjectName(f"person_{value}")
                radio.setProperty("value", value)
                self.person_group.addButton(radio)
                radios.addWidget(radio)
            radios.addStretch(1)
            self.person_group.buttonToggled.connect(lambda _b, _on: self._person_type_changed())
            editor = holder
        elif field.kind in ("percent", "days"):
            spin = QSpinBox()
            spin.setRange(0, 100 if field.kind == "percent" else 3650)
            spin.setSuffix(" %" if field.kind == "percent" else tr(" días"))
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
            editor = spin
        elif field.kind == "multiline":
            notes = QPlainTextEdit()
            notes.setTabChangesFocus(True)
            notes.setMaximumHeight(90)
            editor = notes
        else:
            line = QLineEdit()
            line.editingFinished.connect(lambda f=field: self.check_field(f.path))
            if field.kind == "rfc":
                line.setMaxLength(20)
                self.rfc_counter = QLabel(identity.rfc_counter_text(""))
                self.rfc_counter.setObjectName("rfcCounter")
                self.rfc_counter.setToolTip(tr("Mínimo 12, máximo 13 caracteres"))
                line.textChanged.connect(self._rfc_typed)
                extra = self.rfc_counter
                line.setPlaceholderText(tr("12 caracteres (persona moral) o 13 (persona física)"))
            elif field.kind == "money":
                line.setPlaceholderText(tr("Ej. 6.50"))
                line.setToolTip(tr("Precio por timbre para este cliente; vacío: el precio general"))
                line.setAlignment(Qt.AlignmentFlag.AlignRight)
            elif field.kind == "email":
                line.setPlaceholderText(tr("nombre@empresa.com.mx"))
            elif field.kind == "phone":
                line.setPlaceholderText(tr("10 dígitos con lada"))
            elif field.kind == "postal_code":
                line.setMaxLength(5)
                line.setInputMask("")
            elif field.kind == "curp":
                line.setMaxLength(18)
            editor = line
        editor.setObjectName("field:" + field.path)
        box = FieldBox(field, editor, extra)
        self.boxes[field.path] = box
        self.editors[field.path] = editor
        # Two fields a row (label, field, label, field); long ones take the whole row.
        wide = field.kind in ("multiline", "person_type") or field.path in ("name", "address.reference")
        label = QLabel(tr(field.label) + (" *" if field.path in ("name", "rfc") else "") + ":")
        label.setBuddy(editor)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        label.setContentsMargins(0, 4, 0, 0)
        half = self._half_rows.get(id(grid))
        if wide:
            row = grid.rowCount()
            grid.addWidget(label, row, 0)
            grid.addWidget(box, row, 1, 1, 3, Qt.AlignmentFlag.AlignTop)
            self._half_rows[id(grid)] = None
        elif half is not None:
            grid.addWidget(label, half, 2)
            grid.addWidget(box, half, 3, Qt.AlignmentFlag.AlignTop)
            self._half_rows[id(grid)] = None
        else:
            row = grid.rowCount()
            grid.addWidget(label, row, 0)
            grid.addWidget(box, row, 1, Qt.AlignmentFlag.AlignTop)
            self._half_rows[id(grid)] = row

    # ---- values ------------------------------------------------------------------------------------

    def _load(self, data: Mapping[str, Any] | None) -> None:
        for field in FIELDS:
            value = field_paths.value_at(data, field.path) if data else None
            self.set_value(field.path, value)
        if data is None:
            self.set_value("legal_representative.person_type", "moral")
        self._rfc_typed(self.text_of("rfc"))
        self._person_type_changed()

    def set_value(self, path: str, value: Any) -> None:
        """Put `value` (as the API has it) in the field's editor."""
        field = FIELD_BY_PATH[path]
        editor = self.editors[path]
        if isinstance(editor, QComboBox):
            text = str(value or "")
            if text and editor.findData(text) < 0:
                editor.addItem(text, text)  # a value from older data, kept as it is
            editor.setCurrentIndex(max(editor.findData(text), 0))
        elif field.kind == "person_type":
            for button in self.person_group.buttons():
                button.setChecked(button.property("value") == (value or "moral"))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value or 0))
        elif isinstance(editor, QPlainTextEdit):
            editor.setPlainText(str(value or ""))
        elif isinstance(editor, QLineEdit):
            if field.kind == "money":
                editor.setText("" if value is None else fmt.money(int(value)).replace("$", ""))
            else:
                editor.setText(str(value or ""))

    def text_of(self, path: str) -> str:
        editor = self.editors[path]
        if isinstance(editor, QComboBox):
            return str(editor.currentData() or "")
        if isinstance(editor, QPlainTextEdit):
            return editor.toPlainText()
        if isinstance(editor, QLineEdit):
            return editor.text()
        if isinstance(editor, QSpinBox):
            return str(editor.value())
        checked = self.person_group.checkedButton()
        return str(checked.property("value")) if checked is not None else "moral"

    def _rfc_typed(self, text: str) -> None:
        self.rfc_counter.setText(identity.rfc_counter_text(text))

    def _person_type_changed(self) -> None:
        fisica = self.text_of("legal_representative.person_type") == "fisica"
        curp = self.editors["legal_representative.curp"]
        curp.setEnabled(fisica)
        if isinstance(curp, QLineEdit):
            curp.setPlaceholderText("" if fisica else tr("Sólo para persona física"))
        if not fisica:
            self.boxes["legal_representative.curp"].show_message(None)

    def field_value(self, path: str) -> tuple[Any, str | None, str | None]:
        """(normalized value, error, warning) of one field, checked with the domain's rules."""
        field = FIELD_BY_PATH[path]
        text = self.text_of(path)
        editor = self.editors[path]
        try:
            if field.kind == "required":
                return contact.check_required(text, path, tr("Nombre")), None, None
            if field.kind == "rfc":
                check = identity.check_rfc(text, path)
                return check.rfc, None, identity.rfc_warning(check)
            if field.kind in ("percent", "days"):
                return int(editor.value()) if isinstance(editor, QSpinBox) else 0, None, None
            if field.kind == "person_type":
                return text, None, None
            if not text.strip():
                return (None if field.kind == "money" else ""), None, None
            if field.kind == "email":
                return contact.check_email(text, path), None, None
            if field.kind == "phone":
                return contact.check_phone(text, path), None, None
            if field.kind == "postal_code":
                return contact.check_postal_code(text, path), None, None
            if field.kind == "curp":
                if self.text_of("legal_representative.person_type") != "fisica":
                    return "", None, None
                return identity.check_curp(text, path), None, None
            if field.kind == "money":
                return parse_mxn(text, path), None, None
            if field.kind == "multiline":
                return text.strip(), None, None
            return " ".join(text.split()), None, None
        except DomainError as error:
            if error.code is not ErrorCode.VALIDATION_ERROR:
                raise
            message = error.errors[0].message if error.errors else error.detail
            return None, message, None

    def check_field(self, path: str) -> bool:
        """Check one field now (when the user leaves it) and show its error or warning."""
        _value, error, warning = self.field_value(path)
        box = self.boxes[path]
        if error:
            box.show_message(error)
        elif warning:
            box.show_message(warning, warning=True)
        else:
            box.show_message(None)
        self._mark_tabs()
        return error is None

    def _mark_tabs(self) -> None:
        """A section with errors says so in its tab (its fields may be out of sight)."""
        bar = self.tabs.tabBar()
        for index, title in enumerate(SECTIONS):
            wrong = any(b.is_error for p, b in self.boxes.items() if FIELD_BY_PATH[p].section == index)
            self.tabs.setTabText(index, ("⚠ " if wrong else "") + tr(title))
            color = QColor(ERROR_COLOR) if wrong else self.palette().color(self.foregroundRole())
            bar.setTabTextColor(index, color)

    def collect(self) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        """Every field's normalized value by path, the errors and the warnings."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        warnings: dict[str, str] = {}
        for field in FIELDS:
            value, error, warning = self.field_value(field.path)
            if error:
                errors[field.path] = error
            else:
                values[field.path] = value
                if warning:
                    warnings[field.path] = warning
        return values, errors, warnings

    def show_errors(self, errors: Mapping[str, str], warnings: Mapping[str, str] | None = None) -> None:
        warnings = warnings or {}
        for path, box in self.boxes.items():
            if path in errors:
                box.show_message(errors[path])
            elif path in warnings:
                box.show_message(warnings[path], warning=True)
            else:
                box.show_message(None)
        unknown = [m for p, m in errors.items() if p not in self.boxes]
        self._mark_tabs()
        if errors:
            first = min((FIELD_BY_PATH[p].section for p in errors if p in FIELD_BY_PATH), default=0)
            self.tabs.setCurrentIndex(first)
            self.summary.setText(
                tr("Revise los campos marcados ({n}).").format(n=len(errors))
                + ("" if not unknown else " " + " ".join(unknown))
            )
            self.summary.setVisible(True)
        else:
            self.summary.setVisible(False)

    def error_of(self, path: str) -> str:
        """The message shown under a field ("" when none)."""
        box = self.boxes[path]
        return box.message.text() if not box.message.isHidden() else ""

    # ---- saving ------------------------------------------------------------------------------------

    def changes(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The fields to send, nested as in the API: all the filled ones for a new client, the changed
        ones for an edit."""
        empty = (None, "")
        flat: dict[str, Any] = {}
        for path, value in values.items():
            if self.data is None:
                if value not in empty:
                    flat[path] = value
                continue
            current = field_paths.value_at(self.data, path)
            if current in empty and value in empty:
                continue
            if path == "legal_representative.person_type" and current in empty:
                continue  # the radio's default over data that never said: not a change
            if current != value:
                flat[path] = value
        return field_paths.unflatten(flat)

    def save(self) -> None:
        if self._saving:
            return
        values, errors, warnings = self.collect()
        self.show_errors(errors, warnings)
        if errors:
            return
        rfc_warning = warnings.get("rfc")
        if rfc_warning and self.rfc_warning_confirmed != values.get("rfc"):
            self.confirm_box = ask(
                self,
                tr("Confirmar RFC"),
                rfc_warning,
                lambda: self._confirm_rfc(str(values.get("rfc"))),
                yes_text=tr("El RFC es correcto"),
                no_text=tr("Corregir"),
            )
            return
        changes = self.changes(values)
        if self.data is not None and not changes:
            self.accept()
            return
        self._saving = True
        self.save_button.setEnabled(False)
        client_id = self.client_id if self.data is not None else None
        actions.save_client(self.context, client_id, changes, parent=self).success(self._saved).failure(
            self._failed
        ).run()

    def _confirm_rfc(self, rfc: str) -> None:
        self.rfc_warning_confirmed = rfc
        self.save()

    def _saved(self, command: object) -> None:
        self._saving = False
        self.saved.emit(command)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        fields = field_errors(error)
        if fields:
            self.show_errors(fields)
        else:
            inform(self, tr("No se pudo guardar"), error_text(error), error=True)

    def _admin_profile(self) -> None:
        from cmdesk.ui.clientes.admin_profile import AdminProfileDialog

        if self.data is not None:
            self.admin_dialog = AdminProfileDialog(self.context, self.data, self)
            self.admin_dialog.open()


__all__ = ["FIELDS", "ClientForm"]
