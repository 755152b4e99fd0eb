"""The audit trail: who viewed, downloaded or answered what, hash-chained per desk.

It reuses the custody chain (:func:`filon.custody.record_event`) under the subject
``audit:<desk slug>``, so one hashing scheme covers both and the same verifier checks them.
Each event is written in the transaction of the act it records: there is no way to read
decrypted content without leaving a trace, and no trace of an act that rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from filon.custody import chain, record_event
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
