"""`cmdesk`: the QApplication in Spanish (Mexico), the command line, and the main window.

    cmdesk                          the embedded default, or the server in config.json
    cmdesk --server https://cm.example.mx     use (and remember) a central server
    cmdesk --server embedded        back to the embedded default
    cmdesk --home D:\\cmdesk         keep every file in that folder (CMDESK_HOME)
    cmdesk --version                print the version
    cmdesk --self-test              open the embedded default in a temporary folder, offscreen, and
                                    say what works (exit 0) or what failed (exit 1)
    cmdesk --measure-startup        start as usual, print `startup: window X s, data Y s, session Z s`
                                    (seconds since `CMDESK_MEASURE_T0`, an epoch time, else since
                                    main(); see `_report_startup`) and quit: the cold-start figures
                                    of `bench/run_all.py`

Language: the default QLocale is es-MX, Qt's own dialogs come from `qtbase_es` (skipped when the
file is missing), and a second translator slot loads cmdesk's own `.qm` when one ships
(`cmdesk/resources/translations/cmdesk_es_MX.qm`). High-DPI scaling is Qt 6's default. Dark mode:
the platform palette is used as is; on Windows the old "windowsvista" style can't draw dark, so a
dark system gets Fusion (which follows the palette).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QEventLoop,
    QLibraryInfo,
    QLocale,
    Qt,
    QTimer,
    QTranslator,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

import cmdesk
from cmdesk.argparse_es import SpanishArgumentParser
from cmdesk.resources import resource_path
from cmdesk.services import frozen, paths
from cmdesk.ui import translator

if TYPE_CHECKING:
    from cmdesk.services.session import EmbeddedDefault
    from cmdesk.ui.main_window import MainWindow

log = logging.getLogger(__name__)

EMBEDDED_ARGUMENT = "embedded"
OUR_TRANSLATION = "cmdesk_es_MX"
WINDOW_ICON = "cmdesk.png"  # drawn by installer/make_icon.py, like the exe's and installer's .ico


tr = translator("app")


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishArgumentParser(
        prog="cmdesk",
        description="Cuenta Maestra de escritorio (Induxsoft).",
        add_help=True,
    )
    parser.add_argument(
        "--server",
        metavar="URL",
        help="usar este servidor central y recordarlo; «embedded» vuelve al servidor integrado",
    )
    parser.add_argument("--home", metavar="CARPETA", help="carpeta de datos (reemplaza a CMDESK_HOME)")
    parser.add_argument("--version", action="version", version=f"cmdesk {cmdesk.__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="comprobar la instalación en una carpeta temporal, sin ventana, y salir",
    )
    parser.add_argument(
        "--measure-startup",
        action="store_true",
        help="medir el arranque (ventana visible y sesión abierta), informarlo y salir",
    )
    return parser


# ---- the application --------------------------------------------------------------------------------


def spanish_locale() -> QLocale:
    return QLocale(QLocale.Language.Spanish, QLocale.Country.Mexico)


def install_translations(app: QCoreApplication) -> list[QTranslator]:
    """es-MX as the default locale, Qt's Spanish strings, and cmdesk's own translation if present."""
    QLocale.setDefault(spanish_locale())
    installed: list[QTranslator] = []
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt = QTranslator(app)
    if qt.load("qtbase_es", qt_dir):
        app.installTranslator(qt)
        installed.append(qt)
    else:
        log.info("qtbase_es not found in %s; Qt's own texts stay in English", qt_dir)
    ours = QTranslator(app)
    folder = resource_path("translations")  # also inside the PyInstaller bundle
    if (folder / f"{OUR_TRANSLATION}.qm").is_file() and ours.load(OUR_TRANSLATION, str(folder)):
        app.installTranslator(ours)
        installed.append(ours)
    return installed


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (or the one that already exists), named, in Spanish, dark-mode aware."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setOrganizationName("Induxsoft")
    app.setApplicationName("cmdesk")
    app.setApplicationDisplayName("Cuenta Maestra")
    app.setApplicationVersion(cmdesk.__version__)
    icon = resource_path(WINDOW_ICON)
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    if not getattr(app, "_cmdesk_translators", None):
        app._cmdesk_translators = install_translations(app)  # type: ignore[attr-defined]
    _follow_dark_mode(app)
    return app


def _follow_dark_mode(app: QApplication) -> None:
    style = app.style()
    name = style.name().lower() if style is not None else ""
    if name == "windowsvista" and app.styleHints().colorScheme() == Qt.ColorScheme.Dark:
        app.setStyle("Fusion")


def _windows_app_id() -> None:
    """Group the taskbar button under cmdesk, not under python.exe."""
    if sys.platform != "win32":
        return
    try:
        import ctypes

        ctypes.windll.shell32.SetCurrentProcessExplicitAppUserModelID("Induxsoft.cmdesk")
    except (AttributeError, OSError):
        pass


def apply_server_argument(value: str) -> str | None:
    """Save `--server` in the configuration; returns a Spanish error, or None."""
    from cmdesk.services.config import load_config, save_config
    from cmdesk.ui.settings_dialog import check_server_url

    config = load_config()
    if value.strip().lower() == EMBEDDED_ARGUMENT:
        config.server_url = None
    else:
        url, problem = check_server_url(value)
        if problem:
            return problem
        config.server_url = url
    save_config(config)
    return None


# ---- entry point ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, embedded: EmbeddedDefault | None = None) -> int:
    """The application; `embedded` runs the embedded default (`cmdesk.app.embedded_default`)."""
    main_started = time.time()
    gc_thresholds = gc.get_threshold()
    # The start allocates a great deal and frees little (modules, classes, the server's routes): the
    # cyclic collector runs less often until the session is open (`_started`).
    gc.set_threshold(STARTUP_GC_THRESHOLD, *gc_thresholds[1:])
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    if args.self_test:
        return self_test(embedded=embedded)
    if args.home:
        os.environ[paths.HOME_ENV] = str(Path(args.home).expanduser().resolve())
    if args.server is not None:
        # Validated with the same rules (and texts) as the settings dialog.
        problem = apply_server_argument(args.server)
        if problem:
            print(f"cmdesk: {problem}", file=sys.stderr)
            return 2

    from cmdesk.services.config import load_config
    from cmdesk.services.logs import setup_logging
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui import errors
    from cmdesk.ui.main_window import MainWindow

    log_path = setup_logging()
    log.info("cmdesk %s starting", cmdesk.__version__)
    # Frozen app: the Windows Credential Manager, a crash log, the installer's mutex.
    frozen.prepare(log_path.parent)
    _windows_app_id()
    app = create_application(sys.argv[:1])
    errors.install(log_path, app)
    window = MainWindow(DesktopSession(load_config(), embedded=embedded), log_path=log_path)
    window.session_ready.connect(
        lambda _result: QTimer.singleShot(STARTUP_GC_DELAY_MS, lambda: _started(gc_thresholds))
    )
    window.show()
    if args.measure_startup:
        _report_startup(app, window, float(os.environ.get("CMDESK_MEASURE_T0") or main_started))
    window.start_session()
    try:
        return int(app.exec())
    finally:
        errors.uninstall()
        log.info("cmdesk closed")


STARTUP_GC_THRESHOLD = 20_000  # the collector's first generation during the start (Python's is 2000)
STARTUP_GC_DELAY_MS = 2000  # after the session opened, when the window has nothing else to do


def _started(gc_thresholds: tuple[int, ...]) -> None:
    """The session opened a moment ago: what the start built stays for good (out of the collector's way, which
    makes its later full passes shorter), and the collector runs as usual again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*gc_thresholds)


