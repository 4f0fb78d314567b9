"""The cache's projections: how a record the server sends becomes a row of a typed table (`clients`,
`stamping_accounts`, `movements`, `distributors`), with the keys its sorts and its search use, and the
SQL that stores it (a client takes its CTI ids from the CTIs stored; a CTI its client's NIC and name).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from cmdesk.domain import clock
from cmdesk.domain.text import fold, sort_key
from cmdesk.services.cache.forecasts import cti_row_fields
from cmdesk.services.server_info import server_now

# Entities with a typed table (the others live only in `entities`).
TYPED_ENTITIES = ("client", "stamping_account", "movement", "distributor")


def sortable_time(value: Any) -> str | None:
    """An ISO 8601 time as fixed-width UTC text (`2026-05-01T10:00:00.000000Z`), which sorts as text."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value[10:11] == "T":
        # UTC as the server writes it (`…:00+00:00`, `…:00.123456+00:00`, or with `Z`): pad the
        # fraction, no parsing needed (a first sync has a million of these).
        body = value[:-1] if value[-1:] == "Z" else value[:-6] if value[-6:] == "+00:00" else ""
        if len(body) == 19:
            return body + ".000000Z"
        if 19 < len(body) <= 26 and body[19] == "." and body[20:].isdigit():
            return body.ljust(26, "0") + "Z"
    try:
        parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def nic_number(nic: Any) -> int | None:
    try:
        return int(str(nic))
    except (TypeError, ValueError):
        return None


def whole(value: Any) -> int:
    if value.__class__ is int:  # the usual case, first
        return int(value)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


# orjson writes what json.dumps(ensure_ascii=False, separators=(",", ":"), default=str) writes, several
# times faster (the first sync stores 250,000 entities): datetimes and dataclasses go to `default=str`
# as with json; what orjson refuses (non-string keys, integers beyond 64 bits) is written by json.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(data: Any) -> str:
    try:
        return orjson.dumps(data, default=str, option=_ORJSON_OPTIONS).decode("utf-8")
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


# ---- Projections: API dict → typed row ---------------------------------------------------------------

# The contacts' name, email, phone and phone_alt are searched too.
_CONTACT_SECTIONS = ("legal_representative", "financial_contact", "technical_contact")


def client_search_text(data: Mapping[str, Any]) -> str:
    """What API.md's `q` matches on a client (CTI ids are kept apart, in `cti_ids`)."""
    get = data.get
    parts = [get("nic"), get("name"), get("trade_name"), get("rfc"), get("phone"), get("email")]
    for section in _CONTACT_SECTIONS:
        values = get(section)
        if values:
            parts += (values.get("name"), values.get("email"), values.get("phone"), values.get("phone_alt"))
    # Each word once: the trigram index costs per character, and contacts often repeat the company's.
    words = dict.fromkeys(fold(" ".join([p for p in parts if p and isinstance(p, str)])).split())
    return " ".join(words)


CLIENT_COLUMNS = (
    "id",
    "nic",
    "nic_num",
    "name",
    "name_key",
    "trade_name",
    "rfc",
    "phone",
    "email",
    "favorite",
    "dropped",
    "color",
    "stamps",
    "points",
    "credited",
    "issued",
    "created_at",
    "last_purchase_at",
    "last_issue_at",
    "search",
    "version",
    "pending",
)


def client_row(data: Mapping[str, Any], pending: bool) -> tuple[Any, ...]:
    get = data.get  # bound once: a first sync makes 100,000 of these rows
    balances = get("balances") or {}
    nic = get("nic")
    name = get("name")
    return (
        data["id"],
        nic or "",
        nic_number(nic),
        name or "",
        sort_key(name),
        get("trade_name") or "",
        get("rfc") or "",
        get("phone") or "",
        get("email") or "",
        1 if get("favorite") else 0,
        1 if get("dropped") else 0,
        get("color"),
        whole(balances.get("stamps")),
        whole(balances.get("points")),
        whole(get("credited")),
        whole(get("issued")),
        sortable_time(get("created_at")),
        sortable_time(get("last_purchase_at")),
        sortable_time(get("last_issue_at")),
        client_search_text(data),
        get("version"),
        1 if pending else 0,
    )


