"""Password strength policy for profiles and stamping accounts (CTI), with Spanish explanations.

The policy is deliberately simple, because it is explained to the user beside the field: at least 8
characters, letters and digits, not one repeated character, not a well-known password. Passwords are
never stripped or otherwise changed: what the user typed is what is hashed.

One policy everywhere a password is set: the API (CTI passwords, registrations, confirmations), the
desktop and `cmdesk-server create-distributor`.

Well-known passwords: the 30,000 most common ones of leaked-password corpora as zxcvbn ships them (a
maintained, MIT-licensed package: a list kept by others is better than one we would have to keep),
plus `COMMON_PASSWORDS`, Spanish and product-specific favourites no English corpus has. The list is
loaded on first use (~0.1 s), not at import.
"""

from __future__ import annotations

from functools import cache

from cmdesk.domain.errors import FieldError, validation_error

PASSWORD_MIN_LENGTH = 8
# Far above any real password; it bounds the work of hashing what an attacker sends.
PASSWORD_MAX_LENGTH = 128

# The most used passwords that pass the other rules (from public leak lists, plus Spanish favourites).
# Compared in lower case.
COMMON_PASSWORDS = frozenset(
    {
        "password1",
        "password123",
        "passw0rd",
        "abc12345",
        "abcd1234",
        "qwerty123",
        "qwerty12",
        "1q2w3e4r",
        "1qaz2wsx",
        "a1b2c3d4",
        "12345678a",
        "123456789a",
        "a12345678",
        "iloveyou1",
        "admin123",
        "admin1234",
        "welcome1",
        "contraseña1",
        "contrasena1",
        "contraseña123",
        "contrasena123",
        "mexico123",
        "mexico2024",
        "mexico2025",
        "mexico2026",
        "induxsoft1",
        "induxsoft123",
        "timbres123",
        "facturacion1",
        "usuario123",
        "cliente123",
    }
)


@cache
def _leaked_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """Whether `password` (in lower case) is a well-known password."""
    lowered = password.lower()
    return lowered in COMMON_PASSWORDS or lowered in _leaked_passwords()


def password_problems(password: str) -> list[str]:
    """Every rule `password` breaks, as Spanish sentences; empty when it is acceptable."""
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"La contraseña debe tener al menos {PASSWORD_MIN_LENGTH} caracteres.")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"La contraseña puede tener como máximo {PASSWORD_MAX_LENGTH} caracteres.")
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        problems.append("La contraseña debe incluir letras y números.")
    if password and len(set(password)) == 1:
        problems.append("La contraseña no puede ser un mismo carácter repetido.")
    if is_common(password):
        problems.append("La contraseña es demasiado común; elija otra.")
    return problems


def check_password(
    password: str,
    field: str = "password",
    confirm: str | None = None,
    confirm_field: str | None = None,
) -> str:
    """`password` unchanged if it meets the policy and matches `confirm` (when given).

    Raises one validation error with a field error per problem; a confirmation that differs is reported
    on `confirm_field` (default `<field>_confirm`), where the form shows it.
    """
    errors = [FieldError(field, problem) for problem in password_problems(password)]
    if confirm is not None and confirm != password:
        errors.append(FieldError(confirm_field or f"{field}_confirm", "Las contraseñas no coinciden."))
    if errors:
        raise validation_error(errors)
    return password
