"""State machine of a sub-distributor account (manual, "Distribuidores").

    Sin validar --confirm_email--> Sin activar --activate--> Activo
    Activo --suspend--> Suspendido --reactivate--> Activo
    Activo, Suspendido --expire--> Vencido (once expires_at has passed)
    Vencido --renew--> Activo (one more year)
    Sin activar, Activo, Suspendido, Vencido --cancel--> Cancelado
    Cancelado --reactivate--> Activo, while less than 30 days have passed since cancelled_at
    Cancelado --purge--> (deleted), once 30 days have passed since cancelled_at

The 30 days are a half-open window: at exactly `cancelled_at + 30 days` the account can no longer be
reactivated and is due for purging, so the two never overlap. Everything else raises
`DomainError(INVALID_STATE_TRANSITION)` with a Spanish detail naming the state and the action.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from cmdesk.domain.enums import AccountStatus
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.names import ACCOUNT_STATUSES
from cmdesk.domain.proration import add_one_year

REACTIVATION_WINDOW = timedelta(days=30)


class Action(StrEnum):
    CONFIRM_EMAIL = "confirm_email"
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    REACTIVATE = "reactivate"
    CANCEL = "cancel"
    EXPIRE = "expire"
    RENEW = "renew"
    PURGE = "purge"


SPANISH_STATUS: dict[AccountStatus, str] = {AccountStatus(k): v for k, v in ACCOUNT_STATUSES.items()}

# Infinitive for "No se puede <verb> una cuenta ...".
SPANISH_ACTION: dict[Action, str] = {
    Action.CONFIRM_EMAIL: "confirmar el correo de",
    Action.ACTIVATE: "activar",
    Action.SUSPEND: "suspender",
    Action.REACTIVATE: "reactivar",
    Action.CANCEL: "cancelar",
    Action.EXPIRE: "marcar como vencida",
    Action.RENEW: "renovar",
    Action.PURGE: "eliminar definitivamente",
}

# Which action leads where, before the time conditions (30-day window, expiry) are applied.
# Purging deletes the account: its "next state" is Cancelado until the row is gone.
_TRANSITIONS: dict[tuple[AccountStatus, Action], AccountStatus] = {
    (AccountStatus.UNVALIDATED, Action.CONFIRM_EMAIL): AccountStatus.INACTIVE,
    (AccountStatus.INACTIVE, Action.ACTIVATE): AccountStatus.ACTIVE,
    (AccountStatus.ACTIVE, Action.SUSPEND): AccountStatus.SUSPENDED,
    (AccountStatus.SUSPENDED, Action.REACTIVATE): AccountStatus.ACTIVE,
    (AccountStatus.INACTIVE, Action.CANCEL): AccountStatus.CANCELLED,
    (AccountStatus.ACTIVE, Action.CANCEL): AccountStatus.CANCELLED,
    (AccountStatus.SUSPENDED, Action.CANCEL): AccountStatus.CANCELLED,
    (AccountStatus.EXPIRED, Action.CANCEL): AccountStatus.CANCELLED,
    (AccountStatus.CANCELLED, Action.REACTIVATE): AccountStatus.ACTIVE,
    (AccountStatus.CANCELLED, Action.PURGE): AccountStatus.CANCELLED,
    (AccountStatus.ACTIVE, Action.EXPIRE): AccountStatus.EXPIRED,
    (AccountStatus.SUSPENDED, Action.EXPIRE): AccountStatus.EXPIRED,
    (AccountStatus.EXPIRED, Action.RENEW): AccountStatus.ACTIVE,
}


def _refuse(status: AccountStatus, action: Action, reason: str = "") -> DomainError:
    detail = f"No se puede {SPANISH_ACTION[action]} una cuenta en estado «{SPANISH_STATUS[status]}»{reason}."
    return DomainError(
        ErrorCode.INVALID_STATE_TRANSITION,
        detail,
        extra={"status": status.value, "action": action.value},
    )


def _cancelled_since(cancelled_at: datetime | None) -> datetime:
    if cancelled_at is None:
        # A cancelled account without its cancellation time is corrupt data, not a user error.
        raise ValueError("a cancelled account needs cancelled_at")
    return cancelled_at


def purge_due(status: AccountStatus, cancelled_at: datetime | None, now: datetime) -> bool:
    """True when a cancelled account has reached the end of its 30 days and must be deleted."""
    return (
        status is AccountStatus.CANCELLED
        and cancelled_at is not None
        and now >= cancelled_at + REACTIVATION_WINDOW
    )


def transition(
    status: AccountStatus,
    action: Action,
    *,
    now: datetime,
    cancelled_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> AccountStatus:
    """The state after `action`, or `DomainError(INVALID_STATE_TRANSITION)` if it is not allowed now.

    `cancelled_at` is required for a cancelled account's reactivate/purge. `expires_at`, when given,
    refuses `expire` before that moment (the caller that omits it vouches the account is past it).
    """
    target = _TRANSITIONS.get((status, action))
    if target is None:
        raise _refuse(status, action)
    if status is AccountStatus.CANCELLED:
        deadline = _cancelled_since(cancelled_at) + REACTIVATION_WINDOW
        if action is Action.REACTIVATE and now >= deadline:
            raise _refuse(status, action, ": pasaron 30 días desde su cancelación")
        if action is Action.PURGE and now < deadline:
            raise _refuse(status, action, " antes de que pasen 30 días desde su cancelación")
    if action is Action.EXPIRE and expires_at is not None and now < expires_at:
        raise _refuse(status, action, " antes de su fecha de vencimiento")
    return target


def allowed_actions(
    status: AccountStatus,
    *,
    now: datetime,
    cancelled_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> frozenset[Action]:
    """Every action `transition` would accept now (the buttons to show for the account)."""
    allowed: set[Action] = set()
    for action in Action:
        try:
            transition(status, action, now=now, cancelled_at=cancelled_at, expires_at=expires_at)
        except DomainError:
            continue
        allowed.add(action)
    return frozenset(allowed)


def renewed_expiry(expires_at: datetime, now: datetime) -> datetime:
    """The new expiry after `renew`: one year after the old expiry, or after now if that is later.

    An expired account is renewed for a full year from the renewal, never for a year partly gone.
    """
    return add_one_year(max(expires_at, now))
