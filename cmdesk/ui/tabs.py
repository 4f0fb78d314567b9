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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTabWidget, QWidget

from cmdesk.ui import QT_TRANSLATE_NOOP, translator
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

    def wants(self, changed: frozenset[str]) -> bool:
        return "*" in changed or bool(self.entities & changed)

    def refresh(self, changed: frozenset[str]) -> None:
        """`changed` happened: reload now when the page is on screen, else when it is shown."""
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
        ),
    ),
    TabSpec("ayuda", QT_TRANSLATE_NOOP("tabs", "Ayuda")),
)

_factories: dict[str, PageFactory] = {}


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


def factory_for(name: str) -> PageFactory:
    factory = _factories.get(name)
    if factory is None:
        raise KeyError(f"no page registered as {name!r} (cmdesk.ui.pages imports every page package)")
    return factory


def build(context: AppContext, parent: QWidget | None = None) -> tuple[QTabWidget, dict[str, TabPage]]:
    """The main tab widget and every page by name."""
    pages: dict[str, TabPage] = {}
    top = QTabWidget(parent)
    top.setObjectName("mainTabs")
    top.setDocumentMode(True)
    for spec in LAYOUT:
        if spec.children:
            inner = QTabWidget()
            inner.setObjectName(f"tabs_{spec.name}")
            for child in spec.children:
                page = factory_for(child.name)(context)
                page.setObjectName(f"page_{child.name}")
                pages[child.name] = page
                inner.addTab(page, tr(child.title))
            top.addTab(inner, tr(spec.title))
        else:
            page = factory_for(spec.name)(context)
            page.setObjectName(f"page_{spec.name}")
            pages[spec.name] = page
            top.addTab(page, tr(spec.title))
    return top, pages


def all_pages(pages: Mapping[str, TabPage]) -> Iterable[TabPage]:
    return (pages[name] for name in leaf_names() if name in pages)


__all__ = ["EVERYTHING", "LAYOUT", "AppContext", "TabPage", "TabSpec", "build", "register"]
