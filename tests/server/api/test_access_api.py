"""HTTP: password reset (never tells whether a login exists; throttled), invitations (states, resend,
accept, removal), the mails that concern an account, the account's own renewal, and the demo mail
viewer of the embedded default."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from cmdesk.models import Account, AttemptLog, Invitation, OutboundMail, ThrottleCounter
from cmdesk.server import db, throttle
from cmdesk.server.api import schemas_mail as sm
from cmdesk.server.api import schemas_tools as st
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.mail.sender import Sender
from cmdesk.server.operations import access, contracts, distributors
from cmdesk.server.settings import Settings
from tests.server.api.test_distributors_api import conforms
from tests.server.helpers import RFC_MORAL, QueuedLinks, make_distributor

PASSWORD = "secreto123"
NEW_PASSWORD = "NuevaClave2026"


@pytest.fixture
def ana(factory, auth_headers):
    actor = make_distributor(factory, name="Distribuidora Ana", email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    return actor, auth_headers("ana@dist.mx")


def _mail_rows(factory, kind: str) -> list[OutboundMail]:
    with db.transaction(factory) as s:
        return list(s.scalars(select(OutboundMail).where(OutboundMail.kind == kind).order_by(OutboundMail.created_at)))


# ---- password reset -------------------------------------------------------------------------------


def test_reset_answers_the_same_whether_the_login_exists_or_not(client, factory, ana):
    known = client.post("/v1/auth/password-reset", json={"login": "ana@dist.mx"})
    unknown = client.post("/v1/auth/password-reset", json={"login": "nadie@dist.mx"})
    by_mobile = client.post("/v1/auth/password-reset", json={"login": "+52 55 1111 1111"})
    assert known.status_code == unknown.status_code == by_mobile.status_code == 202
    assert known.json() == unknown.json() == by_mobile.json()
    conforms(sm.ResetRequested, known.json())
    assert [m.to_address for m in _mail_rows(factory, "password_reset")] == ["ana@dist.mx", "ana@dist.mx"]


def test_reset_is_throttled_per_login_known_or_not(client, factory, ana):
    for login in ("ana@dist.mx", "nadie@dist.mx"):
        for _ in range(3):
            assert client.post("/v1/auth/password-reset", json={"login": login}).status_code == 202
        r = client.post("/v1/auth/password-reset", json={"login": login})
        assert r.status_code == 429 and r.json()["code"] == "too_many_attempts" and int(r.headers["Retry-After"]) > 60
    assert len(_mail_rows(factory, "password_reset")) == 3
    assert client.post("/v1/auth/password-reset", json={"login": "  "}).status_code == 422


def test_reset_uses_the_throttle_one_bucket_per_profile(client, factory, ana):
    """Resets are counted by the one throttle (`throttle.Kind.RESET`), per profile whatever spelling of
    its login is typed; a completed reset clears the sign-in failures that kept the person out."""
    actor, _ = ana
    for login in ("ana@dist.mx", "55 1111 1111", "ANA@dist.mx"):
        assert client.post("/v1/auth/password-reset", json={"login": login}).status_code == 202
    r = client.post("/v1/auth/password-reset", json={"login": "+52 5511111111"})
    assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
    with db.transaction(factory) as s:
        counter = s.get(ThrottleCounter, throttle.subject_key(throttle.Kind.RESET, actor.profile_id))
        assert counter is not None and counter.count == 4
        assert s.scalar(select(func.count()).select_from(AttemptLog)) == 0
    for _ in range(5):
        wrong = client.post("/v1/auth/token", json={"login": "ana@dist.mx", "password": "NoEsLaClave99"})
        assert wrong.status_code == 401
    login_bucket = throttle.subject_key(throttle.Kind.LOGIN, actor.profile_id)
    with db.transaction(factory) as s:
        assert s.get(ThrottleCounter, login_bucket) is not None
    token = QueuedLinks(factory, "password_reset")[-1][1]  # each request replaces the previous link
    r = client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    with db.transaction(factory) as s:
        assert s.get(ThrottleCounter, login_bucket) is None


def test_reset_over_json_ends_sessions_and_works_once(client, factory, ana):
    session = client.post("/v1/auth/token", json={"login": "ana@dist.mx", "password": PASSWORD}).json()
    client.post("/v1/auth/password-reset", json={"login": "ana@dist.mx"})
    token = QueuedLinks(factory, "password_reset")[0][1]
    weak = client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": "12345678"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    r = client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 200 and conforms(sm.ResetDone, r.json())["profile"]["email"] == "ana@dist.mx"
    again = client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": "OtraClave2027"})
    assert again.status_code == 422 and again.json()["errors"][0] == {"field": "token", "message": "Este enlace ya se usó."}
    assert client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code == 401
    assert client.post("/v1/auth/token", json={"login": "ana@dist.mx", "password": NEW_PASSWORD}).status_code == 200


# ---- invitations ----------------------------------------------------------------------------------


def test_invitation_states_resend_and_accept(client, factory, ana):
    _actor, h = ana
    r = client.post("/v1/users", json={"email": "alicia@dist.mx", "mobile": "5522223333", "name": "Alicia"}, headers=h)
    assert r.status_code == 201
    user = conforms(st.UserCreated, r.json())["user"]
    assert user["invitation"]["status"] == "sent" and user["invitation"]["mail"]["status"] == "queued"
    first = QueuedLinks(factory, "invitation")[0][1]

    r = client.post(f"/v1/users/{user['id']}/resend-invitation", headers=h)
    assert r.status_code == 200 and conforms(sm.Invitation, r.json())["status_label"] == "Enviada"
    assert len(QueuedLinks(factory, "invitation")) == 2
    second = QueuedLinks(factory, "invitation")[1][1]
    stale = client.post("/v1/public/invitations/accept", json={"token": first, "password": NEW_PASSWORD})
    assert stale.status_code == 422 and "más reciente" in stale.json()["errors"][0]["message"]
    missing = client.post("/v1/public/invitations/accept", json={"token": second})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "password"

    r = client.post("/v1/public/invitations/accept", json={"token": second, "password": NEW_PASSWORD, "name": "Alicia L."})
    assert r.status_code == 200 and conforms(sm.InvitationAccepted, r.json())["account"]["name"] == "Distribuidora Ana"
    users = client.get("/v1/users", headers=h).json()["items"]
    assert users[0]["is_master"] and users[0]["invitation"] is None
    alicia = next(u for u in users if u["email"] == "alicia@dist.mx")
    assert alicia["invitation"]["status"] == "accepted" and alicia["name"] == "Alicia L."
    assert alicia["id"] == r.json()["profile"]["id"] and alicia["member_since"] is not None
    r = client.post(f"/v1/users/{alicia['id']}/resend-invitation", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state_transition"

    # The desktop mirrors invitations through the feed, and its counts include them.
    changes = client.get("/v1/sync/changes", headers=h).json()["changes"]
    mirrored = [c for c in changes if c["entity"] == "invitation"]
    assert mirrored and mirrored[-1]["data"]["status"] == "accepted"
    assert client.get("/v1/sync/counts", headers=h).json()["invitation"] == 1

    # Removed: the invitation goes with the access.
    assert client.delete(f"/v1/users/{alicia['id']}", headers=h).status_code == 204
    with db.transaction(factory) as s:
        assert s.scalar(select(Invitation)) is None
    assert client.get("/v1/sync/counts", headers=h).json()["invitation"] == 0


def test_an_expired_invitation_shows_as_vencida(client, factory, ana):
    _actor, h = ana
    client.post("/v1/users", json={"email": "alicia@dist.mx", "mobile": "5522223333"}, headers=h)
    with db.transaction(factory) as s:
        s.execute(update(Invitation).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    alicia = next(u for u in client.get("/v1/users", headers=h).json()["items"] if not u["is_master"])
    assert alicia["invitation"]["status"] == "expired" and alicia["invitation"]["status_label"] == "Vencida"


def test_a_person_with_a_profile_is_asked_for_consent(client, factory, ana):
    """Issue 15: adding an existing profile grants nothing until its owner accepts from their own
    e-mail, and the inviter's answer is the one a stranger's e-mail gets."""
    _actor, h = ana
    make_distributor(factory, name="Otra", email="beto@otra.mx", mobile="5533334444", password=PASSWORD)
    known = client.post("/v1/users", json={"email": "beto@otra.mx", "mobile": "5533334444"}, headers=h)
    unknown = client.post("/v1/users", json={"email": "carla@nueva.mx", "mobile": "5577778888"}, headers=h)
    assert known.status_code == unknown.status_code == 201
    for body in (known.json(), unknown.json()):
        user = conforms(st.UserCreated, body)["user"]
        assert user["email_confirmed"] is False and user["member_since"] is None and user["name"] == ""
        assert user["invitation"]["status"] == "sent" and user["invitation"]["profile_id"] is None
    assert _mail_rows(factory, "notice") == []
    assert sorted(m.to_address for m in _mail_rows(factory, "invitation")) == ["beto@otra.mx", "carla@nueva.mx"]
    before = client.post("/v1/auth/token", json={"login": "beto@otra.mx", "password": PASSWORD}).json()
    assert [a["name"] for a in before["accounts"]] == ["Otra"]
    token = next(t for address, t in QueuedLinks(factory, "invitation") if address == "beto@otra.mx")
    r = client.post("/v1/public/invitations/accept", json={"token": token})
    assert r.status_code == 200, r.text
    answer = client.post("/v1/auth/token", json={"login": "beto@otra.mx", "password": PASSWORD}).json()
    assert {(a["name"], a["role"]) for a in answer["accounts"]} == {("Otra", "master"), ("Distribuidora Ana", "operator")}


def test_accepting_creates_the_membership_when_consent_comes_first(factory, client, ana):
    """Invited without access; the link grants it."""
    actor, _h = ana
    make_distributor(factory, name="Otra", email="beto@otra.mx", mobile="5533334444", password=PASSWORD)
    with db.transaction(factory) as s:
        access.invite(s, actor, email="beto@otra.mx", mobile="5533334444")
    before = client.post("/v1/auth/token", json={"login": "beto@otra.mx", "password": PASSWORD}).json()
    assert [a["name"] for a in before["accounts"]] == ["Otra"]
    token = QueuedLinks(factory, "invitation")[0][1]
    r = client.post("/v1/public/invitations/accept", json={"token": token})
    assert r.status_code == 200
    after = client.post("/v1/auth/token", json={"login": "beto@otra.mx", "password": PASSWORD}).json()
    assert {a["name"] for a in after["accounts"]} == {"Otra", "Distribuidora Ana"}


# ---- the mails of an account ----------------------------------------------------------------------


def test_mails_that_concern_the_account(client, factory, ana, auth_headers):
    actor, h = ana
    db.run(factory, contracts.contract, actor, "multinivel")
    subs = [
        db.run(factory, distributors.create_sub_distributor, actor, email=f"hijo{n}@sub.mx", mobile=f"330000000{n}", name=f"Sub {n}", rfc=RFC_MORAL)
        for n in range(3)
    ]
    client.post("/v1/users", json={"email": "alicia@dist.mx", "mobile": "5522223333"}, headers=h)
    client.post("/v1/auth/password-reset", json={"login": "ana@dist.mx"})  # about a profile: not listed
    page = client.get("/v1/mails", params={"limit": 2}, headers=h)
    assert page.status_code == 200
    body = conforms(sm.MailList, page.json())
    assert len(body["items"]) == 2 and body["next_cursor"]
    rest = client.get("/v1/mails", params={"cursor": body["next_cursor"]}, headers=h).json()
    kinds = [m["kind"] for m in body["items"] + rest["items"]]
    assert sorted(kinds) == ["confirm_email"] * 3 + ["invitation"]
    one = client.get("/v1/mails", params={"distributor_id": subs[1]["distributor"]["id"]}, headers=h).json()["items"]
    assert [m["to"] for m in one] == ["hijo1@sub.mx"]
    assert client.get("/v1/mails", params={"kind": "nope"}, headers=h).status_code == 422
    # Another distributor sees none of them.
    make_distributor(factory, email="otro@dist.mx", mobile="5599999999", password=PASSWORD)
    assert client.get("/v1/mails", headers=auth_headers("otro@dist.mx")).json()["items"] == []


# ---- renewal ---------------------------------------------------------------------------------------


def test_renew_own_account_over_http(client, factory, ana):
    actor, h = ana
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    with db.transaction(factory) as s:
        s.execute(update(Account).where(Account.id == actor.account_id).values(expires_at=soon))
    quote = conforms(sm.RenewalQuote, client.get("/v1/account/renewal", headers=h).json())
    assert quote["warning"] is True and quote["can_renew"] is True and quote["total_cents"] == 348000
    assert client.post("/v1/account/renew", headers=h).status_code == 422  # Idempotency-Key required
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = client.post("/v1/account/renew", headers={**h, **key})
    assert r.status_code == 200 and conforms(sm.Renewed, r.json())["total_cents"] == 348000
    replay = client.post("/v1/account/renew", headers={**h, **key})
    assert replay.json() == r.json()
    again = client.post("/v1/account/renew", headers={**h, "Idempotency-Key": str(uuid.uuid4())})
    assert again.status_code == 409 and "podrá renovarla" in again.json()["detail"]


# ---- the demo mail viewer --------------------------------------------------------------------------


def test_the_viewer_is_off_outside_the_embedded_default(client, ana):
    _actor, h = ana
    assert client.get("/v1/demo/mails", headers=h).status_code == 404


def test_embedded_default_writes_eml_files_the_desktop_lists(tmp_path: Path):
    url = f"sqlite:///{(tmp_path / 'server.sqlite3').as_posix()}"
    server = EmbeddedServer(url, settings=Settings(database_url=url, software_store=tmp_path / "files", mail_poll_seconds=0.2))
    server.start()
    try:
        factory = server._app.state.session_factory
        actor = make_distributor(factory, email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
        db.run(factory, contracts.contract, actor, "multinivel")
        token = requests.post(f"{server.url}/v1/auth/token", json={"login": "ana@dist.mx", "password": PASSWORD}, timeout=30).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        body = {"email": "hijo@sub.mx", "mobile": "3300000001", "name": "HEAVEN SOFT", "rfc": RFC_MORAL}
        assert requests.post(f"{server.url}/v1/distributors", json=body, headers=h, timeout=30).status_code == 201

        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = requests.get(f"{server.url}/v1/demo/mails", headers=h, timeout=30).json()
            if listed["items"] and listed["items"][0]["file"]:
                break
            time.sleep(0.1)
        assert listed["folder"] == str((tmp_path / "mail").resolve())
        [item] = listed["items"]
        assert item["status"] == "sent" and item["to"] == "hijo@sub.mx" and Path(item["file"]).is_file()
        content = requests.get(f"{server.url}/v1/demo/mails/{item['id']}", headers=h, timeout=30).json()
        conforms(sm.DemoMailContent, content)
        assert "HEAVEN SOFT · NIC 200001\r\n\r\nHola" in content["text"]
        assert "HEAVEN SOFT" in content["html"] and "confirmar su correo" in content["text"]
        link = content["links"][0]
        assert link.startswith(f"{server.url}/cuenta/confirmar?t=")
        assert requests.get(link, timeout=30).status_code == 200  # the demo user can follow it
        raw = requests.get(f"{server.url}/v1/demo/mails/{item['id']}/eml", headers=h, timeout=30)
        assert raw.headers["content-type"].startswith("message/rfc822") and b"Subject:" in raw.content
        assert requests.get(f"{server.url}/v1/demo/mails/nope", headers=h, timeout=30).status_code == 404
    finally:
        server.stop()


def test_folder_transport_writes_each_mail_once(factory, engine, tmp_path):
    actor = make_distributor(factory, email="ana@dist.mx", mobile="5511111111")
    db.run(factory, contracts.contract, actor, "multinivel")
    db.run(factory, distributors.create_sub_distributor, actor, email="hijo@sub.mx", mobile="3300000001", name="Sub", rfc=RFC_MORAL)
    settings = Settings(database_url="sqlite://", mail_folder=tmp_path / "mail", mail_sender=False)
    sender = Sender(factory, settings, base_url="http://127.0.0.1:9")
    assert sender.run_once().sent == 1 and sender.run_once().handled == 0
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1 and "confirm_email" in files[0].name
    assert not list((tmp_path / "mail").glob(".tmp-*"))
