"""The 32 federal entities and the tolerant state check."""

from __future__ import annotations

import unicodedata

import pytest

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.geography import MEXICAN_STATES, check_state, find_state


def test_there_are_32_distinct_states():
    assert len(MEXICAN_STATES) == 32
    assert len(set(MEXICAN_STATES)) == 32


def test_states_are_in_spanish_alphabetical_order():
    def key(name: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).lower()

    assert list(MEXICAN_STATES) == sorted(MEXICAN_STATES, key=key)
    assert MEXICAN_STATES[0] == "Aguascalientes"
    assert MEXICAN_STATES[-1] == "Zacatecas"


@pytest.mark.parametrize(
    "accented",
    [
        "Ciudad de México",
        "Estado de México",
        "Michoacán",
        "Nuevo León",
        "Querétaro",
        "San Luis Potosí",
        "Yucatán",
    ],
)
def test_names_carry_their_accents(accented):
    assert accented in MEXICAN_STATES


@pytest.mark.parametrize(
    ("typed", "state"),
    [
        ("Chiapas", "Chiapas"),  # manual: the test client is in Chiapas
        ("Aguascalientes", "Aguascalientes"),  # manual: the sub-distributor form's default
        ("chiapas", "Chiapas"),
        ("  CHIAPAS ", "Chiapas"),
        ("ciudad de mexico", "Ciudad de México"),
        ("Ciudad  de  México", "Ciudad de México"),
        ("CDMX", "Ciudad de México"),
        ("Distrito Federal", "Ciudad de México"),
        ("D.F.", "Ciudad de México"),
        ("df", "Ciudad de México"),
        ("México", "Estado de México"),
        ("Edo. de México", "Estado de México"),
        ("edomex", "Estado de México"),
        ("Edo Mex", "Estado de México"),
        ("michoacan de ocampo", "Michoacán"),
        ("NUEVO LEON", "Nuevo León"),
        ("queretaro", "Querétaro"),
        ("san luis potosi", "San Luis Potosí"),
        ("SLP", "San Luis Potosí"),
        ("Veracruz de Ignacio de la Llave", "Veracruz"),
        ("Veracruz-Llave", "Veracruz"),
        ("Coahuila de Zaragoza", "Coahuila"),
        ("BCS", "Baja California Sur"),
        ("Q. Roo", "Quintana Roo"),
        ("yucatan", "Yucatán"),
    ],
)
def test_check_state_accepts(typed, state):
    assert check_state(typed) == state


@pytest.mark.parametrize("state", MEXICAN_STATES)
def test_every_canonical_name_maps_to_itself(state):
    assert find_state(state) == state
    assert find_state(state.upper()) == state


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Seleccione el estado."),
        ("   ", "Seleccione el estado."),
        ("Texas", "«Texas» no es un estado de la República Mexicana."),
        (" Chiapa ", "«Chiapa» no es un estado de la República Mexicana."),
        ("Tuxtla Gutiérrez", "«Tuxtla Gutiérrez» no es un estado de la República Mexicana."),
    ],
)
def test_check_state_refuses(typed, message):
    with pytest.raises(DomainError) as caught:
        check_state(typed, "address.state")
    assert caught.value.code is ErrorCode.VALIDATION_ERROR
    assert [(e.field, e.message) for e in caught.value.errors] == [("address.state", message)]
