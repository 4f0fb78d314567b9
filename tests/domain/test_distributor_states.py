"""The sub-distributor account state machine: every (state, action) pair, and the 30-day window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from cmdesk.domain.distributor_states import (
    REACTIVATION_WINDOW,
    SPANISH_ACTION,
    SPANISH_STATUS,
    Action,
    allowed_actions,
    purge_due,
    renewed_expiry,
    transition,
)
from cmdesk.domain.enums import AccountStatus
from cmdesk.domain.errors import DomainError, ErrorCode

S = AccountStatus
A = Action
NOW = datetime(2017, 4, 20, 12, tzinfo=UTC)
RECENTLY_CANCELLED = NOW - timedelta(days=10)

# Every pair, cancelled 10 days ago (inside the reactivation window). None = refused.
TABLE: list[tuple[AccountStatus, Action, AccountStatus | None]] = [
    (S.UNVALIDATED, A.CONFIRM_EMAIL, S.INACTIVE),
    (S.UNVALIDATED, A.ACTIVATE, None),
    (S.UNVALIDATED, A.SUSPEND, None),
    (S.UNVALIDATED, A.REACTIVATE, None),
    (S.UNVALIDATED, A.CANCEL, None),
    (S.UNVALIDATED, A.EXPIRE, None),
    (S.UNVALIDATED, A.RENEW, None),
    (S.UNVALIDATED, A.PURGE, None),
    (S.INACTIVE, A.CONFIRM_EMAIL, None),
    (S.INACTIVE, A.ACTIVATE, S.ACTIVE),  # manual: "Activar una cuenta" from the Sin Activar tab
    (S.INACTIVE, A.SUSPEND, None),
    (S.INACTIVE, A.REACTIVATE, None),
    (S.INACTIVE, A.CANCEL, S.CANCELLED),
    (S.INACTIVE, A.EXPIRE, None),
    (S.INACTIVE, A.RENEW, None),
    (S.INACTIVE, A.PURGE, None),
    (S.ACTIVE, A.CONFIRM_EMAIL, None),
    (S.ACTIVE, A.ACTIVATE, None),
    (S.ACTIVE, A.SUSPEND, S.SUSPENDED),  # manual: "Suspender/re-activar una cuenta"
    (S.ACTIVE, A.REACTIVATE, None),
    (S.ACTIVE, A.CANCEL, S.CANCELLED),
    (S.ACTIVE, A.EXPIRE, S.EXPIRED),
    (S.ACTIVE, A.RENEW, None),
    (S.ACTIVE, A.PURGE, None),
    (S.SUSPENDED, A.CONFIRM_EMAIL, None),
    (S.SUSPENDED, A.ACTIVATE, None),
    (S.SUSPENDED, A.SUSPEND, None),
    (S.SUSPENDED, A.REACTIVATE, S.ACTIVE),
    (S.SUSPENDED, A.CANCEL, S.CANCELLED),  # manual: "Cancelar una cuenta" from the Suspendidos tab
    (S.SUSPENDED, A.EXPIRE, S.EXPIRED),
    (S.SUSPENDED, A.RENEW, None),
    (S.SUSPENDED, A.PURGE, None),
    (S.CANCELLED, A.CONFIRM_EMAIL, None),
    (S.CANCELLED, A.ACTIVATE, None),
    (S.CANCELLED, A.SUSPEND, None),
    (S.CANCELLED, A.REACTIVATE, S.ACTIVE),  # manual: "Activar" on the Cancelado tab
    (S.CANCELLED, A.CANCEL, None),
    (S.CANCELLED, A.EXPIRE, None),
    (S.CANCELLED, A.RENEW, None),
    (S.CANCELLED, A.PURGE, None),  # not yet: only after 30 days
    (S.EXPIRED, A.CONFIRM_EMAIL, None),
    (S.EXPIRED, A.ACTIVATE, None),
    (S.EXPIRED, A.SUSPEND, None),
    (S.EXPIRED, A.REACTIVATE, None),
    (S.EXPIRED, A.CANCEL, S.CANCELLED),  # manual: an expired account can be renewed or cancelled
    (S.EXPIRED, A.EXPIRE, None),
    (S.EXPIRED, A.RENEW, S.ACTIVE),
    (S.EXPIRED, A.PURGE, None),
]


def cancelled_at_for(status: AccountStatus) -> datetime | None:
    return RECENTLY_CANCELLED if status is S.CANCELLED else None


def test_table_covers_every_pair_once():
    assert sorted((s, a) for s, a, _ in TABLE) == sorted(itertools.product(AccountStatus, Action))


@pytest.mark.parametrize(("status", "action", "expected"), TABLE)
def test_transition(status, action, expected):
    cancelled_at = cancelled_at_for(status)
    if expected is not None:
        assert transition(status, action, now=NOW, cancelled_at=cancelled_at) is expected
        return
    with pytest.raises(DomainError) as caught:
        transition(status, action, now=NOW, cancelled_at=cancelled_at)
    error = caught.value
    assert error.code is ErrorCode.INVALID_STATE_TRANSITION
    assert error.status == 409
    assert f"«{SPANISH_STATUS[status]}»" in error.detail
    assert SPANISH_ACTION[action] in error.detail
    assert error.extra == {"status": status.value, "action": action.value}


@pytest.mark.parametrize("status", list(AccountStatus))
def test_allowed_actions_agree_with_the_table(status):
    expected = {action for s, action, target in TABLE if s is status and target is not None}
    assert allowed_actions(status, now=NOW, cancelled_at=cancelled_at_for(status)) == expected


def test_window_is_thirty_days():
    assert timedelta(days=30) == REACTIVATION_WINDOW


@pytest.mark.parametrize(
    ("elapsed", "can_reactivate", "must_purge"),
    [
        (timedelta(0), True, False),
        (timedelta(days=29, hours=23, minutes=59, seconds=59), True, False),
        (REACTIVATION_WINDOW - timedelta(microseconds=1), True, False),
        (REACTIVATION_WINDOW, False, True),  # exactly 30 days: the window is closed
        (REACTIVATION_WINDOW + timedelta(microseconds=1), False, True),
        (timedelta(days=31), False, True),
    ],
)
def test_thirty_day_boundary(elapsed, can_reactivate, must_purge):
    cancelled_at = NOW - elapsed
    assert purge_due(S.CANCELLED, cancelled_at, NOW) is must_purge
    actions = allowed_actions(S.CANCELLED, now=NOW, cancelled_at=cancelled_at)
    assert actions == ({A.REACTIVATE} if can_reactivate else {A.PURGE})
    if can_reactivate:
        assert transition(S.CANCELLED, A.REACTIVATE, now=NOW, cancelled_at=cancelled_at) is S.ACTIVE
        with pytest.raises(DomainError, match="antes de que pasen 30 días"):
            transition(S.CANCELLED, A.PURGE, now=NOW, cancelled_at=cancelled_at)
    else:
        assert transition(S.CANCELLED, A.PURGE, now=NOW, cancelled_at=cancelled_at) is S.CANCELLED
        with pytest.raises(DomainError, match="pasaron 30 días desde su cancelación"):
            transition(S.CANCELLED, A.REACTIVATE, now=NOW, cancelled_at=cancelled_at)


@pytest.mark.parametrize("status", [s for s in AccountStatus if s is not S.CANCELLED])
def test_only_cancelled_accounts_are_purged(status):
    assert purge_due(status, NOW - timedelta(days=365), NOW) is False


def test_purge_due_without_cancellation_time_is_false():
    assert purge_due(S.CANCELLED, None, NOW) is False


@pytest.mark.parametrize("action", [A.REACTIVATE, A.PURGE])
def test_cancelled_account_without_cancellation_time_is_a_bug(action):
    with pytest.raises(ValueError):
        transition(S.CANCELLED, action, now=NOW)


@pytest.mark.parametrize(
    ("status", "expires_at", "allowed"),
    [
        (S.ACTIVE, NOW - timedelta(seconds=1), True),
        (S.ACTIVE, NOW, True),
        (S.ACTIVE, NOW + timedelta(seconds=1), False),
        (S.SUSPENDED, NOW - timedelta(days=1), True),
        (S.SUSPENDED, NOW + timedelta(days=1), False),
    ],
)
def test_expire_only_once_expiry_has_passed(status, expires_at, allowed):
    if allowed:
        assert transition(status, A.EXPIRE, now=NOW, expires_at=expires_at) is S.EXPIRED
        assert A.EXPIRE in allowed_actions(status, now=NOW, expires_at=expires_at)
    else:
        with pytest.raises(DomainError, match="antes de su fecha de vencimiento"):
            transition(status, A.EXPIRE, now=NOW, expires_at=expires_at)
        assert A.EXPIRE not in allowed_actions(status, now=NOW, expires_at=expires_at)


def test_spanish_status_names():
    assert SPANISH_STATUS == {
        S.UNVALIDATED: "Sin validar",
        S.INACTIVE: "Sin activar",
        S.ACTIVE: "Activo",
        S.SUSPENDED: "Suspendido",
        S.CANCELLED: "Cancelado",
        S.EXPIRED: "Vencido",
    }
    assert set(SPANISH_ACTION) == set(Action)


def test_refusal_message_reads_naturally():
    with pytest.raises(DomainError) as caught:
        transition(S.ACTIVE, A.ACTIVATE, now=NOW)
    assert caught.value.detail == "No se puede activar una cuenta en estado «Activo»."


def test_action_values_are_the_api_names():
    assert [a.value for a in Action] == [
        "confirm_email",
        "activate",
        "suspend",
        "reactivate",
        "cancel",
        "expire",
        "renew",
        "purge",
    ]


@pytest.mark.parametrize(
    ("expires_at", "now", "new_expiry"),
    [
        # Manual: an account registered 2016-04-08T16:43:44Z expires 2017-04-08T16:43:44Z.
        (
            datetime(2017, 4, 8, 16, 43, 44, tzinfo=UTC),
            datetime(2017, 4, 20, tzinfo=UTC),
            datetime(2018, 4, 20, tzinfo=UTC),
        ),
        (
            datetime(2017, 4, 8, 16, 43, 44, tzinfo=UTC),
            datetime(2017, 4, 1, tzinfo=UTC),
            datetime(2018, 4, 8, 16, 43, 44, tzinfo=UTC),
        ),
        (
            datetime(2016, 1, 1, tzinfo=UTC),
            datetime(2016, 2, 29, tzinfo=UTC),
            datetime(2017, 2, 28, tzinfo=UTC),
        ),
    ],
)
def test_renewed_expiry_gives_a_full_year(expires_at, now, new_expiry):
    assert renewed_expiry(expires_at, now) == new_expiry
