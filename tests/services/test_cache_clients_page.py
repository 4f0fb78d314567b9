"""`Cache.query_clients_page` (the Clientes tab's search pages) returns exactly what `query_clients`
returns, whichever path it takes (the bounded in-order scan, or the trigram index)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.clients_tab import api_pages
from cmdesk.services.cache import Cache

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
def test_same_rows_as_query_clients(cache: Cache, q: str, sort: str) -> None:
    for category, color in (("all", None), ("favorites", None), ("all", "blue")):
        for offset in (0, 200):
            args = dict(q=q, category=category, color=color, sort=sort, limit=200, offset=offset)
            assert ids(cache.query_clients_page(**args)) == ids(cache.query_clients(**args)), args