STARTUP_TIMEOUT = 120.0  # --measure-startup gives up (exit 1) when the data has not shown by then


def _report_startup(
    app: QApplication, window: MainWindow, t0: float, timeout: float = STARTUP_TIMEOUT
) -> None:
    """--measure-startup: three marks, in seconds since `t0`, printed once all are known, then quit.

    - `window`: the event loop first runs with the window shown (empty);
    - `data`: the window shows an account's data — the header names the account and the client table
      has rows (`MainWindow.shows_data`), the data from the last run's cache or, on a first start,
      from the first sync — and the whole window has been painted with it (a synchronous repaint, so
      its cost is counted);
    - `session`: the session is open (embedded server up, signed in, first sync done) and the event
      loop runs again.

    Exit 1 when the session failed to open or no data showed within `timeout` seconds."""
    marks: dict[str, float] = {}
    finished = False

    def finish(code: int, note: str = "") -> None:
        nonlocal finished
        if finished:
            return
        finished = True
        parts = [f"{name} {marks[name]:.3f} s" for name in ("window", "data", "session") if name in marks]
        print("startup: " + ", ".join(parts) + (f" ({note})" if note else ""), flush=True)
        window.close()
        app.exit(code)

    def mark(name: str) -> None:
        marks.setdefault(name, time.time() - t0)
        if "data" in marks and "session" in marks:
            finish(0)

    def painted_with_data() -> None:
        if "data" in marks or finished or not window.shows_data():
            return
        # Lay out and paint now, with the data (the header's labels grew): the figure includes both.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        window.repaint()
        mark("data")

    def check_data(*_args: object) -> None:
        if "data" not in marks and window.shows_data():
            QTimer.singleShot(0, painted_with_data)

    def ready(result: object) -> None:
        if result is None:
            finish(1, "no se pudo abrir la sesión")
            return
        QTimer.singleShot(0, lambda: mark("session"))

    QTimer.singleShot(0, lambda: mark("window"))
    window.status_updated.connect(check_data)
    model = getattr(window.pages.get("clientes.clientes"), "model", None)
    if model is not None:
        model.modelReset.connect(check_data)
        model.rowsInserted.connect(check_data)
    window.session_ready.connect(ready)
    QTimer.singleShot(int(timeout * 1000), lambda: finish(1, "la ventana no mostró datos a tiempo"))


