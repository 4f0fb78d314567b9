"""The Riesgo view's figures beyond the forecast columns: each client's usual purchase and what a
refill of that size costs at its price (`cmdesk.domain.forecast.usual_purchase` / `refill_cost`, the
rules the server's alerts use), read from the cache for one page of clients at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cmdesk.domain import forecast
from cmdesk.services.cache.store import CacheStore

# The movements that sell stamps to a client's CTI (API.md: transfers, auto-sales, top-up codes).
SALE_KINDS = ("transfer", "auto_sale", "top_up")


@dataclass(frozen=True)
class Purchase:
    """A client's usual purchase (None: it never bought) and the refill's price (None: no price)."""

    usual: int | None
    refill: forecast.Refill | None


class RiskQueries(CacheStore):
    def purchases(self, client_ids: Sequence[str]) -> dict[str, Purchase]:
        """Client id → its usual purchase and refill cost (one indexed query per client)."""
        ids = list(dict.fromkeys(client_ids))
        if not ids:
            return {}
        marks = ",".join("?" for _ in SALE_KINDS)
        sql = (
            "SELECT quantity FROM movements WHERE client_id = ? AND asset = 'stamps'"
            f" AND target_type = 'stamping_account' AND kind IN ({marks})"
            " ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        with self._read() as conn:
            quantities = {
                i: [r[0] for r in conn.execute(sql, (i, *SALE_KINDS, forecast.USUAL_PURCHASE_SAMPLE))]
                for i in ids
            }
        settings = self.all("settings")
        packages = self.all("price_package")
        global_price = _cents((settings[0] if settings else {}).get("bulk_stamp_price_cents"))
        stamp_packages = [
            (int(p["quantity"]), int(p["price_cents"]))
            for p in packages
            if p.get("asset") == "stamps"
            and not p.get("for_distributors")
            and isinstance(p.get("quantity"), int)
            and isinstance(p.get("price_cents"), int)
        ]
        out: dict[str, Purchase] = {}
        for ident in ids:
            usual = forecast.usual_purchase([int(q) for q in quantities[ident]])
            refill = None
            if usual is not None:
                client = self.get("client", ident) or {}
                own = _cents((client.get("other") or {}).get("bulk_stamp_price_cents"))
                refill = forecast.refill_cost(
                    usual,
                    client_bulk_price_cents=own,
                    global_bulk_price_cents=global_price,
                    packages=stamp_packages,
                )
            out[ident] = Purchase(usual, refill)
        return out


def _cents(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