CTI_COLUMNS = (
    "id",
    "id_key",
    "client_id",
    "kind",
    "active",
    "credited",
    "issued",
    "balance",
    "rfc_restriction",
    "paid_until",
    "created_at",
    "first_issue_at",
    "last_issue_at",
    "last_purchase_at",
    "auto_sale_enabled",
    "auto_sale_minimum",
    "auto_sale_credit",
    "auto_sale_amount_cents",
    "version",
    "pending",
    "usage",
    "cpd",
    "days_left",
    "risk",
)


def cti_row(data: Mapping[str, Any], pending: bool, today: dt.date | None = None) -> tuple[Any, ...]:
    """A CTI's row, its forecast (`forecasts`) computed for `today` (default: the business day)."""
    get = data.get  # bound once: a first sync makes 150,000 of these rows
    rule = get("auto_sale") or None
    balance = get("balance")
    return (
        data["id"],
        fold(data["id"]),
        get("client_id") or "",
        get("kind") or "standard",
        1 if get("active", True) else 0,
        whole(get("credited")),
        whole(get("issued")),
        balance if isinstance(balance, int) else None,
        get("rfc_restriction"),
        sortable_time(get("paid_until")),
        sortable_time(get("created_at")),
        sortable_time(get("first_issue_at")),
        sortable_time(get("last_issue_at")),
        sortable_time(get("last_purchase_at")),
        None if rule is None else (1 if rule.get("enabled") else 0),
        None if rule is None else rule.get("minimum"),
        None if rule is None else rule.get("credit"),
        None if rule is None else rule.get("amount_cents"),
        get("version"),
        1 if pending else 0,
        *cti_row_fields(data, today or clock.today(server_now())),
    )


MOVEMENT_COLUMNS = (
    "id",
    "kind",
    "asset",
    "quantity",
    "amount_cents",
    "source_type",
    "source_id",
    "target_type",
    "target_id",
    "client_id",
    "account_id",
    "comments",
    "created_at",
    "created_by",
    "invoice_id",
    "top_up_code_id",
    "contract_id",
    "version",
    "pending",
)


def movement_row(data: Mapping[str, Any], pending: bool) -> tuple[Any, ...]:
    source = data.get("source") or {}
    target = data.get("target") or {}
    return (
        data["id"],
        data.get("kind") or "",
        data.get("asset") or "",
        whole(data.get("quantity")),
        whole(data.get("amount_cents")),
        source.get("type"),
        source.get("id"),
        target.get("type"),
        target.get("id"),
        data.get("client_id"),
        data.get("account_id"),
        data.get("comments") or "",
        sortable_time(data.get("created_at")),
        data.get("created_by"),
        data.get("invoice_id"),
        data.get("top_up_code_id"),
        data.get("contract_id"),
        data.get("version"),
        1 if pending else 0,
    )


DISTRIBUTOR_COLUMNS = (
    "id",
    "nic",
    "nic_num",
    "name",
    "name_key",
    "rfc",
    "email",
    "phone",
    "status",
    "stamps",
    "points",
    "created_at",
    "expires_at",
    "version",
    "pending",
)


def distributor_row(data: Mapping[str, Any], pending: bool) -> tuple[Any, ...]:
    balances = data.get("balances") or {}
    return (
        data["id"],
        data.get("nic") or "",
        nic_number(data.get("nic")),
        data.get("name") or "",
        sort_key(data.get("name")),
        data.get("rfc") or "",
        data.get("email") or "",
        data.get("phone") or "",
        data.get("status") or "",
        whole(balances.get("stamps")),
        whole(balances.get("points")),
        sortable_time(data.get("created_at")),
        sortable_time(data.get("expires_at")),
        data.get("version"),
        1 if pending else 0,
    )


