"""Save PNGs of Distribuidores, Facturación, Compras and Herramientas — each page and each dialog — to
`docs/screenshots/portal/`.

    python scripts/screenshots_portal.py [--out docs/screenshots/portal]

Runs offscreen against the embedded default in a temporary CMDESK_HOME (the demo distributor's data),
driving the real widgets as a person would; nothing of the user's own data is touched.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from screens_kit import ROOT, Shots, run


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, ROOT / "docs" / "screenshots" / "portal", "cmdesk-portal-shots-", _shoot, argv)


def _shoot(out: Path, _home: Path) -> int:
    from PySide6.QtWidgets import QMessageBox, QWidget

    from cmdesk.ui.compras import PurchasesPage
    from cmdesk.ui.distribuidores import DistributorsPage, convert_client
    from cmdesk.ui.facturacion import BillingPage
    from cmdesk.ui.herramientas import PricesPage, SettingsPage, UsersPage
    from cmdesk.ui.kit.table import select_id

    kit = Shots(out)
    pump, wait, save = kit.pump, kit.wait, kit.save

    def last_box(page: Any) -> QMessageBox:
        wait(lambda: isinstance(getattr(page, "last_box", None), QMessageBox) and page.last_box.isVisible())
        box: QMessageBox = page.last_box
        return box

    window = kit.main_window()

    def show(name: str) -> Any:
        page = window.page(name)
        current: QWidget | None = page
        from PySide6.QtWidgets import QStackedWidget, QTabWidget

        while current is not None and current is not window:
            stack = current.parentWidget()
            tabs = stack.parentWidget() if stack is not None else None
            if isinstance(stack, QStackedWidget) and isinstance(tabs, QTabWidget):
                tabs.setCurrentWidget(current)
            current = stack
        pump(0.5)
        return page

    # ---- Distribuidores
    dist: DistributorsPage = show("clientes.distribuidores")
    wait(lambda: dist.model.rowCount() > 0)
    heaven = next(r for r in dist.model.rows() if r["status"] == "active")
    select_id(dist.table, heaven["id"])
    save(window, "distribuidores")
    dist.set_status("unvalidated")
    wait(lambda: all(r["status"] == "unvalidated" for r in dist.model.rows()) and dist.model.rowCount())
    save(window, "distribuidores-sin-validar")
    dist.set_status("active")
    wait(lambda: dist.model.find(heaven["id"]) >= 0)
    select_id(dist.table, heaven["id"])
    dist.act("suspend")
    save(last_box(dist), "distribuidores-confirmar-suspender")
    last_box(dist).reject()
    dist.act("transfer_stamps")
    dist.dialog.quantity.setValue(500)
    dist.dialog.amount.setText("250.00")
    save(dist.dialog, "distribuidores-transferir")
    dist.dialog.reject()
    wizard = dist.add_distributor()
    assert wizard is not None
    wizard.email.setText("demo@cmdesk.mx")
    wizard.mobile.setText("9611000000")
    wizard.ok_button.click()
    save(wizard, "distribuidores-alta-paso1-error")
    wizard.email.setText("admin@nortesoft.mx")
    wizard.mobile.setText("9617001122")
    wizard.ok_button.click()
    wizard.name.setText("Norte Soft S.A. de C.V.")
    wizard.rfc.setText("NSO1604")
    wizard.ok_button.click()
    save(wizard, "distribuidores-alta-paso2")
    wizard.reject()
    cache = window.session.cache
    client = sorted(cache.all("client"), key=lambda c: c["nic"])[-1]
    convert = convert_client(window.context, client["id"], dist)
    save(convert, "distribuidores-convertir-cliente")
    convert.reject()

    # ---- Facturación
    billing: BillingPage = show("facturacion")
    sales = billing.sales
    wait(lambda: sales.clients.rowCount() > 0)
    best = max(sales.clients.rows(), key=lambda r: r["count"])
    sales.choose_client(best["client_id"])
    wait(lambda: sales.sales.rowCount() == best["count"])
    for row in sales.sales.rows()[:2]:
        sales.sales.set_checked(str(row["id"]), True)
    save(window, "facturacion-por-facturar")
    dialog = sales.invoice()
    assert dialog is not None
    dialog.reference.setText("F000234")
    save(dialog, "facturacion-registrar-factura")
    dialog.reject()
    billing.tabs.setCurrentWidget(billing.codes)
    wait(lambda: billing.codes.model.rowCount() > 0)
    generate = billing.codes.generate()
    generate.quantity.setValue(20)
    generate.amount.setText("50.00")
    save(generate, "facturacion-generar-codigo")
    made: list[Any] = []
    generate.done_ok.connect(made.append)
    generate.ok_button.click()
    wait(lambda: made)
    save(billing.codes.dialog, "facturacion-codigo-generado")
    billing.codes.dialog.accept()
    wait(lambda: billing.codes.model.find(made[0]["code"]["id"]) >= 0)
    save(window, "facturacion-codigos-de-abono")
    select_id(billing.codes.view, made[0]["code"]["id"])
    billing.codes.cancel_code()
    save(last_box(billing.codes), "facturacion-cancelar-codigo")
    last_box(billing.codes).reject()
    billing.tabs.setCurrentWidget(billing.invoices)
    wait(lambda: billing.invoices.model.rowCount() > 0)
    save(window, "facturacion-facturas")

    # ---- Compras
    compras: PurchasesPage = show("compras")
    wait(lambda: bool(compras.stamps.packages))
    compras.stamps.select("stamps_10000")
    save(window, "compras-timbres")
    compras.stamps.buy()
    save(last_box(compras.stamps), "compras-confirmar-compra")
    last_box(compras.stamps).reject()
    compras.tabs.setCurrentWidget(compras.points)
    save(window, "compras-puntos")
    compras.tabs.setCurrentWidget(compras.mkl)
    wait(lambda: "mkl_nomicloud" in compras.mkl.buttons)
    save(window, "compras-mkl")
    compras.mkl.buy("mkl_nomicloud")
    wait(lambda: compras.mkl.dialog is not None and compras.mkl.dialog.isVisible())
    save(compras.mkl.dialog, "compras-cotizacion-mkl")
    compras.mkl.dialog.reject()
    compras.tabs.setCurrentWidget(compras.subscriptions)
    wait(lambda: compras.subscriptions.model.rowCount() > 0)
    save(window, "compras-suscripciones")

    # ---- Herramientas
    prices: PricesPage = show("herramientas.precios")
    wait(lambda: prices.model.rowCount() > 0)
    save(window, "herramientas-precios")
    package = prices.add()
    package.quantity.setValue(100)
    package.price.setText("$500.00")
    package.ok_button.click()
    wait(lambda: package.error("quantity") and not package.busy)
    save(package, "herramientas-precios-agregar-duplicado")
    package.reject()
    users: UsersPage = show("herramientas.usuarios")
    wait(lambda: users.model.rowCount() > 0)
    save(window, "herramientas-usuarios")
    new = users.new_user()
    new.email.setText("ninalici@hotmail.com")
    new.mobile.setText("9611234567")
    save(new, "herramientas-usuarios-nuevo")
    new.ok_button.click()
    save(new, "herramientas-usuarios-nuevo-paso2")
    new.reject()
    select_id(users.table, str(users.model.row(0)["id"]))
    users.delete()
    first = last_box(users)
    next(b for b in first.buttons() if b.objectName() == "yesButton").click()
    wait(lambda: users.last_box is not first and users.last_box.isVisible())
    save(users.last_box, "herramientas-usuarios-no-maestro")
    users.last_box.accept()
    settings: SettingsPage = show("herramientas.configuracion")
    wait(lambda: settings.settings is not None)
    save(window, "herramientas-configuracion")
    settings.edit()
    settings.points_pcc.setChecked(True)
    settings.price.setText("0.50")
    save(window, "herramientas-configuracion-editar")
    settings.cancel()

    return kit.finish(window)


if __name__ == "__main__":
    sys.exit(main())
