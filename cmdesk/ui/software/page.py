"""Software: the manual's chapter — the list of Induxsoft products; clicking a product's name expands
its download options (installers, fixes, improvements, documentation, tools), each with its
**Descargar** button and the state of its download.

The catalog comes from the cache (readable offline); downloads go through the service layer's
`DownloadManager` (`cmdesk.services.downloads`), which this page creates for the session, starts
(the queue left by the last run goes on by itself) and shuts down when the window closes. Its events
arrive on worker threads and are brought to the UI thread by `DownloadBridge`. Nothing here touches
the disk or the network on the UI thread: reading the store (maybe a network share) and every
manager call run in the network pool.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QToolButton,
    QTreeView,
    QWidget,
)

from cmdesk.services import downloads
from cmdesk.services.downloads import DownloadManager, DownloadState, DownloadStatus, FileInfo
from cmdesk.ui import tabs, translator
from cmdesk.ui.kit.actions import Action
from cmdesk.ui.kit.forms import delete_key, dim, hbox, vbox
from cmdesk.ui.kit.table import fill_column
from cmdesk.ui.software import actions
from cmdesk.ui.software.model import (
    ACTIONS_COLUMN,
    COLUMNS,
    KIND_LABELS,
    KIND_ORDER,
    PROGRESS_ROLE,
    STATUS_COLUMN,
    FileRow,
    ProductRow,
    SoftwareModel,
    data_size,
    filter_products,
)
from cmdesk.ui.software.options_dialog import DownloadOptions, DownloadOptionsDialog

if TYPE_CHECKING:
    from cmdesk.services.session import DesktopSession

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
ON_WINDOWS = sys.platform == "win32"
RUN_LEASE_SECONDS = 2 * 3600  # an installer running from the folder: never evicted meanwhile


tr = translator("software")


class DownloadBridge(QObject):
    """Receives the manager's events on any thread and re-emits them on the UI thread."""

    received = Signal(object)
    _from_any_thread = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.closed = False
        self._from_any_thread.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def post(self, status: DownloadStatus) -> None:
        if not self.closed:
            with contextlib.suppress(RuntimeError):  # the page is being destroyed
                self._from_any_thread.emit(status)

    @Slot(object)
    def _deliver(self, status: object) -> None:
        if not self.closed:
            self.received.emit(status)


