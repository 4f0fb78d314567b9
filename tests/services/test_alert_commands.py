"""The desktop's alert commands: marking alerts (queued, shown at once), the rules checked before they
are sent, the scope found in the cache, and each new alert notified once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdesk.domain.errors import DomainError
from cmdesk.services import commands
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Outbox
from tests.services.test_cache import change, client, cti


def alert(ident: str, state: str = "new", when: str = "2026-12-05T10:00:00Z") -> dict[str, Any]:
    return {
        "id": ident,
        "version": 1,
        "subject": {"type": "stamping_account", "id": "cti1"},
        "client_id": "cl00001",
        "threshold": {"kind": "days", "value": 7},
        "state": state,
        "balance": 3,
        "days_remaining": 2,
        "title": f"Alerta {ident}",
        "detail": "",
        "created_at": when,
    }


class NoServer:
    """An API that must not be called (the check refuses first)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the server was called ({name})")


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    c = Cache(tmp_path / "cache.sqlite3")
    c.apply_page(
        [
            change("client", client(1)),
            change("stamping_account", cti("cti1", "cl00001")),
            change("alert", alert("a1")),
            change("alert", alert("a2", when="2026-12-05T11:00:00Z")),
        ],
        "c1",
    )
    c.finish_pull()
    yield c
    c.close()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    o = Outbox(tmp_path / "outbox.sqlite3")
    yield o
    o.close()


def test_marking_alerts_is_one_queued_command_shown_at_once(cache: Cache, outbox: Outbox) -> None:
    command = commands.set_alert_state(outbox, cache, ["a1", "a2", "a1"], "seen")
    assert (command.method, command.path, command.body) == (
        "POST",
        "/v1/alerts/state",
        {"ids": ["a1", "a2"], "state": "seen"},
    )
    assert command.description == "Marcar 2 alertas como vistas"
    assert [c.id for c in outbox.list()] == [command.id]
    assert {a["id"]: a["state"] for a in cache.all("alert")} == {"a1": "seen", "a2": "seen"}
    assert cache.server_copy("alert", "a1")["state"] == "new"
    one = commands.set_alert_state(outbox, cache, ["a1"], "resolved")
    assert one.description == "Marcar 1 alerta como resuelta"
    with pytest.raises(DomainError, match="nueva, vista o resuelta"):
        commands.set_alert_state(outbox, cache, ["a1"], "archivada")
    with pytest.raises(DomainError, match="al menos una alerta"):
        commands.set_alert_state(outbox, cache, [], "seen")


def test_rules_are_checked_before_they_are_sent(cache: Cache) -> None:
    api: Any = NoServer()
    with pytest.raises(DomainError) as caught:
        commands.save_alert_rule(api, cache, "client", "200001", {"days_thresholds": [7, 1000]})
    assert "hasta 365" in caught.value.errors[0].message
    with pytest.raises(DomainError, match="No hay un cliente con NIC 999"):
        commands.save_alert_rule(api, cache, "client", "999", {"days_thresholds": [7]})
    with pytest.raises(DomainError, match="No hay una cuenta de timbrado «nada»"):
        commands.save_alert_rule(api, cache, "stamping_account", "nada", {"days_thresholds": [7]})
    with pytest.raises(DomainError, match="al menos un umbral"):
        commands.save_alert_rule(
            api, cache, "account", None, {"days_thresholds": [], "balance_thresholds": []}
        )


def test_the_scope_is_sent_by_id(cache: Cache) -> None:
    sent: list[tuple[str, Any, Any]] = []

    class Api:
        def put(self, path: str, body: Any, *, if_match: Any = None) -> dict[str, Any]:
            sent.append((path, body, if_match))
            return {"id": "r1", "version": 1, **body}

    answer = commands.save_alert_rule(Api(), cache, "client", "200001", {"days_thresholds": [15, 7]}, 3)  # type: ignore[arg-type]
    assert sent == [
        ("/v1/alert-rules", {"scope": "client", "scope_id": "cl00001", "days_thresholds": [7, 15]}, 3)
    ]
    assert answer["id"] == "r1" and cache.get("alert_rule", "r1") is not None
    commands.save_alert_rule(Api(), cache, "own_balance", "ignored", {"balance_thresholds": [10]})  # type: ignore[arg-type]
    assert sent[-1][1] == {"scope": "own_balance", "balance_thresholds": [10]}


def test_each_new_alert_is_notified_once(cache: Cache) -> None:
    first = commands.take_new_alerts(cache)
    assert [a["id"] for a in first] == ["a2", "a1"]
    assert commands.take_new_alerts(cache) == []
    assert commands.count_new_alerts(cache) == 2
    cache.apply_page([change("alert", alert("a3", when="2026-12-05T12:00:00Z"))], "c2")
    cache.apply_page([change("alert", alert("a4", state="resolved", when="2026-12-05T13:00:00Z"))], "c3")
    assert [a["id"] for a in commands.take_new_alerts(cache)] == ["a3"]
    assert commands.take_new_alerts(cache) == []
