"""The client portfolio's orders and categories (manual, "Clientes": «Ordenar por» and Todos / Favoritos /
Bajas), as API.md's `sort` and `category` name them. The server sorts with them in SQL, the desktop's
cache with its own indexes; both take their names from here (their Spanish names: `names`)."""

from __future__ import annotations

from enum import StrEnum


class ClientSort(StrEnum):
    """The manual's twelve orders, in its order."""

    NAME = "name"
    NIC = "nic"
    STAMPS_DESC = "stamps_desc"
    STAMPS_ASC = "stamps_asc"
    POINTS_DESC = "points_desc"
    POINTS_ASC = "points_asc"
    LAST_PURCHASE_DESC = "last_purchase_desc"
    LAST_PURCHASE_ASC = "last_purchase_asc"
    CREATED_DESC = "created_desc"
    CREATED_ASC = "created_asc"
    LAST_ISSUE_DESC = "last_issue_desc"
    LAST_ISSUE_ASC = "last_issue_asc"


class ClientCategory(StrEnum):
    ALL = "all"
    FAVORITES = "favorites"
    DROPPED = "dropped"


CLIENT_SORTS: tuple[str, ...] = tuple(s.value for s in ClientSort)
CATEGORIES: tuple[str, ...] = tuple(c.value for c in ClientCategory)
