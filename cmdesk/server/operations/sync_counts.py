"""How many rows of each mirrored entity an account sees: the desktop compares these with its cache
after a pull and rebuilds the cache when they differ (DESIGN.md, Sync)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cmdesk.models import (
    Account,
    Alert,
    AlertRule,
    Charge,
    Client,
    ClientInteraction,
    Contract,
    Invitation,
    Invoice,
    License,
    Membership,
    Movement,
    PricePackage,
    SoftwareFile,
    SoftwareProduct,
    StampingAccount,
    SupportPolicy,
    TopUpCode,
)
from cmdesk.server.operations.context import Actor


def entity_counts(session: Session, actor: Actor) -> dict[str, int]:
    a = actor.account_id

    def count(model: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return {
        "client": count(Client, Client.account_id == a),
        "stamping_account": count(StampingAccount, StampingAccount.account_id == a),
        "movement": count(Movement, or_(Movement.account_id == a, Movement.counterpart_account_id == a)),
        "distributor": count(Account, Account.parent_id == a),
        "profile": count(Membership, Membership.account_id == a),
        "invitation": count(Invitation, Invitation.account_id == a),
        "price_package": count(PricePackage, PricePackage.account_id == a),
        "top_up_code": count(TopUpCode, TopUpCode.account_id == a),
        "invoice": count(Invoice, Invoice.account_id == a),
        "contract": count(Contract, Contract.account_id == a),
        "license": count(License, License.account_id == a),
        "charge": count(Charge, Charge.account_id == a),
        "interaction": count(ClientInteraction, ClientInteraction.account_id == a),
        "support_policy": count(SupportPolicy, SupportPolicy.account_id == a),
        "software_product": count(SoftwareProduct),
        "software_file": count(SoftwareFile),
        "alert": count(Alert, Alert.account_id == a),
        "alert_rule": count(AlertRule, AlertRule.account_id == a),
    }
