"""The manual walk's procedures whose dialogs take several steps, carried to their effect (issue 14),
in the manual's order: Clientes (the main profile), Administrar CTI (usar MKL), Distribuidores (alta,
activar, suspender/reactivar, renovar, cancelar, convertir), Facturación (códigos de abono), Compras
(MKL, suscripciones), Software (a download) and Herramientas (packages, users, global settings).

`w` is the walk's `Walk` (tests/ui/test_manual_walk.py): it finds entries by their visible text and
waits for effects. Where the demo lacks a state a procedure needs (a portal profile without a Cuenta
Maestra, an expired sub-distributor, Multinivel not yet contracted), it is made on the embedded
server, as the portal or its maintenance would, before the procedure is done through the widgets."""

from __future__ import annotations

import datetime as dt
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import requests
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from cmdesk.ui.compras.page import annual_price_cents
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


def press(w: Any, within: Any, text: str, prepare: Any = None) -> None:
    """Use the entry showing `text` once it is available (buttons follow the selection a moment later);
    `prepare()` runs before each look (to select a row again, if a reload dropped the selection)."""

    def available() -> bool:
        if prepare is not None:
            prepare()
        try:
            w.entry(within, text)
        except AssertionError:
            return False
        return True

    w.until(available, f"«{text}» disponible")
    w.use(within, text)


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


def act(w: Any, page: Any, ident: str, text: str) -> None:
    """Use `text` on the sub-distributor's row (selected again, if a reload dropped the selection)."""

    def reselect() -> None:
        if str((page.selected() or {}).get("id")) != ident:
            select_id(page.table, ident)

    press(w, page, text, reselect)


def add_distributor(w: Any) -> str:
    page = distributors(w)
    dialog = w.opens(lambda: w.use(page, "Agregar distribuidor"), "distribuidor")
    type_in(dialog.email, "admin@recorrido-distribuidor.mx")
    type_in(dialog.mobile, "9615550303")
    press(w, dialog, dialog.ok_button.text())
    w.until(lambda: dialog.step == 2, "el segundo paso del alta")
    type_in(dialog.name, SUB_NAME)
    type_in(dialog.rfc, "RDI160409AB1")
    type_in(dialog.company["postal_code"], "29000")
    dialog.company["state"].setCurrentText("Chiapas")
    press(w, dialog, dialog.ok_button.text())
    text = message_ok(w)
    w.sync()
    w.until(
        lambda: [d for d in w.cache.all("distributor") if d.get("name") == SUB_NAME], "el distribuidor nuevo"
    )
    found = [d for d in w.cache.all("distributor") if d.get("name") == SUB_NAME]
    ident = str(found[0]["id"])
    w.state["sub_id"] = ident
    show_status(w, page, "unvalidated", ident)
    if status_of(w, ident) != "unvalidated":
        raise AssertionError(f"el distribuidor nuevo quedó en «{status_of(w, ident)}»")
    nic = re.search(r"NIC \d+", text)
    return f"creado ({nic.group(0) if nic else text}): fila en «Sin validar»"


def mail_token(w: Any, mail: Any, link: str) -> str:
    """The token of the `link` (e.g. "/cuenta/confirmar") in the server's `mail`, once its .eml is
    written (what the person clicks in their inbox)."""
    folder = w.window.session.server_folder() / "mail"
    w.until(lambda: any(folder.glob(f"*-{mail.id}.eml")), f"el correo {mail.kind}")
    message = BytesParser(policy=policy.default).parsebytes(
        next(folder.glob(f"*-{mail.id}.eml")).read_bytes()
    )
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(re.escape(link) + r"\?t=([A-Za-z0-9_\-]+)", body.get_content())
    assert found, f"el correo no trae el enlace {link}"
    return found.group(1)


