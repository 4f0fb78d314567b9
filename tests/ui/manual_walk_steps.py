"""The manual walk's procedures that carry a dialog through to its effect (issue 14), by chapter:
Distribuidores (alta, activar, suspender/reactivar, renovar, cancelar, convertir). `w` is the walk's
`Walk` (tests/ui/test_manual_walk.py): it finds entries by their visible text and waits for effects."""

from __future__ import annotations

import datetime as dt
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import requests
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from cmdesk.ui.kit.table import select_id
from tests.ui.portal_helpers import outbound_mails, server_db

SUB_NAME = "Recorrido Distribuidor S.A. de C.V."


def type_in(editor: QLineEdit, text: str) -> None:
    editor.setText(text)
    editor.editingFinished.emit()


def message_ok(w: Any) -> str:
    """Close the information box on screen (its text)."""
    found: list[QMessageBox] = []

    def shown() -> bool:
        found[:] = [b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox) and b.isVisible()]
        return bool(found)

    w.until(shown, "el aviso en pantalla")
    text = found[-1].text()
    found[-1].done(0)
    return text


# ---- Distribuidores -------------------------------------------------------------------------------------


def distributors(w: Any) -> Any:
    return w.tab("Clientes", "Distribuidores")


def status_of(w: Any, ident: str) -> str:
    return str((w.cache.get("distributor", ident) or {}).get("status"))


def show_status(w: Any, page: Any, status: str, ident: str) -> None:
    """The state tab `status` on screen, the sub-distributor's row in it and selected."""
    page.set_status(status)
    w.until(lambda: any(str(r.get("id")) == ident for r in page.model.rows()), f"su fila en «{status}»")
    if not select_id(page.table, ident):
        raise AssertionError("no se pudo seleccionar la fila del distribuidor")


def add_distributor(w: Any) -> str:
    page = distributors(w)
    dialog = w.opens(lambda: w.use(page, "Agregar distribuidor"), "distribuidor")
    type_in(dialog.email, "admin@recorrido-distribuidor.mx")
    type_in(dialog.mobile, "9615550303")
    w.use(dialog, dialog.ok_button.text())
    w.until(lambda: dialog.step == 2, "el segundo paso del alta")
    type_in(dialog.name, SUB_NAME)
    type_in(dialog.rfc, "RDI160409AB1")
    type_in(dialog.company["postal_code"], "29000")
    dialog.company["state"].setCurrentText("Chiapas")
    w.use(dialog, dialog.ok_button.text())
    text = message_ok(w)
    w.sync()
    w.until(lambda: [d for d in w.cache.all("distributor") if d.get("name") == SUB_NAME], "el distribuidor nuevo")
    found = [d for d in w.cache.all("distributor") if d.get("name") == SUB_NAME]
    ident = str(found[0]["id"])
    w.state["sub_id"] = ident
    show_status(w, page, "unvalidated", ident)
    if status_of(w, ident) != "unvalidated":
        raise AssertionError(f"el distribuidor nuevo quedó en «{status_of(w, ident)}»")
    return f"fila en «Sin validar»; «{text.split(chr(10))[0]}»"


