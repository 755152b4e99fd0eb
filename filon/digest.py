"""The daily digest: one content-free mail a day to every staff member (docs/digest.md).

Every active account with an email address gets exactly one mail per day, **whether or not
anything arrived**: a mail that came only on busy days would tell whoever watches the mail
server (the provider, a tapped relay) when sources talk to the organisation. The mail holds
counts only, per desk the person belongs to, and a link to the casework. It never holds a
submission's text, file names, receipts or times, because mail crosses servers we do not
run and lands in inboxes on phones. Counts are what a copy of the server's disk shows anyway
(DESIGN.md §1); an organisation for whom even they are too much can turn them off
(``FILON_DIGEST_COUNTS=off``), and the mail then only says "look at the casework".

Why counts in clear rather than sealed to the user's key: staff read mail on phones where no
Filon key lives, and a sealed attachment they cannot open without the casework tells them no
more than the link does. Opening the casework is the one safe place to read anything.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from filon.custody import record_event
from filon.errors import FilonError, NotFound, SettingsInvalid
from filon.models import DeskMembership, Submission, SubmissionStatus, User

log = logging.getLogger("filon.digest")

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_EMAIL = 254


class InvalidEmail(FilonError):
    """An email address is malformed."""


@dataclass(frozen=True, repr=False)
class SmtpSettings:
    """How to reach the mail server; built from ``FILON_SMTP_*`` and validated at start."""

    host: str
    port: int
    security: str
    from_address: str
    casework_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    include_counts: bool = True
    attempts: int = 3
    retry_delay: float = 60.0
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise SettingsInvalid("FILON_SMTP_HOST must name the mail server")
        if not 1 <= self.port <= 65535:
            raise SettingsInvalid(f"FILON_SMTP_PORT must be a TCP port (1-65535), not {self.port}")
        if self.security not in SECURITY:
            raise SettingsInvalid(f"FILON_SMTP_SECURITY must be one of {', '.join(SECURITY)}")
        if (self.username is None) != (self.password is None):
            raise SettingsInvalid("FILON_SMTP_USER and FILON_SMTP_PASSWORD go together")
        if self.security == "none" and self.host not in LOCAL_HOSTS:
            # Without TLS the login, the recipients and the counts cross the network in clear.
            raise SettingsInvalid(
                "FILON_SMTP_SECURITY=none is allowed only for a server on this machine "
                "(localhost); use starttls or ssl"
            )
        check_email(self.from_address, what="FILON_SMTP_FROM")
        if not self.casework_url.startswith(("https://", "http://")):
            raise SettingsInvalid("FILON_DIGEST_LINK must be an http(s):// address")
        if self.attempts < 1:
            raise SettingsInvalid("FILON_SMTP_ATTEMPTS must be at least 1")

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r})"

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, *, default_link: str
    ) -> SmtpSettings:
        """Read and check the mail settings; the password comes only from the environment."""
        env = os.environ if environ is None else environ
        host = env.get("FILON_SMTP_HOST")
        if not host:
            raise SettingsInvalid("set FILON_SMTP_HOST (and FILON_SMTP_FROM) to send the digest")
        security = env.get("FILON_SMTP_SECURITY", "starttls").lower()
        if security not in SECURITY:
            raise SettingsInvalid(f"FILON_SMTP_SECURITY must be one of {', '.join(SECURITY)}")
        counts = env.get("FILON_DIGEST_COUNTS", "on").lower()
        if counts not in ("on", "off"):
            raise SettingsInvalid("FILON_DIGEST_COUNTS must be on or off")
        try:
            port = int(env.get("FILON_SMTP_PORT", DEFAULT_PORTS[security]))
            attempts = int(env.get("FILON_SMTP_ATTEMPTS", 3))
            retry_delay = float(env.get("FILON_SMTP_RETRY_SECONDS", 60))
        except ValueError as exc:
            raise SettingsInvalid(f"a mail setting is not a number: {exc}") from exc
        return cls(
            host=host,
            port=port,
            security=security,
            from_address=env.get("FILON_SMTP_FROM", ""),
            casework_url=env.get("FILON_DIGEST_LINK", default_link),
            username=env.get("FILON_SMTP_USER") or None,
            password=env.get("FILON_SMTP_PASSWORD") or None,
            include_counts=counts == "on",
            attempts=attempts,
            retry_delay=retry_delay,
        )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_email(address: str, *, what: str = "the email address") -> str:
    """Return ``address`` if it is one plain ``local@domain`` address, else raise."""
    problem = None
    if not address or len(address) > MAX_EMAIL or _CONTROL.search(address):
        problem = "is empty, too long or holds control characters"
    else:
        try:
            parsed = Address(addr_spec=address)
        except (ValueError, IndexError, HeaderParseError) as exc:
            problem = f"is not an address ({exc})"
        else:
            if not parsed.username or ("." not in parsed.domain and parsed.domain != "localhost"):
                problem = "needs a name and a domain, as in name@example.org"
    if problem is not None:
        error = InvalidEmail if what == "the email address" else SettingsInvalid
        raise error(f"{what} {problem}")
    return address


EMAIL_CHANGED = "email_changed"


def set_email(
    session: Session, *, username: str, email: str | None, actor: str = "command-line"
) -> User:
    """Give a staff account the address its digest goes to (``None`` removes it), audited."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no staff account named {username}")
    user.email = None if email is None else check_email(email)
    # On the account's audit chain (the subject casework.accounts uses), in this transaction;
    # the address itself stays out of the chain, which is kept for years.
    record_event(
        session,
        subject=f"account:{username}",
        actor=actor,
        action=EMAIL_CHANGED,
        details={"email": "set" if email is not None else "removed"},
    )
    return user


