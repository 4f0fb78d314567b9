"""Ayuda: the portal's help text, the version of cmdesk and its updates (Buscar actualizaciones).
Importing the package registers the page."""

from cmdesk.ui import tabs
from cmdesk.ui.ayuda.page import AyudaPage
from cmdesk.ui.ayuda.updates import UpdateController

__all__ = ["AyudaPage", "UpdateController"]

tabs.register("ayuda", AyudaPage)
