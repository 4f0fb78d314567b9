"""Self-renewal (annual fee + the full year of every active contract, manual "Contratar MKL /
Suscripciones") and the expiry reminders 30, 7 and 1 days before, each sent once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from cmdesk.domain.errors import DomainError
from cmdesk.domain.proration import add_one_year
from cmdesk.models import Account, Charge, Contract, OutboundMail
from cmdesk.server import db
from cmdesk.server.mail import templates
from cmdesk.server.operations import contracts, maintenance, renewal
from tests.server.helpers import make_distributor

NOW = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)


def _expiring(factory, days: float, **kw):
    actor = make_distributor(factory, **kw)
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == actor.account_id).values(expires_at=NOW + dt.timedelta(days=days)))
    return actor


def _reminders(factory) -> list[OutboundMail]:
    with db.transaction(factory) as s:
        return list(s.scalars(select(OutboundMail).where(OutboundMail.kind == "expiry_reminder").order_by(OutboundMail.created_at)))


def test_quote_and_renew_own_account_within_30_days(factory):
    actor = make_distributor(factory, email="ana@dist.mx", mobile="5511111111")
    db.run(factory, contracts.contract, actor, "multinivel", now=NOW)
    db.run(factory, contracts.contract, actor, "mkl_dominus", now=NOW)
    with db.transaction(factory) as s:
        expires = s.get(Account, actor.account_id).expires_at
    early = db.run(factory, renewal.renewal_quote, actor, now=NOW)
    assert early["can_renew"] is False and early["warning"] is False
    assert "podrá renovarla a partir del" in early["reason"]
    with pytest.raises(DomainError, match="podrá renovarla"):
        db.run(factory, renewal.renew_own_account, actor, now=NOW)

    near = expires - dt.timedelta(days=10)
    quote = db.run(factory, renewal.renewal_quote, actor, now=near)
    assert quote["can_renew"] is True and quote["warning"] is True and quote["days_left"] == 10
    assert [c["kind"] for c in quote["charges"]] == ["annual_fee", "renewal", "renewal"]
    # Anualidad $3,480.00; Multinivel $1,999.00 + IVA; MKL Dóminus $1,850.00 + IVA (a full year each;
    # both contracted at the same instant, so in either order).
    assert quote["charges"][0]["amount_cents"] == 348000
    assert sorted(c["amount_cents"] for c in quote["charges"][1:]) == [214600, 231884]
    assert quote["total_cents"] == 348000 + 231884 + 214600
    assert quote["new_expires_at"] == add_one_year(expires)

    out = db.run(factory, renewal.renew_own_account, actor, now=near)
    assert out["account"]["expires_at"] == add_one_year(expires) and out["account"]["status"] == "active"
    assert out["total_cents"] == quote["total_cents"]
    with db.transaction(factory) as s:
        kinds = sorted(s.scalars(select(Charge.kind).where(Charge.account_id == actor.account_id, Charge.created_at == near)))
        assert kinds == ["annual_fee", "renewal", "renewal"]
        assert set(s.scalars(select(Contract.expires_at).where(Contract.account_id == actor.account_id))) == {add_one_year(expires)}
    # Renewed: the next renewal opens 30 days before the new expiry.
    assert db.run(factory, renewal.renewal_quote, actor, now=near)["can_renew"] is False


def test_an_expired_account_renews_itself_for_a_year_from_now(factory):
    actor = _expiring(factory, -3)
    db.run(factory, maintenance.run_maintenance, now=NOW)
    quote = db.run(factory, renewal.renewal_quote, actor, now=NOW)
    assert quote["status"] == "expired" and quote["can_renew"] is True and quote["days_left"] == 0
    out = db.run(factory, renewal.renew_own_account, actor, now=NOW)
    assert out["account"]["status"] == "active" and out["account"]["expires_at"] == add_one_year(NOW)


def test_a_suspended_account_cannot_renew_itself(factory):
    actor = _expiring(factory, 5)
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == actor.account_id).values(status="suspended"))
    quote = db.run(factory, renewal.renewal_quote, actor, now=NOW)
    assert quote["can_renew"] is False and "suspendida" in quote["reason"]


@pytest.mark.parametrize(("days", "threshold"), [(45, None), (30, 30), (12, 30), (7, 7), (3, 7), (0.5, 1)])
def test_the_reminder_due_at_each_distance(factory, days, threshold):
    _expiring(factory, days)
    queued = db.run(factory, renewal.enqueue_expiry_reminders, now=NOW)
    mails = _reminders(factory)
    assert queued == len(mails) == (0 if threshold is None else 1)
    if threshold is not None:
        assert mails[0].dedupe_key.endswith(f":{threshold}")


def test_each_reminder_goes_once_and_a_renewal_starts_over(factory):
    actor = _expiring(factory, 30, name="Distribuidora Ana", email="ana@dist.mx", mobile="5511111111")
    with db.transaction(factory) as s:
        expires = s.get(Account, actor.account_id).expires_at
    for _ in range(3):  # maintenance and the senders' loops may all run it
        db.run(factory, renewal.enqueue_expiry_reminders, now=NOW)
    assert len(_reminders(factory)) == 1
    for days_before, expected in ((20, 1), (7, 2), (6, 2), (1, 3), (0.1, 3)):
        db.run(factory, renewal.enqueue_expiry_reminders, now=expires - dt.timedelta(days=days_before))
        assert len(_reminders(factory)) == expected
    first, _seven, last = _reminders(factory)
    assert first.to_address == "ana@dist.mx" and first.account_id == actor.account_id
    assert "vence en 30 días" in first.subject and "Distribuidora Ana" in first.subject
    assert "vence mañana" in last.subject
    rendered = templates.render("expiry_reminder", templates.params_of(first.params), subject=first.subject, link=None)
    assert templates.local_date(expires) in rendered.text and "Compras → Renovar mi cuenta" in rendered.text
    assert "$3,480.00" in rendered.html  # what the renewal will cost

    # Renewed: the next year's reminders are new mails.
    db.run(factory, renewal.renew_own_account, actor, now=expires - dt.timedelta(days=1))
    db.run(factory, renewal.enqueue_expiry_reminders, now=add_one_year(expires) - dt.timedelta(days=29))
    assert len(_reminders(factory)) == 4


def test_no_reminder_for_accounts_that_cannot_act(factory):
    for n, status in enumerate(("suspended", "inactive", "unvalidated", "cancelled")):
        actor = _expiring(factory, 5, email=f"x{n}@dist.mx", mobile=f"55000000{n:02d}")
        with db.transaction(factory) as s:
            s.execute(update(Account).where(Account.id == actor.account_id).values(status=status))
    assert db.run(factory, renewal.enqueue_expiry_reminders, now=NOW) == 0
