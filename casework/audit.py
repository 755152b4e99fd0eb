"""The audit trail: who viewed, downloaded or answered what, hash-chained per desk.

It reuses the custody chain (:func:`filon.custody.record_event`) under the subject
``audit:<desk slug>``, so one hashing scheme covers both and the same verifier checks them.
Each event is written in the transaction of the act it records: there is no way to read
decrypted content without leaving a trace, and no trace of an act that rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.inbox import member_desk
from filon.custody import chain, event_record, record_event
from filon.errors import CustodyChainBroken
from filon.models import CustodyEvent, Desk, User

VIEWED = "viewed"
DOWNLOADED = "downloaded"
REPLIED = "replied"


def subject(desk: Desk) -> str:
    """The audit chain's subject for a desk."""
    return f"audit:{desk.slug}"


def record_audit(
    session: Session,
    *,
    desk: Desk,
    user: User,
    action: str,
    details: Mapping[str, Any] | None = None,
) -> CustodyEvent:
    """Append one audit event for ``user`` to the desk's chain, in the caller's transaction."""
    return record_event(
        session,
        subject=subject(desk),
        actor=f"user:{user.username}",
        action=action,
        details=details,
    )


def audit_trail(session: Session, desk: Desk) -> list[CustodyEvent]:
    """A desk's audit events in order, after checking the chain."""
    return chain(session, subject(desk))


AUDIT_PAGE_SIZE = 100
MAX_FILTER_CHARS = 200


class InvalidAuditFilter(ValueError):
    """A filter value the audit page cannot use (the view answers 400)."""


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page is narrowed to; the fields combine with AND."""

    action: str | None = None
    actor: str | None = None  # a username
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    text: str | None = None  # in the details: a receipt, a case number, a file's blob id
    before: int | None = None  # show events older than this sequence number

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        """Filters from a query string; a bad value raises :class:`InvalidAuditFilter`."""
        values = {name: (args.get(name) or "").strip() for name in _FILTER_NAMES}
        if any(len(value) > MAX_FILTER_CHARS for value in values.values()):
            raise InvalidAuditFilter(f"a filter has at most {MAX_FILTER_CHARS} characters")
        return cls(
            action=values["action"] or None,
            actor=values["actor"] or None,
            day_from=_day(values["from"]),
            day_to=_day(values["to"]),
            text=values["q"] or None,
            before=_sequence(values["before"]),
        )

    def query_args(self) -> dict[str, str]:
        """The filters as query-string values (without the page), for links."""
        pairs = {
            "action": self.action,
            "actor": self.actor,
            "from": self.day_from.isoformat() if self.day_from else None,
            "to": self.day_to.isoformat() if self.day_to else None,
            "q": self.text,
        }
        return {name: value for name, value in pairs.items() if value}

    @property
    def narrowed(self) -> bool:
        return bool(self.query_args())


_FILTER_NAMES = ("action", "actor", "from", "to", "q", "before")


def _day(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidAuditFilter(f"{value!r} is not a day (YYYY-MM-DD)") from exc


def _sequence(value: str) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise InvalidAuditFilter(f"{value!r} is not an event number")
    return int(value)


@dataclass(frozen=True)
class AuditPage:
    """A page of a desk's audit trail as a member reads it, newest first."""

    desk: Desk
    events: list[dict[str, Any]]
    filters: AuditFilters
    actions: list[str]
    actors: list[str]
    broken: str | None  # why the chain does not verify, if it does not
    older: int | None  # the ``before`` of the next page, if there is one

    @property
    def action(self) -> str | None:
        return self.filters.action


def audit_page(
    session: Session, *, user: User, slug: str, filters: AuditFilters | None = None
) -> AuditPage:
    """A member's page of the desk's audit trail, filtered in the database; a break is said.

    The whole chain is verified on each visit (hiding a break would hide the tampering);
    only the page shown is loaded as events.
    """
    filters = filters or AuditFilters()
    desk = member_desk(session, user=user, slug=slug)
    broken = None
    try:
        chain(session, subject(desk))
    except CustodyChainBroken as exc:
        broken = str(exc)
    conditions = [CustodyEvent.subject == subject(desk)]
    if filters.action:
        conditions.append(CustodyEvent.action == filters.action)
    if filters.actor:
        conditions.append(CustodyEvent.actor == f"user:{filters.actor}")
    if filters.day_from:
        conditions.append(CustodyEvent.at >= dt.datetime.combine(filters.day_from, dt.time()))
    if filters.day_to:
        end = dt.datetime.combine(filters.day_to + dt.timedelta(days=1), dt.time())
        conditions.append(CustodyEvent.at < end)
    if filters.text:
        conditions.append(CustodyEvent.details.contains(filters.text, autoescape=True))
    if filters.before is not None:
        conditions.append(CustodyEvent.seq < filters.before)
    events = list(
        session.scalars(
            select(CustodyEvent)
            .where(*conditions)
            .order_by(CustodyEvent.seq.desc())
            .limit(AUDIT_PAGE_SIZE + 1)
        )
    )
    shown = events[:AUDIT_PAGE_SIZE]
    everyone = select(CustodyEvent).where(CustodyEvent.subject == subject(desk))
    actions = session.scalars(everyone.with_only_columns(CustodyEvent.action).distinct())
    actors = session.scalars(everyone.with_only_columns(CustodyEvent.actor).distinct())
    return AuditPage(
        desk=desk,
        events=[event_record(e) for e in shown],
        filters=filters,
        actions=sorted(actions),
        actors=sorted(a.removeprefix("user:") for a in actors if a.startswith("user:")),
        broken=broken,
        older=shown[-1].seq if len(events) > AUDIT_PAGE_SIZE else None,
    )
