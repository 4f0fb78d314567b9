"""What the Timbrado tab's pieces share: texts and the C.P.D./D.R. figures.

C.P.D. (consumo promedio diario) and D.R. (días restantes) come from the daily series of
`commands.fetch_usage` (the server's 90 days), kept in the cache (`Cache.stamping_usage`): the C.P.D.
is the mean of the last 30 days of that series (as `cmdesk.domain.usage` defines it) and the D.R. is
worked out against the balance the cache holds now, so a transfer moves the D.R. at once. A stored
series is *fresh* while the CTI's `issued` count is the one it was fetched with and it was fetched on
the same day (Mexico City); otherwise it is shown (marked as not current) and fetched again when online.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cmdesk.domain import clock, usage
from cmdesk.services.server_info import server_now
from cmdesk.ui import translator

if TYPE_CHECKING:
    from cmdesk.services.outbox import Command

CONTEXT = "timbrado"


tr = translator(CONTEXT)


CPD_DAYS = usage.CPD_WINDOW_DAYS  # what the C.P.D. of the tables averages


@dataclass(frozen=True)
class UsageFigures:
    """C.P.D. and D.R. of one CTI, and the series they come from."""

    cpd: Decimal | None  # None: never fetched
    days_remaining: int | None  # None: unlimited, no consumption, or unknown
    fresh: bool
    fetched_at: dt.datetime | None = None
    daily: list[tuple[dt.date, int]] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return self.cpd is not None


def series_of(stored: Mapping[str, Any] | None) -> list[tuple[dt.date, int]]:
    out: list[tuple[dt.date, int]] = []
    for item in (stored or {}).get("daily") or []:
        try:
            out.append((dt.date.fromisoformat(str(item.get("date"))), int(item.get("issued") or 0)))
        except (TypeError, ValueError):
            continue
    return out


def usage_figures(
    stored: Mapping[str, Any] | None,
    *,
    kind: str,
    balance: int | None,
    issued: int | None,
    window: int = CPD_DAYS,
    today: dt.date | None = None,
) -> UsageFigures:
    """The figures of a CTI from its stored usage (`Cache.stamping_usage`) and its current row."""
    if not stored:
        return UsageFigures(None, None, False)
    daily = series_of(stored)
    cpd = usage.average_daily_use([n for _, n in daily[-window:]])
    remaining = usage.days_remaining(balance if kind == "standard" else None, cpd)
    fetched_at = stored.get("fetched_at")
    fresh = (
        isinstance(fetched_at, dt.datetime)
        and stored.get("issued") == issued
        and clock.today(fetched_at) == (today or clock.today(server_now()))
    )
    return UsageFigures(
        cpd, remaining, fresh, fetched_at if isinstance(fetched_at, dt.datetime) else None, daily
    )


def client_text(nic: Any, name: Any) -> str:
    """`[200070] Empresa de Pruebas` (as the portal shows a client), or just the name."""
    name = str(name or "").strip()
    nic = str(nic or "").strip()
    return f"[{nic}] {name}" if nic else name


def queued_text(commands: Sequence[Command], pushed: bool) -> str:
    n = len(commands)
    if pushed:
        return tr("Operación enviada al servidor.") if n == 1 else tr("{n} operaciones enviadas.").format(n=n)
    return (
        tr("Sin conexión: la operación quedó pendiente y se enviará al sincronizar.")
        if n == 1
        else tr("Sin conexión: {n} operaciones quedaron pendientes y se enviarán al sincronizar.").format(n=n)
    )
