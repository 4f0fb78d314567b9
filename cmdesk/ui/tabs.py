"""The main window's tabs: the portal's menus, as a registry of pages, each registered by its package.

    from cmdesk.ui import tabs

    class ClientsPage(tabs.TabPage):
        entities = frozenset({"client", "stamping_account"})
        def reload(self, changed: frozenset[str]) -> None: ...

    tabs.register("clientes.clientes", ClientsPage)   # before the main window is built

The layout (`LAYOUT`) mirrors the portal: Clientes (with Clientes, Timbrado and Distribuidores),
Alertas (alerts and the renewal calendar, which the portal lacks), Facturación, Compras, Software,
Herramientas (Precios, Usuarios, Configuraciones globales, Reglas de alerta) and Ayuda.
A page is a `TabPage`: a QWidget built from the `AppContext` (`cmdesk.ui.kit.actions`). The main window
calls every page's `refresh(changed)` with the entities a sync or a command changed (`EVERYTHING` after
the session starts); a page reloads (`reload(changed)`) at once when it is on screen and those concern
it (`wants`), and otherwise when it is shown next: a hidden page reads nothing.

Pages are built when first wanted, which keeps them out of the window's cold start: `build` puts a
placeholder in each tab, and a page is made (its package imported, when it was registered with
`register_lazy`) when its tab is first shown or `pages[name]` is first read; the main window builds
the rest once its session is open (`Pages.build_rest`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QTabWidget, QWidget

from cmdesk.domain.roles import Permission
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import Notice
from cmdesk.ui.kit.table import PagedTableModel

# `refresh(EVERYTHING)`: reload whatever the page shows (the session just started or changed).
EVERYTHING: frozenset[str] = frozenset({"*"})


tr = translator("tabs")


class TabPage(QWidget):
    """A page of the main window (see the module docstring)."""

    # The cache entities this page shows; `wants` compares them with what changed.
    entities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.stale: frozenset[str] = frozenset()  # what changed while the page was hidden
        self.notice = Notice(self)  # what an action did or why it was refused (the page lays it out)
        self.dialog: Any = None  # the dialog the page opened last (tests and screenshots reach it)
        self.last_box: Any = None  # the message box it opened last (`kit.messages` sets it)
        # What the signed-in role may not do here (`gate`): hidden, and said in `role_note` (a page
        # that gates widgets lays the note out).
        self._gates: list[tuple[Permission, tuple[QWidget, ...]]] = []
        self.role_note = QLabel(self)
        self.role_note.setObjectName("roleNote")
        self.role_note.setWordWrap(True)
        self.role_note.hide()

    def gate(self, permission: Permission, *widgets: QWidget) -> None:
        """Show `widgets` only to a role that may do `permission` (`cmdesk.domain.roles`); for any
        other role they are hidden and `role_note` says why. Applied again whenever the session
        changes (`refresh`). The server refuses the operation anyway (403 `forbidden_role`)."""
        self._gates.append((permission, widgets))
        self.apply_role()

    def apply_role(self) -> None:
        refused: list[Permission] = []
        for permission, widgets in self._gates:
            allowed = self.context.can(permission)
            for widget in widgets:
                widget.setVisible(allowed)
            if not allowed and permission not in refused:
                refused.append(permission)
        session = self.context.session
        if refused and session is not None:
            text = " ".join(labels.role_refusal(p) for p in refused)
            who = tr("Su rol en esta cuenta: {role}.").format(role=labels.role(session.role()))
            self.role_note.setText(f"{text} {who}")
        self.role_note.setVisible(bool(refused))

    def wants(self, changed: frozenset[str]) -> bool:
        return "*" in changed or bool(self.entities & changed)

    def refresh(self, changed: frozenset[str]) -> None:
        """`changed` happened: reload now when the page is on screen, else when it is shown."""
        if self._gates:
            self.apply_role()
        if not self.wants(changed):
            return
        self.stale = self.stale | changed
        if self.isVisible():
            self._reload_stale()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.stale:
            self._reload_stale()

    def _reload_stale(self) -> None:
        changed, self.stale = self.stale, frozenset()
        self.reload(changed)

    def reload(self, changed: frozenset[str]) -> None:
        """Read again what the page shows (off the UI thread): by default every table model it holds;
        a page that shows more reads it too (`kit.actions.read`)."""
        for model in self.findChildren(PagedTableModel):
            model.reload()

    def show_notice(self, text: str, *, error: bool = False) -> None:
        self.notice.show_text(text, error=error)


PageFactory = Callable[[AppContext], TabPage]


@dataclass(frozen=True)
class TabSpec:
    """One tab: `name` is its address in the registry (`"clientes.timbrado"`), `title` the Spanish
    source text (translated in the "tabs" context), `children` its sub-tabs."""

    name: str
    title: str
    children: tuple[TabSpec, ...] = ()


LAYOUT: tuple[TabSpec, ...] = (
    TabSpec(
        "clientes",
        QT_TRANSLATE_NOOP("tabs", "Clientes"),
        (
            TabSpec("clientes.clientes", QT_TRANSLATE_NOOP("tabs", "Clientes")),
            TabSpec("clientes.timbrado", QT_TRANSLATE_NOOP("tabs", "Timbrado")),
            TabSpec("clientes.distribuidores", QT_TRANSLATE_NOOP("tabs", "Distribuidores")),
        ),
    ),
    TabSpec(
        "alertas",
        QT_TRANSLATE_NOOP("tabs", "Alertas"),
        (
            TabSpec("alertas.alertas", QT_TRANSLATE_NOOP("tabs", "Alertas")),
            TabSpec("alertas.calendario", QT_TRANSLATE_NOOP("tabs", "Calendario de renovaciones")),
        ),
    ),
    TabSpec("facturacion", QT_TRANSLATE_NOOP("tabs", "Facturación")),
    TabSpec("compras", QT_TRANSLATE_NOOP("tabs", "Compras")),
    TabSpec("software", QT_TRANSLATE_NOOP("tabs", "Software")),
    TabSpec(
        "herramientas",
        QT_TRANSLATE_NOOP("tabs", "Herramientas"),
        (
            TabSpec("herramientas.precios", QT_TRANSLATE_NOOP("tabs", "Precios")),
            TabSpec("herramientas.usuarios", QT_TRANSLATE_NOOP("tabs", "Usuarios")),
            TabSpec("herramientas.configuracion", QT_TRANSLATE_NOOP("tabs", "Configuraciones globales")),
            TabSpec("herramientas.alertas", QT_TRANSLATE_NOOP("tabs", "Reglas de alerta")),
            TabSpec("herramientas.estados", QT_TRANSLATE_NOOP("tabs", "Estado de cuenta")),
            TabSpec("herramientas.bitacora", QT_TRANSLATE_NOOP("tabs", "Bitácora")),
        ),
    ),
    TabSpec("ayuda", QT_TRANSLATE_NOOP("tabs", "Ayuda")),
)

_factories: dict[str, PageFactory] = {}
_lazy: dict[str, str] = {}  # page name -> "package:Class", imported when the page is first built


def leaf_names() -> list[str]:
    """Every page's name, in tab order."""
    out: list[str] = []
    for spec in LAYOUT:
        out.extend(child.name for child in spec.children) if spec.children else out.append(spec.name)
    return out


