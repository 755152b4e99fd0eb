"""The daily digest, sent to a real SMTP server on localhost (aiosmtpd) over simulated days."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from crypto.keys import parse_recovery_key
from filon.accounts import DeskGrant, create_user
from filon.custody import chain
from filon.db import transaction
from filon.desks import get_desk, open_desk_key_with_recovery
from filon.digest import InvalidEmail, SmtpSettings, send_digests, set_email
from filon.errors import NotFound, SettingsInvalid
from filon.instance import Created, Instance
from filon.models import Role, Submission, User
from intake.demo import SAMPLES, seed_submissions
from tests.command import filon
from tests.conftest import DeskSetup
from tests.postgres import free_port

DAY1, DAY2, DAY3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)


@dataclass
class Sink:
    """A local SMTP server's inbox; ``refuse`` answers that many DATA commands with 451."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refuse: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def smtp_settings(port: int, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "filon@ngo.example",
        "casework_url": "https://casework.ngo.example/",
        "retry_delay": 0.0,
    }
    return SmtpSettings(**{**values, **changes})


@pytest.fixture
def staff(created: Created, desk: DeskSetup) -> Instance:
    """The desk's investigator and an admin with addresses; a journalist without one."""
    instance = created.instance
    key = parse_recovery_key(created.recovery_key_text)
    with transaction(instance.sessions) as session:
        found = get_desk(session, desk.slug)
        desk_key = open_desk_key_with_recovery(found, key)
        create_user(
            session,
            username="admin",
            role=Role.ADMIN,
            password="admin-password-for-tests",
            grants=[DeskGrant(found, desk_key)],
        )
        create_user(
            session,
            username="journalist",
            role=Role.JOURNALIST,
            password="journalist-password-for-tests",
        )
    with transaction(instance.sessions) as session:
        set_email(session, username=desk.username, email="investigator@ngo.example")
        set_email(session, username="admin", email="admin@ngo.example")
    return instance


def submit_on(instance: Instance, desk: DeskSetup, day: dt.date) -> list[str]:
    """Send the sample submissions and move their received hour to ``day``."""
    receipts = [o.receipt for o in seed_submissions(instance, desk.slug)]
    with transaction(instance.sessions) as session:
        session.execute(
            update(Submission)
            .where(Submission.reference.in_(receipts))
            .values(received_hour=dt.datetime.combine(day, dt.time(14)))
        )
    return receipts


def sample_words() -> set[str]:
    """Every word of five letters or more in the sample reports (the content to keep out)."""
    words = set()
    for sample in SAMPLES:
        for answer in sample.answers.values():
            words |= {w.lower() for w in re.findall(r"\w{5,}", answer)}
    return words - {"example", "exemple"}  # the samples' own marker, and our mail domain


def test_every_member_gets_one_mail_a_day_even_with_nothing_new_and_no_content(
    staff: Instance, desk: DeskSetup, sink: tuple[Sink, int]
) -> None:
    inbox, port = sink
    smtp = smtp_settings(port)
    receipts = submit_on(staff, desk, DAY1)
    receipts += submit_on(staff, desk, DAY3)
    reports = [send_digests(staff.sessions, smtp, day=day) for day in (DAY1, DAY2, DAY3)]

    for report in reports:
        assert sorted(report.sent) == ["admin", "investigator"]
        assert report.without_email == ["journalist"]
        assert report.failed == []
    assert len(inbox.messages) == 6  # two people × three days, the quiet day included
    assert sorted(r[0] for r in inbox.recipients) == sorted(
        ["admin@ngo.example", "investigator@ngo.example"] * 3
    )
    days = (DAY1, DAY2, DAY3)
    by_day = {day: [m for m in inbox.messages if day.isoformat() in m["Subject"]] for day in days}
    assert {day: len(found) for day, found in by_day.items()} == {DAY1: 2, DAY2: 2, DAY3: 2}
    bodies = {day: [m.get_content() for m in found] for day, found in by_day.items()}
    assert all("2 received that day" in body for body in bodies[DAY1])
    assert all("0 received that day" in body for body in bodies[DAY2])
    assert all("2 received that day" in body for body in bodies[DAY3])
    assert all("4 not yet read" in body for body in bodies[DAY2])
    # The quiet day's mail is as long as a busy day's, give or take the digits of the date.
    assert abs(len(bodies[DAY2][0]) - len(bodies[DAY1][0])) <= 2

    words = sample_words()
    assert len(words) > 20
    for message in inbox.messages:
        raw = message.as_string().lower()
        assert not {w for w in words if w in raw}
        assert not any(receipt.lower() in raw for receipt in receipts)
        assert "https://casework.ngo.example/" in raw
        assert message["Subject"].startswith("Filon daily digest 2026-11-0")
        assert message["Auto-Submitted"] == "auto-generated"


