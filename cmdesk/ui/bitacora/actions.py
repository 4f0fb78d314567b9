"""What the Bitácora does, as actions (`cmdesk.ui.kit.actions`): read pages of the server's log into
the cache (online), read one record whole, and the table's loader (the pages kept, in SQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import audit
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, online, read
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache

tr = translator("bitacora")


def fetch_page(
    context: AppContext, filters: audit.AuditFilter, *, restart: bool, parent: QWidget | None = None
) -> Action:
    """The filter's next page of the bitácora from the server (`restart`: from the newest again)."""
    return online(
        context,
        audit.fetch_audit_page,
        filters,
        restart=restart,
        parent=parent,
        label=tr("Leyendo la bitácora"),
    )


def record(context: AppContext, record_id: int, *, parent: QWidget | None = None) -> Action:
    return online(context, audit.audit_record, record_id, parent=parent, label=tr("Leyendo el registro"))


def kept(context: AppContext, filters: audit.AuditFilter) -> Action:
    """(whether read, next cursor, records kept, when) of a filter, and the actions the Bitácora offers:
    those among the records kept for the same filters and every action (and the chosen one)."""

    def state(cache: Cache) -> tuple[tuple[bool, str | None, int, str | None], list[tuple[str, str]]]:
        seen = dict(cache.audit_actions(filters.any_action().key))
        seen.update(cache.audit_actions(filters.key))
        return cache.audit_state(filters.key), sorted(seen.items(), key=lambda item: item[1])

    return read(context, state, label=tr("Leyendo la bitácora"))


def profiles(context: AppContext) -> Action:
    return read(context, lambda cache: cache.query_profiles(limit=1000), label=tr("Leyendo los usuarios"))


def load_records(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    """The table's loader: the records kept for the query's filter (`key`); `action`: only those of an
    action among them (offline, when the action's own list was never read)."""
    key = query.get("key")
    if not key:
        return []
    return cache.query_audit(str(key), action=query.get("action"), limit=limit, offset=offset)
