"""A client's interactions (notes) and support policies (pólizas)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import ChangeLog
from cmdesk.server import db
from cmdesk.server.operations import records
from tests.server.helpers import make_client, make_distributor


def _err(fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as e:
        fn(*args, **kw)
    return e.value


@pytest.fixture
def owner(factory):
    actor = make_distributor(factory, profile_name="Luz Clara")
    client = make_client(factory, actor)["client"]
    return actor, client["id"]


def test_interactions(factory, owner):
    actor, cid = owner
    first = db.run(
        factory,
        records.add_interaction,
        actor,
        cid,
        text="  Llamó para pedir precios  ",
        occurred_at=dt.datetime(2016, 4, 15, 10, 54, tzinfo=dt.UTC),
    )
    assert first["text"] == "Llamó para pedir precios" and first["author"] == "Luz Clara"
    second = db.run(factory, records.add_interaction, actor, cid, text="Visita")
    listed = db.run(factory, records.list_interactions, actor, cid)
    assert [i["id"] for i in listed] == [second["id"], first["id"]]
    with db.transaction(factory) as s:
        entities = s.scalars(select(ChangeLog.entity_id).where(ChangeLog.entity == "interaction")).all()
        assert set(entities) == {first["id"], second["id"]}
        assert records.FEED_LOADERS["interaction"](s, [first["id"]])[first["id"]]["text"] == first["text"]
    db.run(factory, records.delete_interaction, actor, first["id"])
    assert [i["id"] for i in db.run(factory, records.list_interactions, actor, cid)] == [second["id"]]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"text": "ok", "occurred_at": dt.datetime(2020, 1, 1)}, "occurred_at"),
    ],
)
def test_interaction_validation(factory, owner, kw, field):
    actor, cid = owner
    err = _err(db.run, factory, records.add_interaction, actor, cid, **kw)
    assert err.code == ErrorCode.VALIDATION_ERROR and field in {e.field for e in err.errors}


def test_records_of_another_account_are_not_found(factory, owner):
    actor, cid = owner
    other = make_distributor(factory)
    note = db.run(factory, records.add_interaction, actor, cid, text="Nota")
    pol = db.run(
        factory,
        records.add_policy,
        actor,
        cid,
        product="Dóminus",
        starts_on=dt.date(2016, 1, 1),
        ends_on=dt.date(2016, 12, 31),
    )
    for fn, args, kw in [
        (records.add_interaction, (cid,), {"text": "x"}),
        (records.list_interactions, (cid,), {}),
        (records.delete_interaction, (note["id"],), {}),
        (
            records.add_policy,
            (cid,),
            {"product": "x", "starts_on": dt.date(2016, 1, 1), "ends_on": dt.date(2016, 1, 1)},
        ),
        (records.list_policies, (cid,), {}),
        (records.update_policy, (pol["id"],), {"product": "y"}),
        (records.delete_policy, (pol["id"],), {}),
    ]:
        assert _err(db.run, factory, fn, other, *args, **kw).code == ErrorCode.NOT_FOUND


def test_policies(factory, owner):
    actor, cid = owner
    p1 = db.run(
        factory,
        records.add_policy,
        actor,
        cid,
        product="MaxiComercio ERP 2014",
        starts_on=dt.date(2016, 4, 12),
        ends_on=dt.date(2017, 4, 12),
        reference="POL-1",
    )
    assert p1["version"] == 1 and p1["ends_on"] == dt.date(2017, 4, 12)
    # One day is a valid policy (ends_on == starts_on).
    p2 = db.run(
        factory,
        records.add_policy,
        actor,
        cid,
        product="Dóminus",
        starts_on=dt.date(2018, 1, 1),
        ends_on=dt.date(2018, 1, 1),
    )
    assert [p["id"] for p in db.run(factory, records.list_policies, actor, cid)] == [p2["id"], p1["id"]]
    out = db.run(
        factory, records.update_policy, actor, p1["id"], expected_version=1, ends_on=dt.date(2018, 4, 12)
    )
    assert out["version"] == 2 and out["ends_on"] == dt.date(2018, 4, 12)
    err = _err(db.run, factory, records.update_policy, actor, p1["id"], expected_version=1, reference="X")
    assert err.code == ErrorCode.VERSION_CONFLICT and err.extra["current"]["version"] == 2
    # Moving only the start past the stored end is caught too.
    err = _err(db.run, factory, records.update_policy, actor, p1["id"], starts_on=dt.date(2019, 1, 1))
    assert err.code == ErrorCode.VALIDATION_ERROR and err.errors[0].field == "ends_on"
    assert (
        _err(db.run, factory, records.update_policy, actor, p1["id"], color="red").code
        == ErrorCode.VALIDATION_ERROR
    )
    db.run(factory, records.delete_policy, actor, p1["id"], expected_version=2)
    assert [p["id"] for p in db.run(factory, records.list_policies, actor, cid)] == [p2["id"]]
    with db.transaction(factory) as s:
        tomb = s.scalars(
            select(ChangeLog).where(ChangeLog.entity == "support_policy", ChangeLog.deleted.is_(True))
        ).all()
        assert [t.entity_id for t in tomb] == [p1["id"]]
        assert records.FEED_LOADERS["support_policy"](s, [p2["id"]])[p2["id"]]["product"] == "Dóminus"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"product": ""}, "product"),
        ({"product": "x" * 201}, "product"),
        ({"starts_on": "2016-01-01"}, "starts_on"),
        ({"ends_on": dt.datetime(2017, 1, 1, tzinfo=dt.UTC)}, "ends_on"),
        ({"ends_on": dt.date(2015, 12, 31)}, "ends_on"),
        ({"reference": "x" * 101}, "reference"),
    ],
)
def test_policy_validation(factory, owner, kw, field):
    actor, cid = owner
    values = {"product": "Dóminus", "starts_on": dt.date(2016, 1, 1), "ends_on": dt.date(2016, 12, 31), **kw}
    err = _err(db.run, factory, records.add_policy, actor, cid, **values)
    assert err.code == ErrorCode.VALIDATION_ERROR and field in {e.field for e in err.errors}