def test_a_refused_send_is_retried_and_logged_without_content(
    staff: Instance, desk: DeskSetup, sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, port = sink
    submit_on(staff, desk, DAY1)
    inbox.refuse = 1  # the first mail is refused once, then accepted
    delays: list[float] = []
    with caplog.at_level(logging.INFO, logger="filon.digest"):
        report = send_digests(
            staff.sessions, smtp_settings(port, retry_delay=5.0), day=DAY1, sleep=delays.append
        )
    assert sorted(report.sent) == ["admin", "investigator"]
    assert len(inbox.messages) == 2  # one each: the retry did not send twice
    assert delays == [5.0]
    assert "attempt 1 of 3 failed (SMTPDataError 451)" in caplog.text
    logged = caplog.text.lower()
    assert not {w for w in sample_words() if w in logged}
    assert "received that day" not in logged


def test_a_send_that_keeps_failing_is_reported(
    staff: Instance, desk: DeskSetup, sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, port = sink
    inbox.refuse = 100
    report = send_digests(staff.sessions, smtp_settings(port, attempts=2), day=DAY1)
    assert report.sent == []
    assert sorted(report.failed) == ["admin", "investigator"]
    assert caplog.text.count("attempt 2 of 2 failed") == 2


def test_unreachable_server_is_a_failure_not_a_crash(staff: Instance) -> None:
    report = send_digests(staff.sessions, smtp_settings(free_port(), attempts=1), day=DAY1)
    assert sorted(report.failed) == ["admin", "investigator"]


def test_counts_can_be_left_out(staff: Instance, desk: DeskSetup, sink: tuple[Sink, int]) -> None:
    inbox, port = sink
    submit_on(staff, desk, DAY1)
    send_digests(staff.sessions, smtp_settings(port, include_counts=False), day=DAY1)
    assert len(inbox.messages) == 2
    for message in inbox.messages:
        body = message.get_content()
        assert "received" not in body
        assert not re.search(r"\d+ not yet read", body)


ENV = {"FILON_SMTP_HOST": "mail.ngo.example", "FILON_SMTP_FROM": "filon@ngo.example"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"FILON_SMTP_HOST": ""}, "set FILON_SMTP_HOST"),
        ({"FILON_SMTP_SECURITY": "tls13"}, "FILON_SMTP_SECURITY must be one of"),
        ({"FILON_SMTP_PORT": "smtp"}, "not a number"),
        ({"FILON_SMTP_PORT": "70000"}, "must be a TCP port"),
        ({"FILON_SMTP_USER": "filon"}, "FILON_SMTP_USER and FILON_SMTP_PASSWORD go together"),
        ({"FILON_SMTP_SECURITY": "none"}, "allowed only for a server on this machine"),
        ({"FILON_SMTP_FROM": "not an address"}, "FILON_SMTP_FROM"),
        ({"FILON_SMTP_FROM": "a@b.org\r\nBcc: x@y.org"}, "control characters"),
        ({"FILON_DIGEST_LINK": "javascript:alert(1)"}, "http"),
        ({"FILON_DIGEST_COUNTS": "maybe"}, "on or off"),
        ({"FILON_SMTP_ATTEMPTS": "0"}, "at least 1"),
    ],
)
def test_bad_mail_settings_are_refused_at_start(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsInvalid, match=re.escape(message)):
        SmtpSettings.from_environ({**ENV, **changes}, default_link="http://127.0.0.1:8081/")


