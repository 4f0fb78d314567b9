"""Enumerations shared by the schema, the server and the desktop (values are the API's strings)."""

from __future__ import annotations

from enum import StrEnum


class Asset(StrEnum):
    STAMPS = "stamps"
    POINTS = "points"


class StampingAccountKind(StrEnum):
    STANDARD = "standard"
    UNLIMITED = "unlimited"


class AccountStatus(StrEnum):
    """Distributor account states (manual: Sin validar, Sin activar, Activo, Suspendido, Cancelado,
    Vencido)."""

    UNVALIDATED = "unvalidated"
    INACTIVE = "inactive"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class MovementKind(StrEnum):
    PURCHASE = "purchase"
    TRANSFER = "transfer"
    AUTO_SALE = "auto_sale"
    TOP_UP = "top_up"
    CONTRACT = "contract"
    UNLIMITED_FEE = "unlimited_fee"


class PartyType(StrEnum):
    """Source or target of a movement. `top_up_code` holds what a code escrows until it is redeemed."""

    ACCOUNT = "account"
    CLIENT = "client"
    STAMPING_ACCOUNT = "stamping_account"
    CATALOG = "catalog"
    ISSUED = "issued"
    TOP_UP_CODE = "top_up_code"


class ContractKind(StrEnum):
    MKL = "mkl"
    SUBSCRIPTION = "subscription"


class ContractStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Role(StrEnum):
    """A profile's role inside one account (`cmdesk.domain.roles` says what each may do)."""

    MASTER = "master"  # the account's master user: always an administrator
    ADMIN = "admin"  # Administrador
    OPERATOR = "operator"  # Operador


class Color(StrEnum):
    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    GREEN = "green"
    BLUE = "blue"
    PURPLE = "purple"
    GRAY = "gray"


class PersonType(StrEnum):
    FISICA = "fisica"
    MORAL = "moral"


class SoftwareFileKind(StrEnum):
    INSTALLER = "installer"
    FIX = "fix"
    IMPROVEMENT = "improvement"
    DOCUMENTATION = "documentation"
    TOOL = "tool"


class ChargeKind(StrEnum):
    PURCHASE = "purchase"
    CONTRACT = "contract"
    ANNUAL_FEE = "annual_fee"
    RENEWAL = "renewal"


# The Multinivel subscription's catalog code: sub-distributors and distributor price packages need it.
MULTINIVEL_CODE = "multinivel"
