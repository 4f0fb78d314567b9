"""Bitácora (audit log): who changed what, when, from which computer and why — Herramientas →
Bitácora, filtered by period, user, entity and action; and the history of one client or CTI (every
record that touched it), from their context menus.

The log is the server's (it is not in the change feed): pages are read online, newest first, and kept
in the cache per filter (`cmdesk.services.audit`), so the table pages in SQL like every other one, and
offline the pages read before are still shown (the panel says when they were read). Every filter, the
action too, is the server's (`AuditFilter.action`): choosing an action reads its records from the
newest, not only among the pages read; offline, an action not read yet is looked for in what was read
for every action. Scrolling to the end, or "Cargar más", reads the next page. A double click opens
the record whole: each field before and after, and the other rows the operation changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import names
from cmdesk.domain import statements as st
from cmdesk.services.api_client import OfflineError
from cmdesk.services.audit import AuditFetch, AuditFilter, changed_fields, summary
from cmdesk.services.server_info import server_now
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt
from cmdesk.ui.bitacora import actions
from cmdesk.ui.bitacora.actions import tr
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.export import export_button
from cmdesk.ui.kit.flow import FlowLayout
from cmdesk.ui.kit.forms import Notice, fit_window, hbox, heading, push_button
from cmdesk.ui.kit.messages import error_text
from cmdesk.ui.kit.table import Column, PagedTableModel, Query, make_table, selected_record
from cmdesk.ui.tabs import TabPage


def _who(record: Mapping[str, Any]) -> str:
    profile = record.get("profile") or {}
    if not profile:
        return tr("Sistema / operación pública")
    return str(profile.get("name") or profile.get("email") or profile.get("id") or "")


COLUMNS = (
    Column("created_at", QT_TRANSLATE_NOOP("bitacora", "Fecha"), "datetime", context="bitacora"),
    Column("who", QT_TRANSLATE_NOOP("bitacora", "Usuario"), value=_who, context="bitacora"),
    Column("action_label", QT_TRANSLATE_NOOP("bitacora", "Acción"), context="bitacora"),
    Column(
        "entity",
        QT_TRANSLATE_NOOP("bitacora", "Entidad"),
        value=lambda r: labels.audit_entity(r.get("entity")),
        context="bitacora",
    ),
    Column("entity_id", QT_TRANSLATE_NOOP("bitacora", "Id"), context="bitacora"),
    Column("reason", QT_TRANSLATE_NOOP("bitacora", "Motivo"), context="bitacora"),
    Column("changes", QT_TRANSLATE_NOOP("bitacora", "Cambios"), value=summary, context="bitacora"),
    Column("device", QT_TRANSLATE_NOOP("bitacora", "Equipo"), context="bitacora"),
)


class AuditPanel(QWidget):
    """The bitácora's filters, table and paging. `entity`/`entity_id` fixed: one entity's history."""

    fetched = Signal()  # a page came (or the fetch failed): tests wait on it

    def __init__(
        self,
        context: AppContext,
        *,
        entity: str | None = None,
        entity_id: str | None = None,
        account_id: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("auditPanel")
        self.context = context
        self.fixed_entity, self.fixed_id, self.account_id = entity, entity_id, account_id
        self.filters = AuditFilter(entity=entity, entity_id=entity_id, account_id=account_id)
        self.more = False
        self._fetching = False
        self._again: bool | None = None  # a fetch asked for while one ran (True: from the top)
        today = st.local_day(server_now())
        start = today - dt.timedelta(days=30)
        self.use_period = QCheckBox(tr("Del"), self)
        self.use_period.setObjectName("usePeriod")
        self.use_period.setChecked(entity_id is None)
        self.first = QDateEdit(QDate(start.year, start.month, start.day), self)
        self.last = QDateEdit(QDate(today.year, today.month, today.day), self)
        for edit, name in ((self.first, "first"), (self.last, "last")):
            edit.setObjectName(name)
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd/MM/yyyy")
        self.user = QComboBox(self)
        self.user.setObjectName("user")
        self.user.addItem(tr("Todos"), None)
        self.entity = QComboBox(self)
        self.entity.setObjectName("entity")
        self.entity.addItem(tr("Todas"), None)
        for key, label in labels.items(names.AUDIT_ENTITIES):
            self.entity.addItem(label, key)
        self.action = QComboBox(self)
        self.action.setObjectName("action")
        self.action.addItem(tr("Todas"), None)
        self.action.currentIndexChanged.connect(lambda *_: self.restart())
        self.show_button = push_button(tr("Consultar"), self, "show", self.restart)
        self.more_button = push_button(tr("Cargar más"), self, "more", self.fetch_more)
        self.model = PagedTableModel(context, COLUMNS, actions.load_records, parent=self)
        self.table = make_table(
            self.model,
            self,
            "audit",
            sortable=False,
            widths=(16, 18, 24, 16, 14, 22, 40, 24),
            empty_text=tr("Sin registros para estos filtros."),
        )
        self.table.doubleClicked.connect(lambda *_: self.open_record())
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.exporter = export_button(self, self.table, tr("bitacora"), title=tr("Exportar la bitácora"))
        self.state = QLabel(self)
        self.state.setObjectName("state")
        self.notice = Notice(self)
        self.dialog: RecordDialog | None = None
        # The filters in groups that wrap onto a second line at 1024 px instead of widening the window.
        groups = [
            self._group(self.use_period, self.first, QLabel(tr("al"), self), self.last),
            self._group(QLabel(tr("Usuario:"), self), self.user),
        ]
        if entity is None:
            groups.append(self._group(QLabel(tr("Entidad:"), self), self.entity))
        else:
            self.entity.hide()  # one entity's history: its type is fixed
        groups += [self._group(QLabel(tr("Acción:"), self), self.action, self.show_button), self.exporter]
        filters = FlowLayout(spacing=12)
        for group in groups:
            filters.addWidget(group)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(hbox(self.state, None, self.more_button))
        layout.addWidget(self.notice)
        self.more_button.setEnabled(False)

    def _profiles(self, rows: list[dict[str, Any]]) -> None:
        if self.user.count() > 1:
            return
        for row in rows:
            self.user.addItem(str(row.get("name") or row.get("email") or row["id"]), row["id"])

    # ---- filters and pages -----------------------------------------------------------------------

    def current_filter(self) -> AuditFilter:
        since = until = None
        if self.use_period.isChecked():
            first: dt.date = self.first.date().toPython()  # type: ignore[assignment]
            last: dt.date = self.last.date().toPython()  # type: ignore[assignment]
            since, until = st.period(first, max(first, last))
        entity = self.fixed_entity or self.entity.currentData()
        return AuditFilter(
            entity=entity,
            entity_id=self.fixed_id,
            profile_id=self.user.currentData(),
            since=since,
            until=until,
            account_id=self.account_id,
            action=self.action.currentData(),
        )

    def _group(self, *items: Any) -> QWidget:
        """Filters that belong together (a label and its field), kept on one line when the row wraps."""
        group = QWidget(self)
        row = hbox(*items)
        row.setContentsMargins(0, 0, 0, 0)
        group.setLayout(row)
        return group

    def restart(self) -> None:
        """Read the filters' list from its newest record."""
        if self.user.count() == 1:  # the users, once a session is open
            actions.profiles(self.context).success(self._profiles).run()
        self.filters = self.current_filter()
        self._show_kept()
        self._fetch(restart=True)

    def fetch_more(self) -> None:
        if self.more:
            self._fetch(restart=False)

    def _scrolled(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        if value >= bar.maximum() - 2 and self.more and not self.model.canFetchMore():
            self.fetch_more()

    def _fetch(self, *, restart: bool) -> None:
        if self._fetching:
            self._again = self._again or restart  # after the page under way
            return
        self._fetching = True
        self.more_button.setEnabled(False)
        actions.fetch_page(self.context, self.filters, restart=restart, parent=self).success(
            self._fetched
        ).failure(self._failed).run()

    def _fetch_again(self) -> bool:
        again, self._again = self._again, None
        if again is None:
            return False
        self._fetch(restart=again)
        return True

    def _fetched(self, result: AuditFetch) -> None:
        self._fetching = False
        if self._fetch_again():
            return
        self.more = result.more
        self.notice.show_text("")
        self._show_kept()
        self.fetched.emit()

    def _failed(self, error: BaseException) -> None:
        self._fetching = False
        if self._fetch_again():
            return
        offline = isinstance(error, OfflineError)
        if offline:
            self.notice.show_text(tr("Sin conexión: se muestran los registros leídos antes."), error=True)
        else:
            self.notice.show_text(error_text(error), error=True)
        self._show_kept(offline=offline)
        self.fetched.emit()

    def _show_kept(self, *, offline: bool = False) -> None:
        """Show the records kept for the filters; `offline` with an action: those of the action among
        the records kept for every action when its own list was never read."""
        action = self.filters.action
        self.model.set_query(Query(filters=(("action", None), ("key", self.filters.key))))
        actions.kept(self.context, self.filters).success(
            lambda result: self._kept(result, offline and action is not None)
        ).run()

    def _kept(
        self, result: tuple[tuple[bool, str | None, int, str | None], list[tuple[str, str]]], local: bool
    ) -> None:
        (read, cursor, count, when), seen = result
        if local and not read:
            any_action = self.filters.any_action()
            self.model.set_query(
                Query(filters=(("action", self.filters.action), ("key", any_action.key)))
            )
        self.more = cursor is not None
        self.more_button.setEnabled(self.more and not self._fetching)
        chosen = self.action.currentData()
        self.action.blockSignals(True)
        self.action.clear()
        self.action.addItem(tr("Todas"), None)
        for action, label in seen:
            self.action.addItem(label, action)
        self.action.setCurrentIndex(max(0, self.action.findData(chosen)))
        self.action.blockSignals(False)
        if not read:
            self.state.setText(tr("Aún no se ha leído la bitácora de estos filtros."))
            return
        text = (
            tr("1 registro leído del servidor el {when}.")
            if count == 1
            else tr("{n} registros leídos del servidor el {when}.")
        ).format(n=fmt.number(count), when=fmt.date_time(when))
        self.state.setText(
            text + (" " + tr("Hay más: desplácese al final o pulse Cargar más.") if self.more else "")
        )

    # ---- one record --------------------------------------------------------------------------------

    def open_record(self) -> RecordDialog | None:
        record = selected_record(self.table)
        if record is None:
            return None
        self.dialog = RecordDialog(self.context, dict(record), self)
        self.dialog.show()
        return self.dialog


class RecordDialog(QDialog):
    """One record of the bitácora: who, when, from where, why; each field before and after; and the
    other rows the operation changed (read from the server when online)."""

    loaded = Signal()

    def __init__(self, context: AppContext, record: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditRecord")
        self.setWindowTitle(tr("Registro de la bitácora"))
        self.record = record
        head = QLabel(self)
        head.setObjectName("head")
        head.setTextFormat(Qt.TextFormat.PlainText)
        head.setText(
            "\n".join(
                [
                    f"{record.get('action_label') or record.get('action')} · "
                    f"{labels.audit_entity(record.get('entity'))} {record.get('entity_id') or ''}",
                    tr("Fecha: {at}   ·   Usuario: {who}").format(
                        at=fmt.date_time(record.get("created_at")), who=_who(record)
                    ),
                    tr("Equipo: {device}   ·   IP: {ip}").format(
                        device=record.get("device") or "—", ip=record.get("ip") or "—"
                    ),
                    tr("Motivo: {reason}").format(reason=record.get("reason") or "—"),
                ]
            )
        )
        self.fields = QTableWidget(0, 4, self)
        self.fields.setObjectName("fields")
        self.fields.setHorizontalHeaderLabels([tr("Entidad"), tr("Campo"), tr("Antes"), tr("Después")])
        self.fields.horizontalHeader().setStretchLastSection(True)
        self.fields.verticalHeader().setVisible(False)
        self._add_rows(str(record.get("entity") or ""), str(record.get("entity_id") or ""), record)
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(self.fields, 1)
        layout.addLayout(hbox(None, close))
        self.resize(820, 460)
        fit_window(self)
        if record.get("changes_count"):
            actions.record(context, int(record["id"]), parent=self).success(self._detail).failure(
                lambda _e: self.loaded.emit()
            ).run()

    def _add_rows(self, entity: str, ident: str, change: Mapping[str, Any]) -> None:
        for name, old, new in changed_fields(change.get("before"), change.get("after")):
            row = self.fields.rowCount()
            self.fields.insertRow(row)
            field = labels.name(names.AUDIT_FIELDS, name)
            for column, text in enumerate((f"{labels.audit_entity(entity)} {ident}", field, old, new)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.fields.setItem(row, column, item)

    def _detail(self, detail: Mapping[str, Any]) -> None:
        for change in detail.get("changes") or []:
            self._add_rows(str(change.get("entity")), str(change.get("id")), change)
        self.fields.resizeColumnsToContents()
        self.loaded.emit()


class BitacoraPage(TabPage):
    """Herramientas → Bitácora."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.panel = AuditPanel(context, parent=self)
        self._started = False
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Bitácora"),
                self,
                tr(
                    "Quién cambió qué, cuándo, desde qué equipo y por qué. Doble clic en un registro para "
                    "ver cada campo antes y después."
                ),
            )
        )
        layout.addWidget(self.panel, 1)
        layout.addWidget(self.notice)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._started and self.context.session is not None:
            self._started = True
            self.panel.restart()


class HistoryDialog(QDialog):
    """Historial: every record of the bitácora that touched one client or CTI."""

    def __init__(
        self, context: AppContext, entity: str, entity_id: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("historyDialog")
        self.setWindowTitle(tr("Historial: {who}").format(who=title))
        account = entity == "account"  # a sub-distributor's whole bitácora
        self.panel = AuditPanel(
            context,
            entity=None if account else entity,
            entity_id=None if account else entity_id,
            account_id=entity_id if account else None,
            parent=self,
        )
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        what = tr("Bitácora del distribuidor") if account else labels.audit_entity(entity)
        layout.addLayout(heading(tr("Historial"), self, f"{what}: {title}"))
        layout.addWidget(self.panel, 1)
        layout.addLayout(hbox(None, close))
        self.resize(1200, 600)
        fit_window(self)
        self.panel.restart()


def open_history(
    context: AppContext, entity: str, entity_id: str, title: str, parent: QWidget
) -> HistoryDialog:
    dialog = HistoryDialog(context, entity, entity_id, title, parent)
    dialog.show()
    return dialog