# ---- self-test ----------------------------------------------------------------------------------------


class _Report:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.failures: list[str] = []

    def ok(self, what: str) -> None:
        self.out(f"[OK]    {what}")

    def warn(self, what: str) -> None:
        self.out(f"[AVISO] {what}")

    def fail(self, what: str) -> None:
        self.failures.append(what)
        self.out(f"[FALLA] {what}")


def _wait(app: QCoreApplication, done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
    return True


def _print(text: str) -> None:
    try:
        print(text, flush=True)
    except UnicodeEncodeError:  # a console without these characters
        print(text.encode("ascii", "replace").decode("ascii"), flush=True)


def self_test(
    out: Callable[[str], None] = _print, timeout: float = 120.0, *, embedded: EmbeddedDefault | None = None
) -> int:
    """Start the embedded default in a temporary CMDESK_HOME, open the main window offscreen, check the
    keyring, the database, the cache and the outbox, and print each result. 0 when nothing failed."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="cmdesk-self-test-"))
    previous_home = os.environ.get(paths.HOME_ENV)
    os.environ[paths.HOME_ENV] = str(home)
    report = _Report(out)
    out(tr("cmdesk {version} — autoprueba en {folder}").format(version=cmdesk.__version__, folder=home))
    window = None
    session = None
    modal_watch: QTimer | None = None
    try:
        from cmdesk.services.config import DesktopConfig
        from cmdesk.services.credentials import CredentialStore
        from cmdesk.services.logs import setup_logging
        from cmdesk.services.session import DesktopSession
        from cmdesk.ui import errors
        from cmdesk.ui.main_window import MainWindow

        log_path = setup_logging()
        frozen.choose_keyring()
        app = create_application(sys.argv[:1])
        errors.install_qt_message_handler()
        # A modal message box would block the test forever offscreen: report it and close it.
        modal_watch = QTimer()
        modal_watch.setInterval(100)
        modal_watch.timeout.connect(lambda: _close_modal(report))
        modal_watch.start()
        report.ok(
            tr("Qt {platform} · idioma {language}").format(
                platform=app.platformName(), language=QLocale().name()
            )
        )
        if len(getattr(app, "_cmdesk_translators", [])) >= 1:
            report.ok(tr("textos de Qt en español (qtbase_es)"))
        else:
            report.warn(tr("no se encontró qtbase_es: los diálogos de Qt saldrán en inglés"))
        _check_bundle(report, embedded)

        store = CredentialStore()
        backend = _keyring_name()
        if store.available():
            report.ok(tr("almacén de contraseñas: {backend}").format(backend=backend))
        else:
            # Not a failure: cmdesk works, it only asks for the password at each start.
            report.warn(
                tr("sin almacén seguro de contraseñas ({backend}); se pedirá la contraseña cada vez").format(
                    backend=backend
                )
            )

        session = DesktopSession(DesktopConfig(), embedded=embedded)
        window = MainWindow(session, log_path=log_path)
        window.show()
        results: list[object] = []
        window.session_ready.connect(results.append)
        window.start_session()
        if not _wait(app, lambda: bool(results), timeout):
            report.fail(tr("el servidor integrado no respondió a tiempo"))
            return 1
        result = results[0]
        if result is None or getattr(result, "needs_sign_in", True):
            report.fail(tr("no se pudo abrir la sesión en el servidor integrado"))
            return 1
        report.ok(tr("servidor integrado en {url}").format(url=session.server.url if session.server else "?"))

        api = session.api
        health = api.health_answer() if api is not None else None
        if isinstance(health, dict) and health.get("database") == "ok":
            report.ok(tr("base de datos del servidor (SQLite) en orden"))
        else:
            report.fail(
                tr("la base de datos del servidor no respondió bien: {answer}").format(answer=repr(health))
            )

        cache = session.cache
        counts = cache.counts() if cache is not None else {}
        if counts.get("client", 0) > 0:
            report.ok(
                tr("caché local: {clients} clientes, {rows} registros").format(
                    clients=counts.get("client", 0), rows=sum(counts.values())
                )
            )
        else:
            report.fail(
                tr("la caché local quedó vacía después de sincronizar: {counts}").format(counts=counts)
            )
        if session.outbox is not None:
            report.ok(
                tr("bandeja de salida: {n} operaciones pendientes").format(n=session.outbox.pending_count())
            )
        else:
            report.fail(tr("la bandeja de salida no se abrió"))

        from cmdesk.ui.tabs import LAYOUT

        titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        expected = [QCoreApplication.translate("tabs", spec.title) for spec in LAYOUT]
        if titles == expected:
            report.ok(tr("ventana principal: ") + ", ".join(titles))
        else:
            report.fail(tr("pestañas inesperadas: {titles}").format(titles=titles))
        clients = window.pages["clientes.clientes"]
        model = getattr(clients, "model", None)  # the interim TablePage or the real Clientes page
        if model is not None and _wait(app, lambda: model.rowCount() > 0, 30):
            report.ok(tr("pestaña Clientes con {n} filas").format(n=model.rowCount()))
        else:
            report.fail(tr("la pestaña Clientes no mostró datos"))
        account = session.account()
        if account:
            report.ok(tr("cuenta {nic} — {name}").format(nic=account.get("nic"), name=account.get("name")))
        else:
            report.fail(tr("no se leyó la cuenta"))
    except Exception as exc:  # every failure is reported, not raised
        log.exception("self-test failed")
        report.fail(f"{type(exc).__name__}: {exc}")
    finally:
        if modal_watch is not None:
            modal_watch.stop()
            modal_watch.deleteLater()
        if window is not None:
            window.close()
        elif session is not None:
            session.close()
        if previous_home is None:
            os.environ.pop(paths.HOME_ENV, None)
        else:
            os.environ[paths.HOME_ENV] = previous_home
        logging.shutdown()
        shutil.rmtree(home, ignore_errors=True)
    if report.failures:
        out(tr("Autoprueba con {n} falla(s): ").format(n=len(report.failures)) + "; ".join(report.failures))
        return 1
    out(tr("Autoprueba correcta."))
    return 0


def _close_modal(report: _Report) -> None:
    widget = QApplication.activeModalWidget()
    if isinstance(widget, QMessageBox):
        report.fail(tr("aviso inesperado: {text}").format(text=widget.text()))
        widget.reject()


def _check_bundle(report: _Report, embedded: EmbeddedDefault | None) -> None:
    """The data files an installed cmdesk needs: the embedded server's migrations, the demo data and
    the update key."""
    if embedded is None or embedded.migrations is None:
        report.fail(tr("esta instalación no incluye el servidor integrado"))
    else:
        head, folder = embedded.migrations()
        if head and (folder / "script.py.mako").is_file():
            report.ok(tr("migraciones de la base de datos hasta {head}").format(head=head))
        else:
            report.fail(tr("faltan las migraciones en {folder}").format(folder=folder))
    missing = [
        name
        for name in ("demo/catalog.json", "demo/people.json", "update_key.pub", WINDOW_ICON)
        if not resource_path(*name.split("/")).is_file()
    ]
    if missing:
        report.fail(tr("faltan archivos de cmdesk/resources: {files}").format(files=", ".join(missing)))
    else:
        report.ok(
            tr("recursos en {folder}{frozen}").format(
                folder=resource_path(), frozen=tr(" (aplicación empaquetada)") if frozen.is_frozen() else ""
            )
        )
    from cmdesk.services import updates

    try:
        updates.load_public_key()  # Ed25519 through `cryptography`, as the self-update uses it
        report.ok(tr("llave para verificar las actualizaciones (Ed25519)"))
    except updates.UpdateError as exc:
        report.fail(str(exc))


def _keyring_name() -> str:
    try:
        import keyring

        backend = keyring.get_keyring()
        return f"{type(backend).__module__}.{type(backend).__name__}"
    except Exception as exc:
        return f"error: {exc}"


__all__ = ["build_parser", "create_application", "install_translations", "main", "self_test"]
