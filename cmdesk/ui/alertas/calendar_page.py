"""Alertas → Calendario de renovaciones: everything that expires in the next months, by date — the
account, its contracts and MKL, each unlimited CTI's annual fee, each sub-distributor, the clients'
licenses and policies — with what each renewal will cost (computed by the server, which applies
the manual's prorations). The last calendar fetched is kept in the cache and shown offline. Exportar
saves the server's iCalendar file (all-day events with reminders 7 days and 1 day before), which
Outlook and Google Calendar import.

The dates coming within `SOON_DAYS` are highlighted. The calendar is read when the session starts, and
what expires within `REMIND_DAYS` is recalled once a session (tray message, status bar), whichever tab
is on screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import clock
from cmdesk.services.server_info import server_now
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.alertas import actions
from cmdesk.ui.alertas.actions import tr
from cmdesk.ui.alertas.notify import notify, open_page
from cmdesk.ui.kit.forms import dim, hbox, heading, push_button
from cmdesk.ui.kit.messages import error_text
from cmdesk.ui.tabs import AppContext, TabPage

SOON_DAYS = 30
REMIND_DAYS = 7
SOON_COLOR = QColor(255, 179, 0, 60)
Index = QModelIndex | QPersistentModelIndex


class CalendarModel(QAbstractTableModel):
    """The calendar's items (a few hundred at most: the server's answer, shown as it comes)."""

    HEADERS = (
        QT_TRANSLATE_NOOP("alertas", "Fecha"),
        QT_TRANSLATE_NOOP("alertas", "Faltan"),
        QT_TRANSLATE_NOOP("alertas", "Tipo"),
        QT_TRANSLATE_NOOP("alertas", "Concepto"),
        QT_TRANSLATE_NOOP("alertas", "Costo de renovación"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[dict[str, Any]] = []
        self.today = clock.today(server_now())

    def set_items(self, items: Sequence[Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self.items = [dict(i) for i in items]
        self.today = clock.today(server_now())
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self.HEADERS[section])
        return None

    def days_left(self, item: Mapping[str, Any]) -> int | None:
        try:
            return (dt.date.fromisoformat(str(item.get("date"))) - self.today).days
        except ValueError:
            return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        column = index.column()
        days = self.days_left(item)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                try:
                    return dt.date.fromisoformat(str(item.get("date"))).strftime("%d/%m/%Y")
                except ValueError:
                    return str(item.get("date") or "")
            if column == 1:
                if days is None:
                    return ""
                return tr("hoy") if days == 0 else tr("1 día") if days == 1 else tr("{n} días").format(n=days)
            if column == 2:
                return str(item.get("kind_label") or "")
            if column == 3:
                return str(item.get("title") or "")
            cents = item.get("amount_cents")
            return fmt.money(cents) if isinstance(cents, int) else "—"
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and days is not None and days <= SOON_DAYS:
            return SOON_COLOR
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(item.get("description") or item.get("summary") or "") or None
        return None


class CalendarPage(TabPage):
    entities = frozenset({"calendar"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = CalendarModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("calendarTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.months = QSpinBox(self)
        self.months.setObjectName("months")
        self.months.setRange(1, 24)
        self.months.setValue(12)
        self.months.setSuffix(tr(" meses"))
        self.refresh_button = push_button(tr("Actualizar"), self, "refreshCalendar", self.fetch)
        self.export_button = push_button(
            tr("Exportar a iCalendar (.ics)…"), self, "exportCalendar", self.choose_export
        )
        self.total = QLabel(self)
        self.total.setObjectName("total")
        self.status = QLabel(self)
        self.status.setObjectName("calendarStatus")
        dim(self.status)
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Calendario de renovaciones"),
                self,
                tr(
                    "Lo que vence en los próximos meses y lo que costará renovarlo. Expórtelo a Outlook o "
                    "Google Calendar: cada fecha lleva recordatorios 7 días y 1 día antes."
                ),
            )
        )
        layout.addLayout(
            hbox(
                QLabel(tr("Próximos:"), self),
                self.months,
                self.refresh_button,
                16,
                self.export_button,
                None,
                self.total,
            )
        )
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.notice)
        self.answer: dict[str, Any] | None = None
        self.reminded = False
        self.last_reminder: str | None = None
        self.last_export: Path | None = None
        self._loaded_once = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded_once:
            self._loaded_once = True
            self.load()

    def refresh(self, changed: frozenset[str]) -> None:
        super().refresh(changed)
        if "*" in changed and not self._loaded_once:
            # The session started: read the calendar now, so what expires within a week is recalled
            # even if this tab is never opened.
            self._loaded_once = True
            self.load()

    def reload(self, changed: frozenset[str]) -> None:
        if self._loaded_once:
            self.load()

    def load(self) -> None:
        """The stored calendar at once; a fresh one from the server when online."""
        if self.context.session is None:
            return
        actions.stored_calendar(self.context).success(lambda a: self._show(a, stored=True)).run()
        if self.context.is_online():
            self.fetch()

    def fetch(self) -> None:
        actions.fetch_calendar(self.context, self.months.value(), parent=self).success(
            lambda a: self._show(a, stored=False)
        ).failure(self._failed).run()

    def _failed(self, error: BaseException) -> None:
        self.status.setText(
            tr("No se pudo consultar el calendario: {e}").format(e=error_text(error))
            + ("\n" + tr("Se muestra el último consultado.") if self.answer else "")
        )

    def _show(self, answer: Mapping[str, Any] | None, *, stored: bool) -> None:
        if answer is None:
            if not self.model.items:
                self.status.setText(
                    tr("Aún no se ha consultado el calendario: se consulta al haber conexión.")
                )
            return
        self.answer = dict(answer)
        items = list(answer.get("items") or [])
        self.model.set_items(items)
        total = answer.get("total_cents")
        self.total.setText(
            tr("Total a renovar: {amount}").format(amount=fmt.money(total)) if isinstance(total, int) else ""
        )
        period = tr("Del {start} al {end}.").format(
            start=_day(answer.get("from")), end=_day(answer.get("until"))
        )
        self.status.setText(period + (" " + tr("Consultado antes (sin conexión).") if stored else ""))
        if not items:
            self.status.setText(period + " " + tr("Nada vence en ese periodo."))
        soon = [i for i in items if (d := self.model.days_left(i)) is not None and 0 <= d <= REMIND_DAYS]
        if soon and not self.reminded:  # once a session, whichever tab is on screen
            self.reminded = True
            what = "; ".join(str(i.get("title") or "") for i in soon[:3]) + (
                tr(" y {n} más").format(n=len(soon) - 3) if len(soon) > 3 else ""
            )
            text = tr("Vence en los próximos {n} días: {what}.").format(n=REMIND_DAYS, what=what)
            self.last_reminder = text
            self.show_notice(text)
            notify(self, tr("Renovaciones próximas"), text, lambda: open_page(self))

    def choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, tr("Exportar calendario"), "renovaciones.ics", tr("iCalendar (*.ics)")
        )
        if path:
            self.export(Path(path if path.lower().endswith(".ics") else path + ".ics"))

    def export(self, path: Path) -> None:
        def done(target: Path) -> None:
            self.last_export = target
            self.show_notice(tr("Se guardó el calendario en {path}.").format(path=str(target)))

        actions.export_calendar(self.context, path, self.months.value(), parent=self).success(done).failure(
            lambda e: self.show_notice(error_text(e), error=True)
        ).run()


def _day(value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value or "")