class StatusDelegate(QStyledItemDelegate):
    """The Estado column: a progress bar (with the text on it) while bytes arrive or wait."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        fraction = index.data(PROGRESS_ROLE)
        if fraction is None:
            super().paint(painter, option, index)
            return
        view_option = QStyleOptionViewItem(option)
        self.initStyleOption(view_option, index)
        style = view_option.widget.style() if view_option.widget is not None else QApplication.style()
        # The row's background (selection, alternate colors) first, without its text.
        view_option.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, view_option, painter, view_option.widget)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)  # type: ignore[attr-defined]
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = int(float(fraction) * 1000)
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal  # type: ignore[attr-defined]
        bar.palette = option.palette  # type: ignore[attr-defined]
        bar.fontMetrics = option.fontMetrics  # type: ignore[attr-defined]
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, view_option.widget)


class FileActions(QWidget):
    """The buttons of one file's row, shown according to its state."""

    triggered = Signal(str, str)  # action, file id

    def __init__(self, info: FileInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.status: DownloadStatus | None = None
        self.setObjectName(f"actions_{info.id}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 1, 2, 1)
        layout.setSpacing(4)
        is_installer = info.kind == "installer"
        self.buttons: dict[str, QPushButton] = {}
        for name, text, tip in (
            ("download", tr("Descargar"), tr("Descargar y guardar verificado para usarlo sin conexión.")),
            ("pause", tr("Pausar"), tr("Detener la descarga y conservar lo descargado.")),
            ("resume", tr("Reanudar"), tr("Continuar la descarga donde se quedó.")),
            ("retry", tr("Reintentar"), tr("Intentar de nuevo, desde lo ya descargado.")),
            ("cancel", tr("Cancelar"), tr("Detener la descarga y borrar lo descargado.")),
            ("openFolder", tr("Abrir carpeta"), tr("Mostrar el archivo en su carpeta.")),
            ("run", tr("Ejecutar") if is_installer else tr("Abrir"), ""),
            ("copyPath", tr("Copiar ruta"), tr("Copiar la ruta completa del archivo.")),
        ):
            button = QPushButton(text, self)
            button.setObjectName(name)
            button.setToolTip(tip)
            button.setAutoDefault(False)
            button.clicked.connect(lambda _checked=False, n=name: self.triggered.emit(n, self.info.id))
            layout.addWidget(button)
            self.buttons[name] = button
        run = self.buttons["run"]
        if ON_WINDOWS:
            run.setToolTip(
                tr("Verificar el archivo y ejecutar el instalador.")
                if is_installer
                else tr("Verificar y abrir el archivo.")
            )
        else:
            run.setEnabled(False)
            run.setToolTip(tr("Solo disponible en Windows."))
        self.more = QToolButton(self)
        self.more.setObjectName("more")
        self.more.setText("…")
        self.more.setToolTip(tr("Más acciones"))
        self.more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.more)
        menu.setToolTipsVisible(True)
        self.verify_action = QAction(tr("Verificar de nuevo"), menu)
        self.verify_action.triggered.connect(lambda: self.triggered.emit("verify", self.info.id))
        self.pin_action = QAction(tr("Conservar siempre en la carpeta"), menu)
        self.pin_action.setCheckable(True)
        self.pin_action.setToolTip(tr("No se borrará al liberar espacio."))
        self.pin_action.triggered.connect(
            lambda checked: self.triggered.emit("pin" if checked else "unpin", self.info.id)
        )
        self.remove_action = QAction(tr("Eliminar de la carpeta"), menu)
        self.remove_action.triggered.connect(lambda: self.triggered.emit("remove", self.info.id))
        for action in (self.verify_action, self.pin_action, self.remove_action):
            menu.addAction(action)
        self.more.setMenu(menu)
        layout.addWidget(self.more)
        layout.addStretch(1)
        self.set_status(None)

    VISIBLE: dict[DownloadState, tuple[str, ...]] = {
        DownloadState.NOT_DOWNLOADED: ("download",),
        DownloadState.QUEUED: ("pause", "cancel"),
        DownloadState.WAITING: ("pause", "cancel"),
        DownloadState.DOWNLOADING: ("pause", "cancel"),
        DownloadState.VERIFYING: (),
        DownloadState.PAUSED: ("resume", "cancel"),
        DownloadState.FAILED: ("retry", "cancel"),
        DownloadState.AVAILABLE: ("openFolder", "run", "copyPath", "more"),
    }

    def set_status(self, status: DownloadStatus | None) -> None:
        self.status = status
        state = status.state if status is not None else DownloadState.NOT_DOWNLOADED
        visible = self.VISIBLE[state]
        for name, button in self.buttons.items():
            button.setVisible(name in visible)
        self.more.setVisible("more" in visible)
        self.pin_action.setChecked(bool(status is not None and status.pinned))

    def visible_buttons(self) -> list[str]:
        shown = [n for n, b in self.buttons.items() if not b.isHidden()]
        return [*shown, "more"] if not self.more.isHidden() else shown


class SoftwarePage(tabs.TabPage):
    entities = frozenset({"software_product", "software_file"})

    def __init__(self, context: tabs.AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.manager: DownloadManager | None = None
        self._manager_session: DesktopSession | None = None
        self._creating = False
        self._unsubscribe: Callable[[], None] | None = None
        self._watching: QObject | None = None
        self._catalog: list[ProductRow] = []
        self._loading = False
        self._again = False
        self._expanded: set[str] = set()
        self.catalog_loaded = False
        self.actions_by_file: dict[str, FileActions] = {}
        self.options_dialog: DownloadOptionsDialog | None = None
        self.usage_bytes: int | None = None

        self.bridge = DownloadBridge(self)
        self.bridge.received.connect(self._on_status)

        heading = QLabel(
            "<b>"
            + tr("Software")
            + "</b> &nbsp; "
            + tr("Instalables, correcciones, mejoras, documentación y herramientas de Induxsoft."),
            self,
        )
        heading.setObjectName("heading")
        self.product_filter = QComboBox(self)
        self.product_filter.setObjectName("productFilter")
        self.product_filter.addItem(tr("Todos los productos"), None)
        self.product_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.kind_filter = QComboBox(self)
        self.kind_filter.setObjectName("kindFilter")
        self.kind_filter.addItem(tr("Todos los tipos"), None)
        for kind in KIND_ORDER:
            self.kind_filter.addItem(tr(KIND_LABELS[kind]), kind)
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText(tr("Buscar por producto, archivo o versión"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(280)
        for combo in (self.product_filter, self.kind_filter):
            combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.search.textChanged.connect(lambda _t: self._apply_filters())
        filters = hbox(
            QLabel(tr("Producto:"), self),
            self.product_filter,
            12,
            QLabel(tr("Tipo:"), self),
            self.kind_filter,
            12,
            (self.search, 1),
        )

        self.model = SoftwareModel(self)
        self.view = QTreeView(self)
        self.view.setObjectName("tree")
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(STATUS_COLUMN, StatusDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setExpandsOnDoubleClick(False)
        self.view.setUniformRowHeights(True)
        self.view.clicked.connect(self._clicked)
        # Supr/Del on a file kept in the folder: «Eliminar de la carpeta» (it asks first).
        self.delete_shortcut = delete_key(self.view, self.remove_selected)
        self.view.expanded.connect(lambda index: self._remember(index, True))
        self.view.collapsed.connect(lambda index: self._remember(index, False))
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # Estado takes the room left (its texts are the long ones); Acciones fits its widest set of
        # buttons (a downloaded file's).
        metrics = self.fontMetrics()
        for column, width in enumerate((310, 105, 75, 75, 90)):
            header.resizeSection(
                column, max(width, metrics.horizontalAdvance(COLUMNS[column].title_text()) + 24)
            )
        sample = FileActions(FileInfo("muestra", "0" * 64, 0, "muestra.exe", kind="installer"))
        sample.set_status(DownloadStatus("muestra", DownloadState.AVAILABLE))
        header.setSectionResizeMode(ACTIONS_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(ACTIONS_COLUMN, sample.sizeHint().width() + 12)
        sample.deleteLater()
        # Never crushed to «4…» on a 1024 px screen: the tree scrolls sideways instead.
        status_width = metrics.horizontalAdvance(tr("Otro equipo lo está descargando")) + 24
        fill_column(self.view, STATUS_COLUMN, status_width)
        self.empty = QLabel(tr("No hay productos de software. Sincronice para recibir el catálogo."), self)
        self.empty.setObjectName("empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dim(self.empty)
        self.empty.hide()

        self.folder_label = QLabel(self)
        self.folder_label.setObjectName("folderLabel")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        self.open_folder_button = QPushButton(tr("Abrir carpeta de descargas"), self)
        self.open_folder_button.setObjectName("openDownloads")
        self.open_folder_button.clicked.connect(self.open_downloads_folder)
        self.options_button = QPushButton(tr("Opciones de descarga…"), self)
        self.options_button.setObjectName("options")
        self.options_button.clicked.connect(self.show_options)
        footer = hbox((self.folder_label, 1), self.open_folder_button, self.options_button)

        vbox(self, heading, filters, (self.view, 1), (self.empty, 1), self.notice, footer)
        self._update_footer()

    # ---- the manager ----------------------------------------------------------------------------------

    def _ensure_manager(self, session: DesktopSession) -> None:
        """A manager for this session (a new one when the session changed), made and started in the
        network pool."""
        if self._creating or (self._manager_session is session and self.manager is not None):
            return
        if session.api is None:
            return  # not started yet: the next refresh after the start makes it
        old = self.manager
        self._detach()
        self._creating = True
        self._manager_session = session

        actions.start_manager(self.context, session, old).success(self._manager_ready).failure(
            self._manager_failed
        ).run()

    def _manager_ready(self, manager: DownloadManager) -> None:
        self._creating = False
        if self.context.session is not self._manager_session:  # the session changed meanwhile
            actions.stop_manager(self.context, manager).run()
            self._manager_session = None
            self.refresh(tabs.EVERYTHING)
            return
        self.manager = manager
        self._unsubscribe = manager.subscribe(self.bridge.post)
        self._watch_window()
        self._update_footer()
        self._load_statuses()

    def _manager_failed(self, error: BaseException) -> None:
        self._creating = False
        self._manager_session = None
        log.warning("the download manager could not start", exc_info=error)
        self.show_notice(tr("No se pudieron preparar las descargas: {error}").format(error=error), error=True)

    def _detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.manager = None

    def _watch_window(self) -> None:
        """Stop the downloads (kept for the next start) before the window closes the session."""
        window = self.window()
        if window is not self and window is not self._watching:
            window.installEventFilter(self)
            self._watching = window
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown, Qt.ConnectionType.UniqueConnection)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._watching and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    @Slot()
    def shutdown(self) -> None:
        manager = self.manager
        self._detach()
        self._manager_session = None
        if manager is not None and not manager.closed:
            manager.shutdown(timeout=3)

    # ---- loading --------------------------------------------------------------------------------------

    def refresh(self, changed: frozenset[str]) -> None:
        # The downloads resume as soon as the session opens, whether the tab is shown or not.
        session = self.context.session
        if session is not None:
            self._ensure_manager(session)
        super().refresh(changed)

    def reload(self, changed: frozenset[str]) -> None:
        if self.context.session is None or self.context.session.cache is None:
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        actions.read_catalog(self.context).success(self._catalog_read).failure(self._catalog_failed).run()

    def _catalog_read(self, products: list[ProductRow]) -> None:
        self._loading = False
        self._catalog = products
        self.catalog_loaded = True
        chosen = self.product_filter.currentData()
        self.product_filter.blockSignals(True)
        self.product_filter.clear()
        self.product_filter.addItem(tr("Todos los productos"), None)
        for p in products:
            self.product_filter.addItem(p.name, p.id)
        found = self.product_filter.findData(chosen)
        self.product_filter.setCurrentIndex(max(found, 0))
        self.product_filter.blockSignals(False)
        self._apply_filters()
        self._load_statuses()
        if self._again:
            self._again = False
            self.refresh(tabs.EVERYTHING)

    def _catalog_failed(self, error: BaseException) -> None:
        self._loading = False
        log.warning("could not read the software catalog", exc_info=error)
        self.show_notice(tr("No se pudo leer el catálogo: {error}").format(error=error), error=True)

    def _load_statuses(self) -> None:
        manager = self.manager
        if manager is None or not self._catalog:
            return
        infos = [f.info for p in self._catalog for f in p.files]
        superseded = {f.info.sha256 for p in self._catalog for f in p.files if f.newer}
        actions.read_statuses(self.context, manager, infos, superseded).success(self._statuses_read).failure(
            self._catalog_failed
        ).run()

    def _statuses_read(self, result: tuple[dict[str, DownloadStatus], int]) -> None:
        statuses, used = result
        self.model.set_statuses(statuses)
        for file_id, status in statuses.items():
            buttons = self.actions_by_file.get(file_id)
            if buttons is not None:
                buttons.set_status(status)
        self.usage_bytes = used
        self._update_footer()

    def _refresh_usage(self) -> None:
        manager = self.manager
        if manager is None:
            return
        actions.read_usage(self.context, manager).success(self._usage_read).failure(lambda _e: None).run()

    def _usage_read(self, used: int) -> None:
        self.usage_bytes = used
        self._update_footer()

    # ---- showing --------------------------------------------------------------------------------------

    def _apply_filters(self) -> None:
        text = self.search.text()
        kind = self.kind_filter.currentData()
        products = filter_products(
            self._catalog, product_id=self.product_filter.currentData(), kind=kind, text=text
        )
        self.model.set_products(products)
        self._build_actions()
        filtered = bool(text.strip() or kind or self.product_filter.currentData())
        for row, p in enumerate(products):
            if filtered or p.id in self._expanded:
                self.view.setExpanded(self.model.index(row, 0), True)
        nothing = not products
        self.view.setVisible(not nothing)
        self.empty.setVisible(nothing)
        if nothing and self._catalog:
            self.empty.setText(tr("Ningún archivo coincide con la búsqueda."))
        elif nothing:
            self.empty.setText(tr("No hay productos de software. Sincronice para recibir el catálogo."))

    def _build_actions(self) -> None:
        self.actions_by_file = {}
        height = self.model.row_height
        for row in self.model.files():
            actions = FileActions(row.info)
            actions.set_status(self.model.statuses.get(row.info.id))
            actions.triggered.connect(self._act)
            self.view.setIndexWidget(self.model.file_index(row.info.id, ACTIONS_COLUMN), actions)
            self.actions_by_file[row.info.id] = actions
            height = max(height, actions.sizeHint().height() + 2)
        if height != self.model.row_height:
            self.model.row_height = height
            self.model.layoutChanged.emit()

    def _clicked(self, index: QModelIndex) -> None:
        # The manual: "dar clic sobre el nombre de la aplicación y se expandirán las opciones".
        if self.model.product_at(index) is not None:
            first = self.model.index(index.row(), 0)
            self.view.setExpanded(first, not self.view.isExpanded(first))

    def _remember(self, index: QModelIndex, expanded: bool) -> None:
        product = self.model.product_at(index)
        if product is not None:
            (self._expanded.add if expanded else self._expanded.discard)(product.id)

    def expand_all(self) -> None:
        self.view.expandAll()

    def _update_footer(self) -> None:
        session = self.context.session
        if session is None:
            self.folder_label.setText("")
            return
        folder = downloads.folder_for(session.config, session)
        shared = tr("compartida") if session.config.software_folder else tr("de este equipo")
        parts = [tr("Carpeta de descargas ({kind}): {folder}").format(kind=shared, folder=folder)]
        limit = session.config.software_limit_mb
        if self.usage_bytes is not None:
            used = data_size(self.usage_bytes)
            parts.append(
                tr("{used} de {limit}").format(used=used, limit=data_size(limit * 1024 * 1024))
                if limit
                else tr("{used} usados").format(used=used)
            )
        parts.append(
            tr("{n} descargas a la vez").format(n=session.config.download_parallel)
            if session.config.download_parallel != 1
            else tr("1 descarga a la vez")
        )
        rate = session.config.download_rate_kbps
        parts.append(
            tr("máximo {speed}/s").format(speed=data_size(rate * 1024))
            if rate
            else tr("sin límite de velocidad")
        )
        self.folder_label.setText(" · ".join(parts))

    # ---- events ---------------------------------------------------------------------------------------

    @Slot(object)
    def _on_status(self, status: DownloadStatus) -> None:
        self.model.set_status(status)
        buttons = self.actions_by_file.get(status.file_id)
        if buttons is not None:
            buttons.set_status(status)
        if status.state in (DownloadState.AVAILABLE, DownloadState.NOT_DOWNLOADED):
            self._refresh_usage()

    def status_of(self, file_id: str) -> DownloadStatus | None:
        return self.model.statuses.get(file_id)

    def file_row(self, file_id: str) -> FileRow | None:
        return next((f for p in self._catalog for f in p.files if f.info.id == file_id), None)

    # ---- actions --------------------------------------------------------------------------------------

    def _act(self, action: str, file_id: str) -> None:
        row = self.file_row(file_id)
        manager = self.manager
        if row is None:
            return
        if manager is None:
            self.show_notice(tr("Las descargas aún se están preparando; intente en un momento."))
            return
        info = row.info

        def run(name: str, *args: Any) -> Action:
            return actions.file_action(self.context, manager, name, *args).failure(self._action_failed)

        if action == "download":
            self.show_notice("")
            run("enqueue", info).success(self._on_status).run()
        elif action in ("pause", "resume", "retry", "cancel"):
            run(action, file_id).run()
        elif action == "openFolder":
            self.open_file_folder(file_id)
        elif action == "copyPath":
            self.copy_path(file_id)
        elif action == "run":
            self.run_file(file_id)
        elif action == "verify":
            run("verify", info).success(lambda ok: self._verified(info, ok)).run()
        elif action in ("pin", "unpin"):
            run("set_pinned", info, action == "pin").run()
        elif action == "remove":
            self.ask_remove(info)

    def _action_failed(self, error: BaseException) -> None:
        log.info("a download action failed: %s", error)
        self.show_notice(str(error) or type(error).__name__, error=True)

    def _path(self, file_id: str) -> Path | None:
        status = self.status_of(file_id)
        return status.path if status is not None and status.state == DownloadState.AVAILABLE else None

    def copy_path(self, file_id: str) -> None:
        path = self._path(file_id)
        if path is None:
            return
        QGuiApplication.clipboard().setText(str(path))
        self.show_notice(tr("Ruta copiada: {path}").format(path=path))

    def open_file_folder(self, file_id: str) -> None:
        path = self._path(file_id)
        if path is None:
            return
        if ON_WINDOWS:
            # Explorer opens the folder with the file selected.
            subprocess.Popen(["explorer", "/select,", str(path)])
        else:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))

    def open_downloads_folder(self) -> None:
        session = self.context.session
        if session is None:
            return
        folder = downloads.folder_for(session.config, session)
        actions.open_folder(self.context, folder).success(
            lambda f: QDesktopServices.openUrl(QUrl.fromLocalFile(str(f)))
        ).failure(self._action_failed).run()

    def run_file(self, file_id: str) -> None:
        """Ejecutar: hash the file again (never run a damaged one), mark it in use, then start it."""
        row = self.file_row(file_id)
        manager = self.manager
        if row is None or manager is None:
            return
        if not ON_WINDOWS:
            self.show_notice(tr("Los instaladores solo se pueden ejecutar en Windows."), error=True)
            return
        self.show_notice(tr("Verificando «{name}»…").format(name=row.info.file_name))
        actions.file_action(self.context, manager, "open_for_use", row.info, RUN_LEASE_SECONDS).success(
            self._launch
        ).failure(self._action_failed).run()

    def _launch(self, path: Path) -> None:
        self.show_notice(tr("Abriendo «{name}»…").format(name=path.name))
        if sys.platform == "win32":
            try:
                import os

                os.startfile(path)
            except OSError as exc:
                self.show_notice(
                    tr("No se pudo abrir «{name}»: {error}").format(name=path.name, error=exc), error=True
                )

    def _verified(self, info: FileInfo, ok: bool) -> None:
        if ok:
            self.show_notice(tr("«{name}» está íntegro: su SHA-256 coincide.").format(name=info.file_name))
        else:
            self.show_notice(
                tr("«{name}» estaba dañado y se descartó; descárguelo de nuevo.").format(name=info.file_name),
                error=True,
            )

    def remove_selected(self) -> bool:
        """Supr/Del: ask to remove the selected file from the folder, when it is there."""
        row = self.model.file_at(self.view.currentIndex())
        status = self.status_of(row.info.id) if row is not None else None
        if row is None or status is None or status.state != DownloadState.AVAILABLE:
            return False
        self.ask_remove(row.info)
        return True

    def ask_remove(self, info: FileInfo) -> None:
        box = QMessageBox(self)
        box.setObjectName("confirmRemove")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(tr("Eliminar de la carpeta"))
        box.setText(tr("¿Eliminar «{name}» de la carpeta de descargas?").format(name=info.file_name))
        box.setInformativeText(tr("Podrá descargarlo de nuevo cuando lo necesite."))
        yes = box.addButton(tr("Eliminar"), QMessageBox.ButtonRole.YesRole)
        yes.setObjectName("yesButton")
        no = box.addButton(tr("Cancelar"), QMessageBox.ButtonRole.NoRole)
        no.setObjectName("noButton")
        box.setDefaultButton(no)
        manager = self.manager

        def done(_code: int) -> None:
            if box.clickedButton() is yes and manager is not None:
                actions.file_action(self.context, manager, "remove", info).failure(self._action_failed).run()

        box.finished.connect(done)
        self.last_box = box
        box.open()

    # ---- options --------------------------------------------------------------------------------------

    def show_options(self) -> DownloadOptionsDialog | None:
        session = self.context.session
        if session is None:
            return None
        config = session.config
        current = DownloadOptions(
            config.software_folder,
            config.software_limit_mb,
            config.download_parallel,
            config.download_rate_kbps,
        )
        dialog = DownloadOptionsDialog(current, downloads.default_folder(session), self.context, self)
        dialog.saved.connect(lambda options: self.apply_options(session, options))
        self.options_dialog = dialog
        dialog.open()
        return dialog

    def apply_options(self, session: DesktopSession, options: DownloadOptions) -> None:
        config = session.config
        moved = options.folder != config.software_folder
        config.software_folder = options.folder
        config.software_limit_mb = options.limit_mb
        config.download_parallel = options.parallel
        config.download_rate_kbps = options.rate_kbps
        self._update_footer()

        def applied(_result: Any) -> None:
            if moved:
                # The queue goes on in the new folder (what was received in the old one stays there).
                self._manager_session = None
                self._ensure_manager(session)
            else:
                self._load_statuses()
            self.show_notice(tr("Se guardaron las opciones de descarga."))

        actions.apply_options(self.context, session, self.manager, options, moved=moved).success(
            applied
        ).failure(self._action_failed).run()
