"""Public endpoints of sub-distributors (no sign-in): self-registration from a distributor's web site
and the e-mail confirmation link (API.md, "The rest of the portal").

Throttling. Each call counts against the caller's address in `attempt_log` (bucket `public:<ip>`,
shared by every server process), with the login throttle's helper (`operations.auth.check_throttle`):
more than `public_requests_per_minute` calls in the last minute answer 429 `too_many_attempts` with
`Retry-After`. The call is counted in a transaction of its own, committed before the operation runs,
so refused registrations and wrong tokens count too. A refused (429) call is not counted: the wait
`Retry-After` announces is the true one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import AttemptLog, utcnow
from cmdesk.server import db
from cmdesk.server.api import schemas_distributors as sd
from cmdesk.server.api.deps import AppSettings, ClientIp, Db
from cmdesk.server.api.distributors import Outbox
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import auth, distributors

router = APIRouter(tags=["public"])

BUCKET_PREFIX = "public:"


def count_public_call(
    factory: db.SessionFactory, client_ip: str, limit: int, now: dt.datetime | None = None
) -> None:
    """Count one public call of `client_ip`, or 429 when its last minute is full."""
    now = now or utcnow()
    bucket = BUCKET_PREFIX + client_ip[:200]

    def run(session: Session) -> None:
        try:
            auth.check_throttle(session, [(bucket, limit)], now)
        except DomainError as exc:
            # Same code and wait; the text speaks of requests, not of logins.
            raise DomainError(
                ErrorCode.TOO_MANY_ATTEMPTS,
                "Demasiadas solicitudes desde su conexión. Espere un minuto e intente de nuevo.",
                extra=exc.extra,
            ) from None
        session.add(AttemptLog(bucket=bucket, attempted_at=now))

    db.run(factory, run)


@router.post(
    "/v1/public/registrations",
    status_code=201,
    response_model=sd.Registration,
    responses=problem_responses(404, 409, 422, 429),
)
def register(
    body: sd.RegistrationIn, factory: Db, settings: AppSettings, ip: ClientIp, request: Request
) -> dict[str, Any]:
    """Registro desde el sitio web de un distribuidor con Multinivel (`referrer_nic`): un perfil nuevo
    y una sub-cuenta «Sin validar» hasta confirmar el correo con el enlace que se envía."""
    count_public_call(factory, ip, settings.public_requests_per_minute)
    outbox = Outbox()
    data = body.model_dump()

    def run(session: Session) -> dict[str, Any]:
        outbox.reset()
        result = distributors.register_public(session, **data)
        view = result["distributor"]
        return {
            "id": view["id"],
            "nic": view["nic"],
            "name": view["name"],
            "status": view["status"],
            "status_label": view["status_label"],
            "email": result["profile"]["email"],
            "confirmation_sent": outbox.take(result, result["profile"]["email"]),
        }

    answer = db.run(factory, run)
    outbox.send(request)
    return answer


@router.post(
    "/v1/public/registrations/confirm", response_model=sd.Confirmation, responses=problem_responses(422, 429)
)
def confirm(body: sd.ConfirmIn, factory: Db, settings: AppSettings, ip: ClientIp) -> dict[str, Any]:
    """El enlace del correo de confirmación: fija la contraseña del perfil (obligatoria si aún no tiene)
    y pasa sus cuentas «Sin validar» a «Sin activar»."""
    count_public_call(factory, ip, settings.public_requests_per_minute)
    return db.run(factory, distributors.confirm_email, body.token, body.password)
