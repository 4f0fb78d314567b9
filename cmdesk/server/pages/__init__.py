"""The pages the mails' links open, served by cmdesk-server at its public base URL: confirm an
e-mail, accept an invitation (defining a password), reset a password — and ask for a reset.

Plain HTML in Spanish, usable without JavaScript (there is none), one stylesheet. Opening a link
(`GET ...?t=<token>`) changes nothing — mail scanners open links too —; it shows a form that carries
the token in a hidden field, and only its POST acts. A used, replaced, expired or unknown link shows
a page that says what happened and what to do next, and changes nothing.

Every request counts against the caller's address like the public API (`count_public_call`). The
answers are never cached, never framed, send no Referer (the token is in the URL), and the token is
kept out of the access log (`RedactTokens`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cmdesk.domain import passwords
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.server import db, security
from cmdesk.server.api.access import RESET_ANSWER, reset_policy
from cmdesk.server.api.deps import client_ip
from cmdesk.server.api.public import count_public_call
from cmdesk.server.mail import links, templates
from cmdesk.server.operations import access, distributors

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 8192
PASSWORD_HINT = (
    f"Al menos {passwords.PASSWORD_MIN_LENGTH} caracteres, con letras y números; "
    "no use una contraseña muy común."
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

# What to do next after a link that can't be used, by purpose and reason.
NEXT_STEP: dict[tuple[str, str], str] = {
    ("confirm_email", "used"): "Su correo ya quedó confirmado con este enlace. Inicie sesión en cmdesk.",
    ("confirm_email", "expired"): (
        "Los enlaces de confirmación duran 7 días. Pida a su distribuidor que le reenvíe el correo "
        "(en cmdesk: Clientes → Distribuidores → Reenviar correo)."
    ),
    ("confirm_email", "revoked"): (
        "Se le envió un correo más reciente: use el enlace de ese correo. Si no lo encuentra, pida a su "
        "distribuidor que se lo reenvíe."
    ),
    ("invitation", "used"): "Ya aceptó esta invitación. Inicie sesión en cmdesk con su correo o su móvil.",
    ("invitation", "expired"): (
        "Las invitaciones duran 7 días. Pida a quien le invitó que se la reenvíe "
        "(en cmdesk: Herramientas → Usuarios → Reenviar invitación)."
    ),
    ("invitation", "revoked"): (
        "Se le envió una invitación más reciente: use el enlace de ese correo, o pida que se la reenvíen."
    ),
    ("password_reset", "used"): (
        "Ya cambió su contraseña con este enlace. Si no la recuerda, pida un enlace nuevo."
    ),
    ("password_reset", "expired"): (
        "Los enlaces para restablecer la contraseña duran una hora. Pida un enlace nuevo."
    ),
    ("password_reset", "revoked"): (
        "Pidió otro enlace después de este: use el del correo más reciente, o pida uno nuevo."
    ),
}
UNKNOWN_STEP = (
    "Revise que abrió el enlace completo del correo (algunos programas lo cortan en dos líneas). "
    "Si el problema sigue, pida que le envíen el correo de nuevo."
)


class RedactTokens(logging.Filter):
    """Keeps link tokens (`?t=...`) out of uvicorn's access log."""

    _TOKEN = re.compile(r"([?&]t=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1[oculto]", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


def _page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates.environment().get_template(f"pages/{template}").render(**values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _problem_page(problem: links.LinkProblem, purpose: str) -> HTMLResponse:
    step = NEXT_STEP.get((purpose, problem.kind), UNKNOWN_STEP)
    return _page(
        "problem.html",
        status=400 if problem.kind == "unknown" else 410,
        title="Este enlace ya no funciona" if problem.kind != "unknown" else "Este enlace no es válido",
        message=problem.text,
        step=step,
        offer_reset=purpose == "password_reset",
    )


def _refusal_page(message: str) -> HTMLResponse:
    """A usable link the operation refused (a client's main profile, a closed account, a mobile of
    someone else): its Spanish reason, which says what to do."""
    return _page(
        "problem.html",
        status=422,
        title="No se pudo usar este enlace",
        message=message,
        step="Comuníquese con quien le envió el correo.",
        offer_reset=False,
    )


def _throttled(exc: DomainError) -> HTMLResponse:
    response = _page("message.html", status=429, title="Demasiadas solicitudes", paragraphs=[exc.detail])
    retry = exc.extra.get("retry_after") if exc.extra else None
    if isinstance(retry, int):
        response.headers["Retry-After"] = str(retry)
    return response


def _count(request: Request) -> HTMLResponse | None:
    settings = request.app.state.settings
    ip = request.client.host if request.client else ""
    try:
        count_public_call(request.app.state.session_factory, ip, settings.public_requests_per_minute)
    except DomainError as exc:
        return _throttled(exc)
    return None


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
    return {k: v[0] for k, v in parsed.items() if v}


def _field_errors(exc: DomainError) -> dict[str, str]:
    errors = {e.field: e.message for e in exc.errors}
    if not errors:
        errors["form"] = exc.detail
    return errors


def _describe(factory: db.SessionFactory, fn: Any, token: str) -> dict[str, Any] | links.LinkProblem:
    def run(session: Session) -> dict[str, Any] | links.LinkProblem:
        try:
            result: dict[str, Any] = fn(session, token)
            return result
        except links.LinkProblem as problem:
            return problem

    result: dict[str, Any] | links.LinkProblem = db.run(factory, run)
    return result


@router.get("/cuenta/estilo.css")
def stylesheet() -> Response:
    css = (templates.TEMPLATES / "pages" / "estilo.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


# ---- the three link pages ----------------------------------------------------------------------------
#
# Each opens with GET (shows the form, changes nothing) and acts on POST. `act` runs the operation and
# returns the success page; a DomainError on `token` means the link was used meanwhile (a double
# submit) when it no longer opens, else a refusal said on its own page; any other is shown beside the
# fields.

Describe = Callable[[Session, str], dict[str, Any]]
Act = Callable[[db.SessionFactory, str, dict[str, str], dict[str, Any]], HTMLResponse]


def _open(request: Request, token: str, purpose: str, describe: Describe, template: str) -> Response:
    if (throttled := _count(request)) is not None:
        return throttled
    info = _describe(request.app.state.session_factory, describe, token)
    if isinstance(info, links.LinkProblem):
        return _problem_page(info, purpose)
    if info.get("refusal"):  # told before a password is typed for nothing
        return _refusal_page(str(info["refusal"]))
    return _page(template, token=token, info=info, errors={}, hint=PASSWORD_HINT, name=info["profile_name"])


async def _submit(request: Request, purpose: str, describe: Describe, template: str, act: Act) -> Response:
    if (throttled := _count(request)) is not None:
        return throttled
    form = await _form(request)
    token = form.get("t", "")
    factory = request.app.state.session_factory
    info = _describe(factory, describe, token)
    if isinstance(info, links.LinkProblem):
        return _problem_page(info, purpose)
    errors: dict[str, str] = {}
    if info.get("needs_password", True) and form.get("password", "") != form.get("password2", ""):
        errors["password2"] = "Las dos contraseñas no coinciden: escríbala igual en ambos campos."
    if not errors:
        try:
            return act(factory, token, form, info)
        except DomainError as exc:
            refusal = next((e.message for e in exc.errors if e.field == "token"), None)
            if refusal is not None:
                again = _describe(factory, describe, token)
                if isinstance(again, links.LinkProblem):  # used meanwhile (a double submit)
                    return _problem_page(again, purpose)
                return _refusal_page(refusal)  # the link works, but not for this person or account
            errors = _field_errors(exc)
    name = form.get("name", "").strip()
    return _page(template, status=422, token=token, info=info, errors=errors, hint=PASSWORD_HINT, name=name)


def _signed_in_with(password: str | None, usual: str) -> str:
    return " y la contraseña que acaba de elegir." if password else f" y {usual}."


def _confirm(
    factory: db.SessionFactory, token: str, form: dict[str, str], info: dict[str, Any]
) -> HTMLResponse:
    password = form.get("password") if info["needs_password"] else None
    with security.prehashed(password, check=passwords.check_password):  # Argon2 before the transaction
        result = db.run(factory, distributors.confirm_email, token, password)
    paragraphs = [f"El correo {info['email']} quedó confirmado."]
    if result["confirmed_account_ids"]:
        paragraphs.append(
            f"Su Cuenta Maestra {info['account_name']} (NIC {info['account_nic']}) está ahora "
            "«Sin activar»: su distribuidor debe activarla para que pueda usarla."
        )
    paragraphs.append(
        "Podrá iniciar sesión en cmdesk con su correo o su número móvil"
        + _signed_in_with(password, "su contraseña")
    )
    return _page("message.html", title="¡Listo! Su correo quedó confirmado", paragraphs=paragraphs)


def _accept(
    factory: db.SessionFactory, token: str, form: dict[str, str], info: dict[str, Any]
) -> HTMLResponse:
    password = form.get("password") if info["needs_password"] else None
    name = form.get("name", "").strip()
    with security.prehashed(password, check=passwords.check_password):
        result = db.run(factory, access.accept_invitation, token, password, name or None)
    account = result["account"]
    return _page(
        "message.html",
        title="¡Bienvenido! Ya tiene acceso",
        paragraphs=[
            f"Ya puede usar la Cuenta Maestra {account['name']} (NIC {account['nic']}).",
            f"Inicie sesión en cmdesk con su correo {result['profile']['email']} o su número móvil"
            + _signed_in_with(password, "su contraseña de siempre"),
        ],
    )


def _reset(
    factory: db.SessionFactory, token: str, form: dict[str, str], info: dict[str, Any]
) -> HTMLResponse:
    with security.prehashed(form.get("password", ""), check=passwords.check_password):
        db.run(factory, access.complete_password_reset, token, form.get("password", ""))
    return _page(
        "message.html",
        title="Su contraseña cambió",
        paragraphs=[
            f"La contraseña del perfil {info['email']} es ahora la que acaba de elegir.",
            "Inicie sesión en cmdesk con ella. Las sesiones abiertas con la contraseña anterior se cerraron.",
        ],
    )


@router.get("/cuenta/confirmar")
def confirm_page(request: Request, t: str = "") -> Response:
    return _open(request, t, "confirm_email", distributors.describe_confirmation, "confirm.html")


@router.post("/cuenta/confirmar")
async def confirm_submit(request: Request) -> Response:
    return await _submit(
        request, "confirm_email", distributors.describe_confirmation, "confirm.html", _confirm
    )


@router.get("/cuenta/invitacion")
def invitation_page(request: Request, t: str = "") -> Response:
    return _open(request, t, "invitation", access.describe_invitation, "invitation.html")


@router.post("/cuenta/invitacion")
async def invitation_submit(request: Request) -> Response:
    return await _submit(request, "invitation", access.describe_invitation, "invitation.html", _accept)


@router.get("/cuenta/restablecer")
def reset_page(request: Request, t: str = "") -> Response:
    return _open(request, t, "password_reset", access.describe_reset, "reset.html")


@router.post("/cuenta/restablecer")
async def reset_submit(request: Request) -> Response:
    return await _submit(request, "password_reset", access.describe_reset, "reset.html", _reset)


# ---- ask for a reset ----------------------------------------------------------------------------------


@router.get("/cuenta/olvide")
def forgot_page(request: Request) -> Response:
    return _page("forgot.html", errors={}, login="")


@router.post("/cuenta/olvide")
async def forgot_submit(request: Request) -> Response:
    if (throttled := _count(request)) is not None:
        return throttled
    form = await _form(request)
    login = form.get("login", "").strip()[:254]
    if not login:
        return _page(
            "forgot.html",
            status=422,
            errors={"login": "Escriba su correo electrónico o número móvil."},
            login="",
        )
    settings = request.app.state.settings
    try:
        access.request_password_reset(
            request.app.state.session_factory,
            login,
            policy=reset_policy(settings),
            source=client_ip(request),
        )
    except DomainError as exc:
        if exc.code is ErrorCode.TOO_MANY_ATTEMPTS:
            return _throttled(exc)
        return _page("forgot.html", status=422, errors=_field_errors(exc), login=login)
    return _page("message.html", title="Revise su correo", paragraphs=[RESET_ANSWER])
