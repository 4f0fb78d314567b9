"""The Clientes sub-tab (page `clientes.clientes`): the client portfolio as the portal shows it.

- The table (`ClientsModel`, paged from the cache, sorted and filtered in SQL) with the portal's
  columns; the CTI ids under each name; a star (Favoritos) and a color tag set with a click on the
  cell; the row's actions (Licencias, Transferir timbres, Transferir puntos) as links.
- Search (API.md's `q`: NIC, names, RFC, phones, e-mails, CTI ids) as the user types, 150 ms after the
  last keystroke, read in the cache pool; Todos / Favoritos / Bajas; a color filter; the manual's twelve
  orders in «Ordenar por», and the column headers.
- Classifying one or many selected clients (context menu, or the star and color cells), which queues a
  `set_tags` command (it shows at once, marked pending until the server has it).
- Agregar cliente, Editar, Asignar perfil admin, the client's detail window, Transferir (the Timbrado
  tab's `TransferDialog`), and the export of the current view to Excel or CSV.

What it does goes through `clientes.actions`; the table reloads when the cache says clients changed
(`refresh`, while the page is on screen; when it is shown next otherwise).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QToolButton,
    QWidget,
)

from cmdesk.domain import names
from cmdesk.domain.forecast import RiskBand
from cmdesk.services import commands, export
from cmdesk.ui import locale as fmt
from cmdesk.ui.clientes import actions
from cmdesk.ui.clientes.delegates import ActionsDelegate, ColorDelegate, NameDelegate, two_line_height
from cmdesk.ui.clientes.model import (
    COLUMN_INDEX,
    COLUMNS,
    TWELVE_ORDERS,
    ClientRow,
    ClientsModel,
    client_query,
    tr,
)
from cmdesk.ui.kit import forecasts, labels
from cmdesk.ui.kit.cells import TextCells
from cmdesk.ui.kit.forms import hbox, vbox
from cmdesk.ui.kit.messages import error_text, inform
from cmdesk.ui.kit.table import Query, fill_column, make_table
from cmdesk.ui.tabs import AppContext, TabPage

log = logging.getLogger(__name__)

SEARCH_DELAY_MS = 150
# Room beside a column's widest text (its cells keep a margin of their own).
PAD = 12


def swatch_icon(color: str | None, size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    swatch = labels.COLOR_SWATCHES.get(str(color))
    pixmap.fill(QColor(swatch) if swatch else QColor(0, 0, 0, 0))
    return QIcon(pixmap)


def column_for_sort(sort: str) -> tuple[int, Qt.SortOrder] | None:
    """The column (and direction) whose header shows the order `sort`, if one does."""
    for index, column in enumerate(COLUMNS):
        order = column.shows_sort(sort, False)
        if order is not None:
            return index, order
    return None


class ClientsPage(TabPage):
    entities = frozenset({"client", "stamping_account", "account"})

    view_updated = Signal()  # the table shows the latest query's first page

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = ClientsModel(context, self)
        self._started = False
        self._selected_before: list[str] = []
        self._windows: list[QWidget] = []
        self._synced_hooked = False
        self._build()
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.loaded.connect(self._loaded)
        self.model.counted.connect(self._counted)
        self.model.failed.connect(
            lambda text: self.summary.setText(tr("No se pudo leer: {e}").format(e=text))
        )

    # ---- building ------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setClearButtonEnabled(True)
        self.search.setPlaceholderText(
            tr("Buscar por NIC, nombre, RFC, teléfono, correo o cuenta de timbrado")
        )
        self.search.setMinimumWidth(220)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self.search_timer.start())
        self.search.returnPressed.connect(self.apply_filters)
        search_button = QPushButton(tr("Buscar"), self)
        search_button.setObjectName("searchButton")
        search_button.clicked.connect(self.apply_filters)

        self.category_group = QButtonGroup(self)
        self.category_group.setExclusive(True)
        categories = QHBoxLayout()
        categories.setSpacing(0)
        self.category_buttons: dict[str, QToolButton] = {}
        for key, text in labels.items(names.CLIENT_CATEGORIES):
            button = QToolButton(self)
            button.setObjectName(f"category_{key}")
            button.setText(text)
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.category_group.addButton(button)
            self.category_buttons[key] = button
            categories.addWidget(button)
        self.category_buttons["all"].setChecked(True)
        self.category_group.buttonToggled.connect(self._category_toggled)

        self.color_filter = QComboBox(self)
        self.color_filter.setObjectName("colorFilter")
        self.color_filter.addItem(tr("Todos los colores"), None)
        for name, label in labels.items(names.COLORS):
            self.color_filter.addItem(swatch_icon(name), label, name)
        self.color_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        # Riesgo: the clients that run out within 7, 15 or 30 days (or without use), soonest first.
        self.risk_filter = forecasts.risk_combo(self, "riskFilter")
        self.risk_filter.currentIndexChanged.connect(lambda _i: self._risk_chosen())

        self.order = QComboBox(self)
        self.order.setObjectName("order")
        for key, label in TWELVE_ORDERS:
            self.order.addItem(label, key)
        self.order.setPlaceholderText(tr("Orden por columna"))
        for combo in (self.order, self.color_filter, self.risk_filter):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.order.setMinimumContentsLength(22)
        self.color_filter.setMinimumContentsLength(13)
        self.risk_filter.setMinimumContentsLength(16)
        self.order.currentIndexChanged.connect(self._order_chosen)

        self.add_button = QPushButton(tr("Agregar cliente"), self)
        self.add_button.setObjectName("addClient")
        self.add_button.clicked.connect(lambda: self.open_form(None))
        self.export_button = QPushButton(tr("Exportar"), self)
        self.export_button.setObjectName("export")
        export_menu = QMenu(self.export_button)
        export_menu.addAction(tr("A Excel (.xlsx)…"), lambda: self.choose_export("xlsx"))
        export_menu.addAction(tr("A CSV (.csv)…"), lambda: self.choose_export("csv"))
        self.export_button.setMenu(export_menu)

        # Two rows, so the page fits a narrow window (the main window can be 720 px wide).
        top = hbox((self.search, 1), search_button, 12, self.add_button, self.export_button)

        second = hbox(categories, 8, self.color_filter, 8, self.risk_filter, 12)
        order_label = QLabel(tr("Ordenar por:"), self)
        order_label.setBuddy(self.order)
        second.addWidget(order_label)
        second.addWidget(self.order)
        second.addStretch(1)
        self.summary = QLabel(self)
        self._summary_query: Query | None = None  # the query the summary speaks of
        self.summary.setObjectName("summary")
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        second.addWidget(self.summary)

        # The header's clicks choose among the manual's orders (`_header_clicked`), not Qt's sort.
        self.view = make_table(
            self.model,
            self,
            "clientsTable",
            stretch=COLUMN_INDEX["name"],
            sortable=False,
            multiple=True,
            empty_text=tr("Ningún cliente coincide con la búsqueda o el filtro."),
        )
        self.view.setMouseTracking(True)
        # Always there: the columns keep their widths as a search empties and fills the table.
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.clicked.connect(self._clicked)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.activated.connect(self._activated)
        self.view.verticalHeader().setDefaultSectionSize(two_line_height(self.view.fontMetrics()))
        header = self.view.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self._header_clicked)
        # Every other cell is plain text, painted from the model's rows (`TextCells`).
        self.view.setItemDelegate(TextCells(self.model, self.view))
        self.view.setItemDelegateForColumn(COLUMN_INDEX["name"], NameDelegate(self.view))
        self.view.setItemDelegateForColumn(COLUMN_INDEX["color"], ColorDelegate(self.view))
        self.actions_delegate = ActionsDelegate(self.view)
        self.actions_delegate.activated.connect(self._row_action)
        self.view.setItemDelegateForColumn(COLUMN_INDEX["actions"], self.actions_delegate)
        metrics = self.view.fontMetrics()
        # Each column as wide as its widest text and `PAD`: the fifteen fit 1280 px, links included.
        widths = {
            "favorite": metrics.horizontalAdvance("★") + 18,
            "color": metrics.horizontalAdvance(tr("Color")) + PAD,
            "nic": metrics.horizontalAdvance("0000000") + PAD,
            "credited": metrics.horizontalAdvance(tr("Abonados")) + PAD,
            "issued": metrics.horizontalAdvance("000,000") + PAD,
            "cpd": metrics.horizontalAdvance("000.00") + PAD,
            "days_left": metrics.horizontalAdvance("00,000") + PAD,
            "stamps": metrics.horizontalAdvance("000,000") + PAD,
            "points": metrics.horizontalAdvance("000,000") + PAD,
            "created_at": metrics.horizontalAdvance("00/00/0000") + PAD,
            "last_purchase_at": metrics.horizontalAdvance("00/00/0000") + PAD,
            "last_issue_at": metrics.horizontalAdvance("00/00/0000") + PAD,
            "active": metrics.horizontalAdvance(tr("Activo")) + PAD,
            "actions": ActionsDelegate.width_for(metrics) + 4,
        }
        for key, width in widths.items():
            self.view.setColumnWidth(COLUMN_INDEX[key], width)
        # The name takes the room left, never less than a readable name (the table scrolls instead).
        readable = metrics.horizontalAdvance("Alejandro López Morales") + 24
        fill_column(self.view, COLUMN_INDEX["name"], readable)
        self.view.setMinimumWidth(400)
        self._show_sort("name")

        vbox(self, top, second, (self.view, 1))

        find = QAction(self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self._focus_search)
        self.addAction(find)

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _category_toggled(self, _button: object, on: bool) -> None:
        if on:
            self.apply_filters()

    # ---- the query -----------------------------------------------------------------------------------

    def current_query(self) -> Query:
        category = next((k for k, b in self.category_buttons.items() if b.isChecked()), "all")
        return client_query(
            self.search.text().strip(),
            category=category,
            color=self.color_filter.currentData(),
            risk=self.risk_filter.currentData(),
            sort=self.model.query.sort or "name",
        )

    def apply_filters(self) -> None:
        """Read the view again with the search box and filters as they are now."""
        self.search_timer.stop()
        query = self.current_query()
        filtered = bool(self.search.text().strip()) or query != client_query("", sort=query.sort or "name")
        self.view.empty_text = (  # type: ignore[attr-defined]
            tr("Ningún cliente coincide con la búsqueda o el filtro.")
            if filtered
            else tr("Aún no tiene clientes: agréguelos con «Agregar cliente».")
        )
        if query != self.model.query or not self._started:
            self._started = True
            self.model.set_query(query)

    def _risk_chosen(self) -> None:
        """A risk band puts the clients that run out first at the top (the Riesgo view); those without
        use, by name. Both orders are an index range of the band."""
        risk = self.risk_filter.currentData()
        if risk is not None:
            sort = "name" if risk == RiskBand.NO_USE else "days_left"
            self._show_sort(sort)
            self.model.query = self.model.query.with_(sort=sort)
        self.apply_filters()

    def set_sort(self, sort: str) -> None:
        """One of the cache's orders (the twelve of the manual, or a column's)."""
        self._show_sort(sort)
        if sort != self.model.query.sort:
            self.model.set_query(self.current_query().with_(sort=sort))

    def _order_chosen(self, index: int) -> None:
        if index >= 0:
            self.set_sort(str(self.order.itemData(index)))

    def _show_sort(self, sort: str) -> None:
        """The combo and the header's arrow show `sort`."""
        combo = next((i for i, (k, _l) in enumerate(TWELVE_ORDERS) if k == sort), -1)
        self.order.blockSignals(True)
        self.order.setCurrentIndex(combo)
        self.order.blockSignals(False)
        header = self.view.horizontalHeader()
        place = column_for_sort(sort)
        header.blockSignals(True)
        if place is None:
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        else:
            header.setSortIndicator(place[0], place[1])
        header.blockSignals(False)

    def _header_clicked(self, section: int) -> None:
        column = COLUMNS[section]
        sort = self.model.query.sort or "name"
        if column.sort is None:
            self._show_sort(sort)  # not sortable: keep the arrow where it was
            return
        current = column_for_sort(sort)
        # A new column starts ascending (the numbers and dates: largest / newest first reads better).
        if current is not None and current[0] == section:
            descending = current[1] == Qt.SortOrder.AscendingOrder
        else:
            descending = column.kind in ("number", "date")
        self.set_sort(column.sort_key(descending) or "name")

    def refresh(self, changed: frozenset[str]) -> None:
        self._hook_synced()
        self._refresh_windows(changed)  # the client windows follow the cache, shown or not
        super().refresh(changed)

    def reload(self, changed: frozenset[str]) -> None:
        if not self._started:
            self.apply_filters()
        else:
            self.model.reload()

    def _refresh_windows(self, changed: frozenset[str]) -> None:
        """The open client windows follow the cache too (their records, movements, licenses…)."""
        if not self._windows:
            return  # (and the detail window's module stays out of the cold start)
        from cmdesk.ui.clientes.detail import ENTITIES, ClientDetailWindow

        for window in self._windows:
            if (
                isinstance(window, ClientDetailWindow)
                and window.isVisible()
                and ("*" in changed or changed & ENTITIES)
            ):
                window.reload()

    def _remember_selection(self) -> None:
        self._selected_before = [r.id for r in self.selected_rows()]

    def _counted(self, total: int) -> None:
        text = tr("{n} clientes").format(n=fmt.number(total)) if total != 1 else tr("1 cliente")
        self._show_summary(text)

    def _show_summary(self, text: str) -> None:
        query = self.model.query
        if query.q or query.get("color") or query.get("risk") or query.get("category", "all") != "all":
            text += " " + tr("(con la búsqueda o el filtro)")
        self.summary.setText(text)
        # A fixed size, as wide as its longest text yet: a new text of another width would lay the page
        # out again (a label of a fixed size does not), which repaints all of it, the table too.
        label = self.summary
        hint = label.sizeHint()
        if hint.width() > label.minimumWidth() or label.maximumHeight() != hint.height():
            label.setFixedSize(max(label.minimumWidth(), hint.width()), hint.height())
        self._summary_query = query

    def _loaded(self) -> None:
        if not self.model.exact and self.model.query != self._summary_query:
            # Another search or filter: its count comes once the user stops typing.
            self._show_summary(tr("Más de {n} clientes").format(n=fmt.number(self.model.rowCount())))
        if self._selected_before:
            selection = self.view.selectionModel()
            for client_id in self._selected_before:
                row = self.model.row_of(client_id)
                if row >= 0:
                    selection.select(
                        self.model.index(row, 0),
                        selection.SelectionFlag.Select | selection.SelectionFlag.Rows,
                    )
            self._selected_before = []
        self.view_updated.emit()

    # ---- selection and classification ---------------------------------------------------------------

    def selected_rows(self) -> list[ClientRow]:
        selection = self.view.selectionModel()
        if selection is None:
            return []
        rows = sorted({i.row() for i in selection.selectedRows()})
        return [r for r in (self.model.row_at(i) for i in rows) if r is not None]

    def _targets(self, row: int) -> list[ClientRow]:
        """The clicked row, or the whole selection when the clicked row is part of it."""
        selected = self.selected_rows()
        clicked = self.model.row_at(row)
        if clicked is None:
            return selected
        if any(r.id == clicked.id for r in selected):
            return selected
        return [clicked]

    def set_tags(self, rows: list[ClientRow], **tags: Any) -> None:
        """Favoritos / Bajas / color of `rows` (queued; shown at once as pending)."""
        ids = [r.id for r in rows if not commands.is_local(r.id)]
        if len(ids) < len(rows):
            inform(
                self,
                tr("Clasificar clientes"),
                tr("Un cliente nuevo se clasifica cuando ya está registrado en el servidor."),
                error=True,
            )
        if ids:
            actions.set_tags(self.context, ids, parent=self, **tags).run()

    def _clicked(self, index: Any) -> None:
        column = COLUMNS[index.column()]
        row = self.model.row_at(index.row())
        if row is None:
            return
        if column.kind == "favorite":
            self.set_tags(self._targets(index.row()), favorite=not row.data.get("favorite"))
        elif column.kind == "color":
            rect = self.view.visualRect(index)
            self.color_menu(self._targets(index.row())).popup(
                self.view.viewport().mapToGlobal(rect.bottomLeft())
            )

    def color_menu(self, rows: list[ClientRow], parent: QWidget | None = None) -> QMenu:
        menu = QMenu(tr("Color"), parent or self)
        menu.setObjectName("colorMenu")
        for name, label in labels.items(names.COLORS):
            action = menu.addAction(swatch_icon(name), label)
            action.setData(name)
            action.triggered.connect(lambda _c=False, n=name: self.set_tags(rows, color=n))
        menu.addSeparator()
        clear = menu.addAction(tr("Sin color"))
        clear.setData("none")
        clear.triggered.connect(lambda _c=False: self.set_tags(rows, color=None))
        return menu

    def context_menu_for(self, rows: list[ClientRow]) -> QMenu:
        """The menu of the selected clients (built apart so tests can trigger its actions)."""
        menu = QMenu(self)
        menu.setObjectName("clientMenu")
        if not rows:
            menu.addAction(tr("Agregar cliente…"), lambda: self.open_form(None))
            return menu
        one = rows[0] if len(rows) == 1 else None
        if one is not None:
            menu.addAction(tr("Ver detalle…"), lambda: self.open_detail(one.id)).setObjectName("detail")
            menu.addAction(tr("Editar…"), lambda: self.open_form(one.id)).setObjectName("edit")
            menu.addAction(
                tr("Asignar perfil admin…"), lambda: self.open_admin_profile(one.id)
            ).setObjectName("admin")
            menu.addSeparator()
        all_favorite = all(r.data.get("favorite") for r in rows)
        all_dropped = all(r.data.get("dropped") for r in rows)
        fav = menu.addAction(
            tr("Quitar de Favoritos") if all_favorite else tr("Agregar a Favoritos"),
            lambda: self.set_tags(rows, favorite=not all_favorite),
        )
        fav.setObjectName("favorite")
        drop = menu.addAction(
            tr("Quitar de Bajas") if all_dropped else tr("Marcar como Baja"),
            lambda: self.set_tags(rows, dropped=not all_dropped),
        )
        drop.setObjectName("dropped")
        colors = self.color_menu(rows, menu)
        colors.setTitle(tr("Color"))
        menu.addMenu(colors)
        if one is not None:
            menu.addSeparator()
            menu.addAction(tr("Licencias…"), lambda: self.open_detail(one.id, "licenses"))
            menu.addAction(tr("Transferir timbres…"), lambda: self.open_transfer("stamps", one.id))
            menu.addAction(tr("Transferir puntos…"), lambda: self.open_transfer("points", one.id))
            menu.addSeparator()
            menu.addAction(tr("Estado de cuenta…"), lambda: self.open_statement(one.id)).setObjectName(
                "statement"
            )
            menu.addAction(tr("Historial…"), lambda: self.open_history(one.id)).setObjectName("history")
            menu.addAction(
                tr("Convertir cliente en distribuidor…"), lambda: self.open_convert(one.id)
            ).setObjectName("convert")
        return menu

    def open_history(self, client_id: str) -> Any:
        from cmdesk.ui.bitacora import open_history

        row = self.model.row_at(self.model.row_of(client_id))
        title = str(row.data.get("name") or "") if row is not None else client_id
        self.dialog = self._keep(open_history(self.context, "client", client_id, title, self))
        return self.dialog

    def open_statement(self, client_id: str) -> Any:
        from cmdesk.ui.estados import open_statement

        row = self.model.row_at(self.model.row_of(client_id))
        title = str(row.data.get("name") or "") if row is not None else client_id
        self.dialog = self._keep(open_statement(self.context, "client", client_id, title, self))
        return self.dialog

    def _context_menu(self, point: QPoint) -> None:
        index = self.view.indexAt(point)
        rows = self._targets(index.row()) if index.isValid() else self.selected_rows()
        self.context_menu_for(rows).popup(self.view.viewport().mapToGlobal(point))

    def _double_clicked(self, index: Any) -> None:
        if COLUMNS[index.column()].kind in ("favorite", "color", "actions"):
            return
        row = self.model.row_at(index.row())
        if row is not None:
            self.open_detail(row.id)

    def _activated(self, index: Any) -> None:
        # Enter on a row (the keyboard's double-click); the mouse's goes through _double_clicked.
        if self.view.hasFocus() and not self.view.underMouse():
            self._double_clicked(index)

    def _row_action(self, row: int, action: str) -> None:
        client = self.model.row_at(row)
        if client is None:
            return
        if action == "licenses":
            self.open_detail(client.id, "licenses")
        else:
            self.open_transfer(action, client.id)

    # ---- windows and dialogs -----------------------------------------------------------------------

    def _keep(self, widget: QWidget) -> QWidget:
        self._windows = [w for w in self._windows if w.isVisible()]
        self._windows.append(widget)
        return widget

    def _client(self, client_id: str) -> dict[str, Any] | None:
        """The client as the cache has it now (an indexed read by id: the form opens with it)."""
        session = self.context.session
        cache = session.cache if session is not None else None
        return cache.get("client", client_id) if cache is not None else None

    def open_convert(self, client_id: str) -> Any:
        """«Convertir cliente en distribuidor» (the manual's Distribuidores chapter), for this client."""
        from cmdesk.ui.distribuidores import convert_client

        return self._keep(convert_client(self.context, client_id, self))

    def open_form(self, client_id: str | None) -> Any:
        from cmdesk.ui.clientes.client_form import ClientForm

        data = self._client(client_id) if client_id else None
        if client_id and data is None:
            return None
        form = ClientForm(self.context, data, self)
        form.open()
        return self._keep(form)

    def open_admin_profile(self, client_id: str) -> Any:
        from cmdesk.ui.clientes.admin_profile import AdminProfileDialog

        data = self._client(client_id)
        if data is None:
            return None
        dialog = AdminProfileDialog(self.context, data, self)
        dialog.open()
        return self._keep(dialog)

    def open_detail(self, client_id: str, tab: str | None = None) -> Any:
        from cmdesk.ui.clientes.detail import ClientDetailWindow

        for window in self._windows:
            if (
                isinstance(window, ClientDetailWindow)
                and window.client_id == client_id
                and window.isVisible()
            ):
                window.show_tab(tab)
                window.raise_()
                window.activateWindow()
                return window
        window = ClientDetailWindow(self.context, client_id, self, tab=tab)
        window.show()
        return self._keep(window)

    def open_transfer(self, asset: str, client_id: str) -> Any:
        """Transferir timbres (to one of the client's standard CTIs) or puntos (to the client)."""
        from cmdesk.ui.timbrado.transfer_dialog import TransferDialog

        row = self.model.row_at(self.model.row_of(client_id))
        ctis = list(row.cti_ids) if row is not None else []
        return self._keep(TransferDialog.for_client(self.context, asset, client_id, ctis, parent=self))

    # ---- export ------------------------------------------------------------------------------------

    def choose_export(self, kind: str) -> None:
        suffix = "xlsx" if kind == "xlsx" else "csv"
        file_filter = (
            tr("Libro de Excel (*.xlsx)") if kind == "xlsx" else tr("Valores separados por comas (*.csv)")
        )
        path, _ = QFileDialog.getSaveFileName(
            self, tr("Exportar clientes"), str(Path.home() / f"clientes.{suffix}"), file_filter
        )
        if path:
            if not path.lower().endswith("." + suffix):
                path += "." + suffix
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        """Export the current view (search, filter and order; every row) to `path`."""
        progress_box = QProgressDialog(
            tr("Exportando clientes…"), tr("Cancelar"), 0, max(self.model.total, 1), self
        )
        progress_box.setObjectName("exportProgress")
        progress_box.setWindowTitle(tr("Exportar clientes"))
        progress_box.setMinimumDuration(400)
        progress_box.setAutoClose(True)

        def done(count: int) -> None:
            progress_box.reset()
            self.exported.emit(str(path), count)
            inform(
                self,
                tr("Exportar clientes"),
                fmt.counted(
                    count,
                    tr("Se exportó 1 cliente a {path}."),
                    tr("Se exportaron {n} clientes a {path}."),
                    path=str(path),
                ),
            )

        def failed(error: BaseException) -> None:
            progress_box.reset()
            if isinstance(error, export.ExportCancelled):
                return
            self.exported.emit("", 0)
            inform(
                self,
                tr("Exportar clientes"),
                tr("No se pudo exportar: {error}").format(error=error_text(error)),
                error=True,
            )

        handle = (
            actions.export_view(self.context, path, self.model.query, parent=self)
            .progress(lambda d, _t, _x: progress_box.setValue(min(d, progress_box.maximum())))
            .success(done)
            .failure(failed)
            .run()
        )
        if handle is not None:
            progress_box.canceled.connect(handle.cancel)

    exported = Signal(str, int)  # path ("" when it failed) and how many clients

    # ---- the CTI password of a client created here --------------------------------------------------

    def _hook_synced(self) -> None:
        if self._synced_hooked:
            return
        window = self.window()
        synced = getattr(window, "synced", None)
        if synced is not None and window is not self:
            synced.connect(self._synced)
            self._synced_hooked = True

    def _synced(self, report: Any) -> None:
        secrets = getattr(getattr(report, "push", None), "secrets", None)
        if secrets and self.context.session is not None:
            actions.new_passwords(self.context, secrets).success(self.show_new_passwords).run()

    new_password_shown = Signal(str)

    def show_new_passwords(self, items: list[tuple[str, str, str]]) -> None:
        for name, cti_id, password in items:
            text = tr(
                "El cliente «{name}» quedó registrado con su cuenta de timbrado estándar.\n\n"
                "Cuenta de timbrado: {cti}\nContraseña: {password}\n\n"
                "Anote la contraseña ahora: no se vuelve a mostrar (puede restablecerla después)."
            ).format(name=name, cti=cti_id, password=password)
            box = inform(self, tr("Cliente registrado"), text)
            box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            sheet = box.addButton(tr("Hoja de entrega…"), QMessageBox.ButtonRole.ActionRole)
            sheet.setObjectName("handoff")
            sheet.clicked.connect(lambda _c=False, c=cti_id, p=password: self.open_handoff(c, p))
            self.new_password_shown.emit(text)

    handoff: Any = None  # the last hand-off sheet window

    def open_handoff(self, cti_id: str, password: str) -> None:
        """The hand-off sheet of the new client's CTI (save or print it for the client)."""
        from cmdesk.ui.timbrado.handoff import HandoffDialog

        def show(sheet: Any) -> None:
            self.handoff = HandoffDialog(sheet, self)
            self.handoff.show()

        actions.handoff_sheet(self.context, cti_id, password, parent=self).success(show).run()
