"""Contact data checks (e-mail, Mexican phone, postal code, person names) and a form-wide validator.

Every check takes the raw text and the API field name it belongs to, returns the normalized value to
store, and raises `DomainError(VALIDATION_ERROR)` with a Spanish `FieldError` for that field. `Validator`
runs many checks and raises once with every error, so a form can mark all wrong fields at the same time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Concatenate

from cmdesk.domain.errors import DomainError, ErrorCode, FieldError, validation_error

EMAIL_MAX_LENGTH = 254
PERSON_NAME_MAX_LENGTH = 120

# Practical, not RFC 5322: an ASCII local part without spaces, and a domain of dot-separated labels
# ending in an alphabetic TLD. It refuses what is surely a typo ("ana@gmail", "ana@@x.com") and
# accepts every address real distributors use.
_EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.ASCII,
)
_PHONE_SEPARATORS_RE = re.compile(r"[\s\-().]")
_POSTAL_CODE_RE = re.compile(r"[0-9]{5}", re.ASCII)
# Letters of any language (accents, ñ, ü), with spaces, apostrophes, periods and hyphens between them.
_PERSON_NAME_RE = re.compile(r"[^\W\d_]+(?:[ '.\-]+[^\W\d_]+)*\.?")


def collapse_spaces(value: str) -> str:
    """Strip the ends and turn every run of whitespace inside into one space."""
    return " ".join(value.split())


def check_required(value: str | None, field: str, label: str) -> str:
    """The stripped value, or an error if it is empty. `label` is the field's name as the form shows it."""
    stripped = (value or "").strip()
    if not stripped:
        raise validation_error({field: f"El campo «{label}» es obligatorio."})
    return stripped


def check_max_length(value: str | None, field: str, label: str, n: int) -> str:
    """The stripped value, or an error if it is longer than `n` characters."""
    stripped = (value or "").strip()
    if len(stripped) > n:
        raise validation_error({field: f"El campo «{label}» admite como máximo {n} caracteres."})
    return stripped


def check_email(value: str, field: str = "email") -> str:
    """A plausible e-mail address, stripped and in lower case."""
    email = value.strip().lower()
    if not email:
        raise validation_error({field: "Escriba el correo electrónico."})
    if len(email) > EMAIL_MAX_LENGTH:
        raise validation_error({field: "El correo electrónico es demasiado largo."})
    if _EMAIL_RE.fullmatch(email) is None:
        raise validation_error(
            {field: "Escriba un correo electrónico válido, por ejemplo nombre@empresa.com.mx."}
        )
    return email


def national_digits(value: str) -> str:
    """A phone as it is typed, without its separators (spaces, dashes, dots, parentheses), its country
    code (+52, or 52 before ten digits) and the old mobile prefix 1 after it (+52 1 ...): the digits
    two ways of writing one number share (unchecked: see `check_phone`)."""
    digits = _PHONE_SEPARATORS_RE.sub("", value)
    if digits.startswith("+52"):
        digits = digits[3:]
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
    elif len(digits) == 12 and digits.startswith("52"):
        digits = digits[2:]
    elif len(digits) == 13 and digits.startswith("521"):
        digits = digits[3:]
    return digits


def check_phone(value: str, field: str = "phone") -> str:
    """A Mexican phone number as its 10 national digits.

    Spaces, dashes, dots and parentheses are ignored, and so is the country code (+52, or 52 before
    ten digits) and the old mobile prefix 1 after it (+52 1 ...), which people still type.
    """
    digits = _PHONE_SEPARATORS_RE.sub("", value)
    if not digits:
        raise validation_error({field: "Escriba el número de teléfono."})
    if digits.startswith("+") and not digits.startswith("+52"):
        raise validation_error({field: "Solo se aceptan teléfonos de México (+52)."})
    digits = national_digits(digits)
    if not digits.isascii() or not digits.isdigit():
        raise validation_error({field: "El teléfono solo puede contener dígitos."})
    if len(digits) != 10:
        raise validation_error({field: "El teléfono debe tener 10 dígitos (con lada)."})
    return digits


def comparable_phone(value: str) -> str:
    """A phone as two are compared: its 10 digits (`check_phone`), or its bare digits when it is not a
    valid number (old data); "" when there is none."""
    if not value.strip():
        return ""
    try:
        return check_phone(value)
    except DomainError:
        return "".join(c for c in value if c.isdigit())


