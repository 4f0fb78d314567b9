"""Mexican tax and population ids: RFC (clients, distributors) and CURP (legal representatives).

The structure is checked by python-stdnum; this module adds what the portal needs on top: only full
RFCs (12 characters for a persona moral, 13 for a persona física, homoclave included), the generic RFCs
of the SAT, Spanish messages that say which part is wrong, and a check digit that *warns* instead of
refusing, because about 1.5% of the RFCs the SAT really issued fail it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.mx import curp as stdnum_curp
from stdnum.mx import rfc as stdnum_rfc

from cmdesk.domain.enums import PersonType
from cmdesk.domain.errors import validation_error

RFC_MORAL_LENGTH = 12
RFC_FISICA_LENGTH = 13
CURP_LENGTH = 18

# SAT's generic RFCs: sales to the general public, and to foreigners without a Mexican RFC.
GENERIC_RFC_PUBLIC = "XAXX010101000"
GENERIC_RFC_FOREIGN = "XEXX010101000"
GENERIC_RFCS = frozenset({GENERIC_RFC_PUBLIC, GENERIC_RFC_FOREIGN})

_RFC_MORAL_RE = re.compile(r"[A-ZÑ&]{3}[0-9]{6}[A-Z0-9]{3}")
_RFC_FISICA_RE = re.compile(r"[A-ZÑ&]{4}[0-9]{6}[A-Z0-9]{3}")
_CURP_RE = re.compile(r"[A-Z]{4}[0-9]{6}[A-Z]{6}[0-9A-Z][0-9]")

# The 32 entities plus NE (born abroad), as RENAPO codes them; stdnum checks the same list, we keep
# it here only to tell the user *which* part of a CURP is wrong.
_CURP_BIRTH_STATE_CODES = (
    "AS BC BS CC CH CL CM CS DF DG GR GT HG JC MC MN MS NE NL NT OC PL QR QT SL SP SR TC TL TS VZ YN ZS"
)
_CURP_BIRTH_STATES = frozenset(_CURP_BIRTH_STATE_CODES.split())


@dataclass(frozen=True)
class RfcCheck:
    """An RFC that passed the format and date checks, and what else is known about it."""

    rfc: str
    person_type: PersonType
    check_digit_ok: bool
    generic: bool


def normalize_rfc(value: str) -> str:
    """Upper case, without spaces, dashes or underscores (people type "GODE-561231-GR8")."""
    return str(stdnum_rfc.compact(value))


def rfc_counter_text(value: str) -> str:
    """The "n/13" counter the RFC field shows while typing (separators are not counted)."""
    return f"{len(normalize_rfc(value))}/{RFC_FISICA_LENGTH}"


def check_rfc(value: str, field: str = "rfc") -> RfcCheck:
    """Check an RFC's length, format and date; report (not refuse) a wrong check digit.

    Raises a validation error for `field` with a Spanish message naming the wrong part.
    """
    rfc = normalize_rfc(value)
    if not rfc:
        raise validation_error({field: "Escriba el RFC."})
    if rfc in GENERIC_RFCS:
        return RfcCheck(rfc, PersonType.FISICA, check_digit_ok=True, generic=True)
    if len(rfc) == RFC_MORAL_LENGTH:
        person_type, pattern, letters = PersonType.MORAL, _RFC_MORAL_RE, "3 letras"
    elif len(rfc) == RFC_FISICA_LENGTH:
        person_type, pattern, letters = PersonType.FISICA, _RFC_FISICA_RE, "4 letras"
    else:
        raise validation_error(
            {field: "El RFC debe tener 12 caracteres (persona moral) o 13 (persona física)."}
        )
    if pattern.fullmatch(rfc) is None:
        kind = "persona moral" if person_type is PersonType.MORAL else "persona física"
        raise validation_error(
            {
                field: f"El RFC de {kind} debe tener {letters}, la fecha en 6 dígitos (AAMMDD) "
                "y 3 caracteres de homoclave."
            }
        )
    try:
        stdnum_rfc.validate(rfc)
    except stdnum_errors.ValidationError:
        date_part = rfc[-9:-3]
        if _rfc_date_ok(date_part):
            # Formats and date pass, so stdnum refused the first four letters: the SAT never issues
            # RFCs spelling an offensive word (it replaces a letter with X).
            raise validation_error({field: "Las primeras letras del RFC no son válidas."}) from None
        raise validation_error(
            {field: f"La fecha del RFC ({date_part}) no es una fecha válida (AAMMDD)."}
        ) from None
    return RfcCheck(rfc, person_type, check_digit_ok=_rfc_check_digit_ok(rfc), generic=False)


def _rfc_date_ok(yymmdd: str) -> bool:
    # The RFC has no century; reading it as 20YY accepts 29 February whenever YY is a multiple of 4,
    # the same choice stdnum makes.
    try:
        date(2000 + int(yymmdd[0:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        return False
    return True


def _rfc_check_digit_ok(rfc: str) -> bool:
    try:
        stdnum_rfc.validate(rfc, validate_check_digits=True)
    except stdnum_errors.ValidationError:
        return False
    return True


def rfc_warning(check: RfcCheck) -> str | None:
    """The Spanish warning to show (and have the user confirm) when the check digit does not match."""
    if check.check_digit_ok:
        return None
    return (
        f"El dígito verificador del RFC {check.rfc} no coincide. Revise que esté bien escrito; "
        "si es correcto (el SAT emitió algunos así), confírmelo para continuar."
    )


def check_curp(value: str, field: str = "curp") -> str:
    """A valid CURP (normalized upper case), check digit included; else a Spanish validation error."""
    curp = str(stdnum_curp.compact(value))
    if not curp:
        raise validation_error({field: "Escriba la CURP."})
    if len(curp) != CURP_LENGTH:
        raise validation_error({field: "La CURP debe tener 18 caracteres."})
    if _CURP_RE.fullmatch(curp) is None:
        raise validation_error(
            {
                field: "La CURP debe tener 4 letras, la fecha de nacimiento en 6 dígitos (AAMMDD), "
                "6 letras, un carácter de homoclave y un dígito verificador."
            }
        )
    try:
        stdnum_curp.validate(curp)
    except stdnum_errors.InvalidChecksum:
        raise validation_error(
            {field: "El dígito verificador de la CURP no coincide; revise que esté bien escrita."}
        ) from None
    except stdnum_errors.ValidationError:
        raise validation_error({field: _curp_component_problem(curp)}) from None
    return curp


def _curp_component_problem(curp: str) -> str:
    """Which part of a well-formed CURP stdnum refused, in Spanish."""
    try:
        stdnum_curp.get_birth_date(curp)
    except stdnum_errors.ValidationError:
        return f"La fecha de nacimiento de la CURP ({curp[4:10]}) no es válida (AAMMDD)."
    if curp[10] not in "HM":
        return "El sexo en la CURP debe ser H (hombre) o M (mujer)."
    if curp[11:13] not in _CURP_BIRTH_STATES:
        return f"La entidad de nacimiento de la CURP ({curp[11:13]}) no existe."
    return "Las primeras letras de la CURP no son válidas."
