"""Daily usage per CTI on the server: counting it as CFDI are stamped, and reading it back set-based
(the change feed's usage summary of a page of CTIs, the forecasts of many CTIs at once).

The table is `cti_daily_usage` (`cmdesk.models.usage`); the PostgreSQL fast path counts in its
database function instead (`cmdesk.models.pg_functions`, same UPSERT).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cmdesk.domain import usage
from cmdesk.models import CtiDailyUsage

_T: Table = CtiDailyUsage.__table__  # type: ignore[assignment]


def _upsert(dialect: str) -> Any:
    ins = pg_insert(_T) if dialect == "postgresql" else sqlite_insert(_T)
    return ins.on_conflict_do_update(
        index_elements=[_T.c.stamping_account_id, _T.c.day],
        set_={"issued": _T.c.issued + ins.excluded.issued},
    )


_UPSERTS = {name: _upsert(name) for name in ("postgresql", "sqlite")}


def count_usage(session: Session, counts: Iterable[tuple[str, dt.date, int]]) -> None:
    """Add `n` CFDI to each `(CTI, Mexico City day)`, in the caller's transaction."""
    rows = [{"stamping_account_id": cti, "day": day, "issued": n} for cti, day, n in counts if n]
    if rows:
        session.execute(_UPSERTS[session.get_bind().dialect.name], rows)


def count_one(session: Session, cti_id: str, now: dt.datetime) -> None:
    """One CFDI stamped by `cti_id` at `now` (the general stamping path)."""
    count_usage(session, [(cti_id, usage.mx_day(now), 1)])


def daily_usage(
    session: Session, cti_ids: Iterable[str], since: dt.date, until: dt.date | None = None
) -> dict[str, dict[dt.date, int]]:
    """`{cti: {day: issued}}` of the days with use from `since` (to `until`), one query."""
    ids = list(dict.fromkeys(cti_ids))
    out: dict[str, dict[dt.date, int]] = {}
    for start in range(0, len(ids), 1000):
        stmt = select(_T.c.stamping_account_id, _T.c.day, _T.c.issued).where(
            _T.c.stamping_account_id.in_(ids[start : start + 1000]), _T.c.day >= since
        )
        if until is not None:
            stmt = stmt.where(_T.c.day <= until)
        for cti, day, issued in session.execute(stmt):
            out.setdefault(cti, {})[day] = int(issued)
    return out


def summary_window(now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """The days a usage summary covers, `(since, today)` (Mexico City days)."""
    today = usage.mx_day(now or dt.datetime.now(dt.UTC))
    return today - dt.timedelta(days=usage.SUMMARY_DAYS - 1), today


def summaries(
    session: Session, cti_ids: Iterable[str], now: dt.datetime | None = None
) -> dict[str, dict[str, Any] | None]:
    """The feed's usage summary (`usage.encode_summary`) of each CTI, computed for a whole page."""
    ids = list(cti_ids)
    since, today = summary_window(now)
    found = daily_usage(session, ids, since, today)
    # Most CTIs have no use in the window: their summary is None without building one.
    return {cti: usage.encode_summary(found[cti], today) if cti in found else None for cti in ids}