# -- what a digest says ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeskCounts:
    """Content-free numbers about one desk for one day."""

    slug: str
    name: str
    received: int  # submissions received that day (UTC)
    unread: int  # submissions still new at the time of sending


@dataclass(frozen=True)
class Digest:
    """One person's digest for one day."""

    username: str
    email: str
    day: dt.date
    desks: list[DeskCounts]


def digests_for(session: Session, day: dt.date) -> tuple[list[Digest], list[str]]:
    """Every active account's digest for ``day``, and the names of accounts without address."""
    start = dt.datetime.combine(day, dt.time())
    end = start + dt.timedelta(days=1)
    received = dict(
        session.execute(
            select(Submission.desk_id, func.count())
            .where(Submission.received_hour >= start, Submission.received_hour < end)
            .group_by(Submission.desk_id)
        ).all()
    )
    unread = dict(
        session.execute(
            select(Submission.desk_id, func.count())
            .where(Submission.status == SubmissionStatus.NEW)
            .group_by(Submission.desk_id)
        ).all()
    )
    digests, without = [], []
    users = session.scalars(select(User).where(User.active).order_by(User.username))
    for user in users:
        if not user.email:
            without.append(user.username)
            continue
        memberships = session.scalars(
            select(DeskMembership).where(DeskMembership.user_id == user.id)
        ).all()
        desks = sorted(
            (
                DeskCounts(
                    m.desk.slug, m.desk.name, received.get(m.desk_id, 0), unread.get(m.desk_id, 0)
                )
                for m in memberships
            ),
            key=lambda counts: counts.slug,
        )
        digests.append(Digest(user.username, user.email, day, desks))
    return digests, without


def render(digest: Digest, smtp: SmtpSettings) -> EmailMessage:
    """The mail: same subject every day, counts only, a link; never source content."""
    lines = [
        f"Filon daily digest for {digest.day.isoformat()} (UTC), for {digest.username}.",
        "",
        "This mail comes every day, whether or not anything arrived, so its coming says",
        "nothing. It never holds what sources sent: read it in the casework.",
        "",
    ]
    if smtp.include_counts:
        for desk in digest.desks:
            lines.append(
                f"- {desk.name} ({desk.slug}): {desk.received} received that day, "
                f"{desk.unread} not yet read"
            )
        if not digest.desks:
            lines.append("- You are not a member of any desk.")
        lines.append("")
    lines += [f"Casework: {smtp.casework_url}", ""]
    message = EmailMessage()
    message["Subject"] = f"Filon daily digest {digest.day.isoformat()}"
    message["From"] = smtp.from_address
    message["To"] = digest.email
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.from_address.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message.set_content("\n".join(lines))
    return message


# -- sending -----------------------------------------------------------------------------------


@dataclass
class DigestReport:
    """Who got the day's mail, who has no address, whose mail failed after every attempt."""

    day: dt.date
    sent: list[str] = field(default_factory=list)
    without_email: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _deliver(message: EmailMessage, smtp: SmtpSettings) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)  # refuses a server without STARTTLS: fail closed
        if smtp.username is not None and smtp.password is not None:
            client.login(smtp.username, smtp.password)
        client.send_message(message)


def send_digests(
    sessions: sessionmaker[Session],
    smtp: SmtpSettings,
    *,
    day: dt.date,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestReport:
    """Send every active staff member their digest for ``day``, retrying failed sends."""
    with sessions() as session:
        digests, without = digests_for(session, day)
    report = DigestReport(day=day, without_email=without)
    for digest in digests:
        message = render(digest, smtp)
        for attempt in range(1, smtp.attempts + 1):
            try:
                _deliver(message, smtp)
            except (smtplib.SMTPException, OSError) as exc:
                # The log names the account and the error's kind, never the mail's text.
                log.warning(
                    "digest %s for %s: attempt %d of %d failed (%s%s)",
                    day.isoformat(),
                    digest.username,
                    attempt,
                    smtp.attempts,
                    type(exc).__name__,
                    f" {exc.smtp_code}" if isinstance(exc, smtplib.SMTPResponseException) else "",
                )
                if attempt < smtp.attempts:
                    sleep(smtp.retry_delay * attempt)
                continue
            report.sent.append(digest.username)
            break
        else:
            report.failed.append(digest.username)
            log.error("digest %s for %s was not sent", day.isoformat(), digest.username)
    return report