TYPED: dict[str, tuple[str, tuple[str, ...], Callable[[Mapping[str, Any], bool], tuple[Any, ...]]]] = {
    "client": ("clients", CLIENT_COLUMNS, client_row),
    "stamping_account": ("stamping_accounts", CTI_COLUMNS, cti_row),
    "movement": ("movements", MOVEMENT_COLUMNS, movement_row),
    "distributor": ("distributors", DISTRIBUTOR_COLUMNS, distributor_row),
}


def _upsert_sql(table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {sets}"


UPSERT = {entity: _upsert_sql(table, cols) for entity, (table, cols, _) in TYPED.items()}


def cti_ids_of(client: str) -> str:
    return (
        "coalesce((SELECT group_concat(s.id_key, ' ') FROM stamping_accounts s"
        f" WHERE s.client_id = {client}), '')"
    )


def active_of(client: str) -> str:
    return f"coalesce((SELECT max(s.active) FROM stamping_accounts s WHERE s.client_id = {client}), 0)"


def _client_upsert_sql() -> str:
    cols = [*CLIENT_COLUMNS, "cti_ids", "active"]
    marks = ", ".join("?" for _ in CLIENT_COLUMNS) + f", {cti_ids_of('?')}, {active_of('?')}"
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
    return f"INSERT INTO clients ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {sets}"


# A client row takes its CTI ids and "any CTI active" from the CTIs stored (parameters: the row, then
# the client id twice).
CLIENT_UPSERT = _client_upsert_sql()

CLIENT_LINK_COLUMNS = ("client_nic", "client_nic_num", "client_name", "client_name_key")


def client_fields(client: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """A CTI's copy of its client's NIC and name, when the client comes in the same page."""
    if client is None:
        return (None, None, None, None)
    return (
        client.get("nic") or "",
        nic_number(client.get("nic")),
        client.get("name") or "",
        sort_key(client.get("name")),
    )


def _cti_upsert_sql() -> str:
    cols = [*CTI_COLUMNS, *CLIENT_LINK_COLUMNS]
    sources = {
        "client_nic": "nic",
        "client_nic_num": "nic_num",
        "client_name": "name",
        "client_name_key": "name_key",
    }
    marks = (
        ", ".join("?" for _ in CTI_COLUMNS)
        + ", "
        + ", ".join(
            f"coalesce(?, (SELECT c.{sources[c]} FROM clients c WHERE c.id = ?)"
            + ("" if c == "client_nic_num" else ", ''")
            + ")"
            for c in CLIENT_LINK_COLUMNS
        )
    )
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
    return (
        f"INSERT INTO stamping_accounts ({', '.join(cols)}) VALUES ({marks})"
        f" ON CONFLICT(id) DO UPDATE SET {sets}"
    )


CTI_UPSERT = _cti_upsert_sql()


def cti_params(
    data: Mapping[str, Any],
    pending: bool,
    client: Mapping[str, Any] | None,
    today: dt.date | None = None,
) -> tuple[Any, ...]:
    """`CTI_UPSERT`'s parameters: the row, then for each client field its value from the page (or
    None: read from the stored client) and the client id."""
    client_id = data.get("client_id")
    linked = [value for field in client_fields(client) for value in (field, client_id)]
    return (*cti_row(data, pending, today), *linked)


CTI_CLIENT_FIELDS_SQL = """
UPDATE stamping_accounts SET client_nic = c.nic, client_nic_num = c.nic_num, client_name = c.name,
    client_name_key = c.name_key
FROM clients c
WHERE c.id = stamping_accounts.client_id AND c.id IN (SELECT id FROM affected_clients)
    AND (stamping_accounts.client_name IS NOT c.name OR stamping_accounts.client_nic IS NOT c.nic)
"""


BOOL_COLUMNS = {"favorite", "dropped", "active", "pending", "auto_sale_enabled"}


def like_pattern(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'
