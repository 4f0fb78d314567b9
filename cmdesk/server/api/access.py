"""Getting into accounts, and the mails about them (issue 13): password reset, accepting an
invitation, resending one, the account's own renewal, the mails that concern the account, and the
demo mail viewer.

The public calls (reset, accept) count against the caller's address like the other public
endpoints (`api.public.count_public_call`); asking for a reset also counts per login (at most
`CMDESK_PASSWORD_RESETS_PER_HOUR` an hour) and answers the same whether the login exists or not.
Link tokens travel only in request bodies, never in a path or a query string the logs keep.

The demo mail viewer (`/v1/demo/mails`) answers only where `CMDESK_MAIL_VIEWER` is on (the embedded
server and `cmdesk-server demo`, which write mails as .eml files instead of sending them); anywhere
else it is a 404, like an unknown path.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cmdesk.domain import passwords
from cmdesk.domain.errors import not_found
from cmdesk.models import OutboundMail
from cmdesk.server import db, security, throttle
from cmdesk.server.api import schemas_mail as sm
from cmdesk.server.api.deps import (
    AppSettings,
    ClientIp,
    CurrentActor,
    Db,
    IdempotencyKey,
    Pagination,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    idempotent_call,
)
from cmdesk.server.api.public import count_public_call
from cmdesk.server.api.schemas_common import MailKind, MailStatus, problem_responses
from cmdesk.server.mail import queue
from cmdesk.server.mail.sender import file_stem
from cmdesk.server.mail.transport import default_mail_folder
from cmdesk.server.operations import access, renewal
from cmdesk.server.settings import Settings

router = APIRouter(tags=["access"])

RESET_ANSWER = (
    "Si el correo o número móvil corresponde a un perfil de Cuenta Maestra, le enviamos un correo con "
    "un enlace para elegir una contraseña nueva. El enlace funciona una hora."
)

# ---- public -------------------------------------------------------------------------------------------


@router.post(
    "/v1/auth/password-reset",
    status_code=202,
    response_model=sm.ResetRequested,
    responses=problem_responses(422, 429),
)
def request_password_reset(
    body: sm.ResetRequestIn, factory: Db, settings: AppSettings, ip: ClientIp
) -> dict[str, Any]:
    """¿Olvidó su contraseña?: envía un enlace (válido una hora) al correo del perfil con ese correo o
    móvil. Responde lo mismo exista o no; a lo más `CMDESK_PASSWORD_RESETS_PER_HOUR` por hora (429)."""
    count_public_call(factory, ip, settings.public_requests_per_minute)
    access.request_password_reset(factory, body.login, policy=reset_policy(settings), source=ip)
    return {"detail": RESET_ANSWER}


def reset_policy(settings: Settings) -> throttle.Policy:
    return access.reset_policy(
        settings.password_resets_per_hour, settings.throttle_policy(settings.login_attempts_per_minute)
    )


@router.post(
    "/v1/auth/password-reset/confirm", response_model=sm.ResetDone, responses=problem_responses(422, 429)
)
def confirm_password_reset(
    body: sm.ResetIn, factory: Db, settings: AppSettings, ip: ClientIp
) -> dict[str, Any]:
    """El enlace del correo de restablecimiento: fija la contraseña nueva y cierra todas las sesiones
    del perfil. Un enlace usado, reemplazado o vencido no cambia nada (422 en `token`)."""
    count_public_call(factory, ip, settings.public_requests_per_minute)
    with security.prehashed(body.password, check=passwords.check_password):  # Argon2 before the transaction
        return db.run(factory, access.complete_password_reset, body.token, body.password)


@router.post(
    "/v1/public/invitations/accept",
    response_model=sm.InvitationAccepted,
    responses=problem_responses(422, 429),
)
def accept_invitation(
    body: sm.AcceptInvitationIn, factory: Db, settings: AppSettings, ip: ClientIp
) -> dict[str, Any]:
    """El enlace de la invitación: define la contraseña (si la persona no tiene), confirma el correo y
    da acceso a la cuenta. Un enlace usado, reemplazado o vencido no cambia nada (422 en `token`)."""
    count_public_call(factory, ip, settings.public_requests_per_minute)
    with security.prehashed(body.password, check=passwords.check_password):
        return db.run(factory, access.accept_invitation, body.token, body.password, body.name)


# ---- signed in ----------------------------------------------------------------------------------------


@router.post(
    "/v1/users/{profile_id}/resend-invitation",
    response_model=sm.Invitation,
    responses=problem_responses(401, 404, 409),
)
def resend_invitation(profile_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Reenviar invitación a un usuario que aún no la acepta: un enlace nuevo por 7 días (el anterior
    deja de funcionar)."""
    return db.run(factory, access.resend_invitation, actor, profile_id)


