"""One way to act from a screen: a widget calls a factory of its package's `actions.py`, which returns an
`Action` over a service; the widget chains what to do with the outcome and runs it.

    actions.transfer(self.context, parent=self, asset="stamps", ...)\
        .success(self._queued)\
        .failure(self._refused)\
        .run()

The work runs off the UI thread (`ui.operations`: queued commands and cache reads in the cache pool,
calls to the server in the network pool) and the outcome comes back on it. Four kinds, one constructor
each, for the screens' factories to build on:

- `command(context, fn, ...)`: a queued change (`session.command(fn, ...)`, `cmdesk.services.commands`).
  Every command it queues is watched (`CommandWatcher`: a refusal that comes back later pops the
  server's reason, whichever screen queued it) and a sync is asked for (`AppContext.request_sync`).
- `online(context, fn, ...)`: a change that needs the server now (`session.online(fn, ...)`); with
  `sync=True` a sync follows (balances come back).
- `public(context, fn, ...)`: a call that needs no sign-in (`session.public(fn, ...)`: ¿Olvidó su
  contraseña?, Quiero ser distribuidor).
- `read(context, fn, ...)`: a read of the cache (`fn(cache, ...)`).
- `task(context, fn, ...)`: any other work (`fn(...)`), in the pool named.

Without a `.failure()` handler a failed command or online call is told in a message box (the server's
Spanish reason); a failed read is logged. `.progress(fn)` makes the job report progress: it is called
with a `progress` keyword argument (`ui.operations.Progress`).

The cache's change notification then refreshes the models (`tabs.TabPage.refresh`), not the actions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cmdesk.domain import roles
from cmdesk.domain.roles import Permission
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.outbox import Command, CommandState
from cmdesk.services.sync import SessionExpired
from cmdesk.ui import translator
from cmdesk.ui.kit.messages import NO_SESSION_TEXT, advice, error_text, inform
from cmdesk.ui.operations import OperationHandle, Operations, Pool, guarded

if TYPE_CHECKING:
    from cmdesk.services.outbox import Outbox
    from cmdesk.services.session import DesktopSession, SessionEvent

log = logging.getLogger(__name__)

Kind = Literal["command", "online", "public", "read", "task"]


tr = translator("actions")


class AppContext:
    """What every screen works with: the background operations, the session (replaced when the user
    changes server, so screens read it here each time instead of keeping it), the command watcher and
    the way to ask for a sync."""

    def __init__(self, ops: Operations, session: DesktopSession | None = None) -> None:
        self.ops = ops
        self.session = session
        # The main window's "send the outbox now" (a sync under way runs once more after it).
        self.sync_hook: Callable[[], object] | None = None
        self._watcher: CommandWatcher | None = None

    @property
    def watcher(self) -> CommandWatcher:
        if self._watcher is None:
            self._watcher = CommandWatcher(self, QApplication.instance())
        return self._watcher

    def is_online(self) -> bool:
        session = self.session
        return session is not None and session.api is not None and session.state != ConnectionState.OFFLINE

    def can(self, permission: Permission) -> bool:
        """Whether the signed-in role may do `permission` (`cmdesk.domain.roles`). Before anyone signs
        in nothing is hidden (nothing can be done either); the server refuses whatever a role can't
        do, this only keeps the screens from offering it."""
        session = self.session
        role = session.role() if session is not None else None
        return role is None or roles.allows(role, permission)

    def request_sync(self) -> bool:
        """Send the outbox now when online (queued commands go out; balances come back): through the
        main window when there is one (its status bar follows), else in the network pool. False when
        offline: the commands wait for the next sync."""
        if not self.is_online():
            return False
        if self.sync_hook is not None:
            self.sync_hook()
            return True
        session = self.session
        if session is not None:
            self.ops.run(session.sync_now, on_error=lambda _e: None, pool=Pool.NET, label=tr("Sincronizando"))
        return True


class Action:
    """One thing a screen does (see the module docstring). `run()` returns the job's handle (None when
    there is no session: the failure handler gets `SessionExpired`)."""

    def __init__(
        self,
        context: AppContext,
        kind: Kind,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        parent: QWidget | None = None,
        label: str = "",
        pool: str | None = None,
        sync: bool = False,
    ) -> None:
        self.context = context
        self.kind = kind
        self.parent = parent
        self.label = label
        self.result: Any = None
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._pool = pool
        self._sync = sync
        self._on_success: list[Callable[[Any], object]] = []
        self._on_failure: list[Callable[[BaseException], object]] = []
        self._on_progress: Callable[[int, int, str], None] | None = None

    # A handler that belongs to a widget deleted meanwhile (a dialog closed) is not called.

    def success(self, fn: Callable[[Any], object]) -> Action:
        self._on_success.append(guarded(fn))  # type: ignore[arg-type]
        return self

    def failure(self, fn: Callable[[BaseException], object]) -> Action:
        self._on_failure.append(guarded(fn))  # type: ignore[arg-type]
        return self

    def progress(self, fn: Callable[[int, int, str], None]) -> Action:
        self._on_progress = fn
        return self

    # ---- running ------------------------------------------------------------------------------------

    def _job(self) -> tuple[Callable[..., Any], tuple[Any, ...], str] | None:
        session = self.context.session
        fn, args = self._fn, self._args
        if self.kind == "task":
            return fn, args, self._pool or Pool.NET
        if session is None:
            return None
        if self.kind == "command":
            return session.command, (fn, *args), Pool.CACHE
        if self.kind == "online":
            return session.online, (fn, *args), Pool.NET
        if self.kind == "public":
            return session.public, (fn, *args), Pool.NET

        def read(*a: Any, **k: Any) -> Any:
            cache = session.cache
            if cache is None:
                raise SessionExpired(tr(NO_SESSION_TEXT))
            return fn(cache, *a, **k)

        return read, args, Pool.CACHE

    def run(self) -> OperationHandle | None:
        job = self._job()
        if job is None:
            self._failed(SessionExpired(tr(NO_SESSION_TEXT)))
            return None
        fn, args, pool = job
        # Lambdas, not bound methods: a signal holds a bound method of a plain object weakly, and
        # nothing else keeps this action alive until its job ends.
        return self.context.ops.run(
            fn,
            *args,
            on_done=lambda result: self._done(result),
            on_error=lambda error: self._failed(error),
            on_progress=self._on_progress,
            pool=pool,
            label=self.label,
            progress=self._on_progress is not None,
            **self._kwargs,
        )

    def _done(self, result: Any) -> None:
        self.result = result
        if self.kind == "command":
            for command in _commands_in(result):
                self.context.watcher.watch(command)
        if self.kind == "command" or (self.kind == "online" and self._sync):
            self.context.request_sync()
        for fn in self._on_success:
            fn(result)

    def _failed(self, error: BaseException) -> None:
        if self._on_failure:
            for fn in self._on_failure:
                fn(error)
        elif self.kind in ("command", "online", "public"):
            parent = self.parent if self.parent is not None and shiboken6.isValid(self.parent) else None
            inform(parent, self.label or tr("Operación"), error_text(error), error=True)
        else:
            log.warning("%s failed: %s", self.label or getattr(self._fn, "__name__", "job"), error)


def _commands_in(result: Any) -> list[Command]:
    if isinstance(result, Command):
        return [result]
    if isinstance(result, list | tuple):
        return [c for c in result if isinstance(c, Command)]
    return []


def command(
    context: AppContext,
    fn: Callable[..., Any],
    *args: Any,
    parent: QWidget | None = None,
    label: str = "",
    **kwargs: Any,
) -> Action:
    """A queued change: `session.command(fn, *args, **kwargs)` (see the module docstring)."""
    return Action(context, "command", fn, args, kwargs, parent=parent, label=label or tr("Guardando"))


def online(
    context: AppContext,
    fn: Callable[..., Any],
    *args: Any,
    parent: QWidget | None = None,
    label: str = "",
    sync: bool = False,
    **kwargs: Any,
) -> Action:
    """A change that needs the server now: `session.online(fn, *args, **kwargs)`."""
    return Action(context, "online", fn, args, kwargs, parent=parent, label=label, sync=sync)


def public(
    context: AppContext,
    fn: Callable[..., Any],
    *args: Any,
    parent: QWidget | None = None,
    label: str = "",
    **kwargs: Any,
) -> Action:
    """A call that needs no sign-in: `session.public(fn, *args, **kwargs)`."""
    return Action(context, "public", fn, args, kwargs, parent=parent, label=label)


def read(
    context: AppContext,
    fn: Callable[..., Any],
    *args: Any,
    parent: QWidget | None = None,
    label: str = "",
    **kwargs: Any,
) -> Action:
    """A read of the cache: `fn(cache, *args, **kwargs)` in the cache pool."""
    return Action(context, "read", fn, args, kwargs, parent=parent, label=label or tr("Leyendo la caché"))


def task(
    context: AppContext,
    fn: Callable[..., Any],
    *args: Any,
    parent: QWidget | None = None,
    label: str = "",
    pool: str = Pool.NET,
    **kwargs: Any,
) -> Action:
    """Any other work: `fn(*args, **kwargs)` in `pool`."""
    return Action(context, "task", fn, args, kwargs, parent=parent, label=label, pool=pool)


# ---- every queued command, watched ---------------------------------------------------------------------


def read_commands(outbox: Outbox | None, ids: Iterable[str]) -> list[Command]:
    if outbox is None:
        return []
    return [c for c in (outbox.get(i) for i in ids) if c is not None]


class CommandWatcher(QObject):
    """Tells the user when a command they queued comes back refused (after a sync, maybe much later).

    It follows the session's events; when a watched command has been settled it is dropped, and when
    the server refused it (not enough stamps, say) one message shows the server's Spanish reason and
    what to do about it, with a button to the pending-commands panel. The outbox is read in the cache
    pool. One per `AppContext` (per main window): `context.watcher`."""

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
            pool=Pool.CACHE,
            label=tr("Revisando las operaciones enviadas"),
        )

    def _read(self, found: list[Command]) -> None:
        present = {c.id for c in found}
        self.ids -= {i for i in self.ids if i not in present}  # discarded meanwhile
        refused = []
        for item in found:
            if item.state in (CommandState.PENDING, CommandState.SENT):
                continue
            self.ids.discard(item.id)
            self.settled.emit(item)
            if item.state in (CommandState.REJECTED, CommandState.CONFLICT):
                refused.append(item)
                self.rejected.emit(item)
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
            first = refused[0]
            text = tr("El servidor rechazó la operación «{what}».").format(what=first.description)
            details = (first.error_detail or "") + "\n\n" + advice(first)
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
        panel = box.addButton(tr("Ver operaciones pendientes"), QMessageBox.ButtonRole.ActionRole)
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
