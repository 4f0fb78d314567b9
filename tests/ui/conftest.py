"""Fixtures for the Qt interface: real widgets (pytest-qt, offscreen) over the REAL reference server.

- `seeded_server_folder` (once per test run): an embedded server's folder — SQLite database migrated
  and seeded with the demo, software files — made by a real `DesktopSession`; modules copy it, so
  each starts on fresh data without seeding again.
- `ui_home` (per module): a temporary `CMDESK_HOME` holding that copy as the embedded default.
- `started_window` (per module): a `MainWindow` over a `DesktopSession` on the embedded default,
  opened by the window itself (`start_session`, first sync included) and closed at the end.
- `central_server` (per module): an `EmbeddedServer` on another copy, standing for a central server.
- `wait_until(predicate)`: runs the Qt event loop until it holds (for module-scoped fixtures, where
  `qtbot` is not available).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QApplication

from cmdesk.app import embedded_default
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.settings import Settings
from cmdesk.services import paths
from cmdesk.services.config import DesktopConfig
from cmdesk.services.session import DesktopSession
from cmdesk.ui.app import create_application
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.operations import Operations

SERVER_FILES = ("server.sqlite3", "files", "seeded")


def wait_until(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    app = QCoreApplication.instance()
    assert app is not None
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)


@pytest.fixture(scope="session", autouse=True)
def spanish_app(qapp: QApplication) -> QApplication:
    """pytest-qt's QApplication, set up as cmdesk sets up its own (es-MX, Qt's Spanish texts)."""
    return create_application()


@pytest.fixture(scope="package", autouse=True)
def no_keyring() -> Iterator[None]:
    """No OS keyring, as on the test machines (tests that want one pass a CredentialStore)."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def ops() -> Iterator[Operations]:
    """The UI's two pools, shut down after the test."""
    operations = Operations()
    try:
        yield operations
    finally:
        operations.shutdown()
        operations.deleteLater()


@pytest.fixture(scope="session")
def seeded_server_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("seed-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(paths.HOME_ENV, str(home))
        session = DesktopSession(DesktopConfig(), embedded=embedded_default())
        try:
            result = session.start(sync=False)
            assert not result.needs_sign_in, result
        finally:
            session.close()
        return paths.server_dir(paths.EMBEDDED_KEY)


def copy_server(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in SERVER_FILES:
        item = source / name
        if item.is_dir():
            shutil.copytree(item, target / name)
        elif item.exists():
            shutil.copy2(item, target / name)
    return target


@pytest.fixture(scope="module")
def ui_home(tmp_path_factory: pytest.TempPathFactory, seeded_server_folder: Path) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("cmdesk-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(paths.HOME_ENV, str(home))
        copy_server(seeded_server_folder, paths.server_dir(paths.EMBEDDED_KEY))
        yield home


@pytest.fixture(scope="module")
def started_window(ui_home: Path, spanish_app: QApplication) -> Iterator[MainWindow]:
    window = MainWindow(DesktopSession(DesktopConfig(), embedded=embedded_default()))
    results: list[object] = []
    window.session_ready.connect(results.append)
    window.show()
    window.start_session()
    try:
        wait_until(lambda: results and window.ops.busy == 0)
        assert results[0] is not None and not getattr(results[0], "needs_sign_in", True), results
        yield window
    finally:
        window.close()


@pytest.fixture(scope="module")
def central_server(
    tmp_path_factory: pytest.TempPathFactory, seeded_server_folder: Path
) -> Iterator[EmbeddedServer]:
    folder = copy_server(seeded_server_folder, tmp_path_factory.mktemp("central"))
    url = f"sqlite:///{(folder / 'server.sqlite3').as_posix()}"
    server = EmbeddedServer(url, settings=Settings(database_url=url, software_store=folder / "files"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def free_port_url() -> str:
    """A loopback URL where nothing listens (a server that is down)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
