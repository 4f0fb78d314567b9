"""SQLAlchemy 2.0 typed ORM: the whole server schema (one DeclarativeBase, `Base`).

Importing this package registers every table on `Base.metadata` (Alembic and the tests rely on it).
"""

from cmdesk.models import pg_bulk_transfer, pg_functions, pg_transfer_one  # noqa: F401  (register the PostgreSQL functions)
from cmdesk.models.accounts import (
    Account,
    AccountSettings,
    AttemptLog,
    Counter,
    Membership,
    Profile,
    RefreshToken,
)
from cmdesk.models.alerts import Alert, AlertCursor, AlertDelivery, AlertEvaluator, AlertRule
from cmdesk.models.audit import AuditRecord, AuditSubject
from cmdesk.models.base import Base, Synced, utcnow
from cmdesk.models.billing import Invoice, TopUpCode
from cmdesk.models.catalog import CatalogContract, CatalogFee, CatalogPackage, Contract, License, PricePackage
from cmdesk.models.clients import Client, ClientInteraction, SupportPolicy
from cmdesk.models.ledger import BulkTransferChunk, BulkTransferRun, Charge, Movement
from cmdesk.models.mail import Invitation, LinkToken, OutboundMail
from cmdesk.models.server import ServerSecret
from cmdesk.models.software import SoftwareFile, SoftwareProduct
from cmdesk.models.stamping import AutoSaleRule, IssuedCfdi, StampingAccount
from cmdesk.models.sync import ChangeLog, IdempotencyRecord
from cmdesk.models.throttle import ThrottleCounter
from cmdesk.models.usage import CtiDailyUsage

__all__ = [
    "Account",
    "AccountSettings",
    "Alert",
    "AlertCursor",
    "AlertDelivery",
    "AlertEvaluator",
    "AlertRule",
    "AttemptLog",
    "AuditRecord",
    "AuditSubject",
    "AutoSaleRule",
    "Base",
    "BulkTransferChunk",
    "BulkTransferRun",
    "CatalogContract",
    "CatalogFee",
    "CatalogPackage",
    "ChangeLog",
    "Charge",
    "Client",
    "ClientInteraction",
    "Contract",
    "Counter",
    "CtiDailyUsage",
    "IdempotencyRecord",
    "Invitation",
    "Invoice",
    "IssuedCfdi",
    "License",
    "LinkToken",
    "Membership",
    "Movement",
    "OutboundMail",
    "PricePackage",
    "Profile",
    "RefreshToken",
    "ServerSecret",
    "SoftwareFile",
    "SoftwareProduct",
    "StampingAccount",
    "SupportPolicy",
    "Synced",
    "ThrottleCounter",
    "TopUpCode",
    "utcnow",
]
