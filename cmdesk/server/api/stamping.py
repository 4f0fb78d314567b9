"""What invoicing applications call to stamp: `POST /v1/stamping/consume` with HTTP Basic (CTI id and
password). The fast path of the system: on PostgreSQL one call to the database function
`cmdesk_consume` (`cmdesk.server.stamping_fast`); otherwise, and for auto-sale CTIs, `ledger.consume`
in one short ORM transaction. Argon2 is skipped for a password verified recently
(`security.CredentialCache`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from cmdesk.domain.errors import DomainError, ErrorCode, validation_error
from cmdesk.server import db, security
from cmdesk.server.api import schemas
from cmdesk.server.api.consume_lane import GENERAL_PATH_MARK
from cmdesk.server.api.deps import Db, client_ip
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.api.strict import CONTROL_MESSAGE, check_header_value
from cmdesk.server.operations import ledger
from cmdesk.server.throttle import Guard

if TYPE_CHECKING:
    from cmdesk.server.stamping_fast import FastConsume

router = APIRouter(tags=["stamping"])
_basic = HTTPBasic(auto_error=False, description="Id y contraseña de la cuenta de timbrado (CTI).")


@router.post(
    "/v1/stamping/consume", response_model=schemas.ConsumeOut, responses=problem_responses(401, 403, 409, 422)
)
async def consume(
    body: schemas.ConsumeIn,
    request: Request,
    factory: Db,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> dict[str, Any]:
    """Un timbre por CFDI. El mismo `cfdi_uuid` otra vez responde lo mismo y no descuenta."""
    if credentials is None or not credentials.username:
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS, "Indique el id y la contraseña de la cuenta de timbrado."
        )
    cti_id, password = credentials.username, credentials.password
    if not (check_header_value(cti_id) and check_header_value(password)):
        raise validation_error({"Authorization": CONTROL_MESSAGE})
    cache: security.CredentialCache = request.app.state.credential_cache
    guard: Guard = request.app.state.password_guard
    source = client_ip(request)
    fast: FastConsume | None = request.app.state.fast_consume
    if fast is not None and not request.scope.get(GENERAL_PATH_MARK):
        answer = await fast.consume(
            cache, cti_id, password, body.emitter_rfc, body.cfdi_uuid, guard=guard, source=source
        )
        if answer is not None:
            return answer

    # The general path: the password is checked before the transaction (Argon2 never runs while it
    # holds locks — on SQLite, the write lock of every other request), and the transaction only
    # compares the stored hash with the one that was verified.
    verified = guard.cached_cti_hash(cache, cti_id, password, source) or await run_in_threadpool(
        guard.check_cti, cache, cti_id, password, source
    )

    def same_hash(password_hash: str) -> bool:
        return password_hash == verified

    return await run_in_threadpool(
        db.run,
        factory,
        ledger.consume,
        stamping_account_id=cti_id,
        emitter_rfc=body.emitter_rfc,
        cfdi_uuid=body.cfdi_uuid,
        verify=same_hash,
    )
