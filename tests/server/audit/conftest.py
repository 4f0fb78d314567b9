"""The bitácora is read and written through the HTTP API: the API tests' fixtures."""

from tests.server.api.conftest import app, auth_headers, client, settings  # noqa: F401
