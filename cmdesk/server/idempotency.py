"""Exactly-once POSTs with `Idempotency-Key` (API.md, Conventions).

How a keyed request runs:

1. Claim. The key is inserted (`completed = false`) in its own committed transaction; the unique
   (scope, key) constraint makes one request the owner. Another request with the key finds the record:
   completed with the same body → the stored answer is replayed (same status, same body: a stored
   rejection stays rejected); a different body → 409 `idempotency_key_reused`; still running → 409
   `idempotency_key_in_progress`.
2. Execute. In ONE transaction the owner locks its claim, runs the operation and stores the answer, so
   the effect and the stored answer commit together or not at all. A domain rejection rolls the effect
   back and stores the problem answer in a fresh transaction.
3. Crashes. An unexpected exception deletes the claim (the key may be retried). A claim left by a
   worker that died is taken over after `STALE_CLAIM_SECONDS`: safe, because a claim that is not
   completed has no committed effect, and the owner re-checks its claim under the row lock before
   running, so two workers never both apply the operation.

Several transactions. An operation too big for one short transaction (a bulk transfer on SQLite) passes
`finish`: `fn` then records, in the claim's transaction, what is left to do under the claim's id
(`claim_id(session)`), and `finish(claim id)` does it in transactions of its own, the last of which
stores the answer (`complete`). From the moment `fn` commits the claim is never released: a worker
that dies meanwhile leaves a stale claim, and whoever takes it over runs `fn` again, which finds the
work recorded and lets `finish` go on with it.

Records are kept `retention_days` (90 by default: longer than a desktop stays offline); `purge()` deletes
expired ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import IdempotencyRecord, utcnow
from cmdesk.server import db
from cmdesk.server.api.errors import domain_problem
from cmdesk.server.breathing import breathing

log = logging.getLogger(__name__)

# A claim this old that never completed is taken to belong to a worker that died. Taking one over early
# is still safe (see 3. above), only wasteful: the soak test shortens it to drain quickly after killing
# workers (`CMDESK_IDEMPOTENCY_STALE_CLAIM_SECONDS`).
STALE_CLAIM_SECONDS = int(os.environ.get("CMDESK_IDEMPOTENCY_STALE_CLAIM_SECONDS", "60"))
DEFAULT_RETENTION_DAYS = 90
KEY_MAX_LENGTH = 64

Answer = tuple[int, dict[str, Any]]


def request_hash(method: str, path: str, body: bytes | dict[str, Any] | list[Any] | None) -> str:
    """SHA-256 of the request: method, path and the body as canonical JSON (key order and whitespace
    do not matter; a body that is not JSON is hashed as sent)."""
    if isinstance(body, bytes):
        try:
            parsed: Any = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError):
            canonical = body
        else:
            canonical = _canonical(parsed)
    else:
        canonical = _canonical(body)
    h = hashlib.sha256()
    h.update(method.upper().encode() + b"\n" + path.encode("utf-8") + b"\n")
    h.update(canonical)
    return h.hexdigest()


def _canonical(value: Any) -> bytes:
    # A body that is one long list (a bulk's {"items": [...]}) is encoded item by item, to the same
    # text: one C call over 5,000 items held the GIL, and the worker's other requests, for tens of ms.
    if isinstance(value, dict) and len(value) == 1:
        ((name, items),) = value.items()
        if isinstance(name, str) and isinstance(items, list) and len(items) > _PIECEWISE:
            encoded = ",".join(_dumps(to_jsonable_python(i, fallback=str)) for i in breathing(items))
            return ("{" + _dumps(name) + ":[" + encoded + "]}").encode("utf-8")
    return _dumps(to_jsonable_python(value, fallback=str)).encode("utf-8")


_PIECEWISE = 100


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Refusals that ask to try again later (429 too many attempts, 503 server busy): the key is released,
# not answered for good.
NOT_YET = frozenset({429, 503})


def in_progress_error() -> DomainError:
    return DomainError(
        ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
        "Una solicitud con la misma clave de idempotencia todavía se está procesando; "
        "espere e intente de nuevo.",
    )


def reused_error() -> DomainError:
    return DomainError(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        "La clave de idempotencia ya se usó con otra solicitud; genere una clave nueva para esta operación.",
    )


def _stored_answer(record: IdempotencyRecord) -> Answer:
    body = json.loads(record.response_body) if record.response_body else {}
    return int(record.status_code or 200), body


def idempotent(
    factory: db.SessionFactory,
    *,
    scope: str,
    key: str,
    method: str,
    path: str,
    body: bytes | dict[str, Any] | list[Any] | None,
    fn: Callable[[Session], Answer],
    retention_days: int = DEFAULT_RETENTION_DAYS,
    now: dt.datetime | None = None,
    finish: Callable[[int], Answer] | None = None,
) -> Answer:
    """Run `fn(session)` at most once for (`scope`, `key`) and answer (status, JSON-ready body).

    `fn` returns (status, body) of a success; a `DomainError` it raises becomes (its status, its
    problem body) and is stored too, unless it asks to try again later (`NOT_YET`: raised, the key
    released). Replays return exactly what was stored. Raises `DomainError` 409 for a reused key or
    one still in progress (those answers are not stored). With `finish`, the operation goes on in
    transactions of its own (see "Several transactions" above).
    """
    now = now or utcnow()
    digest = request_hash(method, path, body)
    claim = _claim(
        factory,
        scope=scope,
        key=key,
        method=method,
        path=path,
        digest=digest,
        now=now,
        retention_days=retention_days,
    )
    if not isinstance(claim, _Claim):
        return claim  # a replay
    record_id, claimed_at = claim.record_id, claim.claimed_at

    try:
        answer = db.run(factory, _execute, record_id, claimed_at, fn, finish is None)
    except DomainError as exc:
        answer = exc.status, domain_problem(exc)
        if exc.code in (ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS, ErrorCode.IDEMPOTENCY_KEY_REUSED):
            raise
        if exc.status in NOT_YET:
            # "Try again in a moment" is no answer to keep: stored, every retry of the key would get
            # it forever (a client created while the hashing gate was full could never be created).
            _release(factory, record_id, claimed_at)
            raise
        try:
            stored = db.run(factory, _store, record_id, claimed_at, answer)
        except Exception:
            log.exception("could not store the rejection of an idempotent request; releasing its key")
            _release(factory, record_id, claimed_at)
            raise exc from None
        return stored
    except _Replay as replay:
        return replay.answer
    except BaseException:
        _release(factory, record_id, claimed_at)
        raise
    if finish is None:
        return answer
    return finish(record_id)  # never released from here on: see "Several transactions"


_CLAIM_ID = "cmdesk.idempotency_claim_id"


def claim_id(session: Session) -> int | None:
    """Inside `fn`: the id of the claim it runs under (what `finish` receives)."""
    value = session.info.get(_CLAIM_ID)
    return int(value) if value is not None else None


def complete(session: Session, record_id: int, status: int, body_json: str) -> None:
    """Store the answer of an operation `finish` completed (its body as JSON text), in the
    transaction of its last step."""
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(completed=True, status_code=status, response_body=body_json)
        .execution_options(synchronize_session=False)
    )


def stored_answer(session: Session, record_id: int) -> Answer | None:
    """The answer stored for a claim, once completed."""
    record = session.get(IdempotencyRecord, record_id)
    return _stored_answer(record) if record is not None and record.completed else None


@dataclass(frozen=True)
class _Claim:
    record_id: int
    claimed_at: dt.datetime


class _Replay(Exception):
    """Another worker finished this key while we waited for its lock: answer what it stored."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("replay")
        self.answer = answer


