"""The screens' tables: columns declared as data (`Column`), what a table shows (`Query`) and one model
that pages rows in from the cache (`PagedTableModel`), for every list of every screen.

The model never holds a whole list: a `loader` reads one page of the query from the cache — filtered and
sorted in SQL — in the cache pool, where each row is also formatted (every cell's text), so the UI
thread only swaps rows in and `data()` is a lookup. The view asks for more as the user scrolls
(`canFetchMore` / `fetchMore`). A new query (`set_query`: a search, a filter, a header click) reads the
first page again; `reload()` (a sync or a command changed the data) reads again the rows loaded so far
and, when the same rows come back, only announces `dataChanged`, so the selection and the scroll stay.
One read at a time: a request made while one runs is served by one more read after it, the latest
wins, and pages of an older query that arrive late are dropped (`generation`). With a `counter`, the
exact number of rows is counted once the query has stayed the same for `COUNT_DELAY_MS` after its first
page is on screen (`counted`; another order of the same search and filters keeps the last count); until
then `total` is the rows loaded plus one while there are more.

Per-entity models subclass it only for what they show beyond the cells' texts (`extra_data`: colors,
fonts, tooltips, their own roles) and, when their rows are more than the cache's dicts, a `prepare`
step (run in the cache pool) that makes them. A column of kind "check" lets the user choose rows
(`checkable`), for the lists that act on several at once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QTreeView, QWidget

from cmdesk.domain.field_paths import value_at
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import secondary_color
from cmdesk.ui.operations import Pool

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.ui.kit.actions import AppContext

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
PAGE_SIZE = 200
# How long a query must stay the same before its rows are counted (the next keystroke of a search
# comes sooner than that: only the search the user stops at is counted).
COUNT_DELAY_MS = 250

DISPLAY = int(Qt.ItemDataRole.DisplayRole)
ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
CHECK_STATE = int(Qt.ItemDataRole.CheckStateRole)
ID_ROLE = int(Qt.ItemDataRole.UserRole)
# Beyond Qt's: the row's record (a dict) and the row itself (what the loader and `prepare` made).
RECORD_ROLE = int(Qt.ItemDataRole.UserRole) + 2
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 4

LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
CENTER = int(Qt.AlignmentFlag.AlignCenter)
_ENABLED = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_CHECKABLE = _ENABLED | Qt.ItemFlag.ItemIsUserCheckable


_MAPPINGS: dict[type, bool] = {dict: True}  # per type of row: whether it is a Mapping


def record_of(row: Any) -> Mapping[str, Any]:
    """The cache's record of a row: the row itself, or its `data` (rows made by a `prepare`)."""
    # The ABC check once per type of row: a page formats thousands of cells.
    kind = type(row)
    mapping = _MAPPINGS.get(kind)
    if mapping is None:
        mapping = _MAPPINGS[kind] = isinstance(row, Mapping)
    return row if mapping else row.data  # type: ignore[no-any-return]


def id_of(row: Any) -> str:
    return str(record_of(row).get("id"))


# ---- columns ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65_536)
def _date_of_hour(hour: str) -> str:
    return fmt.date(hour + ":00:00Z")


def date_text(value: Any) -> str:
    """`dd/MM/yyyy` in Mexico City of a stored UTC time. The local date depends only on the UTC hour
    (the zone's offsets are whole hours), so it is computed once per hour seen: formatting a page of
    rows of several dates each stays well under a millisecond."""
    if not value:
        return ""
    text = str(value)
    if len(text) >= 13 and text[10:11] == "T":
        return _date_of_hour(text[:13])
    return fmt.date(value)


def _number_text(value: Any) -> str:
    # es-MX groups thousands with "," — as Python's own "," format does (no QLocale call).
    return format(int(value), ",") if isinstance(value, int | float) else str(value)


# How each kind of column writes a (non-None) value; any other kind: `str`.
_FORMATS: dict[str, Callable[[Any], str]] = {
    "number": _number_text,
    "money": lambda value: fmt.money(int(value)),
    "date": date_text,
    "datetime": fmt.date_time,
    "bool": labels.yes_no,
    "color": lambda value: labels.color(value) if value else "",
}


