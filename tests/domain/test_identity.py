"""RFC and CURP checks: formats, dates, check digits as warnings, Spanish messages."""

from __future__ import annotations

import pytest

from cmdesk.domain.enums import PersonType
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.identity import RfcCheck, check_curp, check_rfc, rfc_counter_text, rfc_warning

LENGTH = "El RFC debe tener 12 caracteres (persona moral) o 13 (persona física)."
FORMAT_TAIL = ", la fecha en 6 dígitos (AAMMDD) y 3 caracteres de homoclave."
MORAL_FORMAT = "El RFC de persona moral debe tener 3 letras" + FORMAT_TAIL
FISICA_FORMAT = "El RFC de persona física debe tener 4 letras" + FORMAT_TAIL


def only_error(caught: pytest.ExceptionInfo[DomainError]) -> tuple[str, str]:
    assert caught.value.code is ErrorCode.VALIDATION_ERROR
    assert len(caught.value.errors) == 1
    error = caught.value.errors[0]
    return error.field, error.message


@pytest.mark.parametrize(
    ("typed", "rfc", "person_type", "check_digit_ok", "generic"),
    [
        ("GODE561231GR8", "GODE561231GR8", PersonType.FISICA, True, False),
        ("gode 561231 gr8", "GODE561231GR8", PersonType.FISICA, True, False),
        ("GODE-561231-GR8", "GODE561231GR8", PersonType.FISICA, True, False),
        ("MAB-930714-8T4", "MAB9307148T4", PersonType.MORAL, True, False),
        ("ABC680524P73", "ABC680524P73", PersonType.MORAL, True, False),
        ("GOMC840229AB5", "GOMC840229AB5", PersonType.FISICA, True, False),  # 29 Feb of a leap year
        ("IIS000229H12", "IIS000229H12", PersonType.MORAL, True, False),
        ("ñez991231ab0", "ÑEZ991231AB0", PersonType.MORAL, True, False),  # Ñ and & are letters in RFCs
        # Real-looking RFCs whose check digit does not match: accepted, flagged for confirmation.
        ("PRUE7010023T5", "PRUE7010023T5", PersonType.FISICA, False, False),  # manual's test client
        ("VACE-460910-SX6", "VACE460910SX6", PersonType.FISICA, False, False),
        ("GODE561231GR9", "GODE561231GR9", PersonType.FISICA, False, False),
        # SAT generic RFCs: general public and foreigners.
        ("XAXX010101000", "XAXX010101000", PersonType.FISICA, True, True),
        ("xexx-010101-000", "XEXX010101000", PersonType.FISICA, True, True),
    ],
)
def test_check_rfc_accepts(typed, rfc, person_type, check_digit_ok, generic):
    assert check_rfc(typed) == RfcCheck(rfc, person_type, check_digit_ok, generic)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Escriba el RFC."),
        ("   ", "Escriba el RFC."),
        ("GODE561231", LENGTH),  # without homoclave: stdnum would take it, the portal needs it whole
        ("GODE561231GR", MORAL_FORMAT),  # 12 characters are read as a persona moral
        ("GODE561231GR8X", LENGTH),
        ("BOXW310820HNERXN09", LENGTH),  # a CURP typed in the RFC field
        ("G0DE561231GR8", FISICA_FORMAT),
        ("GODE56123AGR8", FISICA_FORMAT),
        ("GODE561231GR!", FISICA_FORMAT),
        ("MA89307148T4", MORAL_FORMAT),
        ("MAB930714.8T", MORAL_FORMAT),
        ("GODE561331GR8", "La fecha del RFC (561331) no es una fecha válida (AAMMDD)."),
        ("GODE560230GR8", "La fecha del RFC (560230) no es una fecha válida (AAMMDD)."),
        ("GOMC850229AB8", "La fecha del RFC (850229) no es una fecha válida (AAMMDD)."),  # 1985 not leap
        ("MAB930007XT4", "La fecha del RFC (930007) no es una fecha válida (AAMMDD)."),
        ("PUTO561231GR8", "Las primeras letras del RFC no son válidas."),
    ],
)
def test_check_rfc_refuses(typed, message):
    with pytest.raises(DomainError) as caught:
        check_rfc(typed, field="legal_representative.rfc")
    assert only_error(caught) == ("legal_representative.rfc", message)


