"""Where every page is: `tabs` imports a page's package (which registers it) the first time the page is
built, so the window's cold start imports only the pages it shows. The frozen build finds these
packages through `collect_submodules("cmdesk")` (installer/cmdesk.spec)."""

from cmdesk.ui import tabs

PAGES = {
    "clientes.clientes": "cmdesk.ui.clientes:ClientsPage",
    "clientes.timbrado": "cmdesk.ui.timbrado:TimbradoPage",
    "clientes.distribuidores": "cmdesk.ui.distribuidores:DistributorsPage",
    "alertas.alertas": "cmdesk.ui.alertas:AlertsPage",
    "alertas.calendario": "cmdesk.ui.alertas:CalendarPage",
    "facturacion": "cmdesk.ui.facturacion:BillingPage",
    "compras": "cmdesk.ui.compras:PurchasesPage",
    "software": "cmdesk.ui.software:SoftwarePage",
    "herramientas.precios": "cmdesk.ui.herramientas:PricesPage",
    "herramientas.usuarios": "cmdesk.ui.herramientas:UsersPage",
    "herramientas.configuracion": "cmdesk.ui.herramientas:SettingsPage",
    "herramientas.alertas": "cmdesk.ui.herramientas:RulesPage",
    "herramientas.estados": "cmdesk.ui.estados:StatementsPage",
    "herramientas.bitacora": "cmdesk.ui.bitacora:BitacoraPage",
    "ayuda": "cmdesk.ui.ayuda:AyudaPage",
}

for _name, _target in PAGES.items():
    tabs.register_lazy(_name, _target)
