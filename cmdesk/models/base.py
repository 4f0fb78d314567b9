"""The one DeclarativeBase of the project, the column types every table shares, and the sync mixin.

Money columns are integer centavos (BigInteger). Times are stored as UTC: `UTCDateTime` keeps them
tz-aware in Python on SQLite too, which has no time zone type.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import DDL, BigInteger, DateTime, Integer, MetaData, String, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cmdesk.domain.codes import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always UTC and tz-aware in Python, on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# BigInteger that stays an INTEGER on SQLite, so an INTEGER PRIMARY KEY autoincrements there.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        str: String(),
        int: Integer(),
    }


def id_column() -> Mapped[str]:
    return mapped_column(String(32), primary_key=True, default=new_id)


class Synced:
    """Rows the desktop mirrors through the change feed.

    `__feed_entity__` names the entity in `/v1/sync/changes`. `feed_audience()` says which accounts
    must see a change of this row (the owner, and e.g. the parent of a sub-distributor). The session
    hooks in `cmdesk.server.feed` bump `version` and write the change rows on every ORM flush; code
    that changes rows with Core statements records its changes itself.
    """

    __feed_entity__: ClassVar[str]

    def feed_audience(self) -> list[str] | list[str | tuple[str, str]]:
        """Account ids that see this row under `__feed_entity__`, or (account id, entity) pairs
        where an audience sees it as another entity."""
        raise NotImplementedError


def postgres_function(create: str, drop: str) -> None:
    """A PostgreSQL function of the schema: made with the tables (`create_all`), dropped before them.
    Migrations install each version themselves; this keeps a database made from the models equal."""
    install = DDL(create)  # type: ignore[no-untyped-call]
    remove = DDL(drop)  # type: ignore[no-untyped-call]
    event.listen(Base.metadata, "after_create", install.execute_if(dialect="postgresql"))
    event.listen(Base.metadata, "before_drop", remove.execute_if(dialect="postgresql"))
