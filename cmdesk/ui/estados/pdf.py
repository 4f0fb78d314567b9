"""A statement as a printable PDF, drawn with Qt's own `QPdfWriter` (already in the desktop: no
extra dependency, the fonts and the es-MX formatting the screens use; vector text that prints sharp
and can be searched): letter, landscape, the distributor's name and NIC, the party, the period and the
balances at the top of the first page, the table's header repeated on every page, and
"Página n de N" with the date it was printed at the foot of each.

Safe off the UI thread (painting on a PDF device is, in Qt): the desktop writes it in a pool.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from cmdesk.services.statement_files import (
    ASSET_LABELS,
    STATEMENT_COLUMNS,
    StatementColumn,
    generated_at,
    title_lines,
)
from cmdesk.services.statements import StatementView
from cmdesk.ui import locale as fmt
from cmdesk.ui import translator

tr = translator("estados")

# Share of the line each column takes (same order as STATEMENT_COLUMNS).
SHARES = (1.45, 1.45, 2.3, 0.85, 1.05, 0.95, 0.95, 2.1, 1.45)
RESOLUTION = 72  # device units are points


def _cell_text(column: StatementColumn, view: StatementView, row: object) -> str:
    value = column.value(row, view)  # type: ignore[arg-type]
    if column.kind == "datetime":
        return fmt.date_time(value)
    if column.kind == "money" or (column.kind == "count" and view.asset == "money"):
        return fmt.money(int(value or 0))
    if column.kind == "count":
        return fmt.number(int(value or 0))
    return str(value or "")


def _balance(view: StatementView, amount: int) -> str:
    return fmt.money(amount) if view.asset == "money" else fmt.number(amount)


def write_statement_pdf(view: StatementView, path: Path) -> int:
    """Write the statement to `path`; returns the number of pages."""
    tmp = path.with_name(path.name + ".tmp")
    writer = QPdfWriter(str(tmp))
    writer.setResolution(RESOLUTION)
    writer.setTitle(f"Estado de cuenta {view.party_name or view.party_id}")
    writer.setCreator("cmdesk")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.Letter),
            QPageLayout.Orientation.Landscape,
            QMarginsF(30, 28, 30, 28),
            QPageLayout.Unit.Point,
        )
    )
    layout = writer.pageLayout()
    page = layout.paintRectPixels(RESOLUTION)
    width, height = float(page.width()), float(page.height())
    body = QFont("DejaVu Sans")
    body.setPointSizeF(7.2)
    bold = QFont(body)
    bold.setBold(True)
    title_font = QFont(body)
    title_font.setPointSizeF(13)
    title_font.setBold(True)
    metrics = QFontMetricsF(body, writer)  # measured on the PDF, not on the screen
    line = metrics.height() + 3.5
    total_share = sum(SHARES)
    edges = [0.0]
    for share in SHARES:
        edges.append(edges[-1] + width * share / total_share)
    numeric = [c.kind in ("count", "money") for c in STATEMENT_COLUMNS]
    footer_h = line + 4
    first_top = 20 + line * 5.2 + 12  # the heading of the first page
    rows_first = max(1, int((height - first_top - line - footer_h) // line))
    rows_other = max(1, int((height - 10 - line - footer_h) // line))
    remaining = max(0, view.count - rows_first)
    pages = 1 + (remaining + rows_other - 1) // rows_other
    printed = generated_at()
    painter = QPainter(writer)
    try:
        index = 0
        for number in range(1, pages + 1):
            if number > 1:
                writer.newPage()
            y = 0.0
            if number == 1:
                painter.setFont(title_font)
                painter.drawText(QRectF(0, 0, width, 20), Qt.AlignmentFlag.AlignLeft, tr("Estado de cuenta"))
                painter.setFont(body)
                painter.drawText(
                    QRectF(0, 0, width, 20),
                    Qt.AlignmentFlag.AlignRight,
                    tr("Generado por cmdesk desde la caché local")
                    if view.source == "cache"
                    else tr("Generado por cmdesk desde el servidor"),
                )
                y = 22.0
                heading = title_lines(view)
                for i, (label, value) in enumerate(heading):
                    col, r = divmod(i, 3)
                    x = col * width / 2
                    painter.setFont(bold)
                    painter.drawText(
                        QRectF(x, y + r * line, 90, line), Qt.AlignmentFlag.AlignLeft, label + ":"
                    )
                    painter.setFont(body)
                    painter.drawText(
                        QRectF(x + 92, y + r * line, width / 2 - 96, line), Qt.AlignmentFlag.AlignLeft, value
                    )
                summary = [
                    (tr("Saldo inicial"), view.opening),
                    (tr("Abonos"), view.credits),
                    (tr("Cargos"), view.debits),
                    (tr("Saldo final"), view.closing),
                ]
                y += line * 3.4
                box = width / len(summary)
                for i, (label, amount) in enumerate(summary):
                    painter.setFont(bold)
                    painter.drawText(QRectF(i * box, y, box - 6, line), Qt.AlignmentFlag.AlignLeft, label)
                    painter.setFont(body)
                    painter.drawText(
                        QRectF(i * box, y + line * 0.9, box - 6, line),
                        Qt.AlignmentFlag.AlignLeft,
                        _balance(view, amount)
                        + ("" if view.asset == "money" else " " + ASSET_LABELS.get(view.asset, "").lower()),
                    )
                y = first_top
            else:
                y = 10.0
            # The table's header.
            painter.setFont(bold)
            painter.fillRect(QRectF(0, y - 1, width, line), Qt.GlobalColor.lightGray)
            for c, column in enumerate(STATEMENT_COLUMNS):
                align = Qt.AlignmentFlag.AlignRight if numeric[c] else Qt.AlignmentFlag.AlignLeft
                painter.drawText(
                    QRectF(edges[c] + 2, y, edges[c + 1] - edges[c] - 4, line),
                    align | Qt.AlignmentFlag.AlignVCenter,
                    column.title,
                )
            y += line
            painter.setFont(body)
            capacity = rows_first if number == 1 else rows_other
            for row in view.page(index, capacity):
                for c, column in enumerate(STATEMENT_COLUMNS):
                    cell = QRectF(edges[c] + 2, y, edges[c + 1] - edges[c] - 4, line)
                    text = metrics.elidedText(
                        _cell_text(column, view, row), Qt.TextElideMode.ElideRight, cell.width()
                    )
                    align = Qt.AlignmentFlag.AlignRight if numeric[c] else Qt.AlignmentFlag.AlignLeft
                    painter.drawText(cell, align | Qt.AlignmentFlag.AlignVCenter, text)
                painter.setPen(QPen(Qt.GlobalColor.lightGray, 0.4))
                painter.drawLine(0, int(y + line), int(width), int(y + line))
                painter.setPen(QPen(Qt.GlobalColor.black))
                y += line
            index += capacity
            if number == pages and not view.count:
                painter.drawText(
                    QRectF(0, y, width, line),
                    Qt.AlignmentFlag.AlignLeft,
                    tr("Sin movimientos en el periodo."),
                )
            # The foot of the page.
            foot = QRectF(0, height - footer_h + 4, width, line)
            painter.drawText(
                foot, Qt.AlignmentFlag.AlignLeft, f"{view.account_name} · NIC {view.account_nic}"
            )
            painter.drawText(
                foot, Qt.AlignmentFlag.AlignHCenter, tr("Impreso el {when}").format(when=printed)
            )
            painter.drawText(
                foot, Qt.AlignmentFlag.AlignRight, tr("Página {n} de {total}").format(n=number, total=pages)
            )
    finally:
        painter.end()
    del writer
    tmp.replace(path)
    return pages