def _claim(
    factory: db.SessionFactory,
    *,
    scope: str,
    key: str,
    method: str,
    path: str,
    digest: str,
    now: dt.datetime,
    retention_days: int,
) -> _Claim | Answer:
    """The claim when this request owns the key now, or the stored answer to replay."""
    for _ in range(3):
        try:
            with db.transaction(factory) as session:
                record = IdempotencyRecord(
                    scope=scope,
                    key=key,
                    request_hash=digest,
                    method=method.upper()[:8],
                    path=path[:300],
                    completed=False,
                    created_at=now,
                    expires_at=now + dt.timedelta(days=retention_days),
                )
                session.add(record)
                session.flush()
                return _Claim(record.id, now)
        except IntegrityError:
            pass  # the key exists: look at it
        with db.transaction(factory) as session:
            existing = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            )
            if existing is None:
                continue  # released meanwhile: claim again
            if existing.request_hash != digest:
                raise reused_error()
            if existing.completed:
                return _stored_answer(existing)
            if (now - existing.created_at).total_seconds() < STALE_CLAIM_SECONDS:
                raise in_progress_error()
            # A worker died holding the claim: take it over, unless someone else just did.
            taken = session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == existing.id,
                    IdempotencyRecord.completed.is_(False),
                    IdempotencyRecord.created_at == existing.created_at,
                )
                .values(created_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) == 1:
                log.warning("taking over a stale idempotency claim (scope %s)", scope)
                return _Claim(existing.id, now)
            raise in_progress_error()
    raise in_progress_error()


def _lock_claim(session: Session, record_id: int, claimed_at: dt.datetime) -> None:
    """Lock our claim row for the rest of the transaction, and make sure it is still ours."""
    record = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.id == record_id).with_for_update()
    )
    if record is None:
        raise in_progress_error()
    if record.completed:
        raise _Replay(_stored_answer(record))
    if record.created_at != claimed_at:
        raise in_progress_error()  # taken over by another worker, which is running it now


def _execute(
    session: Session,
    record_id: int,
    claimed_at: dt.datetime,
    fn: Callable[[Session], Answer],
    write: bool = True,
) -> Answer:
    _lock_claim(session, record_id, claimed_at)
    session.info[_CLAIM_ID] = record_id
    try:
        status, body = fn(session)
    finally:
        session.info.pop(_CLAIM_ID, None)
    answer: Answer = status, to_jsonable_python(body, fallback=str)
    if write:
        _write_answer(session, record_id, answer)
    return answer


def _store(session: Session, record_id: int, claimed_at: dt.datetime, answer: Answer) -> Answer:
    try:
        _lock_claim(session, record_id, claimed_at)
    except _Replay as replay:
        return replay.answer
    except DomainError:
        return answer
    _write_answer(session, record_id, answer)
    return answer


def _write_answer(session: Session, record_id: int, answer: Answer) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(
            completed=True,
            status_code=answer[0],
            response_body=json.dumps(answer[1], ensure_ascii=False, separators=(",", ":")),
        )
        .execution_options(synchronize_session=False)
    )


def _release(factory: db.SessionFactory, record_id: int, claimed_at: dt.datetime) -> None:
    """Delete our unfinished claim so the key can be retried (best effort: a stale claim expires)."""
    try:
        with db.transaction(factory) as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == record_id,
                    IdempotencyRecord.completed.is_(False),
                    IdempotencyRecord.created_at == claimed_at,
                )
            )
    except Exception:
        log.exception("could not release an idempotency claim; it expires in %s s", STALE_CLAIM_SECONDS)


def purge(session: Session, now: dt.datetime | None = None) -> int:
    """Delete records past their retention (maintenance); returns how many."""
    now = now or utcnow()
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)
