"""Telling the user something at once, whichever tab is on screen: a system tray message (a Windows
toast) where there is a tray, and the main window's status bar always. Clicking the message runs
`on_click` (it opens the page that tells more)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMainWindow, QSystemTrayIcon, QWidget

from cmdesk.ui.alertas.actions import tr

_trays: dict[int, QSystemTrayIcon] = {}


def notify(widget: QWidget, title: str, text: str, on_click: Callable[[], object]) -> None:
    if QSystemTrayIcon.isSystemTrayAvailable():
        tray = _trays.get(id(widget))
        if tray is None:
            icon = QApplication.windowIcon()
            tray = QSystemTrayIcon(icon if not icon.isNull() else QIcon(), widget)
            tray.messageClicked.connect(on_click)
            tray.destroyed.connect(lambda *_: _trays.pop(id(widget), None))
            _trays[id(widget)] = tray
        tray.show()
        tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Warning, 15_000)
    window = widget.window()
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage(title + " — " + tr("vea la pestaña Alertas."), 30_000)


def open_page(page: QWidget) -> None:
    """Bring `page` to the front: every tab that holds it, and its window."""
    from PySide6.QtWidgets import QTabWidget

    parent = page.parentWidget()
    while parent is not None:
        if isinstance(parent, QTabWidget):
            for index in range(parent.count()):
                child = parent.widget(index)
                if child is not None and (child is page or child.isAncestorOf(page)):
                    parent.setCurrentIndex(index)
        parent = parent.parentWidget()
    window = page.window()
    window.showNormal()
    window.raise_()
    window.activateWindow()
