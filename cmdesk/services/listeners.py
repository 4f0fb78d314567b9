"""Callbacks of one kind, thread-safe: `subscribe` returns the function that unsubscribes; `emit` calls
each (in the emitting thread), and one that fails is logged without keeping the others from being
called."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Listeners[T]:
    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._listeners: list[Callable[[T], None]] = []

    def subscribe(self, listener: Callable[[T], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def emit(self, value: T) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(value)
            except Exception:
                log.exception("a %s listener failed", self.what)