@dataclass(frozen=True)
class Column:
    """A column: the record's field it shows (`key`, a dotted path, unless `value` reads the row), its
    title (source text, translated in `context` where shown), how it shows (`kind`: text · number ·
    money · date · datetime · bool · color · check, or a kind of the model's own that its delegates
    draw), and its sort: a field the loader sorts by, or the names of the ascending and descending
    orders (None: not sortable)."""

    key: str
    title: str
    kind: str = "text"
    value: Callable[[Any], Any] | None = None
    sort: str | tuple[str, str] | None = None
    tooltip: str = ""
    align: int | None = None
    context: str = "portal"

    def read(self, row: Any) -> Any:
        if self.value is not None:
            return self.value(row)
        if "." in self.key:
            return value_at(record_of(row), self.key)
        return record_of(row).get(self.key)

    def text(self, row: Any) -> str:
        """The cell's text (runs in the cache pool: no widget here)."""
        value = self.read(row)
        return "" if value is None else _FORMATS.get(self.kind, str)(value)

    def alignment(self) -> int:
        if self.align is not None:
            return self.align
        return RIGHT if self.kind in ("number", "money") else LEFT

    def title_text(self) -> str:
        return QCoreApplication.translate(self.context, self.title)

    def tooltip_text(self) -> str:
        return QCoreApplication.translate(self.context, self.tooltip) if self.tooltip else ""

    def sort_key(self, descending: bool) -> str | None:
        if self.sort is None:
            return None
        if isinstance(self.sort, tuple):
            return self.sort[1] if descending else self.sort[0]
        return self.sort

    def shows_sort(self, sort: str | None, descending: bool) -> Qt.SortOrder | None:
        """The arrow of this column's header for a query's sort (None: not this column's)."""
        if sort is None or self.sort is None:
            return None
        if isinstance(self.sort, tuple):
            if sort in self.sort:
                return Qt.SortOrder.DescendingOrder if sort == self.sort[1] else Qt.SortOrder.AscendingOrder
            return None
        if sort != self.sort:
            return None
        return Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder


@dataclass(frozen=True)
class Query:
    """What a table shows: the search text, the sort (a column's sort key; `descending` for the loaders
    that sort by a field) and the filters of its screen (name → value)."""

    q: str = ""
    sort: str | None = None
    descending: bool = False
    filters: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.filters).get(name, default)

    def with_(self, **changes: Any) -> Query:
        return replace(self, **changes)

    def filtered(self, **filters: Any) -> Query:
        """The same query with these filters changed (None removes one)."""
        merged = {**dict(self.filters), **filters}
        return replace(self, filters=tuple(sorted((k, v) for k, v in merged.items() if v is not None)))


# loader(cache, query, limit, offset) -> records; prepare(cache, records) -> rows; counter(cache, query)
Loader = Callable[["Cache", Query, int, int], list[dict[str, Any]]]
Prepare = Callable[["Cache", list[dict[str, Any]]], list[Any]]
Counter = Callable[["Cache", Query], int]


@dataclass(frozen=True)
class _Page:
    generation: int
    offset: int
    rows: list[Any]
    texts: list[list[str]]
    more: bool


def _read_page(
    cache: Cache | None,
    loader: Loader,
    prepare: Prepare | None,
    columns: Sequence[Column],
    query: Query,
    limit: int,
    offset: int,
    generation: int,
) -> _Page:
    """One page of a query, formatted (runs in the cache pool)."""
    if cache is None:
        return _Page(generation, offset, [], [], False)
    records = loader(cache, query, limit + 1, offset)
    more = len(records) > limit
    records = records[:limit]
    rows = prepare(cache, records) if prepare is not None and records else records
    return _Page(generation, offset, rows, [[c.text(r) for c in columns] for r in rows], more)


def _count(cache: Cache | None, counter: Counter, query: Query, generation: int) -> tuple[int, int]:
    return generation, counter(cache, query) if cache is not None else 0


# ---- the model ---------------------------------------------------------------------------------------


