"""Rows written in bulk with SQLAlchemy Core: `BulkSink` (one connection: `COPY` on PostgreSQL,
`executemany` on SQLite) and `BulkRows` (a buffered table flushed every `BULK_CHUNK` rows). Used by
the demo seed (`cmdesk.server.seed`) and the big datasets of `cmdesk.devtools.dataset`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Boolean, Connection, Date, Table

from cmdesk.models.base import UTCDateTime

BULK_CHUNK = 5000


def table_of(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def sqlite_time(value: dt.datetime | None) -> str | None:
    """SQLAlchemy's SQLite storage of `UTCDateTime`: naive UTC, microseconds always written."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class BulkSink:
    """Writes tuples into a table inside the caller's transaction: COPY on PostgreSQL, executemany on
    SQLite (with the values converted as SQLAlchemy's types would store them). The rows bypass the
    ORM: whoever writes synced rows records their changes (`feed.record_many`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.raw: Any = conn.connection.driver_connection

    def write(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres:
            from psycopg import sql

            stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            )
            with self.raw.cursor() as cur, cur.copy(stmt) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        converters: list[Callable[[Any], Any] | None] = []
        for name in columns:
            kind = table.c[name].type
            if isinstance(kind, UTCDateTime):
                converters.append(sqlite_time)
            elif isinstance(kind, Boolean):
                converters.append(lambda v: None if v is None else int(v))
            elif isinstance(kind, Date):
                converters.append(lambda v: None if v is None else v.isoformat())
            else:
                converters.append(None)
        if any(converters):
            pairs = list(enumerate(converters))
            rows = [tuple(f(row[i]) if f else row[i] for i, f in pairs) for row in rows]
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        self.raw.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)


class BulkRows:
    """A buffered table: `add(dict)` fills the columns not given with their defaults (scalar Python
    defaults, else NULL); `add_tuple` takes values in `columns` order. Flushed in chunks, after the
    tables its rows refer to (`after`), so foreign keys always find their row: every `chunk` rows
    given as dicts, `4 × chunk` as tuples."""

    def __init__(
        self,
        sink: BulkSink,
        table: Table,
        columns: Sequence[str] | None = None,
        *,
        after: Sequence[BulkRows] = (),
        chunk: int = BULK_CHUNK,
    ) -> None:
        auto = table.autoincrement_column
        self.chunk = chunk
        self.sink = sink
        self.after = tuple(after)
        self.table = table
        self.columns = tuple(columns or [c.name for c in table.columns if c is not auto])
        defaults: list[Any] = []
        for name in self.columns:
            default = table.c[name].default
            defaults.append(default.arg if default is not None and default.is_scalar else None)  # type: ignore[attr-defined]
        self.defaults = tuple(zip(self.columns, defaults, strict=True))
        self.buffer: list[tuple[Any, ...]] = []
        self.written = 0

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(tuple(row.get(name, default) for name, default in self.defaults))
        if len(self.buffer) >= self.chunk:
            self.flush()

    def add_tuple(self, row: tuple[Any, ...]) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= self.chunk * 4:
            self.flush()

    def flush(self) -> None:
        for parent in self.after:
            parent.flush()
        self.sink.write(self.table, self.columns, self.buffer)
        self.written += len(self.buffer)
        self.buffer = []
