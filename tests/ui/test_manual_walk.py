"""The executable walk of the manual (issue 14): every procedure of *Cuenta Maestra*'s manual, chapter by
chapter and in the manual's order, performed through the real widgets of the main window against the
embedded default.

Each procedure starts where the manual says — a tab reached by its title, then a button, a context
menu entry or a window's button found by its **visible text** — so a missing entry point fails the walk
("no se encontró «…»"). Then it does what the manual describes and checks the effect: the cache's
balances, states and rows, the table's row, the server's answer (the stamping endpoint, where the rule
only shows there), a file on disk. The procedures whose dialogs take several steps live by chapter in
`manual_walk_steps.py`. The walk prints one row per procedure — chapter, procedure, result (the effect
seen) — (run it with `pytest -s tests/ui/test_manual_walk.py`), and fails at the first procedure that
can't be done.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLineEdit,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from cmdesk.services.outbox import CommandState
from cmdesk.ui.clientes.client_form import ClientForm
from cmdesk.ui.clientes.detail import ClientDetailWindow
from cmdesk.ui.clientes.page import ClientsPage
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.timbrado.page import TimbradoPage
from tests.ui import manual_walk_steps as steps

TIMEOUT = 30_000


class WalkFailed(AssertionError):
    pass


class Walk:
    """The person at the keyboard: finds things by the text on screen and uses them."""

    def __init__(self, qtbot: Any, window: MainWindow) -> None:
        self.qtbot = qtbot
        self.window = window
        self.rows: list[tuple[str, str, str]] = []
        self.state: dict[str, Any] = {}

    # ---- finding ----------------------------------------------------------------------------------------

    @property
    def cache(self) -> Any:
        session = self.window.session
        assert session is not None and session.cache is not None
        return session.cache

    def tab(self, *titles: str) -> QWidget:
        """Click the tabs titled `titles` (a top tab, then its sub-tab); the page shown."""
        tabs: QWidget = self.window.tabs
        page: QWidget | None = None
        for title in titles:
            assert isinstance(tabs, QTabWidget)
            index = next((i for i in range(tabs.count()) if tabs.tabText(i).replace("&", "") == title), -1)
            if index < 0:
                raise WalkFailed(f"no se encontró la pestaña «{title}»")
            tabs.setCurrentIndex(index)
            page = tabs.widget(index)
            tabs = page
        assert page is not None
        return page

    @staticmethod
    def _plain(text: str) -> str:
        return text.replace("&", "").rstrip("…").strip()

    def entry(self, within: QWidget, text: str) -> QAbstractButton | QAction:
        """The enabled button or action showing `text` in `within` (the «…» of a dialog-opening entry
        does not count)."""
        wanted = self._plain(text)
        for button in within.findChildren(QAbstractButton):
            if self._plain(button.text()) == wanted and button.isVisibleTo(within) and button.isEnabled():
                return button
        for action in within.findChildren(QAction):
            if self._plain(action.text()) == wanted and action.isEnabled():
                return action
        raise WalkFailed(f"no se encontró «{text}» (o no está disponible)")

    def use(self, within: QWidget, text: str) -> None:
        found = self.entry(within, text)
        if isinstance(found, QAction):
            found.trigger()
        else:
            found.click()

    def menu_entry(self, menu: Any, text: str) -> QAction:
        wanted = self._plain(text)
        for action in menu.actions():
            if self._plain(action.text()) == wanted and action.isEnabled():
                return action
        raise WalkFailed(f"el menú contextual no tiene «{text}»")

    def opens(self, trigger: Callable[[], object], title: str | None = None) -> QWidget:
        """Run `trigger`; the window or dialog it opened (waiting for it), checked by its title."""
        before = {id(w) for w in QApplication.topLevelWidgets() if w.isVisible()}
        trigger()
        found: list[QWidget] = []

        def opened() -> bool:
            found[:] = [
                w for w in QApplication.topLevelWidgets() if w.isVisible() and id(w) not in before
            ]
            return bool(found)

        self.qtbot.waitUntil(opened, timeout=TIMEOUT)
        widget = found[-1]
        if title is not None and title not in widget.windowTitle():
            raise WalkFailed(f"se abrió «{widget.windowTitle()}» en lugar de «{title}»")
        return widget

    def answer_yes(self) -> str:
        """Answer the question box on screen with its affirmative button; its text."""
        box: list[QMessageBox] = []

        def shown() -> bool:
            box[:] = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
            return bool(box)

        self.qtbot.waitUntil(shown, timeout=TIMEOUT)
        text = box[-1].text() + "\n" + box[-1].informativeText()
        for button in box[-1].buttons():
            if box[-1].buttonRole(button) in (QMessageBox.ButtonRole.YesRole, QMessageBox.ButtonRole.AcceptRole):
                button.click()
                break
        else:
            box[-1].done(0)
        return text

    def idle(self) -> None:
        self.qtbot.waitUntil(lambda: self.window.ops.busy == 0, timeout=TIMEOUT)

    def sync(self) -> None:
        self.idle()
        handle = self.window.sync_now()
        if handle is not None:
            self.qtbot.waitUntil(lambda: handle.is_finished, timeout=TIMEOUT)
        self.idle()

    def settled(self, queued: Any) -> None:
        """Until the queued command(s) were applied by the server (a refusal fails the walk)."""
        session = self.window.session
        assert session is not None
        for command in queued if isinstance(queued, list) else [queued]:
            self.sync()
            self.until(
                lambda c=command: session.outbox.get(c.id).state not in (CommandState.PENDING, CommandState.SENT),
                "la operación enviada al servidor",
            )
            done = session.outbox.get(command.id)
            if done.state != CommandState.DONE:
                raise WalkFailed(f"el servidor rechazó «{done.description}»: {done.error_detail}")
        self.sync()

    def until(self, predicate: Callable[[], object], what: str) -> None:
        try:
            self.qtbot.waitUntil(lambda: bool(predicate()), timeout=TIMEOUT)
        except Exception as error:  # pytest-qt's TimeoutError
            try:
                predicate()
            except Exception as failure:  # the check itself broke: say how
                raise WalkFailed(f"no se pudo comprobar: {what}: {failure!r}") from failure
            raise WalkFailed(f"no se vio el efecto: {what}") from error

    # ---- the stamping endpoint (what invoicing applications call) -------------------------------------

    def stamp(self, cti_id: str, password: str, rfc: str) -> tuple[int, dict[str, Any]]:
        session = self.window.session
        assert session is not None and session.server is not None
        body = json.dumps({"emitter_rfc": rfc, "cfdi_uuid": str(uuid.uuid4())}).encode()
        auth = base64.b64encode(f"{cti_id}:{password}".encode()).decode()
        request = urllib.request.Request(
            session.server.url.rstrip("/") + "/v1/stamping/consume",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    # ---- the table ------------------------------------------------------------------------------------

    def record(self, chapter: str, procedure: str, result: str) -> None:
        self.rows.append((chapter, procedure, result))

    def table(self) -> str:
        widths = [max(len(r[i]) for r in [*self.rows, ("Capítulo", "Procedimiento", "Resultado")]) for i in range(3)]
        line = "| " + " | ".join(("Capítulo", "Procedimiento", "Resultado")[i].ljust(widths[i]) for i in range(3)) + " |"
        out = [line, "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += ["| " + " | ".join(r[i].ljust(widths[i]) for i in range(3)) + " |" for r in self.rows]
        return "\n".join(out)


# ---- Clientes -------------------------------------------------------------------------------------------


def clients_page(w: Walk) -> ClientsPage:
    page = w.tab("Clientes", "Clientes")
    assert isinstance(page, ClientsPage)
    w.qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.model.busy, timeout=TIMEOUT)
    return page


def the_client_row(w: Walk, page: ClientsPage) -> Any:
    client_id = w.state["client_id"]
    page.search.setText("")
    w.qtbot.waitUntil(lambda: page.model.row_of(client_id) >= 0, timeout=TIMEOUT)
    return page.model.rows()[page.model.row_of(client_id)]


def fill(form: ClientForm, path: str, text: str) -> None:
    editor = form.editors[path]
    assert isinstance(editor, QLineEdit)
    editor.setText(text)
    editor.editingFinished.emit()


def add_client(w: Walk) -> str:
    from cmdesk.domain.identity import check_rfc

    page = clients_page(w)
    count = len(w.cache.all("client"))
    form = w.opens(lambda: w.use(page, "Agregar cliente"))
    assert isinstance(form, ClientForm)
    rfc = next(r for r in ("WAL160414A" + d + d for d in "0123456789") if check_rfc(r[:12]).check_digit_ok)[:12]
    fill(form, "name", "Recorrido del Manual S.A. de C.V.")
    fill(form, "rfc", rfc)
    fill(form, "email", "recorrido@manual.mx")
    fill(form, "phone", "961 555 0101")
    fill(form, "address.postal_code", "29000")
    form.save_button.click()
    w.until(lambda: len(w.cache.all("client")) == count + 1, "el cliente nuevo en los datos")
    w.sync()
    client = next(c for c in w.cache.all("client") if c["name"] == "Recorrido del Manual S.A. de C.V.")
    w.until(lambda: w.cache.get("client", client["id"]).get("nic"), "el NIC que asigna el servidor")
    w.state.update(client_id=client["id"], client_rfc=rfc)
    for box in [b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox) and b.isVisible()]:
        box.done(0)  # the CTI password, shown once
    return f"cliente NIC {w.cache.get('client', client['id'])['nic']} con su CTI estándar"


def edit_client(w: Walk) -> str:
    page = clients_page(w)
    row = the_client_row(w, page)
    form = w.opens(lambda: w.menu_entry(page.context_menu_for([row]), "Editar").trigger())
    assert isinstance(form, ClientForm)
    fill(form, "phone", "961 555 0202")
    form.save_button.click()
    w.until(lambda: w.cache.get("client", row.id).get("phone") == "9615550202", "el teléfono nuevo")
    return "teléfono cambiado"


def main_profile(w: Walk) -> str:
    return steps.main_profile(w, clients_page, the_client_row)


def classify(w: Walk) -> str:
    page = clients_page(w)
    row = the_client_row(w, page)
    w.menu_entry(page.context_menu_for([row]), "Agregar a Favoritos").trigger()
    w.until(lambda: w.cache.get("client", row.id).get("favorite"), "el cliente en Favoritos")
    w.menu_entry(page.context_menu_for([the_client_row(w, page)]), "Marcar como Baja").trigger()
    w.until(lambda: w.cache.get("client", row.id).get("dropped"), "el cliente en Bajas")
    w.until(lambda: the_client_row(w, page).data.get("dropped"), "el cliente marcado en la tabla")
    w.menu_entry(page.context_menu_for([the_client_row(w, page)]), "Quitar de Bajas").trigger()
    w.until(lambda: not w.cache.get("client", row.id).get("dropped"), "el cliente fuera de Bajas")
    return "Favoritos y Bajas"


def search_and_sort(w: Walk) -> str:
    page = clients_page(w)
    page.search.setText("Recorrido del Manual")
    w.until(lambda: [r.id for r in page.model.rows()] == [w.state["client_id"]], "sólo el cliente buscado")
    orders = page.findChild(QWidget, "order")
    count = orders.count() if orders is not None and hasattr(orders, "count") else 0
    page.search.setText("")
    w.until(lambda: page.model.rowCount() > 1, "la cartera completa de nuevo")
    return f"búsqueda por nombre; {count} órdenes"


# ---- Administrar CTI ------------------------------------------------------------------------------------


def client_window(w: Walk) -> ClientDetailWindow:
    page = clients_page(w)
    row = the_client_row(w, page)
    window = w.opens(lambda: w.menu_entry(page.context_menu_for([row]), "Ver detalle").trigger())
    assert isinstance(window, ClientDetailWindow)
    w.qtbot.waitUntil(lambda: bool(window.data), timeout=TIMEOUT)
    tabs = window.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Cuentas de timbrado"))
    return window


def create_cti(w: Walk) -> str:
    window = client_window(w)
    count = window.ctis.rowCount()
    dialog = w.opens(lambda: w.use(window, "Crear cuenta"), "Crear cuenta de timbrado")
    dialog.passwords.password.setText("Estandar2026")  # type: ignore[attr-defined]
    dialog.passwords.confirm.setText("Estandar2026")  # type: ignore[attr-defined]
    w.use(dialog, "Crear cuenta")
    w.until(lambda: window.ctis.rowCount() == count + 1, "la cuenta nueva en la ventana del cliente")
    w.state["standard_cti"] = str(dialog.created["id"])  # type: ignore[attr-defined]
    w.state["standard_password"] = "Estandar2026"
    window.close()
    return f"CTI estándar {w.state['standard_cti'][:8]}…"


def unlimited_fee(w: Walk) -> str:
    window = client_window(w)
    dialog = w.opens(lambda: w.use(window, "Crear cuenta"), "Crear cuenta de timbrado")
    dialog.unlimited.setChecked(True)  # type: ignore[attr-defined]
    fee = dialog.fee  # type: ignore[attr-defined]
    w.until(lambda: "puntos" in fee.fee_label.text() and fee.fee_points, "la cuota anual en el diálogo")
    points = fee.fee_points
    before = int(w.cache.account()["balances"]["points"])
    dialog.passwords.password.setText("Ilimitada2026")  # type: ignore[attr-defined]
    dialog.passwords.confirm.setText("Ilimitada2026")  # type: ignore[attr-defined]
    w.use(dialog, "Crear cuenta")
    w.until(lambda: dialog.created is not None or dialog.message.text(), "la respuesta del servidor")  # type: ignore[attr-defined]
    created = dialog.created  # type: ignore[attr-defined]
    if created is None:
        raise WalkFailed(dialog.message.text())  # type: ignore[attr-defined]
    w.sync()
    w.until(lambda: int(w.cache.account()["balances"]["points"]) == before - points, "los puntos cobrados")
    status, answer = w.stamp(str(created["id"]), "Ilimitada2026", w.state["client_rfc"])
    if status != 200:
        raise WalkFailed(f"la CTI ilimitada pagada no timbra: {status} {answer}")
    window.close()
    return f"cobra {points:,} puntos al crearla; timbra (200)"


def timbrado_page(w: Walk) -> TimbradoPage:
    w.sync()  # what the stamping endpoint changed (balances) comes back with the feed
    page = w.tab("Clientes", "Timbrado")
    assert isinstance(page, TimbradoPage)
    cti_id = w.state["standard_cti"]
    page.search.setText(cti_id)
    page.set_search(cti_id)
    w.until(lambda: page.model.row_of(cti_id) >= 0 and not page.model.busy, "la CTI en Timbrado")
    page.select_ids([cti_id])
    return page


def block_and_reactivate(w: Walk) -> str:
    page = timbrado_page(w)
    cti_id = w.state["standard_cti"]
    w.use(page, "Bloquear")
    question = w.answer_yes()
    w.until(lambda: w.cache.get("stamping_account", cti_id)["active"] is False, "la CTI bloqueada")
    w.sync()
    status, answer = w.stamp(cti_id, w.state["standard_password"], w.state["client_rfc"])
    if answer.get("code") != "account_blocked":
        raise WalkFailed(f"una CTI bloqueada timbró: {status} {answer}")
    page.select_ids([cti_id])
    w.use(page, "Reactivar")
    w.answer_yes()
    w.until(lambda: w.cache.get("stamping_account", cti_id)["active"] is True, "la CTI reactivada")
    return "«" + question.split("\n")[0] + "»; bloqueada no timbra (403)"


def transfer_stamps(w: Walk) -> str:
    page = timbrado_page(w)
    cti_id = w.state["standard_cti"]
    before = int(w.cache.get("stamping_account", cti_id)["balance"] or 0)
    dialog = w.opens(lambda: w.use(page, "Transferir timbres"), "Abono de timbres")
    w.until(lambda: dialog.loaded, "los datos del abono")  # type: ignore[attr-defined]
    dialog.quantity.setValue(20)  # type: ignore[attr-defined]
    dialog.amount.setText("$13.00")  # type: ignore[attr-defined]
    w.use(dialog, "Abonar timbres")
    w.sync()
    w.until(lambda: w.cache.get("stamping_account", cti_id)["balance"] == before + 20, "el saldo de la CTI")
    status, answer = w.stamp(cti_id, w.state["standard_password"], w.state["client_rfc"])
    if status != 200 or answer.get("balance") != before + 19:
        raise WalkFailed(f"la CTI abonada no timbra: {status} {answer}")
    return "20 timbres, $13.00 por facturar; timbra (200)"


def bulk_transfer(w: Walk) -> str:
    page = timbrado_page(w)
    cti_id = w.state["standard_cti"]
    before = int(w.cache.get("stamping_account", cti_id)["balance"] or 0)
    dialog = w.opens(lambda: w.use(page, "Transferencia masiva"), "Transferencia masiva")
    w.until(lambda: dialog.info, "los datos de la transferencia masiva")  # type: ignore[attr-defined]
    dialog.model.set_value(0, "quantity", 5)  # type: ignore[attr-defined]
    dialog.model.set_value(0, "amount_cents", "$4.00")  # type: ignore[attr-defined]
    with w.qtbot.waitSignal(dialog.queued, timeout=TIMEOUT) as queued:  # type: ignore[attr-defined]
        dialog.ok_button.click()  # type: ignore[attr-defined]
    w.settled(queued.args[0])
    w.until(lambda: w.cache.get("stamping_account", cti_id)["balance"] == before + 5, "el saldo de la CTI")
    return "5 timbres en una operación"


def auto_sale(w: Walk) -> str:
    page = timbrado_page(w)
    cti_id = w.state["standard_cti"]
    dialog = w.opens(lambda: w.use(page, "Venta automática"), "Venta automática")
    w.until(lambda: dialog.info, "los datos de la venta automática")  # type: ignore[attr-defined]
    dialog.model.set_value(0, "minimum", 10)  # type: ignore[attr-defined]
    dialog.model.set_value(0, "credit", 100)  # type: ignore[attr-defined]
    dialog.model.set_value(0, "amount_cents", "$65.00")  # type: ignore[attr-defined]
    dialog.ok_button.click()  # type: ignore[attr-defined]
    w.sync()
    w.until(
        lambda: w.cache.get("stamping_account", cti_id).get("auto_sale", {}) and
        w.cache.get("stamping_account", cti_id)["auto_sale"].get("credit") == 100,
        "la regla de venta automática",
    )
    return "mínimo 10, abono 100, $65.00"


def reset_password(w: Walk) -> str:
    page = timbrado_page(w)
    cti_id = w.state["standard_cti"]
    dialog = w.opens(lambda: w.use(page, "Restablecer contraseña"), "Restablecer contraseña")
    dialog.passwords.password.setText("Cambiada2026")  # type: ignore[attr-defined]
    dialog.passwords.confirm.setText("Cambiada2026")  # type: ignore[attr-defined]
    w.use(dialog, "Restablecer")
    w.until(lambda: dialog.done_ok, "la contraseña restablecida")  # type: ignore[attr-defined]
    old, _ = w.stamp(cti_id, w.state["standard_password"], w.state["client_rfc"])
    new, _ = w.stamp(cti_id, "Cambiada2026", w.state["client_rfc"])
    if (old, new) != (401, 200):
        raise WalkFailed(f"la contraseña anterior ({old}) o la nueva ({new}) no responden como deben")
    w.state["standard_password"] = "Cambiada2026"
    return "la anterior ya no timbra (401), la nueva sí (200)"


# ---- Distribuidores -------------------------------------------------------------------------------------


def external_site(w: Walk) -> str:
    session = w.window.session
    assert session is not None and session.server is not None
    request = urllib.request.Request(
        session.server.url.rstrip("/") + "/v1/public/registrations",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}")
        if error.code == 422 and body.get("title"):
            return f"alta pública del servidor responde en español ({body['title']})"
    raise WalkFailed("el alta pública no responde")


def convert_client(w: Walk) -> str:
    return steps.convert_client(w, clients_page, the_client_row)


# ---- Facturación ----------------------------------------------------------------------------------------


def invoice_sales(w: Walk) -> str:
    page = w.tab("Facturación")
    sales = page.sales  # type: ignore[attr-defined]
    w.until(lambda: sales.clients.rowCount() > 0, "los clientes por facturar")
    if not sales.choose_client(w.state["client_id"]):
        raise WalkFailed("el cliente con ventas no aparece en «Por facturar»")
    w.until(lambda: sales.sales.rowCount() >= 2, "las ventas del cliente (abono y masiva)")
    sales.check_all(True)
    dialog = w.opens(lambda: w.use(page, "Facturar"))
    dialog.reference.setText("F-RECORRIDO-1")  # type: ignore[attr-defined]
    dialog.ok_button.click()  # type: ignore[attr-defined]
    w.sync()
    w.until(
        lambda: any(i.get("reference") == "F-RECORRIDO-1" for i in w.cache.all("invoice")), "la factura registrada"
    )
    return "factura F-RECORRIDO-1 con las ventas del cliente"


# ---- Compras --------------------------------------------------------------------------------------------


def buy(asset: str) -> Callable[[Walk], str]:
    def step(w: Walk) -> str:
        page = w.tab("Compras")
        w.until(lambda: page.catalog_fetched_at is not None and page.stamps.packages, "el catálogo")  # type: ignore[attr-defined]
        tab = page.stamps if asset == "stamps" else page.points  # type: ignore[attr-defined]
        page.tabs.setCurrentWidget(tab)  # type: ignore[attr-defined]
        package = tab.packages[0]
        tab.select(package["id"])
        before = int(w.cache.account()["balances"][asset])
        w.use(tab, "Comprar")
        question = w.answer_yes()
        w.sync()
        w.until(
            lambda: int(w.cache.account()["balances"][asset]) == before + int(package["quantity"]),
            "el saldo comprado",
        )
        return f"{int(package['quantity']):,} {'timbres' if asset == 'stamps' else 'puntos'}; «{question.split(chr(10))[0]}»"

    return step


# ---- Software, Herramientas, Ayuda -----------------------------------------------------------------------


def help_page(w: Walk) -> str:
    page = w.tab("Ayuda")
    texts = " ".join(b.toPlainText() for b in page.findChildren(QWidget) if hasattr(b, "toPlainText"))
    if "Hágalo usted mismo" not in texts:
        raise WalkFailed("la ayuda no muestra «Hágalo usted mismo»")
    return "«Hágalo usted mismo» y «Deje que un profesional se encargue»"


PROCEDURES: list[tuple[str, str, Callable[[Walk], str]]] = [
    ("Clientes", "Agregar un cliente", add_client),
    ("Clientes", "Editar los datos de un cliente", edit_client),
    ("Clientes", "Establecer el perfil principal de un cliente", main_profile),
    ("Clientes", "Clasificar clientes", classify),
    ("Clientes", "Filtrar y buscar", search_and_sort),
    ("Administrar CTI", "Crear cuentas de timbrado adicionales", create_cti),
    ("Administrar CTI", "CTI ilimitada: pago anual en puntos", unlimited_fee),
    ("Administrar CTI", "Bloquear/reactivar una cuenta de timbrado", block_and_reactivate),
    ("Administrar CTI", "Transferir timbres a una CTI estándar", transfer_stamps),
    ("Administrar CTI", "Transferencias masivas a CTI estándar", bulk_transfer),
    ("Administrar CTI", "Configurar venta automática de timbres", auto_sale),
    ("Administrar CTI", "Restablecer la contraseña de una CTI", reset_password),
    ("Administrar CTI", "Usar MKL", lambda w: steps.use_mkl(w, client_window)),
    ("Distribuidores", "Alta de distribuidor en el portal", steps.add_distributor),
    ("Distribuidores", "Integrar el alta desde un sitio web externo", external_site),
    ("Distribuidores", "Activar una cuenta", steps.activate),
    ("Distribuidores", "Suspender/reactivar una cuenta", steps.suspend_and_reactivate),
    ("Distribuidores", "Renovar una cuenta", steps.renew),
    ("Distribuidores", "Cancelar una cuenta", steps.cancel),
    ("Distribuidores", "Convertir un cliente existente en distribuidor", convert_client),
    ("Facturación", "Registrar facturas de timbres y puntos", invoice_sales),
    ("Facturación", "Registrar facturas de códigos de abono", steps.invoice_codes),
    ("Compras", "Comprar timbres", buy("stamps")),
    ("Compras", "Comprar puntos", buy("points")),
    ("Compras", "Contratar MKL", steps.contract("mkl")),
    ("Compras", "Contratar suscripciones", steps.contract("subscriptions")),
    ("Software", "Descargas", steps.download),
    ("Herramientas", "Paquetes de timbres para sus clientes finales", steps.price_package(False)),
    ("Herramientas", "Paquetes de timbres para sus distribuidores", steps.price_package(True)),
    ("Herramientas", "Admitir un nuevo perfil", steps.new_user),
    ("Herramientas", "Eliminar un perfil", steps.remove_user),
    ("Herramientas", "Configuraciones globales", steps.settings),
    ("Ayuda", "Ayuda y soporte", help_page),
]


def test_the_manual_chapter_by_chapter(qtbot: Any, started_window: MainWindow, capsys: Any) -> None:
    walk = Walk(qtbot, started_window)
    started_window.resize(1366, 768)
    failed: str | None = None
    for chapter, procedure, step in PROCEDURES:
        started = time.monotonic()
        try:
            result = step(walk)
        except (WalkFailed, AssertionError) as error:
            walk.record(chapter, procedure, f"FALLA: {error}")
            failed = failed or f"{chapter} → {procedure}: {error}"
            break
        walk.record(chapter, procedure, f"ok: {result} ({time.monotonic() - started:.1f} s)")
        walk.idle()
    with capsys.disabled():
        print("\n" + walk.table())
    if failed:
        pytest.fail(failed)
    assert [r[1] for r in walk.rows] == [p[1] for p in PROCEDURES]
