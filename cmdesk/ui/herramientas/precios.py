"""Herramientas → Precios (manual, "Definición de precios"): the packages of stamps (and points) the
distributor sells to its clients and, with Multinivel, to its sub-distributors: Agregar, Modificar,
Eliminar (Cantidad, Precio IVA incluido, Distribuidor, Descripción).

Prices are the account's configuration, checked by the server against its other settings (the PCC
purchase needs a stamps package; packages for distributors need Multinivel), so they are saved online
and the server's refusal is shown at once (`herramientas.actions`). Edits carry `If-Match` with the
version they started from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import names
from cmdesk.domain.amounts import QUANTITY_MESSAGE
from cmdesk.domain.errors import DomainError, validation_error
from cmdesk.domain.roles import Permission
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.herramientas import actions
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.export import export_button
from cmdesk.ui.kit.forms import FormDialog, delete_key, hbox, heading, money_value, push_button
from cmdesk.ui.kit.messages import REASON_MAX_LENGTH, ask, error_text, field_errors, inform, reason_of
from cmdesk.ui.kit.table import Column, PagedTableModel, make_table, selected_record
from cmdesk.ui.tabs import AppContext, TabPage

tr = translator("herramientas")


COLUMNS = (
    Column(
        "asset",
        QT_TRANSLATE_NOOP("portal", "Tipo"),
        value=lambda r: labels.asset(r.get("asset")),
        sort="asset",
    ),
    Column("quantity", QT_TRANSLATE_NOOP("portal", "Cantidad"), "number", sort="quantity"),
    Column("price_cents", QT_TRANSLATE_NOOP("portal", "Precio (IVA incluido)"), "money", sort="price_cents"),
    Column(
        "unit_price_cents", QT_TRANSLATE_NOOP("portal", "Precio unitario"), "money", sort="unit_price_cents"
    ),
    Column(
        "for_distributors",
        QT_TRANSLATE_NOOP("portal", "Para"),
        value=lambda r: tr("Distribuidores") if r.get("for_distributors") else tr("Clientes"),
        sort="for_distributors",
    ),
    Column("description", QT_TRANSLATE_NOOP("portal", "Descripción"), sort="description"),
)


class PackageDialog(FormDialog):
    """Agregar / Modificar un paquete: Cantidad, Precio (IVA incluido), Distribuidor, Descripción."""

    def __init__(
        self, context: AppContext, package: Mapping[str, Any] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(context, tr("Modificar paquete") if package else tr("Agregar paquete"), parent)
        self.setObjectName("packageDialog")
        self.package = dict(package) if package else None
        self.asset = QComboBox(self)
        for key, label in labels.items(names.ASSETS):
            self.asset.addItem(label, key)
        self.quantity = QSpinBox(self)
        self.quantity.setRange(0, 10_000_000)
        self.quantity.setGroupSeparatorShown(True)
        self.quantity.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.price = QLineEdit(self)
        self.price.setPlaceholderText("$0.00")
        self.for_distributors = QCheckBox(tr("Distribuidor"), self)
        self.description = QLineEdit(self)
        self.description.setMaxLength(500)
        self.add_field("asset", tr("Tipo"), self.asset)
        self.add_field("quantity", tr("Cantidad"), self.quantity)
        self.add_field("price_cents", tr("Precio (IVA incluido)"), self.price)
        self.add_field(
            "for_distributors",
            "",
            self.for_distributors,
            hint=tr("Active la casilla si el paquete es para sus distribuidores (requiere Multinivel)."),
        )
        self.add_field("description", tr("Descripción"), self.description)
        self.reason = QLineEdit(self)
        self.reason.setMaxLength(REASON_MAX_LENGTH)
        self.reason.setPlaceholderText(tr("Opcional: queda en la bitácora"))
        self.add_field("reason", tr("Motivo del cambio"), self.reason)
        self.price.textEdited.connect(self._suggest_description)
        self.quantity.valueChanged.connect(lambda *_: self._suggest_description())
        self._described = False
        if package:
            index = self.asset.findData(package.get("asset"))
            self.asset.setCurrentIndex(max(index, 0))
            self.quantity.setValue(int(package.get("quantity") or 0))
            self.price.setText(fmt.money(int(package.get("price_cents") or 0)))
            self.for_distributors.setChecked(bool(package.get("for_distributors")))
            self.description.setText(str(package.get("description") or ""))
            self._described = True
        self.description.textEdited.connect(lambda *_: setattr(self, "_described", True))
        self.fit_width(460)

    def _suggest_description(self, *_args: object) -> None:
        # The manual's example: "Paquete de 100 Timbres", until the user writes their own.
        if self._described:
            return
        quantity = self.quantity.value()
        what = self.asset.currentText()
        self.description.setText(
            tr("Paquete de {n} {what}").format(n=fmt.number(quantity), what=what) if quantity else ""
        )

    def submit(self) -> None:
        errors: dict[str, str] = {}
        if self.quantity.value() <= 0:
            errors["quantity"] = tr(QUANTITY_MESSAGE)
        try:
            price = money_value(self.price, "price_cents")
        except DomainError as error:  # every wrong field at once, each beside its field
            errors.update(field_errors(error))
            price = 0
        if errors:
            raise validation_error(errors)
        values: dict[str, Any] = {
            "asset": str(self.asset.currentData()),
            "quantity": self.quantity.value(),
            "price_cents": price,
            "for_distributors": self.for_distributors.isChecked(),
            "description": self.description.text().strip(),
        }
        package = self.package
        if package is not None and all(package.get(k) == v for k, v in values.items()):
            self.accept()  # nothing changed
            return
        reason = self.reason.text().strip()
        self.run(actions.save_package(self.context, package, values, reason=reason, parent=self))


class PricesPage(TabPage):
    entities = frozenset({"price_package"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = PagedTableModel(context, COLUMNS, actions.load_packages, parent=self)
        self.table = make_table(self.model, self, widths=(9, 11, 18, 14, 14, 40))
        self.table.doubleClicked.connect(lambda *_: self.edit())
        # Supr/Del on a selected package asks to delete it, like «Eliminar».
        self.delete_shortcut = delete_key(self.table, self.delete)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.add_button = push_button(tr("Agregar…"), self, "addPackage", self.add)
        self.edit_button = push_button(tr("Modificar…"), self, "editPackage", self.edit)
        self.delete_button = push_button(tr("Eliminar"), self, "deletePackage", self.delete)
        self.export_button = export_button(self, self.table, "precios", title=tr("Exportar precios"))
        buttons = hbox(self.add_button, self.edit_button, self.delete_button, None, self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Precios"),
                self,
                tr(
                    "Administre precios de paquetes en Timbres y Puntos para sus clientes finales y, si "
                    "tiene contratado Multinivel, para sus distribuidores."
                ),
            )
        )
        layout.addLayout(buttons)
        layout.addWidget(self.role_note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notice)
        self.model.loaded.connect(self._update)
        self._update()
        self.gate(Permission.PRICES, self.add_button, self.edit_button, self.delete_button)

    def _update(self) -> None:
        chosen = selected_record(self.table) is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def add(self) -> PackageDialog:
        dialog = PackageDialog(self.context, None, self)
        dialog.done_ok.connect(
            lambda p: self.show_notice(tr("Se agregó el paquete «{d}».").format(d=p["description"]))
        )
        self.dialog = dialog
        dialog.open()
        return dialog

    def edit(self) -> PackageDialog | None:
        row = selected_record(self.table)
        if row is None:
            return None
        dialog = PackageDialog(self.context, row, self)
        dialog.done_ok.connect(
            lambda p: self.show_notice(tr("Se guardó el paquete «{d}».").format(d=p["description"]))
        )
        self.dialog = dialog
        dialog.open()
        return dialog

    def delete(self) -> None:
        row = selected_record(self.table)
        if row is None:
            return
        ident = str(row["id"])
        box = ask(
            self,
            tr("Precios"),
            tr("¿Realmente desea eliminar el paquete?"),
            lambda: self._delete(ident, reason_of(box)),
            informative=str(row.get("description") or ""),
            reason=True,
        )

    def _delete(self, ident: str, reason: str = "") -> None:
        def failed(error: BaseException) -> None:
            self.show_notice(error_text(error), error=True)
            inform(self, tr("Precios"), error_text(error), error=True)

        actions.delete_package(self.context, ident, reason=reason, parent=self).success(
            lambda _r: self.show_notice(tr("Se eliminó el paquete."))
        ).failure(failed).run()