class PagedTableModel(QAbstractTableModel):
    """See the module docstring."""

    loaded = Signal()  # the first page of a query, or a reload, is in
    page_loaded = Signal()  # any page is in
    counted = Signal(int)  # the exact number of rows of the query
    failed = Signal(str)
    checks_changed = Signal()

    def __init__(
        self,
        context: AppContext,
        columns: Sequence[Column],
        loader: Loader,
        *,
        counter: Counter | None = None,
        prepare: Prepare | None = None,
        query: Query | None = None,
        page_size: int | None = None,
        checkable: Callable[[Any], bool] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.columns: tuple[Column, ...] = tuple(columns)
        self.loader = loader
        self.counter = counter
        self.prepare = prepare
        self.query = query or Query()
        self.page_size = page_size or PAGE_SIZE
        self.checkable = checkable
        self.total = 0
        self.exact = True  # whether `total` is the counted number (not "loaded + 1")
        self.loads = 0  # pages arrived (tests wait on it)
        self.generation = 0
        self._rows: list[Any] = []
        self._ids: list[str] = []
        self._texts: list[list[str]] = []
        self._alignments = [c.alignment() for c in self.columns]
        self._check_column = next((i for i, c in enumerate(self.columns) if c.kind == "check"), -1)
        self._checked: set[str] = set()
        self._reading = False  # a first-page read is under way
        self._again: bool | None = None  # another read asked for meanwhile (True: a new query)
        self._fetching = False
        self._inserting = False
        # The count waits for the query to settle: a search typed letter by letter counts once.
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self._count)
        # The last count and what it counted (the search and filters): another order of the same rows
        # has the same number.
        self._known_count: tuple[tuple[str, tuple[tuple[str, Any], ...]], int] | None = None

    # ---- loading ------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._reading or self._fetching or self._again is not None

    def _cache(self) -> Cache | None:
        session = self.context.session
        return session.cache if session is not None else None

    def set_query(self, query: Query) -> None:
        """Show another search, filter or order: its first page."""
        self.query = query
        self._read(reset=True)

    def reload(self) -> None:
        """Read again, for the same query, the rows loaded so far (after a sync or a command)."""
        self._read(reset=False)

    def _read(self, *, reset: bool) -> None:
        self.generation += 1
        self._fetching = False
        self._count_timer.stop()
        if self._reading:
            self._again = bool(self._again) or reset
            return
        cache = self._cache()
        if cache is None:  # signed out, or the session is still opening: nothing to show
            self._clear()
            return
        self._reading = True
        limit = self.page_size if reset else max(self.page_size, len(self._rows))
        self._read_rows(cache, limit, 0, lambda page: self._first_page(page, reset))

    def _read_rows(self, cache: Cache, limit: int, offset: int, done: Callable[[_Page], None]) -> None:
        self.context.ops.run(
            _read_page,
            cache,
            self.loader,
            self.prepare,
            self.columns,
            self.query,
            limit,
            offset,
            self.generation,
            on_done=done,
            on_error=self._read_failed,
            pool=Pool.CACHE,
        )

    def _clear(self) -> None:
        if self._rows or self.total:
            self.beginResetModel()
            self._rows, self._ids, self._texts, self.total = [], [], [], 0
            self.endResetModel()
        self.exact = True
        self.loaded.emit()

    def _next_read(self) -> bool:
        again, self._again = self._again, None
        if again is None:
            return False
        self._read(reset=again)
        return True

    def _first_page(self, page: _Page, reset: bool) -> None:
        if not shiboken6.isValid(self):
            return
        self._reading = False
        if self._next_read() or page.generation != self.generation:
            return  # asked again meanwhile: the latest request is read now
        ids = [id_of(r) for r in page.rows]
        if not reset and ids == self._ids and ids:
            self._rows, self._texts = page.rows, page.texts
            last = self.index(len(ids) - 1, len(self.columns) - 1)
            self.dataChanged.emit(self.index(0, 0), last)
        else:
            self.beginResetModel()
            self._rows, self._ids, self._texts = page.rows, ids, page.texts
            self.endResetModel()
        if self._checked:
            kept = self._checked & set(ids)
            if kept != self._checked:
                self._checked = kept
                self.checks_changed.emit()
        self.exact = not page.more
        self.total = len(ids) + (1 if page.more else 0)
        known = self._known_count
        if page.more and reset and known is not None and known[0] == (self.query.q, self.query.filters):
            self.total, self.exact = max(known[1], len(ids)), True  # only the order changed
        self.loads += 1
        self.loaded.emit()
        self.page_loaded.emit()
        if self.exact:
            self.counted.emit(self.total)
        elif self.counter is not None:
            self._count_timer.start()

    def _count(self) -> None:
        if self.exact or self.counter is None or self.context.ops.closed or not shiboken6.isValid(self):
            return
        self.context.ops.run(
            _count,
            self._cache(),
            self.counter,
            self.query,
            self.generation,
            on_done=self._counted,
            on_error=self._read_failed,
            pool=Pool.CACHE,
        )

    def _counted(self, result: tuple[int, int]) -> None:
        generation, total = result
        if not shiboken6.isValid(self) or generation != self.generation:
            return
        self._known_count = ((self.query.q, self.query.filters), total)
        self.total = max(total, len(self._rows))
        self.exact = True
        self.counted.emit(self.total)

    def _read_failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self._reading = self._fetching = False
        if self._next_read():
            return
        log.warning("could not read the cache: %s", error)
        self.failed.emit(str(error) or type(error).__name__)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and len(self._rows) < self.total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if parent.isValid() or self.busy or self._inserting or not self.canFetchMore():
            return
        cache = self._cache()
        if cache is None:
            return
        self._fetching = True
        self._read_rows(cache, self.page_size, len(self._rows), self._more)

    def _more(self, page: _Page) -> None:
        if not shiboken6.isValid(self) or page.generation != self.generation:
            return  # an older query's page: a read of the latest is on its way
        self._fetching = False
        if page.offset != len(self._rows):
            return
        known = set(self._ids)
        fresh = [(r, t) for r, t in zip(page.rows, page.texts, strict=True) if id_of(r) not in known]
        if fresh:
            first = len(self._rows)
            # No fetchMore while the rows go in (views and testers ask from inside these signals).
            self._inserting = True
            try:
                self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
                self._rows.extend(r for r, _ in fresh)
                self._ids.extend(id_of(r) for r, _ in fresh)
                self._texts.extend(t for _, t in fresh)
                self.endInsertRows()
            finally:
                self._inserting = False
        if not page.more:
            self.total = len(self._rows)  # the end (or the view shrank meanwhile: a reload follows)
            self.exact = True
        elif not self.exact:
            self.total = len(self._rows) + 1
        self.loads += 1
        self.page_loaded.emit()

    # ---- reading ------------------------------------------------------------------------------------

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row(self, index: int) -> Any:
        return self._rows[index]

    def row_at(self, index: int) -> Any | None:
        return self._rows[index] if 0 <= index < len(self._rows) else None

    def records(self) -> list[Mapping[str, Any]]:
        """The loaded rows' records (the cache's dicts)."""
        return [record_of(r) for r in self._rows]

    def record(self, index: int) -> Mapping[str, Any]:
        return record_of(self._rows[index])

    def row_texts(self, index: int) -> list[str]:
        return list(self._texts[index])

    def text_at(self, row: int, column: int) -> str:
        """A cell's text ("" outside the rows loaded)."""
        return self._texts[row][column] if 0 <= row < len(self._texts) else ""

    def alignment_at(self, column: int) -> int:
        return self._alignments[column]

    def row_of(self, ident: str) -> int:
        """The row number of the record `ident`, or -1."""
        try:
            return self._ids.index(ident)
        except ValueError:
            return -1

    find = row_of

    # ---- Qt's model interface -----------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        # The view makes an index for each cell it paints: Qt's own check (`hasIndex`) would call
        # rowCount and columnCount back in Python for every one.
        if 0 <= row < len(self._rows) and 0 <= column < len(self.columns) and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == DISPLAY:
            return column.title_text()
        if role == TOOLTIP:
            return self.header_tooltip(column)
        return None

    def header_tooltip(self, column: Column) -> str | None:
        return column.tooltip_text() or None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() == self._check_column and self._can_check(index.row()):
            return _CHECKABLE
        return _ENABLED

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # The view asks ~10 roles per cell on every paint, each call a few µs from C++ into Python:
        # the display text is a lookup, and the rest a short dispatch.
        r = index.row()
        if not 0 <= r < len(self._rows):
            return None
        c = index.column()
        if role == DISPLAY:
            return self._texts[r][c]
        if role == ALIGNMENT:
            return self._alignments[c]
        if role == CHECK_STATE:
            if c != self._check_column or not self._can_check(r):
                return None
            return Qt.CheckState.Checked if self._ids[r] in self._checked else Qt.CheckState.Unchecked
        if role == ID_ROLE:
            return self._ids[r]
        if role == RECORD_ROLE:
            return record_of(self._rows[r])
        if role == ROW_ROLE:
            return self._rows[r]
        return self.extra_data(r, c, role)

    def extra_data(self, row: int, column: int, role: int) -> Any:
        """Roles beyond the text (subclasses: colors, fonts, their own roles); by default a long text's
        tooltip."""
        if role == TOOLTIP:
            text = self._texts[row][column]
            return text if len(text) > 30 else None
        return None

    # ---- the check column ---------------------------------------------------------------------------

    def _can_check(self, row: int) -> bool:
        return self.checkable is not None and self.checkable(self._rows[row])

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != CHECK_STATE or not index.isValid() or index.column() != self._check_column:
            return False
        if not self._can_check(index.row()):
            return False
        ident = self._ids[index.row()]
        state = value.value if hasattr(value, "value") else value
        if int(state) == Qt.CheckState.Checked.value:
            self._checked.add(ident)
        else:
            self._checked.discard(ident)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.checks_changed.emit()
        return True

    def set_checked(self, ident: str, checked: bool) -> None:
        row = self.row_of(ident)
        if row < 0 or self._check_column < 0:
            return
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self.setData(self.index(row, self._check_column), state, Qt.ItemDataRole.CheckStateRole)

    def checked_ids(self) -> list[str]:
        """The checked rows' ids, in the table's order."""
        return [i for i in self._ids if i in self._checked]

    def checked_rows(self) -> list[Mapping[str, Any]]:
        """The checked rows' records, in the table's order."""
        return [record_of(r) for r, i in zip(self._rows, self._ids, strict=True) if i in self._checked]

    # ---- sorting --------------------------------------------------------------------------------------

    def sortable(self, column: int) -> bool:
        return 0 <= column < len(self.columns) and self.columns[column].sort is not None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in SQL (a new query); columns the cache can't sort by are ignored."""
        if not self.sortable(column):
            return
        descending = order == Qt.SortOrder.DescendingOrder
        key = self.columns[column].sort_key(descending)
        if (key, descending) != (self.query.sort, self.query.descending):
            self.set_query(self.query.with_(sort=key, descending=descending))

    def sort_column(self) -> tuple[int, Qt.SortOrder] | None:
        """The column (and direction) whose header shows the query's sort, if one does."""
        for i, column in enumerate(self.columns):
            order = column.shows_sort(self.query.sort, self.query.descending)
            if order is not None:
                return i, order
        return None


