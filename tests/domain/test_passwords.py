"""Password strength policy and confirmation."""

from __future__ import annotations

import pytest

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.passwords import COMMON_PASSWORDS, check_password, password_problems

SHORT = "La contraseña debe tener al menos 8 caracteres."
LONG = "La contraseña puede tener como máximo 128 caracteres."
MIX = "La contraseña debe incluir letras y números."
REPEATED = "La contraseña no puede ser un mismo carácter repetido."
COMMON = "La contraseña es demasiado común; elija otra."


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Timbres2016", []),
        ("k7mQ2xPa", []),
        ("ñandú2016", []),  # accented letters are letters
        ("mi clave 2016", []),  # spaces are fine
        ("a1" * 64, []),  # 128 characters
        ("", [SHORT, MIX]),
        ("abc123", [SHORT, COMMON]),
        ("abcdefgh", [MIX]),
        ("12345678", [MIX, COMMON]),
        ("!!!!????", [MIX]),
        ("aaaaaaaa", [MIX, REPEATED]),
        ("11111111", [MIX, REPEATED, COMMON]),
        ("a", [SHORT, MIX, REPEATED]),
        ("password1", [COMMON]),
        ("Password1", [COMMON]),  # case does not make it less common
        ("contraseña1", [COMMON]),
        ("QWERTY123", [COMMON]),
        ("trustno1", [COMMON]),  # from the leak corpora zxcvbn ships
        ("Jordan23xx", []),
        ("blink182", [COMMON]),
        ("a1" * 64 + "x", [LONG]),
    ],
)
def test_password_problems(password, problems):
    assert password_problems(password) == problems


def test_common_passwords_would_pass_the_other_rules():
    # The list exists for what the other rules let through; anything else in it is dead weight.
    for common in COMMON_PASSWORDS:
        assert password_problems(common) == [COMMON], common


def test_check_password_returns_the_password_unchanged():
    assert check_password(" Timbres2016 ") == " Timbres2016 "
    assert check_password("Timbres2016", confirm="Timbres2016") == "Timbres2016"


@pytest.mark.parametrize(
    ("password", "confirm", "errors"),
    [
        ("Timbres2016", "Timbres2017", [("password_confirm", "Las contraseñas no coinciden.")]),
        ("Timbres2016", "", [("password_confirm", "Las contraseñas no coinciden.")]),
        ("abc", None, [("password", SHORT), ("password", MIX)]),
        (
            "abc",
            "abd",
            [("password", SHORT), ("password", MIX), ("password_confirm", "Las contraseñas no coinciden.")],
        ),
    ],
)
def test_check_password_refuses(password, confirm, errors):
    with pytest.raises(DomainError) as caught:
        check_password(password, confirm=confirm)
    assert caught.value.code is ErrorCode.VALIDATION_ERROR
    assert [(e.field, e.message) for e in caught.value.errors] == errors


def test_check_password_custom_fields():
    with pytest.raises(DomainError) as caught:
        check_password("Timbres2016", "new_password", "x", confirm_field="new_password_repeat")
    assert [e.field for e in caught.value.errors] == ["new_password_repeat"]
