"""Facturación in the cache: the top-up codes (by type, pending invoice, period) and the invoices with
their client."""

from __future__ import annotations

from typing import Any

from cmdesk.services.cache.entities import EntityQueries


class BillingQueries(EntityQueries):
    def query_top_up_codes(
        self,
        *,
        asset: str | None = None,
        pending_only: bool = False,
        period: tuple[str, str] | None = None,
        sort: str | None = None,
        descending: bool = False,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Codes of a type (all: None), only those still to invoice, made in `period` ([start, end) as
        UTC text), the newest first unless sorted by a field; each with its NIP opened (`sealed`)."""
        equals: dict[str, Any] = {}
        if asset:
            equals["asset"] = asset
        if pending_only:
            equals["invoice_id"] = None
        rows = self.query_entities(
            "top_up_code",
            equals=equals,
            since=("created_at", period[0]) if period else None,
            until=("created_at", period[1]) if period else None,
            order=[(sort or "created_at", descending)],
            limit=limit,
            offset=offset,
        )
        return self.unseal("top_up_code", rows)  # their NIPs (cache.sealed)

    def query_invoices(
        self, *, sort: str | None = None, descending: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Invoices with their client's record (`client`)."""
        rows = self.query_entities(
            "invoice", order=[(sort or "created_at", descending)], limit=limit, offset=offset
        )
        for row in rows:
            if row.get("client_id"):
                row["client"] = self.get("client", str(row["client_id"]))
        return rows
