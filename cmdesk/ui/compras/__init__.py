"""Compras: catalog packages, MKL and subscriptions. Importing the package registers the page."""

from cmdesk.ui import tabs
from cmdesk.ui.compras.page import PurchasesPage

__all__ = ["PurchasesPage"]

tabs.register("compras", PurchasesPage)
