"""Herramientas: Precios, Usuarios, Configuraciones globales and Reglas de alerta. Importing the package
registers them."""

from cmdesk.ui import tabs
from cmdesk.ui.herramientas.configuracion import SettingsPage
from cmdesk.ui.herramientas.precios import PricesPage
from cmdesk.ui.herramientas.reglas import RulesPage
from cmdesk.ui.herramientas.usuarios import UsersPage

__all__ = ["PricesPage", "RulesPage", "SettingsPage", "UsersPage"]

tabs.register("herramientas.precios", PricesPage)
tabs.register("herramientas.usuarios", UsersPage)
tabs.register("herramientas.configuracion", SettingsPage)
tabs.register("herramientas.alertas", RulesPage)
