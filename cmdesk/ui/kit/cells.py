"""Plain text cells painted fast: what `QStyledItemDelegate` draws for a `PagedTableModel`'s text cell —
the style's cell panel (selection, alternate rows, hover), the text elided, aligned and colored as the
model says — without its per-cell work: it asks the model seven roles through C++ and lays the text out
twice (to measure it, then to draw it) at every paint. Here the model is asked in Python for the three
that matter (text, color, font), and each text is laid out once (`QStaticText`) and drawn from that
layout at every later paint; numbers, dates and "Sí" repeat down a column, so most cells of a new page
are laid out already.

Painted for every cell on screen at each keystroke of a search: everything per cell is a lookup.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QFontMetricsF, QPainter, QPalette, QStaticText
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

if TYPE_CHECKING:
    from cmdesk.ui.kit.table import PagedTableModel

Index = QModelIndex | QPersistentModelIndex


FONT = int(Qt.ItemDataRole.FontRole)
FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_PANEL = QStyle.PrimitiveElement.PE_PanelItemViewItem
_ITEM = QStyle.ControlElement.CE_ItemViewItem
_FOCUS = QStyle.StateFlag.State_HasFocus.value
_CHECK = QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator.value
_SELECTED = QStyle.StateFlag.State_Selected.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_RIGHT = Qt.AlignmentFlag.AlignRight.value
_HCENTER = Qt.AlignmentFlag.AlignHCenter.value
_ELIDE = Qt.TextElideMode.ElideRight
_PLAIN = Qt.TextFormat.PlainText
_GROUPS = {
    _ENABLED | _ACTIVE: QPalette.ColorGroup.Normal,
    _ENABLED: QPalette.ColorGroup.Inactive,
}
# Laid-out texts kept per font (the rows on screen and the last pages' share most of theirs).
_MAX_TEXTS = 8192


def draw_panel(
    option: QStyleOptionViewItem, painter: QPainter, state: int | None = None, *, check: bool = False
) -> None:
    """The cell as the style draws it (selection, hover, the focus frame), without text or icon.
    `state`: `option.state`'s value when the caller has it; `check`: the option may have a check box
    (an option made by `initStyleOption`; the view's own never has)."""
    widget = option.widget
    style = widget.style() if widget is not None else QApplication.style()
    if state is None:
        state = option.state.value
    if state & _FOCUS or (check and option.features.value & _CHECK):  # drawn by the whole item
        opt = QStyleOptionViewItem(option)
        opt.text = ""
        style.drawControl(_ITEM, opt, painter, widget)
    else:  # the panel alone: the item's layout of text, icon and check, skipped, was the cost
        style.drawPrimitive(_PANEL, option, painter, widget)


class Texts:
    """One font's laid-out texts (`QStaticText`, elided to the room they are drawn in) and the
    measures to place them."""

    def __init__(self, font: QFont, margin: int = 0) -> None:
        self.font = QFont(font)
        self.metrics = QFontMetrics(font)
        real = QFontMetricsF(font)
        self.height = round(real.ascent() + real.descent())  # a text line's height (QTextLine's)
        self.margin = margin
        self.texts: dict[tuple[str, int], tuple[QStaticText, float]] = {}

    def text(self, text: str, room: int) -> tuple[QStaticText, float]:
        """`text` laid out (elided to `room` when wider) and its advance."""
        key = (text, room)
        laid = self.texts.get(key)
        if laid is None:
            if len(self.texts) >= _MAX_TEXTS:
                self.texts.clear()
            shown = text
            if self.metrics.horizontalAdvance(text) > room:
                shown = self.metrics.elidedText(text, _ELIDE, room)
            static = QStaticText(shown)
            static.setTextFormat(_PLAIN)
            static.prepare(font=self.font)
            laid = self.texts[key] = (static, static.size().width())
        return laid


class TextCells(QStyledItemDelegate):
    """Paints the plain text cells of a `PagedTableModel` (see the module docstring): its text
    (`text_at`), alignment (`alignment_at`), and its ForegroundRole and FontRole (`extra_data`)."""

    def __init__(self, model: PagedTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._fonts: dict[str, Texts] = {}
        self._last: tuple[QFont, Texts] | None = None  # the last cell's font (nearly always the same)
        self._colors: dict[tuple[int, int, bool], QColor] = {}  # (palette, group, selected) → color

    def _font(self, font: QFont, widget: QWidget | None) -> Texts:
        last = self._last
        if last is not None and last[0] == font:
            return last[1]
        key = font.key()
        fonts = self._fonts.get(key)
        if fonts is None:
            style = widget.style() if widget is not None else QApplication.style()
            margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
            fonts = self._fonts[key] = Texts(font, margin)
        self._last = (QFont(font), fonts)
        return fonts

    def _color(self, palette: QPalette, state: int, selected: bool) -> QColor:
        group = _GROUPS.get(state & (_ENABLED | _ACTIVE), QPalette.ColorGroup.Disabled)
        key = (palette.cacheKey(), group.value, selected)
        color = self._colors.get(key)
        if color is None:
            if len(self._colors) > 64:
                self._colors.clear()
            role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
            color = self._colors[key] = palette.color(group, role)
        return color

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        state = option.state.value
        widget = option.widget
        if state & _FOCUS or widget is None:
            draw_panel(option, painter, state)
        else:  # `draw_panel`'s usual case, inline (this runs for most cells on screen)
            widget.style().drawPrimitive(_PANEL, option, painter, widget)
        model = self._model
        row, column = index.row(), index.column()
        text = model.text_at(row, column)
        if not text:
            return
        selected = bool(state & _SELECTED)
        brush: Any = None if selected else model.extra_data(row, column, FOREGROUND)
        if brush is None:
            color = self._color(option.palette, state, selected)
        else:
            color = brush if isinstance(brush, QColor) else brush.color()
        base = option.font
        special = model.extra_data(row, column, FONT)
        fonts = self._font(special.resolve(base) if special is not None else base, widget)
        rect = option.rect
        room = rect.width() - 2 * fonts.margin
        static, advance = fonts.text(text, room)
        align = model.alignment_at(column)
        x = float(rect.left() + fonts.margin)
        if align & _RIGHT:
            x += room - advance
        elif align & _HCENTER:
            x += (room - advance) / 2
        y = rect.top() + (rect.height() - fonts.height) // 2
        painter.setFont(fonts.font)
        painter.setPen(color)
        painter.drawStaticText(QPointF(math.floor(x * 64) / 64, y), static)
