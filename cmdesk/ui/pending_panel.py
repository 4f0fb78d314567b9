"""Archivo → Operaciones pendientes: the outbox as the user sees it.

Every command with its state (Pendiente, Enviado, Aplicado, Rechazado, Conflicto), what it does in
Spanish and when it was made. Selecting a rejected one shows the server's reason and what to do about
it; a conflict shows both values of each field. "Reintentar" sends a rejected command
again (a new idempotency key: the server keeps answering the old one with its first refusal), and
"Descartar" forgets a command after a confirmation (both through `kit.actions`). The list reloads on
the session's "commands" events (`refresh()`), reading the outbox in the cache pool.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QWidget,
)

from cmdesk.services import commands
from cmdesk.services.outbox import Command, CommandState
from cmdesk.services.sync import field_label
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.actions import command as kit_command
from cmdesk.ui.kit.actions import task
from cmdesk.ui.kit.forms import delete_key, dim, hbox, vbox
from cmdesk.ui.kit.messages import advice
from cmdesk.ui.operations import Pool

if TYPE_CHECKING:
    from cmdesk.services.outbox import Outbox
    from cmdesk.ui.kit.actions import AppContext


tr = translator("pending")


def list_commands(outbox: Outbox | None, states: list[CommandState] | None) -> list[Command]:
    return [] if outbox is None else outbox.list(states)


def details_html(command: Command) -> str:
    """The selected command, in words."""
    parts = [
        f"<p><b>{html.escape(labels.command_kind(command.kind))}</b>"
        + (f" — {html.escape(command.description)}" if command.description else "")
        + "</p>",
        "<p>"
        + html.escape(tr("Estado: {state}").format(state=labels.command_state(command.state)))
        + "<br>"
        + html.escape(tr("Creado: {when}").format(when=fmt.date_time(command.created_at)))
        + (
            "<br>" + html.escape(tr("Intentos de envío: {n}").format(n=command.attempts))
            if command.attempts
            else ""
        )
        + "</p>",
    ]
    if command.state in (CommandState.REJECTED, CommandState.CONFLICT):
        reason = command.error_detail or tr("El servidor no indicó el motivo.")
        parts.append(f"<p><b>{html.escape(tr('Motivo del servidor:'))}</b> {html.escape(reason)}</p>")
        errors = (command.error_body or {}).get("errors") or []
        if errors:
            items = "".join(
                f"<li>{html.escape(str(e.get('message') or e))}</li>" for e in errors if isinstance(e, dict)
            )
            parts.append(f"<ul>{items}</ul>")
        if command.conflict:
            rows = "".join(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                    html.escape(tr(field_label(path))),
                    html.escape(_value(values.get("mine"))),
                    html.escape(_value(values.get("server"))),
                )
                for path, values in command.conflict.items()
                if isinstance(values, dict)
            )
            parts.append(
                "<table border='1' cellpadding='4' cellspacing='0'>"
                "<tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>".format(
                    html.escape(tr("Campo")),
                    html.escape(tr("Su valor")),
                    html.escape(tr("Valor del servidor")),
                    rows,
                )
            )
        parts.append(f"<p><b>{html.escape(tr('Qué hacer:'))}</b> {html.escape(advice(command))}</p>")
    elif command.state == CommandState.PENDING:
        parts.append("<p>" + html.escape(tr("Se enviará al servidor en la próxima sincronización.")) + "</p>")
    elif command.state == CommandState.SENT:
        parts.append(
            "<p>"
            + html.escape(
                tr(
                    "Se envió al servidor y se espera su respuesta; si la conexión falló, se enviará de "
                    "nuevo con la misma clave y el servidor la aplicará una sola vez."
                )
            )
            + "</p>"
        )
    return "".join(parts)


def _value(value: Any) -> str:
    if value is None or value == "":
        return tr("(vacío)")
    if value is True:
        return tr("Sí")
    if value is False:
        return tr("No")
    return str(value)


COLUMNS = (
    QT_TRANSLATE_NOOP("pending", "Estado"),
    QT_TRANSLATE_NOOP("pending", "Operación"),
    QT_TRANSLATE_NOOP("pending", "Descripción"),
    QT_TRANSLATE_NOOP("pending", "Creado"),
)


class PendingPanel(QDialog):
    """Non-modal: it stays open while the user works, and follows the outbox."""

    loaded = Signal()  # the list was (re)read (tests wait on it)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.commands: list[Command] = []
        self._loading = False
        self._again = False
        self.setObjectName("pendingPanel")
        self.setWindowTitle(tr("Operaciones pendientes"))
        self.setModal(False)

        intro = QLabel(
            tr(
                "Los cambios que hace se guardan en este equipo y se envían al servidor en orden. "
                "Aquí puede ver su estado y atender los que el servidor rechazó."
            ),
            self,
        )
        intro.setWordWrap(True)

        self.show_done = QCheckBox(tr("Mostrar también los aplicados"), self)
        self.show_done.setObjectName("showDone")
        self.show_done.toggled.connect(lambda _on: self.refresh())

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("commands")
        self.table.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.details = QTextBrowser(self)
        self.details.setObjectName("details")
        self.details.setOpenLinks(False)

        self.empty = QLabel(tr("No hay operaciones pendientes: todo está en el servidor."), self)
        self.empty.setObjectName("empty")
        dim(self.empty)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.retry_button = QPushButton(tr("Reintentar"), self)
        self.retry_button.setObjectName("retry")
        self.retry_button.clicked.connect(self.retry_selected)
        self.discard_button = QPushButton(tr("Descartar"), self)
        self.discard_button.setObjectName("discard")
        self.discard_button.clicked.connect(self.discard_selected)
        self.delete_shortcut = delete_key(self.table, self.discard_selected)  # Supr/Del: «Descartar»
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)

        buttons = hbox(self.show_done, None, self.retry_button, self.discard_button, close)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        vbox(self, intro, (splitter, 1), self.empty, buttons)
        self.resize(820, 520)
        self._selection_changed()

    # ---- loading ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        session = self.context.session
        if session is None:
            self._loaded([])
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        states = None if self.show_done.isChecked() else [s for s in CommandState if s != CommandState.DONE]
        task(
            self.context, list_commands, session.outbox, states, pool=Pool.CACHE, label=tr("Leyendo comandos")
        ).success(self._loaded).failure(self._failed).run()

    def _loaded(self, items: list[Command]) -> None:
        selected = self.selected()
        keep = selected.id if selected is not None else None
        self.commands = items
        self.table.setRowCount(len(items))
        for row, command in enumerate(items):
            values = (
                labels.command_state(command.state),
                labels.command_kind(command.kind),
                command.description or "",
                fmt.date_time(command.created_at),
            )
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == 0 and command.state in (CommandState.REJECTED, CommandState.CONFLICT):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if col == 2 and command.error_detail:
                    item.setToolTip(command.error_detail)
                self.table.setItem(row, col, item)
            if command.id == keep:
                self.table.selectRow(row)
        self.empty.setVisible(not items)
        if keep is None or all(c.id != keep for c in items):
            self.table.clearSelection()
        self._selection_changed()
        self._finish()

    def _failed(self, error: BaseException) -> None:
        self.details.setPlainText(tr("No se pudieron leer los comandos: {error}").format(error=str(error)))
        self._finish()

    def _finish(self) -> None:
        self._loading = False
        self.loaded.emit()
        if self._again:
            self._again = False
            self.refresh()

    # ---- selection and actions ----------------------------------------------------------------------

    def selected(self) -> Command | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self.commands[row] if 0 <= row < len(self.commands) else None

    def select(self, command_id: str) -> bool:
        for row, command in enumerate(self.commands):
            if command.id == command_id:
                self.table.selectRow(row)
                return True
        return False

    def _selection_changed(self) -> None:
        command = self.selected()
        if command is None:
            self.details.setHtml(
                "<p>" + html.escape(tr("Seleccione un comando para ver sus detalles.")) + "</p>"
                if self.commands
                else ""
            )
        else:
            self.details.setHtml(details_html(command))
        self.retry_button.setEnabled(
            command is not None and command.state in (CommandState.REJECTED, CommandState.CONFLICT)
        )
        self.discard_button.setEnabled(
            command is not None
            and command.state in (CommandState.PENDING, CommandState.REJECTED, CommandState.CONFLICT)
        )

    def confirm_discard(self, command: Command) -> bool:
        answer = QMessageBox.question(
            self,
            tr("Descartar comando"),
            tr(
                "¿Descartar «{what}»?\n\nNo se enviará al servidor y los cambios que mostraba en este equipo "
                "desaparecerán. Esta acción no se puede deshacer."
            ).format(what=command.description or labels.command_kind(command.kind)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def retry_selected(self) -> None:
        """Send it again with a new key (queued, and sent at once when online)."""
        command = self.selected()
        if command is not None:
            self._act(commands.retry, command.id)

    def discard_selected(self) -> None:
        command = self.selected()
        if command is not None and self.confirm_discard(command):
            self._act(commands.discard, command.id)

    def _act(self, fn: Callable[..., object], command_id: str) -> None:
        self.retry_button.setEnabled(False)
        self.discard_button.setEnabled(False)

        def failed(error: BaseException) -> None:
            QMessageBox.warning(self, tr("Operaciones pendientes"), str(error) or type(error).__name__)
            self.refresh()

        kit_command(self.context, fn, command_id, parent=self, label=tr("Actualizando comandos")).success(
            lambda _result: self.refresh()
        ).failure(failed).run()
