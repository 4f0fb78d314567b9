"""The `cmdesk` command: --version, --self-test, --server; Spanish set-up; unexpected errors."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, QObject, Signal
from PySide6.QtWidgets import QApplication

import cmdesk
from cmdesk import app as entry
from cmdesk.services import paths
from cmdesk.services.config import load_config
from cmdesk.ui import errors
from cmdesk.ui.app import apply_server_argument, build_parser

ROOT = Path(cmdesk.__file__).resolve().parent.parent


def run_cmdesk(*args: str, home: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", paths.HOME_ENV: str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cmdesk.app", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


def test_version(tmp_path: Path) -> None:
    done = run_cmdesk("--version", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"cmdesk {cmdesk.__version__}"


@pytest.mark.slow
def test_self_test_passes(tmp_path: Path) -> None:
    done = run_cmdesk("--self-test", home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Autoprueba correcta." in done.stdout
    for checked in ("servidor integrado", "base de datos", "caché local", "bandeja de salida", "Clientes"):
        assert checked in done.stdout
    # No keyring on the test machines: said, but not a failure.
    assert "[AVISO]" in done.stdout or "almacén de contraseñas" in done.stdout
    assert not list(tmp_path.iterdir())  # the self-test works in its own temporary folder


def test_the_parser_knows_the_arguments() -> None:
    args = build_parser().parse_args(["--server", "https://cm.ejemplo.mx", "--home", "datos"])
    assert (args.server, args.home, args.self_test) == ("https://cm.ejemplo.mx", "datos", False)


def test_server_argument_is_saved_and_embedded_goes_back(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    assert apply_server_argument("https://CM.Ejemplo.mx/") is None
    assert load_config().server_url == "https://cm.ejemplo.mx"
    assert apply_server_argument("embedded") is None
    assert load_config().server_url is None


def test_a_bad_server_argument_exits_2_without_opening_a_window(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    assert entry.main(["--server", "ftp://cm.ejemplo.mx"]) == 2
    assert "https://" in capsys.readouterr().err
    assert load_config().server_url is None


def test_the_application_speaks_spanish(spanish_app: QApplication) -> None:
    assert QLocale().name() == "es_MX"
    assert spanish_app.organizationName() == "Induxsoft" and spanish_app.applicationName() == "cmdesk"
    # Qt's own texts from qtbase_es.
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancelar"


class _Emitter(QObject):
    fire = Signal()


def test_unexpected_errors_show_a_dialog_and_the_app_keeps_running(qtbot, tmp_path: Path, caplog) -> None:
    log_path = tmp_path / "cmdesk.log"
    reporter = errors.install(log_path)
    try:
        emitter = _Emitter()

        def broken_slot() -> None:
            raise ZeroDivisionError("división entre cero")

        emitter.fire.connect(broken_slot)
        with qtbot.waitSignal(reporter.shown, timeout=5000) as shown:
            emitter.fire.emit()  # PySide6 hands the slot's exception to sys.excepthook
        assert "Ocurrió un error inesperado" in shown.args[0]
        assert str(log_path) in shown.args[0]
        dialog = reporter.dialog
        assert dialog is not None and dialog.isVisible()
        assert "ZeroDivisionError" in dialog.detailedText()
        assert any("división entre cero" in r.getMessage() for r in caplog.records)

        # A second error while the dialog is open is counted in it, not a second dialog.
        worker = threading.Thread(target=lambda: (_ for _ in ()).throw(KeyError("hilo")))
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: reporter.count == 2)
        assert reporter.dialog is dialog and "2 errores" in dialog.informativeText()
        dialog.close()
        qtbot.waitUntil(lambda: reporter.dialog is None)
        # Still running: the event loop keeps delivering.
        assert QApplication.instance() is not None
    finally:
        errors.uninstall()
