"""Herramientas → Configuraciones globales (manual, "Configuración"): the bulk stamp price and what the
clients may buy through their control panel (PCC). The values read plainly (read-only, not greyed out,
which looked broken); Editar makes them editable, Guardar sends the changed
options with `If-Match` (the version shown), and the server's refusal appears beside the option it
names ("Permitir la compra de timbres a través del PCC requiere al menos un paquete…").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.roles import Permission
from cmdesk.services.api_client import ApiError
from cmdesk.ui import locale as fmt
from cmdesk.ui import translator
from cmdesk.ui.herramientas import actions
from cmdesk.ui.kit.forms import ERROR_STYLE, dim, hbox, heading, money_value, push_button
from cmdesk.ui.kit.messages import error_text, field_errors
from cmdesk.ui.tabs import AppContext, TabPage

tr = translator("herramientas")


_INPUT = frozenset(
    {
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
    }
)
FLAGS = ("allow_panel_stamp_purchase", "auto_stamp_purchase", "allow_panel_point_purchase")


class SettingsPage(TabPage):
    entities = frozenset({"settings"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.settings: dict[str, Any] | None = None
        self.editing = False
        self.saving = False
        group = QGroupBox(tr("Configuraciones"), self)
        form = QFormLayout(group)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.errors: dict[str, QLabel] = {}
        self.price = QLineEdit(group)
        self.price.setObjectName("bulk_stamp_price_cents")
        self.price.setMaximumWidth(200)
        form.addRow(
            tr("Precio global de timbres a granel (IVA incluido)"),
            self._with_error("bulk_stamp_price_cents", self.price, group),
        )
        self.stamps_pcc = QCheckBox(tr("Permitir compra de timbres a través del *PCC"), group)
        self.stamps_pcc.setObjectName("allow_panel_stamp_purchase")
        self.auto = QCheckBox(tr("Compra automática de timbres"), group)
        self.auto.setObjectName("auto_stamp_purchase")
        self.points_pcc = QCheckBox(tr("Permitir compra de puntos a través del *PCC"), group)
        self.points_pcc.setObjectName("allow_panel_point_purchase")
        notes = {
            "allow_panel_stamp_purchase": tr(
                "(Requiere al menos un paquete definido y compra automática de timbres)"
            ),
            "auto_stamp_purchase": tr(
                "(Cuando un cliente compra por el PCC y a usted le faltan timbres, se compra el paquete del "
                "catálogo que cubra el pedido)"
            ),
            "allow_panel_point_purchase": tr(
                "(Implica la autorización para comprar el paquete de puntos que cubra el pedido del cliente, "
                "considerando el saldo en puntos del distribuidor.)"
            ),
        }
        for box in (self.stamps_pcc, self.auto, self.points_pcc):
            holder = QWidget(group)
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 4, 0, 4)
            column.setSpacing(2)
            column.addWidget(box)
            note = QLabel(notes[box.objectName()], holder)
            note.setWordWrap(True)
            dim(note)
            note.setContentsMargins(24, 0, 0, 0)
            column.addWidget(note)
            form.addRow(self._with_error(box.objectName(), holder, group))
        footnote = QLabel(tr("*PCC (Panel de Control de Cliente)"), group)
        dim(footnote)
        form.addRow(footnote)
        self.edit_button = push_button(tr("Editar"), self, "editSettings", self.edit)
        self.save_button = push_button(tr("Guardar"), self, "saveSettings", self.save)
        self.cancel_button = push_button(tr("Cancelar"), self, "cancelSettings", self.cancel)
        self.read_hint = QLabel(tr("Para cambiarlas, pulse «Editar»."), self)
        self.read_hint.setObjectName("readHint")
        dim(self.read_hint)
        buttons = hbox(self.edit_button, self.save_button, self.cancel_button, 12, self.read_hint, None)
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Configuraciones globales"),
                self,
                tr(
                    "La configuración general de su Cuenta Maestra: precio de timbres a granel y compras "
                    "de sus clientes."
                ),
            )
        )
        layout.addWidget(group)
        layout.addLayout(buttons)
        layout.addWidget(self.role_note)
        layout.addWidget(self.notice)
        layout.addStretch(1)
        for box in (self.stamps_pcc, self.auto, self.points_pcc):
            box.installEventFilter(self)
        self._set_editing(False)
        self.gate(Permission.SETTINGS, self.edit_button, self.save_button, self.cancel_button)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The options' checkboxes are read-only (not greyed) until «Editar» and while saving."""
        if (
            watched in (self.stamps_pcc, self.auto, self.points_pcc)
            and (not self.editing or self.saving)
            and event.type() in _INPUT
        ):
            return True
        return super().eventFilter(watched, event)

    def _with_error(self, name: str, widget: QWidget, parent: QWidget) -> QWidget:
        holder = QWidget(parent)
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        error = QLabel(holder)
        error.setObjectName(f"{name}_error")
        error.setWordWrap(True)
        error.setStyleSheet(ERROR_STYLE)
        error.hide()
        column.addWidget(error)
        self.errors[name] = error
        return holder

    # ---- reading ---------------------------------------------------------------------------------------

    def reload(self, changed: frozenset[str]) -> None:
        actions.read_settings(self.context).success(self._show).failure(lambda _e: None).run()

    def _show(self, settings: Mapping[str, Any] | None) -> None:
        self.settings = dict(settings) if settings else None
        if self.editing:
            return  # never overwrite what the user is typing
        self._fill()

    def _fill(self) -> None:
        s = self.settings or {}
        self.price.setText(fmt.money(int(s.get("bulk_stamp_price_cents") or 0)))
        self.stamps_pcc.setChecked(bool(s.get("allow_panel_stamp_purchase")))
        self.auto.setChecked(bool(s.get("auto_stamp_purchase")))
        self.points_pcc.setChecked(bool(s.get("allow_panel_point_purchase")))
        self.edit_button.setEnabled(self.settings is not None and not self.editing)

    # ---- editing ---------------------------------------------------------------------------------------

    def _set_editing(self, editing: bool) -> None:
        self.editing = editing
        self.price.setReadOnly(not editing or self.saving)
        for box in (self.stamps_pcc, self.auto, self.points_pcc):
            # Read-only, in the normal colors: `eventFilter` keeps clicks and keys from changing it.
            box.setFocusPolicy(Qt.FocusPolicy.StrongFocus if editing else Qt.FocusPolicy.NoFocus)
        for widget in (self.price, self.stamps_pcc, self.auto, self.points_pcc):
            widget.setEnabled(not self.saving)
        self.read_hint.setVisible(not editing and self.context.can(Permission.SETTINGS))
        self.edit_button.setEnabled(not editing and self.settings is not None)
        self.save_button.setEnabled(editing and not self.saving)
        self.cancel_button.setEnabled(editing and not self.saving)

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.hide()

    def set_error(self, name: str, text: str) -> None:
        label = self.errors.get(name)
        if label is not None:
            label.setText(text)
            label.setVisible(bool(text))
        else:
            self.show_notice(text, error=True)

    def error(self, name: str) -> str:
        return self.errors[name].text()

    def edit(self) -> None:
        self.clear_errors()
        self.show_notice("")
        self._set_editing(True)
        self.price.setFocus()

    def cancel(self) -> None:
        self.clear_errors()
        self._set_editing(False)
        self._fill()

    def save(self) -> None:
        if self.settings is None or self.saving:
            return
        self.clear_errors()
        self.show_notice("")
        try:
            price = money_value(self.price, "bulk_stamp_price_cents")
        except DomainError as error:
            for name, text in field_errors(error).items():
                self.set_error(name, text)
            return
        current = self.settings
        values = {
            "bulk_stamp_price_cents": price,
            "allow_panel_stamp_purchase": self.stamps_pcc.isChecked(),
            "auto_stamp_purchase": self.auto.isChecked(),
            "allow_panel_point_purchase": self.points_pcc.isChecked(),
        }
        changes = {k: v for k, v in values.items() if current.get(k) != v}
        if not changes:
            self._set_editing(False)
            return
        self.saving = True
        self._set_editing(True)
        actions.save_settings(self.context, changes, current.get("version"), parent=self).success(
            self._saved
        ).failure(self._refused).run()

    def _saved(self, answer: dict[str, Any]) -> None:
        self.saving = False
        self.settings = answer
        self._set_editing(False)
        self._fill()
        self.show_notice(tr("Se guardaron las configuraciones."))

    def _refused(self, error: BaseException) -> None:
        self.saving = False
        self._set_editing(True)
        errors = field_errors(error)
        for name, text in errors.items():
            self.set_error(name, text)
        if not errors or (isinstance(error, ApiError) and error.code != ErrorCode.VALIDATION_ERROR.value):
            self.show_notice(error_text(error), error=True)
