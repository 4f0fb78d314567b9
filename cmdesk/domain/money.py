"""Money in integer centavos: IVA (16%), pesos formatting and parsing of what a distributor types.

Every amount in cmdesk is an `int` of centavos, and prices shown to distributors include IVA
("IVA incluido"). Rounding rule, used everywhere a centavo has to be rounded: **ROUND_HALF_UP to the
centavo** (a half centavo goes away from zero), computed with integers only, never floats.

    add_iva(185000) == 214600          # $1,850.00 + IVA -> $2,146.00
    remove_iva(214600) == 185000       # the base before tax
    iva_part(x) == x - remove_iva(x)   # so base + IVA always adds up to the total
"""

from __future__ import annotations

import re

from cmdesk.domain.errors import validation_error

IVA_RATE_PERCENT = 16

# Far above any real sale, far below a 64-bit column: an amount past it is a typo, not a sale.
MAX_AMOUNT_CENTS = 10**15


def div_round_half_up(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded to the nearest integer, halves away from zero (ROUND_HALF_UP)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if numerator < 0 else quotient


def add_iva(cents_before_tax: int) -> int:
    """The amount with IVA added, rounded half up to the centavo."""
    return div_round_half_up(cents_before_tax * (100 + IVA_RATE_PERCENT), 100)


def remove_iva(cents_with_iva: int) -> int:
    """The base before tax of an amount that includes IVA, rounded half up to the centavo.

    `add_iva(remove_iva(x))` can differ from `x` by a centavo; the total with IVA is what was charged,
    so the base is derived from it and never the other way round.
    """
    return div_round_half_up(cents_with_iva * 100, 100 + IVA_RATE_PERCENT)


def iva_part(cents_with_iva: int) -> int:
    """The IVA contained in an amount that includes it (the total minus its base)."""
    return cents_with_iva - remove_iva(cents_with_iva)


def split_iva(cents_with_iva: int) -> tuple[int, int]:
    """`(base, iva)` of an amount that includes IVA; they always add up to the amount."""
    base = remove_iva(cents_with_iva)
    return base, cents_with_iva - base


def format_mxn(cents: int) -> str:
    """Pesos as es-MX shows them: `$1,234,567.89`; negative amounts as `-$5.00`."""
    sign = "-" if cents < 0 else ""
    pesos, centavos = divmod(abs(cents), 100)
    return f"{sign}${pesos:,}.{centavos:02d}"


# Whole pesos either with correct thousands groups ("1,234,567") or as plain digits ("1234567"), then
# an optional decimal part of any length, so that three decimals get their own message below. "1,23" is
# refused: in es-MX the comma never separates decimals, so it is a typo, not $1.23.
_AMOUNT_RE = re.compile(
    r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.(?P<frac>[0-9]*))?",
    re.ASCII,
)

_INVALID_AMOUNT = "Escriba un importe válido, por ejemplo 1,234.50."


def parse_mxn(text: str, field: str = "amount_cents") -> int:
    """Centavos from what a distributor typed: "1234.5", "$1,234.50", " 1,234 ", "$ 0.99".

    Raises a validation error (Spanish, for `field`) when the text is empty, is not an amount, has more
    than two decimals, is negative or is absurdly large.
    """
    cleaned = text.strip()
    if cleaned.startswith("-"):
        raise validation_error({field: "El importe no puede ser negativo."})
    if cleaned.startswith("$"):
        cleaned = cleaned[1:].lstrip()
    if cleaned.startswith("-"):
        raise validation_error({field: "El importe no puede ser negativo."})
    if not cleaned:
        raise validation_error({field: "Escriba un importe."})
    match = _AMOUNT_RE.fullmatch(cleaned)
    if match is None or (match["int"] is None and not match["frac"]):
        raise validation_error({field: _INVALID_AMOUNT})
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise validation_error({field: "El importe admite como máximo 2 decimales."})
    pesos = int((match["int"] or "0").replace(",", ""))
    cents = pesos * 100 + int(frac.ljust(2, "0"))
    return check_amount_cents(cents, field)


def check_amount_cents(value: int, field: str = "amount_cents") -> int:
    """`value` if it is a whole number of centavos ≥ 0 (and not absurdly large), else a validation error."""
    # bool is an int subclass; True as "1 centavo" is always a bug in the caller's data.
    if not isinstance(value, int) or isinstance(value, bool):
        raise validation_error({field: "El importe debe ser un número entero de centavos."})
    if value < 0:
        raise validation_error({field: "El importe no puede ser negativo."})
    if value > MAX_AMOUNT_CENTS:
        raise validation_error({field: "El importe es demasiado grande."})
    return value
