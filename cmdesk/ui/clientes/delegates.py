"""How some cells of the clients table are drawn: the name with its CTI ids on a second, smaller line
(as the portal shows them), the color tag as a swatch, and the row's actions as links."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from cmdesk.ui.clientes.model import CTI_ROLE, tr
from cmdesk.ui.kit.cells import Texts, draw_panel
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
_GAP = 12
DISPLAY = Qt.ItemDataRole.DisplayRole
FONT = Qt.ItemDataRole.FontRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
_SELECTED = QStyle.StateFlag.State_Selected.value
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
    every row on screen at each keystroke of a search: the fonts, and each text's layout, are made
    once — `cells.Texts`.)"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts: dict[str, tuple[Texts, Texts]] = {}
        self._last: tuple[QFont, tuple[Texts, Texts]] | None = None
        self._dim: tuple[int, QColor] | None = None  # the palette's secondary text, by its cacheKey

    def _texts_for(self, base: QFont) -> tuple[Texts, Texts]:
        if self._last is not None and self._last[0] == base:  # the same font as the last cell's
            return self._last[1]
        key = base.key()
        texts = self._fonts.get(key)
        if texts is None:
            small = QFont(base)
            small.setPointSizeF(max(base.pointSizeF() * 0.85, 6.0))
            texts = self._fonts[key] = (Texts(base), Texts(small))
        self._last = (QFont(base), texts)
        return texts

    def _dim_color(self, palette: QPalette) -> QColor:
        key = palette.cacheKey()
        if self._dim is None or self._dim[0] != key:
            self._dim = (key, secondary_color(palette, QPalette.ColorRole.Text, QPalette.ColorRole.Base))
        return self._dim[1]

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        # Only the roles drawn here are asked for (`initStyleOption` would ask the model for seven).
        state = option.state.value
        draw_panel(option, painter, state)
        name = str(cell_data(index, DISPLAY) or "")
        font = cell_data(index, FONT)
        first, small = self._texts_for(font.resolve(option.font) if font is not None else option.font)
        ctis = cell_data(index, CTI_ROLE) or []
        rect = option.rect.adjusted(6, 2, -4, -2)
        selected = bool(state & _SELECTED)
        palette = option.palette
        group = QPalette.ColorGroup.Normal
        text_color = palette.color(
            group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        brush = cell_data(index, FOREGROUND)
        if brush is not None and not selected:
            text_color = brush.color()
        painter.setFont(first.font)
        painter.setPen(text_color)
        left, width = float(rect.left()), rect.width()
        top = rect.top() + first.metrics.height() / 2
        painter.drawStaticText(QPointF(left, top - first.height / 2), first.text(name, width)[0])
        if ctis:
            painter.setFont(small.font)
            # Readable secondary text (≈6:1), not the disabled color (≈1.7:1).
            painter.setPen(QColor(text_color) if selected else self._dim_color(palette))
            second = rect.top() + first.metrics.height() + 1 + small.metrics.height() / 2
            line = small.text("  ·  ".join(ctis), width)[0]
            painter.drawStaticText(QPointF(left, second - small.height / 2), line)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), two_line_height(option.fontMetrics))


def two_line_height(metrics: QFontMetrics) -> int:
    return int(metrics.height() * 1.85) + 8


class ColorDelegate(QStyledItemDelegate):
    """A rounded swatch (its name in the tooltip); an empty dashed one when the client has none."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        draw_panel(option, painter)
        record = cell_data(index, RECORD_ROLE) or {}
        color = record.get("color")
        rect = option.rect
        side = min(rect.height() - 10, 16)
        center = rect.center()
        swatch = QRect(center.x() - side // 2, center.y() - side // 2, side, side)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        swatch_color = COLOR_SWATCHES.get(str(color))
        if swatch_color is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(swatch_color))
        else:
            pen = painter.pen()
            pen.setColor(option.palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
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
        # Per font: the underlined font's texts and each link's (key, text, x offset, width), made once.
        self._links: dict[str, tuple[Texts, list[tuple[str, str, int, int]]]] = {}
        self._last: tuple[QFont, tuple[Texts, list[tuple[str, str, int, int]]]] | None = None

    def _links_for(self, base: QFont) -> tuple[Texts, list[tuple[str, str, int, int]]]:
        if self._last is not None and self._last[0] == base:
            return self._last[1]
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
            links = self._links[key] = (Texts(font), spans)
        self._last = (QFont(base), links)
        return links

    def link_rects(self, option: QStyleOptionViewItem) -> list[tuple[str, QRect]]:
        rect = option.rect
        _font, spans = self._links_for(option.font)
        return [
            (key, QRect(rect.left() + x, rect.top(), width, rect.height())) for key, _t, x, width in spans
        ]

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        state = option.state.value
        draw_panel(option, painter, state)
        color = option.palette.color(
            QPalette.ColorGroup.Normal,
            QPalette.ColorRole.HighlightedText if state & _SELECTED else QPalette.ColorRole.Link,
        )
        base = cell_data(index, FONT)  # italic while the row's change is pending
        texts, spans = self._links_for(base.resolve(option.font) if base is not None else option.font)
        rect = option.rect
        left, top, height = rect.left(), rect.top(), rect.height()
        painter.setFont(texts.font)
        painter.setPen(color)
        # Not `QStaticText`: its underline lands off the text once the table is not at the window's
        # left edge.
        for _key, text, x, width in spans:
            painter.drawText(QRect(left + x, top, width, height), _LEFT, text)

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
