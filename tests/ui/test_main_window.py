"""The main window over a real session on the embedded default: tabs, header, status bar, menus."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt, QThread
from PySide6.QtWidgets import QApplication, QTabWidget

from cmdesk.services import commands, paths
from cmdesk.services.connectivity import ConnectionState
from cmdesk.ui import locale as fmt
from cmdesk.ui import tabs
from cmdesk.ui.ayuda import AyudaPage
from cmdesk.ui.clientes.model import COLUMN_INDEX
from cmdesk.ui.main_window import MainWindow, subpage_tabs, window_settings
from cmdesk.ui.settings_dialog import SettingsDialog, check_server_url
from tests.ui.conftest import wait_until
from tests.ui.portal_helpers import show_page

TOP_TABS = ["Clientes", "Alertas", "Facturación", "Compras", "Software", "Herramientas", "Ayuda"]


def shown(window: MainWindow, name: str) -> Any:
    """A page brought on screen (a hidden page reads nothing until it is shown)."""
    return show_page(window, name)


def client_names(page: Any) -> list[str]:
    """The client names the Clientes page shows."""
    return [str(row.data["name"]) for row in page.model.rows()]


def tab_titles(widget: QTabWidget) -> list[str]:
    return [widget.tabText(i) for i in range(widget.count())]


def test_the_tabs_mirror_the_portal_menus_and_alertas(started_window: MainWindow) -> None:
    assert tab_titles(started_window.tabs) == TOP_TABS


def test_clientes_has_clientes_timbrado_and_distribuidores(started_window: MainWindow) -> None:
    inner = subpage_tabs(started_window, "clientes")
    assert inner is not None
    assert tab_titles(inner) == ["Clientes", "Timbrado", "Distribuidores"]
    herramientas = subpage_tabs(started_window, "herramientas")
    assert herramientas is not None
    assert tab_titles(herramientas) == [
        "Precios",
        "Usuarios",
        "Configuraciones globales",
        "Reglas de alerta",
        "Estado de cuenta",
        "Bitácora",
    ]


def rows_shown(page: Any) -> int:
    model = page.model
    return len(model.files()) if hasattr(model, "files") else int(model.rowCount())


@pytest.mark.parametrize(
    ("page", "entity"),
    [
        ("clientes.clientes", "client"),
        ("clientes.timbrado", "stamping_account"),
        ("clientes.distribuidores", "distributor"),
        ("software", "software_file"),
        ("herramientas.precios", "price_package"),
    ],
)
def test_pages_show_the_cached_rows(started_window: MainWindow, page: str, entity: str) -> None:
    cache = started_window.session.cache
    assert cache is not None
    expected = len([r for r in cache.all(entity) if r.get("active", True) or entity != "software_file"])
    assert expected > 0
    shown_page = shown(started_window, page)
    wait_until(lambda: rows_shown(shown_page) == expected)


def test_clients_rows_are_real_data_in_spanish_formats(started_window: MainWindow) -> None:
    cache = started_window.session.cache
    assert cache is not None
    page = shown(started_window, "clientes.clientes")
    wait_until(lambda: page.model.rowCount() > 0 and not page.model.busy)
    first = sorted(cache.all("client"), key=lambda c: fmt.text_key(c["name"]))[0]
    texts = page.model.row_texts(0)
    assert texts[COLUMN_INDEX["nic"]] == first["nic"] and texts[COLUMN_INDEX["name"]] == first["name"]
    assert texts[COLUMN_INDEX["stamps"]] == fmt.number(first["balances"]["stamps"])  # thousands separators
    headers = [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(page.model.columnCount())]
    assert headers[2:4] == ["NIC", "Nombre / cuentas de timbrado"]


def test_billing_purchases_and_settings_pages_read_the_cache(started_window: MainWindow) -> None:
    cache = started_window.session.cache
    assert cache is not None
    billing = shown(started_window, "facturacion")
    clients = cache.pending_sales_by_client()
    assert clients
    wait_until(lambda: billing.sales.clients.rowCount() == len(clients))
    assert billing.sales.clients.row_texts(0)[3].startswith("$")
    compras = shown(started_window, "compras")
    wait_until(lambda: len(compras.stamps.packages) == len((cache.catalog() or {})["stamp_packages"]))
    settings = shown(started_window, "herramientas.configuracion")
    price = cache.all("settings")[0]["bulk_stamp_price_cents"] or 0
    wait_until(lambda: settings.price.text() == fmt.money(price))


def test_a_hidden_page_reloads_when_it_is_shown(qtbot, started_window: MainWindow) -> None:
    """A change reaches every page; a hidden one reads it when it is shown, not before."""
    page = shown(started_window, "herramientas.precios")
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy)
    shown(started_window, "herramientas.usuarios")
    loads = page.model.loads
    started_window.refresh_all(frozenset({"price_package"}))
    qtbot.wait(200)
    assert page.model.loads == loads and page.stale == {"price_package"}
    shown(started_window, "herramientas.precios")
    qtbot.waitUntil(lambda: page.model.loads > loads)
    assert not page.stale


def test_ayuda_shows_the_manual_help_and_the_version(started_window: MainWindow) -> None:
    import cmdesk

    page = started_window.page("ayuda")
    assert isinstance(page, AyudaPage)
    text = page.browser.toPlainText()
    assert "Hágalo usted mismo" in text and "aula virtual" in text
    assert cmdesk.__version__ in page.version.text()


def test_header_shows_the_account(started_window: MainWindow) -> None:
    account = started_window.session.account()
    assert account is not None
    header = started_window.header
    assert header.nic.text() == f"NIC {account['nic']}"
    assert header.expiry.text() == "Vence: " + fmt.date(account["expires_at"])
    assert header.name.text() == account["name"]
    assert header.stamps.value.text() == fmt.number(account["balances"]["stamps"])
    assert header.points.value.text() == fmt.number(account["balances"]["points"])


def test_status_bar_after_the_first_sync(started_window: MainWindow) -> None:
    status = started_window.status
    assert status.connection.text() == "En línea"
    assert status.pending.text() == "Operaciones pendientes: 0"
    when = started_window.session.last_sync_at
    assert when is not None
    assert status.last_sync.text() == "Última sincronización: " + fmt.date_time(when)


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (ConnectionState.OFFLINE, "Sin conexión"),
        (ConnectionState.SYNCING, "Sincronizando"),
        (ConnectionState.ONLINE, "En línea"),
    ],
)
def test_status_bar_follows_the_session_state_from_any_thread(
    qtbot, started_window: MainWindow, state: ConnectionState, text: str
) -> None:
    session = started_window.session
    seen: list[bool] = []
    # The session reports from whatever thread changed it: a worker here.
    worker = threading.Thread(target=session._set_state, args=(state,))
    started_window.bridge.received.connect(
        lambda _e: seen.append(QThread.currentThread() is QApplication.instance().thread())
    )
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: started_window.status.connection.text() == text)
    assert seen and all(seen)


def test_f5_syncs_now(qtbot, started_window: MainWindow) -> None:
    assert started_window.sync_action.shortcut().toString() == "F5"
    with qtbot.waitSignal(started_window.synced, timeout=30_000):
        started_window.sync_action.trigger()
    qtbot.waitUntil(lambda: started_window.status.connection.text() == "En línea")


def test_a_command_refreshes_the_pages_and_the_pending_count(qtbot, started_window: MainWindow) -> None:
    session = started_window.session
    cache = session.cache
    assert cache is not None
    client = cache.all("client")[0]
    table = shown(started_window, "clientes.clientes")
    # An edit made on the UI thread: the cache's optimistic value → a "commands" event → refresh.
    session.command(commands.update_client, client["id"], {"name": "Zacarías Renombrado"})
    qtbot.waitUntil(lambda: "Zacarías Renombrado" in client_names(table))
    qtbot.waitUntil(lambda: started_window.status.pending.text() == "Operaciones pendientes: 1")
    with qtbot.waitSignal(started_window.synced, timeout=30_000):
        started_window.sync_now()
    qtbot.waitUntil(lambda: started_window.status.pending.text() == "Operaciones pendientes: 0")
    assert cache.server_copy("client", client["id"])["name"] == "Zacarías Renombrado"


def test_events_reach_each_page_on_the_ui_thread(qtbot, started_window: MainWindow, monkeypatch) -> None:
    calls: list[tuple[frozenset[str], bool]] = []
    page = started_window.page("software")
    original = page.refresh

    def spy(changed: frozenset[str]) -> None:
        calls.append((changed, QThread.currentThread() is QApplication.instance().thread()))
        original(changed)

    monkeypatch.setattr(page, "refresh", spy)
    worker = threading.Thread(target=started_window.session._emit, args=("synced", {"software_file"}))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(calls))
    assert calls[0] == (frozenset({"software_file"}), True)


def test_clicking_the_pending_count_opens_the_panel(qtbot, started_window: MainWindow) -> None:
    qtbot.mouseClick(started_window.status.pending, Qt.MouseButton.LeftButton)
    panel = started_window.pending_panel
    assert panel is not None and panel.isVisible()
    assert panel.windowTitle() == "Operaciones pendientes"
    panel.close()


def test_menus(started_window: MainWindow) -> None:
    menus = [a.text() for a in started_window.menuBar().actions()]
    assert menus == ["&Archivo", "A&yuda"]
    archivo = started_window.menuBar().actions()[0].menu()
    texts = [a.text().replace("&", "") for a in archivo.actions() if not a.isSeparator()]
    assert texts == ["Configuración…", "Sincronizar ahora", "Operaciones pendientes…", "Cerrar sesión", "Salir"]
    ayuda = started_window.menuBar().actions()[1].menu()
    texts = [a.text().replace("&", "") for a in ayuda.actions() if not a.isSeparator()]
    # The first two: cmdesk/ui/ayuda (Correos de prueba only on the embedded default, as here).
    assert texts == ["Correos de prueba…", "Buscar actualizaciones…", "Acerca de cmdesk"]


def test_settings_change_the_sync_interval(qtbot, started_window: MainWindow) -> None:
    dialog = started_window.show_settings()
    assert isinstance(dialog, SettingsDialog)
    assert dialog.embedded.isChecked()
    dialog.interval.setValue(300)
    dialog.save()
    assert started_window.sync_timer.interval() == 300_000
    assert started_window.session.config.sync_interval_seconds == 300


def test_settings_validate_the_central_url(qtbot, started_window: MainWindow) -> None:
    dialog = SettingsDialog(started_window.session.config, started_window)
    qtbot.addWidget(dialog)
    dialog.central.setChecked(True)
    dialog.url.setText("ftp://cm.ejemplo.mx")
    dialog.save()
    assert dialog.error.isVisibleTo(dialog) and "https://" in dialog.error.text()
    assert dialog.config is None
    dialog.url.setText("https://CM.Ejemplo.mx/")
    dialog.ask_restart = lambda: False  # type: ignore[method-assign]
    dialog.save()
    assert dialog.config is not None and dialog.config.server_url == "https://cm.ejemplo.mx"
    assert dialog.server_changed and not dialog.restart_requested


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("cm.ejemplo.mx", "https://cm.ejemplo.mx"),
        ("http://192.168.1.10:8080/", None),  # unencrypted to another computer (issue 15)
        ("http://cm.ejemplo.mx", None),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://cm.ejemplo.mx:443", "https://cm.ejemplo.mx"),
        ("", None),
        ("https://", None),
        ("https://cm.ejemplo.mx?x=1", None),
        ("https://usuario:clave@cm.ejemplo.mx", None),
        ("https://cm.ejemplo.mx:99999", None),
    ],
)
def test_check_server_url(text: str, url: str | None) -> None:
    result, problem = check_server_url(text)
    assert result == url
    assert (problem is None) == (url is not None)


def test_plain_http_to_another_computer_is_refused_with_the_reason() -> None:
    _url, problem = check_server_url("http://192.168.1.10:8080")
    assert problem is not None and "sin cifrar" in problem and "https://" in problem


def test_window_geometry_is_remembered_in_an_ini_under_cmdesk_home(qtbot, started_window: MainWindow) -> None:
    # A size the window can take on this screen (the offscreen screen is small; pages have minimums).
    screen = started_window.screen().availableGeometry()
    hint = started_window.minimumSizeHint()
    size = (max(hint.width(), min(screen.width(), 1180)), max(hint.height(), min(screen.height(), 760)))
    started_window.resize(*size)
    size = (started_window.width(), started_window.height())
    started_window.save_geometry()
    settings = window_settings()
    assert settings.format() == QSettings.Format.IniFormat
    assert settings.fileName().startswith(str(paths.config_dir()))
    again = MainWindow(started_window.session)
    try:
        # Qt keeps a restored window on its screen: the width is the saved one, or the screen's.
        assert again.height() == size[1]
        assert abs(again.width() - min(size[0], screen.width())) <= 8
    finally:
        # Not closed: closing a main window closes its session, which the module shares.
        again.bridge.close()
        again.deleteLater()


def test_a_page_is_replaced_by_name(qtbot, started_window: MainWindow) -> None:
    class Replacement(tabs.TabPage):
        entities = frozenset({"client"})

        def reload(self, changed: frozenset[str]) -> None:
            self.last = changed

    saved = dict(tabs._factories)  # the real pages registered at import (cmdesk.ui.pages)
    tabs.register("clientes.timbrado", Replacement)
    try:
        widget, pages = tabs.build(started_window.context)
        qtbot.addWidget(widget)
        assert isinstance(pages["clientes.timbrado"], Replacement)
        # The other pages are untouched.
        assert type(pages["clientes.clientes"]) is type(started_window.page("clientes.clientes"))
        with pytest.raises(KeyError):
            tabs.register("clientes.inexistente", Replacement)
    finally:
        tabs._factories.clear()
        tabs._factories.update(saved)


def test_about_dialog(started_window: MainWindow) -> None:
    import cmdesk

    box = started_window.show_about()
    try:
        assert box.windowTitle() == "Acerca de cmdesk"
        assert f"cmdesk {cmdesk.__version__}" in box.text() and "servidor integrado" in box.text()
    finally:
        box.close()


def test_sign_out_and_in_again(qtbot, started_window: MainWindow, monkeypatch) -> None:
    """Last in the module: it closes the session's stores and opens them again."""
    from PySide6.QtWidgets import QMessageBox

    from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD

    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    clients = shown(started_window, "clientes.clientes")
    started_window.toggle_session()  # Archivo → Cerrar sesión
    qtbot.waitUntil(
        lambda: started_window.sign_in_dialog is not None and started_window.sign_in_dialog.isVisible()
    )
    qtbot.waitUntil(lambda: clients.model.rowCount() == 0)
    assert started_window.header.name.text() == "Sin sesión"
    assert started_window.session_action.text().replace("&", "") == "Iniciar sesión…"
    assert started_window.sync_now() is None  # nothing to sync while signed out

    dialog = started_window.sign_in_dialog
    dialog.login.setText(DEMO_EMAIL)
    dialog.password.setText(DEMO_PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=30_000):
        dialog.button.click()
    qtbot.waitUntil(lambda: clients.model.rowCount() > 0)
    account = started_window.session.account()
    qtbot.waitUntil(lambda: started_window.header.name.text() == account["name"])
    assert started_window.session_action.text().replace("&", "") == "Cerrar sesión"


