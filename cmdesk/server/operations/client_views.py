"""The shapes of the API's Client and StampingAccount, built from a row's values: one definition
each, read from ORM objects and Core rows by the operations (`clients.client_view`, …) and from plain
driver tuples by the snapshot (`cmdesk.server.snapshot`), which builds 250,000 of them at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cmdesk.domain.enums import StampingAccountKind

# API field path → column. The API nests sections; the table is flat.
CLIENT_FIELDS: dict[tuple[str, ...], str] = {
    ("name",): "name",
    ("trade_name",): "trade_name",
    ("rfc",): "rfc",
    ("phone",): "phone",
    ("email",): "email",
    ("address", "state"): "address_state",
    ("address", "city"): "address_city",
    ("address", "postal_code"): "address_postal_code",
    ("address", "neighborhood"): "address_neighborhood",
    ("address", "street"): "address_street",
    ("address", "exterior_number"): "address_exterior_number",
    ("address", "interior_number"): "address_interior_number",
    ("address", "reference"): "address_reference",
    ("legal_representative", "person_type"): "legal_person_type",
    ("legal_representative", "name"): "legal_name",
    ("legal_representative", "position"): "legal_position",
    ("legal_representative", "email"): "legal_email",
    ("legal_representative", "phone"): "legal_phone",
    ("legal_representative", "phone_alt"): "legal_phone_alt",
    ("legal_representative", "curp"): "legal_curp",
    ("financial_contact", "name"): "financial_name",
    ("financial_contact", "position"): "financial_position",
    ("financial_contact", "email"): "financial_email",
    ("financial_contact", "phone"): "financial_phone",
    ("financial_contact", "phone_alt"): "financial_phone_alt",
    ("technical_contact", "name"): "technical_name",
    ("technical_contact", "position"): "technical_position",
    ("technical_contact", "email"): "technical_email",
    ("technical_contact", "phone"): "technical_phone",
    ("technical_contact", "phone_alt"): "technical_phone_alt",
    ("other", "bulk_stamp_price_cents"): "bulk_stamp_price_cents",
    ("other", "discount_percent"): "discount_percent",
    ("other", "credit_days"): "credit_days",
    ("other", "fax"): "fax",
    ("other", "client_type"): "client_type",
    ("other", "business_activity"): "business_activity",
    ("other", "comments"): "comments",
    ("favorite",): "favorite",
    ("dropped",): "dropped",
    ("color",): "color",
}


# CLIENT_FIELDS grouped by section once, so building a view is a few tuples zipped with names (the
# change feed builds thousands of them per page, the snapshot hundreds of thousands).
_TOP_FIELDS: list[tuple[str, str]] = [(p[0], c) for p, c in CLIENT_FIELDS.items() if len(p) == 1]
_SECTIONS: dict[str, list[tuple[str, str]]] = {}
for _path, _col in CLIENT_FIELDS.items():
    if len(_path) == 2:
        _SECTIONS.setdefault(_path[0], []).append((_path[1], _col))
NO_AGGREGATES = {"stamps": 0, "credited": 0, "issued": 0, "last_purchase_at": None, "last_issue_at": None}


ClientView = Callable[[Any, dict[str, Any] | None, Any], dict[str, Any]]


def client_view_reader(key: Callable[[str], Any]) -> ClientView:
    """The API's Client from the values of a clients row, `row[key(column)]` (a mapping by column
    name, or a tuple by position), its aggregates and its admin profile (`.email`, `.mobile`): the one
    definition of its shape. The function is compiled from the shape as ONE dict display (a row's
    ~50 values put in place by the interpreter, ~2.5 µs), as `dataclasses` compiles its methods:
    building the dict key by key took ~7 µs, for each of a snapshot's 100,000 clients."""

    def value(column: str) -> str:
        return f"c[{key(column)!r}]"

    def fields(pairs: list[tuple[str, str]]) -> str:
        return ", ".join(f"{name!r}: {value(column)}" for name, column in pairs)

    items = [
        fields([("id", "id"), ("nic", "nic"), ("version", "version"), *_TOP_FIELDS]),
        *(f"{section!r}: {{{fields(pairs)}}}" for section, pairs in _SECTIONS.items()),
        f"'balances': {{'stamps': agg['stamps'], 'points': {value('points_balance')}}}",
        "'credited': agg['credited']",
        "'issued': agg['issued']",
        f"'created_at': {value('created_at')}",
        "'last_purchase_at': agg['last_purchase_at']",
        "'last_issue_at': agg['last_issue_at']",
        "'admin_profile': {'email': admin.email, 'mobile': admin.mobile} if admin else None",
        f"'converted_account_id': {value('converted_account_id')}",
    ]
    source = f"def view(c, agg, admin):\n    agg = agg or NO_AGGREGATES\n    return {{{', '.join(items)}}}\n"
    namespace: dict[str, Any] = {"NO_AGGREGATES": NO_AGGREGATES}
    exec(compile(source, f"<client view {key('id')!r}>", "exec"), namespace)
    view: ClientView = namespace["view"]
    return view


CtiView = Callable[[Any, Any, dict[str, Any] | None], dict[str, Any]]


def cti_view_reader(key: Callable[[str], Any]) -> CtiView:
    """The API's StampingAccount from the values of a stamping_accounts row, `row[key(column)]` (a
    mapping by column name, or a tuple by position), its auto-sale rule (`.minimum`, …) and its usage
    summary: the one definition of its shape (see `client_view_reader`)."""
    i_id, i_client, i_kind, i_active, i_version, i_credited, i_issued, i_balance = (
        key(col) for col in ("id", "client_id", "kind", "active", "version", "credited", "issued", "balance")
    )
    i_rfc, i_paid, i_created, i_first, i_last_issue, i_last_credit = (
        key(col)
        for col in (
            "rfc_restriction",
            "paid_until",
            "created_at",
            "first_issue_at",
            "last_issue_at",
            "last_credit_at",
        )
    )
    unlimited_kind = StampingAccountKind.UNLIMITED.value

    def view(c: Any, rule: Any, usage_summary: dict[str, Any] | None) -> dict[str, Any]:
        unlimited = c[i_kind] == unlimited_kind
        return {
            "id": c[i_id],
            "client_id": c[i_client],
            "kind": c[i_kind],
            "active": c[i_active],
            "version": c[i_version],
            "credited": c[i_credited],
            "issued": c[i_issued],
            "balance": None if unlimited else c[i_balance],
            "rfc_restriction": c[i_rfc] if unlimited else None,
            "paid_until": c[i_paid] if unlimited else None,
            "created_at": c[i_created],
            "first_issue_at": c[i_first],
            "last_issue_at": c[i_last_issue],
            "last_purchase_at": c[i_last_credit],
            "auto_sale": (
                {
                    "minimum": rule.minimum,
                    "credit": rule.credit,
                    "amount_cents": rule.amount_cents,
                    "enabled": rule.enabled,
                }
                if rule
                else None
            ),
            "usage": usage_summary,
        }

    return view
