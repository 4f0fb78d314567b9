"""Fetching the daily usage of the CTIs on screen, and keeping it in the cache.

The feed carries no daily series of issued CFDI, so the Timbrado tab asks for the usage of the rows the
user can see whose stored series is missing or out of date (see `common.usage_figures`), a few at a
time, one job at a time (`actions.fetch_usage`: `commands.fetch_usage`, which keeps each answer in the
cache). Offline nothing is fetched and the last stored series is shown. `updated` says which CTIs got
a new series, so the table re-reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from cmdesk.domain import clock
from cmdesk.services.api_client import OfflineError
from cmdesk.services.server_info import server_now
from cmdesk.ui.timbrado import actions

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import AppContext
    from cmdesk.ui.timbrado.model import CtiRow

log = logging.getLogger(__name__)

BATCH = 20  # CTIs per job: small enough that the table fills in as they arrive


class UsageFetcher(QObject):
    updated = Signal(list)  # CTI ids whose usage was stored

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._queue: dict[str, int | None] = {}
        # What was asked already (id → issued count, day): not asked again unless either changes.
        self._asked: dict[str, tuple[int | None, dt.date]] = {}
        self._running = False

    @property
    def busy(self) -> bool:
        return self._running or bool(self._queue)

    def want(self, rows: Iterable[CtiRow], *, first: bool = False) -> None:
        """Ask for the usage of `rows` whose series is missing or out of date (`first`: ahead of the
        others, for the CTI the user is looking at)."""
        today = clock.today(server_now())
        wanted: dict[str, int | None] = {}
        for row in rows:
            if row.figures.fresh:
                continue
            issued = row.data.get("issued") if isinstance(row.data.get("issued"), int) else None
            if self._asked.get(row.id) == (issued, today):
                continue
            wanted[row.id] = issued
        if not wanted:
            return
        if first:
            self._queue = {**wanted, **{k: v for k, v in self._queue.items() if k not in wanted}}
        else:
            self._queue.update(wanted)
        self._next()

    def _next(self) -> None:
        session = self.context.session
        if self._running or not self._queue or session is None:
            return
        if not self.context.is_online():
            self._queue.clear()
            return
        items = list(self._queue.items())[:BATCH]
        for cti_id, _issued in items:
            del self._queue[cti_id]
        today = clock.today(server_now())
        self._asked.update({cti_id: (issued, today) for cti_id, issued in items})
        self._running = True
        actions.fetch_usage(self.context, items).success(self._done).failure(self._failed).run()

    def _done(self, ids: list[str]) -> None:
        self._running = False
        if ids:
            self.updated.emit(ids)
        self._next()

    def _failed(self, error: BaseException) -> None:
        self._running = False
        self._queue.clear()
        if not isinstance(error, OfflineError):
            log.warning("usage fetch failed: %s", error)
