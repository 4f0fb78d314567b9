"""Whether the desktop is talking to its server: online, offline or syncing, with Spanish labels.

`ConnectionState` is what the status bar shows. `Connectivity` keeps the current state for a session,
thread-safe, and tells subscribers when it changes; `probe(api)` asks `/v1/health` (one quick try).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from cmdesk.services.listeners import Listeners

log = logging.getLogger(__name__)


class ConnectionState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    SYNCING = "syncing"

    @property
    def label(self) -> str:
        """The Spanish text for the status bar."""
        return LABELS[self]


LABELS: dict[ConnectionState, str] = {
    ConnectionState.ONLINE: "En línea",
    ConnectionState.OFFLINE: "Sin conexión",
    ConnectionState.SYNCING: "Sincronizando",
}


class HealthCheck(Protocol):
    def health(self) -> bool: ...


def probe(api: HealthCheck) -> ConnectionState:
    """ONLINE when the server's `/v1/health` answers OK now, else OFFLINE."""
    return ConnectionState.ONLINE if api.health() else ConnectionState.OFFLINE


Listener = Callable[[ConnectionState], None]


class Connectivity:
    """The current state, changed from any thread; listeners are called (in the changing thread)
    only when the state really changes."""

    def __init__(self, state: ConnectionState = ConnectionState.OFFLINE) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._listeners: Listeners[ConnectionState] = Listeners("connectivity")

    @property
    def state(self) -> ConnectionState:
        with self._lock:
            return self._state

    def set(self, state: ConnectionState) -> bool:
        """Move to `state`; returns whether it changed."""
        with self._lock:
            if state == self._state:
                return False
            self._state = state
        self._listeners.emit(state)
        return True

    def check(self, api: HealthCheck) -> ConnectionState:
        """Probe the server and record the result (a running sync keeps SYNCING while online)."""
        result = probe(api)
        if not (result == ConnectionState.ONLINE and self.state == ConnectionState.SYNCING):
            self.set(result)
        return result

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(state)` on every change; returns a function that unsubscribes."""
        return self._listeners.subscribe(listener)
