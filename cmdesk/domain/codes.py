"""Generated ids and secrets (row ids, CTI ids, passwords, top-up codes, NIPs, license keys, tokens).

Also the check of a CTI id chosen by the user instead of the generated one.

Everything random comes from `secrets` (the OS CSPRNG). Codes a person reads aloud or types use
Crockford's base-32 alphabet (no I, L, O, U), so 0/O and 1/I/L are never confused.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid

from cmdesk.domain.errors import validation_error
from cmdesk.domain.passwords import password_problems

# Crockford base 32: 5 bits per character.
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TOP_UP_CODE_LENGTH = 26  # 130 bits
NIP_LENGTH = 4
LICENSE_KEY_GROUPS = 5
LICENSE_KEY_GROUP_LENGTH = 5  # 25 characters, 125 bits
CTI_ID_MIN_LENGTH = 4
CTI_ID_MAX_LENGTH = 64

# Letters and digits without the look-alikes 0 O o 1 l I, for passwords read off a screen or paper.
PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0Oo1lI")

# ASCII only and no ':' because the CTI id is the user name of HTTP Basic auth in invoicing apps.
_CTI_ID_RE = re.compile(r"[A-Za-z0-9._-]+", re.ASCII)


def _random_string(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_id() -> str:
    """A row id: a random UUID as 32 lower-case hex characters."""
    return uuid.uuid4().hex


def new_ids(count: int) -> list[str]:
    """`count` row ids as `new_id` makes them (random UUIDs, version 4, as 32 lower-case hex
    characters), from one read of the OS's random source: one read per id (5,000 for a bulk
    transfer) let go of the GIL 5,000 times in a row, and a server's other threads waited for it."""
    raw = bytearray(secrets.token_bytes(16 * count))
    for at in range(0, 16 * count, 16):
        raw[at + 6] = (raw[at + 6] & 0x0F) | 0x40  # version 4
        raw[at + 8] = (raw[at + 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return [text[at : at + 32] for at in range(0, 32 * count, 32)]


def generate_cti_id() -> str:
    """An automatic CTI id: 32 upper-case hex characters (like A3113075036B40AC8774BFADACEF00D2)."""
    return secrets.token_hex(16).upper()


def check_cti_id(value: str, field: str = "id") -> str:
    """A CTI id chosen by the user (stripped, case kept): 4–64 letters, digits, '-', '_' or '.'."""
    cti_id = value.strip()
    if not CTI_ID_MIN_LENGTH <= len(cti_id) <= CTI_ID_MAX_LENGTH or _CTI_ID_RE.fullmatch(cti_id) is None:
        raise validation_error(
            {
                field: f"El Id de la cuenta debe tener de {CTI_ID_MIN_LENGTH} a {CTI_ID_MAX_LENGTH} "
                "caracteres: letras sin acentos, dígitos, guion (-), guion bajo (_) o punto (.)."
            }
        )
    return cti_id


def generate_password(length: int = 12) -> str:
    """A random password of letters and digits, without look-alike characters, that passes the policy."""
    if length < 8:
        raise ValueError("generated passwords need at least 8 characters")
    while True:
        # Redraw rather than patch in a digit: patching would make some positions predictable.
        password = _random_string(PASSWORD_ALPHABET, length)
        if not password_problems(password):
            return password


def generate_top_up_code() -> str:
    """A top-up code (código de abono): 26 Crockford base-32 characters, 130 random bits."""
    return _random_string(CROCKFORD_ALPHABET, TOP_UP_CODE_LENGTH)


def normalize_top_up_code(value: str) -> str:
    """What a person typed as a top-up code, in the stored form: upper case, no spaces or dashes."""
    return re.sub(r"[\s-]", "", value).upper()


def generate_nip() -> str:
    """The NIP that goes with a top-up code: 4 upper-case letters and digits (Crockford alphabet)."""
    return _random_string(CROCKFORD_ALPHABET, NIP_LENGTH)


def generate_license_key() -> str:
    """An MKL license key: five groups of five Crockford characters (XXXXX-XXXXX-...), 125 random bits."""
    groups = (_random_string(CROCKFORD_ALPHABET, LICENSE_KEY_GROUP_LENGTH) for _ in range(LICENSE_KEY_GROUPS))
    return "-".join(groups)


def generate_token() -> str:
    """A URL-safe secret (e-mail confirmation, refresh tokens): 256 random bits, 43 characters."""
    return secrets.token_urlsafe(32)
