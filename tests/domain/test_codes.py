"""Generated ids and secrets: shapes, alphabets, entropy, and the user-chosen CTI id check."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable

import pytest

from cmdesk.domain.codes import (
    CROCKFORD_ALPHABET,
    PASSWORD_ALPHABET,
    check_cti_id,
    generate_cti_id,
    generate_license_key,
    generate_nip,
    generate_password,
    generate_token,
    generate_top_up_code,
    new_id,
    new_ids,
    normalize_top_up_code,
)
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.passwords import password_problems

SAMPLES = 200

SHAPES: list[tuple[str, Callable[[], str], str]] = [
    ("new_id", new_id, r"[0-9a-f]{32}"),
    ("cti_id", generate_cti_id, r"[0-9A-F]{32}"),
    ("top_up_code", generate_top_up_code, rf"[{CROCKFORD_ALPHABET}]{{26}}"),
    ("nip", generate_nip, r"[A-Z0-9]{4}"),
    (
        "license_key",
        generate_license_key,
        rf"[{CROCKFORD_ALPHABET}]{{5}}(?:-[{CROCKFORD_ALPHABET}]{{5}}){{4}}",
    ),
    ("token", generate_token, r"[A-Za-z0-9_-]{43}"),
    ("password", generate_password, rf"[{PASSWORD_ALPHABET}]{{12}}"),
]


@pytest.mark.parametrize(("name", "generate", "pattern"), SHAPES, ids=[s[0] for s in SHAPES])
def test_shape_and_uniqueness(name, generate, pattern):
    values = [generate() for _ in range(SAMPLES)]
    for value in values:
        assert re.fullmatch(pattern, value), (name, value)
    if name != "nip":  # 4 characters: collisions are possible and harmless (it goes with a code)
        assert len(set(values)) == SAMPLES


def test_manual_cti_id_has_the_generated_shape():
    # Manual: the automatic CTI id of "Empresa de Pruebas".
    assert re.fullmatch(r"[0-9A-F]{32}", "A3113075036B40AC8774BFADACEF00D2")
    assert check_cti_id("A3113075036B40AC8774BFADACEF00D2") == "A3113075036B40AC8774BFADACEF00D2"


def test_new_id_is_a_uuid4():
    import uuid

    assert uuid.UUID(hex=new_id()).version == 4


@pytest.mark.parametrize(
    ("bits_needed", "alphabet_size", "length"),
    [
        (128, len(CROCKFORD_ALPHABET), 26),  # top-up code
        (120, len(CROCKFORD_ALPHABET), 25),  # license key without dashes
        (128, 16, 32),  # CTI id
        (256, 64, 43),  # token
    ],
)
def test_entropy(bits_needed, alphabet_size, length):
    assert length * math.log2(alphabet_size) >= bits_needed


def test_crockford_alphabet_has_no_look_alikes():
    assert len(CROCKFORD_ALPHABET) == 32 == len(set(CROCKFORD_ALPHABET))
    assert not set("ILOU") & set(CROCKFORD_ALPHABET)


def test_password_alphabet_has_no_look_alikes():
    assert not set("0Oo1lI") & set(PASSWORD_ALPHABET)
    assert set(PASSWORD_ALPHABET) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ23456789")


@pytest.mark.parametrize("length", [8, 12, 16, 32])
def test_generated_passwords_pass_the_policy(length):
    for _ in range(SAMPLES):
        password = generate_password(length)
        assert len(password) == length
        assert password_problems(password) == []


def test_generate_password_refuses_short_lengths():
    with pytest.raises(ValueError):
        generate_password(7)


def test_generators_use_the_whole_alphabet():
    seen = set("".join(generate_top_up_code() for _ in range(SAMPLES)))
    assert seen == set(CROCKFORD_ALPHABET)


@pytest.mark.parametrize(
    ("typed", "cti_id"),
    [
        ("Pruebas", "Pruebas"),  # manual: CTI ids chosen by the distributor
        ("cuentasmpresa", "cuentasmpresa"),
        ("D2F81F20D0614ACDB027838D486BE7CA", "D2F81F20D0614ACDB027838D486BE7CA"),
        (" ventas.norte ", "ventas.norte"),
        ("cti_2016-04", "cti_2016-04"),
        ("abcd", "abcd"),
        ("a" * 64, "a" * 64),
    ],
)
def test_check_cti_id_accepts(typed, cti_id):
    assert check_cti_id(typed) == cti_id


CTI_ID_MESSAGE = (
    "El Id de la cuenta debe tener de 4 a 64 caracteres: letras sin acentos, dígitos, guion (-), "
    "guion bajo (_) o punto (.)."
)


@pytest.mark.parametrize(
    "typed",
    ["", "abc", "a" * 65, "mi cuenta", "año2016", "cuenta:1", "cuenta/1", "cuenta@x", "ｃｕｅｎｔａ"],
)
def test_check_cti_id_refuses(typed):
    with pytest.raises(DomainError) as caught:
        check_cti_id(typed, "stamping_account.id")
    assert caught.value.code is ErrorCode.VALIDATION_ERROR
    assert [(e.field, e.message) for e in caught.value.errors] == [("stamping_account.id", CTI_ID_MESSAGE)]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("837trtvdizohl21xzahb1zt4khr", "837TRTVDIZOHL21XZAHB1ZT4KHR"),  # manual's code, as printed
        (" 837T-RTVD IZOH ", "837TRTVDIZOH"),
    ],
)
def test_normalize_top_up_code(typed, code):
    assert normalize_top_up_code(typed) == code


def test_new_ids_are_what_new_id_makes_each_one_its_own() -> None:
    ids = new_ids(2000)
    assert len(set(ids)) == 2000 and new_ids(0) == []
    for ident in [*ids, new_id()]:
        made = uuid.UUID(hex=ident)
        assert (made.hex, made.version, made.variant) == (ident, 4, uuid.RFC_4122)
