"""Clientes → Distribuidores (manual, "Distribuidores"): the sub-distributors of a distributor with
Multinivel, by state (Todos / Sin validar / Sin activar / Activo / Suspendido / Cancelado / Vencido),
with the manual's actions: Activar, Suspender, Cancelar, Renovar, Transferir timbres / puntos, and
Agregar distribuidor.

The state buttons change who can work in the portal, so they are sent to the server at once (each
after the manual's "¿Realmente desea … la cuenta?") and need the connection (`distribuidores.actions`);
the answer is kept in the cache so the row moves to its new tab without waiting for a sync. Transfers
are queued (the Timbrado tab's `TransferDialog`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QTabBar, QVBoxLayout, QWidget

from cmdesk.domain import mails
from cmdesk.domain.distributor_states import Action, allowed_actions
from cmdesk.domain.enums import AccountStatus
from cmdesk.domain.roles import Permission
from cmdesk.services.server_info import server_now
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.distribuidores import actions
from cmdesk.ui.distribuidores.dialogs import (
    NEEDS_MULTINIVEL,
    AddDistributorDialog,
    created_text,
    has_multinivel,
)
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.export import export_button
from cmdesk.ui.kit.forms import ERROR_COLOR, hbox, heading, push_button
from cmdesk.ui.kit.messages import CONTRACT_HINT, ask, error_text, inform, reason_of
from cmdesk.ui.kit.table import TOOLTIP, Column, PagedTableModel, Query, make_table, selected_record
from cmdesk.ui.tabs import AppContext, TabPage
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog

tr = translator("distribuidores")


# The tabs of the manual, in its order; None = every state.
STATUS_TABS: tuple[tuple[str | None, str], ...] = (
    (None, QT_TRANSLATE_NOOP("distribuidores", "Todos los distribuidores")),
    ("unvalidated", QT_TRANSLATE_NOOP("distribuidores", "Sin validar")),
    ("inactive", QT_TRANSLATE_NOOP("distribuidores", "Sin activar")),
    ("active", QT_TRANSLATE_NOOP("distribuidores", "Activo")),
    ("suspended", QT_TRANSLATE_NOOP("distribuidores", "Suspendido")),
    ("cancelled", QT_TRANSLATE_NOOP("distribuidores", "Cancelado")),
    ("expired", QT_TRANSLATE_NOOP("distribuidores", "Vencido")),
)


def confirmation_remark(mail: Mapping[str, Any] | None) -> str:
    """Where the confirmation mail of a «Sin validar» sub-distributor is: sent (when), waiting, or why
    it could not be sent (the mail server's answer, in Spanish)."""
    state = mails.mail_state(mail)
    if mail is None or not state:
        return tr("Espera que su administrador confirme el correo")
    error = str(mail.get("last_error") or "")
    if state == "sent":
        return tr("Correo enviado el {date}; espera la confirmación").format(
            date=fmt.date_time(mail.get("sent_at"))
        )
    if state == "queued":
        return tr("Correo de confirmación en cola de envío")
    if state == "retrying":
        return tr("Correo en espera de reintento: {error}").format(error=error)
    if state == "failed":
        return tr("No se pudo enviar el correo: {error}").format(error=error)
    return tr("El enlace del correo ya no funciona; use «Reenviar correo»")


def _remark(row: Mapping[str, Any]) -> str:
    status = row.get("status")
    if status == "unvalidated":
        return confirmation_remark(row.get("confirmation_mail"))
    if status == "inactive":
        return tr("Por activar")
    if status == "cancelled" and row.get("purge_at"):
        return tr("Se eliminará el {date}").format(date=fmt.date(row.get("purge_at")))
    if status == "expired":
        return tr("Venció; puede renovarla o cancelarla")
    return ""


COLUMNS = (
    Column("nic", QT_TRANSLATE_NOOP("portal", "NIC"), sort="nic"),
    Column("name", QT_TRANSLATE_NOOP("portal", "Empresa"), sort="name"),
    Column("created_at", QT_TRANSLATE_NOOP("portal", "F. alta"), "date", sort="created_at"),
    Column("balances.stamps", QT_TRANSLATE_NOOP("portal", "Timbres"), "number", sort="balances.stamps"),
    Column("balances.points", QT_TRANSLATE_NOOP("portal", "Puntos"), "number", sort="balances.points"),
    Column("expires_at", QT_TRANSLATE_NOOP("portal", "F. vencimiento"), "date", sort="expires_at"),
    Column(
        "status",
        QT_TRANSLATE_NOOP("portal", "Estado"),
        value=lambda r: labels.status(r.get("status")),
        sort="status",
    ),
    Column("admin_profile.email", QT_TRANSLATE_NOOP("portal", "Administrador")),
    Column("remark", QT_TRANSLATE_NOOP("portal", "Observaciones"), value=_remark),
)
REMARK_COLUMN = len(COLUMNS) - 1


class DistributorsModel(PagedTableModel):
    """The sub-distributors; a confirmation mail that failed (or waits for a retry) in red, its whole
    remark as the tooltip."""

    def extra_data(self, row: int, column: int, role: int) -> Any:
        if column == REMARK_COLUMN:
            record = self.row(row)
            if role == TOOLTIP:
                return self.row_texts(row)[column] or None
            if (
                role == int(Qt.ItemDataRole.ForegroundRole)
                and record.get("status") == "unvalidated"
                and mails.mail_state(record.get("confirmation_mail")) in ("failed", "retrying")
            ):
                return QBrush(QColor(ERROR_COLOR))
        return super().extra_data(row, column, role)


def allowed(row: Mapping[str, Any], now: dt.datetime | None = None) -> frozenset[Action]:
    """The actions the row's state accepts now (the buttons to enable)."""
    try:
        status = AccountStatus(str(row.get("status")))
    except ValueError:
        return frozenset()
    return allowed_actions(
        status,
        now=now or server_now(),
        cancelled_at=fmt.parse_utc(row.get("cancelled_at")),
    )


# action → (confirmation, what the row becomes)
# The state changes whose confirmation asks for a reason (kept in the bitácora).
REASON_ACTIONS = frozenset({"activate", "suspend", "cancel"})

STATE_ACTIONS: dict[str, tuple[str, str]] = {
    "activate": (
        QT_TRANSLATE_NOOP("distribuidores", "¿Realmente desea activar la cuenta?"),
        QT_TRANSLATE_NOOP("distribuidores", "La cuenta de {name} quedó activa."),
    ),
    "suspend": (
        QT_TRANSLATE_NOOP("distribuidores", "¿Realmente desea suspender la cuenta?"),
        QT_TRANSLATE_NOOP("distribuidores", "La cuenta de {name} quedó suspendida."),
    ),
    "cancel": (
        QT_TRANSLATE_NOOP("distribuidores", "¿Realmente desea cancelar la cuenta?"),
        QT_TRANSLATE_NOOP(
            "distribuidores", "La cuenta de {name} quedó cancelada; se eliminará en 30 días naturales."
        ),
    ),
    "renew": (
        QT_TRANSLATE_NOOP("distribuidores", "¿Realmente desea renovar la cuenta?"),
        QT_TRANSLATE_NOOP("distribuidores", "La cuenta de {name} se renovó y quedó activa."),
    ),
    "resend": (
        QT_TRANSLATE_NOOP("distribuidores", "¿Reenviar el correo de confirmación a su administrador?"),
        QT_TRANSLATE_NOOP(
            "distribuidores",
            "Se envió un correo de confirmación nuevo a {email}; el enlace anterior deja de funcionar.",
        ),
    ),
}

INFORMATIVE = {
    "cancel": QT_TRANSLATE_NOOP(
        "distribuidores",
        "La cuenta será eliminada definitivamente en un término de 30 días naturales, salvo que la "
        "active de nuevo antes.",
    ),
    "renew": QT_TRANSLATE_NOOP(
        "distribuidores",
        "La cuenta vuelve a estar activa por un año más; se cargan la anualidad y el año completo de sus "
        "MKL y suscripciones al estado de cuenta del distribuidor.",
    ),
}


def enabled_buttons(row: Mapping[str, Any] | None) -> set[str]:
    """Which action buttons apply to the selected sub-distributor."""
    if row is None:
        return set()
    permitted = allowed(row)
    out: set[str] = set()
    if permitted & {Action.ACTIVATE, Action.REACTIVATE}:
        out.add("activate")
    if Action.SUSPEND in permitted:
        out.add("suspend")
    if Action.CANCEL in permitted:
        out.add("cancel")
    if Action.RENEW in permitted:
        out.add("renew")
    if row.get("status") == "unvalidated":
        out.add("resend")
    if row.get("status") not in ("cancelled", "unvalidated"):
        out.update({"transfer_stamps", "transfer_points"})
    return out


class DistributorsPage(TabPage):
    entities = frozenset({"distributor", "contract", "account"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.status_filter: str | None = None
        self.model = DistributorsModel(
            context, COLUMNS, actions.load_distributors, query=Query(sort="nic"), parent=self
        )
        self.add_button = push_button(
            tr("Agregar distribuidor…"), self, "addDistributor", self.add_distributor
        )
        top = QHBoxLayout()
        top.addLayout(
            heading(
                tr("Distribuidores"),
                self,
                tr(
                    "Con Multinivel administra su propia red de distribuidores; "
                    "cada uno trabaja con su propia Cuenta Maestra, como usted."
                ),
            ),
            1,
        )
        self.network_button = push_button(tr("Red (árbol)…"), self, "networkButton", self.open_network)
        top.addWidget(self.network_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignTop)

        self.tabs = QTabBar(self)
        self.tabs.setObjectName("statusTabs")
        self.tabs.setExpanding(False)
        self.tabs.setDrawBase(True)
        for _status, label in STATUS_TABS:
            self.tabs.addTab(tr(label))
        self.tabs.currentChanged.connect(self._tab_changed)

        self.table = make_table(self.model, self, stretch=1, widths=(8, 0, 11, 9, 9, 13, 11, 26, 0))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.page_loaded.connect(self._loaded)

        self.buttons: dict[str, QPushButton] = {}
        buttons_row = QHBoxLayout()
        for key, text in (
            ("activate", tr("Activar")),
            ("suspend", tr("Suspender")),
            ("cancel", tr("Cancelar")),
            ("renew", tr("Renovar")),
            ("resend", tr("Reenviar correo")),
        ):
            button = push_button(text, self, f"{key}Button", functools.partial(self.act, key))
            button.setEnabled(False)
            if key == "resend":
                button.setToolTip(tr("Reenviar el correo de confirmación a su administrador"))
            self.buttons[key] = button
            buttons_row.addWidget(button)
        # Transferir: one button with the manual's two transfers (timbres, puntos) in its menu.
        self.transfer_button = QPushButton(tr("Transferir"), self)
        self.transfer_button.setObjectName("transferButton")
        transfer_menu = QMenu(self.transfer_button)
        self.transfer_actions: dict[str, QAction] = {}
        for key, text in (("transfer_stamps", tr("Timbres…")), ("transfer_points", tr("Puntos…"))):
            action = transfer_menu.addAction(text)
            action.setObjectName(key)
            action.triggered.connect(functools.partial(self.act, key))
            self.transfer_actions[key] = action
        self.transfer_button.setMenu(transfer_menu)
        self.transfer_button.setEnabled(False)
        buttons_row.addWidget(self.transfer_button)
        buttons_row.addStretch(1)
        self.export_button = export_button(
            self, self.table, "distribuidores", title=tr("Exportar distribuidores")
        )
        buttons_row.addWidget(self.export_button)
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        strip = hbox((self.tabs, 1), self.summary)
        layout.addLayout(strip)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons_row)
        layout.addWidget(self.role_note)
        layout.addWidget(self.notice)
        self.gate(Permission.DISTRIBUTORS, self.add_button, *self.buttons.values())

    # ---- data -------------------------------------------------------------------------------------------

    def _tab_changed(self, index: int) -> None:
        self.status_filter = STATUS_TABS[index][0] if 0 <= index < len(STATUS_TABS) else None
        self.model.set_query(self.model.query.filtered(status=self.status_filter))

    def set_status(self, status: str | None) -> None:
        """Show one state's tab (None: all)."""
        index = next(i for i, (s, _label) in enumerate(STATUS_TABS) if s == status)
        if index == self.tabs.currentIndex():
            self.model.reload()
        else:
            self.tabs.setCurrentIndex(index)

    def _loaded(self) -> None:
        count = self.model.rowCount()
        more = "+" if self.model.canFetchMore() else ""
        self.summary.setText(
            fmt.counted(count, tr("1{more} distribuidor"), tr("{n}{more} distribuidores"), more=more)
        )
        self._update_buttons()

    def selected(self) -> Mapping[str, Any] | None:
        return selected_record(self.table)

    def _update_buttons(self) -> None:
        enabled = enabled_buttons(self.selected())
        for key, button in self.buttons.items():
            button.setEnabled(key in enabled)
        for key, action in self.transfer_actions.items():
            action.setEnabled(key in enabled)
        self.transfer_button.setEnabled(bool(enabled & set(self.transfer_actions)))

    def _allowed(self, keys: set[str]) -> set[str]:
        """What the role may do of `keys`: the transfers always; the rest (activate, suspend, cancel,
        renew, resend) is an administrator's (`Permission.DISTRIBUTORS`)."""
        if self.context.can(Permission.DISTRIBUTORS):
            return keys
        return {k for k in keys if k in self.transfer_actions}

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        enabled = self._allowed(enabled_buttons(self.selected()))
        menu = QMenu(self)
        for key, button in self.buttons.items():
            if key in enabled:
                menu.addAction(button.text(), functools.partial(self.act, key))
        for key, text in (
            ("transfer_stamps", tr("Transferir timbres…")),
            ("transfer_points", tr("Transferir puntos…")),
        ):
            if key in enabled:
                menu.addAction(text, functools.partial(self.act, key))
        row = self.selected()
        if row is not None:
            menu.addSeparator()
            menu.addAction(tr("Bitácora del distribuidor…"), lambda: self.open_log(row))
        if not menu.isEmpty():
            menu.popup(self.table.viewport().mapToGlobal(pos))

    # ---- actions ------------------------------------------------------------------------------------------

    def act(self, key: str) -> None:
        row = self.selected()
        if row is None or key not in self._allowed(enabled_buttons(row)):
            return
        if key in ("transfer_stamps", "transfer_points"):
            asset = "stamps" if key == "transfer_stamps" else "points"
            self.dialog = TransferDialog(
                self.context, "account", str(row.get("id")), asset=asset, parent=self
            )
            self.dialog.queued.connect(
                lambda _c: self.show_notice(
                    tr("La transferencia quedó en la cola y se enviará al sincronizar.")
                )
            )
            self.dialog.open()
            return
        question, _done = STATE_ACTIONS[key]
        box = ask(
            self,
            tr("Distribuidores"),
            tr(question),
            lambda: self.change_state(key, row, reason_of(box)),
            informative=f"[{row.get('nic') or ''}] {row.get('name') or ''}"
            + (f"\n\n{tr(INFORMATIVE[key])}" if key in INFORMATIVE else ""),
            reason=key in REASON_ACTIONS,
        )

    def change_state(self, key: str, row: Mapping[str, Any], reason: str = "") -> None:
        _question, done_text = STATE_ACTIONS[key]

        def done(data: dict[str, Any]) -> None:
            admin = data.get("admin_profile") or {}
            self.show_notice(
                tr(done_text).format(name=data.get("name") or "", email=admin.get("email") or "")
            )

        actions.change_state(self.context, str(row.get("id")), key, reason=reason, parent=self).success(
            done
        ).failure(self._failed).run()

    def open_log(self, row: Mapping[str, Any]) -> Any:
        """The sub-distributor's bitácora (what its users did, as far as this account may see)."""
        from cmdesk.ui.bitacora import open_history

        title = f"[{row.get('nic') or ''}] {row.get('name') or ''}"
        self.dialog = open_history(self.context, "account", str(row.get("id")), title, self)
        return self.dialog

    def open_network(self) -> Any:
        """The sub-distributors as a tree, with branch totals and the states that need action."""
        from cmdesk.ui.distribuidores.network import NetworkWindow

        self.dialog = NetworkWindow(self.context, self)
        self.dialog.show()
        return self.dialog

    def _failed(self, error: BaseException) -> None:
        self.show_notice(error_text(error), error=True)
        inform(self, tr("Distribuidores"), error_text(error), error=True)

    def add_distributor(self) -> AddDistributorDialog | None:
        session = self.context.session
        if session is not None and session.cache is not None and not has_multinivel(session.cache):
            inform(
                self,
                tr("Alta de distribuidor"),
                tr(NEEDS_MULTINIVEL),
                error=True,
                informative=tr(CONTRACT_HINT),
            )
            return None
        dialog = AddDistributorDialog(self.context, self)
        dialog.done_ok.connect(self._created)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _created(self, answer: dict[str, Any]) -> None:
        self.show_notice(created_text(answer).split("\n\n")[0])
        inform(self, tr("Alta de distribuidor"), created_text(answer))
