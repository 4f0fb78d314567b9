"""Configuration of cmdesk-server, read from `CMDESK_*` environment variables (pydantic-settings).

`secret_key` signs access tokens. When it is not set, the server generates one the first time and keeps
it in the database (`server_secrets`), so every worker process of a deployment shares it and tokens
survive restarts. It is a `SecretStr`: printing or logging the settings never shows it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cmdesk.server import db
from cmdesk.server.security import default_hashing_slots

if TYPE_CHECKING:
    from cmdesk.server.throttle import Policy


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

    # Password checks (sign-in, CTI passwords, top-up NIPs, reset requests), see docs/security.md.
    # Per profile / per CTI: attempts a minute from addresses that are not known-good for it.
    login_attempts_per_minute: int = Field(5, ge=1)
    cti_attempts_per_minute: int = Field(5, ge=1)
    # Per client address: attempts an hour before each next one waits (1 s, 2 s, 4 s … up to the max).
    attempts_per_source_per_hour: int = Field(30, ge=1)
    attempt_delay_max_seconds: int = Field(300, ge=1)
    # An address where a profile or CTI passed its check stays known-good for it this long.
    trusted_source_days: int = Field(30, ge=0)
    # Unauthenticated endpoints (self-registration, top-up code redemption), per client address.
    public_requests_per_minute: int = Field(20, ge=1)
    public_failures_per_hour: int = Field(20, ge=1)

    # Argon2 computations at once in a process (each takes 64 MiB), how many more may wait, how long:
    # beyond that a password check answers 503 `server_busy` with Retry-After at once.
    password_hash_concurrency: int = Field(default_factory=default_hashing_slots, ge=1, le=64)
    password_hash_queue: int = Field(16, ge=0)
    password_hash_wait_seconds: float = Field(2.0, gt=0, le=60)

    # Request bodies larger than this answer 413 (the largest legitimate one, a 5,000-item bulk
    # transfer, is under 1 MiB).
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)

    # /docs, /redoc and /openapi.json: off in production unless turned on; `cmdesk-server demo` and
    # the desktop's embedded server turn them on.
    api_docs: bool = False

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

    def throttle_policy(self, per_minute: int) -> Policy:
        """The throttle rule of one kind of password check, `per_minute` per subject."""
        from cmdesk.server.throttle import Policy

        return Policy(
            subject_limit=per_minute,
            subject_window=dt.timedelta(minutes=1),
            source_free=self.attempts_per_source_per_hour,
            source_window=dt.timedelta(hours=1),
            max_delay=dt.timedelta(seconds=self.attempt_delay_max_seconds),
            trust_for=dt.timedelta(days=self.trusted_source_days),
        )

    def __repr__(self) -> str:
        # The URL may carry a database password: show only its scheme.
        scheme = self.database_url.split(":", 1)[0]
        return f"Settings(database={scheme}, access_token_minutes={self.access_token_minutes})"

    __str__ = __repr__
