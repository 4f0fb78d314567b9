"""The 32 federal entities of Mexico, as the address forms list them and as they are stored.

Addresses store the canonical Spanish name (with accents). `check_state` accepts what people type or
what older data holds ("ciudad de mexico", "CDMX", "Distrito Federal", "Edo. de México") and returns it.
"""

from __future__ import annotations

import unicodedata

from cmdesk.domain.errors import validation_error

# Alphabetical, as the drop-down shows them. "Estado de México" rather than INEGI's short "México",
# so that nobody reads it as the country.
MEXICAN_STATES: tuple[str, ...] = (
    "Aguascalientes",
    "Baja California",
    "Baja California Sur",
    "Campeche",
    "Chiapas",
    "Chihuahua",
    "Ciudad de México",
    "Coahuila",
    "Colima",
    "Durango",
    "Estado de México",
    "Guanajuato",
    "Guerrero",
    "Hidalgo",
    "Jalisco",
    "Michoacán",
    "Morelos",
    "Nayarit",
    "Nuevo León",
    "Oaxaca",
    "Puebla",
    "Querétaro",
    "Quintana Roo",
    "San Luis Potosí",
    "Sinaloa",
    "Sonora",
    "Tabasco",
    "Tamaulipas",
    "Tlaxcala",
    "Veracruz",
    "Yucatán",
    "Zacatecas",
)

# Other names in common use: official long names, the old Distrito Federal, usual abbreviations.
_ALIASES: dict[str, str] = {
    "Coahuila de Zaragoza": "Coahuila",
    "Michoacán de Ocampo": "Michoacán",
    "Veracruz de Ignacio de la Llave": "Veracruz",
    "Veracruz Llave": "Veracruz",
    "México": "Estado de México",
    "Edo. de México": "Estado de México",
    "Edo. México": "Estado de México",
    "Edomex": "Estado de México",
    "Edo. Mex.": "Estado de México",
    "CDMX": "Ciudad de México",
    "Distrito Federal": "Ciudad de México",
    "D.F.": "Ciudad de México",
    "DF": "Ciudad de México",
    "BC": "Baja California",
    "BCS": "Baja California Sur",
    "SLP": "San Luis Potosí",
    "Q. Roo": "Quintana Roo",
}


def _key(text: str) -> str:
    """Case-, accent-, punctuation- and spacing-insensitive form of a state name."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    letters = letters.replace(".", " ").replace("-", " ")
    return " ".join(letters.casefold().split())


_BY_KEY: dict[str, str] = {_key(name): name for name in MEXICAN_STATES} | {
    _key(alias): name for alias, name in _ALIASES.items()
}


def find_state(value: str) -> str | None:
    """The canonical name of the state `value` names, or None."""
    return _BY_KEY.get(_key(value))


def check_state(value: str, field: str = "state") -> str:
    """The canonical name of the state, or a Spanish validation error for `field`."""
    if not value.strip():
        raise validation_error({field: "Seleccione el estado."})
    state = find_state(value)
    if state is None:
        raise validation_error({field: f"«{value.strip()}» no es un estado de la República Mexicana."})
    return state
