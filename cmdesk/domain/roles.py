"""Roles inside an account: what an *Administrador* and an *Operador* may do (issue 15).

The rule lives here once; the server refuses (403 `forbidden_role`, `cmdesk.server.api.deps`) and the
desktop hides or disables (`AppContext.can`) with the same table.

- **Administrador** (and the master user, who is always one): everything — the account's users,
  its global settings and alert rules, its price packages, and whatever is charged to the account
  or changes its network: purchases, contracts, unlimited fees, renewals, sub-distributors.
- **Operador**: the day-to-day work — clients and their CTIs, transfers, top-up codes, invoices,
  the licenses of contracted MKL, alerts. Every list can be read by both.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from cmdesk.domain.enums import Role


class Permission(StrEnum):
    """A group of operations only some roles may do."""

    USERS = "users"  # Herramientas → Usuarios: add, remove, change roles, resend invitations
    SETTINGS = "settings"  # Configuraciones globales, alert rules
    PRICES = "prices"  # Herramientas → Precios
    PURCHASES = "purchases"  # what is charged to the account: purchases, contracts, fees, renewals
    DISTRIBUTORS = "distributors"  # sub-distributors: create, activate, suspend, cancel, renew, convert


ADMINISTRATION: frozenset[Permission] = frozenset(Permission)

GRANTED: Mapping[str, frozenset[Permission]] = {
    Role.MASTER: ADMINISTRATION,
    Role.ADMIN: ADMINISTRATION,
    Role.OPERATOR: frozenset(),
}

# The roles a master or administrator can give (the master role is never given: one per account).
ASSIGNABLE: tuple[Role, ...] = (Role.ADMIN, Role.OPERATOR)

# What a new user gets when the form does not say (the least that lets them work).
DEFAULT_ROLE = Role.OPERATOR

# Why a permission was refused, said to the person (Spanish, shown as the problem's detail).
REFUSALS: Mapping[str, str] = {
    Permission.USERS: "Sólo un administrador de la cuenta puede administrar a los usuarios.",
    Permission.SETTINGS: "Sólo un administrador de la cuenta puede cambiar las configuraciones.",
    Permission.PRICES: "Sólo un administrador de la cuenta puede cambiar los precios.",
    Permission.PURCHASES: "Sólo un administrador de la cuenta puede hacer compras y contrataciones.",
    Permission.DISTRIBUTORS: "Sólo un administrador de la cuenta puede administrar a los sub-distribuidores.",
}


def allows(role: str | None, permission: Permission) -> bool:
    """Whether `role` may do what `permission` covers. An unknown role may do none of it."""
    return permission in GRANTED.get(role or "", frozenset())


def is_administrator(role: str | None) -> bool:
    return allows(role, Permission.USERS)