def test_check_rfc_default_field_is_rfc():
    with pytest.raises(DomainError) as caught:
        check_rfc("X")
    assert only_error(caught) == ("rfc", LENGTH)


@pytest.mark.parametrize(
    ("rfc", "warned"),
    [("GODE561231GR8", False), ("PRUE7010023T5", True), ("XAXX010101000", False)],
)
def test_rfc_warning(rfc, warned):
    warning = rfc_warning(check_rfc(rfc))
    if warned:
        assert warning is not None
        assert rfc in warning
        assert "dígito verificador" in warning
    else:
        assert warning is None


@pytest.mark.parametrize(
    ("typed", "counter"),
    [
        ("", "0/13"),  # manual: the empty field shows "0/13"
        ("GODE", "4/13"),
        ("GODE-561231-GR8", "13/13"),
        ("MAB9307148T4", "12/13"),
        ("GODE561231GR8X", "14/13"),
    ],
)
def test_rfc_counter_text(typed, counter):
    assert rfc_counter_text(typed) == counter


@pytest.mark.parametrize(
    ("typed", "curp"),
    [
        ("BOXW310820HNERXN09", "BOXW310820HNERXN09"),
        ("boxw310820hnerxn09", "BOXW310820HNERXN09"),
        (" BOXW-310820-HNERXN09 ", "BOXW310820HNERXN09"),
        ("GOMC840229MDFRRR05", "GOMC840229MDFRRR05"),
        ("LOOA531113HTCPBN07", "LOOA531113HTCPBN07"),
        ("PEPJ001231HJCRRNA8", "PEPJ001231HJCRRNA8"),  # born in the 2000s: letter before check digit
        ("ZAZA010101MNELNR01", "ZAZA010101MNELNR01"),  # NE: born abroad
    ],
)
def test_check_curp_accepts(typed, curp):
    assert check_curp(typed) == curp


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Escriba la CURP."),
        ("BOXW310820HNERXN0", "La CURP debe tener 18 caracteres."),
        ("BOXW310820HNERXN091", "La CURP debe tener 18 caracteres."),
        (
            "B0XW310820HNERXN09",
            "La CURP debe tener 4 letras, la fecha de nacimiento en 6 dígitos (AAMMDD), 6 letras, "
            "un carácter de homoclave y un dígito verificador.",
        ),
        (
            "BOXW310820HNERXN0A",
            "La CURP debe tener 4 letras, la fecha de nacimiento en 6 dígitos (AAMMDD), 6 letras, "
            "un carácter de homoclave y un dígito verificador.",
        ),
        ("BOXW310820HNERXN08", "El dígito verificador de la CURP no coincide; revise que esté bien escrita."),
        ("GOMC850229MDFRRR02", "La fecha de nacimiento de la CURP (850229) no es válida (AAMMDD)."),
        ("BOXW311320HNERXN09", "La fecha de nacimiento de la CURP (311320) no es válida (AAMMDD)."),
        ("GOMC010101XDFRRR03", "El sexo en la CURP debe ser H (hombre) o M (mujer)."),
        ("GOMC010101HXXRRR08", "La entidad de nacimiento de la CURP (XX) no existe."),
        ("PUTO010101HDFLNR09", "Las primeras letras de la CURP no son válidas."),
    ],
)
def test_check_curp_refuses(typed, message):
    with pytest.raises(DomainError) as caught:
        check_curp(typed)
    assert only_error(caught) == ("curp", message)
