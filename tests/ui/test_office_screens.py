"""Issue 14, items 6–8 (what was left of them), through the real widgets of the main window over the
embedded default: the Timbrado actions wrap at 1024 px and show what the selection allows; every price
says IVA the same way (Timbres, Puntos, MKL, Precios), a free MKL is «Sin costo» and «Activar», never
«$0.00» and «Comprar»; the aula virtual says how to ask for one; secondary text keeps its contrast
(no disabled labels); Supr/Del wherever something can be removed."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from cmdesk.ui.compras.page import PurchasesPage, QuoteDialog
from cmdesk.ui.herramientas.precios import PricesPage
from cmdesk.ui.herramientas.reglas import RulesPage
from cmdesk.ui.kit.forms import secondary_color
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.page import SELECTION_ACTIONS, TimbradoPage
from tests.ui.portal_helpers import contrast, show_page

TIMEOUT = 30_000


def new_boxes(before: set[int]) -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.isVisible() and id(w) not in before
    ]


def open_boxes() -> set[int]:
    return {id(w) for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()}


# ---- 6. screens in an office -------------------------------------------------------------------------


def test_timbrado_fits_1024_and_its_actions_follow_the_selection(
    qtbot: Any, started_window: MainWindow
) -> None:
    page = show_page(started_window, "clientes.timbrado")
    assert isinstance(page, TimbradoPage)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy, timeout=TIMEOUT)
    # The page fits a 1024 px screen (less the window's frame): the row of buttons wraps instead.
    assert page.minimumSizeHint().width() <= 960
    started_window.resize(1000, 700)
    qtbot.wait(50)
    buttons = [b for b in page.buttons.values() if b.isVisible()]
    assert all(b.geometry().right() <= page.width() for b in buttons)
    # Nothing selected: no row of grey buttons, a hint; one selected: what it allows.
    page.view.clearSelection()
    qtbot.waitUntil(lambda: page.selection_hint.isVisible(), timeout=TIMEOUT)
    assert not any(page.buttons[name].isVisible() for name in SELECTION_ACTIONS)
    assert page.buttons["create"].isVisible() and page.buttons["import"].isVisible()
    page.view.selectionModel().select(
        page.model.index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    qtbot.waitUntil(lambda: page.buttons["transfer"].isVisible(), timeout=TIMEOUT)
    assert not page.selection_hint.isVisible() and page.buttons["reset"].isEnabled()
    started_window.resize(1366, 768)


# ---- 7. prices, help, contrast -------------------------------------------------------------------------


def test_every_price_says_iva_the_same_way_and_free_mkl_is_not_a_purchase(
    qtbot: Any, started_window: MainWindow
) -> None:
    page = show_page(started_window, "compras")
    assert isinstance(page, PurchasesPage)
    qtbot.waitUntil(lambda: bool(page.stamps.packages), timeout=TIMEOUT)
    for tab in (page.stamps, page.points):
        labels = [w.text() for w in tab.findChildren(QLabel)]
        assert "Total (IVA incluido)" in labels
        tab.quantity.setValue(1000)  # the longest detail is read whole
        assert tab.detail.width() >= tab.detail.fontMetrics().horizontalAdvance(tab.detail.text())
        tab.quantity.setValue(1)
    page.tabs.setCurrentWidget(page.mkl)
    mkl = page.mkl
    qtbot.waitUntil(lambda: "mkl_cfdi_explorer" in mkl.buttons, timeout=TIMEOUT)
    assert mkl.model.headerData(1, Qt.Orientation.Horizontal) == "Precio anual (IVA incluido)"
    precios = show_page(started_window, "herramientas.precios")  # the Precios table says the same
    assert isinstance(precios, PricesPage)
    titles = [
        precios.model.headerData(i, Qt.Orientation.Horizontal) for i in range(precios.model.columnCount())
    ]
    assert "Precio (IVA incluido)" in titles
    page = show_page(started_window, "compras")
    page.tabs.setCurrentWidget(mkl)
    free = mkl.model.row_texts(mkl.model.find("mkl_cfdi_explorer"))
    assert free[1] == "Sin costo" and "$0.00" not in free
    button = mkl.buttons["mkl_cfdi_explorer"]
    assert button.text() == "Activar" and "Sin costo" in button.toolTip()
    mkl.buy("mkl_cfdi_explorer")
    qtbot.waitUntil(lambda: isinstance(mkl.dialog, QuoteDialog) and mkl.dialog.isVisible(), timeout=TIMEOUT)
    dialog = mkl.dialog
    assert dialog is not None
    assert "no tiene costo" in dialog.text.text() and "cargo por" not in dialog.text.text()
    assert dialog.ok_button.text() == "Activar" and dialog.ok_button.isDefault()
    assert not dialog.pay_with_points.isVisibleTo(dialog)
    dialog.reject()


def test_the_aula_virtual_says_how_to_ask_for_one(started_window: MainWindow) -> None:
    page = show_page(started_window, "ayuda")
    html = page.browser.toHtml()  # type: ignore[attr-defined]
    assert "Cómo solicitarla" in page.browser.toPlainText()  # type: ignore[attr-defined]
    assert 'href="http://www.induxsoft.net/"' in html
    tail = page.browser.toPlainText().split("aula virtual", 1)[1]  # type: ignore[attr-defined]
    assert "www.induxsoft.net" in tail


def test_secondary_labels_are_dimmed_not_disabled(started_window: MainWindow) -> None:
    """Notes and captions use the palette's secondary role (≥ 4.5:1), never the disabled color."""
    pages: list[QWidget] = [started_window.header, started_window.page("compras")]
    pages += [started_window.page("facturacion"), started_window.page("alertas.calendario")]
    disabled = [
        label.text()[:40]
        for page in pages
        for label in page.findChildren(QLabel)
        if not label.isEnabled() and label.text()
    ]
    assert disabled == []
    caption = started_window.header.stamps.caption  # «Timbres» over the balance
    palette = caption.palette()
    assert palette.color(QPalette.ColorRole.WindowText) == secondary_color(started_window.palette())
    assert (
        contrast(palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window))
        >= 4.5
    )