@router.get("/v1/mails", response_model=sm.MailList, responses=problem_responses(401, 422))
def list_mails(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    kind: MailKind | None = None,
    status: MailStatus | None = None,
    distributor_id: Annotated[
        str | None, Query(max_length=64, description="Sólo los correos sobre este sub-distribuidor.")
    ] = None,
    invitation_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Los correos que conciernen a la cuenta (confirmaciones de sus sub-distribuidores, invitaciones,
    avisos de vencimiento), el más reciente primero: cuándo salieron, o por qué no."""
    before = decode_time_cursor(page.cursor) if page.cursor else None
    items = db.run(
        factory,
        queue.list_for_account,
        actor.account_id,
        kind=kind,
        status=status,
        about_account_id=distributor_id,
        invitation_id=invitation_id,
        limit=page.limit + 1,
        before=before,
    )
    more = len(items) > page.limit
    items = items[: page.limit]
    cursor = encode_cursor([items[-1]["created_at"], items[-1]["id"]]) if more and items else None
    return {"items": items, "next_cursor": cursor}


@router.get("/v1/account/renewal", response_model=sm.RenewalQuote, responses=problem_responses(401))
def renewal_quote(actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """La renovación de la propia cuenta: cuándo vence, si ya puede renovarse (desde 30 días antes, o
    vencida), lo que se cargará (anualidad y año completo de cada contrato) y hasta cuándo."""
    return db.run(factory, renewal.renewal_quote, actor)


@router.post("/v1/account/renew", response_model=sm.Renewed, responses=problem_responses(401, 409, 422))
def renew_own_account(actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request) -> Response:
    """Renovar mi cuenta por un año: carga a su estado de cuenta la anualidad y el año completo de cada
    MKL y suscripción activos, que se extienden con ella. Incancelable e irreversible."""
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=None,
        status_code=200,
        fn=lambda s: renewal.renew_own_account(s, actor),
    )


# ---- demo mail viewer ---------------------------------------------------------------------------------


def _viewer_folder(request: Request) -> Path:
    settings = request.app.state.settings
    if not settings.mail_viewer:
        raise not_found("La página")
    return default_mail_folder(settings)


def _demo_item(mail: OutboundMail, folder: Path) -> dict[str, Any]:
    path = folder / f"{file_stem(mail)}.eml"
    return {
        "id": mail.id,
        "kind": mail.kind,
        "to": mail.to_address,
        "subject": mail.subject,
        "status": mail.status,
        "created_at": mail.created_at,
        "sent_at": mail.sent_at,
        "file": str(path) if path.is_file() else None,
    }


_HREF = re.compile(r'href="([^"]+)"')


def _parts(path: Path) -> tuple[str, str]:
    msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return (
        text.get_content() if text is not None else "",
        html.get_content() if html is not None else "",
    )


@router.get("/v1/demo/mails", response_model=sm.DemoMailList, responses=problem_responses(401, 404, 422))
def demo_mails(actor: CurrentActor, factory: Db, page: Pagination, request: Request) -> dict[str, Any]:
    """Correo de prueba (sólo en el servidor incorporado y en la demostración, que no envían correos
    sino que los escriben como archivos .eml): todos los correos, el más reciente primero."""
    offset = 0
    if page.cursor:  # a foreign cursor is a 422 whether or not the viewer is on
        value = decode_cursor(page.cursor, 1)[0]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            decode_cursor("", 1)
        offset = int(value)
    folder = _viewer_folder(request)

    def read(session: Session) -> list[OutboundMail]:
        return list(
            session.scalars(
                select(OutboundMail)
                .order_by(OutboundMail.created_at.desc(), OutboundMail.id.desc())
                .offset(offset)
                .limit(page.limit + 1)
            )
        )

    rows = db.run(factory, read)
    more = len(rows) > page.limit
    return {
        "folder": str(folder),
        "items": [_demo_item(m, folder) for m in rows[: page.limit]],
        "next_cursor": encode_cursor([offset + page.limit]) if more else None,
    }


def _demo_mail(factory: db.SessionFactory, mail_id: str) -> OutboundMail:
    mail: OutboundMail | None = db.run(factory, lambda s: s.get(OutboundMail, mail_id))
    if mail is None:
        raise not_found("El correo")
    return mail


@router.get(
    "/v1/demo/mails/{mail_id}", response_model=sm.DemoMailContent, responses=problem_responses(401, 404)
)
def demo_mail(mail_id: str, actor: CurrentActor, factory: Db, request: Request) -> dict[str, Any]:
    """Un correo escrito como .eml: su texto, su HTML y sus enlaces (el del botón primero). Hasta que
    el remitente lo escribe (un instante), `file` es nulo y el contenido va vacío."""
    folder = _viewer_folder(request)
    mail = _demo_mail(factory, mail_id)
    item = _demo_item(mail, folder)
    text = html = ""
    if item["file"] is not None:
        text, html = _parts(Path(item["file"]))
    links = list(dict.fromkeys(_HREF.findall(html)))
    return {**item, "text": text, "html": html, "links": [link.replace("&amp;", "&") for link in links]}


@router.get(
    "/v1/demo/mails/{mail_id}/eml",
    response_class=Response,
    responses={200: {"content": {"message/rfc822": {}}}, **problem_responses(401, 404)},
)
def demo_mail_eml(mail_id: str, actor: CurrentActor, factory: Db, request: Request) -> Response:
    """El archivo .eml tal cual (para abrirlo con el programa de correo)."""
    folder = _viewer_folder(request)
    mail = _demo_mail(factory, mail_id)
    path = folder / f"{file_stem(mail)}.eml"
    if not path.is_file():
        raise not_found("El archivo del correo")
    return Response(
        path.read_bytes(),
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )
