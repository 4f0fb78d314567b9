"""Values as the bitácora stores them: JSON-ready, and never a secret.

`scrub()` is the deny-list every write goes through (the ORM recorder, explicit notes, and whoever
builds JSON for the SQL function `cmdesk_audit`): a secret field keeps its name (renamed to what it
is: `password`, `nip`, `token`) but its value becomes `"***"`, so the record still says that a
password was changed without saying to what.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Mapping
from typing import Any

SECRET_MARK = "***"

# Column names whose values never enter a record, and the name they are shown under.
SECRET_FIELDS: dict[str, str] = {
    "password_hash": "password",
    "password": "password",
    "password_confirmation": "password",
    "nip": "nip",
    "token_hash": "token",
    "token": "token",
    "confirmation_token": "token",
    "refresh_token": "token",
    "access_token": "token",
    "secret": "secret",
    "value_secret": "secret",
    "signature": "signature",
}

# Bookkeeping columns that say nothing to a reader of the log.
NOISE_FIELDS = frozenset({"version"})


def _secret_name(key: str) -> str | None:
    base = key.rsplit(".", 1)[-1]
    if base in SECRET_FIELDS:
        prefix = key[: len(key) - len(base)]
        return prefix + SECRET_FIELDS[base]
    return None


def json_value(value: Any) -> Any:
    """A value as JSON: times as ISO 8601 UTC with `Z`, dates as `YYYY-MM-DD`, enums by value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def scrub(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`values` as JSON with every secret replaced by `"***"` (nested dicts too) and noise removed."""
    if values is None:
        return None
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key)
        if key.rsplit(".", 1)[-1] in NOISE_FIELDS:
            continue
        secret = _secret_name(key)
        if secret is not None:
            out[secret] = None if value is None else SECRET_MARK
        elif isinstance(value, Mapping):
            out[key] = scrub(value)
        else:
            out[key] = json_value(value)
    return out
