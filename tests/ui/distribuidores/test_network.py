"""Red de distribuidores over the real embedded server: the tree has each sub-distributor under its
parent with its branch totals, the states that need action colored, and the attention filter."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from cmdesk.ui.distribuidores.network import HEADERS, NetworkWindow
from cmdesk.ui.main_window import MainWindow
from tests.ui.portal_helpers import click, show_page


def walk(tree: Any) -> list[Any]:
    out: list[Any] = []
    stack = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    while stack:
        node = stack.pop(0)
        out.append(node)
        stack[0:0] = [node.child(i) for i in range(node.childCount())]
    return out


def test_the_network_tree(qtbot: Any, started_window: MainWindow) -> None:
    page = show_page(started_window, "clientes.distribuidores")
    click(qtbot, page.network_button)
    window = page.dialog
    assert isinstance(window, NetworkWindow)
    qtbot.waitUntil(lambda: bool(window.items), timeout=30_000)
    nodes = walk(window.tree)
    assert len(nodes) == len(window.items) > 0
    api = started_window.context.session.api
    answer = api.get("/v1/network")
    by_id = {i["id"]: i for i in answer["items"]}
    for node in nodes:
        item = by_id[node.data(0, 256)]
        depth, parent = 1, node.parent()
        while parent is not None:
            depth, parent = depth + 1, parent.parent()
        assert depth == item["depth"]
        branch = HEADERS.index("Timbres (rama)")
        assert node.text(branch).replace(",", "") == str(item["branch"]["stamps"])
        assert bool(item["attention"]) == (node.background(0).style() != Qt.BrushStyle.NoBrush)
    assert str(answer["root"]["network"]["distributors"]) in window.totals.text().replace(",", "")
    window.resize(1366, 620)
    window.grab().save("/tmp/i18b-network.png")
    # Only the branches that need action.
    window.only_attention.setChecked(True)
    kept = walk(window.tree)
    assert all(by_id[n.data(0, 256)]["branch"]["attention"] for n in kept)
    window.close()


def test_levels_and_attention_are_drawn(qtbot: Any, started_window: MainWindow) -> None:
    """A deeper network than the demo's (the server's answer shape): children under their parents,
    the states that need action colored, and the filter keeping the branches that lead to them."""
    page = show_page(started_window, "clientes.distribuidores")
    window = page.open_network()
    qtbot.waitUntil(lambda: window.refresh_button.isEnabled(), timeout=30_000)

    def node(
        ident: str, parent: str | None, depth: int, attention: list[str], branch_attention: int
    ) -> dict[str, Any]:
        return {
            "id": ident,
            "nic": ident,
            "name": f"Distribuidor {ident}",
            "parent_id": parent,
            "depth": depth,
            "status": "active",
            "status_label": "Activo",
            "expires_at": "2027-01-01T00:00:00Z",
            "balances": {"stamps": 10, "points": 1},
            "clients": 2,
            "stamping_accounts": 3,
            "attention": [{"code": c, "label": c} for c in attention],
            "branch": {
                "stamps": 10 * depth,
                "points": 1,
                "clients": 2,
                "stamping_accounts": 3,
                "distributors": 0,
                "attention": branch_attention,
            },
        }

    window._loaded(
        {
            "root": {
                "network": {
                    "distributors": 4,
                    "clients": 8,
                    "stamping_accounts": 12,
                    "stamps": 40,
                    "points": 4,
                    "attention": 1,
                }
            },
            "items": [
                node("A", "root", 1, [], 1),
                node("A1", "A", 2, [], 1),
                node("A11", "A1", 3, ["expiring"], 1),
                node("B", "root", 1, [], 0),
            ],
        }
    )
    top = [window.tree.topLevelItem(i).text(0) for i in range(window.tree.topLevelItemCount())]
    assert top == ["A", "B"]
    deepest = window.tree.topLevelItem(0).child(0).child(0)
    assert deepest.text(0) == "A11" and deepest.background(0).style() != Qt.BrushStyle.NoBrush
    assert window.tree.topLevelItem(1).background(0).style() == Qt.BrushStyle.NoBrush
    window.resize(1366, 400)
    window.grab().save("/tmp/i18b-network-levels.png")
    window.only_attention.setChecked(True)
    assert [window.tree.topLevelItem(i).text(0) for i in range(window.tree.topLevelItemCount())] == ["A"]
    window.close()