def register(name: str, factory: PageFactory) -> None:
    """Make `factory` build the page `name` (replacing the default one)."""
    if name not in leaf_names():
        raise KeyError(f"no page named {name!r}; the pages are {', '.join(leaf_names())}")
    _factories[name] = factory


def register_lazy(name: str, target: str) -> None:
    """The page `name` is the class `target` ("package:Class"), imported when the page is first built
    (`cmdesk.ui.pages`); a factory given to `register` wins over it."""
    if name not in leaf_names():
        raise KeyError(f"no page named {name!r}; the pages are {', '.join(leaf_names())}")
    _lazy[name] = target


def factory_for(name: str) -> PageFactory:
    factory = _factories.get(name)
    if factory is None and name in _lazy:
        module, _, attr = _lazy[name].partition(":")
        before = dict(_factories)
        page_class = getattr(importlib.import_module(module), attr)
        # The package registers its pages as it is imported: what was registered before stays.
        _factories.update(before)
        factory = _factories.setdefault(name, page_class)
    if factory is None:
        raise KeyError(f"no page registered as {name!r} (cmdesk.ui.pages names every page package)")
    return factory


class _Slot(QWidget):
    """Holds a page's place in its tab until the page is built."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.setObjectName(f"slot_{name}")


class Pages(Mapping[str, "TabPage"]):
    """Every page by name, in tab order; a page is built the first time it is read or its tab is
    shown, and then takes its placeholder's place in the tab. `built_hook` is called with each page
    built (the main window tells it what changed before it existed)."""

    def __init__(self, context: AppContext, top: QTabWidget) -> None:
        self._context = context
        self._top = top
        self._slots: dict[str, tuple[QTabWidget, _Slot]] = {}
        self._built: dict[str, TabPage] = {}
        self._rest: list[str] = []
        self.built_hook: Callable[[TabPage], None] | None = None

    def __getitem__(self, name: str) -> TabPage:
        page = self._built.get(name)
        if page is None:
            if name not in self._slots:
                raise KeyError(name)
            page = self._build(name)
        return page

    def __iter__(self) -> Iterator[str]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def built(self) -> list[TabPage]:
        """The pages built so far, in tab order."""
        return [self._built[name] for name in self._slots if name in self._built]

    def is_built(self, name: str) -> bool:
        return name in self._built

    def _add(self, tab_widget: QTabWidget, name: str, title: str) -> None:
        slot = _Slot(name)
        self._slots[name] = (tab_widget, slot)
        tab_widget.addTab(slot, title)

    def _build(self, name: str) -> TabPage:
        tab_widget, slot = self._slots[name]
        page = factory_for(name)(self._context)
        page.setObjectName(f"page_{name}")
        self._built[name] = page
        index = tab_widget.indexOf(slot)
        if index >= 0:
            # The page takes the slot's place (and its title); the tab on screen stays on screen.
            blocked = tab_widget.blockSignals(True)
            try:
                shown = tab_widget.currentIndex() == index
                tab_widget.insertTab(index, page, tab_widget.tabText(index))
                if shown:
                    tab_widget.setCurrentIndex(index)
                tab_widget.removeTab(index + 1)
            finally:
                tab_widget.blockSignals(blocked)
        slot.deleteLater()
        if self.built_hook is not None:
            self.built_hook(page)
        return page

    def build_shown(self, *_args: object) -> None:
        """Build the page on screen (the current tab, and the current sub-tab within it)."""
        widget = self._top.currentWidget()
        if isinstance(widget, QTabWidget):
            widget = widget.currentWidget()
        if isinstance(widget, _Slot) and widget.name not in self._built:
            self._build(widget.name)

    def _watch(self, tab_widget: QTabWidget) -> None:
        tab_widget.currentChanged.connect(self.build_shown)

    def build_rest(self, delay_ms: int = 0) -> None:
        """Build the pages not built yet, one at a time from the event loop (the window stays
        responsive), starting `delay_ms` from now."""
        if self._rest:
            return
        self._rest = [name for name in self._slots if name not in self._built]
        if self._rest:
            QTimer.singleShot(delay_ms, self._top, self._build_next)

    def _build_next(self) -> None:
        while self._rest:
            name = self._rest.pop(0)
            if name not in self._built:
                self._build(name)
                break
        if self._rest:
            QTimer.singleShot(0, self._top, self._build_next)


def build(context: AppContext, parent: QWidget | None = None) -> tuple[QTabWidget, Pages]:
    """The main tab widget and every page by name (built when first wanted: `Pages`)."""
    top = QTabWidget(parent)
    top.setObjectName("mainTabs")
    top.setDocumentMode(True)
    pages = Pages(context, top)
    for spec in LAYOUT:
        if spec.children:
            inner = QTabWidget()
            inner.setObjectName(f"tabs_{spec.name}")
            for child in spec.children:
                pages._add(inner, child.name, tr(child.title))
            top.addTab(inner, tr(spec.title))
            pages._watch(inner)
        else:
            pages._add(top, spec.name, tr(spec.title))
    pages._watch(top)
    pages.build_shown()
    return top, pages


def all_pages(pages: Mapping[str, TabPage]) -> Iterable[TabPage]:
    """The pages built so far (a page built later reads everything it shows when it is first shown)."""
    if isinstance(pages, Pages):
        return pages.built()
    return (pages[name] for name in leaf_names() if name in pages)


__all__ = [
    "EVERYTHING",
    "LAYOUT",
    "AppContext",
    "Pages",
    "TabPage",
    "TabSpec",
    "build",
    "register",
    "register_lazy",
]