# ---- views ----------------------------------------------------------------------------------------------


class Table(QTableView):
    """A table that says so when it has no rows (`empty_text`, dimmed in the middle), drawn by the view
    itself: no widget is swapped in and out as a search empties and fills it."""

    empty_text = ""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if self.empty_text and model is not None and model.rowCount() == 0:
            viewport = self.viewport()
            painter = QPainter(viewport)
            # Secondary text over the table's base (readable: not the disabled color, ~1.6:1).
            palette = self.palette()
            painter.setPen(secondary_color(palette, QPalette.ColorRole.Text, QPalette.ColorRole.Base))
            painter.drawText(
                viewport.rect().adjusted(12, 12, -12, -12),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                self.empty_text,
            )
            painter.end()


def make_table(
    model: PagedTableModel,
    parent: QWidget,
    name: str = "table",
    *,
    stretch: int | None = None,
    sortable: bool = True,
    multiple: bool = False,
    widths: Sequence[int] | None = None,
    empty_text: str = "",
) -> Table:
    """A read-only table view over `model`: rows selected whole, one line each, sortable by the columns
    that have a sort (in SQL). `stretch`: the column that takes the spare width (the last one by
    default); `widths`: the columns' widths in characters (`fit_columns`), set when rows first come;
    `empty_text`: what the table says while it has no rows."""
    view = Table(parent)
    view.empty_text = empty_text
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection
        if multiple
        else QAbstractItemView.SelectionMode.SingleSelection
    )
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)  # one line per row: long ids are elided, not cut at their spaces
    # The layout a new query's rows need, done before they are painted, not in a timer after (which
    # painted the table a second time).
    model.modelReset.connect(view.executeDelayedItemsLayout)
    vertical = view.verticalHeader()
    vertical.setVisible(False)
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(view.fontMetrics().height() + 10)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    if sortable:  # the indicator first: enabling sorting sorts by it at once
        header.setSortIndicator(*(model.sort_column() or (-1, Qt.SortOrder.AscendingOrder)))
        header.setSortIndicatorShown(True)
        view.setSortingEnabled(True)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setStretchLastSection(False)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    if widths is not None:

        def fit_once() -> None:
            if shiboken6.isValid(view) and model.rowCount() and not view.property("fitted"):
                fit_columns(view, widths)
                view.setProperty("fitted", True)

        model.loaded.connect(fit_once)
    return view


