"""Alertas → Alertas: the low-balance alerts the server raised (the change feed's `alert` entity), newest
first, filtered by state, marked nueva / vista / resuelta (a queued command: it shows at once), with
one click to what fixes them: Transferir timbres to the CTI, or its Venta automática; for the
distributor's own balance, «Comprar timbres…» (the Compras tab, its Timbres CFDI packages).

When a sync brings alerts that are still new and were never notified on this computer, the page tells
the user at once, whichever tab is on screen: a system tray message (a Windows toast) where there is
a tray, the status bar otherwise; clicking the message opens this tab. The sub-tab's title counts the
new alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import names
from cmdesk.domain.roles import Permission
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.alertas import actions
from cmdesk.ui.alertas.actions import tr
from cmdesk.ui.alertas.notify import notify, open_page
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import dim, hbox, heading, push_button, secondary_color
from cmdesk.ui.kit.messages import error_text
from cmdesk.ui.kit.table import RIGHT, Column, PagedTableModel, Query, make_table, selected_rows
from cmdesk.ui.tabs import AppContext, TabPage
from cmdesk.ui.timbrado.common import UsageFigures
from cmdesk.ui.timbrado.model import CtiRow
from cmdesk.ui.timbrado.sales_dialogs import AutoSaleDialog
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog

CONTEXT = "alertas"


def _cpd(value: Any) -> str:
    return fmt.locale().toString(float(value), "f", 2) if isinstance(value, int | float) else "—"


COLUMNS = (
    Column("created_at", QT_TRANSLATE_NOOP(CONTEXT, "Fecha"), "datetime", sort="created_at", context=CONTEXT),
    Column(
        "state",
        QT_TRANSLATE_NOOP(CONTEXT, "Estado"),
        value=lambda r: labels.name(names.ALERT_STATES, r.get("state")),
        sort="state",
        context=CONTEXT,
    ),
    Column("title", QT_TRANSLATE_NOOP(CONTEXT, "Alerta"), sort="title", context=CONTEXT),
    Column("balance", QT_TRANSLATE_NOOP(CONTEXT, "Saldo"), "number", sort="balance", context=CONTEXT),
    Column(
        "days_remaining",
        QT_TRANSLATE_NOOP(CONTEXT, "D.R."),
        value=lambda r: fmt.number(r["days_remaining"]) if isinstance(r.get("days_remaining"), int) else "—",
        sort="days_remaining",
        align=RIGHT,
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Días restantes cuando se generó la alerta"),
        context=CONTEXT,
    ),
    Column(
        "average_daily_use",
        QT_TRANSLATE_NOOP(CONTEXT, "C.P.D."),
        value=lambda r: _cpd(r.get("average_daily_use")),
        align=RIGHT,
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Consumo promedio diario cuando se generó la alerta"),
        context=CONTEXT,
    ),
    Column(
        "usual_purchase",
        QT_TRANSLATE_NOOP(CONTEXT, "Compra habitual"),
        "number",
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Timbres que el cliente suele comprar"),
        context=CONTEXT,
    ),
    Column(
        "refill_cost_cents",
        QT_TRANSLATE_NOOP(CONTEXT, "Costo de la recarga"),
        "money",
        tooltip=QT_TRANSLATE_NOOP(CONTEXT, "Lo que cuesta esa compra a su precio (IVA incluido)"),
        context=CONTEXT,
    ),
)
STATE_FILTERS = (("", QT_TRANSLATE_NOOP(CONTEXT, "Todas")), *names.ALERT_STATES.items())


class AlertsModel(PagedTableModel):
    """New alerts in bold, resolved ones dimmed."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            context,
            COLUMNS,
            actions.load_alerts,
            counter=actions.count_alerts,
            query=Query(sort="created_at", descending=True),
            parent=parent,
        )
        self._bold = QFont()
        self._bold.setBold(True)

    def extra_data(self, row: int, column: int, role: int) -> Any:
        state = self._rows[row].get("state")
        if role == Qt.ItemDataRole.FontRole and state == "new":
            return self._bold
        if role == Qt.ItemDataRole.ForegroundRole and state == "resolved":
            return secondary_color(QApplication.palette(), QPalette.ColorRole.Text, QPalette.ColorRole.Base)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._rows[row].get("detail") or None
        return None


