"""The rules the server and the desktop both apply, written once in `cmdesk.domain`: file names and
versions, quantities and transfers, the sale still to invoice, the distributor's own contacts, field
paths, the Spanish sort key and the enumerations' Spanish names."""

from __future__ import annotations

import pytest

from cmdesk.domain import amounts, contact, names, sales
from cmdesk.domain.enums import AccountStatus, Asset, Color, MovementKind, SoftwareFileKind
from cmdesk.domain.errors import DomainError
from cmdesk.domain.field_paths import deep_merge, flatten, unflatten, value_at
from cmdesk.domain.files import safe_file_name, version_key
from cmdesk.domain.portfolio import CLIENT_SORTS, ClientSort
from cmdesk.domain.text import fold, sort_key


@pytest.mark.parametrize(
    ("name", "desktop", "server"),
    [
        ("setup.exe", "setup.exe", "setup.exe"),
        ("..\\..\\Windows\\evil.exe", "evil.exe", ".._.._Windows_evil.exe"),
        ("CON.txt", "_CON.txt", "_CON.txt"),
        ("..", "archivo", None),
    ],
)
def test_safe_file_names(name: str, desktop: str, server: str | None) -> None:
    assert safe_file_name(name) == desktop
    if server is None:
        with pytest.raises(DomainError):
            safe_file_name(name, strict=True)
    else:
        assert safe_file_name(name, strict=True) == server


def test_versions_sort_as_people_read_them() -> None:
    versions = ["9.9.9", "10.2", "2.0-beta", "10.2.1", "1.10", "1.9", "2.0"]
    assert sorted(versions, key=version_key) == ["1.9", "1.10", "2.0-beta", "2.0", "9.9.9", "10.2", "10.2.1"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [(1, True), (10**9, True), (0, False), (-3, False), (True, False), (1.5, False), ("2", False)],
)
def test_one_wording_for_a_quantity(value: object, ok: bool) -> None:
    assert (amounts.quantity_problem(value) is None) is ok
    if not ok:
        with pytest.raises(DomainError) as raised:
            amounts.check_quantity(value)
        assert raised.value.errors[0].message == amounts.QUANTITY_MESSAGE


def test_transfer_problems_name_every_field() -> None:
    assert amounts.transfer_problems("stamps", "stamping_account", "CTI1", 5, 0) == {}
    problems = amounts.transfer_problems("oro", "banco", "", 0, -1)
    assert set(problems) == {"asset", "target.type", "target.id", "quantity", "amount_cents"}
    assert problems["quantity"] == amounts.QUANTITY_MESSAGE
    assert amounts.whole_number_problem(0, 1) == amounts.POSITIVE_MESSAGE
    assert amounts.whole_number_problem(-1, 0) == amounts.NOT_NEGATIVE_MESSAGE


@pytest.mark.parametrize(
    ("movement", "pending"),
    [
        ({"kind": "transfer", "amount_cents": 100, "client_id": "c"}, True),
        ({"kind": "auto_sale", "amount_cents": 100, "client_id": "c"}, True),
        ({"kind": "transfer", "amount_cents": 100, "client_id": "c", "invoice_id": "i"}, False),
        ({"kind": "transfer", "amount_cents": 0, "client_id": "c"}, False),
        ({"kind": "purchase", "amount_cents": 100, "client_id": "c"}, False),
        ({"kind": "transfer", "amount_cents": 100, "client_id": None}, False),
    ],
)
def test_the_sale_still_to_invoice(movement: dict[str, object], pending: bool) -> None:
    assert sales.is_pending_sale(movement) is pending
    assert "'transfer'" in sales.pending_sale_where() and "m.invoice_id IS NULL" in sales.pending_sale_where(
        "m."
    )


def test_own_contacts_compare_phones_by_their_digits() -> None:
    own = contact.own_contacts(["Demo@CMdesk.mx", " "], ["+52 1 961 100 0000", "12345", ""])
    assert own == ({"demo@cmdesk.mx"}, {"9611000000", "12345"})
    problems = contact.own_contact_problems(
        own, email="demo@cmdesk.mx", mobile="9611000000", phone="5512345678"
    )
    assert problems == {"email": contact.OWN_EMAIL, "mobile": contact.OWN_MOBILE}
    assert contact.comparable_phone("961-100-0000") == "9611000000"


def test_field_paths() -> None:
    data = {"name": "A", "address": {"city": "Tuxtla", "state": "Chiapas"}}
    flat = flatten(data)
    assert flat == {"name": "A", "address.city": "Tuxtla", "address.state": "Chiapas"}
    assert unflatten(flat) == data
    assert value_at(data, "address.city") == "Tuxtla" and value_at(data, "address.zip") is None
    assert deep_merge(data, {"address": {"city": "Comitán"}})["address"] == {
        "city": "Comitán",
        "state": "Chiapas",
    }


def test_spanish_text_keys() -> None:
    assert fold("José PEÑA") == "jose pena"
    assert sorted(["Ñandú", "nube", "Óscar", "oso", "Ana", "álamo"], key=sort_key) == [
        "álamo",
        "Ana",
        "nube",
        "Ñandú",
        "Óscar",
        "oso",
    ]


@pytest.mark.parametrize(
    ("table", "enum"),
    [
        (names.ASSETS, Asset),
        (names.ACCOUNT_STATUSES, AccountStatus),
        (names.MOVEMENT_KINDS, MovementKind),
        (names.COLORS, Color),
        (names.SOFTWARE_FILE_KINDS, SoftwareFileKind),
        (names.CLIENT_SORTS, ClientSort),
    ],
)
def test_every_value_has_its_spanish_name(table: object, enum: type) -> None:
    assert set(table) == {e.value for e in enum}  # type: ignore[call-overload]
    assert list(names.CLIENT_SORTS) == list(CLIENT_SORTS)
    assert names.name_of(names.COLORS, "purple") == "Morado" and names.name_of(names.COLORS, "x") == "x"
