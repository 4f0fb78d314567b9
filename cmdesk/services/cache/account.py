"""The account's own configuration and purchases in the cache: its global settings, its price packages,
its users (profiles, the master first), the MKL and subscriptions of the catalog with what it has
contracted, and the sub-distributors by state."""

from __future__ import annotations

from typing import Any

from cmdesk.domain import contracts
from cmdesk.domain.text import fold, sort_key
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
        """The account's users (`is_master`: the one the settings name; `role`: master, admin or
        operator, as the settings' `member_roles` say; `invitation`: their invitation,
        None for those never invited by mail), the master first unless sorted by a field; then the
        people invited who have not accepted yet (`pending`: a row made of the invitation, under its
        id, as `GET /v1/users` lists them — the person becomes a profile of the feed on accepting)."""
        settings = self.all("settings")
        master = next((s.get("master_profile_id") for s in settings if s.get("master_profile_id")), None)
        # Each member's role (the settings list them; a server before roles did not: None).
        member_roles: dict[str, str] = next(
            (s["member_roles"] for s in settings if isinstance(s.get("member_roles"), dict)), {}
        )
        rows = self.query_entities("profile", order=[(sort or "name", descending)], limit=100_000)
        every = self.all("invitation")
        invitations = {i.get("profile_id"): i for i in every if i.get("profile_id")}
        emails = {fold(str(r.get("email") or "")) for r in rows}
        for row in rows:
            ident = str(row.get("id"))
            row["is_master"] = ident == master
            row["pending"] = False
            row["invitation"] = invitations.get(ident)
            row["role"] = "master" if row["is_master"] else member_roles.get(ident)
        if sort is None:
            rows.sort(key=lambda r: not r["is_master"])  # stable: by name after the master
        # An invitation kept from a command's answer whose person has since become a user (the feed
        # brought their profile) is theirs, not a pending row.
        pending = [
            pending_user(i)
            for i in every
            if not i.get("accepted_at") and fold(str(i.get("email") or "")) not in emails
        ]
        pending.sort(key=lambda r: sort_key(str(r.get(sort or "name") or "")), reverse=descending)
        return [*rows, *pending][offset : offset + limit]

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


def pending_user(invitation: dict[str, Any]) -> dict[str, Any]:
    """A person invited who has not accepted yet, as a row of Usuarios: what the inviter typed."""
    return {
        "id": invitation.get("id"),
        "name": invitation.get("name") or "",
        "email": invitation.get("email") or "",
        "mobile": invitation.get("mobile") or "",
        "email_confirmed": False,
        "role": invitation.get("role"),
        "is_master": False,
        "pending": True,
        "invitation": invitation,
    }