class AlertsPage(TabPage):
    entities = frozenset({"alert"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = AlertsModel(context, self)
        self.table = make_table(
            self.model,
            self,
            "alertsTable",
            stretch=2,
            multiple=True,
            widths=(19, 9, 0, 8, 6, 7, 10, 12),
            empty_text=tr("No hay alertas: cuando una cuenta esté por agotarse aparecerá aquí."),
        )
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.state_filter = QComboBox(self)
        self.state_filter.setObjectName("stateFilter")
        for value, text in STATE_FILTERS:
            self.state_filter.addItem(
                labels.name(names.ALERT_STATES, value) if value else tr(text), value or None
            )
        self.state_filter.currentIndexChanged.connect(
            lambda _i: self.model.set_query(self.model.query.filtered(state=self.state_filter.currentData()))
        )
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")
        self.model.counted.connect(
            lambda n: self.summary.setText(
                tr("1 alerta") if n == 1 else tr("{n} alertas").format(n=fmt.number(n))
            )
        )
        self.seen_button = push_button(tr("Marcar como vista"), self, "markSeen", lambda: self.mark("seen"))
        self.resolved_button = push_button(
            tr("Marcar como resuelta"), self, "markResolved", lambda: self.mark("resolved")
        )
        self.new_button = push_button(tr("Marcar como nueva"), self, "markNew", lambda: self.mark("new"))
        self.transfer_button = push_button(tr("Transferir timbres…"), self, "transfer", self.transfer)
        self.auto_sale_button = push_button(tr("Venta automática…"), self, "autoSale", self.auto_sale)
        self.buy_button = push_button(tr("Comprar timbres…"), self, "buy", self.buy)
        self.buy_button.setToolTip(tr("Su propio saldo se agota: compre timbres en Compras"))
        self.selection_hint = QLabel(
            tr("Seleccione una alerta para marcarla o resolverla (transferir, venta automática, comprar)."),
            self,
        )
        self.selection_hint.setObjectName("selectionHint")
        dim(self.selection_hint)
        self.detail = QLabel(self)
        self.detail.setObjectName("detail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Alertas de saldo"),
                self,
                tr(
                    "Las cuentas que se agotan pronto, según las reglas de Herramientas → Reglas de alerta. "
                    "Se avisa por correo y aquí; márquelas como vistas o resueltas."
                ),
            )
        )
        layout.addLayout(hbox(QLabel(tr("Estado:"), self), self.state_filter, 12, None, self.summary))
        layout.addLayout(
            hbox(
                self.seen_button,
                self.resolved_button,
                self.new_button,
                16,
                self.transfer_button,
                self.auto_sale_button,
                self.buy_button,
                self.selection_hint,
                None,
            )
        )
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.notice)
        self.model.loaded.connect(self._update)
        self.last_notification: tuple[str, str] | None = None
        self._update()

    # ---- what changed -----------------------------------------------------------------------------

    def refresh(self, changed: frozenset[str]) -> None:
        super().refresh(changed)
        if "*" in changed or "alert" in changed:
            self.check_new()

    def check_new(self) -> None:
        """Notify the alerts a sync brought (once each), and count the new ones in the tab's title."""
        if self.context.session is None:
            return
        actions.take_new(self.context).success(self._notify).failure(lambda _e: None).run()
        actions.count_new(self.context).success(self._show_count).failure(lambda _e: None).run()

    def _notify(self, alerts: list[dict[str, Any]]) -> None:
        if not alerts:
            return
        if len(alerts) == 1:
            title = str(alerts[0].get("title") or tr("Alerta de saldo"))
            text = str(alerts[0].get("detail") or "")
        else:
            title = tr("{n} alertas de saldo nuevas").format(n=fmt.number(len(alerts)))
            text = "\n".join(str(a.get("title") or "") for a in alerts[:3])
            if len(alerts) > 3:
                text += "\n" + tr("y {n} más.").format(n=fmt.number(len(alerts) - 3))
        self.last_notification = (title, text)
        notify(self, title, text, self.open_tab)

    def _show_count(self, count: int) -> None:
        tabs = self.parentWidget()
        while tabs is not None and not isinstance(tabs, QTabWidget):
            tabs = tabs.parentWidget()
        if isinstance(tabs, QTabWidget) and (index := tabs.indexOf(self)) >= 0:
            tabs.setTabText(index, tr("Alertas") + (f" ({fmt.number(count)})" if count else ""))

    def open_tab(self) -> None:
        """Bring this page to the front (from a notification)."""
        open_page(self)

    # ---- acting on the selection ------------------------------------------------------------------

    def selected(self) -> list[dict[str, Any]]:
        return [dict(r) for r in selected_rows(self.table)]

    def _update(self) -> None:
        rows = self.selected()
        for button in (self.seen_button, self.resolved_button, self.new_button):
            button.setEnabled(bool(rows))
        one = rows[0] if len(rows) == 1 else None
        cti = one is not None and (one.get("subject") or {}).get("type") == "stamping_account"
        self.transfer_button.setEnabled(cti)
        self.auto_sale_button.setEnabled(cti)
        own = one is not None and (one.get("subject") or {}).get("type") == "own_balance"
        self.buy_button.setEnabled(own and self.context.can(Permission.PURCHASES))
        # Only what the selection allows is shown (no row of grey buttons); a hint until then.
        for button in (self.seen_button, self.resolved_button, self.new_button):
            button.setVisible(bool(rows))
        for button in (self.transfer_button, self.auto_sale_button, self.buy_button):
            button.setVisible(button.isEnabled())
        self.selection_hint.setVisible(not rows)
        if one is None:
            self.detail.setText("")
            return
        lines = [f"<b>{one.get('title') or ''}</b>", str(one.get("detail") or "")]
        told = [d for d in one.get("deliveries") or [] if d.get("status") == "pending"]
        if told:
            lines.append(
                tr("Se avisó por correo a: {who}.").format(who=", ".join(str(d["recipient"]) for d in told))
            )
        self.detail.setText("<br>".join(lines))

    def mark(self, state: str) -> None:
        ids = [str(r["id"]) for r in self.selected() if r.get("state") != state]
        if not ids:
            return
        actions.set_state(self.context, ids, state, parent=self).success(
            lambda _c: self.show_notice(
                tr("Se marcó como {state}.").format(state=labels.name(names.ALERT_STATES, state).lower())
                if len(ids) == 1
                else tr("Se marcaron {n} alertas.").format(n=fmt.number(len(ids)))
            )
        ).failure(lambda e: self.show_notice(error_text(e), error=True)).run()

    def _subject(self) -> tuple[str, str] | None:
        rows = self.selected()
        if len(rows) != 1 or (rows[0].get("subject") or {}).get("type") != "stamping_account":
            return None
        return str(rows[0].get("client_id") or ""), str(rows[0]["subject"]["id"])

    def transfer(self) -> TransferDialog | None:
        subject = self._subject()
        if subject is None:
            return None
        dialog = TransferDialog(self.context, "stamping_account", subject[1], asset="stamps", parent=self)
        self.dialog = dialog
        dialog.open()
        return dialog

    def buy(self) -> QWidget | None:
        """Comprar timbres (an alert of the distributor's own balance): the Compras tab, on its Timbres
        CFDI packages. None when the window has no Compras page."""
        pages = getattr(self.window(), "pages", {})
        purchases = pages.get("compras") if isinstance(pages, Mapping) else None
        if not isinstance(purchases, QWidget):
            return None
        stamps = getattr(purchases, "stamps", None)
        inner = getattr(purchases, "tabs", None)
        if isinstance(inner, QTabWidget) and stamps is not None:
            inner.setCurrentWidget(stamps)
        open_page(purchases)
        return purchases

    def auto_sale(self) -> None:
        subject = self._subject()
        if subject is None:
            return
        actions.cti_row(self.context, *subject).success(self._open_auto_sale).run()

    def _open_auto_sale(self, row: dict[str, Any] | None) -> None:
        if row is None:
            self.show_notice(tr("La cuenta de timbrado ya no existe."), error=True)
            return
        dialog = AutoSaleDialog(self.context, [CtiRow(row, UsageFigures(None, None, False))], parent=self)
        self.dialog = dialog
        dialog.open()


__all__ = ["AlertsPage"]
