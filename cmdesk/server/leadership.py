"""One worker at a time runs the server's background jobs (the alert evaluator, the mail sender).

Every worker of `cmdesk-server run` builds the same app; the background jobs need not run in each of
them (they only took turns and cost every worker its polling). On PostgreSQL the workers elect one:
each holds a dedicated connection (outside the pool, autocommit) and tries the session-level advisory
lock `LOCK_KEY` every `interval` seconds; the one that gets it runs the jobs and keeps the lock while
its connection lives. A worker that stops releases it (`stop`); a worker that dies (SIGKILL, a lost
machine) loses its connection and PostgreSQL releases the lock with it, so another worker takes over
at its next try (within `interval`). A leader whose connection fails (a database restart) stops its
jobs and competes again. The jobs keep their own guards (the evaluator's lease row, the sender's
`SKIP LOCKED` claims): two leaders for a moment never do anything twice.

On SQLite (the embedded server, one process) there is nothing to elect: `Leadership` runs the jobs at
once. Mails queued in a worker that is not the leader reach the leader through `NOTIFY` on the same
channel (`MAIL_CHANNEL`, sent when the mail commits), so they go out at once as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# pg_try_advisory_lock's key: any bigint the application reserves ("cmdeskbg" in ASCII).
LOCK_KEY = 0x636D6465736B6267
MAIL_CHANNEL = "cmdesk_mail"


class Leadership:
    """Elects this process to run the background jobs: `on_gain()` when it becomes the leader,
    `on_lose()` when it stops being it (or at `stop`). `on_notify()` is called (in the leader) when
    another worker queues a mail."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_gain: Callable[[], None],
        on_lose: Callable[[], None],
        on_notify: Callable[[], None] | None = None,
        interval: float = 5.0,
    ) -> None:
        self.engine = engine
        self.on_gain = on_gain
        self.on_lose = on_lose
        self.on_notify = on_notify
        self.interval = interval
        self.leader = False
        self._conn: Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._elect = engine.dialect.name == "postgresql"

    def start(self) -> None:
        if not self._elect:
            self._gain()
            return
        if self._thread is None:
            self._stop.clear()
            # The first try happens now: a single worker (or the first one up) leads from its start.
            self._try()
            self._thread = threading.Thread(target=self._run, name="cmdesk-leadership", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._lose()
        self._close()

    # ---- the election ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.leader:
                self._wait_as_leader()
            else:
                self._stop.wait(self.interval)
            if not self._stop.is_set():
                self._try()

    def _try(self) -> None:
        """Followers try the lock; the leader checks that its connection (and so its lock) lives."""
        try:
            conn = self._connection()
            if self.leader:
                conn.execute(text("SELECT 1"))
                return
            if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar():
                conn.execute(text(f"LISTEN {MAIL_CHANNEL}"))
                log.info("this worker now runs the background jobs (alerts, mail)")
                self._gain()
        except Exception:
            log.warning("leadership: the database connection failed; trying again", exc_info=True)
            self._lose()
            self._close()

    def _wait_as_leader(self) -> None:
        """Up to `interval` seconds, waking the mail sender on each NOTIFY from another worker."""
        raw = self._driver_connection()
        if raw is None or not hasattr(raw, "notifies"):
            self._stop.wait(self.interval)
            return
        try:
            for _note in raw.notifies(timeout=self.interval, stop_after=1):
                if self.on_notify is not None:
                    self.on_notify()
        except Exception:
            log.warning("leadership: waiting for notifications failed", exc_info=True)
            self._stop.wait(min(self.interval, 1.0))

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._close()
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # Out of the pool: the lock lives as long as this connection, never handed to a request.
            conn.detach()
            self._conn = conn
        return self._conn

    def _driver_connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            return None
        return self._conn.connection.dbapi_connection

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # a detached connection is closed for real: the lock goes with it
            except Exception:
                log.debug("leadership: closing the connection failed", exc_info=True)

    def _gain(self) -> None:
        if not self.leader:
            self.leader = True
            self.on_gain()

    def _lose(self) -> None:
        if self.leader:
            self.leader = False
            try:
                self.on_lose()
            except Exception:
                log.exception("leadership: stopping the background jobs failed")


def notify_mail(session: Any) -> None:
    """Tell the leader (another worker, perhaps) that this transaction queued a mail: PostgreSQL
    delivers the notification when the transaction commits, never when it rolls back."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {MAIL_CHANNEL}"))
