"""Opciones de descarga: where downloads are kept (this desk's folder or a shared office folder), the
folder's size limit, how many files download at once and the bandwidth cap for thin lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from cmdesk.ui import translator
from cmdesk.ui.kit.forms import ERROR_STYLE, hbox, vbox
from cmdesk.ui.software import actions

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import AppContext

MB_PER_GB = 1024


tr = translator("software")


@dataclass(frozen=True)
class DownloadOptions:
    folder: str | None  # None: this desk's own folder
    limit_mb: int  # 0: no limit
    parallel: int
    rate_kbps: int  # 0: no cap


class DownloadOptionsDialog(QDialog):
    saved = Signal(object)  # the DownloadOptions, once checked

    def __init__(
        self,
        options: DownloadOptions,
        default_folder: Path,
        context: AppContext,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("downloadOptions")
        self.setWindowTitle(tr("Opciones de descarga"))
        self.context = context
        self.default_folder = default_folder
        self.result_options: DownloadOptions | None = None

        intro = QLabel(
            tr(
                "Los archivos descargados se guardan verificados en esta carpeta y quedan disponibles sin "
                "conexión. Para que los equipos de una oficina descarguen cada archivo una sola vez, elija "
                "una carpeta compartida en la red.\nPor ejemplo: \\\\SERVIDOR\\Instaladores"
            ),
            self,
        )
        intro.setWordWrap(True)

        self.setMinimumWidth(780)
        self.folder = QLineEdit(options.folder or str(default_folder), self)
        self.folder.setObjectName("folder")
        self.folder.setMinimumWidth(360)
        self.folder.setCursorPosition(0)  # the start of a long path says more than its end
        browse = QPushButton(tr("Examinar…"), self)
        browse.setObjectName("browse")
        browse.clicked.connect(self._browse)
        local = QPushButton(tr("Usar la de este equipo"), self)
        local.setObjectName("useLocal")
        local.setToolTip(str(default_folder))
        local.clicked.connect(lambda: self.folder.setText(str(default_folder)))
        row = hbox((self.folder, 1), browse, local)
        self.folder_error = QLabel(self)
        self.folder_error.setObjectName("folderError")
        self.folder_error.setWordWrap(True)
        self.folder_error.setStyleSheet(ERROR_STYLE)
        self.folder_error.hide()

        self.limit = QSpinBox(self)
        self.limit.setObjectName("limit")
        self.limit.setRange(0, 100_000)
        self.limit.setSuffix(tr(" GB"))
        self.limit.setSpecialValueText(tr("Sin límite"))
        self.limit.setValue(round(options.limit_mb / MB_PER_GB))
        self.limit.setToolTip(
            tr(
                "Al pasar el límite se borran primero las versiones anteriores y lo menos usado; "
                "nunca un archivo conservado o en uso."
            )
        )
        self.parallel = QSpinBox(self)
        self.parallel.setObjectName("parallel")
        self.parallel.setRange(1, 8)
        self.parallel.setValue(options.parallel)
        self.rate = QSpinBox(self)
        self.rate.setObjectName("rate")
        self.rate.setRange(0, 1_000_000)
        self.rate.setSingleStep(64)
        self.rate.setSuffix(tr(" KB/s"))
        self.rate.setSpecialValueText(tr("Sin límite"))
        self.rate.setValue(options.rate_kbps)
        self.rate.setToolTip(tr("Para no saturar una línea lenta que comparte toda la oficina."))

        form = QFormLayout()
        form.addRow(tr("Carpeta de descargas:"), row)
        form.addRow(self.folder_error)
        form.addRow(tr("Tamaño máximo de la carpeta:"), self.limit)
        form.addRow(tr("Descargas simultáneas:"), self.parallel)
        form.addRow(tr("Velocidad máxima:"), self.rate)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText(tr("Guardar"))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setObjectName("save")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancelar"))
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        vbox(self, intro, form, self.buttons)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, tr("Carpeta de descargas"), self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def options(self) -> DownloadOptions:
        text = self.folder.text().strip()
        folder = None if not text or Path(text) == self.default_folder else text
        return DownloadOptions(
            folder, self.limit.value() * MB_PER_GB, self.parallel.value(), self.rate.value()
        )

    def save(self) -> None:
        """Check the folder (creating it; a share may be slow: in the network pool), then close."""
        options = self.options()
        folder = Path(options.folder) if options.folder else self.default_folder
        self.folder_error.hide()
        self.buttons.setEnabled(False)
        actions.check_folder(self.context, folder).success(
            lambda problem: self._checked(options, problem)
        ).failure(lambda error: self._checked(options, str(error))).run()

    def _checked(self, options: DownloadOptions, problem: str | None) -> None:
        self.buttons.setEnabled(True)
        if problem:
            self.folder_error.setText(problem)
            self.folder_error.show()
            self.adjustSize()  # room for the message
            self.folder.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.result_options = options
        self.saved.emit(options)
        self.accept()
