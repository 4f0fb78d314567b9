"""The transfer fast path on PostgreSQL: `POST /v1/transfers` and `POST /v1/transfers/bulk` as one call
to a database function: `cmdesk_transfer_one` for a transfer (V4, `cmdesk.models.pg_transfer_one`),
`cmdesk_transfer` for a bulk (V3, `cmdesk.models.pg_functions`).

Month-end refills are thousands of transfers. Through the ORM one took three transactions (the
idempotency claim, the effect, the stored answer) and about 8 ms of CPU; a bulk of 5,000 items took
20 s, one ORM transfer after the other. Here a transfer — or a bulk, set-based — is one round trip
on a pooled async connection (`stamping_fast.FastPool`), in autocommit mode so the call is its own
short transaction: the idempotency claim, the checks, the conditional debit, the credits, the
movements (the sale "por facturar" when it has an amount), the feed and the stored answer commit
together or not at all.

Who is calling. The access token is read once per worker (`authorize`: its HMAC checked and its
claims kept until the token expires, in `TokenCache`); what can change meanwhile — the session
revoked by a logout or a reused refresh token, the profile removed from the account, the account
suspended or cancelled — is checked by the database function on every call, in the same round trip
(no time-to-live: a revoked session is refused at its next request). A session no longer open, or an
account that is not `active` or is past its expiry date, is handed to the general path, whose
authentication decides and words the answer (issue 15's account-state checks live there): the same
status and problem code as any other route.

The bitácora (issue 18). A transfer or a bulk through the fast path writes the record the general path
writes (one per request, `cmdesk_transfer`'s `p_audit`, in the same transaction), with the device,
address and reason of the request's `X-Cmdesk-Device` / `X-Cmdesk-Reason` (`api.deps.audit_context`,
bound by the route, made by the lane); a refusal or a replay writes none, as on the general path.

The caller checks every rule that needs no database (`ledger.transfer_line`); anything unusual is
answered by the general path (`ledger.transfer`, `bulk_transfers.bulk_transfer`), which has the same rules
and words. A refusal the function finds (a target, the balance) rolls everything back, the claim
included; the refusal is then stored with the key in one statement, as the general path stores it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic_core import to_jsonable_python
from starlette.concurrency import run_in_threadpool

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError
from cmdesk.server import audit, idempotency, security
from cmdesk.server.api.errors import domain_problem
from cmdesk.server.operations import balances, bulk_transfers, ledger
from cmdesk.server.operations.context import Actor
from cmdesk.server.stamping_fast import FastPool

log = logging.getLogger(__name__)

APPLICATION_NAME = "cmdesk-transfer"
TRANSFERS_PATH = "/v1/transfers"
BULK_PATH = "/v1/transfers/bulk"
REFUSAL_SQLSTATE = "CM001"
KEY_TAKEN_SQLSTATE = "CM002"
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected

_CALL = (
    "SELECT status, http_status, body FROM cmdesk_transfer("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb,"
    " %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::text[])"
)
# A bulk: `cmdesk_bulk_transfer`, the same function planned for thousands of items
# (`cmdesk.models.pg_bulk_transfer`).
_CALL_BULK = _CALL.replace("FROM cmdesk_transfer(", "FROM cmdesk_bulk_transfer(")
# One transfer: `cmdesk_transfer_one` (V4), the item's values as plain parameters (adapting seven
# Python lists cost as much CPU as the rest of the request, and V3's set-based statements twice V4's).
_CALL_ONE = (
    "SELECT status, http_status, body FROM cmdesk_transfer_one("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb,"
    " %s::text, %s::text, %s::text, %s::text, %s::bigint, %s::bigint, %s::text)"
)
# A refusal stored with its key, unless the key is taken: then what holds it (one statement).
_STORE = """
WITH stored AS (
    INSERT INTO idempotency_records (scope, key, request_hash, method, path, completed, status_code,
                                     response_body, created_at, expires_at)
    VALUES (%(scope)s, %(key)s, %(hash)s, 'POST', %(path)s, true, %(status)s, %(body)s, %(now)s, %(expires)s)
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM stored), r.request_hash, r.completed, r.status_code, r.response_body
  FROM (SELECT 1) AS one
  LEFT JOIN idempotency_records r ON r.scope = %(scope)s AND r.key = %(key)s
