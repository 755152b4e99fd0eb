"""The desk inbox: the submissions of a desk the user belongs to, newest first.

It shows only what the record keeps in plaintext (received hour, status, file counts and
cleaning status), so listing opens nothing and needs no key; membership is still required.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from filon.errors import NotFound
from filon.models import Desk, DeskMembership, Evidence, Submission, SubmissionStatus, User

PAGE_SIZE = 50


@dataclass(frozen=True)
class InboxRow:
    """One submission as the inbox lists it."""

    reference: str
    received_hour: dt.datetime
    status: str
    file_count: int
    cleaning: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class InboxPage:
    """One page of a desk's inbox."""

    desk: Desk
    rows: list[InboxRow]
    page: int
    has_next: bool
    status: SubmissionStatus | None = None


def member_desks(session: Session, user: User) -> list[Desk]:
    """The desks a user is a member of, by slug."""
    return list(
        session.scalars(
            select(Desk)
            .join(DeskMembership, DeskMembership.desk_id == Desk.id)
            .where(DeskMembership.user_id == user.id)
            .order_by(Desk.slug)
        )
    )


def member_desk(session: Session, *, user: User, slug: str) -> Desk:
    """A desk by slug, only if the user is a member (:class:`NotFound` otherwise, alike)."""
    desk = session.scalars(
        select(Desk)
        .join(DeskMembership, DeskMembership.desk_id == Desk.id)
        .where(DeskMembership.user_id == user.id, Desk.slug == slug)
    ).first()
    if desk is None:
        raise NotFound(f"no desk {slug!r} for {user.username}")
    return desk


def inbox_page(
    session: Session,
    *,
    user: User,
    slug: str,
    page: int = 0,
    status: SubmissionStatus | None = None,
) -> InboxPage:
    """A page of the desk's submissions, newest first, 50 to a page, of one status if given."""
    desk = member_desk(session, user=user, slug=slug)
    page = max(page, 0)
    query = select(Submission).where(Submission.desk_id == desk.id)
    if status is not None:
        query = query.where(Submission.status == status)
    submissions = list(
        session.scalars(
            query.order_by(Submission.received_hour.desc(), Submission.id.desc())
            .offset(page * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    shown = submissions[:PAGE_SIZE]
    counts: dict[int, Counter[str]] = {s.id: Counter() for s in shown}
    if shown:
        rows = session.execute(
            select(Evidence.submission_id, Evidence.cleaning_status, func.count())
            .where(Evidence.submission_id.in_(counts))
            .group_by(Evidence.submission_id, Evidence.cleaning_status)
        )
        for submission_id, cleaning, count in rows:
            counts[submission_id][str(cleaning)] = count
    return InboxPage(
        desk=desk,
        rows=[
            InboxRow(
                reference=s.reference,
                received_hour=s.received_hour,
                status=str(s.status),
                file_count=sum(counts[s.id].values()),
                cleaning=dict(sorted(counts[s.id].items())),
            )
            for s in shown
        ],
        page=page,
        has_next=len(submissions) > PAGE_SIZE,
        status=status,
    )