def test_good_mail_settings_and_their_defaults() -> None:
    smtp = SmtpSettings.from_environ(
        {**ENV, "FILON_SMTP_USER": "filon", "FILON_SMTP_PASSWORD": "secret-pw"},
        default_link="http://127.0.0.1:8081/",
    )
    assert (smtp.port, smtp.security, smtp.attempts) == (587, "starttls", 3)
    assert "secret-pw" not in repr(smtp)
    assert (
        SmtpSettings.from_environ(
            {**ENV, "FILON_SMTP_SECURITY": "ssl"}, default_link="http://x.example/"
        ).port
        == 465
    )


@pytest.mark.parametrize(
    "address", ["", "ana", "ana@", "@ngo.example", "ana@ngo", "a b@ngo.example", "a@b.org\n"]
)
def test_set_email_refuses_what_is_not_an_address(staff: Instance, address: str) -> None:
    with transaction(staff.sessions) as session, pytest.raises(InvalidEmail):
        set_email(session, username="journalist", email=address)


def test_set_email_is_on_the_accounts_audit_chain(staff: Instance) -> None:
    with transaction(staff.sessions) as session:
        set_email(session, username="journalist", email="j@ngo.example")
        set_email(session, username="journalist", email=None)
    with staff.sessions() as session:
        events = chain(session, "account:journalist")
        user = session.scalars(select(User).where(User.username == "journalist")).one()
    assert user.email is None
    assert [(e.action, e.details) for e in events][-2:] == [
        ("email_changed", '{"email":"set"}'),
        ("email_changed", '{"email":"removed"}'),
    ]


def test_set_email_names_an_unknown_account(staff: Instance) -> None:
    with transaction(staff.sessions) as session, pytest.raises(NotFound, match="nobody"):
        set_email(session, username="nobody", email="a@ngo.example")


def test_the_commands_set_addresses_and_send_the_day(
    staff: Instance, desk: DeskSetup, sink: tuple[Sink, int]
) -> None:
    inbox, port = sink
    where = ["--instance", str(staff.settings.instance_dir)]
    done = filon("user", "set-email", "journalist", "journalist@ngo.example", *where)
    assert done.returncode == 0, done.stderr
    bad = filon("user", "set-email", "journalist", "not-an-address", *where)
    assert bad.returncode == 1
    assert "the email address" in bad.stderr
    env = {
        "FILON_SMTP_HOST": "127.0.0.1",
        "FILON_SMTP_PORT": str(port),
        "FILON_SMTP_SECURITY": "none",
        "FILON_SMTP_FROM": "filon@ngo.example",
    }
    unset = filon("digest", *where, env={**env, "FILON_SMTP_HOST": ""})
    assert unset.returncode == 1
    assert "set FILON_SMTP_HOST" in unset.stderr
    sent = filon("digest", *where, "--day", DAY2.isoformat(), env=env)
    assert sent.returncode == 0, sent.stderr
    assert "sent to 3 staff member(s)" in sent.stdout
    assert len(inbox.messages) == 3
    journalist = next(m for m in inbox.messages if m["To"] == "journalist@ngo.example")
    assert "You are not a member of any desk." in journalist.get_content()
    with staff.sessions() as session:
        assert session.scalars(select(Submission)).all() == []


def test_starttls_is_never_skipped_when_the_server_lacks_it(
    staff: Instance, sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture
) -> None:
    """A server that offers no STARTTLS (or a stripping attacker) gets no mail in clear."""
    inbox, port = sink
    report = send_digests(
        staff.sessions, smtp_settings(port, security="starttls", attempts=1), day=DAY1
    )
    assert sorted(report.failed) == ["admin", "investigator"]
    assert inbox.messages == []
    assert "SMTPNotSupportedError" in caplog.text
