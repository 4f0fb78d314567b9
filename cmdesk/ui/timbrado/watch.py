"""Telling the user when a command they queued comes back rejected (after a sync, maybe much later).

    watcher_for(context).watch(command)

The watcher follows the session's events; when one of its commands has been settled it drops it, and
when the server refused it (not enough stamps, say) it shows one message with the server's Spanish
reason and what to do about it, with a button to the pending-commands panel. The outbox is read in
the cache pool. One watcher per `AppContext` (per main window), shared by every page and dialog.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cmdesk.services.outbox import Command, CommandState
from cmdesk.ui.pending_panel import advice
from cmdesk.ui.timbrado.common import tr

if TYPE_CHECKING:
    from cmdesk.services.outbox import Outbox
    from cmdesk.services.session import DesktopSession, SessionEvent
    from cmdesk.ui.tabs import AppContext


def read_commands(outbox: Outbox | None, ids: list[str]) -> list[Command]:
    if outbox is None:
        return []
    return [c for c in (outbox.get(i) for i in ids) if c is not None]


class CommandWatcher(QObject):
    rejected = Signal(object)  # a watched Command the server refused
    settled = Signal(object)  # a watched Command that ended (applied, refused, in conflict or gone)
    _event = Signal()

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.ids: set[str] = set()
        self.last_message: QMessageBox | None = None
        self._session: DesktopSession | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._checking = False
        self._again = False
        self._event.connect(self.check, Qt.ConnectionType.QueuedConnection)

    def watch(self, command: Command) -> None:
        self.ids.add(command.id)
        self._follow(self.context.session)

    def _follow(self, session: DesktopSession | None) -> None:
        if session is self._session:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._session = session
        self._unsubscribe = session.subscribe(self._on_event) if session is not None else None

    def _on_event(self, event: SessionEvent) -> None:
        # Any thread: hop to the UI thread. RuntimeError: the watcher is gone (the app is closing).
        if event.kind != "state" and self.ids:
            with contextlib.suppress(RuntimeError):
                self._event.emit()

    @Slot()
    def check(self) -> None:
        """Read the watched commands' states (cache pool) and report the settled ones."""
        session = self.context.session
        if not self.ids or session is None:
            return
        if self._checking:
            self._again = True
            return
        self._checking = True
        self.context.ops.run(
            read_commands,
            session.outbox,
            sorted(self.ids),
            on_done=self._read,
            on_error=lambda _e: self._done(),
            pool="cache",
            label=tr("Revisando las operaciones enviadas"),
        )

    def _read(self, found: list[Command]) -> None:
        present = {c.id for c in found}
        self.ids -= {i for i in self.ids if i not in present}  # discarded meanwhile
        refused = []
        for command in found:
            if command.state in (CommandState.PENDING, CommandState.SENT):
                continue
            self.ids.discard(command.id)
            self.settled.emit(command)
            if command.state in (CommandState.REJECTED, CommandState.CONFLICT):
                refused.append(command)
                self.rejected.emit(command)
        if refused:
            self._tell(refused)
        self._done()

    def _done(self) -> None:
        self._checking = False
        if self._again:
            self._again = False
            self.check()

    def _tell(self, refused: list[Command]) -> None:
        if len(refused) == 1:
            command = refused[0]
            text = tr("El servidor rechazó la operación «{what}».").format(what=command.description)
            details = (command.error_detail or "") + "\n\n" + advice(command)
        else:
            text = tr("El servidor rechazó {n} operaciones.").format(n=len(refused))
            details = "\n\n".join(f"• {c.description}: {c.error_detail or ''}" for c in refused)
            details += "\n\n" + advice(refused[0])
        parent = QApplication.activeWindow()
        box = QMessageBox(parent if isinstance(parent, QWidget) else None)
        box.setObjectName("rejectionMessage")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(tr("Operación rechazada"))
        box.setText(text)
        box.setInformativeText(details.strip())
        panel = box.addButton(tr("Ver comandos pendientes"), QMessageBox.ButtonRole.ActionRole)
        box.addButton(tr("Cerrar"), QMessageBox.ButtonRole.RejectRole)
        panel.clicked.connect(self._open_panel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda *_: self._forget(box))
        self.last_message = box
        box.open()

    def _forget(self, box: QMessageBox) -> None:
        if self.last_message is box:
            self.last_message = None

    def _open_panel(self) -> None:
        # The panel of the window this watcher works for (there may be other main windows, e.g.
        # after changing server), else of any main window.
        top = QApplication.topLevelWidgets()
        windows = [w for w in top if callable(getattr(w, "show_pending_panel", None))]
        own = [w for w in windows if getattr(w, "context", None) is self.context]
        for widget in own or windows[:1]:
            widget.show_pending_panel()  # type: ignore[attr-defined]


_watchers: dict[int, CommandWatcher] = {}


def watcher_for(context: AppContext) -> CommandWatcher:
    """The watcher of this main window's context (made on first use)."""
    watcher = _watchers.get(id(context))
    if watcher is None or watcher.context is not context:
        watcher = CommandWatcher(context, QApplication.instance())
        _watchers[id(context)] = watcher
    return watcher
