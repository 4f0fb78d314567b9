"""The import's one door to the rest of the desktop: the cache's queries (what the dry run checks rows
against), the commands (`cmdesk.services.commands.imports`: each row's transfer queued in the outbox
with its own idempotency key, read back, taken back), the settings (the remembered column mappings)
and the push. Every call this package makes into `cmdesk.services.cache`, `commands` and `config` is
here.

    desk = SessionDesktop(session.cache, session.outbox, push=..., config_path=None)
    importer = Importer(desk)

`push` sends the outbox and answers the engine's `PushReport` (in the app: the session's sync, so a
push of the import and the background sync never run at once; it may raise `SessionExpired`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmdesk.services import commands
from cmdesk.services.api_client import OfflineError
from cmdesk.services.bulk_import.journal import Journal
from cmdesk.services.bulk_import.mapping import ColumnMapping
from cmdesk.services.cache import Cache
from cmdesk.services.commands import imports
from cmdesk.services.config import MAX_IMPORT_MAPPINGS, load_config, save_config
from cmdesk.services.export import local_time
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.server_info import server_now
from cmdesk.services.sync import PushReport, SessionExpired

if TYPE_CHECKING:
    from cmdesk.services.session import DesktopSession

JOURNAL_FILE = "imports.sqlite3"
# An equal transfer applied from a file within this many days is pointed out by the dry run.
RECENT_DAYS = 31
_PAGE = 5000


@dataclass(frozen=True)
class Queued:
    """A row's transfer as the outbox holds it: waiting (on its way, or for the line), applied (with
    the movement's id) or refused (with the server's reason)."""

    command_id: str
    key: str
    outcome: str  # "waiting", "applied", "refused"
    reason: str = ""
    movement_id: str = ""
    never_sent: bool = False


def when_text(moment: dt.datetime) -> str:
    """A time as the desktop shows it (Mexico City): «29/11/2026 14:05»."""
    local = local_time(moment)
    return local.strftime("%d/%m/%Y %H:%M") if local else ""


class SessionDesktop:
    def __init__(
        self,
        cache: Cache,
        outbox: Outbox,
        *,
        push: Callable[[], PushReport],
        config_path: Path | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.cache = cache
        self.outbox = outbox
        self._push = push
        self._config_path = config_path
        self.journal = journal or Journal(outbox.path.parent / JOURNAL_FILE)
        self._by_nic: dict[str, list[dict[str, Any]]] | None = None
        self._by_rfc: dict[str, list[dict[str, Any]]] = {}

    def close(self) -> None:
        self.journal.close()

    # ---- what the dry run reads (dry_run.Directory) --------------------------------------------------

    def stamping_account(self, cti_id: str) -> dict[str, Any] | None:
        return self.cache.get("stamping_account", cti_id) if cti_id else None

    def client(self, client_id: str) -> dict[str, Any] | None:
        return self.cache.get("client", client_id) if client_id else None

    def _index(self) -> dict[str, list[dict[str, Any]]]:
        """Clients by NIC and by RFC, read once per dry run in pages (sorted in SQL by the cache)."""
        if self._by_nic is None:
            self._by_nic, self._by_rfc = {}, {}
            offset = 0
            while True:
                page = self.cache.query_clients(sort="nic", limit=_PAGE, offset=offset)
                for client in page:
                    self._by_nic.setdefault(str(client.get("nic") or ""), []).append(client)
                    self._by_rfc.setdefault(str(client.get("rfc") or "").upper(), []).append(client)
                if len(page) < _PAGE:
                    break
                offset += len(page)
        return self._by_nic

    def clients_by_nic(self, nic: str) -> list[dict[str, Any]]:
        return list(self._index().get(nic, []))

    def clients_by_rfc(self, rfc: str) -> list[dict[str, Any]]:
        self._index()
        return list(self._by_rfc.get(rfc.upper(), []))

    def stamping_accounts_of(self, client_id: str) -> list[dict[str, Any]]:
        ids = self.cache.cti_ids_by_client([client_id]).get(client_id, [])
        found = (self.cache.get("stamping_account", i) for i in ids)
        return [c for c in found if c is not None]

    def available_stamps(self) -> int:
        """The distributor's stamps as the cache knows them, less those of the transfers still
        waiting in the outbox (they are not in the cache's balance until the server applies them)."""
        account = self.cache.account() or {}
        held = (account.get("balances") or {}).get("stamps")
        return (held if isinstance(held, int) else 0) - commands.pending_out(self.outbox)["stamps"]

    def applied_before(self, cti_id: str, quantity: int, amount_cents: int) -> str | None:
        since = server_now() - dt.timedelta(days=RECENT_DAYS)
        found = self.journal.applied_like(cti_id, quantity, amount_cents, since)
        if found is None:
            return None
        name, when = found
        return f"«{name}» el {when_text(when)}"

    # ---- the outbox ----------------------------------------------------------------------------------

    def label(self, cti_id: str) -> str:
        return commands.target_label(self.cache, "stamping_account", cti_id)

    def enqueue(self, specs: Iterable[Mapping[str, Any]]) -> None:
        """Queue transfers (one outbox transaction): each spec has `key`, `body`, `description` and
        `extra` (the import and row)."""
        imports.queue_import(self.outbox, self.cache, specs)

    def import_commands(self, import_id: str) -> dict[str, Queued]:
        """The outbox's transfers of an import, by idempotency key."""
        out = {}
        for c in imports.import_commands(self.outbox, import_id):
            if c.state == CommandState.DONE:
                result = c.result if isinstance(c.result, dict) else {}
                queued = Queued(c.id, c.idempotency_key, "applied", movement_id=str(result.get("id") or ""))
            elif c.state in (CommandState.REJECTED, CommandState.CONFLICT):
                reason = c.error_detail or "El servidor rechazó la transferencia."
                queued = Queued(c.id, c.idempotency_key, "refused", reason=reason)
            else:
                queued = Queued(c.id, c.idempotency_key, "waiting", never_sent=imports.never_sent(c))
            out[c.idempotency_key] = queued
        return out

    def take_back(self, queued: Queued) -> bool:
        """Remove a transfer that never left (a cancellation); False when it may be on its way."""
        return queued.never_sent and imports.take_back(self.outbox, self.cache, queued.command_id)

    def discard(self, queued: Queued) -> None:
        """Forget a refused transfer (its row is sent again as a new attempt)."""
        commands.discard(self.outbox, self.cache, queued.command_id)

    def push(self) -> bool:
        """Send the outbox; False when the line is down."""
        return not self._push().offline

    # ---- remembered mappings (the settings) ----------------------------------------------------------

    def remembered(self, layout: str) -> ColumnMapping | None:
        saved = load_config(self._config_path).import_mappings.get(layout)
        return ColumnMapping.from_json(saved) if saved else None

    def remember(self, layout: str, mapping: ColumnMapping) -> None:
        config = load_config(self._config_path)
        mappings = {layout: mapping.to_json()}
        mappings.update((k, v) for k, v in config.import_mappings.items() if k != layout)
        config.import_mappings = dict(list(mappings.items())[:MAX_IMPORT_MAPPINGS])
        save_config(config, self._config_path)


def for_session(session: DesktopSession) -> SessionDesktop:
    """The import's desktop over a signed-in session: its cache and outbox, its settings, the journal
    beside its outbox, and the session's sync as the push (so a push of the import and the background
    sync never run at once)."""
    cache, outbox = session.cache, session.outbox
    if cache is None or outbox is None:
        raise SessionExpired("Inicie sesión para importar transferencias.")

    def push() -> PushReport:
        try:
            return session.sync_now().push
        except OfflineError:
            return PushReport(offline=True)

    return SessionDesktop(cache, outbox, push=push)
