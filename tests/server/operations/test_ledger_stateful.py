"""Hypothesis stateful test of the ledger: random purchases, transfers, bulk transfers, consumption
and auto-sales keep, for each asset, Σ balances + Σ issued == Σ purchased, and no balance below zero."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cmdesk.domain.errors import DomainError
from cmdesk.server import db
from cmdesk.server.operations import bulk_transfers, clients, ledger
from tests.server.helpers import ensure_catalog, make_client, make_distributor


class LedgerMachine(RuleBasedStateMachine):
    factory: db.SessionFactory

    @initialize()
    def setup(self) -> None:
        ensure_catalog(self.factory)
        self.actor = make_distributor(self.factory)
        made = [make_client(self.factory, self.actor) for _ in range(3)]
        self.ctis = [m["stamping_account"]["id"] for m in made]
        self.clients = [m["client"]["id"] for m in made]
        self.expected_stamps_purchased = 0

    def _try(self, fn, *args, **kw):
        try:
            return db.run(self.factory, fn, *args, **kw)
        except DomainError as e:
            assert e.code in {"insufficient_balance", "validation_error"}, e
            return None

    @rule(n=st.integers(1, 30), points=st.booleans())
    def buy(self, n, points):
        self._try(ledger.purchase, self.actor, "test_points_1" if points else "test_stamps_1", n)

    @rule(i=st.integers(0, 2), n=st.integers(1, 40), amount=st.integers(0, 5000))
    def transfer_stamps(self, i, n, amount):
        self._try(
            ledger.transfer,
            self.actor,
            asset="stamps",
            target_type="stamping_account",
            target_id=self.ctis[i],
            quantity=n,
            amount_cents=amount,
        )

    @rule(i=st.integers(0, 2), n=st.integers(1, 40))
    def transfer_points(self, i, n):
        self._try(
            ledger.transfer,
            self.actor,
            asset="points",
            target_type="client",
            target_id=self.clients[i],
            quantity=n,
        )

    @rule(ns=st.lists(st.integers(1, 20), min_size=1, max_size=3))
    def bulk(self, ns):
        items = [
            {"asset": "stamps", "target": {"type": "stamping_account", "id": self.ctis[k]}, "quantity": n}
            for k, n in enumerate(ns)
        ]
        self._try(bulk_transfers.bulk_transfer, self.actor, items)

    @rule(i=st.integers(0, 2), times=st.integers(1, 5))
    def consume(self, i, times):
        for _ in range(times):
            self._try(
                ledger.consume,
                stamping_account_id=self.ctis[i],
                emitter_rfc="EKU9003173C9",
                cfdi_uuid=str(uuid.uuid4()),
            )

    @rule(i=st.integers(0, 2), minimum=st.integers(0, 10), credit=st.integers(1, 15), enabled=st.booleans())
    def auto_sale(self, i, minimum, credit, enabled):
        self._try(
            clients.set_auto_sale,
            self.actor,
            self.ctis[i],
            minimum=minimum,
            credit=credit,
            amount_cents=credit * 100,
            enabled=enabled,
        )

    @invariant()
    def balanced(self):
        with db.transaction(self.factory) as s:
            check = ledger.ledger_check(s)
        for asset, figures in check.items():
            assert figures["ok"] == 1, (asset, figures)


@pytest.mark.slow
def test_ledger_invariant_holds(factory):
    LedgerMachine.factory = factory
    runner = LedgerMachine.TestCase
    runner.settings = settings(
        max_examples=12, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    runner().runTest()
