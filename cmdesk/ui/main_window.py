"""The main window: the account header, the tabs (the portal's menus), the status bar and the menus.

It owns the session's life on screen: `start_session()` first shows the data kept on this computer
(the cache of the account last used, read in the cache pool), then opens the session in the network
pool (the embedded server starts, or the saved session resumes; a sign-in dialog when needed), a
timer syncs every `config.sync_interval_seconds` (and Archivo → Sincronizar ahora, F5; and every
action that queued a command: `AppContext.request_sync`), and the session's events — which arrive on
whatever thread caused them — are brought to the UI thread by `SessionBridge` and handed to every page
as `refresh(changed)` (a page on screen reloads at once, a hidden one when it is shown). Nothing here
waits on the network or the disk: reads of the cache and the outbox go to the cache pool, the rest to
the network pool.

Size and position are kept with QSettings (Induxsoft / cmdesk; an INI file under CMDESK_HOME when
that is set, so tests and portable installs leave the registry alone).
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal, Slot, qVersion
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLineEdit, QMainWindow, QMessageBox, QTabWidget, QWidget

import cmdesk
from cmdesk.services import paths
from cmdesk.services.api_client import OfflineError
from cmdesk.services.config import DesktopConfig
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.session import DesktopSession, SessionEvent, StartResult
from cmdesk.services.sync import SessionExpired
from cmdesk.ui import pages, tabs, translator  # noqa: F401  (pages: where every page is)
from cmdesk.ui.header import AccountHeader
from cmdesk.ui.kit.forms import vbox
from cmdesk.ui.operations import OperationHandle, Operations
from cmdesk.ui.status_bar import StatusBar

if TYPE_CHECKING:
    from cmdesk.ui.compras.renewal import RenewalDialog
    from cmdesk.ui.pending_panel import PendingPanel
    from cmdesk.ui.settings_dialog import SettingsDialog
    from cmdesk.ui.signin_dialog import SignInDialog

log = logging.getLogger(__name__)

ORGANIZATION = "Induxsoft"
APPLICATION = "cmdesk"
DEFAULT_SIZE = (1280, 800)
# `start_session` opens the session at the latest this long after it showed the saved data.
SAVED_DATA_WAIT_MS = 1500


tr = translator("main")


def window_settings() -> QSettings:
    """Where the window remembers itself: the platform's store, or an INI file under CMDESK_HOME."""
    if os.environ.get(paths.HOME_ENV, "").strip():
        return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


