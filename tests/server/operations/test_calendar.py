"""The renewal calendar (SQLite and PostgreSQL): what expires in the next months, by Mexico City date,
with what each renewal costs."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from sqlalchemy import update

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError
from cmdesk.models import Account, Contract
from cmdesk.server import db
from cmdesk.server.operations import calendar, contracts, distributors, records
from cmdesk.server.operations.context import Actor
from tests.server.helpers import give, make_client, make_distributor

# 18:00 UTC is noon in Mexico City: the same calendar day in both.
NOW = dt.datetime(2026, 12, 5, 18, 0, tzinfo=dt.UTC)


def test_everything_that_expires_with_its_cost(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory, now=NOW - dt.timedelta(days=200))
    give(factory, actor, Asset.POINTS, 1000)
    db.run(factory, contracts.contract, actor, "multinivel", now=NOW)
    db.run(factory, contracts.contract, actor, "mkl_dominus", now=NOW)
    with db.transaction(factory) as s:  # the MKL is not renewed with the account
        s.execute(update(Contract).where(Contract.catalog_code == "mkl_dominus").values(auto_renew=False))
    client_id = make_client(factory, actor, name="Óptica Luz")["client"]["id"]
    db.run(factory, contracts.generate_licenses, actor, client_id, "mkl_dominus", 1, now=NOW)
    db.run(factory, records.add_policy, actor, client_id, product="Soporte", starts_on=dt.date(2026, 1, 10), ends_on=dt.date(2027, 1, 9), reference="POL-1")
    db.run(factory, records.add_policy, actor, client_id, product="Vieja", starts_on=dt.date(2025, 1, 1), ends_on=dt.date(2026, 12, 4))
    sub = db.run(factory, distributors.create_sub_distributor, actor, email="sub@cal.mx", mobile="5566667777", name="Red Sur", rfc="EKU9003173C9", now=NOW)
    sub_id = sub["distributor"]["id"]
    with db.transaction(factory) as s:
        # The sub-distributor is active and expires at 23:30 of 2027-03-01 in Mexico City (05:30 UTC the next day).
        s.execute(
            update(Account)
            .where(Account.id == sub_id)
            .values(status="active", expires_at=dt.datetime(2027, 3, 2, 5, 30, tzinfo=dt.UTC))
        )
    cal = db.run(factory, calendar.renewal_calendar, actor, now=NOW)
    items = [(i["date"], i["kind"], i["amount_cents"]) for i in cal["items"]]
    expires = (NOW - dt.timedelta(days=200)).replace(year=2027).date().isoformat()
    assert items == [
        ("2027-01-09", "support_policy", None),  # the one that ended yesterday is not listed
        ("2027-03-01", "distributor", 348000),  # the Mexico City date of its expiry
        (expires, "account", 348000),
        (expires, "contract", 231884),  # "Renovación Multinivel": $1,999 + IVA, a full year
        (expires, "contract", 214600),  # "Vence MKL Dóminus": a full year (manual: $1,850 + IVA = $2,146)
        ("2027-12-05", "license", None),  # generated today, valid one year: the window's last day
    ]
    by_kind = {i["kind"]: i for i in cal["items"]}
    assert by_kind["support_policy"]["title"] == "Vence la póliza Soporte de Óptica Luz"
    mkl = next(i for i in cal["items"] if "Dóminus" in i["title"])
    assert mkl["title"] == "Vence MKL Dóminus" and "No se renueva sola" in mkl["description"]
    assert cal["from"] == "2026-12-05" and cal["until"] == "2027-12-05"
    assert cal["total_cents"] == 348000 * 2 + 214600 + 231884
    # The iCalendar file has the same events on the same dates.
    parsed = icalendar.Calendar.from_ical(db.run(factory, calendar.renewal_ics, actor, now=NOW))
    dates = sorted((e.decoded("dtstart").isoformat(), str(e["categories"].cats[0])) for e in parsed.walk("VEVENT"))
    assert dates == sorted((d, k) for d, k, _ in items)
    with pytest.raises(DomainError):
        db.run(factory, calendar.renewal_calendar, actor, now=NOW, months=0)


def test_a_shorter_window_and_another_account(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory, now=NOW - dt.timedelta(days=200))
    other = make_distributor(factory, now=NOW - dt.timedelta(days=300))
    assert db.run(factory, calendar.renewal_calendar, actor, now=NOW, months=3)["items"] == []
    six = db.run(factory, calendar.renewal_calendar, actor, now=NOW, months=6)["items"]
    assert [i["kind"] for i in six] == ["account"]
    assert Actor(other.account_id) != actor
