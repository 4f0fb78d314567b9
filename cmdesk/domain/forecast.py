"""Forecasts of stamp consumption: per CTI, per client and for the distributor's own stock; the
client's usual purchase and what a refill costs at its price. Pure rules, no I/O: the server (alerts,
the forecast list) and the desktop's cache use the same functions, and the cache's SQL mirrors the
integer formulas below exactly.

Everything is integer arithmetic (C.P.D. travels as hundredths, `cpd_centi`), so SQL can match it:

- Window of a CTI (`window`): the last `CPD_WINDOW_DAYS` (30) Mexico City days up to today, starting
  no earlier than the day the CTI was created: `start = max(today - 29, created_on)` (and never after
  today); `days = today - start + 1`.
- C.P.D. of a CTI, in hundredths: `S` = CFDI issued on the window's days,
  `cpd_centi = (200·S + days) // (2·days)` — the mean rounded half up to 0.01, as
  `cmdesk.domain.usage.average_daily_use` (C.P.D. = `cpd_centi / 100`).
- D.R.: `(100·balance) // cpd_centi` whole days, None when `cpd_centi = 0` or there is no balance.
- A CTI counts towards its client only while it is standard and active: an unlimited CTI has no
  balance to run out of, a blocked one cannot stamp (its stamps wait until it is unblocked). Both
  keep their own C.P.D. (their history), with D.R. None and no risk band.
- Client: `cpd_centi = Σ cpd_centi`, `balance = Σ balance` over its active standard CTIs;
  `D.R. = (100·balance) // cpd_centi`. A client with no active standard CTI has no forecast (None).
- Distributor (its own stamps): `balance` = the account's stamps, `cpd_centi` = Σ cpd_centi of all its
  active standard CTIs (what its clients consume, which its stock must supply); D.R. as above.
- Risk band (`risk_band`): `no_use` when `cpd_centi = 0`; else `le7` (D.R. ≤ 7), `le15` (≤ 15),
  `le30` (≤ 30), None beyond. The filters "se agotan en ≤ N días" are `D.R. ≤ N` (cumulative).
- Usual purchase (`usual_purchase`): the low median of the quantities of the client's last
  `USUAL_PURCHASE_SAMPLE` (5) stamp sales to its CTIs (transfers, auto-sales, top-up codes), newest
  first: sorted ascending, the element at index `(n - 1) // 2`. None without sales.
- Refill cost (`refill_cost`) of a quantity, IVA included, at the client's price, as the transfer
  dialog prices a sale: the client's bulk price per stamp × quantity; else the account's global bulk
  price (Configuraciones globales) × quantity when it is set (> 0); else the price of the account's
  stamps package for clients of exactly that quantity; else the unit price of the largest such package
  not above the quantity (or the smallest package) × quantity, the unit price rounded half up to the
  centavo; else unknown (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from cmdesk.domain.money import div_round_half_up
from cmdesk.domain.usage import usage_window

USUAL_PURCHASE_SAMPLE = 5


class RiskBand(StrEnum):
    """How soon stamps run out: the Riesgo filters of the Clientes and Timbrado tabs."""

    LE7 = "le7"
    LE15 = "le15"
    LE30 = "le30"
    NO_USE = "no_use"


RISK_BAND_DAYS: dict[RiskBand, int] = {RiskBand.LE7: 7, RiskBand.LE15: 15, RiskBand.LE30: 30}

RISK_BAND_LABELS: dict[RiskBand, str] = {
    RiskBand.LE7: "Se agotan en ≤ 7 días",
    RiskBand.LE15: "Se agotan en ≤ 15 días",
    RiskBand.LE30: "Se agotan en ≤ 30 días",
    RiskBand.NO_USE: "Sin consumo",
}


class PriceSource(StrEnum):
    """Which price a refill cost was computed with."""

    CLIENT_BULK = "client_bulk_price"
    GLOBAL_BULK = "global_bulk_price"
    PACKAGE = "package"
    PACKAGE_UNIT = "package_unit_price"


@dataclass(frozen=True)
class CtiUsage:
    """What a CTI's forecast needs: its kind, state, balance, creation day and the days it issued
    CFDI (`daily`: Mexico City day → CFDI; only the window's days matter, others are ignored)."""

    id: str
    standard: bool
    active: bool
    balance: int
    created_on: date
    daily: Mapping[date, int]


@dataclass(frozen=True)
class Forecast:
    """C.P.D. in hundredths, the balance it drains (None: unlimited), D.R. and the risk band."""

    cpd_centi: int
    balance: int | None
    days_remaining: int | None
    band: RiskBand | None

    @property
    def average_daily_use(self) -> Decimal:
        """C.P.D. with two decimals (as `usage.average_daily_use` gives it)."""
        return (Decimal(self.cpd_centi) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Refill:
    quantity: int
    amount_cents: int
    source: PriceSource


def window(today: date, created_on: date | None = None) -> tuple[date, int]:
    """`(start, days)`: the C.P.D. window of a CTI created on `created_on` (None: long ago)."""
    start, _ = usage_window(today, created_on)
    return start, (today - start).days + 1


def cpd_centi(issued: int, days: int) -> int:
    """C.P.D. × 100 of `issued` CFDI over `days` days, rounded half up."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if issued < 0:
        raise ValueError("issued must not be negative")
    return (200 * issued + days) // (2 * days)


def days_remaining(balance: int | None, cpd: int) -> int | None:
    """Whole days `balance` lasts at `cpd` hundredths of a stamp a day; None if it never runs out."""
    if balance is None or cpd <= 0:
        return None
    return (100 * max(balance, 0)) // cpd


def risk_band(days: int | None, cpd: int) -> RiskBand | None:
    if cpd <= 0:
        return RiskBand.NO_USE
    if days is None:
        return None
    for band, limit in RISK_BAND_DAYS.items():
        if days <= limit:
            return band
    return None


def cti_forecast(cti: CtiUsage, today: date) -> Forecast:
    """A CTI's own figures. Unlimited: no balance; blocked: its balance, but it does not run out."""
    start, days = window(today, cti.created_on)
    cpd = cpd_centi(sum(n for day, n in cti.daily.items() if start <= day <= today), days)
    return forecast_of(cti.standard, cti.active, cti.balance, cpd)


def forecast_of(standard: bool, active: bool, balance: int, cpd: int) -> Forecast:
    """A CTI's figures from its C.P.D. (hundredths) over its window (`cti_forecast`'s rules)."""
    if not standard:
        return Forecast(cpd, None, None, None)
    if not active:
        return Forecast(cpd, balance, None, None)
    remaining = days_remaining(balance, cpd)
    return Forecast(cpd, balance, remaining, risk_band(remaining, cpd))


def combined_forecast(parts: Iterable[tuple[int, int]]) -> Forecast | None:
    """The forecast of `(cpd_centi, balance)` pairs added up; None when there are none."""
    cpd = balance = 0
    any_part = False
    for part_cpd, part_balance in parts:
        cpd += part_cpd
        balance += part_balance
        any_part = True
    if not any_part:
        return None
    remaining = days_remaining(balance, cpd)
    return Forecast(cpd, balance, remaining, risk_band(remaining, cpd))


def counts_for_client(cti: CtiUsage) -> bool:
    return cti.standard and cti.active


def client_forecast(ctis: Iterable[CtiUsage], today: date) -> Forecast | None:
    """The sum over the client's active standard CTIs; None when it has none."""
    return combined_forecast(
        (cti_forecast(c, today).cpd_centi, c.balance) for c in ctis if counts_for_client(c)
    )


def distributor_forecast(stamps_balance: int, ctis: Iterable[CtiUsage], today: date) -> Forecast:
    """The distributor's own stamps against what all its clients' active standard CTIs consume."""
    cpd = sum(cti_forecast(c, today).cpd_centi for c in ctis if counts_for_client(c))
    remaining = days_remaining(stamps_balance, cpd)
    return Forecast(cpd, stamps_balance, remaining, risk_band(remaining, cpd))


def usual_purchase(quantities_newest_first: Sequence[int]) -> int | None:
    """The low median of the last `USUAL_PURCHASE_SAMPLE` stamp sales; None without sales."""
    sample = sorted(q for q in quantities_newest_first[:USUAL_PURCHASE_SAMPLE])
    if not sample:
        return None
    return sample[(len(sample) - 1) // 2]


def refill_cost(
    quantity: int,
    *,
    client_bulk_price_cents: int | None,
    global_bulk_price_cents: int | None,
    packages: Sequence[tuple[int, int]] = (),
) -> Refill | None:
    """What `quantity` stamps cost the client (IVA included); `packages` are the account's stamps
    packages for clients as `(quantity, price_cents)`. None when no price applies."""
    if quantity <= 0:
        return None
    if client_bulk_price_cents is not None and client_bulk_price_cents >= 0:
        return Refill(quantity, quantity * client_bulk_price_cents, PriceSource.CLIENT_BULK)
    if global_bulk_price_cents:
        return Refill(quantity, quantity * global_bulk_price_cents, PriceSource.GLOBAL_BULK)
    usable = sorted((q, p) for q, p in packages if q > 0 and p >= 0)
    if not usable:
        return None
    for q, p in usable:
        if q == quantity:
            return Refill(quantity, p, PriceSource.PACKAGE)
    below = [(q, p) for q, p in usable if q <= quantity]
    q, p = below[-1] if below else usable[0]
    return Refill(quantity, quantity * div_round_half_up(p, q), PriceSource.PACKAGE_UNIT)
