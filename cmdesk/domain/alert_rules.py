"""Low-balance alert rules: their limits, defaults and the checks of their fields, once for the server
(`cmdesk.server.operations.alerts.save_rule`) and the desktop's rule editor (Herramientas → Alertas),
so a wrong value is refused with the same Spanish words before it is sent and when it arrives.

A rule (API.md "Low-balance alerts") has a scope (`account`, `client`, `stamping_account`,
`own_balance`), up to `MAX_THRESHOLDS` thresholds of days remaining (D.R. ≤ n) and of balance
(saldo ≤ n), who is told (the distributor's users; the client's contact with `client_message`, whose
`{fields}` are `MESSAGE_FIELDS`) and, on the account's rule only, a daily cap of e-mails per recipient.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from cmdesk.domain.errors import DomainError, validation_error

SCOPES = ("account", "client", "stamping_account", "own_balance")
STATES = ("new", "seen", "resolved")
MAX_THRESHOLDS = 5
MAX_DAYS_THRESHOLD = 365
MAX_DAILY_CAP = 1000
DEFAULT_DAILY_CAP = 20
MESSAGE_MAX_LENGTH = 2000
# Defaults that make sense: a week's warning and "ran out" for clients; the distributor, who must buy
# from Induxsoft before it can refill them, is warned a fortnight ahead.
DEFAULT_DAYS = (7,)
DEFAULT_BALANCE = (0,)
DEFAULT_OWN_DAYS = (15,)
DEFAULT_OWN_BALANCE = (0,)
# The client's message may name these (`{cliente}`...); anything else in braces is refused.
MESSAGE_FIELDS = {
    "cliente": "el nombre del cliente",
    "cuenta": "el id de la cuenta de timbrado",
    "saldo": "los timbres que le quedan",
    "dias": "los días que le alcanzan (un número)",
    "distribuidor": "el nombre de su distribuidor",
}
DEFAULT_CLIENT_MESSAGE = (
    "Estimado(a) {cliente}: a su cuenta de timbrado {cuenta} le quedan {saldo} timbres, "
    "suficientes para unos {dias} días al ritmo actual. Comuníquese con nosotros para recargarla "
    "a tiempo y no interrumpir su facturación.\n\n{distribuidor}"
)
NO_THRESHOLD = "Indique al menos un umbral (días restantes o saldo), o desactive la regla."


def check_thresholds(v: dict[str, str], name: str, values: Any, limit: int | None) -> tuple[int, ...]:
    """The thresholds sorted, each once; a Spanish reason in `v[name]` when they are not valid."""
    if not isinstance(values, list) or len(values) > MAX_THRESHOLDS:
        v[name] = f"Indique hasta {MAX_THRESHOLDS} umbrales (una lista de números enteros)."
        return ()
    out: list[int] = []
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (limit and value > limit):
            v[name] = "Cada umbral debe ser un número entero mayor o igual a cero" + (
                f" y de hasta {limit}." if limit else "."
            )
            return ()
        out.append(value)
    return tuple(sorted(set(out)))


def parse_thresholds(text: str) -> list[Any]:
    """What a person types ("7, 15 30") as the list `check_thresholds` checks (a word that is not a
    whole number stays as text, so the check refuses it with its reason)."""
    out: list[Any] = []
    for word in text.replace(",", " ").replace(";", " ").split():
        cleaned = word.strip()
        out.append(int(cleaned) if cleaned.isdigit() else cleaned)
    return out


def check_message(message: str) -> str:
    """The client's message template: text whose `{fields}` are all in `MESSAGE_FIELDS`."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(message) if name is not None}
    except ValueError:
        raise validation_error(
            {"client_message": "Revise las llaves { } del mensaje: cada campo va entre una { y una }."}
        ) from None
    unknown = sorted(n for n in names if n not in MESSAGE_FIELDS)
    if unknown:
        known = ", ".join("{" + n + "}" for n in MESSAGE_FIELDS)
        raise validation_error(
            {"client_message": f"Campo desconocido en el mensaje: {{{unknown[0]}}}. Puede usar {known}."}
        )
    return message


def check_fields(scope: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's fields given (None: keep) as they are stored; a `DomainError` with a Spanish reason
    per field otherwise."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, limit in (("days_thresholds", MAX_DAYS_THRESHOLD), ("balance_thresholds", None)):
        if fields.get(name) is not None:
            values[name] = list(check_thresholds(errors, name, fields[name], limit))
    for name in ("enabled", "notify_users", "notify_client"):
        if fields.get(name) is not None:
            if not isinstance(fields[name], bool):
                errors[name] = "Debe ser verdadero o falso."
            values[name] = fields[name]
    if fields.get("client_message") is not None:
        message = fields["client_message"]
        if not isinstance(message, str) or len(message) > MESSAGE_MAX_LENGTH or not message.strip():
            errors["client_message"] = f"El mensaje es un texto de 1 a {MESSAGE_MAX_LENGTH:,} caracteres."
        else:
            try:
                values["client_message"] = check_message(message.strip())
            except DomainError as error:  # every wrong field at once
                errors.update({e.field: e.message for e in error.errors})
    if fields.get("daily_cap") is not None:
        cap = fields["daily_cap"]
        if scope != "account":
            errors["daily_cap"] = "El límite diario de avisos se define en la regla de toda la cuenta."
        elif not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_DAILY_CAP:
            errors["daily_cap"] = f"El límite diario es un número entero de 1 a {MAX_DAILY_CAP:,}."
        else:
            values["daily_cap"] = cap
    if scope == "own_balance" and values.get("notify_client"):
        errors["notify_client"] = "El aviso de su propio saldo no se envía a clientes."
    if errors:
        raise validation_error(errors)
    return values
