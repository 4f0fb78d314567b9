"""A bounded schemathesis run against `/openapi.json`: generated requests (valid and invalid) to every
operation, signed in as a distributor with data; no 5xx, and every answer matches its documented
schema, status and content type."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    use_after_free,
)

from cmdesk.domain.enums import Asset
from tests.server.helpers import give, make_client, make_distributor

PASSWORD = "secreto123"


EXCLUDED = [
    # Business rules answer 404/409/422 to generated-but-meaningless data: that is correct, so the
    # checks that expect random "valid" data to be accepted (or stateful resources) are off.
    positive_data_acceptance,
    negative_data_rejection,
    ensure_resource_availability,
    use_after_free,
    ignored_auth,
]


def test_every_operation_conforms(app, client, factory):
    actor = make_distributor(factory, email="st@dist.mx", mobile="5577777777", password=PASSWORD)
    give(factory, actor, Asset.STAMPS, 50)
    make_client(factory, actor)
    token = client.post("/v1/auth/token", json={"login": "st@dist.mx", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def check(case):
            case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # collect every failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
