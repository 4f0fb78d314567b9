"""Getting into accounts (issue 13): ¿Olvidó su contraseña?, the users' invitations, the account's own
renewal and the test mails of the embedded server. All online: a reset or an invitation is a mail the
server sends now, a renewal charges the statement and its answer is shown at once.

- `request_password_reset(api, login)`: public (no sign-in): `session.public(...)`. The server answers
  the same whether the login exists or not; a throttled request is an `ApiError` 429.
- `register_distributor(api, values)`: public: Quiero ser distribuidor, under a referrer's NIC.
- `resend_invitation(api, cache, profile_id)`: a new link; the invitation (with its mail) goes into the
  cache, so Usuarios shows «Enviada» and when it went out.
- `renewal_quote(api, cache)` / `renew_account(api, cache, key=...)`: what renewing charges, and the
  renewal itself (idempotent: it charges); the renewed account goes into the cache (the header).
- `demo_mails(api, cache)` / `demo_mail(api, cache, mail_id)`: the mails the embedded server wrote as
  .eml files (404 anywhere else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.commands.queue import new_key


def request_password_reset(api: ApiClient, login: str) -> str:
    """¿Olvidó su contraseña?: the server's answer (the same text whether the account exists or not)."""
    answer: dict[str, Any] = api.post("/v1/auth/password-reset", {"login": login.strip()})
    return str(answer.get("detail") or "")


def register_distributor(api: ApiClient, values: Mapping[str, Any]) -> dict[str, Any]:
    """Quiero ser distribuidor: a new profile and a «Sin validar» account under the referrer's NIC (it
    needs Multinivel); the confirmation mail goes to the e-mail given. Public, not idempotent: a
    repeated request is refused as a duplicate profile."""
    answer: dict[str, Any] = api.post("/v1/public/registrations", dict(values))
    return answer


def resend_invitation(api: ApiClient, cache: Cache, profile_id: str) -> dict[str, Any]:
    """Reenviar invitación: a new link for 7 days (the previous one stops working)."""
    answer: dict[str, Any] = api.post(f"/v1/users/{profile_id}/resend-invitation", None)
    cache.apply_answer("invitation", answer)
    return answer


def renewal_quote(api: ApiClient, cache: Cache) -> dict[str, Any]:
    """When the account expires, whether it may renew now (or why not), and what renewing charges."""
    answer: dict[str, Any] = api.get("/v1/account/renewal")
    return answer


def renew_account(api: ApiClient, cache: Cache, *, key: str | None = None) -> dict[str, Any]:
    """Renovar mi cuenta: one more year, charged to the account's statement. The renewed account goes
    into the cache; the charges come back with the next sync."""
    answer: dict[str, Any] = api.post("/v1/account/renew", None, idempotency_key=key or new_key())
    account = answer.get("account")
    if isinstance(account, dict):
        cache.apply_answer("account", account)
    return answer


def demo_mails(api: ApiClient, cache: Cache, *, limit: int = 100) -> dict[str, Any]:
    """The embedded server's test mails, newest first (`folder`: where its .eml files are)."""
    answer: dict[str, Any] = api.get("/v1/demo/mails", {"limit": limit})
    return answer


def demo_mail(api: ApiClient, cache: Cache, mail_id: str) -> dict[str, Any]:
    """One test mail: its text, its HTML and its links (the button's first)."""
    answer: dict[str, Any] = api.get(f"/v1/demo/mails/{mail_id}")
    return answer
