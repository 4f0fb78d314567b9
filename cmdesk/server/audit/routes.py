"""What each mutating route is called in the bitácora, which entity is its main one, and which routes are
not audited (and why).

A route missing from `ACTIONS` is still audited (the recorder is generic): its action is the endpoint's
function name, its label the route, and its main entity the first row it created (or else changed).
Add it here to give it a Spanish label and a main entity. `tests/server/audit` enumerates the app's
routes: a new mutating route must be in `ACTIONS` with a test case, or in `EXEMPT` with a reason.
"""

from __future__ import annotations

from typing import NamedTuple


class RouteAction(NamedTuple):
    action: str  # stable machine name, e.g. "client.update"
    label: str  # Spanish, for the desktop's Bitácora
    entity: str  # the entity type the record is about (its main entity)


ACTIONS: dict[tuple[str, str], RouteAction] = {
    # Clients and CTIs
    ("POST", "/v1/clients"): RouteAction("client.create", "Alta de cliente", "client"),
    ("POST", "/v1/clients/tags"): RouteAction("client.tags", "Clasificación de clientes", "client"),
    ("PATCH", "/v1/clients/{client_id}"): RouteAction("client.update", "Modificación de cliente", "client"),
    ("PUT", "/v1/clients/{client_id}/admin-profile"): RouteAction(
        "client.admin_profile", "Perfil principal del cliente", "client"
    ),
    ("POST", "/v1/clients/{client_id}/stamping-accounts"): RouteAction(
        "stamping_account.create", "Alta de cuenta de timbrado", "stamping_account"
    ),
    ("PATCH", "/v1/stamping-accounts/{cti_id}"): RouteAction(
        "stamping_account.state", "Bloqueo o reactivación de cuenta de timbrado", "stamping_account"
    ),
    ("POST", "/v1/stamping-accounts/{cti_id}/password"): RouteAction(
        "stamping_account.password",
        "Restablecimiento de contraseña de CTI",
        "stamping_account",
    ),
    ("PUT", "/v1/stamping-accounts/{cti_id}/auto-sale"): RouteAction(
        "stamping_account.auto_sale", "Venta automática", "stamping_account"
    ),
    ("POST", "/v1/stamping-accounts/{cti_id}/unlimited-fee"): RouteAction(
        "stamping_account.unlimited_fee", "Anualidad de cuenta ilimitada", "stamping_account"
    ),
    ("POST", "/v1/clients/{client_id}/interactions"): RouteAction(
        "interaction.create", "Registro de interacción", "interaction"
    ),
    ("DELETE", "/v1/clients/{client_id}/interactions/{interaction_id}"): RouteAction(
        "interaction.delete", "Eliminación de interacción", "interaction"
    ),
    ("POST", "/v1/clients/{client_id}/policies"): RouteAction(
        "support_policy.create", "Registro de póliza", "support_policy"
    ),
    ("PATCH", "/v1/clients/{client_id}/policies/{policy_id}"): RouteAction(
        "support_policy.update", "Modificación de póliza", "support_policy"
    ),
    ("DELETE", "/v1/clients/{client_id}/policies/{policy_id}"): RouteAction(
        "support_policy.delete", "Eliminación de póliza", "support_policy"
    ),
    # Ledger
    ("POST", "/v1/transfers"): RouteAction("ledger.transfer", "Transferencia", "movement"),
    ("POST", "/v1/transfers/bulk"): RouteAction("ledger.bulk_transfer", "Transferencia masiva", "movement"),
    ("POST", "/v1/purchases"): RouteAction("ledger.purchase", "Compra", "movement"),
    # Distributors
    ("POST", "/v1/distributors"): RouteAction("distributor.create", "Alta de distribuidor", "distributor"),
    ("POST", "/v1/distributors/{distributor_id}/activate"): RouteAction(
        "distributor.activate", "Activación de distribuidor", "distributor"
    ),
    ("POST", "/v1/distributors/{distributor_id}/suspend"): RouteAction(
        "distributor.suspend", "Suspensión de distribuidor", "distributor"
    ),
    ("POST", "/v1/distributors/{distributor_id}/cancel"): RouteAction(
        "distributor.cancel", "Cancelación de distribuidor", "distributor"
    ),
    ("POST", "/v1/distributors/{distributor_id}/renew"): RouteAction(
        "distributor.renew", "Renovación de distribuidor", "distributor"
    ),
    ("POST", "/v1/distributors/{distributor_id}/resend-confirmation"): RouteAction(
        "distributor.resend_confirmation", "Reenvío de confirmación de correo", "distributor"
    ),
    ("POST", "/v1/clients/{client_id}/convert-to-distributor"): RouteAction(
        "distributor.convert", "Conversión de cliente en distribuidor", "distributor"
    ),
    ("POST", "/v1/public/registrations"): RouteAction(
        "distributor.register", "Registro desde el sitio web", "distributor"
    ),
    ("POST", "/v1/public/registrations/confirm"): RouteAction(
        "profile.confirm", "Confirmación de correo", "profile"
    ),
    # Contracts
    ("POST", "/v1/contracts"): RouteAction("contract.create", "Contratación", "contract"),
    ("POST", "/v1/licenses"): RouteAction("license.create", "Generación de licencias", "license"),
    # Billing
    ("POST", "/v1/invoices"): RouteAction("invoice.create", "Registro de factura", "invoice"),
    ("POST", "/v1/top-up-codes"): RouteAction("top_up_code.create", "Código de abono", "top_up_code"),
    ("POST", "/v1/top-up-codes/{code_id}/cancel"): RouteAction(
        "top_up_code.cancel", "Cancelación de código de abono", "top_up_code"
    ),
    ("POST", "/v1/public/top-up-codes/redeem"): RouteAction(
        "top_up_code.redeem", "Canje de código de abono", "top_up_code"
    ),
    # Tools
    ("POST", "/v1/price-packages"): RouteAction(
        "price_package.create", "Alta de paquete de precios", "price_package"
    ),
    ("PATCH", "/v1/price-packages/{package_id}"): RouteAction(
        "price_package.update", "Modificación de paquete de precios", "price_package"
    ),
    ("DELETE", "/v1/price-packages/{package_id}"): RouteAction(
        "price_package.delete", "Eliminación de paquete de precios", "price_package"
    ),
    ("POST", "/v1/users"): RouteAction("user.add", "Nuevo usuario (invitación)", "invitation"),
    ("POST", "/v1/users/{profile_id}/resend-invitation"): RouteAction(
        "user.resend_invitation", "Reenvío de invitación", "invitation"
    ),
    ("POST", "/v1/public/invitations/accept"): RouteAction(
        "user.accept_invitation", "Invitación aceptada", "invitation"
    ),
    ("POST", "/v1/account/renew"): RouteAction("account.renew", "Renovación de la cuenta", "account"),
    ("DELETE", "/v1/users/{profile_id}"): RouteAction("user.remove", "Baja de usuario", "profile"),
    ("PATCH", "/v1/users/{profile_id}"): RouteAction("user.role", "Cambio de rol de usuario", "profile"),
    ("PATCH", "/v1/settings"): RouteAction("settings.update", "Configuraciones globales", "settings"),
    # Alerts
    ("PATCH", "/v1/alerts/{alert_id}"): RouteAction("alert.state", "Estado de una alerta", "alert"),
    ("POST", "/v1/alerts/state"): RouteAction("alert.states", "Estado de varias alertas", "alert"),
    ("PUT", "/v1/alert-rules"): RouteAction("alert_rule.save", "Regla de alerta", "alert_rule"),
    ("DELETE", "/v1/alert-rules/{rule_id}"): RouteAction(
        "alert_rule.delete", "Eliminación de regla de alerta", "alert_rule"
    ),
}

