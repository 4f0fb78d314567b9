"""cmdesk.services.mailbox: the embedded server's .eml files read straight from their folder (the list
newest first with the fields of the server's demo viewer, one mail's text, HTML and links), and what it
does with a folder that is missing or holds something that is not a mail."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from cmdesk.services import mailbox


def write(folder: Path, stem: str, subject: str, link: str) -> Path:
    message = EmailMessage()
    message["From"] = "Cuenta Maestra <no-responder@localhost>"
    message["To"] = "Luz Clara <demo@cmdesk.mx>"
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC))
    message.set_content(f"Hola.\n\nSiga este enlace: {link}\n")
    message.add_alternative(
        f'<p>Hola.</p><p><a href="{link}">Elegir una contraseña nueva</a></p>', subtype="html"
    )
    path = folder / f"{stem}.eml"
    path.write_bytes(message.as_bytes())
    return path


def test_lists_newest_first_and_reads_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        "20261206-020000-invitation-aaa",
        "Invitación",
        "http://127.0.0.1:1/cuenta/invitacion?t=x&amp;y=1",
    )
    newest = write(
        tmp_path,
        "20261206-020105-password_reset-bbb",
        "Restablezca su contraseña",
        "http://h/cuenta/restablecer?t=abc",
    )
    (tmp_path / "notas.txt").write_text("no es un correo", encoding="utf-8")
    listed = mailbox.list_mails(tmp_path)
    assert listed["folder"] == str(tmp_path)
    assert [(m["id"], m["kind"]) for m in listed["items"]] == [
        ("bbb", "password_reset"),
        ("aaa", "invitation"),
    ]
    first = listed["items"][0]
    assert first["to"] == "demo@cmdesk.mx" and first["subject"] == "Restablezca su contraseña"
    assert first["file"] == str(newest) and first["created_at"].startswith("2026-12-06T02:00")
    mail = mailbox.read_mail(newest)
    assert mail["links"] == ["http://h/cuenta/restablecer?t=abc"]
    assert "Siga este enlace" in mail["text"] and "<a href=" in mail["html"]
    other = mailbox.read_mail(tmp_path / "20261206-020000-invitation-aaa.eml")
    assert other["links"] == ["http://127.0.0.1:1/cuenta/invitacion?t=x&y=1"]


def test_a_missing_folder_has_no_mails(tmp_path: Path) -> None:
    assert mailbox.list_mails(tmp_path / "mail") == {
        "folder": str(tmp_path / "mail"),
        "items": [],
        "next_cursor": None,
    }
