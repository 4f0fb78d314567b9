"""The start of the main window: the data kept from the last run shows before the session opens (the
embedded server, the sign-in and the first sync come after), a first start opens the session at once,
and `cmdesk --measure-startup` reports when the window really shows the account and its rows."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from cmdesk.app import embedded_default
from cmdesk.services import paths
from cmdesk.services.config import DesktopConfig
from cmdesk.services.session import SESSION_FILE, DesktopSession, StartResult
from cmdesk.ui import main_window
from cmdesk.ui.app import _report_startup
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.status_bar import state_text
from tests.ui.conftest import copy_server, wait_until
from tests.ui.test_app import run_cmdesk

NEVER_MS = 600_000  # the fallback start of the session, pushed out of every test's reach


def fresh_home(root: Path, seeded_server_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.HOME_ENV, str(root))
    copy_server(seeded_server_folder, paths.server_dir(paths.EMBEDDED_KEY))
    return root


@pytest.fixture
def warm_home(tmp_path: Path, seeded_server_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder a previous run left: the embedded server's database, the saved session and the
    account's synced cache."""
    home = fresh_home(tmp_path / "home", seeded_server_folder, monkeypatch)
    previous = DesktopSession(DesktopConfig(), embedded=embedded_default())
    try:
        assert not previous.start().needs_sign_in
        assert previous.cache is not None and previous.cache.count_clients() > 0
    finally:
        previous.close()
    yield home


class GatedStart:
    """Stands for `session.start`: waits for `release` before opening the session for real."""

    def __init__(self, session: DesktopSession) -> None:
        self.original = session.start
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, *, sync: bool = True) -> StartResult:
        self.entered.set()
        assert self.release.wait(60), "the test never released the start"
        return self.original(sync=sync)


def open_window(session: DesktopSession) -> tuple[MainWindow, list[object]]:
    window = MainWindow(session)
    results: list[object] = []
    window.session_ready.connect(results.append)
    window.show()
    window.start_session()
    return window, results


def test_the_saved_data_shows_before_the_session_opens(
    warm_home: Path, spanish_app: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window, "SAVED_DATA_WAIT_MS", NEVER_MS)
    session = DesktopSession(DesktopConfig(), embedded=embedded_default())
    gate = GatedStart(session)
    monkeypatch.setattr(session, "start", gate)
    window, results = open_window(session)
    try:
        wait_until(window.shows_data, timeout=30)
        # On screen: the account and the portfolio kept on this computer; no server yet.
        assert session.server is None and not window.started and results == []
        account = session.account()
        assert account is not None and window.shown_account == account
        assert window.header.name.text() == account["name"]
        clients = window.page("clientes.clientes")
        assert clients.model.rowCount() > 0  # type: ignore[attr-defined]
        assert window.status.connection.text() == state_text(None)  # «Iniciando…», not «Sin conexión»
        # The session then opens by itself (the fallback timer is out of reach): after the reads.
        wait_until(gate.entered.is_set, timeout=30)
        gate.release.set()
        wait_until(lambda: results and window.ops.busy == 0, timeout=60)
        result = results[0]
        assert isinstance(result, StartResult) and not result.needs_sign_in
        assert session.server is not None and window.started and window.shows_data()
        assert window.status.connection.text() == state_text("online")
    finally:
        gate.release.set()
        window.close()


