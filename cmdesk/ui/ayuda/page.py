"""The Ayuda page: the manual's help text, the installed version, and Buscar actualizaciones.

The manual's "Ayuda" chapter (its text, with the accents the scan lost), the version of cmdesk, and an
"Actualizaciones" box (version, last result, a button, a progress bar while an update downloads); it
adds "Buscar actualizaciones…" to the window's Ayuda menu. When the session first opens, it runs the
automatic check (at most daily; see `UpdateController`). With the embedded default it also offers
"Correos de prueba…" (menu and button): the mails that server wrote instead of sending them.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QWidget,
)

import cmdesk
from cmdesk.ui import translator
from cmdesk.ui.ayuda.mails import DemoMailsDialog
from cmdesk.ui.ayuda.updates import UpdateController
from cmdesk.ui.kit.forms import hbox, vbox
from cmdesk.ui.tabs import AppContext, TabPage

tr = translator("ayuda")


# The manual's "Ayuda" chapter.
HELP_HTML = """
<h2>Ayuda</h2>
<p>En la opción de ayuda contamos con varias opciones para ayudarle a sacar el máximo provecho de
nuestros sistemas, facilitarle el trabajo diario o apoyarle en la solución de incidencias.</p>
<h3>Hágalo usted mismo</h3>
<p>Usted puede resolver la mayoría de las incidencias que pudieran presentársele, además de que irá
aprendiendo cada vez más acerca de nuestras tecnologías y seguramente logrará sacar el mayor provecho
de ellas.</p>
<p><b>Encuentre información.</b> Busque artículos, documentación adicional o respuestas a preguntas
frecuentes en nuestra base de conocimientos en
<a href="http://www.induxsoft.net/">www.induxsoft.net</a>.</p>
<h3>¿Necesita que uno de nuestros consultores le explique?</h3>
<p>Si considera que la información que ha encontrado no es suficiente o clara y requiere que uno de
nuestros consultores le asesore, deberá acceder a un aula virtual. El sistema de aulas virtuales le
permitirá ver la pantalla de nuestro consultor y mantenerse en contacto a través de audio, video y
chat. Puede acceder desde cualquier equipo de escritorio, tableta o teléfono inteligente.</p>
<p><b>Cómo solicitarla.</b> Pida su sesión de aula virtual a Induxsoft en
<a href="http://www.induxsoft.net/">www.induxsoft.net</a>, indicando su NIC de distribuidor.</p>
<p>El servicio de aula virtual es gratuito y exclusivo para clientes con versiones actualizadas,
contratos de soporte técnico y mantenimiento o distribuidores autorizados.</p>
<h3>Deje que un profesional se encargue</h3>
<p>Probablemente no tenga el tiempo de solucionar sus incidencias o requiera capacitación
personalizada. En este caso puede obtener diferentes servicios directamente con Induxsoft o con un
distribuidor autorizado.</p>
"""


class AyudaPage(TabPage):
    """Ayuda: the portal's help text, the version of cmdesk and its updates."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("helpText")
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(QCoreApplication.translate("help", HELP_HTML))
        self.version = QLabel(tr("cmdesk versión {version}").format(version=cmdesk.__version__), self)
        self.version.setObjectName("version")
        self.version.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.updates = UpdateController(context, self)
        self.menu_action: QAction | None = None
        self.mails_action: QAction | None = None
        self.mails_dialog: DemoMailsDialog | None = None
        self._started_for: object | None = None

        box = QGroupBox(tr("Actualizaciones"), self)
        box.setObjectName("updatesBox")
        self.update_status = QLabel(
            tr("Tiene la versión {version}. cmdesk busca versiones nuevas una vez al día.").format(
                version=cmdesk.__version__
            ),
            box,
        )
        self.update_status.setObjectName("updateStatus")
        self.update_status.setWordWrap(True)
        self.check_button = QPushButton(tr("Buscar actualizaciones"), box)
        self.check_button.setObjectName("checkUpdates")
        self.check_button.clicked.connect(self.check_for_updates)
        self.progress = QProgressBar(box)
        self.progress.setObjectName("updateProgress")
        self.progress.setVisible(False)
        row = hbox((self.update_status, 1), self.check_button)
        vbox(box, row, self.progress)
        self.mails_button = QPushButton(tr("Correos de prueba…"), self)
        self.mails_button.setObjectName("testMails")
        self.mails_button.setToolTip(
            tr("Los correos que escribió el servidor integrado en lugar de enviarlos")
        )
        self.mails_button.clicked.connect(self.show_test_mails)
        vbox(self, (self.browser, 1), box, hbox(self.version, None, self.mails_button))
        self._update_mail_entry()

        self.updates.status.connect(self.update_status.setText)
        self.updates.progress.connect(self._progress)
        self.updates.downloaded.connect(lambda _path: self.progress.setVisible(False))
        self.updates.failed.connect(lambda _text: self.progress.setVisible(False))
        # The window's menus exist once the window is built.
        # (The page as context: no call if it is gone first.)
        QTimer.singleShot(0, self, self.install_menu_action)

    def install_menu_action(self) -> QAction | None:
        """Ayuda → Buscar actualizaciones…, before "Acerca de" (once)."""
        if self.menu_action is not None:
            return self.menu_action
        window = self.window()
        menu = getattr(window, "help_menu", None)
        if menu is None:
            return None
        action = QAction(tr("Buscar &actualizaciones…"), window)
        action.setObjectName("checkUpdatesAction")
        action.triggered.connect(self.check_for_updates)
        about = getattr(window, "about_action", None)
        if about is not None:
            menu.insertAction(about, action)
            menu.insertSeparator(about)
        else:
            menu.addAction(action)
        self.menu_action = action
        mails = QAction(tr("Correos de &prueba…"), window)
        mails.setObjectName("testMailsAction")
        mails.triggered.connect(self.show_test_mails)
        menu.insertAction(action, mails)
        self.mails_action = mails
        self._update_mail_entry()
        return action

    def _update_mail_entry(self) -> None:
        """Correos de prueba only where the server writes mails instead of sending them."""
        session = self.context.session
        embedded = session is not None and session.embedded
        self.mails_button.setVisible(embedded)
        if self.mails_action is not None:
            self.mails_action.setVisible(embedded)

    def show_test_mails(self) -> DemoMailsDialog | None:
        session = self.context.session
        if session is None or not session.embedded:
            return None
        if self.mails_dialog is not None and self.mails_dialog.isVisible():
            self.mails_dialog.refresh()
            self.mails_dialog.raise_()
            return self.mails_dialog
        dialog = DemoMailsDialog(self.context, self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: setattr(self, "mails_dialog", None))
        self.mails_dialog = dialog
        dialog.show()
        return dialog

    def check_for_updates(self) -> None:
        self.updates.check(manual=True)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(done * 1000 / total))
        else:
            self.progress.setRange(0, 0)

    def refresh(self, changed: frozenset[str]) -> None:
        """On a new session, shown or not: the automatic update check (a central server only — the
        embedded server's catalog always lists the running version)."""
        self.install_menu_action()
        self._update_mail_entry()
        session = self.context.session
        if "*" not in changed or session is None or session is self._started_for:
            return
        if session.embedded or session.api is None or not session.api.signed_in:
            return
        self._started_for = session
        self.updates.check(manual=False)
