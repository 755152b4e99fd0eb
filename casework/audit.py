"""The audit trail: who viewed, downloaded or answered what, hash-chained per desk.

It reuses the custody chain (:func:`filon.custody.record_event`) under the subject
``audit:<desk slug>``, so one hashing scheme covers both and the same verifier checks them.
Each event is written in the transaction of the act it records: there is no way to read
decrypted content without leaving a trace, and no trace of an act that rolled back.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class AuditPage:
    """A desk's audit trail as a member reads it."""

    desk: Desk
    events: list[dict[str, Any]]
    action: str | None
    actions: list[str]
    broken: str | None  # why the chain does not verify, if it does not


def audit_page(session: Session, *, user: User, slug: str, action: str | None) -> AuditPage:
    """A member's view of the desk's audit trail, newest first; a broken chain is said."""
    desk = member_desk(session, user=user, slug=slug)
    broken = None
    try:
        events = audit_trail(session, desk)
    except CustodyChainBroken as exc:
        # Show the trail anyway, with the break named: hiding it would hide the tampering.
        broken = str(exc)
        events = list(
            session.scalars(
                select(CustodyEvent)
                .where(CustodyEvent.subject == subject(desk))
                .order_by(CustodyEvent.seq)
            )
        )
    records = [event_record(e) for e in reversed(events)]
    return AuditPage(
        desk=desk,
        events=[r for r in records if action is None or r["action"] == action],
        action=action,
        actions=sorted({r["action"] for r in records}),
        broken=broken,
    )
