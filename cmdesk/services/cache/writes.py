"""Writing typed rows into a cache that holds them already: only the columns whose values changed.

An upsert that sets every column (`INSERT … ON CONFLICT DO UPDATE SET` all of them) rewrites the
entry of every index on a set column, changed or not: for a client, two dozen sort indexes and the
search index. Measured on a copy of the benchmark's cache (100,000 clients), 100 clients whose trade
name changed: 6 MB of pages written and a commit of 0.6–1 s that way, 0.4 MB and 40 ms setting the
changed columns alone. So a delta reads the stored rows first (by id), inserts the new ones with the
entity's upsert, and updates the others with the columns that differ (rows alike are not written).
An empty cache being filled (every row new) uses the upsert alone.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from cmdesk.services.cache.rows import (
    CLIENT_COLUMNS,
    CLIENT_LINK_COLUMNS,
    CLIENT_UPSERT,
    CTI_COLUMNS,
    CTI_UPSERT,
    TYPED,
    UPSERT,
    client_fields,
    client_row,
    cti_row,
)

# A row's value for a column that is to stay as stored (it is worked out in SQL when inserting).
KEEP: Final = object()

# Ids looked up at a time (under SQLite's limit of bound parameters).
_CHUNK = 500


def stored_rows(
    conn: sqlite3.Connection, table: str, columns: Sequence[str], ids: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """id → the values of `columns` (`columns[0]` is `id`) of the rows of `table` stored with these ids."""
    names = ", ".join(columns)
    out: dict[str, tuple[Any, ...]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" for _ in chunk)
        found = conn.execute(f"SELECT {names} FROM {table} WHERE id IN ({marks})", chunk)
        out.update({r[0]: r for r in found})
    return out


def write_changed(
    conn: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[tuple[Any, ...], tuple[Any, ...]]],
    upsert: str,
    *,
    upsert_anyway: Callable[[tuple[Any, ...], tuple[Any, ...]], bool] | None = None,
) -> list[str]:
    """Write `rows`, each `(values of columns, upsert's parameters)`: a row not stored yet (or for
    which `upsert_anyway(stored, values)` says so) through `upsert`, a stored one by updating the
    columns that differ (`KEEP` values are left as stored). Returns the ids inserted."""
    stored = stored_rows(conn, table, columns, [values[0] for values, _params in rows])
    inserts: list[tuple[Any, ...]] = []
    inserted: list[str] = []
    updates: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    width = len(columns)
    for values, params in rows:
        old = stored.get(values[0])
        if old is None or (upsert_anyway is not None and upsert_anyway(old, values)):
            inserts.append(params)
            if old is None:
                inserted.append(values[0])
            continue
        changed = tuple(i for i in range(1, width) if values[i] is not KEEP and values[i] != old[i])
        if changed:
            updates.setdefault(changed, []).append((*(values[i] for i in changed), values[0]))
    if inserts:
        conn.executemany(upsert, inserts)
    for changed, params_list in updates.items():
        sets = ", ".join(f"{columns[i]} = ?" for i in changed)
        conn.executemany(f"UPDATE {table} SET {sets} WHERE id = ?", params_list)
    return inserted


_CTI_WRITTEN = (*CTI_COLUMNS, *CLIENT_LINK_COLUMNS)
_CTI_CLIENT = CTI_COLUMNS.index("client_id")
_CTI_LINK = len(CTI_COLUMNS)


def _moved_elsewhere(stored: tuple[Any, ...], values: tuple[Any, ...]) -> bool:
    """A CTI moved to a client not in the page: its copy of the client's NIC and name is read in SQL."""
    return values[_CTI_LINK] is KEEP and values[_CTI_CLIENT] != stored[_CTI_CLIENT]


def project(
    conn: sqlite3.Connection,
    entity: str,
    rows: Iterable[tuple[Mapping[str, Any], bool]],
    *,
    bulk: bool = False,
    clients: Mapping[str, Mapping[str, Any]] | None = None,
    today: dt.date | None = None,
) -> set[str]:
    """Write the typed rows of `rows` (`(data, pending)`) of a typed entity; a CTI copies its client's
    NIC and name from `clients` (the page's) when its client is there, else from the stored client.
    `bulk`: an empty cache being filled (the upsert alone). Returns the ids inserted (all of them
    with `bulk`): their rows took their links (a client's CTI ids) from what is stored."""
    columns: tuple[str, ...]
    again: Callable[[tuple[Any, ...], tuple[Any, ...]], bool] | None
    if entity == "client":
        written = [(row, (*row, row[0], row[0])) for row in (client_row(d, p) for d, p in rows)]
        table, columns, upsert, again = "clients", CLIENT_COLUMNS, CLIENT_UPSERT, None
    elif entity == "stamping_account":
        written = []
        for data, pending in rows:
            client_id = data.get("client_id")
            linked = client_fields((clients or {}).get(str(client_id or "")))
            row = cti_row(data, pending, today)
            params = (*row, *(value for field in linked for value in (field, client_id)))
            written.append(((*row, *(KEEP if field is None else field for field in linked)), params))
        table, columns, upsert, again = "stamping_accounts", _CTI_WRITTEN, CTI_UPSERT, _moved_elsewhere
    else:
        written = [(row, row) for row in (TYPED[entity][2](d, p) for d, p in rows)]
        table, columns, upsert, again = TYPED[entity][0], TYPED[entity][1], UPSERT[entity], None
    if bulk:
        conn.executemany(upsert, [params for _values, params in written])
        return {values[0] for values, _params in written}
    return set(write_changed(conn, table, columns, written, upsert, upsert_anyway=again))