def test_restart_on_another_server_and_back(qtbot, started_window: MainWindow) -> None:
    """After Configuración changes the server: the old session closes, the new one opens."""
    from cmdesk.services.config import DesktopConfig
    from tests.ui.conftest import free_port_url

    ready: list[object] = []
    started_window.session_ready.connect(ready.append)
    old = started_window.session
    started_window.restart_session(DesktopConfig(server_url=free_port_url()))
    qtbot.waitUntil(lambda: bool(ready), timeout=30_000)
    assert started_window.session is not old and old.server is None  # the embedded server stopped
    assert getattr(ready[0], "needs_sign_in", False)
    dialog = started_window.sign_in_dialog
    assert dialog is not None and dialog.isVisible()
    # No keyring here: said in the dialog and in the status bar.
    assert "contraseña" in dialog.notice.text()
    assert started_window.status.notice.isVisibleTo(started_window.status)
    dialog.reject()

    ready.clear()
    started_window.restart_session(DesktopConfig())
    qtbot.waitUntil(lambda: bool(ready), timeout=60_000)
    assert not getattr(ready[0], "needs_sign_in", True)
    clients = shown(started_window, "clientes.clientes")
    qtbot.waitUntil(lambda: clients.model.rowCount() > 0, timeout=30_000)
    qtbot.waitUntil(lambda: started_window.status.connection.text() == "En línea")
    # The central server's "no keyring: the password is asked again" is gone; what the embedded
    # default may say instead is where its own keys are kept (no keyring here either).
    from cmdesk.services.credentials import SECRET_IN_FILE_MESSAGE

    notice = started_window.status.notice
    assert not notice.isVisibleTo(started_window.status) or notice.text() == SECRET_IN_FILE_MESSAGE


