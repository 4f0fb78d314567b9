"""Low-balance alerts (SQLite and PostgreSQL): rules, crossings that fire once, refills that re-arm,
the daily cap, the distributor's own stamps, and several evaluators that never raise or deliver one
alert twice."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select, update

from cmdesk.domain.enums import Asset, Role
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import Alert, AlertDelivery, ChangeLog, StampingAccount
from cmdesk.server import db
from cmdesk.server.operations import alerts, clients, ledger
from cmdesk.server.operations.context import Actor
from tests.server.helpers import RFC_MORAL, fund_cti, give, make_client, make_distributor, make_member

SWEEP_NEVER = dt.timedelta(days=3650)


def backdate(factory: db.SessionFactory, cti: str, days: int = 60) -> None:
    """A CTI that exists long enough that its C.P.D. window is the full 30 days."""
    with db.transaction(factory) as s:
        s.execute(
            update(StampingAccount)
            .where(StampingAccount.id == cti)
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
        )


def consume(factory: db.SessionFactory, cti: str, n: int = 1) -> None:
    for _ in range(n):
        db.run(
            factory, ledger.consume, stamping_account_id=cti, emitter_rfc=RFC_MORAL, cfdi_uuid=str(uuid.uuid4())
        )


def tick(factory: db.SessionFactory, **kw: Any) -> alerts.StepReport:
    """Steps until the evaluator has nothing more to do right away."""
    kw.setdefault("sweep_every", SWEEP_NEVER)
    total = alerts.StepReport(ran=True)
    while True:
        r = alerts.tick(factory, **kw)
        total.created += r.created
        total.evaluated += r.evaluated
        if not r.more:
            return total


def open_alerts(factory: db.SessionFactory, actor: Actor) -> list[Alert]:
    with db.transaction(factory) as s:
        return list(
            s.scalars(
                select(Alert)
                .where(Alert.account_id == actor.account_id, Alert.rearmed_at.is_(None))
                .order_by(Alert.created_at, Alert.threshold_kind)
            )
        )


def all_alerts(factory: db.SessionFactory, actor: Actor) -> list[Alert]:
    with db.transaction(factory) as s:
        return list(s.scalars(select(Alert).where(Alert.account_id == actor.account_id).order_by(Alert.created_at)))


def deliveries(factory: db.SessionFactory, actor: Actor) -> list[AlertDelivery]:
    with db.transaction(factory) as s:
        return list(
            s.scalars(select(AlertDelivery).where(AlertDelivery.account_id == actor.account_id).order_by(AlertDelivery.id))
        )


def setup(factory: db.SessionFactory, stamps: int, **client: Any) -> tuple[Actor, str, str]:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, stamps + 1000)
    made = make_client(factory, actor, **client)
    cti = made["stamping_account"]["id"]
    fund_cti(factory, actor, cti, stamps)
    backdate(factory, cti)
    tick(factory)  # the evaluator meets the account (its cursor starts at the head) and sweeps it
    return actor, made["client"]["id"], cti


def test_a_crossing_fires_once_and_a_refill_re_arms(factory: db.SessionFactory) -> None:
    actor, client_id, cti = setup(factory, 40, name="Abarrotes La Güera")
    consume(factory, cti, 30)  # C.P.D. 1.00, 10 left: D.R. 10 > 7
    assert tick(factory).created == 0
    consume(factory, cti, 3)  # C.P.D. 1.10, 7 left: D.R. 6
    assert tick(factory).created == 1
    [days] = open_alerts(factory, actor)
    assert (days.threshold_kind, days.threshold, days.balance, days.days_remaining) == ("days", 7, 7, 6)
    assert days.cpd_centi == 110 and days.client_id == client_id and days.state == "new"
    assert days.title == f"Abarrotes La Güera: la cuenta de timbrado {cti} se agota en 6 días"
    assert days.usual_purchase == 40  # its one purchase
    consume(factory, cti, 2)
    assert tick(factory).created == 0  # still crossed: no repeat
    consume(factory, cti, 5)  # empty
    assert tick(factory).created == 1
    kinds = [(a.threshold_kind, a.threshold) for a in open_alerts(factory, actor)]
    assert kinds == [("days", 7), ("balance", 0)]
    # A refill above both thresholds re-arms them (and resolves them).
    fund_cti(factory, actor, cti, 500)
    assert tick(factory).created == 0
    assert open_alerts(factory, actor) == []
    assert {(a.state, a.resolved_by) for a in all_alerts(factory, actor)} == {("resolved", "system")}
    # ... so the next crossing fires again.
    with db.transaction(factory) as s:
        s.execute(update(StampingAccount).where(StampingAccount.id == cti).values(created_at=dt.datetime.now(dt.UTC)))
    consume(factory, cti, 80)  # created today: C.P.D. 120.00 (all today's), 420 left: D.R. 3
    assert tick(factory).created == 1
    assert len(all_alerts(factory, actor)) == 3


def test_thresholds_crossed_together_notify_once(factory: db.SessionFactory) -> None:
    actor, _, cti = setup(factory, 30)
    consume(factory, cti, 30)
    assert tick(factory).created == 2  # ≤ 7 days and empty, in one step
    sent = deliveries(factory, actor)
    assert len(sent) == 1 and sent[0].status == "queued" and sent[0].recipient_kind == "user"
    with db.transaction(factory) as s:
        alert = s.get(Alert, sent[0].alert_id)
        assert alert is not None and alert.threshold_kind == "balance"  # the most severe


def test_no_alert_without_use_for_unlimited_or_blocked_ctis(factory: db.SessionFactory) -> None:
    actor, client_id, cti = setup(factory, 5)
    assert tick(factory, sweep_every=dt.timedelta(0)).created == 0  # 5 stamps, no use: not at risk
    empty = make_client(factory, actor)["stamping_account"]["id"]  # 0 stamps and never used
    db.run(factory, clients.set_stamping_account_active, actor, cti, active=False)
    db.run(factory, clients.create_stamping_account, actor, client_id, kind="unlimited", password="Timbrado2026")
    assert tick(factory, sweep_every=dt.timedelta(0)).created == 0
    assert all_alerts(factory, actor) == [] and empty


def test_rules_most_specific_first_and_validation(factory: db.SessionFactory) -> None:
    actor, client_id, cti = setup(factory, 100)
    other = make_client(factory, actor)["stamping_account"]["id"]
    fund_cti(factory, actor, other, 100)
    backdate(factory, other)
    db.run(factory, alerts.save_rule, actor, scope="account", days_thresholds=[3], balance_thresholds=[])
    db.run(factory, alerts.save_rule, actor, scope="client", scope_id=client_id, days_thresholds=[200], balance_thresholds=[])
    consume(factory, cti, 30)  # D.R. 70: only the client's rule (≤ 200) fires
    consume(factory, other, 30)
    tick(factory)
    assert [(a.subject_id, a.threshold) for a in open_alerts(factory, actor)] == [(cti, 200)]
    # A CTI's own rule beats its client's; a disabled rule silences it.
    db.run(factory, alerts.save_rule, actor, scope="stamping_account", scope_id=other, enabled=False)
    listed = db.run(factory, alerts.list_rules, actor)
    assert {(r["scope"], r["enabled"]) for r in listed["items"]} == {
        ("account", True), ("client", True), ("stamping_account", False)
    }
    assert listed["effective"]["account"]["days_thresholds"] == [3]
    assert listed["effective"]["own_balance"]["days_thresholds"] == [15]  # the default
    for bad, field in (
        ({"days_thresholds": [-1]}, "days_thresholds"),
        ({"days_thresholds": [1, 2, 3, 4, 5, 6]}, "days_thresholds"),
        ({"client_message": "Hola {nombre}"}, "client_message"),
        ({"client_message": "Hola {cliente"}, "client_message"),
        ({"daily_cap": 0}, "daily_cap"),
    ):
        with pytest.raises(DomainError) as e:
            db.run(factory, alerts.save_rule, actor, scope="account", **bad)
        assert e.value.code == ErrorCode.VALIDATION_ERROR and e.value.errors[0].field == field
    with pytest.raises(DomainError) as e:
        db.run(factory, alerts.save_rule, actor, scope="client", scope_id="no-existe")
    assert e.value.code == ErrorCode.NOT_FOUND
    stranger = make_distributor(factory)
    with pytest.raises(DomainError):
        db.run(factory, alerts.save_rule, stranger, scope="stamping_account", scope_id=cti)


def test_the_client_is_told_with_the_distributor_s_message(factory: db.SessionFactory) -> None:
    actor, _, cti = setup(factory, 30, name="Ferretería Núñez", email="compras@nunez.mx")
    db.run(
        factory,
        alerts.save_rule,
        actor,
        scope="account",
        notify_client=True,
        client_message="Hola {cliente}: a {cuenta} le quedan {saldo} timbres ({dias} días). {distribuidor}",
    )
    make_member(factory, actor.account_id, "alicia@dist.mx", "5511112222", Role.OPERATOR, "Alicia2026x")
    consume(factory, cti, 25)
    tick(factory)
    sent = {(d.recipient, d.recipient_kind): d for d in deliveries(factory, actor)}
    assert ("alicia@dist.mx", "user") in sent and len([k for k in sent if k[1] == "user"]) == 2
    to_client = sent[("compras@nunez.mx", "client")]
    with db.transaction(factory) as s:
        from cmdesk.models import Account

        account = s.get(Account, actor.account_id)
        assert account is not None
        name = account.name
    assert to_client.body == f"Hola Ferretería Núñez: a {cti} le quedan 5 timbres (6 días). {name}"


def test_the_daily_cap_per_recipient(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 1000)
    db.run(factory, alerts.save_rule, actor, scope="account", daily_cap=2, days_thresholds=[7], balance_thresholds=[])
    ctis = []
    for _ in range(4):
        cti = make_client(factory, actor)["stamping_account"]["id"]
        fund_cti(factory, actor, cti, 10)
        backdate(factory, cti)
        ctis.append(cti)
    tick(factory)
    for cti in ctis:
        consume(factory, cti, 9)
    assert tick(factory).created == 4
    statuses = Counter(d.status for d in deliveries(factory, actor))
    assert statuses == {"queued": 2, "capped": 2}
    # Exactly the queued ones are on the mail queue, as notices to their recipient.
    from cmdesk.models import OutboundMail

    queued = {d.mail_id: d.recipient for d in deliveries(factory, actor) if d.status == "queued"}
    with db.transaction(factory) as s:
        mails = s.scalars(select(OutboundMail).where(OutboundMail.kind == "notice")).all()
        assert {m.id: m.to_address for m in mails} == queued
        assert all(m.account_id == actor.account_id and m.status == "queued" for m in mails)


def test_the_distributor_s_own_stamps(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 120)
    cti = make_client(factory, actor)["stamping_account"]["id"]
    fund_cti(factory, actor, cti, 100)  # the distributor keeps 20
    backdate(factory, cti)
    tick(factory)
    consume(factory, cti, 60)  # its clients consume 2.00 a day: its 20 last 10 days (≤ 15)
    tick(factory, sweep_every=dt.timedelta(0))  # the combined C.P.D. is recomputed by the sweep
    [own] = [a for a in open_alerts(factory, actor) if a.subject_type == "own_balance"]
    assert (own.threshold_kind, own.threshold, own.balance, own.days_remaining) == ("days", 15, 20, 10)
    assert own.title == "Sus timbres alcanzan para 10 días de consumo de sus clientes"
    give(factory, actor, Asset.STAMPS, 1000)  # its own balance changed: evaluated right away
    tick(factory)
    assert [a for a in open_alerts(factory, actor) if a.subject_type == "own_balance"] == []


def test_states_and_the_feed(factory: db.SessionFactory) -> None:
    actor, _, cti = setup(factory, 10)
    consume(factory, cti, 10)
    tick(factory)
    ids = [a.id for a in open_alerts(factory, actor)]
    seen = db.run(factory, alerts.set_state, actor, ids[0], "seen")
    assert seen["state"] == "seen" and seen["seen_at"] is not None and seen["version"] == 2
    with pytest.raises(DomainError) as e:
        db.run(factory, alerts.set_state, actor, ids[0], "resolved", expected_version=1)
    assert e.value.code == ErrorCode.VERSION_CONFLICT
    done = db.run(factory, alerts.set_states, actor, ids, "resolved")
    assert {a["state"] for a in done} == {"resolved"} and {a["resolved_by"] for a in done} == {actor.author}
    with pytest.raises(DomainError):
        db.run(factory, alerts.set_state, actor, ids[0], "archivada")
    stranger = make_distributor(factory)
    with pytest.raises(DomainError) as e:
        db.run(factory, alerts.set_state, stranger, ids[0], "seen")
    assert e.value.code == ErrorCode.NOT_FOUND
    listed = db.run(factory, alerts.list_alerts, actor, state="resolved")
    assert {a["id"] for a in listed} == set(ids)
    assert sum(1 for a in listed if a["deliveries"]) == 1  # crossed together: one message
    assert {a["subject"]["type"] for a in listed} == {"stamping_account"}
    with db.transaction(factory) as s:
        fed = s.scalars(
            select(ChangeLog.entity_id).where(ChangeLog.account_id == actor.account_id, ChangeLog.entity == "alert")
        ).all()
    assert set(ids) <= set(fed)


def test_several_evaluators_never_raise_nor_deliver_one_alert_twice(factory: db.SessionFactory) -> None:
    """Eight evaluators (threads) step at once, again and again, while CTIs cross their thresholds."""
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 5000)
    ctis = []
    for _ in range(6):
        cti = make_client(factory, actor)["stamping_account"]["id"]
        fund_cti(factory, actor, cti, 40)
        backdate(factory, cti)
        ctis.append(cti)
    stop = threading.Event()
    errors: list[BaseException] = []
    ran = Counter[str]()

    def evaluator(n: int) -> None:
        while not stop.is_set():
            try:
                r = alerts.tick(factory, holder=f"t{n}", sweep_every=dt.timedelta(seconds=0.2))
                ran["ran" if r.ran else "skipped"] += 1
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=evaluator, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        for cti in ctis:
            consume(factory, cti, 40)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    tick(factory)
    made = all_alerts(factory, actor)
    keys = Counter((a.subject_id, a.threshold_kind, a.threshold) for a in made)
    assert set(keys) == {(c, k, t) for c in ctis for k, t in (("days", 7), ("balance", 0))}
    assert max(keys.values()) == 1
    sent = Counter((d.alert_id, d.recipient) for d in deliveries(factory, actor))
    assert max(sent.values()) == 1  # never twice
    delivered = {a.subject_id for a in made if any(d[0] == a.id for d in sent)}
    assert delivered == set(ctis)  # every CTI's users were told (once per step it crossed in)
    assert ran["ran"] > 0


def test_the_evaluator_thread_follows_stamping(factory: db.SessionFactory) -> None:
    actor, _, cti = setup(factory, 10)
    runner = alerts.EvaluatorThread(factory, interval=0.05)
    runner.start()
    try:
        consume(factory, cti, 10)
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        while len(open_alerts(factory, actor)) < 2 and dt.datetime.now(dt.UTC) < deadline:
            threading.Event().wait(0.05)
    finally:
        runner.stop()
    assert len(open_alerts(factory, actor)) == 2


def test_an_account_purged_takes_its_alerts(factory: db.SessionFactory) -> None:
    actor, _, cti = setup(factory, 10)
    consume(factory, cti, 10)
    tick(factory)
    assert open_alerts(factory, actor)
    with db.transaction(factory) as s:
        from cmdesk.models import Account

        account = s.get(Account, actor.account_id)
        s.delete(account)
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 0
        assert s.scalar(select(func.count()).select_from(AlertDelivery)) == 0


def test_a_refill_used_up_before_the_evaluator_looked_still_re_arms(factory: db.SessionFactory) -> None:
    """Empty, refilled and empty again between two steps: two crossings of "sin timbres", two alerts.
    The refill lifted it to 10 (D.R. 7 at 1.33 a day): the ≤ 7 days crossing never ended."""
    actor, _, cti = setup(factory, 30)
    consume(factory, cti, 30)
    assert tick(factory).created == 2
    fund_cti(factory, actor, cti, 10)
    consume(factory, cti, 10)
    assert tick(factory).created == 1
    kinds = Counter((a.threshold_kind, a.rearmed_at is None) for a in all_alerts(factory, actor))
    assert kinds == {("balance", False): 1, ("balance", True): 1, ("days", True): 1}