# ---- 8. keyboard: Supr/Del ----------------------------------------------------------------------------


def test_supr_removes_where_something_can_be_removed(qtbot: Any, started_window: MainWindow) -> None:
    delete = QKeySequence(QKeySequence.StandardKey.Delete)
    # Reglas de alerta: a stored rule, Supr asks before deleting it.
    rules = show_page(started_window, "herramientas.alertas")
    assert isinstance(rules, RulesPage)
    assert rules.delete_shortcut.key() == delete and rules.delete_shortcut.parent() is rules.table
    qtbot.waitUntil(lambda: rules.model.rowCount() >= 2 and not rules.model.busy, timeout=TIMEOUT)
    rules.table.selectRow(0)
    before = open_boxes()
    rules.delete_shortcut.activated.emit()
    qtbot.wait(100)
    assert not new_boxes(before)  # a default rule (not stored) cannot be removed: nothing asked
    # The pending-commands panel: Supr discards the selected command (after asking).
    panel = started_window.show_pending_panel()
    assert panel.delete_shortcut.key() == delete and panel.delete_shortcut.parent() is panel.table
    panel.close()
    # Software: Supr on a file kept in the folder asks to remove it; elsewhere it does nothing.
    software = show_page(started_window, "software")
    assert software.delete_shortcut.key() == delete  # type: ignore[attr-defined]
    assert software.delete_shortcut.parent() is software.view  # type: ignore[attr-defined]
    software.view.setCurrentIndex(software.model.index(0, 0))  # type: ignore[attr-defined]
    assert software.remove_selected() is False  # type: ignore[attr-defined]


def test_cpd_and_dr_are_on_the_first_paint_with_the_line_down(qtbot: Any, started_window: MainWindow) -> None:
    """C.P.D./D.R. come from the cache's last known figures at once: a table built with the line down
    (nothing fetched) shows them in its first page, not «—» until a later refresh."""
    from cmdesk.services.connectivity import ConnectionState
    from cmdesk.ui.clientes.model import ClientsModel
    from cmdesk.ui.timbrado.model import COLUMN_KEYS, StampingAccountsModel

    session = started_window.session
    assert session is not None
    session._set_state(ConnectionState.OFFLINE)
    try:
        ctis = StampingAccountsModel(started_window.context)
        clients = ClientsModel(started_window.context)
        ctis.reload()
        clients.reload()
        qtbot.waitUntil(lambda: ctis.rowCount() > 0 and clients.rowCount() > 0, timeout=TIMEOUT)
        cpd = COLUMN_KEYS.index("cpd")
        shown = [ctis.index(r, cpd).data() for r in range(ctis.rowCount())]
        standard = [
            r for r in range(ctis.rowCount()) if ctis.row(r).kind == "standard" and ctis.row(r).active
        ]
        assert standard and all(shown[r] != "—" for r in standard)
        keys = [c.key for c in clients.columns]
        first = [clients.index(r, keys.index("cpd")).data() for r in range(clients.rowCount())]
        assert sum(1 for text in first if text not in ("—", "", None)) >= clients.rowCount() // 2
    finally:
        session._set_state(ConnectionState.ONLINE)


