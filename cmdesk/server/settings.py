"""Configuration of cmdesk-server, read from `CMDESK_*` environment variables (pydantic-settings).

`secret_key` signs access tokens. When it is not set, the server generates one the first time and keeps
it in the database (`server_secrets`), so every worker process of a deployment shares it and tokens
survive restarts. It is a `SecretStr`: printing or logging the settings never shows it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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
    # PostgreSQL: transfers and bulk transfers through the database function cmdesk_transfer (one round
    # trip each); with `transfer_lane`, plain transfers answered before FastAPI's routing
    # (api/transfer_lane). Off, they take the general ORM path (same rules, slower).
    transfer_fast_path: bool = True
    transfer_lane: bool = True

    software_store: Path = Field(default_factory=default_software_store)

    # Cache images (cmdesk.server.cache_images): the desktop cache of a large account, built ahead and
    # downloaded whole by a first sync. Kept in `cache_image_folder` (default: `cache-images` beside a
    # SQLite file, else in the data folder); built for accounts of at least `cache_image_min_entities`
    # entities, again when `cache_image_refresh_changes` changes behind (and at least
    # `cache_image_min_age_minutes` old: a build costs ~20 s of a core for 250,000 entities); not served
    # when more than `cache_image_max_changes` behind (the feed would bring them page by page).
    cache_images: bool = True
    cache_image_folder: Path | None = None
    cache_image_min_entities: int = Field(20_000, ge=0)
    cache_image_refresh_changes: int = Field(5_000, ge=0)
    cache_image_min_age_minutes: float = Field(60.0, ge=0)
    cache_image_max_changes: int = Field(20_000, ge=1, le=1_000_000)

    # Low-balance alerts (cmdesk.server.operations.alerts): every server process runs the evaluator,
    # taking turns through its lease; it follows the change feed every `alerts_interval_seconds` and
    # sweeps every account every `alerts_sweep_minutes`.
    alerts_evaluator: bool = True
    alerts_interval_seconds: float = Field(5.0, gt=0, le=3600)
    alerts_sweep_minutes: float = Field(15.0, gt=0, le=24 * 60)

    # CORS is off unless origins are listed (e.g. CMDESK_CORS_ORIGINS='["https://portal.example"]').
    cors_origins: list[str] = Field(default_factory=list)

    # Version negotiation (cmdesk/server/api/resilience.py, docs/deploy.md "Upgrading"): the oldest
    # desktop served in full, and routes a desktop older than the given version may no longer call
    # (e.g. CMDESK_DESKTOP_REQUIREMENTS='{"POST /v1/clients/tags": "0.2.0"}').
    min_desktop_version: str = ""
    desktop_requirements: dict[str, str] = Field(default_factory=dict)
    # Seconds a client is asked to wait (Retry-After) while the database is away.
    database_retry_after_seconds: int = Field(2, ge=1, le=300)

    # ---- Outbound mail (cmdesk.server.mail; docs/deploy.md, "Mail") ----
    # Without an SMTP host, mails are written as .eml files to `mail_folder` (the embedded default).
    smtp_host: str | None = None
    smtp_port: int | None = Field(None, ge=1, le=65535)  # by default 587, 465 with implicit TLS, 25 plain
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(30.0, gt=0, le=600)
    # An extra CA certificate (PEM) to trust, for a relay with a private certificate.
    smtp_ca_file: Path | None = None
    mail_from: str = "Cuenta Maestra <no-responder@localhost>"
    # Where the links of mails point (the pages this server serves), e.g. https://cm.example.mx.
    public_base_url: str | None = None
    # The .eml folder without SMTP; by default `mail` beside a SQLite file, else in the data folder.
    mail_folder: Path | None = None
    # Run the sender inside this server process (every worker; they never send a mail twice).
    mail_sender: bool = True
    # Lets the signed-in user read the written .eml files through /v1/demo/mails (embedded, demo).
    mail_viewer: bool = False
    mail_poll_seconds: float = Field(5.0, gt=0, le=3600)
    mail_max_attempts: int = Field(10, ge=1, le=100)
    # First retry after this many seconds, doubling up to an hour.
    mail_retry_seconds: float = Field(60.0, gt=0, le=86400)
    # A claimed mail not marked within this time is claimed again (a sender died while sending).
    mail_lease_seconds: float = Field(600.0, gt=0, le=86400)
    # Password reset mails asked for one login (e-mail or mobile) per hour.
    password_resets_per_hour: int = Field(3, ge=1)

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
