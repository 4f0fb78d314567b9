"""Facturación: sales to invoice, top-up codes and invoices. Importing the package registers the page."""

from cmdesk.ui import tabs
from cmdesk.ui.facturacion.page import BillingPage

__all__ = ["BillingPage"]

tabs.register("facturacion", BillingPage)
