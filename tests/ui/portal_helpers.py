"""Helpers for the tests of the portal pages (Distribuidores, Facturación, Compras, Herramientas):
press the buttons of the message boxes the pages open, sync, and reach the embedded server's database
(to set up a state the demo lacks, through the server's own operations)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractButton,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from cmdesk.server import db
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.outbox import CommandState
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.page import TimbradoPage


def click(qtbot: Any, button: QAbstractButton) -> None:
    assert button.isEnabled(), f"{button.objectName() or button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def button(widget: QWidget, name: str) -> QPushButton:
    found = widget.findChild(QPushButton, name)
    assert isinstance(found, QPushButton), name
    return found


def box(qtbot: Any, page: QWidget, previous: object = None) -> QMessageBox:
    """The message box the page opened last (a new one, when `previous` is given)."""

    def ready() -> bool:
        found = getattr(page, "last_box", None)
        return (
            isinstance(found, QMessageBox)
            and shiboken6.isValid(found)
            and found is not previous
            and found.isVisible()
        )

    qtbot.waitUntil(ready, timeout=30_000)
    found: QMessageBox = page.last_box
    return found


def answer(qtbot: Any, page: QWidget, name: str = "yesButton", previous: object = None) -> str:
    """Press a button of the page's last message box; returns the box's text (and informative text)."""
    message = box(qtbot, page, previous)
    text = message.text() + "\n" + message.informativeText()
    click(qtbot, button(message, name))
    return text


def sync(qtbot: Any, window: MainWindow) -> None:
    """A whole sync that starts now (one under way may have pushed before the last command was queued)."""
    running = window._sync_handle
    if running is not None and not running.is_finished:
        qtbot.waitUntil(lambda: running.is_finished, timeout=60_000)
    with qtbot.waitSignal(window.synced, timeout=60_000):
        window.sync_now()


@contextmanager
def server_db(window: MainWindow) -> Iterator[db.SessionFactory]:
    """A session factory on the embedded server's database (the server's operations write through it,
    change feed included)."""
    session = window.session
    assert session is not None
    url = f"sqlite:///{(session.server_folder() / 'server.sqlite3').as_posix()}"
    engine = db.create_db_engine(url)
    try:
        yield db.session_factory(engine)
    finally:
        engine.dispose()


def outbound_mails(window: MainWindow, kind: str, **where: Any) -> list[Any]:
    """The server's mails of `kind` whose columns equal `where` (to_address=…, account_id=…), oldest
    first."""
    from sqlalchemy import select

    from cmdesk.models import OutboundMail

    stmt = select(OutboundMail).where(OutboundMail.kind == kind).order_by(OutboundMail.created_at)
    for column, value in where.items():
        stmt = stmt.where(getattr(OutboundMail, column) == value)
    with server_db(window) as factory:
        return db.run(factory, lambda s: list(s.scalars(stmt)))


def wait_rows(qtbot: Any, model: Any, predicate: Callable[[list[dict[str, Any]]], bool]) -> None:
    qtbot.waitUntil(lambda: predicate(model.rows()), timeout=30_000)


def show_page(window: MainWindow, name: str) -> QWidget:
    """Bring a page on screen (its top tab and sub-tab), as a person clicking the tabs would."""
    page = window.page(name)
    current: QWidget | None = page
    while current is not None and current is not window:
        stack = current.parentWidget()
        tabs = stack.parentWidget() if stack is not None else None
        if isinstance(stack, QStackedWidget) and isinstance(tabs, QTabWidget):
            tabs.setCurrentWidget(current)
        current = stack
    return page


def contrast(a: QColor, b: QColor) -> float:
    """WCAG's contrast ratio of two colors (4.5 is the least it asks for text)."""

    def luminance(color: QColor) -> float:
        def channel(c: int) -> float:
            v = c / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(color.red()) + 0.7152 * channel(color.green()) + 0.0722 * channel(color.blue())
        )

    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


@contextmanager
def timbrado_page(qtbot: Any, window: MainWindow, timeout: int = 30_000) -> Iterator[TimbradoPage]:
    """Clientes › Timbrado shown, its search empty and its rows loaded; afterwards no dialog, message
    or unsent command is left behind for the next test, and the session is online again."""
    page = window.page("clientes.timbrado")
    assert isinstance(page, TimbradoPage)
    inner = window.tabs.widget(0)
    assert isinstance(inner, QTabWidget)
    window.tabs.setCurrentIndex(0)
    inner.setCurrentWidget(page)
    page.search.clear()
    page.set_search("")
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy, timeout=timeout)
    yield page
    for widget in (page.dialog, page.confirm_box, window.context.watcher.last_message):
        if widget is not None:
            widget.close()
    session = window.session
    session._set_state(ConnectionState.ONLINE)
    for command in session.outbox.list():
        if command.state != CommandState.SENT:
            session.outbox.discard(command.id)
    qtbot.waitUntil(lambda: window.ops.busy == 0, timeout=timeout)