def test_a_cache_image_shows_how_much_arrived_and_the_pages_read_it(
    qtbot, started_window: MainWindow, tmp_path: Path
) -> None:
    """When the server keeps the account's cache image, a rebuild (here: a cache not synced for a
    month) downloads it: the status bar tells how many MB of how many arrived, and the pages show it."""
    import datetime as dt

    from cmdesk.server import cache_images
    from cmdesk.services import sync

    session = started_window.session
    cache = session.cache
    assert cache is not None and session.server is not None and session.account_id is not None
    # The embedded default keeps no images (it runs in this process): here it stands for a central server.
    app = session.server._app
    assert app.state.cache_images is None
    builder = app.state.cache_images = cache_images.Builder(app.state.engine, tmp_path / "images")
    image = cache_images.build(builder.engine, session.account_id, builder.folder)
    before = sorted(client_names(shown(started_window, "clientes.clientes")))
    messages: list[str] = []
    started_window.status.messageChanged.connect(messages.append)
    cache.mark_synced(dt.datetime.now(dt.UTC) - sync.STALE_AFTER - dt.timedelta(days=1))
    try:
        with qtbot.waitSignal(started_window.synced, timeout=60_000) as synced:
            started_window.sync_now()
    finally:
        app.state.cache_images = None
    assert synced.args[0].pull.image == image.header["entities"]
    arrived = [m for m in messages if m.startswith("Descargando la copia de la cuenta:")]
    assert arrived and arrived[-1].endswith(" MB"), messages
    assert dt.datetime.now(dt.UTC) - cache.last_sync_at < dt.timedelta(minutes=5)
    qtbot.waitUntil(lambda: sorted(client_names(shown(started_window, "clientes.clientes"))) == before)