def fit_columns(view: QTableView, widths: Sequence[int] = ()) -> None:
    """Columns as wide as the given number of characters (0: as wide as their contents), and never
    narrower than their title."""
    metrics = view.fontMetrics()
    header = view.horizontalHeader()
    model = view.model()
    for column in range(model.columnCount()):
        if header.sectionResizeMode(column) == QHeaderView.ResizeMode.Stretch:
            continue
        if column < len(widths) and widths[column]:
            width = metrics.averageCharWidth() * widths[column] + 24
        else:
            view.resizeColumnToContents(column)
            width = view.columnWidth(column)
        title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
        view.setColumnWidth(column, max(width, metrics.horizontalAdvance(title) + 28))


def selected_rows(view: QTableView) -> list[Any]:
    """The selected rows (as the model holds them), in the table's order."""
    model = view.model()
    selection = view.selectionModel()
    if not isinstance(model, PagedTableModel) or selection is None:
        return []
    numbers = sorted({i.row() for i in selection.selectedRows()})
    return [model.row(n) for n in numbers if n < model.rowCount()]


def selected_record(view: QTableView) -> Mapping[str, Any] | None:
    """The record of the (first) selected row, or None."""
    rows = selected_rows(view)
    return record_of(rows[0]) if rows else None


def select_id(view: QTableView, ident: str) -> bool:
    """Select the row of the record `ident` (tests, and after an action)."""
    model = view.model()
    row = model.row_of(ident) if isinstance(model, PagedTableModel) else -1
    if row < 0:
        return False
    view.selectRow(row)
    return True


class _FillColumn(QObject):
    """Keeps one column at the room the others leave, never under `minimum` (see `fill_column`)."""

    def __init__(self, view: QTableView | QTreeView, column: int, minimum: int) -> None:
        super().__init__(view)
        self.view, self.column, self.minimum = view, column, minimum
        view.viewport().installEventFilter(self)

    def fit(self) -> None:
        view = self.view
        others = sum(view.columnWidth(i) for i in range(view.model().columnCount()) if i != self.column)
        view.setColumnWidth(self.column, max(self.minimum, view.viewport().width() - others))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        resized = event.type() == QEvent.Type.Resize
        if resized and shiboken6.isValid(self.view) and watched is self.view.viewport():
            self.fit()
        return False


def fill_column(view: QTableView | QTreeView, column: int, minimum: int) -> None:
    """`column` takes the width the other columns leave, but never less than `minimum` (a readable
    name): on a narrow screen the table scrolls sideways instead of crushing it, as a stretched
    column would."""
    header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
    header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
    _FillColumn(view, column, minimum).fit()