# ---- 8. keyboard: every dialog without a mouse --------------------------------------------------------


def keyboard_check(qtbot: Any, dialog: QWidget) -> list[str]:
    """What keeps `dialog` from working without a mouse: no default button (Enter), inputs the Tab key
    never reaches, Esc not closing it."""
    from PySide6.QtWidgets import (
        QAbstractSpinBox,
        QCheckBox,
        QComboBox,
        QLineEdit,
        QPlainTextEdit,
        QPushButton,
        QRadioButton,
        QTextEdit,
    )

    problems: list[str] = []
    dialog.show()
    qtbot.waitUntil(dialog.isVisible, timeout=TIMEOUT)
    buttons = [b for b in dialog.findChildren(QPushButton) if b.isVisibleTo(dialog)]
    if not any(b.isDefault() for b in buttons):
        problems.append("sin botón predeterminado")
    kinds = (QLineEdit, QComboBox, QAbstractSpinBox, QCheckBox, QRadioButton, QPlainTextEdit, QTextEdit)
    inputs = [
        w
        for w in dialog.findChildren(QWidget)
        if isinstance(w, kinds)
        and w.isVisibleTo(dialog)
        and w.isEnabled()
        and not (isinstance(w, QLineEdit) and w.isReadOnly())
        and not isinstance(w.parentWidget(), QComboBox | QAbstractSpinBox)
    ]
    chain: set[int] = set()
    widget = dialog.nextInFocusChain()
    for _ in range(500):
        if widget is dialog:
            break
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(dialog):
            chain.add(id(widget))
        widget = widget.nextInFocusChain()
    unreachable = [w.objectName() or type(w).__name__ for w in inputs if id(w) not in chain]
    if unreachable:
        problems.append("sin Tab: " + ", ".join(unreachable))
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    if dialog.isVisible():
        problems.append("Esc no lo cierra")
        dialog.close()
    return problems


def test_dialogs_work_without_a_mouse(qtbot: Any, started_window: MainWindow) -> None:
    timbrado = show_page(started_window, "clientes.timbrado")
    assert isinstance(timbrado, TimbradoPage)
    qtbot.waitUntil(lambda: timbrado.model.rowCount() > 0 and not timbrado.model.busy, timeout=TIMEOUT)
    standard = next(r for r in range(timbrado.model.rowCount()) if timbrado.model.row(r).kind == "standard")
    timbrado.view.selectRow(standard)
    found: dict[str, list[str]] = {}
    create = timbrado.create_account()
    assert create is not None
    create.unlimited.setChecked(True)
    found["Crear cuenta"] = keyboard_check(qtbot, create)
    # The RFC placeholder is read whole in its field.
    assert create.rfc.width() >= create.rfc.fontMetrics().horizontalAdvance(create.rfc.placeholderText())
    transfer = timbrado.transfer_stamps()
    assert transfer is not None
    found["Transferir timbres"] = keyboard_check(qtbot, transfer)
    for name, opener in (
        ("Transferencia masiva", timbrado.bulk_transfer),
        ("Venta automática", timbrado.auto_sale),
        ("Restablecer contraseña", timbrado.reset_password),
    ):
        dialog = opener()
        assert dialog is not None, name
        found[name] = keyboard_check(qtbot, dialog)
    clientes = show_page(started_window, "clientes.clientes")
    found["Agregar cliente"] = keyboard_check(qtbot, clientes.open_form(None))  # type: ignore[attr-defined]
    software = show_page(started_window, "software")
    options = software.show_options()  # type: ignore[attr-defined]
    if options is not None:
        found["Opciones de descarga"] = keyboard_check(qtbot, options)
    rules = show_page(started_window, "herramientas.alertas")
    assert isinstance(rules, RulesPage)
    found["Regla de alerta"] = keyboard_check(qtbot, rules.add())
    precios = show_page(started_window, "herramientas.precios")
    assert isinstance(precios, PricesPage)
    found["Paquete de precio"] = keyboard_check(qtbot, precios.add())
    settings = started_window.show_settings()
    assert settings is not None
    found["Configuración"] = keyboard_check(qtbot, settings)
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_names_and_states_are_not_crushed_at_1024(qtbot: Any, started_window: MainWindow) -> None:
    """Clientes' name and Software's Estado keep a readable width on a 1024 px screen (the table
    scrolls sideways), and take the room left on a wide one; at 1280 px Clientes needs no scrolling."""
    from cmdesk.ui.clientes.model import COLUMN_INDEX
    from cmdesk.ui.software.model import STATUS_COLUMN

    clientes = show_page(started_window, "clientes.clientes")
    view = clientes.view  # type: ignore[attr-defined]
    name = COLUMN_INDEX["name"]
    readable = view.fontMetrics().horizontalAdvance("Alejandro López Morales")
    for width in (1000, 1366, 1920):
        started_window.resize(width, 740)
        qtbot.wait(50)
        assert view.columnWidth(name) >= readable
        total = sum(view.columnWidth(i) for i in range(view.model().columnCount()))
        assert total >= view.viewport().width() - 2  # no gap: the name takes the room left
    # From 1280 px on, every column shows without scrolling sideways, the last links («Puntos…») too.
    started_window.resize(1280, 740)
    qtbot.wait(50)
    assert view.horizontalScrollBar().maximum() == 0
    software = show_page(started_window, "software")
    tree = software.view  # type: ignore[attr-defined]
    started_window.resize(1000, 740)
    qtbot.wait(50)
    assert tree.columnWidth(STATUS_COLUMN) >= tree.fontMetrics().horizontalAdvance("Otro equipo lo está")
    started_window.resize(1366, 768)


