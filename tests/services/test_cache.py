"""The local cache: pages applied atomically with their cursor, tombstones, optimistic values, the
manual's twelve orders served by indexes, trigram search, and the rebuild of a file of another schema."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdesk.services import cache as cache_module
from cmdesk.services.cache import CLIENT_ORDERS, SCHEMA_VERSION, Cache, fold, sortable_time
from cmdesk.services.cache import rows as cache_rows
from cmdesk.services.cache import schema as cache_schema

TWELVE_ORDERS = [
    "name",
    "nic",
    "stamps_desc",
    "stamps_asc",
    "points_desc",
    "points_asc",
    "last_purchase_desc",
    "last_purchase_asc",
    "created_desc",
    "created_asc",
    "last_issue_desc",
    "last_issue_asc",
]


def client(i: int, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"cl{i:05d}",
        "nic": str(200000 + i),
        "version": 1,
        "name": f"Cliente {i}",
        "trade_name": "",
        "rfc": f"XAXX{i:09d}",
        "phone": f"961{i:07d}",
        "email": f"cliente{i}@ejemplo.mx",
        "address": {"state": "Chiapas", "city": "Tuxtla"},
        "legal_representative": {"name": "", "email": "", "phone": "", "phone_alt": ""},
        "financial_contact": {"name": "", "email": "", "phone": "", "phone_alt": ""},
        "technical_contact": {"name": "", "email": "", "phone": "", "phone_alt": ""},
        "favorite": False,
        "dropped": False,
        "color": None,
        "balances": {"stamps": 0, "points": 0},
        "credited": 0,
        "issued": 0,
        "created_at": "2026-01-01T10:00:00Z",
        "last_purchase_at": None,
        "last_issue_at": None,
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def cti(ident: str, client_id: str, **over: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "client_id": client_id,
        "kind": "standard",
        "active": True,
        "version": 1,
        "credited": 0,
        "issued": 0,
        "balance": 0,
        "rfc_restriction": None,
        "paid_until": None,
        "created_at": "2026-01-02T10:00:00Z",
        "first_issue_at": None,
        "last_issue_at": None,
        "last_purchase_at": None,
        "auto_sale": None,
        **over,
    }


def change(entity: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": entity,
        "id": data["id"],
        "version": data.get("version"),
        "deleted": False,
        "data": data,
    }


def tombstone(entity: str, ident: str) -> dict[str, Any]:
    return {"entity": entity, "id": ident, "version": None, "deleted": True, "data": None}


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    c = Cache(tmp_path / "cache.sqlite3")
    yield c
    c.close()


# A small portfolio whose twelve orders are all different.
PORTFOLIO = [
    client(
        1,
        name="Ñandú Software",
        balances={"stamps": 50, "points": 5},
        created_at="2026-01-05T10:00:00Z",
        last_purchase_at="2026-03-01T10:00:00Z",
        last_issue_at="2026-04-02T10:00:00.250Z",
        favorite=True,
    ),
    client(
        2,
        name="árbol Contable",
        balances={"stamps": 10, "points": 30},
        created_at="2026-01-03T10:00:00Z",
        last_purchase_at=None,
        last_issue_at="2026-04-01T10:00:00Z",
        color="red",
    ),
    client(
        3,
        name="Zapatería López",
        balances={"stamps": 99, "points": 0},
        created_at="2026-01-09T10:00:00Z",
        last_purchase_at="2026-02-01T10:00:00.5Z",
        last_issue_at=None,
        dropped=True,
        legal_representative={"name": "José Pérez", "email": "jose@zapateria.mx"},
    ),
    client(
        10,
        name="Nube Fiscal",
        balances={"stamps": 0, "points": 12},
        created_at="2026-01-01T10:00:00Z",
        last_purchase_at="2026-03-15T10:00:00Z",
        last_issue_at="2026-03-01T10:00:00Z",
        color="red",
        favorite=True,
    ),
]
PORTFOLIO_ORDER = {
    "name": ["cl00002", "cl00010", "cl00001", "cl00003"],  # árbol, Nube, Ñandú (after N), Zapatería
    "nic": ["cl00001", "cl00002", "cl00003", "cl00010"],
    "stamps_desc": ["cl00003", "cl00001", "cl00002", "cl00010"],
    "stamps_asc": ["cl00010", "cl00002", "cl00001", "cl00003"],
    "points_desc": ["cl00002", "cl00010", "cl00001", "cl00003"],
    "points_asc": ["cl00003", "cl00001", "cl00010", "cl00002"],
    "last_purchase_desc": ["cl00010", "cl00001", "cl00003", "cl00002"],  # never purchased: last
    "last_purchase_asc": ["cl00003", "cl00001", "cl00010", "cl00002"],  # never purchased: last too
    "created_desc": ["cl00003", "cl00001", "cl00002", "cl00010"],
    "created_asc": ["cl00010", "cl00002", "cl00001", "cl00003"],
    "last_issue_desc": ["cl00001", "cl00002", "cl00010", "cl00003"],
    "last_issue_asc": ["cl00010", "cl00002", "cl00001", "cl00003"],
}


@pytest.fixture
def portfolio(cache: Cache) -> Cache:
    changes = [change("client", c) for c in PORTFOLIO]
    changes += [
        change("stamping_account", cti("Pruebas", "cl00001")),
        change("stamping_account", cti("ABC123XYZ", "cl00010")),
    ]
    cache.apply_page(changes, "0.10")
    cache.finish_pull()
    return cache


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


# ---- normalization ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("José PÉREZ", "jose perez"),
        ("Ñandú", "nandu"),
        ("", ""),
        (None, ""),
        ("Çedille", "cedille"),
        ("Straße", "strasse"),
    ],
)
def test_fold(text: str | None, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-01T10:00:00Z", "2026-05-01T10:00:00.000000Z"),
        ("2026-05-01T10:00:00.5Z", "2026-05-01T10:00:00.500000Z"),
        ("2026-05-01T10:00:00.123456Z", "2026-05-01T10:00:00.123456Z"),
        ("2026-05-01T04:00:00-06:00", "2026-05-01T10:00:00.000000Z"),
        # The server's isoformat() of UTC times, the fast path.
        ("2026-05-01T10:00:00+00:00", "2026-05-01T10:00:00.000000Z"),
        ("2026-05-01T10:00:00.25+00:00", "2026-05-01T10:00:00.250000Z"),
        ("2026-05-01T10:00:00.123456+00:00", "2026-05-01T10:00:00.123456Z"),
        # As long as the server's own form, but another offset, or not a time: the slow path.
        ("2026-05-01T05:00:00.123456-05:00", "2026-05-01T10:00:00.123456Z"),
        ("2026-05-01T10:00:00.12345x+00:00", "2026-05-01T10:00:00.12345x+00:00"),
        ("2026-05-01T10:00:00", "2026-05-01T10:00:00.000000Z"),
        ("", None),
        (None, None),
    ],
)
def test_sortable_time(value: str | None, expected: str | None) -> None:
    assert sortable_time(value) == expected


def test_client_search_text() -> None:
    data = client(
        7,
        name="José Pérez S.A.",
        trade_name="Pérez Hermanos",
        phone=9611234567,  # not text: left out
        legal_representative={"name": "María José", "email": "legal@perez.mx", "phone": None},
        financial_contact=None,
        technical_contact={"name": "", "email": "jose@perez.mx", "phone_alt": "9619999999"},
    )
    words = cache_module.client_search_text(data).split()
    assert words == [
        "200007",
        "jose",
        "perez",
        "s.a.",
        "hermanos",
        "xaxx000000007",
        "cliente7@ejemplo.mx",
        "maria",
        "legal@perez.mx",
        "jose@perez.mx",
        "9619999999",
    ]
    assert cache_module.client_search_text({"id": "x"}) == ""


@pytest.mark.parametrize(
    "value",
    [
        {"name": "Ñandú «Software»", "n": 12, "f": 0.1, "none": None, "ok": True, "list": [1, "é", {}]},
        {"when": dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC), "day": dt.date(2026, 5, 1)},  # default=str
        {1: "a clave entera"},  # orjson refuses it: json writes it
        {"big": 2**70},  # beyond 64 bits: json too
        ["a", ("tuple", 2)],
        "texto \u2028 con separador",
    ],
)
def test_stored_json_is_what_the_standard_library_writes(value: Any) -> None:
    assert cache_rows.dumps(value) == json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), default=str
    )


# ---- pages, cursor, tombstones ----------------------------------------------------------------------


def test_apply_page_stores_entities_and_cursor(cache: Cache) -> None:
    seen: list[set[str]] = []
    cache.subscribe(seen.append)
    changed = cache.apply_page(
        [
            change("client", client(1)),
            change("stamping_account", cti("CTI1", "cl00001")),
            change("settings", {"id": "acc1", "version": 2, "sell_points": True}),
        ],
        "0.3",
    )
    assert changed == {"client", "stamping_account", "settings"}
    assert seen == [changed]
    assert cache.cursor == "0.3"
    assert cache.counts() == {"client": 1, "stamping_account": 1, "settings": 1}
    assert cache.get("settings", "acc1") == {"id": "acc1", "version": 2, "sell_points": True}
    assert cache.all("settings") == [{"id": "acc1", "version": 2, "sell_points": True}]
    row = cache.query_clients()[0]
    assert row["id"] == "cl00001" and row["active"] is True and row["pending"] is False
    assert cache.query_stamping_accounts()[0]["client_name"] == "Cliente 1"


def test_a_later_page_replaces_and_a_tombstone_deletes(cache: Cache) -> None:
    cache.apply_page([change("client", client(1)), change("stamping_account", cti("CTI1", "cl00001"))], "0.2")
    cache.apply_page([change("client", client(1, name="Nuevo nombre", version=2))], "0.3")
    assert cache.get("client", "cl00001")["name"] == "Nuevo nombre"  # type: ignore[index]
    assert cache.query_stamping_accounts()[0]["client_name"] == "Nuevo nombre"
    cache.apply_page([tombstone("stamping_account", "CTI1")], "0.4")
    assert cache.counts() == {"client": 1}
    assert cache.query_clients()[0]["active"] is False
    assert cache.count_clients(q="cti1") == 0
    cache.apply_page([tombstone("client", "cl00001")], "0.5")
    assert cache.counts() == {}
    assert cache.query_clients() == []
    assert cache.cursor == "0.5"


def test_a_page_is_all_or_nothing_with_its_cursor(cache: Cache) -> None:
    cache.apply_page([change("client", client(1))], "0.1")
    broken = {"entity": "client", "id": "x", "version": 1, "deleted": False, "data": {"name": "sin id"}}
    with pytest.raises(KeyError):
        cache.apply_page([change("client", client(2)), broken], "0.2")
    assert cache.cursor == "0.1"
    assert cache.counts() == {"client": 1}


def test_cti_before_its_client_in_the_same_page_or_later(cache: Cache) -> None:
    # Feed order is not guaranteed across pages: a CTI may come before its client.
    cache.apply_page([change("stamping_account", cti("Primero", "cl00007"))], "0.1")
    assert cache.query_stamping_accounts()[0]["client_name"] == ""
    cache.apply_page([change("client", client(7))], "0.2")
    assert cache.query_stamping_accounts()[0]["client_name"] == "Cliente 7"
    assert ids(cache.query_clients(q="primero")) == ["cl00007"]
    # Both in one page, CTI first.
    cache.apply_page(
        [change("stamping_account", cti("Segundo", "cl00008")), change("client", client(8))], "0.3"
    )
    assert [r["client_nic"] for r in cache.query_stamping_accounts(client_id="cl00008")] == ["200008"]
    assert ids(cache.query_clients(q="segundo")) == ["cl00008"]


def test_moving_a_cti_to_another_client_updates_both(cache: Cache) -> None:
    cache.apply_page(
        [
            change("client", client(1)),
            change("client", client(2)),
            change("stamping_account", cti("Movible", "cl00001")),
        ],
        "0.1",
    )
    cache.apply_page([change("stamping_account", cti("Movible", "cl00002", version=2))], "0.2")
    assert ids(cache.query_clients(q="movible")) == ["cl00002"]
    assert [r["active"] for r in cache.query_clients(sort="nic")] == [False, True]


def test_answer_never_overwrites_a_newer_version(cache: Cache) -> None:
    cache.apply_page([change("client", client(1, version=5, name="Cinco"))], "0.1")
    cache.apply_answer("client", client(1, version=4, name="Cuatro"))
    assert cache.get("client", "cl00001")["name"] == "Cinco"  # type: ignore[index]
    cache.apply_answer("client", client(1, version=6, name="Seis"))
    assert cache.get("client", "cl00001")["name"] == "Seis"  # type: ignore[index]
    assert cache.cursor == "0.1"  # answers never move the cursor


def test_reset_forgets_everything_but_the_account(cache: Cache) -> None:
    cache.set_meta("account_id", "acc1")
    cache.apply_page([change("client", client(1))], "0.1")
    cache.set_catalog({"stamp_packages": []})
    cache.reset()
    assert cache.counts() == {} and cache.cursor is None and cache.catalog() is None
    assert cache.account_id == "acc1"


def test_account_and_meta(cache: Cache) -> None:
    cache.set_meta("account_id", "acc1")
    cache.apply_page(
        [change("account", {"id": "acc1", "version": 1, "name": "Mi cuenta", "balances": {"stamps": 9}})],
        "0.1",
    )
    assert cache.account() == {"id": "acc1", "version": 1, "name": "Mi cuenta", "balances": {"stamps": 9}}
    assert cache.last_sync_at is None
    cache.mark_synced()
    assert cache.last_sync_at is not None


# ---- optimistic values --------------------------------------------------------------------------------


def test_apply_local_and_restore(portfolio: Cache) -> None:
    portfolio.apply_local(
        "client", "cl00002", {"name": "Árbol Contable y Asociados", "address": {"city": "Tapachula"}}
    )
    row = next(r for r in portfolio.query_clients() if r["id"] == "cl00002")
    assert row["pending"] is True and row["name"] == "Árbol Contable y Asociados"
    seen = portfolio.get("client", "cl00002")
    assert seen is not None and seen["address"] == {"state": "Chiapas", "city": "Tapachula"}
    assert portfolio.server_copy("client", "cl00002")["name"] == "árbol Contable"  # type: ignore[index]
    # A server change meanwhile updates the rest and keeps the pending value on top.
    portfolio.apply_page(
        [
            change(
                "client", client(2, name="árbol Contable", version=2, balances={"stamps": 77, "points": 30})
            )
        ],
        "0.11",
    )
    row = next(r for r in portfolio.query_clients() if r["id"] == "cl00002")
    assert (row["name"], row["stamps"], row["pending"]) == ("Árbol Contable y Asociados", 77, True)
    assert portfolio.local_ids() == [("client", "cl00002")]
    portfolio.restore("client", "cl00002")
    row = next(r for r in portfolio.query_clients() if r["id"] == "cl00002")
    assert (row["name"], row["pending"]) == ("árbol Contable", False)
    assert portfolio.counts()["client"] == 4


def test_a_record_created_here_exists_only_until_restored(portfolio: Cache) -> None:
    portfolio.apply_local(
        "client", "local-1", {"id": "local-1", "nic": "", "name": "Recién creado", "rfc": "XAXX010101000"}
    )
    assert portfolio.count_clients(q="recien") == 1
    assert portfolio.counts()["client"] == 4  # not the server's: never counted
    portfolio.restore("client", "local-1")
    assert portfolio.count_clients(q="recien") == 0
    assert portfolio.get("client", "local-1") is None


# ---- orders, filters, search ------------------------------------------------------------------------


@pytest.mark.parametrize("sort", TWELVE_ORDERS)
def test_the_twelve_orders(portfolio: Cache, sort: str) -> None:
    assert ids(portfolio.query_clients(sort=sort)) == PORTFOLIO_ORDER[sort]


def test_paging(portfolio: Cache) -> None:
    assert ids(portfolio.query_clients(sort="nic", limit=2, offset=2)) == ["cl00003", "cl00010"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "favorites"}, ["cl00010", "cl00001"]),
        ({"category": "dropped"}, ["cl00003"]),
        ({"color": "red"}, ["cl00002", "cl00010"]),
        ({"color": "red", "category": "favorites"}, ["cl00010"]),
        ({"q": "NANDU"}, ["cl00001"]),
        ({"q": "arbol"}, ["cl00002"]),
        ({"q": "jose perez"}, ["cl00003"]),  # the legal representative, without accents
        ({"q": "zapateria.mx"}, ["cl00003"]),
        ({"q": "200010"}, ["cl00010"]),  # NIC
        ({"q": "xaxx000000002"}, ["cl00002"]),  # RFC
        ({"q": "9610000003"}, ["cl00003"]),  # phone
        ({"q": "abc123"}, ["cl00010"]),  # a CTI id
        ({"q": "pruebas"}, ["cl00001"]),
        ({"q": "Nu"}, ["cl00010"]),  # one or two letters: names starting with them
        ({"q": "ña"}, ["cl00001"]),
        ({"q": "xa"}, []),  # …not anywhere else (every RFC here starts with XA)
        ({"q": "zapateria lo"}, ["cl00003"]),  # a short word beside a long one: a substring again
        ({"q": "cliente1@"}, ["cl00001"]),
        ({"q": "nada que ver"}, []),
    ],
)
def test_filters_and_search(portfolio: Cache, filters: dict[str, Any], expected: list[str]) -> None:
    assert ids(portfolio.query_clients(**filters)) == expected
    assert portfolio.count_clients(**filters) == len(expected)


def test_search_without_trigram_falls_back_to_like(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.sqlite3"
    Cache(path).close()
    monkeypatch.setattr(cache_schema, "FTS_AVAILABLE", False)
    monkeypatch.setattr(cache_schema, "SEARCH_MODE", "like")
    c = Cache(path)  # made with another search mode: rebuilt
    c.apply_page(
        [change("client", PORTFOLIO[2]), change("stamping_account", cti("Pruebas", PORTFOLIO[2]["id"]))], "1"
    )
    c.finish_pull()
    assert ids(c.query_clients(q="jose perez")) == ["cl00003"]
    assert ids(c.query_clients(q="prueba")) == ["cl00003"]
    for file in (path, c.search_path):
        with contextlib.closing(sqlite3.connect(file)) as conn:
            assert (
                conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'clients_fts'").fetchone()[0]
                == 0
            )
    c.close()


# ---- the search index (a file of its own) ------------------------------------------------------------


def uses_search_index(cache: Cache, q: str) -> bool:
    return any("clients_fts" in step for step in cache.explain_clients(q=q))


def test_the_search_index_follows_later_pages(portfolio: Cache) -> None:
    assert portfolio.search_path.exists() and uses_search_index(portfolio, "nandu")
    portfolio.apply_page(
        [
            change("client", client(2, name="Bosque Contable", version=2)),  # renamed
            change("stamping_account", cti("Nuevo777", "cl00003")),  # a CTI more
            tombstone("stamping_account", "ABC123XYZ"),  # a CTI less
            tombstone("client", "cl00001"),  # a client less
            change("client", client(20, name="Recién Llegado")),  # a client more
        ],
        "0.2",
    )
    portfolio.finish_pull()  # nothing put off: the index was kept up page by page
    assert uses_search_index(portfolio, "bosque")
    assert ids(portfolio.query_clients(q="bosque")) == ["cl00002"]
    assert ids(portfolio.query_clients(q="arbol")) == []
    assert ids(portfolio.query_clients(q="nuevo777")) == ["cl00003"]
    assert ids(portfolio.query_clients(q="abc123")) == []
    assert ids(portfolio.query_clients(q="nandu")) == []
    assert ids(portfolio.query_clients(q="recien llegado")) == ["cl00020"]


def test_a_search_index_out_of_step_is_built_again(portfolio: Cache) -> None:
    path, search_path = portfolio.path, portfolio.search_path
    portfolio.close()
    # The program stopped between the commits of the two files: the search file missed one.
    with contextlib.closing(sqlite3.connect(search_path)) as conn, conn:
        conn.execute("UPDATE state SET value = value - 1 WHERE key = 'generation'")
    c = Cache(path)
    try:
        assert c.counts()["client"] == 4  # the cache itself is kept
        assert not uses_search_index(c, "nandu")  # searched with LIKE meanwhile
        assert ids(c.query_clients(q="nandu")) == ["cl00001"]
        c.apply_page([change("client", client(1, name="Ñandú Renombrado", version=2))], "0.2")
        c.finish_pull()  # the next sync builds it again
        assert uses_search_index(c, "nandu")
        assert ids(c.query_clients(q="renombrado")) == ["cl00001"]
        assert ids(c.query_clients(q="abc123")) == ["cl00010"]
    finally:
        c.close()
    c = Cache(path)  # in step: kept as it is
    try:
        assert uses_search_index(c, "nandu") and ids(c.query_clients(q="renombrado")) == ["cl00001"]
    finally:
        c.close()


def test_a_cache_without_its_search_file_is_rebuilt(portfolio: Cache) -> None:
    path, search_path = portfolio.path, portfolio.search_path
    portfolio.close()
    search_path.unlink()
    c = Cache(path)
    try:
        assert c.counts() == {} and c.cursor is None
    finally:
        c.close()


def test_reset_empties_the_search_index(portfolio: Cache) -> None:
    portfolio.reset()
    assert portfolio.count_clients(q="nandu") == 0
    portfolio.apply_page([change("client", client(30, name="Ñandú Segundo"))], "0.1")
    portfolio.finish_pull()
    assert uses_search_index(portfolio, "nandu")
    assert ids(portfolio.query_clients(q="nandu")) == ["cl00030"]


def test_stamping_accounts_query(portfolio: Cache) -> None:
    portfolio.apply_page(
        [
            change(
                "stamping_account",
                cti(
                    "Otra",
                    "cl00002",
                    balance=None,
                    kind="unlimited",
                    active=False,
                    auto_sale={"minimum": 1, "credit": 5, "amount_cents": 500, "enabled": True},
                ),
            )
        ],
        "1",
    )
    rows = portfolio.query_stamping_accounts()
    assert [r["id"] for r in rows] == ["Otra", "ABC123XYZ", "Pruebas"]  # by client name
    assert rows[0]["auto_sale_credit"] == 5 and rows[0]["active"] is False and rows[0]["balance"] is None
    assert [r["id"] for r in portfolio.query_stamping_accounts(client_id="cl00001")] == ["Pruebas"]
    assert [r["id"] for r in portfolio.query_stamping_accounts(q="nandu")] == ["Pruebas"]
    assert [r["id"] for r in portfolio.query_stamping_accounts(q="abc1")] == ["ABC123XYZ"]
    assert portfolio.count_stamping_accounts(active=True) == 2
    assert [r["id"] for r in portfolio.query_stamping_accounts(sort="nic")] == [
        "Pruebas",
        "Otra",
        "ABC123XYZ",
    ]


def test_movements_and_distributors(cache: Cache) -> None:
    movement = {
        "id": "m1",
        "version": 1,
        "kind": "transfer",
        "asset": "stamps",
        "quantity": 5,
        "amount_cents": 100,
        "source": {"type": "account", "id": "a"},
        "target": {"type": "stamping_account", "id": "CTI1"},
        "client_id": "cl00001",
        "account_id": "a",
        "comments": "",
        "created_at": "2026-01-01T00:00:00Z",
        "created_by": "x",
        "invoice_id": None,
    }
    older = {**movement, "id": "m0", "created_at": "2025-12-31T00:00:00Z"}
    distributor = {
        "id": "d1",
        "nic": "200099",
        "version": 1,
        "name": "Sub",
        "status": "active",
        "balances": {"stamps": 3, "points": 4},
        "created_at": "2026-01-01T00:00:00Z",
    }
    cache.apply_page(
        [
            change("movement", movement),
            change("movement", older),
            change("distributor", distributor),
            change("distributor", {**distributor, "id": "d2", "nic": "200100", "status": "suspended"}),
        ],
        "1",
    )
    assert [m["id"] for m in cache.query_movements()] == ["m1", "m0"]
    assert cache.query_movements(client_id="cl00001")[0]["target_id"] == "CTI1"
    assert [d["id"] for d in cache.query_distributors()] == ["d1", "d2"]
    assert [d["id"] for d in cache.query_distributors("suspended")] == ["d2"]


# ---- schema ---------------------------------------------------------------------------------------


def test_a_file_of_another_schema_version_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    c = Cache(path)
    c.apply_page([change("client", client(1))], "0.1")
    c.close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c = Cache(path)
    assert c.counts() == {} and c.cursor is None
    c.apply_page([change("client", client(2))], "0.2")
    c.close()
    c = Cache(path)  # the same version: kept
    assert c.counts() == {"client": 1}
    c.close()


def test_a_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    c = Cache(path)
    assert c.counts() == {}
    c.close()


# ---- speed: the orders come from indexes -------------------------------------------------------------


def test_orders_use_indexes_at_twenty_thousand_clients(cache: Cache) -> None:
    n = 20_000
    for start in range(0, n, 2000):
        page = [
            change(
                "client",
                client(
                    i,
                    name=f"Cliente {i * 7919 % n}",
                    balances={"stamps": i % 97, "points": i % 13},
                    created_at=f"2026-01-{1 + i % 28:02d}T10:00:00Z",
                    last_purchase_at=None if i % 3 else f"2026-02-{1 + i % 28:02d}T10:00:00Z",
                    last_issue_at=None if i % 5 else "2026-03-01T10:00:00Z",
                    favorite=i % 10 == 0,
                ),
            )
            for i in range(start, start + 2000)
        ]
        page += [
            change("stamping_account", cti(f"CTI{i:06d}", f"cl{i:05d}")) for i in range(start, start + 2000)
        ]
        cache.apply_page(page, str(start))
    cache.finish_pull()
    assert cache.count_clients() == n
    for sort in CLIENT_ORDERS:
        plan = " | ".join(cache.explain_clients(sort=sort))
        assert "TEMP B-TREE" not in plan, (sort, plan)
        assert "USING INDEX" in plan, (sort, plan)
    # Far pages stay cheap, and search finds by CTI id.
    assert len(cache.query_clients(sort="last_purchase_asc", offset=15_000, limit=200)) == 200
    assert ids(cache.query_clients(q="cti012345")) == ["cl12345"]
    # Sorted correctly too (no Python-side sorting anywhere).
    stamps = [r["stamps"] for r in cache.query_clients(sort="stamps_desc", limit=500)]
    assert stamps == sorted(stamps, reverse=True)