def confirm_from_mail(w: Any, account_id: str) -> None:
    """The new administrator follows the confirmation mail's link and chooses a password."""
    newest = outbound_mails(w.window, "confirm_email", account_id=account_id)[-1]
    r = requests.post(
        w.window.session.api.base_url + "/v1/public/registrations/confirm",
        json={"token": mail_token(w, newest, "/cuenta/confirmar"), "password": "Recorrido2026!"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def change_state(w: Any, button: str, before: str, after: str) -> None:
    """From the state tab `before`, press `button` on the sub-distributor, say yes; its row in `after`."""
    ident = w.state["sub_id"]
    page = distributors(w)
    show_status(w, page, before, ident)
    act(w, page, ident, button)
    w.answer_yes()
    w.until(lambda: status_of(w, ident) == after, f"el distribuidor en «{after}»")
    show_status(w, page, after, ident)


def activate(w: Any) -> str:
    ident = w.state["sub_id"]
    confirm_from_mail(w, ident)
    w.sync()
    w.until(lambda: status_of(w, ident) == "inactive", "el distribuidor confirmado, «Sin activar»")
    change_state(w, "Activar", "inactive", "active")
    return "confirmado por correo → «Activar» → fila en «Activos»"


def suspend_and_reactivate(w: Any) -> str:
    change_state(w, "Suspender", "active", "suspended")
    change_state(w, "Activar", "suspended", "active")
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
    change_state(w, "Renovar", "expired", "active")
    w.sync()
    w.until(
        lambda: str(w.cache.get("distributor", ident).get("expires_at")) > before, "su vencimiento movido"
    )
    after = str(w.cache.get("distributor", ident).get("expires_at"))
    return f"vencido → renovado, activo; vence {after[:10]} (antes {before[:10]})"


def cancel(w: Any) -> str:
    change_state(w, "Cancelar", "active", "cancelled")
    return "fila en «Cancelados»"


def convert_client(w: Any, clients_page: Any, the_client_row: Any) -> str:
    page = clients_page(w)
    row = the_client_row(w, page)
    name = str(row.data.get("name") if hasattr(row, "data") else w.cache.get("client", row.id)["name"])
    dialog = w.opens(
        lambda: w.menu_entry(page.context_menu_for([row]), "Convertir cliente en distribuidor").trigger()
    )
    type_in(dialog.email, "admin@recorrido-convertido.mx")
    type_in(dialog.mobile, "9615550404")
    press(w, dialog, dialog.ok_button.text())
    text = message_ok(w)
    w.sync()
    w.until(
        lambda: any(d.get("name") == name for d in w.cache.all("distributor")),
        "el cliente entre los distribuidores",
    )
    ident = str(next(d for d in w.cache.all("distributor") if d.get("name") == name)["id"])
    show_status(w, distributors(w), "unvalidated", ident)
    return f"«{text.split(' (NIC')[0]}»; fila en «Sin validar» de Distribuidores"


# ---- Herramientas ---------------------------------------------------------------------------------------


def price_package(for_distributors: bool) -> Any:
    quantity, price, cents = (450, "$1,800.00", 180_000) if for_distributors else (350, "$1,575.00", 157_500)

    def step(w: Any) -> str:
        page = w.tab("Herramientas", "Precios")
        w.until(lambda: page.model.rowCount() > 0, "los paquetes")
        dialog = w.opens(lambda: w.use(page, "Agregar"), "paquete")
        dialog.asset.setCurrentIndex(dialog.asset.findData("stamps"))
        dialog.quantity.setValue(quantity)
        type_in(dialog.price, price)
        dialog.for_distributors.setChecked(for_distributors)
        press(w, dialog, dialog.ok_button.text())

        def row() -> dict[str, Any] | None:
            return next(
                (
                    r
                    for r in page.model.rows()
                    if r.get("quantity") == quantity and bool(r.get("for_distributors")) == for_distributors
                ),
                None,
            )

        w.until(lambda: (row() or {}).get("price_cents") == cents, "la fila del paquete con su precio")
        w.until(
            lambda: any(
                p.get("quantity") == quantity and p.get("price_cents") == cents
                for p in w.cache.all("price_package")
            ),
            "el paquete en los datos",
        )
        found = row()
        assert found is not None
        texts = page.model.row_texts(page.model.row_of(str(found["id"])))
        return f"fila «{quantity} timbres, {price}» para «{texts[4]}»"

    return step


USER_EMAIL, USER_MOBILE, USER_NAME = "perfil.recorrido@ejemplo.mx", "9615550505", "Perfil del Recorrido"


def user_row(page: Any, **fields: Any) -> dict[str, Any] | None:
    return next((r for r in page.model.rows() if all(r.get(k) == v for k, v in fields.items())), None)


def new_user(w: Any) -> str:
    page = w.tab("Herramientas", "Usuarios")
    w.until(lambda: page.model.rowCount() > 0, "los usuarios")
    dialog = w.opens(lambda: w.use(page, "Nuevo usuario"), "usuario")
    type_in(dialog.email, USER_EMAIL)
    type_in(dialog.mobile, USER_MOBILE)
    press(w, dialog, dialog.ok_button.text())
    w.until(lambda: dialog.step == 2, "el segundo paso")
    type_in(dialog.name, USER_NAME)
    press(w, dialog, "Agregar usuario")
    w.until(lambda: (user_row(page, email=USER_EMAIL) or {}).get("pending"), "la fila del invitado")
    # The person accepts from the invitation's e-mail (the link's token, with their new password).
    newest = outbound_mails(w.window, "invitation", to_address=USER_EMAIL)[-1]
    token = mail_token(w, newest, "/cuenta/invitacion")
    accepted = requests.post(
        w.window.session.api.base_url + "/v1/public/invitations/accept",
        json={"token": token, "password": "Perfil-Recorrido-2026"},
        timeout=30,
    )
    assert accepted.status_code == 200, accepted.text
    w.sync()
    w.until(
        lambda: not (user_row(page, email=USER_EMAIL) or {"pending": True}).get("pending"),
        "el usuario aceptado",
    )
    users = w.window.session.api.get("/v1/users")["items"]
    if not [u for u in users if u["email"] == USER_EMAIL and u["member_since"]]:
        raise AssertionError("el servidor no lista al usuario nuevo como miembro")
    return f"invitado, aceptó por correo: fila de {USER_EMAIL}, miembro"


def remove_user(w: Any) -> str:
    page = w.tab("Herramientas", "Usuarios")
    w.until(lambda: user_row(page, email=USER_EMAIL), "la fila del usuario")
    master = page.model.row(0)
    if page.model.row_texts(0)[5] != "Usuario maestro":
        raise AssertionError("la primera fila no es el usuario maestro")
    select_id(page.table, str(master["id"]))
    press(w, page, "Eliminar")
    w.answer_yes()
    refusal = message_ok(w)
    if "No se puede eliminar al usuario maestro" not in refusal:
        raise AssertionError(f"el maestro no se rechazó: {refusal}")
    user = user_row(page, email=USER_EMAIL)
    assert user is not None
    select_id(page.table, str(user["id"]))
    press(w, page, "Eliminar")
    w.answer_yes()
    w.until(lambda: user_row(page, email=USER_EMAIL) is None, "la fila del usuario quitada")
    if [u for u in w.window.session.api.get("/v1/users")["items"] if u["email"] == USER_EMAIL]:
        raise AssertionError("el servidor aún lista al usuario eliminado")
    if user_row(page, id=master["id"]) is None:
        raise AssertionError("el maestro desapareció")
    return "el maestro se rechaza («No se puede eliminar al usuario maestro»); el otro, fila quitada"


def settings(w: Any) -> str:
    page = w.tab("Herramientas", "Configuraciones globales")
    w.until(lambda: page.edit_button.isEnabled(), "la configuración leída")
    before = int(w.cache.all("settings")[0].get("bulk_stamp_price_cents") or 0)
    wanted = before + 55
    press(w, page, "Editar")
    type_in(page.price, f"{wanted / 100:.2f}")
    press(w, page, "Guardar")
    w.until(lambda: not page.editing, "la configuración guardada")
    w.sync()
    w.until(
        lambda: int(w.cache.all("settings")[0].get("bulk_stamp_price_cents") or 0) == wanted,
        "el precio global nuevo en los datos",
    )
    return (
        f"precio global ${before / 100:.2f} → ${wanted / 100:.2f}, leído de los datos; «{page.notice.text()}»"
    )


# ---- Clientes: el perfil principal ----------------------------------------------------------------------

MAIN_EMAIL, MAIN_MOBILE = "dueno@recorrido-cliente.mx", "9615550606"


def main_profile(w: Any, clients_page: Any, the_client_row: Any) -> str:
    from cmdesk.models import Profile
    from cmdesk.server import db

    # The client's owner registered in the portal by himself (a profile with no Cuenta Maestra): the
    # state the demo lacks, made on the server as the portal's sign-up would.
    def register(session: Any) -> None:
        session.add(Profile(name="Dueño del Recorrido", email=MAIN_EMAIL, mobile=MAIN_MOBILE))

    with server_db(w.window) as factory:
        db.run(factory, register)
    page = clients_page(w)
    row = the_client_row(w, page)
    dialog = w.opens(lambda: w.menu_entry(page.context_menu_for([row]), "Asignar perfil admin").trigger())
    type_in(dialog.email, MAIN_EMAIL)
    type_in(dialog.mobile, MAIN_MOBILE)
    press(w, dialog, "Guardar")
    w.sync()

    def assigned() -> bool:
        profile = w.cache.get("client", row.id).get("admin_profile") or {}
        return bool(profile.get("email") == MAIN_EMAIL)

    w.until(assigned, "el perfil principal del cliente en los datos")
    return f"perfil principal {MAIN_EMAIL}, leído de los datos del cliente"


# ---- Administrar CTI: usar MKL ---------------------------------------------------------------------------


def use_mkl(w: Any, client_window: Any) -> str:
    window = client_window(w)
    tabs = window.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Licencias"))
    client_id = w.state["client_id"]

    def licenses() -> int:
        return len([x for x in w.cache.all("license") if x.get("client_id") == client_id])

    before = licenses()
    w.until(lambda: window.mkl.count() > 0, "los MKL contratados")
    product = window.mkl.currentText()
    window.license_count.setValue(2)
    press(w, window, "Generar licencias")
    w.until(lambda: window.license_message.isVisible(), "la respuesta del servidor")
    text = window.license_message.text()
    if "Se generaron 2 licencias" not in text:
        raise AssertionError(f"no se generaron las licencias: {text}")
    w.sync()
    w.until(lambda: licenses() == before + 2, "las licencias del cliente en los datos")
    window.close()
    return f"2 licencias de {product} para el cliente, en sus datos"


# ---- Facturación: códigos de abono ----------------------------------------------------------------------


def invoice_codes(w: Any) -> str:
    page = w.tab("Facturación")
    codes = page.codes
    page.tabs.setCurrentWidget(codes)
    before = int(w.cache.account()["balances"]["stamps"])
    dialog = w.opens(lambda: w.use(codes, "Generar código de abono"))
    dialog.quantity.setValue(15)
    type_in(dialog.amount, "90.00")
    press(w, dialog, dialog.ok_button.text())
    w.until(lambda: type(codes.dialog).__name__ == "CodeIssuedDialog", "el código generado")
    issued = codes.dialog
    code = issued.code_label.text()
    press(w, issued, "Cerrar")

    def row() -> dict[str, Any] | None:
        return next((r for r in codes.model.rows() if r.get("code") == code), None)

    w.until(row, "la fila del código")
    w.until(lambda: int(w.cache.account()["balances"]["stamps"]) == before - 15, "los timbres apartados")
    found = row()
    assert found is not None
    codes.model.set_checked(found["id"], True)
    dialog = w.opens(lambda: w.use(codes, "Facturar seleccionados"))
    type_in(dialog.reference, "F-RECORRIDO-CODIGOS")
    press(w, dialog, dialog.ok_button.text())
    w.sync()
    w.until(lambda: (row() or {}).get("invoice_id"), "el código facturado")
    texts = codes.model.row_texts(codes.model.find(found["id"]))
    invoice = next(i for i in w.cache.all("invoice") if i.get("id") == (row() or {}).get("invoice_id"))
    return f"código {code} de 15 timbres, $90.00 (saldo −15); «{texts[-1]}» en {invoice.get('reference')}"


# ---- Compras: contratos ---------------------------------------------------------------------------------


def without_multinivel(w: Any) -> None:
    """The demo has its one subscription (Multinivel) contracted: end that contract on the server (as
    a distributor who has not contracted it yet), so that Compras offers it again."""
    from sqlalchemy import select

    from cmdesk.domain.enums import MULTINIVEL_CODE, ContractStatus
    from cmdesk.models import Contract
    from cmdesk.server import db, feed

    def end(session: Any) -> None:
        for row in session.scalars(select(Contract).where(Contract.catalog_code == MULTINIVEL_CODE)):
            row.status = ContractStatus.CANCELLED.value
            session.flush()
            feed.record(session, "contract", row.id, [row.account_id])

    with server_db(w.window) as factory:
        db.run(factory, end)
    w.sync()
    w.until(
        lambda: (
            not [
                c
                for c in w.cache.all("contract")
                if c.get("code") == MULTINIVEL_CODE and c.get("status") == ContractStatus.ACTIVE.value
            ]
        ),
        "Multinivel sin contratar",
    )


def contract(kind: str) -> Any:
    def step(w: Any) -> str:
        if kind == "subscriptions":
            without_multinivel(w)
        page = w.tab("Compras")
        tab = page.mkl if kind == "mkl" else page.subscriptions
        page.tabs.setCurrentWidget(tab)
        w.until(lambda: tab.model.rowCount() > 0 and tab.buttons, "el catálogo")
        rows = [r for r in tab.model.records() if not r.get("contracted")]
        if not rows:
            raise AssertionError("no queda un producto sin contratar")
        rows.sort(key=lambda r: (bool(annual_price_cents(r)), str(r["code"])))  # a free one first
        code, name = str(rows[0]["code"]), str(rows[0].get("name"))
        text = tab.buttons[code].text()
        tab.buttons[code].click()
        w.until(lambda: tab.dialog is not None and tab.dialog.isVisible(), "la cotización")
        quote = tab.dialog.quote
        press(w, tab.dialog, tab.dialog.ok_button.text())
        w.until(lambda: code in tab.buttons and tab.buttons[code].text() == "Contratado", "«Contratado»")
        w.until(
            lambda: any(c.get("code") == code for c in w.cache.all("contract")), "el contrato en los datos"
        )
        amount = int(quote.get("amount_cents") or 0)
        return f"«{text}» {name} ({'sin costo' if not amount else f'${amount / 100:,.2f}'}) → «Contratado»"

    return step


# ---- Software ------------------------------------------------------------------------------------------


def download(w: Any) -> str:
    from pathlib import Path

    from PySide6.QtGui import QGuiApplication

    from cmdesk.services.downloads import DownloadState
    from cmdesk.services.downloads.store import sha256_file

    page = w.tab("Software")
    w.until(lambda: page.catalog_loaded and page.manager is not None, "el catálogo de software")
    page.expand_all()
    row = min(page.model.files(), key=lambda f: f.info.size)
    buttons = page.actions_by_file[row.info.id]
    w.until(lambda: buttons.buttons["download"].isVisibleTo(page), "«Descargar»")
    if w._plain(buttons.buttons["download"].text()) != "Descargar":
        raise AssertionError(f"el botón dice «{buttons.buttons['download'].text()}»")
    buttons.buttons["download"].click()

    def state() -> Any:
        status = page.status_of(row.info.id)
        return status.state if status is not None else None

    w.until(lambda: state() == DownloadState.AVAILABLE, "la descarga terminada")
    buttons.buttons["copyPath"].click()
    path = Path(QGuiApplication.clipboard().text())
    if not path.is_file() or path.stat().st_size != row.info.size:
        raise AssertionError(f"el archivo descargado no está o no mide {row.info.size} bytes: {path}")
    if sha256_file(path) != row.info.sha256:
        raise AssertionError("el archivo descargado no es el del servidor (SHA-256)")
    return f"{row.info.file_name}: {path.stat().st_size:,} bytes en disco, su SHA-256 el del catálogo"