class SessionBridge(QObject):
    """Receives the session's events on any thread and re-emits them on the UI thread."""

    received = Signal(object)
    _from_any_thread = Signal(object)

    def __init__(self, session: DesktopSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._closed = False
        self._from_any_thread.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = session.subscribe(self._on_event)

    def _on_event(self, event: SessionEvent) -> None:
        if self._closed:
            return
        # RuntimeError: the bridge is being destroyed (the window closed).
        with contextlib.suppress(RuntimeError):
            self._from_any_thread.emit(event)

    @Slot(object)
    def _deliver(self, event: object) -> None:
        if not self._closed:
            self.received.emit(event)

    def close(self) -> None:
        self._closed = True
        self._unsubscribe()


def _nothing() -> None:
    """A job that marks a place in the cache pool's queue."""


def read_status(session: DesktopSession) -> dict[str, Any]:
    """What the header and the status bar show (runs in the cache pool)."""
    outbox = session.outbox
    return {
        "account": session.account(),
        "pending": outbox.pending_count() if outbox is not None else 0,
        "attention": outbox.attention_count() if outbox is not None else 0,
        "last_sync_at": session.last_sync_at,
        "state": session.state,
        "notices": session.notices(),
    }


class MainWindow(QMainWindow):
    session_ready = Signal(object)  # the StartResult, once the session is open (or None if it failed)
    synced = Signal(object)  # the SyncReport of each sync the window ran
    status_updated = Signal(dict)  # the header and status bar were refreshed with this data

    def __init__(
        self,
        session: DesktopSession,
        *,
        ops: Operations | None = None,
        log_path: Path | None = None,
        session_factory: Callable[[DesktopConfig], DesktopSession] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        # Qt adds the application's display name ("Cuenta Maestra") after the title.
        self.setWindowTitle("cmdesk")
        self.ops = ops or Operations(self)
        self.log_path = log_path
        self.session_factory = session_factory or (
            lambda config: DesktopSession(config, embedded=session.embedded_default)
        )
        self.context = tabs.AppContext(ops=self.ops, session=session)
        self.context.sync_hook = self.request_sync
        self.bridge: SessionBridge | None = None
        self.started = False
        self.signed_out = False
        self._sync_handle: OperationHandle | None = None
        self._sync_again = False
        self._status_loading = False
        self._status_again = False
        self._pending_changed: frozenset[str] = frozenset()
        self.sign_in_dialog: SignInDialog | None = None
        self.pending_panel: PendingPanel | None = None
        self.shown_account: dict[str, Any] | None = None  # what the header shows
        self.update_offer: QMessageBox | None = None  # shown once per window
        self.closing = False

        self.header = AccountHeader(self)
        self.header.renew_requested.connect(self.renew_account)
        # The page on screen is built now, the others when first shown or once the session is open.
        self.tabs, self.pages = tabs.build(self.context, self)
        self._refreshed = False  # refresh_all ran: a page built from now on reads what it shows
        self.pages.built_hook = self._page_built
        central = QWidget(self)
        layout = vbox(central, self.header, (self.tabs, 1))
        layout.setContentsMargins(8, 8, 8, 0)
        self.setCentralWidget(central)

        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.status.pending_clicked.connect(self.show_pending_panel)
        self.ops.busy_changed.connect(lambda n: self.status.set_busy(n, self.ops.labels()))
        self.ops.progress.connect(
            lambda _label, done, total, text: self.status.set_progress(done, total, text)
        )
        self.ops.job_failed.connect(self._job_failed)

        self.sync_timer = QTimer(self)
        self.sync_timer.setObjectName("syncTimer")
        self.sync_timer.timeout.connect(self.sync_now)

        self._build_menus()
        self._connect_session(session)
        self._restore_geometry()

    # ---- session ------------------------------------------------------------------------------------

    @property
    def session(self) -> DesktopSession | None:
        return self.context.session

    def page(self, name: str) -> tabs.TabPage:
        return self.pages[name]

    def _connect_session(self, session: DesktopSession) -> None:
        if self.bridge is not None:
            self.bridge.close()
            self.bridge.deleteLater()
        self.context.session = session
        self.bridge = SessionBridge(session, self)
        self.bridge.received.connect(self._on_session_event)
        self._apply_interval(session.config.sync_interval_seconds)

    def _apply_interval(self, seconds: int) -> None:
        self.sync_timer.setInterval(max(int(seconds), 1) * 1000)

    def start_session(self) -> None:
        """Show the data this computer kept of the account last used here, then open the session.

        The cache pool opens that account's cache (no server, no network) and the pages read it; once
        those reads are done (the pool runs its jobs in order) the network pool opens the session: the
        embedded server starts, or the saved session resumes; a sign-in dialog when needed. Starting
        the server after the reads, not beside them, puts the saved data on screen sooner (the
        server's start is Python work that would share the interpreter with them) and costs the
        session nothing measurable. Without saved data (a first start) the session opens at once; it
        opens at the latest `SAVED_DATA_WAIT_MS` after this call whatever the cache does."""
        session = self.session
        if session is None:
            return
        self.status.set_state(None)
        self.status.showMessage(tr("Abriendo la sesión…"))
        opened_once = False

        def open_session(*_args: object) -> None:
            nonlocal opened_once
            if not opened_once:
                opened_once = True
                self._open_session(session)

        def saved_opened(opened: object) -> None:
            if opened and session is self.session and not self.started and not self.signed_out:
                self.refresh_all(tabs.EVERYTHING)
                self.ops.run(_nothing, on_done=open_session, on_error=open_session, pool="cache")
            else:
                open_session()

        def saved_failed(error: BaseException) -> None:
            log.warning("could not show the saved data: %s", error)
            open_session()

        self.ops.run(
            session.open_saved_account,
            on_done=saved_opened,
            on_error=saved_failed,
            pool="cache",
            label=tr("Leyendo los datos guardados"),
        )
        QTimer.singleShot(SAVED_DATA_WAIT_MS, self, open_session)

    def _open_session(self, session: DesktopSession) -> None:
        if self.closing or session is not self.session:
            return
        self.ops.run(
            session.start,
            on_done=self._session_started,
            on_error=self._session_failed,
            pool="net",
            label=tr("Abriendo la sesión"),
        )

    def _session_started(self, result: StartResult) -> None:
        self.status.clearMessage()
        self.started = True
        self.status.set_state(self.session.state if self.session else None)
        self._show_notice(result.message)
        self.refresh_all(tabs.EVERYTHING)
        self.sync_timer.start()
        if result.needs_sign_in:
            self.ask_sign_in(result.message)
        self.session_ready.emit(result)
        self.pages.build_rest()

    def _session_failed(self, error: BaseException) -> None:
        log.error("the session could not start", exc_info=error)
        self.status.clearMessage()
        self.status.set_state(ConnectionState.OFFLINE)
        self.session_ready.emit(None)
        self.pages.build_rest()
        QMessageBox.critical(
            self,
            tr("No se pudo abrir la sesión"),
            tr(
                "No se pudo abrir la sesión: {error}\n\nRevise la configuración (Archivo → Configuración) "
                "o el registro en {log}."
            ).format(error=str(error) or type(error).__name__, log=self._log_text()),
        )

    def _show_notice(self, message: str | None) -> None:
        session = self.session
        if (
            message is None
            and session is not None
            and not session.embedded
            and not session.credentials.available()
        ):
            message = tr(
                "Este equipo no tiene un almacén seguro de contraseñas: la contraseña se pedirá "
                "de nuevo la próxima vez."
            )
        self.status.set_notice(message)

    def ask_sign_in(self, message: str | None = None) -> SignInDialog | None:
        session = self.session
        if session is None:
            return None
        if self.sign_in_dialog is not None and self.sign_in_dialog.isVisible():
            return self.sign_in_dialog
        from cmdesk.ui.signin_dialog import SignInDialog  # (imported when needed: out of the cold start)

        dialog = SignInDialog(session, self.ops, self, message=message)
        dialog.signed_in.connect(self._signed_in)
        dialog.finished.connect(lambda _code: setattr(self, "sign_in_dialog", None))
        self.sign_in_dialog = dialog
        dialog.open()
        return dialog

    def _signed_in(self, result: StartResult) -> None:
        self.signed_out = False
        self._update_session_actions()
        if self.started:
            self.sync_timer.start()
        self._show_notice(result.message)
        self.refresh_all(tabs.EVERYTHING)

    # ---- events and refreshing ----------------------------------------------------------------------

    @Slot(object)
    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind == "state":
            self.status.set_state(self.session.state if self.session else None)
        elif event.kind == "notice":
            self.refresh_status()
            if "update" in event.changed:
                self.offer_update()
        else:
            self.refresh_all(event.changed)
        if event.kind == "commands" and self.pending_panel is not None and self.pending_panel.isVisible():
            self.pending_panel.refresh()

    def offer_update(self) -> QMessageBox | None:
        """The server wants a newer cmdesk (for everything, or for something it refused): said once
        per session, with the way to update (Ayuda's check, which offers the signed installer)."""
        session = self.session
        text = session.api.server.update_notice() if session is not None and session.api else None
        if text is None or self.update_offer is not None:
            return None
        box = QMessageBox(QMessageBox.Icon.Information, tr("Actualización de cmdesk"), text, parent=self)
        box.setObjectName("updateRequired")
        look = box.addButton(tr("Buscar la actualización"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(tr("Más tarde"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(look)
        ayuda = self.pages.get("ayuda")
        box.buttonClicked.connect(
            lambda button: ayuda.check_for_updates()  # type: ignore[attr-defined]
            if button is look and ayuda is not None
            else None
        )
        self.update_offer = box
        box.open()
        return box

    def _page_built(self, page: tabs.TabPage) -> None:
        if self._refreshed:
            page.refresh(tabs.EVERYTHING)

    def refresh_all(self, changed: frozenset[str]) -> None:
        """Tell every page built so far what changed, and refresh the header and the status bar."""
        self._refreshed = True
        for page in tabs.all_pages(self.pages):
            try:
                page.refresh(changed)
            except Exception:
                log.exception("page %s failed to refresh", page.objectName())
        self.refresh_status()

    def refresh_status(self) -> None:
        session = self.session
        if session is None:
            return
        if self._status_loading:
            self._status_again = True
            return
        self._status_loading = True
        self.ops.run(
            read_status, session, on_done=self._status_read, on_error=self._status_failed, pool="cache"
        )

    def _status_read(self, data: dict[str, Any]) -> None:
        account = data["account"]
        self._show_account(account)
        self.setWindowTitle(str(account.get("name") or "cmdesk") if account else "cmdesk")
        self.status.set_pending(data["pending"], data["attention"])
        self.status.set_last_sync(data["last_sync_at"])
        self.status.set_server_notices(data.get("notices") or [])
        self.status.set_state(
            self._shown_state(self.session.state if self.session is not None else data["state"])
        )
        self.status_updated.emit(data)
        self._status_done()

    def _shown_state(self, state: ConnectionState | None) -> ConnectionState | None:
        """While the session opens (the saved data already on screen) the session's OFFLINE is only
        its initial value, not something it found: the status bar keeps «Iniciando…» until then."""
        if not self.started and state is ConnectionState.OFFLINE:
            return None
        return state

    def _show_account(self, account: dict[str, Any] | None) -> None:
        self.shown_account = account or None
        self.header.set_account(account)

    def renew_account(self) -> RenewalDialog | None:
        """Renovar mi cuenta (the header's warning): the page of Compras opens it."""
        from cmdesk.ui.compras.page import PurchasesPage

        page = self.pages.get("compras")
        return page.renew_account() if isinstance(page, PurchasesPage) else None

    def shows_data(self) -> bool:
        """Whether the window shows an account's data: the header names the account and the client
        portfolio has rows (what `cmdesk --measure-startup` waits for)."""
        model = getattr(self.pages.get("clientes.clientes"), "model", None)
        return self.shown_account is not None and model is not None and model.rowCount() > 0

    def _status_failed(self, error: BaseException) -> None:
        log.warning("could not read the status: %s", error)
        self._status_done()

    def _status_done(self) -> None:
        self._status_loading = False
        if self._status_again:
            self._status_again = False
            self.refresh_status()

    # ---- syncing ------------------------------------------------------------------------------------

    def sync_now(self) -> OperationHandle | None:
        """Sincronizar ahora: one sync at a time, in the network pool."""
        session = self.session
        if session is None or session.engine is None or self.signed_out:
            return None
        if self._sync_handle is not None and not self._sync_handle.is_finished:
            return self._sync_handle
        self._sync_handle = self.ops.run(
            session.sync_now,
            on_done=self._synced,
            on_error=self._sync_failed,
            pool="net",
            label=tr("Sincronizando"),
            progress=True,  # a first sync tells how much of the portfolio arrived (status bar)
        )
        return self._sync_handle

    def request_sync(self) -> OperationHandle | None:
        """A sync for what was just queued: now, or once more after the one under way (which may have
        pushed before the command was queued)."""
        running = self._sync_handle
        if running is not None and not running.is_finished:
            self._sync_again = True
            return running
        return self.sync_now()

    def _sync_ended(self) -> None:
        if self._sync_again:
            self._sync_again = False
            self.sync_now()

    def _synced(self, report: object) -> None:
        self.synced.emit(report)
        self._sync_ended()

    def _sync_failed(self, error: BaseException) -> None:
        if isinstance(error, OfflineError):
            self.status.showMessage(tr("Sin conexión con el servidor; se reintentará más tarde."), 8000)
        elif isinstance(error, SessionExpired):
            self.status.showMessage(str(error), 8000)
            self.ask_sign_in(str(error))
        else:
            log.warning("sync failed", exc_info=error)
            self.status.showMessage(tr("La sincronización falló: {error}").format(error=str(error)), 10000)
        self.refresh_status()
        if isinstance(error, OfflineError | SessionExpired):
            self._sync_again = False  # the next sync that can run sends what waits
        else:
            self._sync_ended()

    def _job_failed(self, label: str, error: object) -> None:
        self.status.showMessage(
            tr("{what}: {error}").format(what=label or tr("Operación"), error=str(error)), 8000
        )

    # ---- menus --------------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu(tr("&Archivo"))
        self.settings_action = QAction(tr("&Configuración…"), self)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.settings_action.triggered.connect(self.show_settings)
        self.sync_action = QAction(tr("&Sincronizar ahora"), self)
        self.sync_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.sync_action.triggered.connect(self.sync_now)
        self.pending_action = QAction(tr("Operaciones &pendientes…"), self)
        self.pending_action.triggered.connect(self.show_pending_panel)
        self.session_action = QAction(tr("Cerrar s&esión"), self)
        self.session_action.triggered.connect(self.toggle_session)
        self.quit_action = QAction(tr("&Salir"), self)
        self.quit_action.setShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Q))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        menu.addAction(self.settings_action)
        menu.addSeparator()
        menu.addAction(self.sync_action)
        menu.addAction(self.pending_action)
        menu.addSeparator()
        menu.addAction(self.session_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        # Ctrl+F: the search box of the page on screen (each page names its box "search").
        self.find_action = QAction(tr("Buscar"), self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.find_action.triggered.connect(self.focus_search)
        self.addAction(self.find_action)

        help_menu = self.menuBar().addMenu(tr("A&yuda"))
        # Pages may add their own entries (Ayuda → Buscar actualizaciones, cmdesk/ui/ayuda).
        self.help_menu = help_menu
        self.about_action = QAction(tr("&Acerca de cmdesk"), self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _update_session_actions(self) -> None:
        self.session_action.setText(tr("&Iniciar sesión…") if self.signed_out else tr("Cerrar s&esión"))
        self.sync_action.setEnabled(not self.signed_out)

    def show_settings(self) -> SettingsDialog | None:
        session = self.session
        if session is None:
            return None
        from cmdesk.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(session.config, self)
        dialog.finished.connect(lambda code: self._settings_closed(dialog, code))
        dialog.open()
        return dialog

    def _settings_closed(self, dialog: SettingsDialog, code: int) -> None:
        config = dialog.config
        if not code or config is None:
            return
        session = self.session
        if session is not None:
            session.config.sync_interval_seconds = config.sync_interval_seconds
        self._apply_interval(config.sync_interval_seconds)
        if dialog.server_changed and dialog.restart_requested:
            self.restart_session(config)
        elif dialog.server_changed:
            self.status.showMessage(tr("El nuevo servidor se usará la próxima vez que abra cmdesk."), 10000)

    def restart_session(self, config: DesktopConfig) -> None:
        """Close the current session (in the network pool) and open one with `config`."""
        old = self.session
        self.sync_timer.stop()
        self.started = False
        new = self.session_factory(config)
        self._connect_session(new)
        self._show_account(None)
        self.refresh_all(tabs.EVERYTHING)

        def close_old() -> None:
            if old is not None:
                old.close()

        self.ops.run(
            close_old,
            on_done=lambda _r: self.start_session(),
            on_error=lambda _e: self.start_session(),
            pool="net",
            label=tr("Cerrando la sesión"),
        )

    def show_pending_panel(self) -> PendingPanel:
        if self.pending_panel is None:
            from cmdesk.ui.pending_panel import PendingPanel

            self.pending_panel = PendingPanel(self.context, self)
        self.pending_panel.show()
        self.pending_panel.raise_()
        self.pending_panel.activateWindow()
        self.pending_panel.refresh()
        return self.pending_panel

    def toggle_session(self) -> None:
        if self.signed_out:
            self.ask_sign_in()
            return
        session = self.session
        if session is None:
            return
        answer = QMessageBox.question(
            self,
            tr("Cerrar sesión"),
            tr(
                "¿Cerrar la sesión? Los cambios pendientes se quedan en este equipo y se enviarán cuando "
                "vuelva a iniciar sesión."
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.sign_out()

    def sign_out(self) -> None:
        session = self.session
        if session is None:
            return
        self.sync_timer.stop()
        self.signed_out = True
        self._update_session_actions()

        def done(_result: object) -> None:
            self._show_account(None)
            self.refresh_all(tabs.EVERYTHING)
            self.status.set_pending(0, 0)
            self.ask_sign_in()

        def failed(error: BaseException) -> None:
            log.warning("sign-out failed", exc_info=error)
            done(None)

        self.ops.run(
            session.sign_out, on_done=done, on_error=failed, pool="net", label=tr("Cerrando la sesión")
        )

    def about_dialog(self) -> QMessageBox:
        session = self.session
        server = tr("servidor integrado en este equipo")
        if session is not None and session.config.server_url:
            server = session.config.server_url
        text = tr(
            "<h3>cmdesk {version}</h3>"
            "<p>Cuenta Maestra de escritorio: la cartera de clientes, los timbres y los puntos de los "
            "distribuidores de Induxsoft, también sin conexión.</p>"
            "<p>Servidor: {server}<br>Datos: {data}<br>Registro: {log}</p>"
            "<p>Qt {qt} · Python {python}</p>"
        ).format(
            version=cmdesk.__version__,
            server=html.escape(server),
            data=html.escape(str(paths.data_dir())),
            log=html.escape(self._log_text()),
            qt=qVersion(),
            python=platform.python_version(),
        )
        box = QMessageBox(self)
        box.setObjectName("aboutDialog")
        box.setWindowTitle(tr("Acerca de cmdesk"))
        box.setIcon(QMessageBox.Icon.Information)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(text)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.button(QMessageBox.StandardButton.Ok).setText(tr("Aceptar"))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return box

    def show_about(self) -> QMessageBox:
        box = self.about_dialog()
        box.open()
        return box

    def _log_text(self) -> str:
        return str(self.log_path) if self.log_path is not None else tr("(sin registro)")

    # ---- geometry and closing -----------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        settings = window_settings()
        geometry = settings.value("main_window/geometry")
        restored = False
        if geometry is not None:
            try:
                restored = bool(self.restoreGeometry(geometry))
            except TypeError:
                restored = False
        if not restored:
            self._fit_to_screen(first=True)
        else:
            self._fit_to_screen(first=False)
        tab = settings.value("main_window/tab")
        if tab is not None:
            with contextlib.suppress(ValueError):
                self.tabs.setCurrentIndex(int(str(tab)))

    def focus_search(self) -> bool:
        """Put the cursor in the search box of the page on screen (Ctrl+F); False when it has none."""
        widget: QWidget | None = self.tabs.currentWidget()
        while isinstance(widget, QTabWidget):
            widget = widget.currentWidget()
        box = widget.findChild(QLineEdit, "search") if widget is not None else None
        if box is None or not box.isVisibleTo(self):
            return False
        box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        box.selectAll()
        return True

    def _fit_to_screen(self, *, first: bool) -> None:
        """The first time: DEFAULT_SIZE, or less on a smaller screen (1366×768, 150 % on 1920×1080),
        so that the status bar and the last rows are on screen; a remembered size that no longer
        fits (another monitor) is brought inside the available area."""
        screen = self.screen()
        if screen is None:
            if first:
                self.resize(*DEFAULT_SIZE)
            return
        area = screen.availableGeometry()
        # The frame the window manager adds (title bar, borders) is not part of resize().
        frame_w = max(0, self.frameGeometry().width() - self.width())
        frame_h = max(0, self.frameGeometry().height() - self.height()) or 32
        width = min(DEFAULT_SIZE[0] if first else self.width(), area.width() - frame_w)
        height = min(DEFAULT_SIZE[1] if first else self.height(), area.height() - frame_h)
        if first or (width, height) != (self.width(), self.height()):
            self.resize(width, height)
            self.move(
                area.left() + max(0, (area.width() - width - frame_w) // 2),
                area.top() + max(0, (area.height() - height - frame_h) // 2),
            )

    def save_geometry(self) -> None:
        settings = window_settings()
        settings.setValue("main_window/geometry", self.saveGeometry())
        settings.setValue("main_window/tab", self.tabs.currentIndex())
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closing = True
        self.save_geometry()
        self.sync_timer.stop()
        if self.bridge is not None:
            self.bridge.close()
        for dialog in (self.pending_panel, self.sign_in_dialog):
            if dialog is not None:
                dialog.close()
        self.ops.shutdown()
        session = self.session
        if session is not None:
            try:
                session.close()
            except Exception:
                log.exception("closing the session failed")
        super().closeEvent(event)


def subpage_tabs(window: MainWindow, name: str) -> QTabWidget | None:
    """The inner QTabWidget of a top-level tab with sub-tabs (tests, screenshots)."""
    found = window.tabs.findChild(QTabWidget, f"tabs_{name}")
    return found if isinstance(found, QTabWidget) else None
