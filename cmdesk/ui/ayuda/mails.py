"""Ayuda → Correos de prueba (the embedded default only): the server integrated in cmdesk sends no mail,
it writes each one as an .eml file; this window lists them, newest first, and shows one, so a person
trying cmdesk without a mail server can follow its link (confirm an e-mail, accept an invitation,
choose a new password) in the browser, or open the file with their mail program.

Signed in, the list comes from the server (its demo mail viewer); signed out (after ¿Olvidó su
contraseña?), from the folder itself (`cmdesk.services.mailbox`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from cmdesk.ui import locale as fmt
from cmdesk.ui import translator
from cmdesk.ui.ayuda import actions
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import ERROR_STYLE, vbox
from cmdesk.ui.kit.messages import error_text

tr = translator("ayuda")

ITEM_ROLE = int(Qt.ItemDataRole.UserRole)


class DemoMailsDialog(QDialog):
    """The list of test mails and the one selected; «Abrir el enlace» opens its button's link."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("testMailsDialog")
        self.setWindowTitle(tr("Correos de prueba"))
        self.items: list[dict[str, Any]] = []
        self.shown: dict[str, Any] | None = None
        self.loads = 0

        self.intro = QLabel(
            tr(
                "El servidor integrado en cmdesk no envía correos: los guarda como archivos. Aquí puede "
                "leerlos y seguir sus enlaces (confirmar un correo, aceptar una invitación, elegir una "
                "contraseña nueva)."
            ),
            self,
        )
        self.intro.setObjectName("intro")
        self.intro.setWordWrap(True)
        self.folder = QLabel(self)
        self.folder.setObjectName("folder")
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder.setEnabled(False)

        self.list = QTreeWidget(self)
        self.list.setObjectName("mailList")
        self.list.setRootIsDecorated(False)
        self.list.setHeaderLabels([tr("Fecha"), tr("Tipo"), tr("Para"), tr("Asunto")])
        self.list.currentItemChanged.connect(lambda current, _prev: self._selected(current))
        self.view = QTextBrowser(self)
        self.view.setObjectName("mailView")
        self.view.setOpenExternalLinks(True)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.list)
        splitter.addWidget(self.view)
        splitter.setSizes([200, 400])

        self.error = QLabel(self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()

        self.buttons = QDialogButtonBox(self)
        self.open_link = self._button(tr("Abrir el enlace en el navegador"), "openLink", self.open_first_link)
        self.open_file = self._button(tr("Abrir el archivo .eml"), "openFile", self.open_eml)
        self.refresh_button = self._button(tr("Actualizar"), "refresh", self.refresh)
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setText(tr("Cerrar"))
        self.buttons.rejected.connect(self.reject)

        vbox(self, self.intro, self.folder, (splitter, 1), self.error, self.buttons)
        self.resize(900, 620)
        self._update_buttons()
        self.refresh()

    def _button(self, text: str, name: str, slot: Any) -> QPushButton:
        button = self.buttons.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # ---- the list -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        actions.list_test_mails(self.context).success(self._listed).failure(self._failed).run()

    def _listed(self, answer: dict[str, Any]) -> None:
        self.loads += 1
        self.error.hide()
        current = self.shown["id"] if self.shown else None
        self.items = list(answer.get("items") or [])
        self.folder.setText(tr("Carpeta: {folder}").format(folder=answer.get("folder") or ""))
        self.list.clear()
        for item in self.items:
            row = QTreeWidgetItem(
                [
                    fmt.date_time(item.get("created_at")),
                    labels.mail_kind(item.get("kind")),
                    str(item.get("to") or ""),
                    str(item.get("subject") or ""),
                ]
            )
            row.setData(0, ITEM_ROLE, item)
            self.list.addTopLevelItem(row)
        for column in range(3):
            self.list.resizeColumnToContents(column)
        if not self.items:
            self.view.setPlainText(
                tr(
                    "Todavía no hay correos de prueba. Aparecen aquí cuando agrega un usuario o un "
                    "distribuidor, o pide restablecer una contraseña."
                )
            )
            self.shown = None
            self._update_buttons()
            return
        index = next((i for i, m in enumerate(self.items) if m.get("id") == current), 0)
        first = self.list.topLevelItem(index)
        if first is not None:
            self.list.setCurrentItem(first)

    def _failed(self, error: BaseException) -> None:
        self.loads += 1
        self.error.setText(error_text(error))
        self.error.show()

    # ---- one mail ------------------------------------------------------------------------------------

    def _selected(self, row: QTreeWidgetItem | None) -> None:
        item = row.data(0, ITEM_ROLE) if row is not None else None
        if not isinstance(item, dict):
            return
        if not item.get("file"):
            self.view.setPlainText(tr("El servidor aún no escribe este correo; actualice en un momento."))
            self.shown = None
            self._update_buttons()
            return
        actions.read_test_mail(self.context, item).success(self._show).failure(self._failed).run()

    def _show(self, mail: dict[str, Any]) -> None:
        self.shown = mail
        if mail.get("html"):
            self.view.setHtml(str(mail["html"]))
        else:
            self.view.setPlainText(str(mail.get("text") or ""))
        self._update_buttons()

    def _update_buttons(self) -> None:
        mail = self.shown or {}
        self.open_link.setEnabled(bool(mail.get("links")))
        self.open_file.setEnabled(bool(mail.get("file")))

    def open_first_link(self) -> str | None:
        """Open the mail's button link (the first) in the browser; returns it."""
        links = (self.shown or {}).get("links") or []
        if not links:
            return None
        QDesktopServices.openUrl(QUrl(str(links[0])))
        return str(links[0])

    def open_eml(self) -> str | None:
        path = (self.shown or {}).get("file")
        if not path:
            return None
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        return str(path)
