"""The network tree's rules: which states need action, and totals rolled up per branch."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from cmdesk.domain import network

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("status", "created_ago", "expires_in", "cancelled_ago", "expected"),
    [
        ("active", 100, 200, None, []),
        ("active", 100, 10, None, ["expiring"]),
        ("suspended", 100, 30, None, ["expiring"]),
        ("active", 100, 31, None, []),
        ("active", 100, 0, None, ["expired"]),  # the date passed; maintenance has not run yet
        ("expired", 400, -5, None, ["expired"]),
        ("unvalidated", 8, 300, None, ["unvalidated"]),
        ("unvalidated", 3, 300, None, []),  # not yet: N days not passed
        ("inactive", 1, 300, None, ["inactive"]),
        ("cancelled", 100, 300, 10, ["cancelled"]),
        ("cancelled", 100, 300, 30, []),  # its 30 days are over: to be purged, nothing to do
    ],
)
def test_attention(status, created_ago, expires_in, cancelled_ago, expected):
    got = network.attention(
        status,
        created_at=NOW - created_ago * DAY,
        expires_at=NOW + expires_in * DAY,
        cancelled_at=None if cancelled_ago is None else NOW - cancelled_ago * DAY,
        now=NOW,
    )
    assert got == expected
    assert all(code in network.ATTENTION_LABELS for code in got)


def test_thresholds_are_parameters():
    kw = {"created_at": NOW - 3 * DAY, "expires_at": NOW + 50 * DAY, "cancelled_at": None, "now": NOW}
    assert network.attention("unvalidated", unvalidated_days=2, **kw) == ["unvalidated"]
    assert network.attention("active", expiring_days=60, **kw) == ["expiring"]


@given(
    s.lists(s.tuples(s.integers(0, 30), s.integers(0, 100), s.integers(0, 5), s.booleans()), min_size=1, max_size=30)
)
@settings(max_examples=200)
def test_branch_totals_add_up(spec):
    # Node i's parent is one of the nodes before it (or the root): always a tree.
    nodes = [
        network.Node(id=f"n{i}", parent_id="root" if p == 0 or p > i else f"n{p - 1}", stamps=st, clients=c,
                     attention=["expired"] if flag else [])
        for i, (p, st, c, flag) in enumerate(spec)
    ]
    ordered = network.build_tree("root", nodes)
    assert sorted(n.id for n in ordered) == sorted(n.id for n in nodes)
    by_id = {n.id: n for n in ordered}
    for n in ordered:
        below = [n.id]
        i = 0
        while i < len(below):
            below.extend(by_id[below[i]].children)
            i += 1
        assert n.branch["stamps"] == sum(by_id[b].stamps for b in below)
        assert n.branch["clients"] == sum(by_id[b].clients for b in below)
        assert n.branch["distributors"] == len(below) - 1
        assert n.branch["attention"] == sum(1 for b in below if by_id[b].attention)
        parent = by_id.get(n.parent_id or "")
        assert n.depth == (parent.depth + 1 if parent else 1)
    # Depth first: every node comes right after its parent's earlier subtrees, never before its parent.
    position = {n.id: i for i, n in enumerate(ordered)}
    assert all(position[n.id] > position[n.parent_id] for n in ordered if n.parent_id in position)


def test_a_cycle_or_a_stranger_is_left_out():
    nodes = [
        network.Node(id="a", parent_id="root"),
        network.Node(id="b", parent_id="a"),
        network.Node(id="x", parent_id="y"),
        network.Node(id="y", parent_id="x"),
    ]
    assert [(n.id, n.depth) for n in network.build_tree("root", nodes)] == [("a", 1), ("b", 2)]
