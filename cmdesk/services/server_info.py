"""What the desktop learns about its server from every answer: the server's clock and its versions.

    info = ServerInfo()                 # the ApiClient keeps one and feeds it every answer
    info.clock.now()                    # the server's time (this computer's clock corrected)
    info.notices()                      # Spanish lines for the status bar: a wrong clock, an update, …
    info.available("sync_counts")       # False once the server showed it lacks that endpoint

Time. The server's clock is the authority for every date that matters (expiries, alerts, statements):
the desktop never decides one with its own clock. Each answer's `Date` header (1 s resolution; a more
precise `server_time` from `/v1/health`) gives a sample of the offset between the two clocks, taken at
the middle of the request's round trip; the median of the last samples is the offset. `now()` is this
computer's clock plus that offset, and `server_now()` the same for the process's server (the session's),
for code that has no client at hand (the UI). A clock further than `CLOCK_WARNING` from the server's is
said in the status bar; the desktop keeps working, with the server's time.

Versions (`cmdesk.domain.compat`). Every answer says the server's API level, release and the oldest
desktop it serves in full. When this desktop is older than that, or the server refuses one of its
requests with `426 desktop_update_required`, the update notice is raised (once per session: listeners
are told the first time); what the server still accepts keeps working. A feature of this desktop whose
API level the server lacks, or whose endpoint answered 404, is marked unavailable with a Spanish
explanation and the desktop does without it (`FEATURES`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import statistics
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from packaging.version import Version

import cmdesk
from cmdesk.domain import compat
from cmdesk.services.listeners import Listeners

log = logging.getLogger(__name__)

# A clock this far from the server's is said (office PCs drift by minutes; a wrong date is common).
CLOCK_WARNING = dt.timedelta(minutes=3)
# How many offset samples the median is taken over.
SAMPLES = 9

LocalClock = Callable[[], dt.datetime]


def _local_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def describe(delta: dt.timedelta) -> str:
    """`2 días y 3 horas`, `5 minutos`: a difference of clocks in Spanish (rounded to what matters)."""
    seconds = abs(delta.total_seconds())
    if seconds >= 60:
        seconds = round(seconds / 60) * 60  # to the nearest minute: the samples are not exact
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60

    def unit(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    parts = []
    if days:
        parts.append(unit(days, "día", "días"))
    if hours:
        parts.append(unit(hours, "hora", "horas"))
    if minutes and not days:
        parts.append(unit(minutes, "minuto", "minutos"))
    if not parts:
        return unit(int(seconds), "segundo", "segundos")
    return " y ".join(parts)


class ServerClock:
    """The server's clock as seen from this computer (see the module docstring). Thread-safe."""

    def __init__(self, local: LocalClock = _local_now) -> None:
        self.local = local
        self._lock = threading.Lock()
        self._samples: deque[float] = deque(maxlen=SAMPLES)
        self._offset: float | None = None

    def observe(
        self, server_time: dt.datetime, sent: dt.datetime, received: dt.datetime, resolution: float = 0.0
    ) -> None:
        """One sample: the server said `server_time` (truncated to `resolution` seconds) during a
        round trip that left at `sent` and came back at `received` (this computer's clock)."""
        middle = sent + (received - sent) / 2
        offset = (server_time - middle).total_seconds() + resolution / 2
        with self._lock:
            self._samples.append(offset)
            self._offset = statistics.median(self._samples)

    def observe_date_header(self, value: str | None, sent: dt.datetime, received: dt.datetime) -> None:
        """A sample from an HTTP `Date` header (RFC 9110, 1 s resolution); ignored when unreadable."""
        if not value:
            return
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        self.observe(when, sent, received, resolution=1.0)

    @property
    def offset(self) -> dt.timedelta | None:
        """The server's clock minus this computer's (None before any answer)."""
        with self._lock:
            return None if self._offset is None else dt.timedelta(seconds=self._offset)

    def now(self) -> dt.datetime:
        """The server's time now: this computer's clock corrected by the offset (uncorrected before
        the first answer)."""
        offset = self.offset
        moment = self.local()
        return moment + offset if offset is not None else moment

    @property
    def wrong(self) -> bool:
        offset = self.offset
        return offset is not None and abs(offset) > CLOCK_WARNING

    def notice(self) -> str | None:
        """The status bar's line about this computer's clock, or None when it is right."""
        offset = self.offset
        if offset is None or abs(offset) <= CLOCK_WARNING:
            return None
        way = "atrasado" if offset > dt.timedelta(0) else "adelantado"
        return (
            f"El reloj de este equipo está {way} {describe(offset)} respecto del servidor; cmdesk usa "
            "la hora del servidor. Corrija la fecha y hora del equipo."
        )

    def reset(self) -> None:
        with self._lock:
            self._samples.clear()
            self._offset = None


@dataclass(frozen=True)
class Feature:
    """A capability of the desktop that needs something of the server."""

    api_level: int
    title: str  # what the user loses, in Spanish ("la verificación de la caché")
    instead: str  # what the desktop does without it, in Spanish


# A feature whose server may lack it (an older server answers 404, or announces a lower level). The
# snapshot of issue 20 is the next: its fallback is paging the feed from the beginning.
FEATURES: dict[str, Feature] = {
    "sync_counts": Feature(
        1,
        "la verificación de la caché contra el servidor",
        "la caché se actualiza con los cambios sin compararla con el servidor",
    ),
}