"""


# ---------------------------------------------------------------------------------------------------
# Who is calling


class TokenCache:
    """Access tokens this worker verified, with their claims, until they expire: a bearer request
    then skips the HMAC and the JSON of its token. Bounded (least recently used out). The claims of
    a token never change; what does change (the session, the account) is checked in the database on
    every call. Used from the event loop's thread only."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[bytes, security.AccessClaims]] = OrderedDict()

    def claims(self, signing_key: bytes, token: str, now: dt.datetime) -> security.AccessClaims | None:
        """The token's claims, or None when it is not a valid, unexpired token of `signing_key` (the
        general path then answers why, with its words)."""
        entry = self._entries.get(token)
        if entry is None or entry[0] != signing_key:
            try:
                claims = security.read_access_token(signing_key, token, now=now)
            except DomainError:
                return None
            entry = (signing_key, claims)
            self._entries[token] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(token)
        claims = entry[1]
        return claims if now < claims.expires_at else None

    def __len__(self) -> int:
        return len(self._entries)


def authorize(cache: TokenCache, signing_key: bytes, token: str) -> security.AccessClaims | None:
    """The claims of a bearer token for the fast path (see the module docstring: what the cache
    keeps, and what the database checks on every call)."""
    return cache.claims(signing_key, token, dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class Caller:
    """Who transfers: the account, the profile (the movements' author) and, when the session was
    not checked yet (the lane), the session the database checks."""

    account_id: str
    profile_id: str
    session_id: str | None = None


# ---------------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True)
class Answer:
    """An answer of the fast path: its status and its JSON body as the database wrote it."""

    status: int
    body: str


class FastTransfer:
    """One per app (per worker process), on its own `FastPool`."""

    def __init__(self, database_url: str, *, max_connections: int = 10, retention_days: int = 90) -> None:
        self.pool = FastPool(database_url, application_name=APPLICATION_NAME, max_connections=max_connections)
        self.retention = dt.timedelta(days=retention_days)
        self.tokens = TokenCache()

    supports = staticmethod(FastPool.supports)

    @staticmethod
    def caller(actor: Actor) -> Caller:
        """An actor the general path's authentication checked (the routes)."""
        return Caller(actor.account_id, actor.profile_id)

    async def close(self) -> None:
        await self.pool.close()

    async def transfer(
        self, caller: Caller, key: str, item: dict[str, Any], audited: audit.AuditContext | None = None
    ) -> Answer | None:
        """`POST /v1/transfers` (`item`: the body as the route validates it; `audited`: the
        bitácora's context, None without a record); None: the general path answers."""
        try:
            line = ledger.transfer_line(
                asset=item["asset"],
                target_type=item["target"]["type"],
                target_id=item["target"]["id"],
                quantity=item["quantity"],
                amount_cents=item["amount_cents"],
                comments=item["comments"],
                no_charge=item.get("no_charge"),
            )
        except DomainError:
            return None
        return await self._run(
            caller, key, TRANSFERS_PATH, *_columns(TRANSFERS_PATH, item, [line]), bulk=False, audited=audited
        )

    async def bulk(
        self, caller: Caller, key: str, body: dict[str, Any], audited: audit.AuditContext | None = None
    ) -> Answer | None:
        """`POST /v1/transfers/bulk` (`body`: {"items": [...]} as the route validates it); None: the
        general path answers."""
        # Thousands of items take a good part of a second of Python: out of the event loop, so the
        # other requests of this worker (stamping above all) go on meanwhile.
        prepared = await run_in_threadpool(_prepare, BULK_PATH, body)
        if prepared is None:
            return None
        return await self._run(caller, key, BULK_PATH, *prepared, bulk=True, audited=audited)

    async def _run(
        self,
        caller: Caller,
        key: str,
        path: str,
        lines: list[ledger.TransferLine],
        digest: str,
        columns: tuple[list[Any], ...],
        *,
        bulk: bool,
        audited: audit.AuditContext | None,
    ) -> Answer | None:
        if not all(_plain_quantity(line.quantity) for line in lines):
            return None  # a quantity the general path refuses, in its order
        pool = await self.pool.get()
        if pool is None:
            return None
        call, arrays = (_CALL_BULK, columns) if bulk else (_CALL_ONE, tuple(c[0] for c in columns))
        record = _audit_argument(audited)
        for _attempt in range(5):
            now = dt.datetime.now(dt.UTC)
            args = (
                caller.account_id,
                caller.profile_id,
                caller.session_id,
                key,
                digest,
                path,
                now,
                to_jsonable_python(now),
                now + self.retention,
                now - dt.timedelta(seconds=idempotency.STALE_CLAIM_SECONDS),
                *((bulk, record) if bulk else (record,)),
                *arrays,
            )
            try:
                status, http_status, body = await self.pool.call(pool, call, args)
            except psycopg.Error as exc:
                sqlstate = exc.diag.sqlstate
                if sqlstate in _RETRY_SQLSTATES or sqlstate == KEY_TAKEN_SQLSTATE:
                    continue  # a lost race; with the key taken meanwhile, the next call replays
                if sqlstate != REFUSAL_SQLSTATE:
                    raise
                refusal = _refusal(exc, lines, bulk)
                return await self._store_refusal(pool, caller, key, path, digest, refusal)
            if status in ("ok", "replay"):
                return Answer(int(http_status), str(body))
            if status == "reused":
                raise idempotency.reused_error()
            if status == "in_progress":
                raise idempotency.in_progress_error()
            return None  # "general": the general path answers
        raise idempotency.in_progress_error()

    async def _store_refusal(
        self, pool: Any, caller: Caller, key: str, path: str, digest: str, refusal: DomainError
    ) -> Answer:
        """Store the refusal with the key (as the general path does), or answer what holds the key."""
        now = dt.datetime.now(dt.UTC)
        problem = domain_problem(refusal)
        params = {
            "scope": caller.account_id,
            "key": key,
            "hash": digest,
            "path": path,
            "status": refusal.status,
            "body": json.dumps(problem, ensure_ascii=False, separators=(",", ":")),
            "now": now,
            "expires": now + self.retention,
        }
        stored, request_hash, completed, status_code, response_body = await self.pool.call(
            pool, _STORE, params
        )
        if stored is not None:
            raise refusal
        if request_hash is not None and request_hash != digest:
            raise idempotency.reused_error()
        if completed:
            return Answer(int(status_code), str(response_body))
        if request_hash is not None:
            raise idempotency.in_progress_error()
        raise refusal  # the key was released meanwhile: answered, not stored


def _audit_argument(audited: audit.AuditContext | None) -> str | None:
    """`cmdesk_transfer`'s `p_audit`: what the bitácora's record says of the request."""
    if audited is None:
        return None
    return json.dumps(
        {
            "action": audited.action,
            "route": f"{audited.method} {audited.route}".strip(),
            "device": audited.device,
            "ip": audited.ip,
            "reason": audited.reason,
        },
        ensure_ascii=False,
    )


def _prepare(
    path: str, body: dict[str, Any]
) -> tuple[list[ledger.TransferLine], str, tuple[list[Any], ...]] | None:
    """A bulk's lines, its request hash and its columns; None: the general path answers it."""
    try:
        lines, late = bulk_transfers.bulk_lines(body["items"])
    except DomainError:
        return None
    return None if late is not None else _columns(path, body, lines)


def _columns(
    path: str, payload: Any, lines: list[ledger.TransferLine]
) -> tuple[list[ledger.TransferLine], str, tuple[list[Any], ...]]:
    """The lines, the request's hash (as `idempotency` computes it) and the function's item arrays."""
    return (
        lines,
        idempotency.request_hash("POST", path, payload),
        (
            [line.movement_id for line in lines],
            [line.asset.value for line in lines],
            [line.target_type.value for line in lines],
            [line.target_id for line in lines],
            [line.quantity for line in lines],
            [line.amount_cents for line in lines],
            [line.comments for line in lines],
        ),
    )


def _plain_quantity(quantity: Any) -> bool:
    return isinstance(quantity, int) and not isinstance(quantity, bool) and 0 < quantity <= 10**12


def _refusal(exc: psycopg.Error, lines: list[ledger.TransferLine], bulk: bool) -> DomainError:
    """The refusal `cmdesk_transfer` raised, with the words of the general path."""
    code = exc.diag.message_primary or ""
    index = int(exc.diag.message_detail or "1") - 1
    line = lines[index]
    if code == "insufficient_balance":
        error = balances.insufficient(Asset(line.asset), line.quantity)
    else:
        error = ledger.TARGET_REFUSALS[code]()
    return bulk_transfers.bulk_item_error(error, index) if bulk else error
