"""Contact field checks and the form-wide Validator."""

from __future__ import annotations

import pytest

from cmdesk.domain.contact import (
    Validator,
    check_email,
    check_max_length,
    check_person_name,
    check_phone,
    check_postal_code,
    check_required,
    collapse_spaces,
)
from cmdesk.domain.errors import DomainError, ErrorCode, FieldError
from cmdesk.domain.identity import check_rfc


def errors_of(caught: pytest.ExceptionInfo[DomainError]) -> list[tuple[str, str]]:
    assert caught.value.code is ErrorCode.VALIDATION_ERROR
    return [(e.field, e.message) for e in caught.value.errors]


@pytest.mark.parametrize(
    ("typed", "email"),
    [
        # Addresses from the manual's screenshots.
        ("faurita.0416@gmail.com", "faurita.0416@gmail.com"),
        ("ninalici@hotmail.com", "ninalici@hotmail.com"),
        ("dolphin_416_4@hotmail.com", "dolphin_416_4@hotmail.com"),
        ("adorlando777@msn.com", "adorlando777@msn.com"),
        ("  CPMargtz@Gmail.COM ", "cpmargtz@gmail.com"),
        ("ventas+cm@induxsoft.com.mx", "ventas+cm@induxsoft.com.mx"),
        ("a@b.co", "a@b.co"),
        ("soporte@mi-empresa.mx", "soporte@mi-empresa.mx"),
    ],
)
def test_check_email_accepts(typed, email):
    assert check_email(typed) == email


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Escriba el correo electrónico."),
        ("   ", "Escriba el correo electrónico."),
        ("ana", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("ana@gmail", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("ana@@gmail.com", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("ana gomez@gmail.com", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        (".ana@gmail.com", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("ana..g@gmail.com", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("ana@-gmail.com", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("ana@gmail.c", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("ana@gmail.com.", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("josé@gmail.com", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."),
        ("a" * 250 + "@x.com", "El correo electrónico es demasiado largo."),
    ],
)
def test_check_email_refuses(typed, message):
    with pytest.raises(DomainError) as caught:
        check_email(typed, "financial_contact.email")
    assert errors_of(caught) == [("financial_contact.email", message)]


@pytest.mark.parametrize(
    ("typed", "phone"),
    [
        ("9616058925", "9616058925"),  # manual: new distributor's mobile
        ("9611258690", "9611258690"),  # manual: master user
        ("961 605 8925", "9616058925"),
        ("(961) 605-8925", "9616058925"),
        ("961.605.89.25", "9616058925"),
        ("+52 961 605 8925", "9616058925"),
        ("+52 (55) 1234-5678", "5512345678"),
        ("+52 1 55 1234 5678", "5512345678"),  # old mobile prefix
        ("52 55 1234 5678", "5512345678"),
        ("521 55 1234 5678", "5512345678"),
        ("5215512345678", "5512345678"),
    ],
)
def test_check_phone_accepts(typed, phone):
    assert check_phone(typed) == phone


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Escriba el número de teléfono."),
        (" - ", "Escriba el número de teléfono."),
        ("123456789", "El teléfono debe tener 10 dígitos (con lada)."),  # manual's example user: 9 digits
        ("1546841221565", "El teléfono debe tener 10 dígitos (con lada)."),  # manual screenshot, 13 digits
        ("96160589251", "El teléfono debe tener 10 dígitos (con lada)."),
        ("+52 961 605 892", "El teléfono debe tener 10 dígitos (con lada)."),
        ("+1 212 555 0100", "Solo se aceptan teléfonos de México (+52)."),
        ("961-605-89AB", "El teléfono solo puede contener dígitos."),
        ("961 605 8925 ext 12", "El teléfono solo puede contener dígitos."),
        ("+52+9616058925", "El teléfono solo puede contener dígitos."),
        ("٩٦١٦٠٥٨٩٢٥", "El teléfono solo puede contener dígitos."),
    ],
)
def test_check_phone_refuses(typed, message):
    with pytest.raises(DomainError) as caught:
        check_phone(typed)
    assert errors_of(caught) == [("phone", message)]


@pytest.mark.parametrize(
    ("typed", "code"),
    [("29000", "29000"), (" 06700 ", "06700"), ("01000", "01000"), ("99999", "99999")],
)
def test_check_postal_code_accepts(typed, code):
    assert check_postal_code(typed) == code


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Escriba el código postal."),
        ("2900", "El código postal debe tener 5 dígitos."),
        ("290000", "El código postal debe tener 5 dígitos."),
        ("29 000", "El código postal debe tener 5 dígitos."),
        ("2900A", "El código postal debe tener 5 dígitos."),
        ("00999", "El código postal no existe: van del 01000 al 99999."),
    ],
)
def test_check_postal_code_refuses(typed, message):
    with pytest.raises(DomainError) as caught:
        check_postal_code(typed, "address.postal_code")
    assert errors_of(caught) == [("address.postal_code", message)]


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Marisela Gutiérrez Ángel", "Marisela Gutiérrez Ángel"),  # manual: financial contact
        ("  Jorge   Pérez Hernández ", "Jorge Pérez Hernández"),
        ("María de Todos Los Ángeles", "María de Todos Los Ángeles"),
        ("Ma. de Jesús Núñez", "Ma. de Jesús Núñez"),
        ("José-Luis O'Brien", "José-Luis O'Brien"),
        ("Güemes", "Güemes"),
    ],
)
def test_check_person_name_accepts(typed, name):
    assert check_person_name(typed) == name


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "El campo «Nombre» es obligatorio."),
        ("Juan 2", "El campo «Nombre» solo puede contener letras y espacios."),
        ("Juan_Pérez", "El campo «Nombre» solo puede contener letras y espacios."),
        ("Juan@Pérez", "El campo «Nombre» solo puede contener letras y espacios."),
        ("- Juan", "El campo «Nombre» solo puede contener letras y espacios."),
        ("a" * 121, "El campo «Nombre» admite como máximo 120 caracteres."),
    ],
)
def test_check_person_name_refuses(typed, message):
    with pytest.raises(DomainError) as caught:
        check_person_name(typed)
    assert errors_of(caught) == [("name", message)]