def confirm_from_mail(w: Any, account_id: str) -> None:
    """The new administrator follows the confirmation mail's link and chooses a password."""
    window = w.window
    newest = outbound_mails(window, "confirm_email", account_id=account_id)[-1]
    folder = window.session.server_folder() / "mail"
    w.until(lambda: any(folder.glob(f"*-confirm_email-{newest.id}.eml")), "el correo de confirmación")
    message = BytesParser(policy=policy.default).parsebytes(
        next(folder.glob(f"*-confirm_email-{newest.id}.eml")).read_bytes()
    )
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"/cuenta/confirmar\?t=([A-Za-z0-9_\-]+)", body.get_content())
    assert found, "el correo no trae el enlace de confirmación"
    r = requests.post(
        window.session.api.base_url + "/v1/public/registrations/confirm",
        json={"token": found.group(1), "password": "Recorrido2026!"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def activate(w: Any) -> str:
    ident = w.state["sub_id"]
    confirm_from_mail(w, ident)
    w.sync()
    w.until(lambda: status_of(w, ident) == "inactive", "el distribuidor confirmado, «Sin activar»")
    page = distributors(w)
    show_status(w, page, "inactive", ident)
    w.use(page, "Activar")
    question = w.answer_yes()
    w.until(lambda: status_of(w, ident) == "active", "el distribuidor activo")
    show_status(w, page, "active", ident)
    return f"confirmado por correo → «{question.split(chr(10))[0]}» → fila en «Activos»"


def suspend_and_reactivate(w: Any) -> str:
    ident = w.state["sub_id"]
    page = distributors(w)
    show_status(w, page, "active", ident)
    w.use(page, "Suspender")
    w.answer_yes()
    w.until(lambda: status_of(w, ident) == "suspended", "el distribuidor suspendido")
    show_status(w, page, "suspended", ident)
    w.use(page, "Activar")
    w.answer_yes()
    w.until(lambda: status_of(w, ident) == "active", "el distribuidor reactivado")
    show_status(w, page, "active", ident)
    return "suspendido (fila en «Suspendidos») y reactivado (fila en «Activos»)"


def renew(w: Any) -> str:
    from sqlalchemy import select

    from cmdesk.models import Account
    from cmdesk.server import db
    from cmdesk.server.operations.maintenance import run_maintenance

    ident = w.state["sub_id"]

    def expire(session: Any) -> None:  # the state the demo lacks: its year ran out
        account = session.scalars(select(Account).where(Account.id == ident)).one()
        account.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        session.flush()
        run_maintenance(session)

    with server_db(w.window) as factory:
        db.run(factory, expire)
    w.sync()
    w.until(lambda: status_of(w, ident) == "expired", "el distribuidor vencido")
    before = str(w.cache.get("distributor", ident).get("expires_at"))
    page = distributors(w)
    show_status(w, page, "expired", ident)
    w.use(page, "Renovar")
    w.answer_yes()
    w.until(lambda: status_of(w, ident) == "active", "el distribuidor renovado, activo")
    w.sync()
    w.until(lambda: str(w.cache.get("distributor", ident).get("expires_at")) > before, "su vencimiento movido")
    after = str(w.cache.get("distributor", ident).get("expires_at"))
    return f"vencido → renovado, activo; vence {after[:10]} (antes {before[:10]})"


def cancel(w: Any) -> str:
    ident = w.state["sub_id"]
    page = distributors(w)
    show_status(w, page, "active", ident)
    w.use(page, "Cancelar")
    w.answer_yes()
    w.until(lambda: status_of(w, ident) == "cancelled", "el distribuidor cancelado")
    show_status(w, page, "cancelled", ident)
    return "fila en «Cancelados»"


def convert_client(w: Any, clients_page: Any, the_client_row: Any) -> str:
    page = clients_page(w)
    row = the_client_row(w, page)
    name = str(row.data.get("name") if hasattr(row, "data") else w.cache.get("client", row.id)["name"])
    dialog = w.opens(lambda: w.menu_entry(page.context_menu_for([row]), "Convertir cliente en distribuidor").trigger())
    type_in(dialog.email, "admin@recorrido-convertido.mx")
    type_in(dialog.mobile, "9615550404")
    w.use(dialog, dialog.ok_button.text())
    text = message_ok(w)
    w.sync()
    w.until(
        lambda: any(d.get("name") == name for d in w.cache.all("distributor")), "el cliente entre los distribuidores"
    )
    ident = str(next(d for d in w.cache.all("distributor") if d.get("name") == name)["id"])
    show_status(w, distributors(w), "unvalidated", ident)
    return f"«{text.split('. ')[0]}.»; fila en «Sin validar» de Distribuidores"
