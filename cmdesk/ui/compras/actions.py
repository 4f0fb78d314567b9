"""What Compras does, as actions (`cmdesk.ui.kit.actions`): buying packages (queued, after the
manual's confirmation; the balance rises when the sync brings it back), quoting and contracting an MKL
or a subscription (online: the prorated charge is the server's), downloading the catalog (online, kept
in the cache), and the reads of the page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import commands
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, command, online, read
from cmdesk.ui.kit.table import Query

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache


tr = translator("compras")


def purchase(context: AppContext, package_id: str, count: int, *, parent: QWidget | None = None) -> Action:
    return command(context, commands.purchase, package_id, count, parent=parent, label=tr("Comprar"))


def quote(context: AppContext, code: str, *, parent: QWidget | None = None) -> Action:
    return online(context, commands.quote_contract, code, parent=parent, label=tr("Cotizando"))


def contract(
    context: AppContext, code: str, *, pay_with_points: bool, parent: QWidget | None = None
) -> Action:
    label = tr("Contratando")
    return online(
        context,
        commands.contract,
        code,
        pay_with_points=pay_with_points,
        parent=parent,
        label=label,
        sync=True,
    )


def fetch_catalog(context: AppContext) -> Action:
    return online(context, commands.fetch_catalog, label=tr("Descargando el catálogo"))


def read_catalog(context: AppContext) -> Action:
    return read(context, lambda cache: cache.catalog())


def load_contracts(cache: Cache, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
    """The catalog's MKL or subscriptions (`key`) with what the account contracted."""
    return cache.contract_offers(str(query.get("key")))[offset : offset + limit]


def renewal_quote(context: AppContext, *, parent: QWidget | None = None) -> Action:
    """Renovar mi cuenta: when it expires, whether it may renew now (or why not) and what it charges."""
    return online(context, commands.renewal_quote, parent=parent, label=tr("Consultando la renovación"))


def renew_account(context: AppContext, key: str, *, parent: QWidget | None = None) -> Action:
    """One more year for the account (its key: a retry after a cut line charges once); a sync follows
    so the charges and the new date come back."""
    label = tr("Renovando la cuenta")
    return online(context, commands.renew_account, key=key, parent=parent, label=label, sync=True)
