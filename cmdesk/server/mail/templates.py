"""The Spanish mails (HTML with a plain-text alternative) and how a queued row becomes a message.

Every kind has a subject (rendered when the mail is queued and stored, so lists can show it) and two
Jinja templates under `cmdesk/resources/templates/mail/` (`<kind>.html`, `<kind>.txt`), rendered when
the mail is sent with the row's `params`, the link (if the kind carries a token) and the helpers
below. Dates are shown in Mexico City time as dd/mm/aaaa.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmdesk.domain import clock
from cmdesk.domain.money import format_mxn

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"
MEXICO_CITY = clock.FIXED  # the business day's fixed offset


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # what the desktop and the CLI call it
    subject: str  # a Jinja expression over `p` (the params)
    link_path: str | None = None  # the page its link opens (with ?t=<token>)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "confirm_email",
            "Confirmación de correo",
            "Confirme su correo: Cuenta Maestra {{ p.account_name }} (NIC {{ p.account_nic }})",
            "/cuenta/confirmar",
        ),
        Kind(
            "invitation",
            "Invitación de usuario",
            "Invitación a la Cuenta Maestra {{ p.account_name }} (NIC {{ p.account_nic }})",
            "/cuenta/invitacion",
        ),
        Kind(
            "password_reset",
            "Restablecer contraseña",
            "Restablezca su contraseña de Cuenta Maestra",
            "/cuenta/restablecer",
        ),
        Kind(
            "expiry_reminder",
            "Aviso de vencimiento",
            "Su Cuenta Maestra {{ p.account_name }} (NIC {{ p.account_nic }}) "
            "{% if p.days_left <= 1 %}vence mañana{% else %}vence en {{ p.days_left }} días{% endif %}",
        ),
        Kind(
            "notice",
            "Aviso",
            "{{ p.title }}{% if p.account_nic %} · NIC {{ p.account_nic }}{% endif %}",
        ),
    )
}

STATUS_LABEL = {
    "queued": "En cola",
    "sending": "Enviando",
    "sent": "Enviado",
    "failed": "No se pudo enviar",
    "cancelled": "No se envió (el enlace ya no era necesario)",
}


def local_date(value: Any) -> str:
    """dd/mm/aaaa in Mexico City of a datetime, an ISO text or a date."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(MEXICO_CITY).date()
    if isinstance(value, dt.date):
        return str(value.strftime("%d/%m/%Y"))
    return str(value)


def local_datetime(value: dt.datetime) -> str:
    return value.astimezone(MEXICO_CITY).strftime("%d/%m/%Y %H:%M")


@cache
def environment() -> jinja2.Environment:
    # Imported at the first mail, not with the routes: it would add to the embedded server's start.
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fecha"] = local_date
    env.filters["pesos"] = format_mxn
    env.filters["hora"] = lambda value: value.astimezone(MEXICO_CITY).strftime("%H:%M")
    return env


def subject_for(kind: str, params: dict[str, Any]) -> str:
    text = environment().from_string(KINDS[kind].subject).render(p=params)
    # A header is one line; names typed by people can't add lines to it.
    return re.sub(r"\s+", " ", text).strip()[:300]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    link: str | None


def render(kind: str, params: dict[str, Any], *, subject: str, link: str | None) -> Rendered:
    env = environment()
    values = {"p": params, "link": link, "subject": subject, "kind": KINDS[kind]}
    text = env.get_template(f"mail/{kind}.txt").render(values)
    html = env.get_template(f"mail/{kind}.html").render(values)
    return Rendered(subject, text, html, link)


def link_for(kind: str, base_url: str, token: str) -> str:
    path = KINDS[kind].link_path
    assert path is not None
    return f"{base_url.rstrip('/')}{path}?t={token}"


def parse_from(value: str) -> Address:
    """The sender address of `CMDESK_MAIL_FROM` ("Nombre <correo>" or a bare address)."""
    name, addr = parseaddr(value)
    if not addr or "@" not in addr:
        raise ValueError(f"CMDESK_MAIL_FROM no es una dirección de correo válida: {value!r}")
    user, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=user, domain=domain)


def message_id_for(mail_id: str, mail_from: str) -> str:
    return f"<{mail_id}@{parse_from(mail_from).domain}>"


def build_message(
    *,
    rendered: Rendered,
    mail_from: str,
    to_address: str,
    to_name: str,
    message_id: str,
    mail_id: str,
    created_at: dt.datetime,
) -> EmailMessage:
    """The MIME message: multipart/alternative, plain text first (the fallback), then HTML."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = parse_from(mail_from)
    user, _, domain = to_address.rpartition("@")
    msg["To"] = Address(display_name=re.sub(r"[\r\n]+", " ", to_name), username=user, domain=domain)
    msg["Date"] = format_datetime(created_at.astimezone(dt.UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Cmdesk-Mail-Id"] = mail_id
    msg.set_content(rendered.text, cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return msg


def params_of(raw: str) -> dict[str, Any]:
    value = json.loads(raw or "{}")
    return value if isinstance(value, dict) else {}


def recipients(msg: EmailMessage) -> list[str]:
    return [addr for _name, addr in getaddresses(msg.get_all("To", []))]
