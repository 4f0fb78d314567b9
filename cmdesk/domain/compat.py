"""Version negotiation between the desktop and the server: the headers both sides use, written once.

Every desktop request carries its version (`X-Cmdesk-Version: 0.1.0`; desktops older than this header
are known by their `User-Agent: cmdesk/0.1.0`). Every server answer carries:

- `X-Cmdesk-Api-Version`: the level of API v1 the server speaks (an integer that grows when endpoints
  or fields are added; API v1's paths, codes and fields never change meaning);
- `X-Cmdesk-Server-Version`: the server's release;
- `X-Cmdesk-Min-Desktop-Version`: the oldest desktop it serves in full.

A server older than these headers says nothing: the desktop takes it as API level 1 (`BASE_API_LEVEL`).
What each level added is `API_LEVELS`; the desktop disables a feature whose level its server lacks (or
whose endpoint answers 404) and says why in Spanish (`cmdesk.services.server_info`).
"""

from __future__ import annotations

from collections.abc import Mapping

from packaging.version import InvalidVersion, Version

DESKTOP_VERSION_HEADER = "X-Cmdesk-Version"
API_LEVEL_HEADER = "X-Cmdesk-Api-Version"
SERVER_VERSION_HEADER = "X-Cmdesk-Server-Version"
MIN_DESKTOP_HEADER = "X-Cmdesk-Min-Desktop-Version"
USER_AGENT_PREFIX = "cmdesk/"

# The level of a server that sends no API level header (every server before version negotiation).
BASE_API_LEVEL = 1
# What each level of API v1 added (docs/api.md, "Versions"). A new endpoint or field the desktop
# depends on raises the level here, on both sides, in the same change.
API_LEVELS: dict[int, str] = {
    1: "API v1 as in api-contract.md, with /v1/sync/counts and /v1/stamping-accounts/{id}/usage",
    2: "version headers; 503 service_unavailable with Retry-After while the database is away; "
    "/v1/health tells the server's time, versions and API level",
}
API_LEVEL = max(API_LEVELS)

# The problem code of a request the server no longer accepts from this desktop's version.
UPDATE_REQUIRED_CODE = "desktop_update_required"
UPDATE_REQUIRED_STATUS = 426


def parse_version(text: str | None) -> Version | None:
    """A PEP 440 version, or None for None, "" or anything that is not one."""
    if not text:
        return None
    try:
        return Version(text.strip())
    except InvalidVersion:
        return None


def desktop_version(headers: Mapping[str, str]) -> Version | None:
    """The version of the desktop that sent a request (its header, else its User-Agent); None when
    the request is not a desktop's (an invoicing program, a browser). `headers` has lower-case keys."""
    version = parse_version(headers.get(DESKTOP_VERSION_HEADER.lower()))
    if version is not None:
        return version
    agent = headers.get("user-agent", "")
    if agent.startswith(USER_AGENT_PREFIX):
        words = agent[len(USER_AGENT_PREFIX) :].split()
        return parse_version(words[0] if words else None)
    return None


def api_level(value: str | None) -> int:
    """The API level a server announced (BASE_API_LEVEL when it did not say)."""
    try:
        level = int(str(value).strip()) if value is not None else BASE_API_LEVEL
    except ValueError:
        return BASE_API_LEVEL
    return max(level, BASE_API_LEVEL)
