"""Archivo → Comandos pendientes: the outbox as the user sees it.

Every command with its state (Pendiente, Enviado, Aplicado, Rechazado, Conflicto), what it does in
Spanish and when it was made. Selecting a rejected one shows the server's reason and what to do about
it; a conflict shows both values of each field. "Reintentar con nueva clave" sends a rejected command
again (a new idempotency key: the server keeps answering the old one with its first refusal), and
"Descartar" forgets a command after a confirmation. The list reloads on the session's "commands"
events (`refresh()`), reading the outbox in the cache pool.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cmdesk.services import commands
from cmdesk.services.outbox import Command, CommandState
from cmdesk.services.sync import field_label
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt

if TYPE_CHECKING:
    from cmdesk.ui.tabs import AppContext


def tr(text: str) -> str:
    return QCoreApplication.translate("pending", text)


STATE_NAMES: dict[CommandState, str] = {
    CommandState.PENDING: QT_TRANSLATE_NOOP("pending", "Pendiente"),
    CommandState.SENT: QT_TRANSLATE_NOOP("pending", "Enviado"),
    CommandState.DONE: QT_TRANSLATE_NOOP("pending", "Aplicado"),
    CommandState.REJECTED: QT_TRANSLATE_NOOP("pending", "Rechazado"),
    CommandState.CONFLICT: QT_TRANSLATE_NOOP("pending", "Conflicto"),
}

KIND_NAMES: dict[str, str] = {
    "create_client": QT_TRANSLATE_NOOP("pending", "Alta de cliente"),
    "update_client": QT_TRANSLATE_NOOP("pending", "Edición de cliente"),
    "set_tags": QT_TRANSLATE_NOOP("pending", "Etiquetas de cliente"),
    "set_admin_profile": QT_TRANSLATE_NOOP("pending", "Perfil principal del cliente"),
    "set_cti_active": QT_TRANSLATE_NOOP("pending", "Activar o bloquear CTI"),
    "set_auto_sale": QT_TRANSLATE_NOOP("pending", "Venta automática"),
    "transfer": QT_TRANSLATE_NOOP("pending", "Transferencia"),
    "bulk_transfer": QT_TRANSLATE_NOOP("pending", "Transferencia masiva"),
    "purchase": QT_TRANSLATE_NOOP("pending", "Compra"),
    "add_interaction": QT_TRANSLATE_NOOP("pending", "Interacción con cliente"),
    "add_policy": QT_TRANSLATE_NOOP("pending", "Póliza de soporte"),
}

# What the user can do about each refusal.
ADVICE: dict[str, str] = {
    "insufficient_balance": QT_TRANSLATE_NOOP(
        "pending",
        "No hay saldo suficiente. Compre timbres o puntos (menú Compras) y pulse «Reintentar con nueva "
        "clave», o descarte la operación.",
    ),
    "validation_error": QT_TRANSLATE_NOOP(
        "pending",
        "El servidor no aceptó los datos. Descarte la operación y vuelva a capturarla con los datos "
        "corregidos.",
    ),
    "not_found": QT_TRANSLATE_NOOP(
        "pending",
        "El registro ya no existe en el servidor (otro usuario pudo eliminarlo). Descarte la operación.",
    ),
    "version_conflict": QT_TRANSLATE_NOOP(
        "pending",
        "Otro usuario cambió los mismos datos. Revise los valores de abajo, vuelva a capturar el cambio "
        "si aún lo necesita y descarte esta operación.",
    ),
    "duplicate": QT_TRANSLATE_NOOP(
        "pending", "Ya existe un registro con esos datos. Revise la información y descarte la operación."
    ),
    "account_blocked": QT_TRANSLATE_NOOP(
        "pending", "La cuenta está bloqueada. Actívela y pulse «Reintentar con nueva clave»."
    ),
    "feature_not_contracted": QT_TRANSLATE_NOOP(
        "pending",
        "La operación requiere un servicio que no tiene contratado. Contrátelo y reintente, o descarte "
        "la operación.",
    ),
    "invalid_state_transition": QT_TRANSLATE_NOOP(
        "pending", "El estado del registro ya no permite esta operación. Descártela."
    ),
}
DEFAULT_ADVICE = QT_TRANSLATE_NOOP(
    "pending",
    "Corrija la causa y pulse «Reintentar con nueva clave», o descarte la operación si ya no la necesita.",
)


def state_name(state: CommandState | str) -> str:
    return tr(STATE_NAMES[CommandState(state)])


def kind_name(kind: str) -> str:
    return tr(KIND_NAMES[kind]) if kind in KIND_NAMES else kind.replace("_", " ").capitalize()


def advice(command: Command) -> str:
    if command.state == CommandState.CONFLICT:
        return tr(ADVICE["version_conflict"])
    return tr(ADVICE.get(command.error_code or "", DEFAULT_ADVICE))


def details_html(command: Command) -> str:
    """The selected command, in words."""
    parts = [
        f"<p><b>{html.escape(kind_name(command.kind))}</b>"
        + (f" — {html.escape(command.description)}" if command.description else "")
        + "</p>",
        "<p>"
        + html.escape(tr("Estado: {state}").format(state=state_name(command.state)))
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

    sync_requested = Signal()  # after a retry: send it now
    loaded = Signal()  # the list was (re)read (tests wait on it)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.commands: list[Command] = []
        self._loading = False
        self._again = False
        self.setObjectName("pendingPanel")
        self.setWindowTitle(tr("Comandos pendientes"))
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

        self.empty = QLabel(tr("No hay comandos pendientes: todo está en el servidor."), self)
        self.empty.setObjectName("empty")
        self.empty.setEnabled(False)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.retry_button = QPushButton(tr("Reintentar con nueva clave"), self)
        self.retry_button.setObjectName("retry")
        self.retry_button.clicked.connect(self.retry_selected)
        self.discard_button = QPushButton(tr("Descartar"), self)
        self.discard_button.setObjectName("discard")
        self.discard_button.clicked.connect(self.discard_selected)
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)

        buttons = QHBoxLayout()
        buttons.addWidget(self.show_done)
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(close)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
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

        def load() -> list[Command]:
            outbox = session.outbox
            return [] if outbox is None else outbox.list(states)

        self.context.ops.run(
            load, on_done=self._loaded, on_error=self._failed, pool="cache", label=tr("Leyendo comandos")
        )

    def _loaded(self, items: list[Command]) -> None:
        selected = self.selected()
        keep = selected.id if selected is not None else None
        self.commands = items
        self.table.setRowCount(len(items))
        for row, command in enumerate(items):
            values = (
                state_name(command.state),
                kind_name(command.kind),
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
            ).format(what=command.description or kind_name(command.kind)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def retry_selected(self) -> None:
        command = self.selected()
        if command is None:
            return
        self._act(lambda s: s.command(commands.retry, command.id), then_sync=True)

    def discard_selected(self) -> None:
        command = self.selected()
        if command is None or not self.confirm_discard(command):
            return
        self._act(lambda s: s.command(commands.discard, command.id), then_sync=False)

    def _act(self, action: Callable[[Any], object], *, then_sync: bool) -> None:
        session = self.context.session
        if session is None:
            return
        self.retry_button.setEnabled(False)
        self.discard_button.setEnabled(False)

        def done(_result: object) -> None:
            self.refresh()
            if then_sync:
                self.sync_requested.emit()

        def failed(error: BaseException) -> None:
            QMessageBox.warning(self, tr("Comandos pendientes"), str(error) or type(error).__name__)
            self.refresh()

        self.context.ops.run(
            action, session, on_done=done, on_error=failed, pool="cache", label=tr("Actualizando comandos")
        )