def test_a_snapshot_shows_how_much_arrived_and_the_pages_read_the_new_cache(
    qtbot, started_window: MainWindow
) -> None:
    """A cache not synced for a month is filled again from a snapshot (beside it): the status bar
    tells how much of the portfolio arrived, and the pages show the new cache's rows."""
    import datetime as dt

    from cmdesk.services import sync

    session = started_window.session
    cache = session.cache
    assert cache is not None
    before = sorted(client_names(shown(started_window, "clientes.clientes")))
    messages: list[str] = []
    maxima: list[int] = []  # the busy bar's range while it tells the progress (it resets when idle)

    def told(message: str) -> None:
        messages.append(message)
        maxima.append(started_window.status.busy.maximum())

    started_window.status.messageChanged.connect(told)
    cache.mark_synced(dt.datetime.now(dt.UTC) - sync.STALE_AFTER - dt.timedelta(days=1))
    with qtbot.waitSignal(started_window.synced, timeout=60_000):
        started_window.sync_now()
    arrived = [m for m in messages if m.startswith("Descargando la cartera:")]
    assert arrived, messages
    assert max(maxima) >= cache.count_clients() > 0
    assert dt.datetime.now(dt.UTC) - cache.last_sync_at < dt.timedelta(minutes=5)
    qtbot.waitUntil(lambda: sorted(client_names(shown(started_window, "clientes.clientes"))) == before)