# Mutating routes that write no audit record, and why. The context is not even set for them.
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/v1/auth/token"): "inicio de sesión: sesiones y reintentos, no datos del negocio",
    ("POST", "/v1/auth/refresh"): "renovación del token de acceso (cada 15 minutos)",
    ("POST", "/v1/auth/logout"): "fin de sesión",
    (
        "POST",
        "/v1/stamping/consume",
    ): ("timbrado: cada CFDI queda en issued_cfdi; auditarlo costaría el camino rápido"),
    ("POST", "/v1/contracts/quote"): "cotización: no modifica nada",
    ("POST", "/v1/auth/password-reset"): "pedir el enlace de contraseña nueva: sólo encola el correo",
    (
        "POST",
        "/v1/auth/password-reset/confirm",
    ): "contraseña nueva de una persona por su enlace: sus sesiones, no datos del negocio",
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def route_action(method: str, path: str, endpoint_name: str = "") -> RouteAction:
    """The action of a route; a route missing from `ACTIONS` gets a generic one."""
    known = ACTIONS.get((method, path))
    if known is not None:
        return known
    return RouteAction(endpoint_name or f"{method} {path}", f"{method} {path}", "")


def audited(method: str, path: str) -> bool:
    return method not in SAFE_METHODS and (method, path) not in EXEMPT
