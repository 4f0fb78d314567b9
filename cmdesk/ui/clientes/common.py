"""What the Clientes screens share: running a command (outbox) or an online call without blocking,
asking for a sync, and showing answers and refusals in Spanish without blocking the event loop
(message boxes are opened with `open()`, never `exec()`, so tests and the sync keep running)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from cmdesk.domain.errors import DomainError
from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.sync import SessionExpired
from cmdesk.ui.tabs import AppContext

log = logging.getLogger(__name__)

OFFLINE_TEXT = "Esta operación necesita conexión con el servidor, y ahora no la hay. Inténtelo más tarde."


def tr(text: str) -> str:
    return QCoreApplication.translate("clientes", text)


def error_text(error: BaseException) -> str:
    """A refusal or failure in words a person reads."""
    if isinstance(error, OfflineError):
        return tr(OFFLINE_TEXT)
    if isinstance(error, ApiError | DomainError):
        detail = error.detail
        fields = (
            error.field_errors()
            if isinstance(error, ApiError)
            else {e.field: e.message for e in error.errors}
        )
        if fields and len(fields) == 1 and detail.strip().lower().startswith("los datos"):
            return next(iter(fields.values()))
        return detail
    if isinstance(error, SessionExpired):
        return str(error)
    return str(error) or type(error).__name__


def field_errors(error: BaseException) -> dict[str, str]:
    if isinstance(error, ApiError):
        return error.field_errors()
    if isinstance(error, DomainError):
        return {e.field: e.message for e in error.errors}
    return {}


def inform(parent: QWidget | None, title: str, text: str, *, warning: bool = False) -> QMessageBox:
    """A message box that does not block (tests read `text()` and close it)."""
    box = QMessageBox(QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Information, title, text)
    box.setParent(parent, box.windowFlags())
    box.setObjectName("message")
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setModal(True)
    box.finished.connect(box.deleteLater)
    box.open()
    return box


def ask(
    parent: QWidget | None, title: str, text: str, on_yes: Callable[[], None], *, yes: str = "", no: str = ""
) -> QMessageBox:
    """A yes/no question that does not block; `on_yes` runs when the user accepts."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text)
    box.setParent(parent, box.windowFlags())
    box.setObjectName("question")
    accept = box.addButton(yes or tr("Sí"), QMessageBox.ButtonRole.YesRole)
    accept.setObjectName("yes")
    refuse = box.addButton(no or tr("No"), QMessageBox.ButtonRole.NoRole)
    refuse.setObjectName("no")
    box.setDefaultButton(refuse)
    box.setModal(True)

    def finished(_code: int) -> None:
        if box.clickedButton() is accept:
            on_yes()
        box.deleteLater()

    box.finished.connect(finished)
    box.open()
    return box


def request_sync(widget: QWidget) -> None:
    """Ask the main window to send the outbox now (when it is there and online)."""
    window = widget.window()
    sync_now = getattr(window, "sync_now", None)
    if callable(sync_now):
        sync_now()
    else:  # a window of its own (the detail window): its parent is the main window
        parent = window.parentWidget()
        if parent is not None and callable(getattr(parent.window(), "sync_now", None)):
            parent.window().sync_now()  # type: ignore[attr-defined]


def run_command(
    context: AppContext,
    widget: QWidget,
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    sync: bool = True,
    **kwargs: Any,
) -> None:
    """`session.command(fn, ...)` in the cache pool (it writes the outbox and the cache); then a sync."""
    session = context.session
    if session is None:
        return

    def done(result: Any) -> None:
        if on_done is not None:
            on_done(result)
        if sync:
            request_sync(widget)

    def failed(error: BaseException) -> None:
        if on_error is not None:
            on_error(error)
        else:
            inform(widget, tr("No se pudo guardar"), error_text(error), warning=True)

    context.ops.run(
        lambda: session.command(fn, *args, **kwargs),
        on_done=done,
        on_error=failed,
        pool="cache",
        label=tr("Guardando"),
    )


def run_online(
    context: AppContext,
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    label: str = "",
) -> None:
    """`fn(api, cache, *args)` in the network pool: calls that need the server now (licenses, the
    admin profile, records)."""
    session = context.session
    if session is None or session.api is None or session.cache is None:
        on_error(SessionExpired(tr("Inicie sesión para trabajar con una cuenta.")))
        return
    api, cache = session.api, session.cache
    context.ops.run(fn, api, cache, *args, on_done=on_done, on_error=on_error, pool="net", label=label)
