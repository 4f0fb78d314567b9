"""IVA arithmetic, rounding, and pesos formatting/parsing."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.money import (
    IVA_RATE_PERCENT,
    MAX_AMOUNT_CENTS,
    add_iva,
    check_amount_cents,
    div_round_half_up,
    format_mxn,
    iva_part,
    parse_mxn,
    remove_iva,
    split_iva,
)


def test_rate_is_sixteen_percent():
    assert IVA_RATE_PERCENT == 16


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (10, 4, 3),  # 2.5 -> 3 (half up)
        (-10, 4, -3),  # -2.5 -> -3 (half away from zero)
        (9, 4, 2),  # 2.25
        (11, 4, 3),  # 2.75
        (0, 7, 0),
        (7, 7, 1),
    ],
)
def test_div_round_half_up(numerator, denominator, expected):
    assert div_round_half_up(numerator, denominator) == expected


def test_div_round_half_up_refuses_non_positive_denominator():
    with pytest.raises(ValueError):
        div_round_half_up(1, 0)


@pytest.mark.parametrize(
    ("before_tax", "with_iva"),
    [
        (185000, 214600),  # manual: MKL Déminus $1,850.00 + IVA = $2,146.00
        (199900, 231884),  # MKL NomiCloud $1,999.00 + IVA
        (0, 0),
        (1, 1),  # 1.16 -> 1
        (3, 3),  # 3.48 -> 3
        (4, 5),  # 4.64 -> 5
        (25, 29),  # 29.00 exactly
        (50, 58),
        (-185000, -214600),
    ],
)
def test_add_iva(before_tax, with_iva):
    assert add_iva(before_tax) == with_iva


@pytest.mark.parametrize(
    ("with_iva", "base"),
    [
        (214600, 185000),  # manual
        (116, 100),
        (100, 86),  # 86.206...
        (1, 1),  # 0.862 -> 1
        (29, 25),  # 25.0 exactly
        (58, 50),
        (0, 0),
        (150000, 129310),  # manual auto-sale amount $1,500 (IVA incl.): 129310.34...
        (10150, 8750),  # exact
    ],
)
def test_remove_iva(with_iva, base):
    assert remove_iva(with_iva) == base


@pytest.mark.parametrize("function", [add_iva, remove_iva])
def test_iva_rounding_matches_decimal_round_half_up(function):
    factor = Decimal(116) / 100 if function is add_iva else Decimal(100) / 116
    for cents in range(-3000, 3000):
        expected = int((Decimal(cents) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        assert function(cents) == expected


@pytest.mark.parametrize(
    ("with_iva", "iva"),
    [(214600, 29600), (116, 16), (100, 14), (1, 0), (0, 0)],
)
def test_iva_part(with_iva, iva):
    assert iva_part(with_iva) == iva


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_CENTS))
def test_base_plus_iva_is_the_total(total):
    base, iva = split_iva(total)
    assert base + iva == total
    assert iva == iva_part(total)
    assert 0 <= iva <= total


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_CENTS))
def test_adding_then_removing_iva_gives_the_base_back(base):
    # Adding IVA multiplies by 1.16, so a rounding of the total moves the base by less than half a
    # centavo: removing IVA again always lands on the same base.
    assert remove_iva(add_iva(base)) == base


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (123456789, "$1,234,567.89"),
        (214600, "$2,146.00"),
        (0, "$0.00"),
        (5, "$0.05"),
        (100, "$1.00"),
        (99999, "$999.99"),
        (100000, "$1,000.00"),
        (-500, "-$5.00"),
        (-123456789, "-$1,234,567.89"),
    ],
)
def test_format_mxn(cents, text):
    assert format_mxn(cents) == text


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1234.5", 123450),
        ("$1,234.50", 123450),
        (" 1,234 ", 123400),
        ("$ 0.99", 99),
        ("1,850.00", 185000),  # manual MKL Déminus
        ("$2,146", 214600),  # manual charge
        ("1500", 150000),  # manual auto-sale "Importe"
        ("0", 0),
        ("0.5", 50),
        (".5", 50),
        ("7.", 700),
        ("1,234,567.89", 123456789),
        ("1234567", 123456700),
        ("007", 700),
    ],
)
def test_parse_mxn(text, cents):
    assert parse_mxn(text) == cents


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Escriba un importe."),
        ("   ", "Escriba un importe."),
        ("$", "Escriba un importe."),
        ("abc", "Escriba un importe válido, por ejemplo 1,234.50."),
        ("1,23", "Escriba un importe válido, por ejemplo 1,234.50."),  # comma is never decimal in es-MX
        ("1,2345", "Escriba un importe válido, por ejemplo 1,234.50."),
        ("12,34,567", "Escriba un importe válido, por ejemplo 1,234.50."),
        ("1.2.3", "Escriba un importe válido, por ejemplo 1,234.50."),
        (".", "Escriba un importe válido, por ejemplo 1,234.50."),
        ("1 234", "Escriba un importe válido, por ejemplo 1,234.50."),
        ("١٢٣", "Escriba un importe válido, por ejemplo 1,234.50."),  # non-ASCII digits
        ("1e3", "Escriba un importe válido, por ejemplo 1,234.50."),
        ("1.234", "El importe admite como máximo 2 decimales."),
        ("0.001", "El importe admite como máximo 2 decimales."),
        ("-5", "El importe no puede ser negativo."),
        ("$-5.00", "El importe no puede ser negativo."),
        ("-$5.00", "El importe no puede ser negativo."),
        ("99999999999999", "El importe es demasiado grande."),
    ],
)
def test_parse_mxn_refuses(text, message):
    with pytest.raises(DomainError) as caught:
        parse_mxn(text, field="price")
    assert caught.value.code is ErrorCode.VALIDATION_ERROR
    assert [(e.field, e.message) for e in caught.value.errors] == [("price", message)]


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_CENTS))
def test_parse_reads_back_what_format_shows(cents):
    assert parse_mxn(format_mxn(cents)) == cents


@pytest.mark.parametrize("value", [0, 1, 214600, MAX_AMOUNT_CENTS])
def test_check_amount_cents_accepts(value):
    assert check_amount_cents(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "El importe no puede ser negativo."),
        (MAX_AMOUNT_CENTS + 1, "El importe es demasiado grande."),
        (1.5, "El importe debe ser un número entero de centavos."),
        (True, "El importe debe ser un número entero de centavos."),
        ("100", "El importe debe ser un número entero de centavos."),
    ],
)
def test_check_amount_cents_refuses(value, message):
    with pytest.raises(DomainError) as caught:
        check_amount_cents(value)
    assert [(e.field, e.message) for e in caught.value.errors] == [("amount_cents", message)]
