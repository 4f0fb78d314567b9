"""On PostgreSQL, with real sender processes (`cmdesk-server mail run`): two senders at once, and a
sender SIGKILLed in the middle of a batch and started again — every queued mail arrives at the SMTP
server exactly once (counted there, by the X-Cmdesk-Mail-Id each message carries).

The kill lands while the SMTP server is receiving a message and before it answers: the one point
where a sender holds a claimed, unsent mail. (A kill between the server's "250" and the sender's
mark is the documented duplicate window, docs/deploy.md; it is not what this test provokes.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from cmdesk.models import OutboundMail
from cmdesk.server import db
from cmdesk.server.mail import queue
from cmdesk.server.operations import contracts, distributors
from tests.server.helpers import RFC_MORAL, make_distributor
from tests.server.mail.conftest import SmtpServer, wait_for

pytestmark = pytest.mark.postgres_only

MAILS = 40


def _queue_mails(factory, count: int) -> set[str]:
    """`count` mails: notices, and a few confirmations whose links the senders derive themselves."""
    actor = make_distributor(factory, email="padre@dist.mx", mobile="5511111111")
    db.run(factory, contracts.contract, actor, "multinivel")
    for n in range(3):
        db.run(
            factory, distributors.create_sub_distributor, actor,
            email=f"hijo{n}@sub.mx", mobile=f"33000000{n:02d}", name=f"Sub {n}", rfc=RFC_MORAL,
        )

    def notices(session):
        for n in range(count - 3):
            queue.enqueue(
                session, "notice", to_address=f"persona{n}@cm.test",
                params={"title": f"Aviso {n}", "paragraphs": ["Texto."], "facts": [], "account_name": "A", "account_nic": "1"},
            )

    db.run(factory, notices)
    with db.transaction(factory) as s:
        ids = set(s.scalars(select(OutboundMail.id)))
    assert len(ids) == count
    return ids


def _start_sender(engine, smtp: SmtpServer, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CMDESK_")},
        "CMDESK_SMTP_HOST": "127.0.0.1",
        "CMDESK_SMTP_PORT": str(smtp.port),
        "CMDESK_SMTP_SECURITY": "none",
        "CMDESK_MAIL_FROM": "Cuenta Maestra <no-responder@cm.test>",
        "CMDESK_PUBLIC_BASE_URL": "http://cm.test",
        "CMDESK_MAIL_POLL_SECONDS": "0.2",
        "CMDESK_MAIL_LEASE_SECONDS": "3",
    }
    url = engine.url.render_as_string(hide_password=False)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cmdesk.server.cli", "mail", "run", "--no-reminders", "--db", url],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _logs(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(folder.glob("sender*.log")))


def _delivered(smtp: SmtpServer) -> Counter[str]:
    return Counter(str(m["X-Cmdesk-Mail-Id"]) for m in list(smtp.messages))


def _all_sent(factory) -> bool:
    with db.transaction(factory) as s:
        return set(s.scalars(select(OutboundMail.status))) == {"sent"}


def test_two_senders_at_once_send_each_mail_once(engine, factory, smtp, tmp_path):
    smtp.recorder.delay = 0.02  # long enough for both senders to be at work at the same time
    senders = [_start_sender(engine, smtp, tmp_path / f"sender{i}.log") for i in range(2)]
    try:
        ids = _queue_mails(factory, MAILS)
        wait_for(lambda: len(_delivered(smtp)) == MAILS, timeout=90, what="every mail")
        wait_for(lambda: _all_sent(factory), timeout=30, what="every mail marked sent")
    finally:
        for proc in senders:
            _stop(proc)
    delivered = _delivered(smtp)
    assert set(delivered) == ids and max(delivered.values()) == 1, _logs(tmp_path)
    assert len(smtp.messages) == MAILS
    by_sender = Counter(str(m["X-Cmdesk-Sender"]).split(":")[1] for m in smtp.messages)
    assert set(by_sender) == {str(p.pid) for p in senders}, by_sender  # both took part


def test_a_sender_killed_mid_batch_and_restarted_loses_and_repeats_nothing(engine, factory, smtp, tmp_path):
    log = tmp_path / "sender.log"
    first = _start_sender(engine, smtp, log)
    arrivals = {"n": 0}

    def kill_at_the_tenth(msg):
        arrivals["n"] += 1
        if arrivals["n"] == 10:
            os.kill(first.pid, signal.SIGKILL)
            return "451 4.3.0 El remitente murió antes de la respuesta"
        return None

    smtp.recorder.on_data = kill_at_the_tenth
    second = None
    try:
        ids = _queue_mails(factory, MAILS)
        assert first.wait(60) == -signal.SIGKILL
        assert len(_delivered(smtp)) == 9
        with db.transaction(factory) as s:
            states = Counter(s.scalars(select(OutboundMail.status)))
        assert states["sent"] == 9 and states["sending"] == 1 and states["queued"] == MAILS - 10, states

        smtp.recorder.on_data = None
        second = _start_sender(engine, smtp, log)
        wait_for(lambda: len(_delivered(smtp)) == MAILS, timeout=90, what="every mail after the restart")
        wait_for(lambda: _all_sent(factory), timeout=30, what="every mail marked sent")
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
    delivered = _delivered(smtp)
    assert set(delivered) == ids and max(delivered.values()) == 1, log.read_text(errors="replace")
    assert len(smtp.messages) == MAILS
