"""Test helpers for the bitácora that work whatever wrote the records (the ORM recorder, a database
function, a set-based fast path): they read the `audit_log` table itself.

- `mutating_routes(app)`: every (method, path) of the app that is not a read, from its routes.
- `one_record(factory, action=...)`: a context manager asserting that the code inside wrote exactly
  one record (of that action), which it returns with its subjects.
- `no_record(factory)`: ...that it wrote none.
- `assert_no_secrets(factory, secrets)`: no record contains any of the given values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from cmdesk.models import AuditRecord, AuditSubject
from cmdesk.server import db

READS = {"GET", "HEAD", "OPTIONS"}


def mutating_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route that may change something, walking included routers."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Iterable[Any]) -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:  # FastAPI ≥ 0.160 includes routers lazily
                walk(original.routes)
                continue
            methods = getattr(route, "methods", None)
            path = getattr(route, "path", None)
            if methods and path and path.startswith("/v1/"):
                found.update((m, path) for m in methods if m not in READS)

    walk(app.routes)
    assert found, "no routes found: the walker does not know this FastAPI's route objects"
    return found


def last_id(factory: db.SessionFactory) -> int:
    with db.transaction(factory) as s:
        return int(s.scalar(select(func.coalesce(func.max(AuditRecord.id), 0))) or 0)


def records_after(factory: db.SessionFactory, after: int) -> list[dict[str, Any]]:
    with db.transaction(factory) as s:
        rows = s.scalars(select(AuditRecord).where(AuditRecord.id > after).order_by(AuditRecord.id)).all()
        out = []
        for r in rows:
            subjects = set(
                s.execute(
                    select(AuditSubject.entity_type, AuditSubject.entity_id).where(AuditSubject.audit_id == r.id)
                ).all()
            )
            out.append({c.name: getattr(r, c.name) for c in AuditRecord.__table__.columns} | {"subjects": subjects})
        return out


@dataclass
class Written:
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def record(self) -> dict[str, Any]:
        assert len(self.records) == 1, self.records
        return self.records[0]


@contextmanager
def one_record(
    factory: db.SessionFactory, *, action: str | None = None, entity: str | None = None
) -> Iterator[Written]:
    """The block writes exactly one record (with `action` and main `entity`, when given)."""
    start = last_id(factory)
    written = Written()
    yield written
    written.records = records_after(factory, start)
    assert len(written.records) == 1, [(r["action"], r["entity_type"]) for r in written.records]
    rec = written.records[0]
    if action is not None:
        assert rec["action"] == action, rec
    if entity is not None:
        assert rec["entity_type"] == entity, rec
    assert (rec["entity_type"], rec["entity_id"]) in rec["subjects"]


@contextmanager
def no_record(factory: db.SessionFactory) -> Iterator[None]:
    start = last_id(factory)
    yield
    written = records_after(factory, start)
    assert written == [], [(r["action"], r["entity_type"]) for r in written]


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _values(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from _values(v)
    elif value is not None:
        yield str(value)


def assert_no_secrets(factory: db.SessionFactory, secrets: Iterable[str]) -> int:
    """No value of any record equals a secret, and no text contains a long one. Returns how many
    records were checked."""
    secrets = {s for s in secrets if s}
    long = {s for s in secrets if len(s) >= 8}
    records = records_after(factory, 0)
    for rec in records:
        for text in _values({k: v for k, v in rec.items() if k != "subjects"}):
            assert text not in secrets, (rec["action"], text)
            for secret in long:
                assert secret not in text, (rec["action"], secret)
    return len(records)
