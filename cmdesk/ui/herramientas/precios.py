"""Herramientas → Precios (manual, "Definición de precios"): the packages of stamps (and points) the
distributor sells to its clients and, with Multinivel, to its sub-distributors: Agregar, Modificar,
Eliminar (Cantidad, Precio IVA incluido, Distribuidor, Descripción).

Prices are the account's configuration, checked by the server against its other settings (the PCC
purchase needs a stamps package; packages for distributors need Multinivel), so they are saved online
and the server's refusal is shown at once. Edits carry `If-Match` with the version they started from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.services.api_client import ApiError
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.page_kit import (
    Col,
    FormDialog,
    PagedModel,
    ask,
    error_text,
    field,
    field_errors,
    fit_columns,
    inform,
    make_table,
    money_value,
    notice_label,
    online,
    push_button,
    selected_row,
)
from cmdesk.ui.tabs import AppContext, TabPage

if TYPE_CHECKING:
    from cmdesk.services.api_client import ApiClient
    from cmdesk.services.cache import Cache


def tr(text: str) -> str:
    return QCoreApplication.translate("herramientas", text)


ASSETS = {
    "stamps": QT_TRANSLATE_NOOP("herramientas", "Timbres"),
    "points": QT_TRANSLATE_NOOP("herramientas", "Puntos"),
}

COLUMNS = (
    Col(QT_TRANSLATE_NOOP("portal", "Tipo"), lambda r: tr(ASSETS.get(str(r.get("asset")), "")), sort="asset"),
    Col(QT_TRANSLATE_NOOP("portal", "Cantidad"), field("quantity"), "number", sort="quantity"),
    Col(
        QT_TRANSLATE_NOOP("portal", "Precio (IVA incluido)"),
        field("price_cents"),
        "money",
        sort="price_cents",
    ),
    Col(
        QT_TRANSLATE_NOOP("portal", "Precio unitario"),
        field("unit_price_cents"),
        "money",
        sort="unit_price_cents",
    ),
    Col(
        QT_TRANSLATE_NOOP("portal", "Para"),
        lambda r: tr("Distribuidores") if r.get("for_distributors") else tr("Clientes"),
        sort="for_distributors",
    ),
    Col(QT_TRANSLATE_NOOP("portal", "Descripción"), field("description"), sort="description"),
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
        for key, label in ASSETS.items():
            self.asset.addItem(tr(label), key)
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
            errors["quantity"] = tr("Escriba una cantidad mayor que cero.")
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
        if package is None:

            def create(api: ApiClient, cache: Cache) -> dict[str, Any]:
                answer: dict[str, Any] = api.post("/v1/price-packages", values)
                cache.apply_answer("price_package", answer)
                return answer

            self.run(create)
            return
        changes = {k: v for k, v in values.items() if package.get(k) != v}
        ident, version = str(package["id"]), package.get("version")

        def update(api: ApiClient, cache: Cache) -> dict[str, Any]:
            try:
                answer: dict[str, Any] = api.patch(f"/v1/price-packages/{ident}", changes, if_match=version)
            except ApiError as error:
                current = error.body.get("current")
                if error.code == ErrorCode.VERSION_CONFLICT.value and isinstance(current, dict):
                    cache.apply_answer("price_package", current)
                raise
            cache.apply_answer("price_package", answer)
            return answer

        if not changes:
            self.accept()
            return
        self.run(update)


class PricesPage(TabPage):
    entities = frozenset({"price_package"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.last_box: Any = None
        self.dialog: PackageDialog | None = None
        self.model = PagedModel(COLUMNS, context, self._load, parent=self)
        self.table = make_table(self.model, self)
        self.table.doubleClicked.connect(lambda *_: self.edit())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        title = QLabel(f"<b>{tr('Precios')}</b>", self)
        subtitle = QLabel(
            tr(
                "Administre precios de paquetes en Timbres y Puntos para sus clientes finales y, si tiene "
                "contratado Multinivel, para sus distribuidores."
            ),
            self,
        )
        subtitle.setWordWrap(True)
        subtitle.setEnabled(False)
        self.add_button = push_button(tr("Agregar…"), self, "addPackage", self.add)
        self.edit_button = push_button(tr("Modificar…"), self, "editPackage", self.edit)
        self.delete_button = push_button(tr("Eliminar"), self, "deletePackage", self.delete)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        self.notice = notice_label(self)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notice)
        self.model.loaded.connect(self._loaded)
        self._fitted = False
        self._update()

    @staticmethod
    def _load(cache: Cache, sort: str | None, desc: bool, limit: int, offset: int) -> list[dict[str, Any]]:
        # The server's order: by type (stamps first), clients' before distributors', smaller first.
        order = (
            [(sort, desc)] if sort else [("asset", True), ("for_distributors", False), ("quantity", False)]
        )
        return cache.query_entities("price_package", order=order, limit=limit, offset=offset)

    def refresh(self, changed: frozenset[str]) -> None:
        if self.context.session is not None and self.wants(changed):
            self.model.reload()

    def _loaded(self) -> None:
        if not self._fitted and self.model.rowCount():
            fit_columns(self.table, (9, 11, 18, 14, 14, 40))
            self._fitted = True
        self._update()

    def _update(self) -> None:
        chosen = selected_row(self.table, self.model) is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def show_notice(self, text: str, error: bool = False) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet("color: #c62828;" if error else "")
        self.notice.setVisible(bool(text))

    def add(self) -> PackageDialog:
        dialog = PackageDialog(self.context, None, self)
        dialog.done_ok.connect(
            lambda p: self.show_notice(tr("Se agregó el paquete «{d}».").format(d=p["description"]))
        )
        self.dialog = dialog
        dialog.open()
        return dialog

    def edit(self) -> PackageDialog | None:
        row = selected_row(self.table, self.model)
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
        row = selected_row(self.table, self.model)
        if row is None:
            return
        ident = str(row["id"])
        ask(
            self,
            tr("Precios"),
            tr("¿Realmente desea eliminar el paquete?"),
            lambda: self._delete(ident),
            informative=str(row.get("description") or ""),
        )

    def _delete(self, ident: str) -> None:
        def call(api: ApiClient, cache: Cache) -> None:
            api.delete(f"/v1/price-packages/{ident}")
            cache.apply_deleted("price_package", ident)

        def failed(error: BaseException) -> None:
            self.show_notice(error_text(error), error=True)
            inform(self, tr("Precios"), error_text(error), error=True)

        online(
            self.context,
            call,
            on_done=lambda _r: self.show_notice(tr("Se eliminó el paquete.")),
            on_error=failed,
            label=tr("Eliminar paquete"),
        )
