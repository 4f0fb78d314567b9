"""Configuration of cmdesk-server, read from `CMDESK_*` environment variables (pydantic-settings).

`secret_key` signs access tokens. When it is not set, the server generates one the first time and keeps
it in the database (`server_secrets`), so every worker process of a deployment shares it and tokens
survive restarts. It is a `SecretStr`: printing or logging the settings never shows it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cmdesk.server import db


def default_software_store() -> Path:
    """Where published software files live by default: beside the embedded database."""
    from platformdirs import user_data_path

    return user_data_path("cmdesk", "Induxsoft", roaming=False) / "server" / "files"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CMDESK_", extra="ignore")

    database_url: str = Field(default_factory=db.default_database_url)
    secret_key: SecretStr | None = None

    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(30, ge=1, le=365)

    # Failed logins counted per login (e-mail or mobile) and per client address, in the last minute.
    login_attempts_per_minute: int = Field(5, ge=1)
    login_attempts_per_ip_per_minute: int = Field(30, ge=1)
    # Unauthenticated endpoints (self-registration, top-up code redemption), per client address.
    public_requests_per_minute: int = Field(20, ge=1)
    public_failures_per_hour: int = Field(20, ge=1)

    idempotency_retention_days: int = Field(90, ge=1)
    # How long the stamping endpoint trusts a CTI password it verified (skips Argon2 meanwhile).
    credential_cache_minutes: int = Field(10, ge=0)

    # PostgreSQL: stamp through the database function cmdesk_consume (one round trip). Off, every
    # consumption takes the general ORM path (same rules, slower).
    consume_fast_path: bool = True
    # With the fast path: plain consume requests answered before FastAPI's routing (api/consume_lane).
    consume_lane: bool = True

    software_store: Path = Field(default_factory=default_software_store)

    # CORS is off unless origins are listed (e.g. CMDESK_CORS_ORIGINS='["https://portal.example"]').
    cors_origins: list[str] = Field(default_factory=list)

    # Version negotiation (cmdesk/server/api/resilience.py, docs/deploy.md "Upgrading"): the oldest
    # desktop served in full, and routes a desktop older than the given version may no longer call
    # (e.g. CMDESK_DESKTOP_REQUIREMENTS='{"POST /v1/clients/tags": "0.2.0"}').
    min_desktop_version: str = ""
    desktop_requirements: dict[str, str] = Field(default_factory=dict)
    # Seconds a client is asked to wait (Retry-After) while the database is away.
    database_retry_after_seconds: int = Field(2, ge=1, le=300)

    def __repr__(self) -> str:
        # The URL may carry a database password: show only its scheme.
        scheme = self.database_url.split(":", 1)[0]
        return f"Settings(database={scheme}, access_token_minutes={self.access_token_minutes})"

    __str__ = __repr__
