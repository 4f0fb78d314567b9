"""The account flows end to end, as people live them: an operation over HTTP, its mail arriving at a
real SMTP server, the link followed over HTTP (the page's form posted), and the result checked.
SQLite and PostgreSQL."""

from __future__ import annotations

import requests
from sqlalchemy import select

from cmdesk.models import Account, LinkToken, Profile, utcnow
from cmdesk.server import db
from cmdesk.server.operations import contracts
from tests.server.helpers import RFC_MORAL, make_distributor
from tests.server.mail.conftest import follow, html_of, link_of, sign_in, wait_for

PASSWORD = "secreto123"
NEW_PASSWORD = "NuevaClave2026"


def _bearer(url: str, login: str, password: str = PASSWORD) -> dict[str, str]:
    r = sign_in(url, login, password)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def test_sub_distributor_mail_link_confirms_and_leaves_it_sin_activar(factory, smtp, live):
    actor = make_distributor(factory, name="Distribuidora Ana", email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    h = _bearer(live.url, "ana@dist.mx")
    body = {"email": "hijo@sub.mx", "mobile": "3300000001", "name": "HEAVEN SOFT", "rfc": RFC_MORAL, "profile_name": "Laura"}
    r = requests.post(f"{live.url}/v1/distributors", json=body, headers=h, timeout=30)
    assert r.status_code == 201, r.text
    child = r.json()["distributor"]

    wait_for(lambda: smtp.recorder.to("hijo@sub.mx"), what="the confirmation mail")
    mails = smtp.recorder.to("hijo@sub.mx")
    assert len(mails) == 1
    mail = mails[0]
    assert "HEAVEN SOFT" in mail["Subject"] and child["nic"] in mail["Subject"]
    html = html_of(mail)
    assert "Distribuidora Ana" in html and child["nic"] in html and "Laura" in html
    link = link_of(mail)
    assert link.startswith(live.url + "/cuenta/confirmar?t=")
    token = link.split("t=", 1)[1]
    with db.transaction(factory) as s:  # the database never holds the token itself
        assert s.scalar(select(LinkToken).where(LinkToken.token_hash == token)) is None

    # The distributor sees that the mail went out.
    state = requests.get(f"{live.url}/v1/distributors/{child['id']}", headers=h, timeout=30).json()
    wait_for(
        lambda: requests.get(f"{live.url}/v1/distributors/{child['id']}", headers=h, timeout=30).json()[
            "confirmation_mail"
        ]["status"]
        == "sent",
        what="the mail marked sent",
    )
    assert state["status"] == "unvalidated"

    done = follow(link, password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert done.status_code == 200 and "Su correo quedó confirmado" in done.text, done.text
    assert "Sin activar" in done.text
    after = requests.get(f"{live.url}/v1/distributors/{child['id']}", headers=h, timeout=30).json()
    assert after["status"] == "inactive" and after["status_label"] == "Sin activar"
    assert after["admin_profile"]["email_confirmed"] is True
    # Its administrator signs in with the password chosen on the page.
    assert sign_in(live.url, "hijo@sub.mx", NEW_PASSWORD).status_code == 200
    assert len(smtp.recorder.to("hijo@sub.mx")) == 1


def test_invitation_set_password_then_sign_in(factory, smtp, live):
    make_distributor(factory, name="Distribuidora Ana", email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    h = _bearer(live.url, "ana@dist.mx")
    r = requests.post(
        f"{live.url}/v1/users", json={"email": "alicia@dist.mx", "mobile": "5522223333", "name": "Alicia"}, headers=h, timeout=30
    )
    assert r.status_code == 201, r.text
    user = r.json()["user"]
    assert user["member_since"] is None and user["invitation"]["status"] == "sent"
    assert user["invitation"]["status_label"] == "Enviada"
    assert sign_in(live.url, "alicia@dist.mx", NEW_PASSWORD).status_code == 401

    mail = wait_for(lambda: smtp.recorder.to("alicia@dist.mx"), what="the invitation")[0]
    assert "Distribuidora Ana" in mail["Subject"]
    link = link_of(mail)
    assert "/cuenta/invitacion?t=" in link
    done = follow(link, name="Alicia López", password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert done.status_code == 200 and "Ya tiene acceso" in done.text, done.text

    answer = sign_in(live.url, "alicia@dist.mx", NEW_PASSWORD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["account"]["name"] == "Distribuidora Ana"
    users = requests.get(f"{live.url}/v1/users", headers=h, timeout=30).json()["items"]
    alicia = next(u for u in users if u["email"] == "alicia@dist.mx")
    assert alicia["invitation"]["status"] == "accepted" and alicia["name"] == "Alicia López"
    assert alicia["email_confirmed"] is True


def test_invitation_to_a_suspended_account_says_so_and_changes_nothing(factory, smtp, live):
    actor = make_distributor(factory, name="Distribuidora Sus", email="sus@dist.mx", mobile="5511112222", password=PASSWORD)
    h = _bearer(live.url, "sus@dist.mx")
    r = requests.post(
        f"{live.url}/v1/users", json={"email": "beto@dist.mx", "mobile": "5522224444", "name": "Beto"}, headers=h, timeout=30
    )
    assert r.status_code == 201, r.text
    link = link_of(wait_for(lambda: smtp.recorder.to("beto@dist.mx"), what="the invitation")[0])
    with db.transaction(factory) as s:
        s.get(Account, actor.account_id).status = "suspended"  # type: ignore[union-attr]
    page = requests.get(link, timeout=30)
    assert page.status_code == 422 and "está suspendida" in page.text and 'name="password"' not in page.text
    token = link.split("t=", 1)[1]
    action = link.split("?", 1)[0]
    posted = requests.post(action, data={"t": token, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, timeout=30)
    assert "está suspendida" in posted.text and "Ya tiene acceso" not in posted.text
    with db.transaction(factory) as s:
        assert s.scalar(select(Profile).where(Profile.email == "beto@dist.mx")) is None
    assert sign_in(live.url, "beto@dist.mx", NEW_PASSWORD).status_code == 401


def test_reset_old_password_refused_new_accepted(factory, smtp, live):
    make_distributor(factory, email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    r = requests.post(f"{live.url}/v1/auth/password-reset", json={"login": "55 1111 1111"}, timeout=30)
    assert r.status_code == 202
    mail = wait_for(lambda: smtp.recorder.to("ana@dist.mx"), what="the reset mail")[0]
    link = link_of(mail)
    assert "/cuenta/restablecer?t=" in link
    # A session open before the reset ends with it.
    before = sign_in(live.url, "ana@dist.mx", PASSWORD).json()

    done = follow(link, password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert done.status_code == 200 and "Su contraseña cambió" in done.text, done.text
    assert sign_in(live.url, "ana@dist.mx", PASSWORD).status_code == 401
    assert sign_in(live.url, "ana@dist.mx", NEW_PASSWORD).status_code == 200
    refreshed = requests.post(f"{live.url}/v1/auth/refresh", json={"refresh_token": before["refresh_token"]}, timeout=30)
    assert refreshed.status_code == 401


def test_reused_link_shows_the_spanish_page_and_changes_nothing(factory, smtp, live):
    make_distributor(factory, email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    requests.post(f"{live.url}/v1/auth/password-reset", json={"login": "ana@dist.mx"}, timeout=30)
    link = link_of(wait_for(lambda: smtp.recorder.to("ana@dist.mx"), what="the reset mail")[0])
    assert follow(link, password=NEW_PASSWORD, password2=NEW_PASSWORD).status_code == 200
    with db.transaction(factory) as s:
        hash_after_first = s.scalar(select(Profile.password_hash).where(Profile.email == "ana@dist.mx"))

    again = requests.get(link, timeout=30)
    assert again.status_code == 410 and "Este enlace ya se usó" in again.text and "No se cambió nada" in again.text
    assert again.headers["Cache-Control"] == "no-store" and again.headers["Referrer-Policy"] == "no-referrer"
    token = link.split("t=", 1)[1]
    posted = requests.post(
        link.split("?")[0], data={"t": token, "password": "OtraClave2027", "password2": "OtraClave2027"}, timeout=30
    )
    assert posted.status_code == 410 and "ya se usó" in posted.text
    with db.transaction(factory) as s:
        assert s.scalar(select(Profile.password_hash).where(Profile.email == "ana@dist.mx")) == hash_after_first
    assert sign_in(live.url, "ana@dist.mx", NEW_PASSWORD).status_code == 200
    # A token nobody issued: the page says so, in Spanish.
    bogus = requests.get(f"{live.url}/cuenta/confirmar?t=no-es-un-token", timeout=30)
    assert bogus.status_code == 400 and "no es válido" in bogus.text


def test_expired_confirmation_shows_what_to_do_and_changes_nothing(factory, smtp, live):
    import datetime as dt

    from sqlalchemy import update

    actor = make_distributor(factory, email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    h = _bearer(live.url, "ana@dist.mx")
    body = {"email": "hijo@sub.mx", "mobile": "3300000001", "name": "Sub", "rfc": RFC_MORAL}
    child = requests.post(f"{live.url}/v1/distributors", json=body, headers=h, timeout=30).json()["distributor"]
    link = link_of(wait_for(lambda: smtp.recorder.to("hijo@sub.mx"), what="the confirmation mail")[0])
    with db.transaction(factory) as s:
        s.execute(update(LinkToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    page = requests.get(link, timeout=30)
    assert page.status_code == 410 and "Este enlace venció" in page.text and "Reenviar correo" in page.text
    token = link.split("t=", 1)[1]
    posted = requests.post(link.split("?")[0], data={"t": token, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, timeout=30)
    assert posted.status_code == 410
    with db.transaction(factory) as s:
        assert s.get(Account, child["id"]).status == "unvalidated"
        assert s.scalar(select(Profile.password_hash).where(Profile.email == "hijo@sub.mx")) is None

    # Reenviar correo: a new link that works, and the old one now says it was replaced.
    r = requests.post(f"{live.url}/v1/distributors/{child['id']}/resend-confirmation", headers=h, timeout=30)
    assert r.status_code == 200 and r.json()["confirmation_sent"] is True
    fresh = link_of(wait_for(lambda: len(smtp.recorder.to("hijo@sub.mx")) == 2 and smtp.recorder.to("hijo@sub.mx"), what="the second mail")[1])
    assert fresh != link
    assert follow(fresh, password=NEW_PASSWORD, password2=NEW_PASSWORD).status_code == 200
    with db.transaction(factory) as s:
        assert s.get(Account, child["id"]).status == "inactive"


def test_self_registration_from_a_web_site_confirms_by_mail(factory, smtp, live):
    """Manual, "Integrar el alta desde un sitio Web externo": «Hemos enviado un correo electrónico para
    la activación de su cuenta». The mail arrives, its link confirms without asking the password again,
    and the referring distributor then activates the account."""
    actor = make_distributor(factory, name="Distribuidora Ana", email="ana@dist.mx", mobile="5511111111", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    nic = db.run(factory, lambda s: s.get(Account, actor.account_id).nic)
    body = {
        "referrer_nic": nic, "email": "sara@web.mx", "mobile": "3311112222", "password": NEW_PASSWORD,
        "name": "Sara Hilerio", "rfc": "GODE561231GR8", "profile_name": "Sara",
    }
    r = requests.post(f"{live.url}/v1/public/registrations", json=body, timeout=30)
    assert r.status_code == 202 and r.json()["confirmation_sent"] is True
    with db.transaction(factory) as s:
        new_id = s.scalar(select(Account.id).where(Account.referred_by_nic == nic))
    assert sign_in(live.url, "sara@web.mx", NEW_PASSWORD).status_code == 403  # not confirmed yet

    mail = wait_for(lambda: smtp.recorder.to("sara@web.mx"), what="the confirmation mail")[0]
    assert "Gracias por registrarse" in html_of(mail) and "Distribuidora Ana" in html_of(mail)
    page = requests.get(link_of(mail), timeout=30)
    assert page.status_code == 200 and 'name="password"' not in page.text  # it has its password already
    done = follow(link_of(mail))
    assert done.status_code == 200 and "Sin activar" in done.text, done.text

    h = _bearer(live.url, "ana@dist.mx")
    assert requests.post(f"{live.url}/v1/distributors/{new_id}/activate", headers=h, timeout=30).json()["status"] == "active"
    assert sign_in(live.url, "sara@web.mx", NEW_PASSWORD).status_code == 200
