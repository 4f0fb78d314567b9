"""A search page of the Clientes tab (`Cache.query_clients`) is the same whichever plan reads it (the
order's index walked, each row tested against the trigram index's rowids; or those rowids read and
sorted) and the same as matching every client with LIKE (the cache without its search index); its
count, taken from the trigram index alone, is the number of clients LIKE matches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.clients_tab import api_pages
from cmdesk.services.cache import Cache, schema

SORTS = ["name", "nic", "stamps_desc", "points_asc", "last_purchase_asc", "last_issue_desc", "created_desc"]
SEARCHES = ["mar", "martinez", "961", "ferreteria", "2000", "ped gon", "zzq", "s.a. de", "200012"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cache]:
    cache = Cache(tmp_path_factory.mktemp("page") / "cache.sqlite3")
    cursor = 0
    for page in api_pages(6000, 9000):
        cursor += len(page)
        cache.apply_page(page, str(cursor))
    cache.finish_pull()
    yield cache
    cache.close()


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("q", SEARCHES)
def test_same_rows_whichever_plan(cache: Cache, q: str, sort: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for category, color in (("all", None), ("favorites", None), ("all", "blue")):
        for offset in (0, 200):
            args = dict(q=q, category=category, color=color, sort=sort, limit=200, offset=offset)
            page = ids(cache.query_clients_page(**args))
            assert ids(cache.query_clients(walk=True, **args)) == page, args
            assert ids(cache.query_clients(walk=False, **args)) == page, args
            with monkeypatch.context() as m:
                m.setattr(schema, "FTS_AVAILABLE", False)  # every word matched with LIKE
                assert ids(cache.query_clients(**args)) == page, args


@pytest.mark.parametrize("q", SEARCHES)
def test_the_search_index_counts_what_like_matches(
    cache: Cache, q: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = cache.count_clients(q=q)
    with monkeypatch.context() as m:
        m.setattr(schema, "FTS_AVAILABLE", False)
        assert cache.count_clients(q=q) == counted == len(cache.query_clients(q=q, limit=10_000))
    favorites = cache.count_clients(q=q, category="favorites")
    assert favorites == len(cache.query_clients(q=q, category="favorites", limit=10_000)) <= counted


def test_a_search_of_many_clients_walks_the_order_and_a_rare_one_sorts_its_matches(cache: Cache) -> None:
    many = " ".join(cache.explain_clients(q="961", sort="stamps_desc"))
    assert "ix_clients_stamps" in many and "TEMP B-TREE" not in many
    rare = " ".join(cache.explain_clients(q="zzq"))
    assert "TEMP B-TREE" in rare and "clients_fts" in rare
