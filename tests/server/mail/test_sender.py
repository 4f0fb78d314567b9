"""The queue and the sender against a real SMTP server: the mail is written with its operation (and
not without it), SMTP down or refusing (mails wait, the failure is visible in the CLI and the API,
they go out when it is back), recipients refused for good, the last try, STARTTLS and implicit TLS
with login, a lapsed claim taken over, links used before the mail left. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select, update

from cmdesk.models import OutboundMail, utcnow
from cmdesk.server import cli, db
from cmdesk.server.mail import queue
from cmdesk.server.mail.sender import RoundReport, Sender
from cmdesk.server.operations import access, contracts, distributors
from cmdesk.server.operations.context import Actor
from tests.server.helpers import RFC_MORAL, QueuedLinks, make_distributor
from tests.server.mail.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    Recorder,
    SmtpServer,
    authenticator,
    smtp_settings,
)

PASSWORD = "secreto123"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _child(factory, n: int = 1) -> tuple[Actor, dict]:
    actor = make_distributor(factory, email=f"padre{n}@dist.mx", mobile=f"55111111{n:02d}", password=PASSWORD)
    db.run(factory, contracts.contract, actor, "multinivel")
    out = db.run(
        factory, distributors.create_sub_distributor, actor,
        email=f"hijo{n}@sub.mx", mobile=f"33000000{n:02d}", name=f"Sub {n}", rfc=RFC_MORAL,
    )
    return actor, out


def _mails(factory) -> list[OutboundMail]:
    with db.transaction(factory) as s:
        return list(s.scalars(select(OutboundMail).order_by(OutboundMail.created_at)))


def _sender(factory, engine, smtp, tmp_path, **extra) -> Sender:
    settings = smtp_settings(engine, smtp, tmp_path, **extra)
    return Sender(factory, settings, base_url="http://cm.test")


def _cli_status(engine, capsys) -> dict:
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["mail", "status", "--db", url, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_no_mail_without_its_operation(factory):
    actor = make_distributor(factory, email="padre@dist.mx", mobile="5511111111")
    db.run(factory, contracts.contract, actor, "multinivel")
    with pytest.raises(RuntimeError), db.transaction(factory) as s:
        distributors.create_sub_distributor(
            s, actor, email="hijo@sub.mx", mobile="3300000001", name="Sub", rfc=RFC_MORAL
        )
        assert s.scalar(select(func.count()).select_from(OutboundMail)) == 1
        raise RuntimeError("the operation failed after queueing")
    assert _mails(factory) == []
    db.run(factory, distributors.create_sub_distributor, actor, email="hijo@sub.mx", mobile="3300000001", name="Sub", rfc=RFC_MORAL)
    assert [m.kind for m in _mails(factory)] == ["confirm_email"]


def test_smtp_down_then_refusing_then_back(factory, engine, smtp, tmp_path, capsys):
    actor, out = _child(factory)
    child_id = out["distributor"]["id"]
    sender = _sender(factory, engine, smtp, tmp_path, mail_retry_seconds=0.01)

    smtp.stop()  # down: connection refused
    report = sender.run_once()
    assert report.retrying == 1 and report.sent == 0
    [mail] = _mails(factory)
    assert mail.status == "queued" and mail.attempts == 1 and "No se pudo conectar" in mail.last_error
    # Visible in the CLI...
    status = _cli_status(engine, capsys)
    assert status["counts"]["queued"] == 1 and "No se pudo conectar" in status["last_error"]
    # ...and to the distributor who created it.
    view = db.run(factory, distributors.read_distributor, actor, child_id)["confirmation_mail"]
    assert view["status"] == "queued" and view["status_label"] == "En espera de reintento"
    assert "No se pudo conectar" in view["last_error"] and view["next_attempt_at"] is not None

    smtp.start()
    smtp.recorder.mode = "tempfail"  # up, but refusing for now (451)
    wait = _mails(factory)[0].next_attempt_at - utcnow()
    if wait.total_seconds() > 0:
        import time

        time.sleep(wait.total_seconds() + 0.05)
    report = sender.run_once()
    assert report.retrying == 1
    mail = _mails(factory)[0]
    assert mail.status == "queued" and mail.attempts == 2 and "451" in mail.last_error
    assert smtp.messages == []

    smtp.recorder.mode = "accept"
    db.run(factory, lambda s: s.execute(update(OutboundMail).values(next_attempt_at=utcnow())))
    assert sender.run_once().sent == 1
    mail = _mails(factory)[0]
    assert mail.status == "sent" and mail.last_error == "" and mail.sent_at is not None
    assert len(smtp.recorder.to("hijo1@sub.mx")) == 1
    assert sender.run_once().handled == 0  # nothing due: never sent twice
    view = db.run(factory, distributors.read_distributor, actor, child_id)["confirmation_mail"]
    assert view["status"] == "sent" and view["status_label"] == "Enviado" and view["last_error"] is None


def test_backoff_doubles_until_the_last_try_then_failed(factory, engine, smtp, tmp_path, capsys):
    _child(factory)
    smtp.recorder.mode = "tempfail"
    sender = _sender(factory, engine, smtp, tmp_path, mail_max_attempts=3, mail_retry_seconds=60)
    clock = [utcnow()]
    sender.clock = lambda: clock[0]
    waits = []
    for _ in range(3):
        sender.run_once()
        mail = _mails(factory)[0]
        if mail.status == "queued":
            waits.append(round((mail.next_attempt_at - clock[0]).total_seconds()))
            clock[0] = mail.next_attempt_at
    assert waits == [60, 120]
    mail = _mails(factory)[0]
    assert mail.status == "failed" and mail.attempts == 3 and "451" in mail.last_error
    status = _cli_status(engine, capsys)
    assert status["counts"]["failed"] == 1 and status["failed"][0]["to"] == "hijo1@sub.mx"

    # An administrator fixes the server and puts the failed mails back in the queue.
    smtp.recorder.mode = "accept"
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["mail", "retry", "--db", url]) == 0
    sender.clock = utcnow
    assert sender.run_once().sent == 1 and len(smtp.messages) == 1


def test_a_recipient_refused_for_good_fails_at_once(factory, engine, smtp, tmp_path):
    actor, out = _child(factory)
    smtp.recorder.mode = "reject_rcpt"
    report = _sender(factory, engine, smtp, tmp_path).run_once()
    assert report.failed == 1
    mail = _mails(factory)[0]
    assert mail.status == "failed" and mail.attempts == 1 and "550" in mail.last_error
    view = db.run(factory, distributors.read_distributor, actor, out["distributor"]["id"])["confirmation_mail"]
    assert view["status_label"] == "No se pudo enviar" and "El buzón no existe" in view["last_error"]
    listed = db.run(factory, queue.list_for_account, actor.account_id, status="failed")
    assert [m["id"] for m in listed] == [mail.id]


def test_a_lapsed_claim_is_taken_over_and_a_live_one_is_not(factory, engine, smtp, tmp_path):
    _child(factory)
    first = _sender(factory, engine, smtp, tmp_path, mail_lease_seconds=600)
    claimed = db.run(factory, first._claim, RoundReport())  # and then the first sender dies
    assert claimed is not None and _mails(factory)[0].status == "sending"
    other = _sender(factory, engine, smtp, tmp_path)
    assert other.run_once().handled == 0  # claimed by a sender still within its lease
    # The first sender died; its lease runs out; another takes the mail and sends it once.
    db.run(factory, lambda s: s.execute(update(OutboundMail).values(claimed_until=utcnow() - dt.timedelta(seconds=1))))
    assert other.run_once().sent == 1
    assert len(smtp.messages) == 1 and _mails(factory)[0].attempts == 2


def test_a_link_used_before_its_mail_left_is_not_sent(factory, engine, smtp, tmp_path):
    _actor, out = _child(factory)
    db.run(factory, distributors.confirm_email, out["confirmation_token"], "Distribuye2026")
    report = _sender(factory, engine, smtp, tmp_path).run_once()
    assert report.cancelled == 1 and smtp.messages == []
    assert _mails(factory)[0].status == "cancelled"


def test_a_newer_link_replaces_the_older_one(factory, engine, smtp, tmp_path):
    actor, out = _child(factory)
    again = db.run(factory, distributors.resend_confirmation, actor, out["distributor"]["id"])
    assert again["confirmation_token"] != out["confirmation_token"]
    report = _sender(factory, engine, smtp, tmp_path).run_once()
    # The first mail's link no longer works: only the second mail leaves.
    assert report.cancelled == 1 and report.sent == 1
    assert [t for _a, t in QueuedLinks(factory)][-1] == again["confirmation_token"]
    with pytest.raises(Exception, match="reemplazó"):
        db.run(factory, distributors.confirm_email, out["confirmation_token"], "Distribuye2026")


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_login(factory, engine, tmp_path, security, caplog):
    from cmdesk.devtools.postgres import free_port

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = Recorder()
    kwargs = {"authenticator": authenticator(recorder), "auth_required": True}
    if security == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    else:
        # The whole connection is TLS; aiosmtpd only knows STARTTLS, so it is told not to require it.
        kwargs.update(ssl_context=context, auth_require_tls=False)
    server = SmtpServer(recorder, free_port(), **kwargs)
    server.start()
    try:
        _child(factory)
        base = {"smtp_security": security, "smtp_ca_file": cert, "smtp_user": SMTP_USER}
        wrong = _sender(factory, engine, server, tmp_path, smtp_password="otra", **base)
        with caplog.at_level("DEBUG"):
            assert wrong.run_once().retrying == 1
        mail = _mails(factory)[0]
        assert "usuario y la contraseña" in mail.last_error and "otra" not in mail.last_error
        db.run(factory, lambda s: s.execute(update(OutboundMail).values(next_attempt_at=utcnow())))
        right = _sender(factory, engine, server, tmp_path, smtp_password=SMTP_PASSWORD, **base)
        with caplog.at_level("DEBUG"):
            assert right.run_once().sent == 1
        assert recorder.logins == [SMTP_USER] and len(recorder.messages) == 1
        assert SMTP_PASSWORD not in caplog.text
        # Without trusting the server's certificate, nothing is sent in the clear.
        _child(factory, 2)
        untrusted = _sender(factory, engine, server, tmp_path, smtp_password=SMTP_PASSWORD, smtp_security=security, smtp_user=SMTP_USER)
        assert untrusted.run_once().retrying == 1 and len(recorder.messages) == 1
    finally:
        server.stop()


def test_the_message_a_person_receives(factory, engine, smtp, tmp_path):
    actor = make_distributor(factory, name="Distribuidora <b>Ana</b>", email="ana@dist.mx", mobile="5511111111")
    with db.transaction(factory) as s:
        from cmdesk.models import Account

        account = s.get(Account, actor.account_id)
        access.notify(
            s, account, title="Saldo bajo de timbres",
            paragraphs=["Le quedan 12 timbres.", "Compre más en Compras."],
            facts=[("Timbres", "12"), ("Mínimo", "50")],
            action_label="Abrir cmdesk", action_url="https://cm.example.mx/",
        )
    assert _sender(factory, engine, smtp, tmp_path).run_once().sent == 1
    [msg] = smtp.messages
    assert msg["Subject"].startswith("Saldo bajo de timbres · NIC ")
    assert msg["From"].addresses[0].addr_spec == "no-responder@cm.test"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Message-ID"].endswith("@cm.test>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Le quedan 12 timbres." in text and "Mínimo: 50" in text and "https://cm.example.mx/" in text
    # Names people type are text, never markup.
    assert "Distribuidora &lt;b&gt;Ana&lt;/b&gt;" in html and "<b>Ana</b>" not in html
    assert 'href="https://cm.example.mx/"' in html and "Abrir cmdesk" in html


def test_maintenance_forgets_old_mails_and_dead_tokens(factory, engine, smtp, tmp_path, capsys):
    from cmdesk.models import LinkToken

    _child(factory)
    assert _sender(factory, engine, smtp, tmp_path).run_once().sent == 1
    _child(factory, 2)  # still queued: never purged
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["maintenance", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)["mails_purged"] == 0
    old = utcnow() - dt.timedelta(days=200)
    db.run(factory, lambda s: s.execute(update(OutboundMail).values(created_at=old)))
    db.run(factory, lambda s: s.execute(update(LinkToken).values(expires_at=old)))
    assert cli.main(["maintenance", "--db", url]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mails_purged"] == 1 and out["link_tokens_purged"] == 2
    assert [m.status for m in _mails(factory)] == ["queued"]