@pytest.mark.parametrize(
    ("value", "result"),
    [(" Empresa de Pruebas ", "Empresa de Pruebas"), ("x", "x")],
)
def test_check_required_accepts(value, result):
    assert check_required(value, "name", "Nombre") == result


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n"])
def test_check_required_refuses(value):
    with pytest.raises(DomainError) as caught:
        check_required(value, "name", "Nombre")
    assert errors_of(caught) == [("name", "El campo «Nombre» es obligatorio.")]


@pytest.mark.parametrize(
    ("value", "n", "result"),
    [(" abc ", 3, "abc"), ("", 3, ""), (None, 3, "")],
)
def test_check_max_length_accepts(value, n, result):
    assert check_max_length(value, "trade_name", "Nombre comercial", n) == result


def test_check_max_length_refuses():
    with pytest.raises(DomainError) as caught:
        check_max_length("abcd", "trade_name", "Nombre comercial", 3)
    assert errors_of(caught) == [
        ("trade_name", "El campo «Nombre comercial» admite como máximo 3 caracteres.")
    ]


def test_collapse_spaces():
    assert collapse_spaces("  a \t b\n c  ") == "a b c"


def test_validator_collects_every_error_and_raises_once():
    v = Validator()
    rfc = v.run("rfc", check_rfc, "GODE56")
    name = v.run("name", check_required, "  ", "Nombre")
    email = v.run("email", check_email, "ana@gmail")
    phone = v.run("phone", check_phone, "961 605 8925")
    assert (rfc, name, email) == (None, None, None)
    assert phone == "9616058925"
    assert not v.ok
    assert v.has_error("rfc") and not v.has_error("phone")
    with pytest.raises(DomainError) as caught:
        v.raise_if_any()
    assert [field for field, _ in errors_of(caught)] == ["rfc", "name", "email"]
    assert "El campo «Nombre» es obligatorio." in caught.value.detail


def test_validator_without_errors_does_not_raise():
    v = Validator()
    assert v.run("email", check_email, "A@B.MX") == "a@b.mx"
    assert v.ok
    v.raise_if_any()


@pytest.mark.parametrize("value", [None, "", "   "])
def test_validator_optional_skips_blank_values(value):
    v = Validator()
    assert v.optional("email", check_email, value) is None
    assert v.ok


def test_validator_optional_checks_given_values():
    v = Validator()
    assert v.optional("email", check_email, "x") is None
    assert v.errors == [
        FieldError("email", "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx.")
    ]


def test_validator_add_and_keyword_arguments():
    v = Validator()
    v.add("phone", "El teléfono no puede ser el del distribuidor que da de alta.")
    assert v.run("address.state", check_max_length, "abc", label="Estado", n=2) is None
    with pytest.raises(DomainError) as caught:
        v.raise_if_any()
    assert errors_of(caught) == [
        ("phone", "El teléfono no puede ser el del distribuidor que da de alta."),
        ("address.state", "El campo «Estado» admite como máximo 2 caracteres."),
    ]


def test_validator_lets_other_domain_errors_through():
    def blocked(value: str, field: str) -> str:
        raise DomainError(ErrorCode.ACCOUNT_BLOCKED, "Cuenta bloqueada.")

    v = Validator()
    with pytest.raises(DomainError) as caught:
        v.run("id", blocked, "x")
    assert caught.value.code is ErrorCode.ACCOUNT_BLOCKED
    assert v.ok
