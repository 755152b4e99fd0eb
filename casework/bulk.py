"""Actions on several submissions picked in the inbox: a status, a new case, an existing case.

Every selected submission must be on the desk the inbox shows, else nothing happens (a
submission of another desk is not found, exactly as when opening it). Each action is audited
in the caller's transaction. A separate module from :mod:`casework.inbox` because it builds on
:mod:`casework.cases`, which itself reads the inbox's membership helpers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import audit, cases
from casework.inbox import PAGE_SIZE, member_desk
from casework.models import Case, CaseSubmission
from filon.errors import FilonError, NotFound
from filon.models import Desk, Submission, SubmissionStatus, User

STATUS_SET = "submissions_status"
# A page's worth, with room for a few pages picked in one go by a script.
MAX_SELECTED = 10 * PAGE_SIZE
# ``attached`` means "part of a case" and keeps a submission from retention: only the case
# actions set it, and a submission in a case cannot be moved off it here.
SETTABLE = (SubmissionStatus.NEW, SubmissionStatus.READ, SubmissionStatus.DISMISSED)


class InvalidBulkAction(FilonError):
    """A bulk action that cannot be done: nothing selected, too many, or a status not allowed."""


def desk_submissions(
    session: Session, *, desk: Desk, references: Sequence[str]
) -> list[Submission]:
    """The selected submissions, all of them on ``desk`` (:class:`NotFound` otherwise)."""
    wanted = list(dict.fromkeys(r.strip().upper() for r in references if r.strip()))
    if not wanted:
        raise InvalidBulkAction("select at least one submission")
    if len(wanted) > MAX_SELECTED:
        raise InvalidBulkAction(f"select at most {MAX_SELECTED} submissions at once")
    found = list(
        session.scalars(
            select(Submission)
            .where(Submission.desk_id == desk.id, Submission.reference.in_(wanted))
            .order_by(Submission.received_hour, Submission.id)
        )
    )
    if len(found) != len(wanted):
        raise NotFound("a selected submission is not on this desk")
    return found


def set_status(
    session: Session,
    *,
    user: User,
    slug: str,
    references: Sequence[str],
    status: SubmissionStatus,
) -> list[Submission]:
    """Give the selected submissions one triage status; returns those that changed."""
    if status not in SETTABLE:
        raise InvalidBulkAction(f"a submission becomes {status} only by joining a case")
    desk = member_desk(session, user=user, slug=slug)
    submissions = desk_submissions(session, desk=desk, references=references)
    in_case = set(
        session.scalars(
            select(CaseSubmission.submission_id).where(
                CaseSubmission.submission_id.in_([s.id for s in submissions])
            )
        )
    )
    if in_case:
        raise InvalidBulkAction("a selected submission belongs to a case and stays attached")
    changed = [s for s in submissions if s.status != status]
    for submission in changed:
        submission.status = status
    if changed:
        audit.record_audit(
            session,
            desk=desk,
            user=user,
            action=STATUS_SET,
            details={"status": str(status), "submissions": [s.reference for s in changed]},
        )
    return changed


def new_case(
    session: Session, *, user: User, slug: str, references: Sequence[str], title: str
) -> Case:
    """Open one case from the selected submissions (audited by :func:`cases.create_case`)."""
    desk = member_desk(session, user=user, slug=slug)
    submissions = desk_submissions(session, desk=desk, references=references)
    return cases.create_case(
        session, user=user, references=[s.reference for s in submissions], title=title
    )


def add_to_case(
    session: Session, *, user: User, slug: str, references: Sequence[str], case_id: int
) -> list[Submission]:
    """Attach the selected submissions to a case of the same desk; returns those added."""
    desk = member_desk(session, user=user, slug=slug)
    submissions = desk_submissions(session, desk=desk, references=references)
    case = session.get(Case, case_id)
    if case is None or case.desk_id != desk.id:
        raise NotFound(f"no case {case_id} on this desk")
    return cases.add_submissions(
        session, user=user, case_id=case_id, references=[s.reference for s in submissions]
    )
