"""The REST view of a CTI carries its usage summary (the same builder as the change feed)."""

from __future__ import annotations

import datetime as dt
import uuid

from cmdesk.domain import usage
from cmdesk.domain.enums import Asset
from cmdesk.server import db
from cmdesk.server.operations import ledger
from tests.server.helpers import RFC_MORAL, fund_cti, give, make_client, make_distributor


def test_the_rest_view_has_the_summary(client, auth_headers, factory: db.SessionFactory) -> None:
    actor = make_distributor(factory, email="uso@dist.mx", mobile="5533334444")
    give(factory, actor, Asset.STAMPS, 5)
    cti = make_client(factory, actor)["stamping_account"]["id"]
    fund_cti(factory, actor, cti, 5)
    db.run(
        factory, ledger.consume, stamping_account_id=cti, emitter_rfc=RFC_MORAL, cfdi_uuid=str(uuid.uuid4())
    )
    h = auth_headers("uso@dist.mx")
    one = client.get(f"/v1/stamping-accounts/{cti}", headers=h).json()
    listed = client.get("/v1/stamping-accounts", headers=h).json()["items"]
    today = usage.mx_day(dt.datetime.now(dt.UTC)).isoformat()
    assert one["usage"] == {"since": today, "daily": [1]}
    assert [c["usage"] for c in listed] == [{"since": today, "daily": [1]}]
