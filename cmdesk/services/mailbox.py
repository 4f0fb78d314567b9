"""The embedded server's test mails read straight from their folder (`<server folder>/mail`, standard
.eml files named `<yyyymmdd-hhmmss>-<kind>-<id>.eml`): what Ayuda → Correos de prueba shows while
nobody is signed in (after ¿Olvidó su contraseña?, say), when `GET /v1/demo/mails` can't be asked.
The items have the fields of that endpoint (`id`, `kind`, `to`, `subject`, `created_at`, `file`) and
`read_mail` adds `text`, `html` and `links` (the button's first), as `GET /v1/demo/mails/{id}` does.
"""

from __future__ import annotations

import datetime as dt
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

MAIL_FOLDER = "mail"
_NAME = re.compile(r"^(\d{8}-\d{6})-([a-z_]+)-(.+)$")
_HREF = re.compile(r'href="([^"]+)"')


def _parse(path: Path, *, headers_only: bool) -> EmailMessage:
    parser = BytesParser(policy=policy.default)
    with path.open("rb") as handle:
        message = parser.parse(handle, headersonly=headers_only)
    assert isinstance(message, EmailMessage)
    return message


def _item(path: Path, message: EmailMessage) -> dict[str, Any]:
    match = _NAME.match(path.stem)
    created: dt.datetime | None = None
    if message["Date"]:
        try:
            created = parsedate_to_datetime(str(message["Date"])).astimezone(dt.UTC)
        except (TypeError, ValueError):
            created = None
    if created is None and match:
        created = dt.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=dt.UTC)
    return {
        "id": match.group(3) if match else path.stem,
        "kind": match.group(2) if match else "",
        "to": parseaddr(str(message["To"] or ""))[1],
        "subject": str(message["Subject"] or ""),
        "status": "sent",
        "created_at": created.isoformat() if created else None,
        "file": str(path),
    }


def list_mails(folder: Path, limit: int = 200) -> dict[str, Any]:
    """The newest `limit` mails of the folder (none when it does not exist yet)."""
    paths = sorted(folder.glob("*.eml"), reverse=True)[:limit] if folder.is_dir() else []
    items = []
    for path in paths:
        try:
            items.append(_item(path, _parse(path, headers_only=True)))
        except (OSError, ValueError):
            continue  # a file being replaced, or not a mail: the next refresh shows it
    return {"folder": str(folder), "items": items, "next_cursor": None}


def read_mail(path: Path) -> dict[str, Any]:
    """One mail: its fields, its text, its HTML and its links (the button's first)."""
    message = _parse(path, headers_only=False)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    html_text = html.get_content() if html is not None else ""
    links = [link.replace("&amp;", "&") for link in dict.fromkeys(_HREF.findall(html_text))]
    return {
        **_item(path, message),
        "text": text.get_content() if text is not None else "",
        "html": html_text,
        "links": links,
    }
