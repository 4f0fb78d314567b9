"""The alert rules' checks, shared by the server and the desktop's rule editor."""

from __future__ import annotations

import pytest

from cmdesk.domain import alert_rules
from cmdesk.domain.errors import DomainError


def fields_of(error: DomainError) -> dict[str, str]:
    return {e.field: e.message for e in error.errors}


def test_parse_thresholds_as_typed() -> None:
    assert alert_rules.parse_thresholds("7, 15 30;0") == [7, 15, 30, 0]
    assert alert_rules.parse_thresholds("") == []
    assert alert_rules.parse_thresholds("7, siete") == [7, "siete"]


def test_valid_fields_are_normalised() -> None:
    values = alert_rules.check_fields(
        "account",
        {
            "days_thresholds": [15, 7, 7],
            "balance_thresholds": [],
            "daily_cap": 50,
            "client_message": " Hola {cliente} ",
        },
    )
    assert values == {
        "days_thresholds": [7, 15],
        "balance_thresholds": [],
        "daily_cap": 50,
        "client_message": "Hola {cliente}",
    }


def test_every_wrong_field_at_once_in_spanish() -> None:
    with pytest.raises(DomainError) as caught:
        alert_rules.check_fields(
            "client",
            {
                "days_thresholds": [7, 400],
                "balance_thresholds": [1, 2, 3, 4, 5, 6],
                "client_message": "Hola {nombre}",
                "daily_cap": 5,
                "notify_users": "sí",
            },
        )
    errors = fields_of(caught.value)
    assert "hasta 365" in errors["days_thresholds"]
    assert "hasta 5 umbrales" in errors["balance_thresholds"]
    assert "{nombre}" in errors["client_message"] and "{cliente}" in errors["client_message"]
    assert "toda la cuenta" in errors["daily_cap"]
    assert errors["notify_users"] == "Debe ser verdadero o falso."


def test_own_balance_is_never_told_to_clients() -> None:
    with pytest.raises(DomainError) as caught:
        alert_rules.check_fields("own_balance", {"notify_client": True})
    assert "no se envía a clientes" in fields_of(caught.value)["notify_client"]
    with pytest.raises(DomainError) as braces:
        alert_rules.check_fields("account", {"client_message": "Hola {cliente"})
    assert "llaves" in fields_of(braces.value)["client_message"]
