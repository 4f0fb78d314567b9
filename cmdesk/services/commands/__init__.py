"""The changes a user makes, one module per feature, the queued ones beside the online ones.

    session.command(commands.transfer, asset="stamps", target_type="stamping_account", ...)
    session.online(commands.create_stamping_account, client_id, password=..., ...)

Queued commands (`fn(outbox, cache, ...)`) go to the outbox (offline first): each checks what it can
without the server, writes ONE command with its idempotency key and, where the result is known
beforehand (an edit, a tag, blocking a CTI), lays the new value over the cache so the views show it at
once, marked pending (`cmdesk.services.overlays`). Online calls (`fn(api, cache, ...)`) need the server
now — they carry a password, or move balances whose answer must be shown (a code and its NIP, a quote),
or change who can work in the portal — and keep the server's answer in the cache. Nothing under
`cmdesk.ui` builds a request or writes the cache: it calls these.

- `clients`: alta, edición, clasificación; perfil principal (online)
- `stamping`: bloquear/reactivar, venta automática; crear cuenta, contraseña, consumo (online)
- `ledger`: transferencias, transferencia masiva, compras; catálogo, cotizar y contratar (online)
- `billing`: registrar factura; códigos de abono (online)
- `records`: interacciones, pólizas; licencias MKL (online)
- `tools`: precios, configuración, usuarios (online)
- `distributors`: alta, conversión de un cliente, estados (online)
- `alerts`: marcar alertas (queued); reglas de alerta, calendario de renovaciones y su .ics (online)
- `access`: ¿Olvidó su contraseña? (public), invitaciones, renovar mi cuenta, correos de prueba (online)
- `pending`: reintentar, descartar, resolver un conflicto (the pending-commands panel)
"""

from __future__ import annotations

from cmdesk.services.commands.access import (
    demo_mail,
    demo_mails,
    register_distributor,
    renew_account,
    renewal_quote,
    request_password_reset,
    resend_invitation,
)
from cmdesk.services.commands.alerts import (
    count_new_alerts,
    delete_alert_rule,
    export_calendar,
    fetch_calendar,
    save_alert_rule,
    set_alert_state,
    stored_calendar,
    take_new_alerts,
)
from cmdesk.services.commands.billing import cancel_top_up_code, generate_top_up_code, register_invoice
from cmdesk.services.commands.clients import (
    assign_admin_profile,
    create_client,
    new_passwords,
    set_tags,
    update_client,
)
from cmdesk.services.commands.distributors import change_state, convert_client, create_distributor
from cmdesk.services.commands.labels import client_label, target_label
from cmdesk.services.commands.ledger import (
    bulk_transfer,
    contract,
    fetch_catalog,
    pending_out,
    purchase,
    quote_contract,
    transfer,
    transfer_info,
)
from cmdesk.services.commands.pending import discard, resolve_conflict, retry
from cmdesk.services.commands.queue import LOCAL_PREFIX, is_local
from cmdesk.services.commands.records import add_interaction, add_policy, generate_licenses
from cmdesk.services.commands.stamping import (
    create_stamping_account,
    fetch_usage,
    pay_unlimited_fee,
    reset_stamping_password,
    set_auto_sale,
    set_auto_sales,
    set_cti_active,
    set_ctis_active,
    unlimited_fee_info,
)
from cmdesk.services.commands.tools import (
    add_user,
    create_price_package,
    delete_price_package,
    remove_user,
    set_user_role,
    update_price_package,
    update_settings,
)

__all__ = [
    "LOCAL_PREFIX",
    "add_interaction",
    "add_policy",
    "add_user",
    "assign_admin_profile",
    "bulk_transfer",
    "cancel_top_up_code",
    "change_state",
    "client_label",
    "contract",
    "convert_client",
    "count_new_alerts",
    "create_client",
    "create_distributor",
    "create_price_package",
    "create_stamping_account",
    "delete_alert_rule",
    "delete_price_package",
    "demo_mail",
    "demo_mails",
    "discard",
    "export_calendar",
    "fetch_calendar",
    "fetch_catalog",
    "fetch_usage",
    "generate_licenses",
    "generate_top_up_code",
    "is_local",
    "new_passwords",
    "pay_unlimited_fee",
    "pending_out",
    "purchase",
    "quote_contract",
    "register_distributor",
    "register_invoice",
    "remove_user",
    "renew_account",
    "renewal_quote",
    "request_password_reset",
    "resend_invitation",
    "reset_stamping_password",
    "resolve_conflict",
    "retry",
    "save_alert_rule",
    "set_alert_state",
    "set_auto_sale",
    "set_auto_sales",
    "set_cti_active",
    "set_ctis_active",
    "set_tags",
    "set_user_role",
    "stored_calendar",
    "take_new_alerts",
    "target_label",
    "transfer",
    "transfer_info",
    "unlimited_fee_info",
    "update_client",
    "update_price_package",
    "update_settings",
]
