"""How some cells of the clients table are drawn: the name with its CTI ids on a second, smaller line
(as the portal shows them), the color tag as a swatch, and the row's actions as links."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from cmdesk.ui.clientes.model import CTI_ROLE, tr
from cmdesk.ui.kit.forms import secondary_color
from cmdesk.ui.kit.labels import COLOR_SWATCHES
from cmdesk.ui.kit.table import RECORD_ROLE, PagedTableModel

Index = QModelIndex | QPersistentModelIndex

# Short link texts (the table is wide); the column's tooltip says what each does.
ACTIONS: tuple[tuple[str, str], ...] = (
    ("licenses", "Licencias"),
    ("stamps", "Timbres…"),
    ("points", "Puntos…"),
)
_GAP = 14
DISPLAY = Qt.ItemDataRole.DisplayRole
FONT = Qt.ItemDataRole.FontRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
_FOCUS = QStyle.StateFlag.State_HasFocus
_CHECK = QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


def cell_data(index: Index, role: int | Qt.ItemDataRole) -> Any:
    """`index.data(role)`, asked of our models in Python: no round trip through C++ and QVariant (a
    record dict made into a QVariantMap and back cost ~0.5 ms a cell, every row at every repaint)."""
    model = index.model()
    if isinstance(model, PagedTableModel):
        return model.data(index, int(role))
    return index.data(role)


class NameDelegate(QStyledItemDelegate):
    """Name on the first line; the client's CTI ids, smaller and dimmed, on the second. (Painted for
    every row on screen at each keystroke of a search: the fonts and their metrics are made once.)"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts: dict[str, tuple[QFont, QFontMetrics, QFont, QFontMetrics]] = {}
        self._last: tuple[QFont, tuple[QFont, QFontMetrics, QFont, QFontMetrics]] | None = None
        # Each text elided once per width and font (a repaint draws the same rows again).
        self._elided: dict[tuple[int, str, int], str] = {}
        self._dim: tuple[int, QColor] | None = None  # the palette's secondary text, by its cacheKey

    def _fonts_for(self, base: QFont) -> tuple[QFont, QFontMetrics, QFont, QFontMetrics]:
        if self._last is not None and self._last[0] == base:  # the same font as the last cell's
            return self._last[1]
        key = base.key()
        fonts = self._fonts.get(key)
        if fonts is None:
            first = QFont(base)
            small = QFont(base)
            small.setPointSizeF(max(base.pointSizeF() * 0.85, 6.0))
            fonts = self._fonts[key] = (first, QFontMetrics(first), small, QFontMetrics(small))
        self._last = (QFont(base), fonts)
        return fonts

    def _elide(self, metrics: QFontMetrics, text: str, width: int) -> str:
        key = (id(metrics), text, width)  # the metrics live as long as the delegate (`_fonts`)
        elided = self._elided.get(key)
        if elided is None:
            if len(self._elided) > 4096:
                self._elided.clear()
            elided = self._elided[key] = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        return elided

    def _dim_color(self, palette: QPalette) -> QColor:
        key = palette.cacheKey()
        if self._dim is None or self._dim[0] != key:
            self._dim = (key, secondary_color(palette, QPalette.ColorRole.Text, QPalette.ColorRole.Base))
        return self._dim[1]

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        # Only the roles drawn here are asked for (`initStyleOption` would ask the model for seven).
        opt = QStyleOptionViewItem(option)
        name = str(cell_data(index, DISPLAY) or "")
        font = cell_data(index, FONT)
        if font is not None:
            opt.font = font
        draw_background(opt, painter)
        ctis = cell_data(index, CTI_ROLE) or []
        rect = opt.rect.adjusted(6, 2, -4, -2)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Normal
        text_color = opt.palette.color(
            group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        brush = cell_data(index, FOREGROUND)
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
            self._elide(metrics, name, rect.width()),
        )
        if ctis:
            painter.setFont(small)
            dim = QColor(text_color)
            if not selected:  # readable secondary text (≈6:1), not the disabled color (≈1.7:1)
                dim = self._dim_color(opt.palette)
            painter.setPen(dim)
            second = QRect(rect.left(), top.bottom() + 1, rect.width(), small_metrics.height())
            painter.drawText(
                second,
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                self._elide(small_metrics, "  ·  ".join(ctis), rect.width()),
            )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), two_line_height(option.fontMetrics))


def two_line_height(metrics: QFontMetrics) -> int:
    return int(metrics.height() * 1.85) + 8


def draw_background(opt: QStyleOptionViewItem, painter: QPainter) -> None:
    """The cell as the style draws it (selection, focus, alternate rows), without text or icon."""
    opt.text = ""
    style = opt.widget.style() if opt.widget is not None else QApplication.style()
    if opt.state & _FOCUS or opt.features & _CHECK:
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
    else:  # all the control draws without a focus frame, check, icon or text: the panel (its layout
        # of text, icon and check, skipped, was the cost)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, opt.widget)


class ColorDelegate(QStyledItemDelegate):
    """A rounded swatch (its name in the tooltip); an empty dashed one when the client has none."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        draw_background(opt, painter)
        record = cell_data(index, RECORD_ROLE) or {}
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
        # Per font: the underlined font and each link's (key, text, x offset, width), made once.
        self._links: dict[str, tuple[QFont, list[tuple[str, str, int, int]]]] = {}

    def _links_for(self, base: QFont) -> tuple[QFont, list[tuple[str, str, int, int]]]:
        key = base.key()
        links = self._links.get(key)
        if links is None:
            font = QFont(base)
            font.setUnderline(True)
            metrics = QFontMetrics(base)
            spans: list[tuple[str, str, int, int]] = []
            x = 6
            for name, text in ACTIONS:
                width = metrics.horizontalAdvance(tr(text))
                spans.append((name, tr(text), x, width))
                x += width + _GAP
            links = self._links[key] = (font, spans)
        return links

    def link_rects(self, option: QStyleOptionViewItem) -> list[tuple[str, QRect]]:
        rect = option.rect
        _font, spans = self._links_for(option.font)
        return [
            (key, QRect(rect.left() + x, rect.top(), width, rect.height())) for key, _t, x, width in spans
        ]

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        draw_background(opt, painter)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        color = opt.palette.color(
            QPalette.ColorGroup.Normal,
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Link,
        )
        base = cell_data(index, FONT)  # italic while the row's change is pending
        font, spans = self._links_for(base if base is not None else opt.font)
        rect = opt.rect
        painter.save()
        painter.setFont(font)
        painter.setPen(color)
        for _key, text, x, width in spans:
            painter.drawText(QRect(rect.left() + x, rect.top(), width, rect.height()), _LEFT, text)
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
