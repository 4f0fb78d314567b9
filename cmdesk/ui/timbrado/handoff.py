"""Hoja de entrega: after a CTI is created or its password reset, the distributor may save or print a
one-page sheet for the client (`cmdesk.services.handoff`): the client, the CTI id and password, the
stamping service's address, how to enter them in Induxsoft's products, and whom to ask for help.

The window shows the password masked (Mostrar reveals it) and forgets it when it closes; the PDF is
drawn with Qt (`QTextDocument` on `QPdfWriter`, one letter page) and printed with `QPrinter`.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QMarginsF, Qt, Signal
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from cmdesk.services.handoff import STEPS, HandoffSheet
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import Notice, hbox, vbox
from cmdesk.ui.kit.messages import error_text
from cmdesk.ui.timbrado.common import tr


def sheet_html(sheet: HandoffSheet) -> str:
    """The sheet as HTML (what the PDF and the printer get)."""
    e = html.escape
    title = (
        tr("Nueva cuenta de timbrado")
        if sheet.event == "created"
        else tr("Nueva contraseña de su cuenta de timbrado")
    )
    rows = [
        (
            tr("Cliente"),
            f"[{sheet.client_nic}] {sheet.client_name}" if sheet.client_nic else sheet.client_name,
        ),
        (tr("RFC"), sheet.client_rfc),
        (tr("Cuenta de timbrado (Id)"), sheet.cti_id),
        (tr("Contraseña"), sheet.password),
        (tr("Tipo de cuenta"), labels.cti_kind(sheet.kind)),
        (tr("Servicio de timbrado"), sheet.service_url),
    ]
    table = "".join(
        f"<tr><td style='padding:4px 12px 4px 0'><b>{e(label)}</b></td>"
        f"<td style='padding:4px 0; font-family:monospace; font-size:12pt'>{e(value)}</td></tr>"
        for label, value in rows
    )
    steps = "".join(f"<li style='margin-bottom:4px'>{e(tr(step))}</li>" for step in STEPS)
    contact = " · ".join(
        part
        for part in (
            sheet.distributor_name,
            tr("NIC {nic}").format(nic=sheet.distributor_nic) if sheet.distributor_nic else "",
            sheet.distributor_phone,
            sheet.distributor_email,
        )
        if part
    )
    return (
        "<html><body style='font-family:sans-serif; font-size:10.5pt'>"
        f"<h2 style='margin-bottom:2px'>{e(title)}</h2>"
        f"<p style='color:#555'>{e(tr('Entregada el {when}').format(when=fmt.date_time(sheet.at)))}</p>"
        f"<table>{table}</table>"
        f"<h3>{e(tr('Cómo configurarla en los productos de Induxsoft'))}</h3><ol>{steps}</ol>"
        f"<h3>{e(tr('¿Necesita ayuda?'))}</h3><p>{e(tr('Comuníquese con su distribuidor:'))} {e(contact)}</p>"
        f"<p style='color:#a00'>{e(tr('Guarde esta hoja en un lugar seguro: la contraseña da acceso a sus timbres. Su distribuidor no la conserva.'))}</p>"  # noqa: E501
        "</body></html>"
    )


def write_handoff_pdf(sheet: HandoffSheet, path: Path) -> None:
    """The sheet as a one-page letter PDF."""
    tmp = path.with_name(path.name + ".tmp")
    writer = QPdfWriter(str(tmp))
    writer.setTitle(tr("Hoja de entrega {cti}").format(cti=sheet.cti_id))
    writer.setCreator("cmdesk")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.Letter),
            QPageLayout.Orientation.Portrait,
            QMarginsF(20, 20, 20, 20),
            QPageLayout.Unit.Millimeter,
        )
    )
    document = QTextDocument()
    document.setHtml(sheet_html(sheet))
    document.print_(writer)
    del writer
    tmp.replace(path)


class HandoffDialog(QDialog):
    """Hoja de entrega para el cliente: Guardar PDF…, Imprimir…, Cerrar (the password is then gone)."""

    saved = Signal(str)

    def __init__(self, sheet: HandoffSheet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("handoffDialog")
        self.setWindowTitle(tr("Hoja de entrega para el cliente"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.sheet: HandoffSheet | None = sheet
        intro = QLabel(
            tr(
                "Entregue al cliente los datos de su cuenta de timbrado. La contraseña sólo se muestra "
                "ahora: cmdesk no la guarda."
            ),
            self,
        )
        intro.setWordWrap(True)
        self.password = QLineEdit(sheet.password, self)
        self.password.setObjectName("password")
        self.password.setReadOnly(True)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        reveal = QCheckBox(tr("Mostrar"), self)
        reveal.setObjectName("reveal")
        reveal.toggled.connect(
            lambda on: self.password.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        form = QFormLayout()
        client = f"[{sheet.client_nic}] {sheet.client_name}" if sheet.client_nic else sheet.client_name
        for label, value in ((tr("Cliente:"), client), (tr("Cuenta (Id):"), sheet.cti_id)):
            shown = QLabel(value, self)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, shown)
        form.addRow(tr("Contraseña:"), hbox((self.password, 1), reveal))
        form.addRow(tr("Servicio de timbrado:"), QLabel(sheet.service_url, self))
        self.notice = Notice(self)
        self.save_button = QPushButton(tr("Guardar PDF…"), self)
        self.save_button.setObjectName("savePdf")
        self.save_button.clicked.connect(self.choose_pdf)
        self.print_button = QPushButton(tr("Imprimir…"), self)
        self.print_button.setObjectName("print")
        self.print_button.clicked.connect(self.print_sheet)
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)
        vbox(self, intro, form, self.notice, hbox(self.save_button, self.print_button, None, close))
        self.setMinimumWidth(560)

    def choose_pdf(self) -> None:
        if self.sheet is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            tr("Guardar la hoja de entrega"),
            str(Path.home() / f"cuenta-de-timbrado-{self.sheet.cti_id}.pdf"),
            tr("Documento PDF (*.pdf)"),
        )
        if path:
            self.save_pdf(Path(path if path.lower().endswith(".pdf") else path + ".pdf"))

    def save_pdf(self, path: Path) -> None:
        if self.sheet is None:
            return
        try:
            write_handoff_pdf(self.sheet, path)
        except OSError as error:
            self.notice.show_text(tr("No se pudo guardar: {e}").format(e=error_text(error)), error=True)
            self.saved.emit("")
            return
        self.notice.show_text(tr("Se guardó {path}.").format(path=str(path)))
        self.saved.emit(str(path))

    def print_sheet(self) -> None:
        if self.sheet is None:
            return
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter()
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            document = QTextDocument()
            document.setHtml(sheet_html(self.sheet))
            document.print_(printer)

    def closeEvent(self, event: object) -> None:
        self.password.clear()
        self.sheet = None  # the password goes with it
        super().closeEvent(event)  # type: ignore[arg-type]
