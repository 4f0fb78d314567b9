"""Archivo → Configuración: which server (the embedded default or a central URL) and how often to sync.

Saving writes `config.json`. A new server means a new session (another cache, outbox and sign-in), so
the dialog asks whether to restart it now; `restart_requested` tells the main window. A new sync
interval applies at once.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from cmdesk.services import paths
from cmdesk.services.api_client import insecure_url_problem
from cmdesk.services.config import MAX_SYNC_INTERVAL, MIN_SYNC_INTERVAL, DesktopConfig, save_config
from cmdesk.ui import translator
from cmdesk.ui.kit.forms import hbox, vbox

tr = translator("settings")


def check_server_url(text: str) -> tuple[str | None, str | None]:
    """(normalized URL, None) for a usable central server address, or (None, the Spanish reason)."""
    value = text.strip()
    if not value:
        return None, tr("Escriba la dirección del servidor central.")
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return None, tr("La dirección debe comenzar con https://.")
    try:
        port = parts.port
    except ValueError:
        return None, tr("El puerto de la dirección no es válido.")
    host = parts.hostname or ""
    if not host or " " in value or (port is not None and not 0 < port < 65536):
        return None, tr("La dirección del servidor no es válida (ejemplo: https://cm.ejemplo.mx).")
    if parts.query or parts.fragment or parts.username or parts.password:
        return None, tr("La dirección no debe llevar usuario, contraseña, consulta ni fragmento.")
    if insecure_url_problem(value) is not None:
        return None, tr(
            "La dirección usa http://, que enviaría su contraseña y sus datos sin cifrar. Use https:// "
            "(http:// sólo se permite para un servidor en este mismo equipo: localhost o 127.0.0.1)."
        )
    return paths.normalize_url(value), None


class SettingsDialog(QDialog):
    def __init__(self, config: DesktopConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(tr("Configuración"))
        self.original = config
        self.config: DesktopConfig | None = None
        self.server_changed = False
        self.restart_requested = False

        server_box = QGroupBox(tr("Servidor"), self)
        self.embedded = QRadioButton(
            tr("Servidor integrado en este equipo (datos de demostración)"), server_box
        )
        self.embedded.setObjectName("embedded")
        self.central = QRadioButton(tr("Servidor central de la empresa:"), server_box)
        self.central.setObjectName("central")
        group = QButtonGroup(self)
        group.addButton(self.embedded)
        group.addButton(self.central)
        self.url = QLineEdit(server_box)
        self.url.setObjectName("serverUrl")
        self.url.setPlaceholderText("https://cm.ejemplo.mx")
        self.url.setText(config.server_url or "")
        (self.central if config.server_url else self.embedded).setChecked(True)
        self.url.setEnabled(self.central.isChecked())
        self.central.toggled.connect(self.url.setEnabled)
        self.central.toggled.connect(lambda on: self.url.setFocus() if on else None)

        central_row = hbox(self.central, (self.url, 1))
        vbox(server_box, self.embedded, central_row)

        sync_box = QGroupBox(tr("Sincronización"), self)
        self.interval = QSpinBox(sync_box)
        self.interval.setObjectName("syncInterval")
        self.interval.setRange(MIN_SYNC_INTERVAL, MAX_SYNC_INTERVAL)
        self.interval.setSingleStep(30)
        self.interval.setSuffix(tr(" segundos"))
        self.interval.setValue(config.sync_interval_seconds)
        self.interval.setGroupSeparatorShown(True)
        sync_form = QFormLayout(sync_box)
        sync_form.addRow(tr("Sincronizar cada:"), self.interval)

        self.error = QLabel(self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        font = self.error.font()
        font.setBold(True)
        self.error.setFont(font)
        self.error.setVisible(False)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setText(tr("Guardar"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancelar"))
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)

        vbox(self, server_box, sync_box, self.error, None, buttons)
        self.setMinimumWidth(560)

    def edited_config(self) -> tuple[DesktopConfig | None, str | None]:
        """The configuration the dialog shows, or None and the reason it is not valid."""
        server_url: str | None = None
        if self.central.isChecked():
            server_url, problem = check_server_url(self.url.text())
            if problem:
                return None, problem
        return (
            dataclasses.replace(
                self.original, server_url=server_url, sync_interval_seconds=self.interval.value()
            ),
            None,
        )

    def save(self) -> None:
        config, problem = self.edited_config()
        if config is None:
            self.error.setText(problem or "")
            self.error.setVisible(True)
            self.url.setFocus()
            return
        try:
            save_config(config)
        except OSError as exc:
            self.error.setText(tr("No se pudo guardar la configuración: {error}").format(error=str(exc)))
            self.error.setVisible(True)
            return
        self.config = config
        self.server_changed = config.server_url != self.original.server_url
        if self.server_changed:
            self.restart_requested = self.ask_restart()
        self.accept()

    def ask_restart(self) -> bool:
        answer = QMessageBox.question(
            self,
            tr("Reiniciar la sesión"),
            tr(
                "La configuración se guardó. Para usar el otro servidor hay que reiniciar la sesión "
                "(se cierra la actual y se abre la del nuevo servidor).\n\n¿Reiniciar la sesión ahora?"
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes
