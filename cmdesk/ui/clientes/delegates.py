"""How some cells of the clients table are drawn: the name with its CTI ids on a second, smaller line
(as the portal shows them), the color tag as a swatch, and the row's actions as links."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from cmdesk.ui.clientes.model import CTI_ROLE, tr
from cmdesk.ui.kit.labels import COLOR_SWATCHES
from cmdesk.ui.kit.table import RECORD_ROLE

Index = QModelIndex | QPersistentModelIndex

# Short link texts (the table is wide); the column's tooltip says what each does.
ACTIONS: tuple[tuple[str, str], ...] = (
    ("licenses", "Licencias"),
    ("stamps", "Timbres…"),
    ("points", "Puntos…"),
)
_GAP = 14


class NameDelegate(QStyledItemDelegate):
    """Name on the first line; the client's CTI ids, smaller and dimmed, on the second. (Painted for
    every row on screen at each keystroke of a search: the fonts and their metrics are made once.)"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts: dict[str, tuple[QFont, QFontMetrics, QFont, QFontMetrics]] = {}

    def _fonts_for(self, base: QFont) -> tuple[QFont, QFontMetrics, QFont, QFontMetrics]:
        key = base.key()
        fonts = self._fonts.get(key)
        if fonts is None:
            first = QFont(base)
            small = QFont(base)
            small.setPointSizeF(max(base.pointSizeF() * 0.85, 6.0))
            fonts = self._fonts[key] = (first, QFontMetrics(first), small, QFontMetrics(small))
        return fonts

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        name = opt.text
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        ctis = index.data(CTI_ROLE) or []
        rect = opt.rect.adjusted(6, 2, -4, -2)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Normal
        text_color = opt.palette.color(
            group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        brush = index.data(Qt.ItemDataRole.ForegroundRole)
        if brush is not None and not selected:
            text_color = brush.color()
        painter.save()
        first, metrics, small, small_metrics = self._fonts_for(opt.font)
        painter.setFont(first)
        painter.setPen(text_color)
        top = QRect(rect.left(), rect.top(), rect.width(), metrics.height())
        painter.drawText(
            top,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            metrics.elidedText(name, Qt.TextElideMode.ElideRight, rect.width()),
        )
        if ctis:
            painter.setFont(small)
            dim = QColor(text_color)
            if not selected:
                dim = opt.palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            painter.setPen(dim)
            second = QRect(rect.left(), top.bottom() + 1, rect.width(), small_metrics.height())
            painter.drawText(
                second,
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                small_metrics.elidedText("  ·  ".join(ctis), Qt.TextElideMode.ElideRight, rect.width()),
            )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), two_line_height(option.fontMetrics))


def two_line_height(metrics: QFontMetrics) -> int:
    return int(metrics.height() * 1.85) + 8


class ColorDelegate(QStyledItemDelegate):
    """A rounded swatch (its name in the tooltip); an empty dashed one when the client has none."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = opt.icon.__class__()
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        record = index.data(RECORD_ROLE) or {}
        color = record.get("color")
        side = min(opt.rect.height() - 10, 16)
        swatch = QRect(opt.rect.center().x() - side // 2, opt.rect.center().y() - side // 2, side, side)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        swatch_color = COLOR_SWATCHES.get(str(color))
        if swatch_color is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(swatch_color))
        else:
            pen = painter.pen()
            pen.setColor(opt.palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(swatch, 3, 3)
        painter.restore()


class ActionsDelegate(QStyledItemDelegate):
    """The row's actions as links: Licencias · Transferir timbres · Transferir puntos. A click on one
    emits `activated(row, action)`."""

    activated = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    @staticmethod
    def link_rects(option: QStyleOptionViewItem) -> list[tuple[str, QRect]]:
        metrics = option.fontMetrics
        x = option.rect.left() + 6
        out: list[tuple[str, QRect]] = []
        for key, text in ACTIONS:
            width = metrics.horizontalAdvance(tr(text))
            out.append((key, QRect(x, option.rect.top(), width, option.rect.height())))
            x += width + _GAP
        return out

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        color = opt.palette.color(
            QPalette.ColorGroup.Normal,
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Link,
        )
        painter.save()
        font = QFont(opt.font)
        font.setUnderline(True)
        painter.setFont(font)
        painter.setPen(color)
        for key, rect in self.link_rects(opt):
            text = dict(ACTIONS)[key]
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), tr(text))
        painter.restore()

    @staticmethod
    def width_for(metrics: QFontMetrics) -> int:
        return sum(metrics.horizontalAdvance(tr(t)) for _k, t in ACTIONS) + _GAP * len(ACTIONS) + 6

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(self.width_for(option.fontMetrics), super().sizeHint(option, index).height())

    def editorEvent(self, event: QEvent, model: object, option: QStyleOptionViewItem, index: Index) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
        ):
            point = event.position().toPoint()
            for key, rect in self.link_rects(option):
                if rect.contains(point):
                    self.activated.emit(index.row(), key)
                    return True
        return False