Listener = Callable[[str], None]

UPDATE_NOTICE = (
    "Este equipo tiene cmdesk {mine}; el servidor pide la versión {minimum} o posterior para "
    "todas sus funciones. Lo que el servidor todavía acepta sigue funcionando, y las operaciones que "
    "rechace quedan en Comandos pendientes con su motivo. Actualice cmdesk (Ayuda → Buscar "
    "actualizaciones)."
)
SOME_UPDATE_NOTICE = (
    "El servidor ya no acepta algunas operaciones de cmdesk {mine}: piden la versión {minimum} o "
    "posterior. Lo demás sigue funcionando, y las operaciones rechazadas quedan en Comandos pendientes "
    "con su motivo, para reintentarlas después de actualizar cmdesk (Ayuda → Buscar actualizaciones)."
)


class ServerInfo:
    """The clock and the versions of one server, learned from its answers (module docstring)."""

    def __init__(self, clock: ServerClock | None = None, *, version: str = cmdesk.__version__) -> None:
        self.clock = clock if clock is not None else default_clock
        self.version = Version(version)
        self._lock = threading.Lock()
        self.api_level = compat.BASE_API_LEVEL
        self.server_version: str | None = None
        self.min_desktop: Version | None = None
        # The newest version a refusal (426) asked for: some operations need it, the rest work.
        self.refused_below: Version | None = None
        self._missing: dict[str, str] = {}
        self._told: set[str] = set()
        self._listeners: Listeners[str] = Listeners("server info")
        self._clock_wrong = False

    # ---- what answers tell ---------------------------------------------------------------------------

    def observe(self, headers: Mapping[str, str], sent: dt.datetime, received: dt.datetime) -> None:
        """Every answer's headers (case-insensitive mapping), with this computer's times around it."""
        self.clock.observe_date_header(headers.get("Date"), sent, received)
        level = headers.get(compat.API_LEVEL_HEADER)
        minimum = compat.parse_version(headers.get(compat.MIN_DESKTOP_HEADER))
        with self._lock:
            if level is not None:
                self.api_level = compat.api_level(level)
                self.server_version = headers.get(compat.SERVER_VERSION_HEADER) or self.server_version
                self.min_desktop = minimum
        if minimum is not None and self.version < minimum:
            self._tell("update")
        wrong = self.clock.wrong
        if wrong != self._clock_wrong:
            self._clock_wrong = wrong
            if wrong:
                log.warning("this computer's clock is %s off the server's", self.clock.offset)
            self._tell("clock", again=True)

    def update_required(self, minimum: str | None) -> None:
        """The server refused a request of this version (`426 desktop_update_required`)."""
        version = compat.parse_version(minimum)
        with self._lock:
            if version is not None and (self.refused_below is None or version > self.refused_below):
                self.refused_below = version
        self._tell("update")

    def missing(self, feature: str) -> None:
        """The server showed it lacks what `feature` needs (its endpoint answered 404)."""
        spec = FEATURES[feature]
        server = self.server_version or "anterior"
        text = (
            f"El servidor (versión {server}) no ofrece {spec.title}; {spec.instead}. "
            "Volverá a estar disponible cuando el servidor se actualice."
        )
        with self._lock:
            known = feature in self._missing
            self._missing[feature] = text
        if not known:
            log.info("the server lacks %s: %s", feature, text)
            self._tell(f"feature:{feature}")

    # ---- what the desktop asks -----------------------------------------------------------------------

    def available(self, feature: str) -> bool:
        spec = FEATURES[feature]
        with self._lock:
            return feature not in self._missing and self.api_level >= spec.api_level

    @property
    def outdated(self) -> bool:
        """Whether the server wants a newer desktop (for all it offers, or for something it refused)."""
        with self._lock:
            wanted = [v for v in (self.min_desktop, self.refused_below) if v is not None]
        return any(self.version < v for v in wanted)

    def update_notice(self) -> str | None:
        with self._lock:
            minimum, refused = self.min_desktop, self.refused_below
        if minimum is not None and self.version < minimum:
            return UPDATE_NOTICE.format(mine=self.version, minimum=minimum)
        if refused is not None and self.version < refused:
            return SOME_UPDATE_NOTICE.format(mine=self.version, minimum=refused)
        return None

    def notices(self) -> list[str]:
        """The lasting Spanish lines about this server: the clock, an update, missing features."""
        out = []
        if (clock := self.clock.notice()) is not None:
            out.append(clock)
        if (update := self.update_notice()) is not None:
            out.append(update)
        with self._lock:
            out.extend(self._missing.values())
        return out

    # ---- listeners -----------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(kind)` when a notice appears (`update` and each missing feature once;
        `clock` each time the clock turns wrong or right)."""
        return self._listeners.subscribe(listener)

    def _tell(self, kind: str, *, again: bool = False) -> None:
        with self._lock:
            if kind in self._told and not again:
                return
            self._told.add(kind)
        self._listeners.emit(kind)


# The clock of the server this process works with (a desktop talks to one server at a time).
default_clock = ServerClock()


def server_now() -> dt.datetime:
    """The server's time now, as well as this process knows it (see the module docstring)."""
    return default_clock.now()
