"""Herramientas: Precios, Usuarios and Configuraciones globales. Importing the package registers them."""

from cmdesk.ui import tabs
from cmdesk.ui.herramientas.configuracion import SettingsPage
from cmdesk.ui.herramientas.precios import PricesPage
from cmdesk.ui.herramientas.usuarios import UsersPage

__all__ = ["PricesPage", "SettingsPage", "UsersPage"]

tabs.register("herramientas.precios", PricesPage)
tabs.register("herramientas.usuarios", UsersPage)
tabs.register("herramientas.configuracion", SettingsPage)
