"""The status bar: connection state, pending commands (click → the pending panel), last sync, busy.

    En línea  ·  Operaciones pendientes: 2  ·  Última sincronización: 29/11/2026 00:20  [▓▓▓  ]

A notice (e.g. "no keyring on this computer") stays on the left until replaced, and so do the
server's notices (this computer's clock far from the server's, a newer cmdesk the server wants, what
an older server lacks: `DesktopSession.notices()`); transient messages use `showMessage`. No fixed
colors: the state is text, the platform palette paints it.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QToolButton, QWidget

from cmdesk.services.connectivity import ConnectionState
from cmdesk.ui import locale as fmt
from cmdesk.ui import translator

tr = translator("status")


def state_text(state: ConnectionState | str | None) -> str:
    if state is None:
        return tr("Iniciando…")
    state = ConnectionState(state)
    if state is ConnectionState.ONLINE:
        return tr("En línea")
    if state is ConnectionState.SYNCING:
        return tr("Sincronizando")
    return tr("Sin conexión")


class StatusBar(QStatusBar):
    pending_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.notice = QLabel(self)
        self.notice.setObjectName("notice")
        self.notice.setVisible(False)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        # Like the server's notices: cut at the window's edge (the tooltip has it whole), so a long
        # one ("no keyring on this computer…") never makes the window wider than the screen.
        self.notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.addWidget(self.notice, 1)
        self.server_notice = QLabel(self)
        self.server_notice.setObjectName("serverNotice")
        self.server_notice.setVisible(False)
        self.server_notice.setTextFormat(Qt.TextFormat.PlainText)
        # A long notice is cut at the window's edge (the tooltip has it whole), never widening it.
        self.server_notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.addWidget(self.server_notice, 1)

        self.busy = QProgressBar(self)
        self.busy.setObjectName("busy")
        self.busy.setMaximumWidth(140)
        self.busy.setMaximumHeight(self.fontMetrics().height() + 2)
        self.busy.setTextVisible(False)
        self.busy.setRange(0, 0)
        self.busy.setVisible(False)

        self.connection = QLabel(self)
        self.connection.setObjectName("connectionState")
        font = self.connection.font()
        font.setBold(True)
        self.connection.setFont(font)

        self.pending = QToolButton(self)
        self.pending.setObjectName("pendingCommands")
        self.pending.setAutoRaise(True)
        self.pending.setCursor(Qt.CursorShape.PointingHandCursor)
        self.pending.setToolTip(tr("Ver los operaciones pendientes"))
        self.pending.clicked.connect(self.pending_clicked)

        self.last_sync = QLabel(self)
        self.last_sync.setObjectName("lastSync")

        self.addPermanentWidget(self.busy)
        self.addPermanentWidget(self.connection)
        self.addPermanentWidget(self.pending)
        self.addPermanentWidget(self.last_sync)
        self.set_state(None)
        self.set_pending(0, 0)
        self.set_last_sync(None)

    def set_state(self, state: ConnectionState | str | None) -> None:
        self.connection.setText(state_text(state))
        self.connection.setProperty("state", str(state) if state is not None else "")

    def set_pending(self, pending: int, attention: int = 0) -> None:
        text = tr("Operaciones pendientes: {n}").format(n=fmt.number(pending))
        if attention:
            text += " · " + tr("Requieren atención: {n}").format(n=fmt.number(attention))
        self.pending.setText(text)
        font = self.pending.font()
        font.setBold(attention > 0)
        self.pending.setFont(font)

    def set_last_sync(self, when: dt.datetime | str | None) -> None:
        text = fmt.date_time(when)
        self.last_sync.setText(tr("Última sincronización: {when}").format(when=text or tr("nunca")))

    def showMessage(self, text: str, timeout: int | None = 0) -> None:
        """A passing message, elided to the room there is (a long one never widens the window); the
        whole text in the tooltip."""
        room = max(120, self.width() // 2)
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room)
        self.setToolTip(text if shown != text else "")
        super().showMessage(shown, timeout or 0)

    def set_notice(self, text: str | None) -> None:
        """A lasting message (the keyring warning); None hides it."""
        self.notice.setText(text or "")
        self.notice.setToolTip(text or "")
        self.notice.setVisible(bool(text))

    def set_server_notices(self, texts: list[str]) -> None:
        """The server's notices (see the module docstring): the first shown, all in the tooltip."""
        self.server_notice.setText(texts[0] if texts else "")
        self.server_notice.setToolTip("\n\n".join(texts))
        self.server_notice.setVisible(bool(texts))

    def set_busy(self, jobs: int, labels: list[str] | None = None) -> None:
        self.busy.setVisible(jobs > 0)
        if jobs == 0:
            self.busy.setRange(0, 0)
        tip = "\n".join(dict.fromkeys(labels or []))
        self.busy.setToolTip(tip or tr("Trabajando…"))

    def set_progress(self, done: int, total: int, text: str = "") -> None:
        """Determinate progress of a long job (the busy bar shows it until the job ends)."""
        if total > 0:
            self.busy.setRange(0, total)
            self.busy.setValue(min(done, total))
        if text:
            self.showMessage(text, 3000)
