"""A client's Datos generales as the detail window shows them: section by section, as the portal's
form groups them."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from cmdesk.ui import locale as fmt
from cmdesk.ui.clientes.model import tr
from cmdesk.ui.kit import labels


def general_html(client: Mapping[str, Any]) -> str:
    """Datos generales, section by section, as the portal's form groups them."""

    def row(label: str, value: Any) -> str:
        text = "" if value is None else str(value)
        if not text.strip() and label not in ("Nombre", "RFC"):
            return ""  # an empty field says nothing
        return (
            f"<tr><td style='padding-right:12px'><b>{html.escape(tr(label))}</b></td>"
            f"<td>{html.escape(text)}</td></tr>"
        )

    address = client.get("address") or {}
    legal = client.get("legal_representative") or {}
    other = client.get("other") or {}
    admin = client.get("admin_profile") or None
    street = " ".join(
        p
        for p in (
            address.get("street"),
            address.get("exterior_number"),
            ("int. " + str(address["interior_number"])) if address.get("interior_number") else "",
        )
        if p
    )
    place = ", ".join(
        p
        for p in (
            address.get("neighborhood"),
            address.get("city"),
            address.get("state"),
            ("C.P. " + str(address["postal_code"])) if address.get("postal_code") else "",
        )
        if p
    )
    sections: list[tuple[str, list[str]]] = [
        (
            "Datos generales",
            [
                row("Nombre", client.get("name")),
                row("Nombre comercial", client.get("trade_name")),
                row("RFC", client.get("rfc")),
                row("Teléfono", client.get("phone")),
                row("Correo", client.get("email")),
                row("Dirección", street),
                row("", place),
                row("Fecha de alta", fmt.date_time(client.get("created_at"))),
                row(
                    "Clasificación",
                    ", ".join(
                        x
                        for x in (
                            tr("Favorito") if client.get("favorite") else "",
                            tr("Baja") if client.get("dropped") else "",
                            labels.color(client["color"]) if client.get("color") else "",
                        )
                        if x
                    )
                    or tr("Sin clasificar"),
                ),
                row(
                    "Perfil principal",
                    f"{admin.get('email', '')} · {admin.get('mobile', '')}"
                    if isinstance(admin, dict)
                    else tr("Sin asignar"),
                ),
            ],
        ),
        (
            "Representante legal",
            [
                row(
                    "Tipo de persona",
                    labels.person_type(legal.get("person_type") or "moral"),
                ),
                row("Nombre", legal.get("name")),
                row("Puesto", legal.get("position")),
                row("Correo", legal.get("email")),
                row("Teléfono", " / ".join(p for p in (legal.get("phone"), legal.get("phone_alt")) if p)),
                row("CURP", legal.get("curp")),
            ],
        ),
    ]
    for key, title in (
        ("financial_contact", "Contacto financiero"),
        ("technical_contact", "Contacto técnico"),
    ):
        person = client.get(key) or {}
        sections.append(
            (
                title,
                [
                    row("Nombre", person.get("name")),
                    row("Puesto", person.get("position")),
                    row("Correo", person.get("email")),
                    row(
                        "Teléfono", " / ".join(p for p in (person.get("phone"), person.get("phone_alt")) if p)
                    ),
                ],
            )
        )
    price = other.get("bulk_stamp_price_cents")
    sections.append(
        (
            "Otros",
            [
                row(
                    "Precio de timbres a granel",
                    fmt.money(price) if price is not None else tr("El precio general"),
                ),
                row("Porcentaje de descuento", f"{int(other.get('discount_percent') or 0)} %"),
                row("Días de crédito", str(int(other.get("credit_days") or 0))),
                row("Fax", other.get("fax")),
                row("Tipo de cliente", other.get("client_type")),
                row("Giro", other.get("business_activity")),
                row("Comentarios", other.get("comments")),
            ],
        )
    )
    parts = []
    for title, rows in sections:
        parts.append(f"<h3>{html.escape(tr(title))}</h3><table>{''.join(rows)}</table>")
    return "".join(parts)
