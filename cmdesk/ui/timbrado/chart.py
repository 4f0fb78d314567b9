"""The consumption chart of a CTI, drawn with QPainter (QtCharts is not part of PySide6-Essentials).

`ConsumptionChart` draws one bar per day (CFDI issued that day, Mexico City days), the C.P.D. of the
days shown as a dashed line with its value, and dates under the axis. `ConsumptionPanel` puts it under
the Timbrado table for the current CTI: a 30/90 days switch, the C.P.D. and D.R. in words, and where the
figures come from (fetched today, or the last stored series when offline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QButtonGroup, QLabel, QRadioButton, QWidget

from cmdesk.domain import usage
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit.forms import dim, hbox, secondary_color, vbox
from cmdesk.ui.timbrado.common import client_text, tr
from cmdesk.ui.timbrado.model import CtiRow

BAR_COLOR = QColor("#1976d2")
LINE_COLOR = QColor("#f57c00")


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at or above `value` (a round top for the axis)."""
    top = max(1.0, value)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= top:
                return step * factor
        step *= 10


class ConsumptionChart(QWidget):
    """Daily issued CFDI as bars, with the C.P.D. line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consumptionChart")
        self.setMinimumHeight(150)
        self.daily: list[tuple[dt.date, int]] = []
        self.cpd: Decimal | None = None
        self.empty_text = tr("Sin datos de consumo.")
        self.bar_rects: list[QRectF] = []  # where the last paint put each day's bar (for tests)
        self.paint_count = 0

    def sizeHint(self) -> QSize:
        return QSize(640, 200)

    def set_series(self, daily: Sequence[tuple[dt.date, int]], empty_text: str | None = None) -> None:
        self.daily = list(daily)
        self.cpd = usage.average_daily_use([n for _, n in self.daily]) if self.daily else None
        if empty_text is not None:
            self.empty_text = empty_text
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint(painter)
        finally:
            painter.end()
        self.paint_count += 1

    def _paint(self, painter: QPainter) -> None:
        palette = self.palette()
        text_color = palette.color(QPalette.ColorRole.WindowText)
        grid_color = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        grid_color.setAlpha(70)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        metrics = QFontMetrics(self.font())
        self.bar_rects = []
        if not self.daily:
            painter.setPen(secondary_color(palette, QPalette.ColorRole.Text, QPalette.ColorRole.Base))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        peak = max(n for _, n in self.daily)
        top = nice_ceiling(max(float(peak), float(self.cpd or 0)))
        left = metrics.horizontalAdvance(fmt.number(top)) + 14
        # The C.P.D. label sits right of the plot, level with its line, clear of the bars.
        cpd_label = tr("C.P.D. {value}").format(value=fmt.locale().toString(float(self.cpd or 0), "f", 2))
        right = metrics.horizontalAdvance(cpd_label) + 16
        plot = QRectF(left, metrics.height() + 6, self.width() - left - right, 0)
        plot.setBottom(self.height() - metrics.height() - 10)
        if plot.width() < 20 or plot.height() < 20:
            return

        # Grid and the y axis: 0, ½ and the top.
        for fraction in (0.0, 0.5, 1.0):
            y = plot.bottom() - fraction * plot.height()
            painter.setPen(QPen(grid_color, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text_color)
            label = fmt.number(round(top * fraction))
            painter.drawText(
                QRectF(0, y - metrics.height() / 2, left - 6, metrics.height()),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                label,
            )

        # One bar per day.
        n = len(self.daily)
        slot = plot.width() / n
        gap = min(2.0, slot * 0.2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BAR_COLOR)
        for i, (_day, issued) in enumerate(self.daily):
            height = plot.height() * issued / top
            rect = QRectF(
                plot.left() + i * slot + gap / 2, plot.bottom() - height, max(1.0, slot - gap), height
            )
            self.bar_rects.append(rect)
            if issued:
                painter.drawRect(rect)

        # Dates: the first, the middle and the last day.
        painter.setPen(text_color)
        for i in sorted({0, n // 2, n - 1}):
            text = self.daily[i][0].strftime("%d/%m")
            width = metrics.horizontalAdvance(text) + 4
            x = plot.left() + (i + 0.5) * slot - width / 2
            x = min(max(x, plot.left() - 4), plot.right() - width + 4)
            painter.drawText(
                QRectF(x, plot.bottom() + 4, width, metrics.height()), Qt.AlignmentFlag.AlignCenter, text
            )

        # The C.P.D. line, labelled at the right end.
        if self.cpd is not None:
            y = plot.bottom() - plot.height() * float(self.cpd) / top
            painter.setPen(QPen(LINE_COLOR, 2, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            box = QRectF(plot.right() + 6, y - metrics.height() / 2, right - 6, metrics.height())
            painter.setPen(LINE_COLOR)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), cpd_label)


class ConsumptionPanel(QWidget):
    """The chart of the current CTI, with its figures in words (under the Timbrado table)."""

    days_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consumptionPanel")
        self.row: CtiRow | None = None
        self.days = 30
        self._online = True
        self.title = QLabel(self)
        self.title.setObjectName("chartTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figures = QLabel(self)
        self.figures.setObjectName("chartFigures")
        self.note = QLabel(self)
        self.note.setObjectName("chartNote")
        dim(self.note)
        self.note.setWordWrap(True)
        self.chart = ConsumptionChart(self)
        self.days30 = QRadioButton(tr("30 días"), self)
        self.days90 = QRadioButton(tr("90 días"), self)
        self.days30.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.days30, 30)
        group.addButton(self.days90, 90)
        group.idClicked.connect(self.set_days)

        top = hbox((self.title, 1), QLabel(tr("Periodo:"), self), self.days30, self.days90)
        layout = vbox(self, top, self.figures, (self.chart, 1), self.note)
        layout.setContentsMargins(0, 4, 0, 0)
        self.set_row(None)

    def set_days(self, days: int) -> None:
        self.days = 90 if days >= 90 else 30
        (self.days90 if self.days == 90 else self.days30).setChecked(True)
        self._show()
        self.days_changed.emit(self.days)

    def set_row(self, row: CtiRow | None, *, online: bool = True) -> None:
        self.row = row
        self._online = online
        self._show()

    def _show(self) -> None:
        row = self.row
        if row is None:
            self.title.setText(tr("<b>Consumo</b> — seleccione una cuenta de timbrado"))
            self.figures.setText("")
            self.note.setText("")
            self.chart.set_series([], tr("Seleccione una cuenta para ver su consumo diario."))
            return
        who = client_text(row.data.get("client_nic"), row.client_name)
        self.title.setText(tr("<b>Consumo de la cuenta {cti}</b> — {client}").format(cti=row.id, client=who))
        figures = row.figures
        if not figures.known:
            self.figures.setText("")
            self.note.setText(
                tr("Consultando el consumo al servidor…")
                if self._online
                else tr("Sin conexión y sin datos de consumo guardados de esta cuenta.")
            )
            self.chart.set_series([], tr("Sin datos de consumo."))
            return
        shown = figures.daily[-self.days :]
        cpd = usage.average_daily_use([n for _, n in shown])
        issued = sum(n for _, n in shown)
        parts = [
            tr("Emitidos en {n} días: {issued}").format(n=len(shown), issued=fmt.number(issued)),
            tr("C.P.D.: {cpd} timbres por día").format(cpd=fmt.locale().toString(float(cpd), "f", 2)),
        ]
        if row.kind != "standard":
            parts.append(tr("D.R.: cuenta ilimitada, sin saldo que se agote"))
        else:
            remaining = usage.days_remaining(row.balance, cpd)
            parts.append(
                tr("D.R.: sin consumo, el saldo no se agota")
                if remaining is None
                else tr("D.R.: {n} días con el saldo de {balance}").format(
                    n=fmt.number(remaining), balance=fmt.number(row.balance)
                )
            )
        self.figures.setText(" · ".join(parts))
        when = fmt.date_time(figures.fetched_at) if figures.fetched_at else ""
        if figures.fresh:
            self.note.setText(tr("Datos del servidor consultados el {when}.").format(when=when))
        elif self._online:
            self.note.setText(tr("Actualizando… (se muestran los datos del {when})").format(when=when))
        else:
            self.note.setText(
                tr("Sin conexión: se muestran los últimos datos guardados, del {when}.").format(when=when)
            )
        self.chart.set_series(shown)
