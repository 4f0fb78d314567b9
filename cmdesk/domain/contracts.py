"""When an MKL or a subscription is contracted: an active contract that has not expired (manual,
"Compras": yearly contracts aligned with the account's expiry). The server decides with the same rule
in SQL (`cmdesk.server.operations.contracts.active_contract`); the desktop reads it from its cache to
show what is contracted and to say early that Multinivel is missing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from cmdesk.domain.clock import parse_utc
from cmdesk.domain.enums import MULTINIVEL_CODE, ContractStatus


def in_force(contract: Mapping[str, Any], now: dt.datetime | None = None) -> bool:
    if contract.get("status") != ContractStatus.ACTIVE:
        return False
    expires = parse_utc(contract.get("expires_at"))
    return expires is None or expires > (now or dt.datetime.now(dt.UTC))


def contracted(contracts: Iterable[Mapping[str, Any]], now: dt.datetime | None = None) -> dict[str, Any]:
    """code → expiry of the contracts in force."""
    moment = now or dt.datetime.now(dt.UTC)
    return {str(c.get("code")): c.get("expires_at") for c in contracts if in_force(c, moment)}


def has_multinivel(contracts: Iterable[Mapping[str, Any]], now: dt.datetime | None = None) -> bool:
    """Whether Multinivel is contracted (sub-distributors and distributor price packages need it)."""
    return MULTINIVEL_CODE in contracted(contracts, now)