def test_a_first_start_opens_the_session_at_once(
    tmp_path: Path, seeded_server_folder: Path, spanish_app: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing saved on this computer (the server's database exists, as after its seeding): no data
    to show, the session opens without waiting, and its first sync brings the data."""
    fresh_home(tmp_path / "home", seeded_server_folder, monkeypatch)
    folder = paths.server_dir(paths.EMBEDDED_KEY)
    assert not (folder / SESSION_FILE).exists() and not (folder / "accounts").exists()
    monkeypatch.setattr(main_window, "SAVED_DATA_WAIT_MS", NEVER_MS)
    window, results = open_window(DesktopSession(DesktopConfig(), embedded=embedded_default()))
    try:
        assert not window.shows_data()
        wait_until(lambda: results, timeout=60)
        assert isinstance(results[0], StartResult) and not results[0].needs_sign_in
        wait_until(window.shows_data, timeout=30)
    finally:
        window.close()


def test_the_session_opens_even_when_the_saved_data_is_slow(
    warm_home: Path, spanish_app: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window, "SAVED_DATA_WAIT_MS", 50)
    session = DesktopSession(DesktopConfig(), embedded=embedded_default())
    release = threading.Event()
    original = session.open_saved_account

    def slow_open() -> bool:
        assert release.wait(60)
        return original()

    monkeypatch.setattr(session, "open_saved_account", slow_open)
    window, results = open_window(session)
    try:
        wait_until(lambda: results, timeout=60)  # while the saved data is still being opened
        assert isinstance(results[0], StartResult) and not results[0].needs_sign_in
        release.set()
        wait_until(lambda: window.ops.busy == 0 and window.shows_data(), timeout=30)
        assert len(results) == 1  # opened once
    finally:
        release.set()
        window.close()


def test_closing_before_the_session_opens_starts_no_server(
    warm_home: Path, spanish_app: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window, "SAVED_DATA_WAIT_MS", NEVER_MS)
    session = DesktopSession(DesktopConfig(), embedded=embedded_default())
    release = threading.Event()
    original = session.open_saved_account
    started: list[bool] = []

    def slow_open() -> bool:
        assert release.wait(60)
        return original()

    def start(*, sync: bool = True) -> StartResult:
        started.append(sync)
        return StartResult(False)

    monkeypatch.setattr(session, "open_saved_account", slow_open)
    monkeypatch.setattr(session, "start", start)
    errors: list[object] = []
    monkeypatch.setattr(main_window.QMessageBox, "critical", lambda *args: errors.append(args))
    window, results = open_window(session)
    timer = threading.Timer(0.3, release.set)
    timer.start()
    window.close()  # waits for the running job (released above), and drops what comes after
    wait_until(lambda: not timer.is_alive(), timeout=10)
    QApplication.processEvents()
    assert started == [] and results == [] and session.server is None
    assert errors == []  # no «No se pudo abrir la sesión» for a window already closed


STARTUP_LINE = re.compile(r"^startup: window ([\d.]+) s, data ([\d.]+) s, session ([\d.]+) s$", re.M)


@pytest.mark.slow
def test_measure_startup_reports_the_window_with_data(tmp_path: Path, seeded_server_folder: Path) -> None:
    home = tmp_path / "home"
    with pytest.MonkeyPatch.context() as mp:
        fresh_home(home, seeded_server_folder, mp)
    figures = []
    for _ in range(2):  # a first start (no cache: the data comes with the sync), then a warm one
        done = run_cmdesk("--measure-startup", home=home)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        found = STARTUP_LINE.search(done.stdout)
        assert found is not None, done.stdout
        figures.append(tuple(float(x) for x in found.groups()))
    for window, data, _session in figures:
        assert 0 < window <= data
    # The second start shows the saved data before the server is up (it starts after those reads).
    _window, data, session = figures[1]
    assert data < session


class FakeWindow(QObject):
    """What `_report_startup` uses of the main window, with a window that never shows data."""

    status_updated = Signal(dict)
    session_ready = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, object] = {}
        self.closed = False

    def shows_data(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


class FakeApp:
    def __init__(self) -> None:
        self.codes: list[int] = []

    def exit(self, code: int) -> None:
        self.codes.append(code)


def test_measure_startup_fails_when_no_data_shows(spanish_app: QApplication, capsys) -> None:
    """A session that opens but never shows the account with rows: exit 1, and the line says why
    (no `data` figure as if the window had shown it)."""
    window, app = FakeWindow(), FakeApp()
    _report_startup(app, window, 0.0, timeout=0.5)  # type: ignore[arg-type]
    window.session_ready.emit(StartResult(False))
    wait_until(lambda: app.codes, timeout=10)
    line = capsys.readouterr().out.strip()
    assert app.codes == [1] and window.closed
    assert line.startswith("startup: window ") and " session " in line and " data " not in line
    assert "no mostró datos" in line


def test_measure_startup_fails_when_the_session_fails(spanish_app: QApplication, capsys) -> None:
    window, app = FakeWindow(), FakeApp()
    _report_startup(app, window, 0.0, timeout=30)  # type: ignore[arg-type]
    window.session_ready.emit(None)
    assert app.codes == [1] and window.closed
    assert "no se pudo abrir la sesión" in capsys.readouterr().out
