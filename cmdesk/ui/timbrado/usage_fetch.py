"""Fetching the daily usage of the CTIs on screen, in the network pool, and keeping it in the cache.

The feed carries no daily series of issued CFDI, so the Timbrado tab asks
`GET /v1/stamping-accounts/{id}/usage?days=90` for the rows the user can see whose stored series is
missing or out of date (see `common.usage_figures`), a few at a time, one job at a time, and stores each
answer with `Cache.set_stamping_usage`. Offline nothing is fetched and the last stored series is shown.
`updated` says which CTIs got a new series, so the table re-reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

from PySide6.QtCore import QObject, Signal

from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.ui.timbrado.common import USAGE_DAYS, mx_today, online, tr

if TYPE_CHECKING:
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui.tabs import AppContext
    from cmdesk.ui.timbrado.model import CtiRow

log = logging.getLogger(__name__)

BATCH = 20  # CTIs per job: small enough that the table fills in as they arrive


def fetch_usage(session: DesktopSession, items: list[tuple[str, int | None]]) -> list[str]:
    """Fetch and store the usage of each (CTI id, issued count); returns the ids stored. Stops at the
    first sign of being offline (raising `OfflineError` when nothing was fetched)."""
    api, cache = session.api, session.cache
    if api is None or cache is None:
        return []
    stored: list[str] = []
    for cti_id, issued in items:
        try:
            answer = api.get(f"/v1/stamping-accounts/{quote(cti_id, safe='')}/usage", {"days": USAGE_DAYS})
        except OfflineError:
            if stored:
                break
            raise
        except ApiError as error:  # gone meanwhile, say: the next sync removes the row
            log.info("usage of %s not available: %s", cti_id, error)
            continue
        cache.set_stamping_usage(cti_id, answer.get("daily") or [], issued=issued)
        stored.append(cti_id)
    return stored


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
        today = mx_today()
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
        if not online(self.context):
            self._queue.clear()
            return
        items = list(self._queue.items())[:BATCH]
        for cti_id, _issued in items:
            del self._queue[cti_id]
        today = mx_today()
        self._asked.update({cti_id: (issued, today) for cti_id, issued in items})
        self._running = True
        self.context.ops.run(
            fetch_usage,
            session,
            items,
            on_done=self._done,
            on_error=self._failed,
            pool="net",
            label=tr("Consultando el consumo de las cuentas"),
        )

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
