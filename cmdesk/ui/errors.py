"""Unexpected errors: logged with their traceback, shown in a dialog, and the application keeps running.

`install(log_path)` replaces `sys.excepthook` (PySide6 hands exceptions raised in slots and virtual
methods to it), `threading.excepthook` (exceptions in plain Python threads) and Qt's message handler
(Qt's own warnings go to the log). The dialog is always shown on the UI thread: a reporter QObject
living there receives the error through a queued signal, whichever thread it happened on. Errors that
arrive while the dialog is open are counted in it instead of piling up more dialogs.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import (
    QMessageLogContext,
    QObject,
    Qt,
    QtMsgType,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cmdesk.ui import translator

log = logging.getLogger("cmdesk.unexpected")
qt_log = logging.getLogger("cmdesk.qt")


tr = translator("errors")


class ErrorReporter(QObject):
    """Turns exceptions from any thread into a log record and one dialog on the UI thread."""

    _report = Signal(str, str)  # summary, formatted traceback
    shown = Signal(str)  # the dialog's text, once it is on screen (tests wait on it)

    def __init__(self, log_path: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.dialog: QMessageBox | None = None
        self.count = 0
        self.show_dialogs = True
        self._report.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        where: str = "",
    ) -> None:
        """Log the exception and ask the UI thread to show it. Safe to call from any thread."""
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error%s:\n%s", f" in {where}" if where else "", text.rstrip())
        summary = f"{exc_type.__name__}: {exc}"
        # RuntimeError: the reporter is already gone (the application is closing).
        with contextlib.suppress(RuntimeError):
            self._report.emit(summary, text)

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        self.count += 1
        if not self.show_dialogs or QApplication.instance() is None:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.setInformativeText(self._informative(summary))
            self.dialog.setDetailedText(details)
            return
        parent = QApplication.activeWindow()
        dialog = QMessageBox(parent if isinstance(parent, QWidget) else None)
        dialog.setIcon(QMessageBox.Icon.Critical)
        dialog.setWindowTitle(tr("Error inesperado"))
        dialog.setText(tr("Ocurrió un error inesperado. La aplicación sigue funcionando."))
        dialog.setInformativeText(self._informative(summary))
        dialog.setDetailedText(details)
        dialog.setStandardButtons(QMessageBox.StandardButton.Ok)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._closed)
        self.dialog = dialog
        self.count = 1
        # open(), not exec(): no nested event loop inside an exception hook.
        dialog.open()
        self.shown.emit(dialog.text() + "\n" + dialog.informativeText())

    def _informative(self, summary: str) -> str:
        lines = [summary]
        if self.count > 1:
            lines.append(tr("Se produjeron {n} errores desde que se abrió este aviso.").format(n=self.count))
        if self.log_path is not None:
            lines.append(tr("Los detalles quedaron en el registro: {path}").format(path=str(self.log_path)))
        return "\n\n".join(lines)

    @Slot()
    def _closed(self) -> None:
        self.dialog = None
        self.count = 0


_reporter: ErrorReporter | None = None
_previous_excepthook = sys.excepthook
_previous_threading_hook = threading.excepthook


def reporter() -> ErrorReporter | None:
    return _reporter


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        _previous_excepthook(exc_type, exc, tb)
        return
    if _reporter is None:
        _previous_excepthook(exc_type, exc, tb)
        return
    _reporter.report(exc_type, exc, tb)


def _threading_hook(args: threading.ExceptHookArgs) -> None:
    if _reporter is None or args.exc_value is None:
        _previous_threading_hook(args)
        return
    name = args.thread.name if args.thread is not None else "?"
    _reporter.report(args.exc_type, args.exc_value, args.exc_traceback, where=f"thread {name}")


_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message_handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    where = f" ({context.file}:{context.line})" if context.file else ""
    qt_log.log(_QT_LEVELS.get(mode, logging.WARNING), "%s%s", message, where)


def install(log_path: Path | None, parent: QObject | None = None) -> ErrorReporter:
    """Route unexpected errors to the log and a dialog. Call once the QApplication exists."""
    global _reporter, _previous_excepthook, _previous_threading_hook
    if _reporter is None:
        _previous_excepthook = sys.excepthook
        _previous_threading_hook = threading.excepthook
    _reporter = ErrorReporter(log_path, parent)
    sys.excepthook = _excepthook
    threading.excepthook = _threading_hook
    install_qt_message_handler()
    return _reporter


def install_qt_message_handler() -> None:
    """Qt's warnings go to the log instead of the console."""
    qInstallMessageHandler(_qt_message_handler)


def uninstall() -> None:
    """Put the previous hooks back (tests; the end of `main`)."""
    global _reporter
    sys.excepthook = _previous_excepthook
    threading.excepthook = _previous_threading_hook
    qInstallMessageHandler(None)
    _reporter = None