# A new sub-distributor's contacts must not be the creating distributor's own (manual, "Alta de
# distribuidor en el portal", step 5): those of its account and of every user of it.
OWN_EMAIL = "El correo electrónico no puede ser el suyo: escriba el del nuevo distribuidor."
OWN_MOBILE = "El número móvil no puede ser el suyo: escriba el del nuevo distribuidor."
OWN_PHONE = "El teléfono no puede ser el suyo: escriba el del nuevo distribuidor."


def own_contacts(emails: Iterable[str], phones: Iterable[str]) -> tuple[set[str], set[str]]:
    """The distributor's own e-mails (lower case) and phones (`comparable_phone`), blanks left out."""
    own_emails = {e.strip().lower() for e in emails if e and e.strip()}
    own_phones = {comparable_phone(p) for p in phones if p}
    own_phones.discard("")
    return own_emails, own_phones


def own_contact_problems(
    own: tuple[set[str], set[str]],
    *,
    email: str | None = None,
    mobile: str | None = None,
    phone: str | None = None,
) -> dict[str, str]:
    """{field: reason} for the new distributor's checked contacts that are the distributor's own."""
    emails, phones = own
    problems: dict[str, str] = {}
    if email is not None and email in emails:
        problems["email"] = OWN_EMAIL
    if mobile is not None and mobile in phones:
        problems["mobile"] = OWN_MOBILE
    if phone is not None and phone in phones:
        problems["phone"] = OWN_PHONE
    return problems


def check_postal_code(value: str, field: str = "postal_code") -> str:
    """A Mexican código postal: exactly 5 digits, 01000 to 99999."""
    code = value.strip()
    if not code:
        raise validation_error({field: "Escriba el código postal."})
    if _POSTAL_CODE_RE.fullmatch(code) is None:
        raise validation_error({field: "El código postal debe tener 5 dígitos."})
    if code.startswith("00"):
        raise validation_error({field: "El código postal no existe: van del 01000 al 99999."})
    return code


def check_person_name(
    value: str, field: str = "name", label: str = "Nombre", max_length: int = PERSON_NAME_MAX_LENGTH
) -> str:
    """A person's name (contacts, legal representative, profile): letters and spaces, collapsed.

    Not for company names, which carry digits and signs ("Grupo 3M, S.A. de C.V.").
    """
    name = collapse_spaces(value)
    if not name:
        raise validation_error({field: f"El campo «{label}» es obligatorio."})
    if len(name) > max_length:
        raise validation_error({field: f"El campo «{label}» admite como máximo {max_length} caracteres."})
    if _PERSON_NAME_RE.fullmatch(name) is None:
        raise validation_error({field: f"El campo «{label}» solo puede contener letras y espacios."})
    return name


class Validator:
    """Collects the field errors of a whole form and raises them together.

        v = Validator()
        rfc = v.run("rfc", check_rfc, data.rfc)
        email = v.optional("email", check_email, data.email)
        name = v.run("name", check_required, data.name, "Nombre")
        v.raise_if_any()

    A check that fails returns None here, so read the results only after `raise_if_any()`.
    """

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def run[V, **P, T](
        self,
        field: str,
        check: Callable[Concatenate[V, str, P], T],
        value: V,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T | None:
        """`check(value, field, *args, **kwargs)`, recording its validation errors instead of raising."""
        try:
            return check(value, field, *args, **kwargs)
        except DomainError as error:
            if error.code is not ErrorCode.VALIDATION_ERROR:
                raise
            self.errors.extend(error.errors or [FieldError(field, error.detail)])
            return None

    def optional[V, **P, T](
        self,
        field: str,
        check: Callable[Concatenate[V, str, P], T],
        value: V | None,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T | None:
        """Like `run`, but a missing or blank value is fine and gives None."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return self.run(field, check, value, *args, **kwargs)

    def add(self, field: str, message: str) -> None:
        """Record an error found by a rule that is not a check function (e.g. "must differ from ...")."""
        self.errors.append(FieldError(field, message))

    def has_error(self, field: str) -> bool:
        return any(error.field == field for error in self.errors)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_any(self) -> None:
        """Raise one validation error listing every recorded field error, if there is any."""
        if self.errors:
            raise validation_error(list(self.errors))
