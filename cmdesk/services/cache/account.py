"""The account's own configuration and purchases in the cache: its global settings, its price packages,
its users (profiles, the master first), the MKL and subscriptions of the catalog with what it has
contracted, and the sub-distributors by state."""

from __future__ import annotations

from typing import Any

from cmdesk.domain import contracts
from cmdesk.services.cache.entities import EntityQueries
from cmdesk.services.server_info import server_now

# The server's order of price packages: by type (stamps first), clients' before distributors', smaller
# first.
PACKAGE_ORDER = (("asset", True), ("for_distributors", False), ("quantity", False))


class AccountQueries(EntityQueries):
    def settings(self) -> dict[str, Any] | None:
        """The account's global settings (None before the first sync)."""
        rows = self.all("settings")
        return next((r for r in rows if r.get("id") == self.account_id), rows[0] if rows else None)

    def query_price_packages(
        self, *, sort: str | None = None, descending: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        order = [(sort, descending)] if sort else list(PACKAGE_ORDER)
        return self.query_entities("price_package", order=order, limit=limit, offset=offset)

    def query_profiles(
        self, *, sort: str | None = None, descending: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The account's users (`is_master`: the one the settings name; `invitation`: their invitation,
        None for those never invited by mail), the master first unless sorted by a field."""
        settings = self.all("settings")
        master = next((s.get("master_profile_id") for s in settings if s.get("master_profile_id")), None)
        rows = self.query_entities("profile", order=[(sort or "name", descending)], limit=100_000)
        invitations = {i.get("profile_id"): i for i in self.all("invitation") if i.get("profile_id")}
        for row in rows:
            row["is_master"] = row.get("id") == master
            row["invitation"] = invitations.get(row.get("id"))
        if sort is None:
            rows.sort(key=lambda r: not r["is_master"])  # stable: by name after the master
        return rows[offset : offset + limit]

    def query_sub_distributors(
        self,
        *,
        status: str | None = None,
        sort: str | None = None,
        descending: bool = False,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """A page of sub-distributors of a state (all: None), sorted by a field (NIC by default)."""
        return self.query_entities(
            "distributor",
            equals={"status": status} if status else None,
            order=[(sort or "nic", descending)],
            limit=limit,
            offset=offset,
        )

    def contract_offers(self, key: str) -> list[dict[str, Any]]:
        """The catalog's `key` ("mkl" or "subscriptions") with the account's expiry and, for each,
        whether it is contracted and until when."""
        catalog = self.catalog() or {}
        account = self.account() or {}
        contracted = contracts.contracted(self.all("contract"), server_now())
        return [
            {
                **item,
                "id": str(item.get("code")),
                "account_expires_at": account.get("expires_at"),
                "contracted": str(item.get("code")) in contracted,
                "contracted_until": contracted.get(str(item.get("code"))),
            }
            for item in catalog.get(key) or []
        ]
