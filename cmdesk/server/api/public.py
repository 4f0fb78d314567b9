"""Public endpoints of sub-distributors (no sign-in): self-registration from a distributor's web site
and the e-mail confirmation link (API.md, "The rest of the portal").

Throttling. Each call counts against the caller's address in `throttle_counters` (bucket
`public:<ip>`, shared by every server process, one atomic UPSERT: `throttle.take`): more than
`public_requests_per_minute` calls in the minute answer 429 `too_many_attempts` with `Retry-After`.
The call is counted in a transaction of its own, committed before the operation runs, so refused
registrations and wrong tokens count too.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from fastapi import APIRouter

from cmdesk.domain import passwords
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import utcnow
from cmdesk.server import db, security, throttle
from cmdesk.server.api import schemas_distributors as sd
from cmdesk.server.api.deps import AppSettings, ClientIp, Db
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import distributors

router = APIRouter(tags=["public"])

BUCKET_PREFIX = "public:"


def count_public_call(
    factory: db.SessionFactory, client_ip: str, limit: int, now: dt.datetime | None = None
) -> None:
    """Count one public call of `client_ip`, or 429 when its minute is full (one atomic UPSERT)."""
    now = now or utcnow()
    bucket = BUCKET_PREFIX + client_ip[:200]
    wait, _ = db.run(factory, throttle.take, bucket, limit, dt.timedelta(minutes=1), now)
    if wait is not None:
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            "Demasiadas solicitudes desde su conexión. Espere un minuto e intente de nuevo.",
            extra={"retry_after": max(1, math.ceil(wait))},
        )


REGISTRATION_ANSWER = (
    "Le enviamos un correo a {email}. Siga sus indicaciones para terminar su registro; si no lo ve en "
    "unos minutos, revise la carpeta de correo no deseado."
)


@router.post(
    "/v1/public/registrations", status_code=202, response_model=sd.Registration,
    responses=problem_responses(404, 409, 422, 429),
)
def register(body: sd.RegistrationIn, factory: Db, settings: AppSettings, ip: ClientIp) -> dict[str, Any]:
    """Registro desde el sitio web de un distribuidor con Multinivel (`referrer_nic`): un perfil nuevo
    y una sub-cuenta «Sin validar» hasta confirmar el correo con el enlace que se envía. Responde lo
    mismo si el correo o el móvil ya tienen perfil (entonces el correo enviado explica por qué no se
    creó nada): la respuesta no dice si una persona existe."""
    count_public_call(factory, ip, settings.public_requests_per_minute)
    data = body.model_dump()
    result = db.run(factory, lambda s: distributors.register_public(s, **data))
    email = str(result["email"])
    return {"email": email, "detail": REGISTRATION_ANSWER.format(email=email), "confirmation_sent": True}


@router.post(
    "/v1/public/registrations/confirm", response_model=sd.Confirmation, responses=problem_responses(422, 429)
)
def confirm(body: sd.ConfirmIn, factory: Db, settings: AppSettings, ip: ClientIp) -> dict[str, Any]:
    """El enlace del correo de confirmación: fija la contraseña del perfil (obligatoria si aún no tiene)
    y pasa sus cuentas «Sin validar» a «Sin activar»."""
    count_public_call(factory, ip, settings.public_requests_per_minute)
    with security.prehashed(body.password, check=passwords.check_password):  # Argon2 before the transaction
        return db.run(factory, distributors.confirm_email, body.token, body.password)