def test_an_empty_table_says_so_in_readable_text(qtbot: Any, started_window: MainWindow) -> None:
    """The «no rows» text of every table is secondary text (≥ 4.5:1 on the table's base), not the
    disabled color (≈ 1.6:1): its darkest pixel is checked on the table's own picture."""
    from cmdesk.ui.kit.table import Table

    table = Table()
    qtbot.addWidget(table)
    table.empty_text = "Elija el periodo y pulse Consultar."
    from PySide6.QtGui import QStandardItemModel

    table.setModel(QStandardItemModel(0, 2, table))
    table.resize(400, 200)
    table.show()
    image = table.viewport().grab().toImage()
    base = table.palette().color(QPalette.ColorRole.Base)
    darkest = min(
        (QColor(image.pixel(x, y)) for x in range(image.width()) for y in range(image.height())),
        key=lambda c: c.lightness(),
    )
    assert contrast(darkest, base) >= 4.5


def test_alerts_show_only_what_the_selection_allows(qtbot: Any, started_window: MainWindow) -> None:
    from cmdesk.ui.alertas.page import AlertsPage

    page = show_page(started_window, "alertas.alertas")
    assert isinstance(page, AlertsPage)
    qtbot.waitUntil(lambda: not page.model.busy, timeout=TIMEOUT)
    page.table.clearSelection()
    buttons = (page.seen_button, page.transfer_button, page.auto_sale_button, page.buy_button)
    assert page.selection_hint.isVisibleTo(page) and not any(b.isVisibleTo(page) for b in buttons)
    rows = page.model.records()
    cti = next((r for r in rows if (r.get("subject") or {}).get("type") == "stamping_account"), None)
    if cti is not None:
        page.table.selectRow(rows.index(cti))
        assert page.transfer_button.isVisibleTo(page) and page.seen_button.isVisibleTo(page)
        assert not page.buy_button.isVisibleTo(page) and not page.selection_hint.isVisibleTo(page)


def test_every_page_fits_a_1024_screen(started_window: MainWindow) -> None:
    """No page (the Bitácora's filters wrap) and no notice in the status bar (cut at the edge, whole in
    its tooltip) makes the window wider than a 1024×768 screen."""
    for name in list(started_window.pages):
        page = started_window.pages[name]
        assert page.minimumSizeHint().width() <= 1000, name
    started_window.status.set_notice("Un aviso muy largo " * 20)
    assert started_window.minimumSizeHint().width() <= 1024
    started_window.status.set_notice(None)
