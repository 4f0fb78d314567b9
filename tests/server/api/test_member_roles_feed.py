"""The role of each member in the account's settings (`member_roles`), in `GET /v1/settings` and in the
change feed, sent again when a role changes or a member leaves — what the desktop's Usuarios lists
(issue 15). Both databases."""

from __future__ import annotations

from typing import Any

from cmdesk.domain.enums import Role
from tests.server.api.conftest import PASSWORD
from tests.server.helpers import make_distributor, make_member


def settings_changes(client: Any, headers: dict[str, str], cursor: str | None) -> tuple[list[dict[str, Any]], str]:
    params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
    page = client.get("/v1/sync/changes", params=params, headers=headers).json()
    changes = [c for c in page["changes"] if c["entity"] == "settings"]
    return changes, page["cursor"]


def test_member_roles_in_the_settings_and_the_feed(factory, client, auth_headers) -> None:
    master = make_distributor(factory, email="jefa@roles.mx", mobile="5511110001", password=PASSWORD)
    operator_id = make_member(factory, master.account_id, "opera@roles.mx", "5511110002", Role.OPERATOR, PASSWORD)
    headers = auth_headers("jefa@roles.mx")
    expected = {master.profile_id: "master", operator_id: "operator"}
    assert client.get("/v1/settings", headers=headers).json()["member_roles"] == expected
    changes, cursor = settings_changes(client, headers, None)
    assert changes and changes[-1]["data"]["member_roles"] == expected

    # A role changes: the settings come again in the feed with it.
    r = client.patch(f"/v1/users/{operator_id}", json={"role": "admin"}, headers=headers)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    changes, cursor = settings_changes(client, headers, cursor)
    assert [c["data"]["member_roles"] for c in changes] == [{**expected, operator_id: "admin"}]

    # The member leaves: the settings come again without them.
    assert client.delete(f"/v1/users/{operator_id}", headers=headers).status_code == 204
    changes, _cursor = settings_changes(client, headers, cursor)
    assert [c["data"]["member_roles"] for c in changes] == [{master.profile_id: "master"}]
