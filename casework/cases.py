"""Cases: created from a desk's submissions, moved through the workflow, annotated, audited.

Every change records an audit event in the caller's transaction, on the desk's chain, with
only investigator-authored values in its details (never source content or note text).
Notes are sealed to the desk public key, so writing one needs no key and reading one needs
the desk key, opened through the reader's membership.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import audit
from casework.errors import IllegalTransition, InvalidCaseField
from casework.inbox import member_desk, sync_labels
from casework.models import (
    MAX_TITLE_CHARS,
    Case,
    CaseNote,
    CasePriority,
    CaseStatus,
    CaseSubmission,
)
from casework.risks import RISK_CATEGORIES
from crypto.keys import BoxKeyPair
from crypto.sealing import open_sealed, seal
from filon.accounts import open_desk_key
from filon.custody import event_record
from filon.db import current_hour
from filon.errors import NotFound
from filon.models import Desk, DeskMembership, Submission, SubmissionStatus, User
from filon.submissions import find_submission

CREATED = "case_created"
STATUS = "case_status"
UPDATED = "case_updated"
NOTE = "case_note"
VIEWED = "case_viewed"
SUBMISSIONS_ADDED = "case_submissions_added"

MAX_NOTE_CHARS = 20_000
MAX_SUMMARY_CHARS = 20_000
MAX_LIST_ITEMS = 50
MAX_ITEM_CHARS = 64

_FINDINGS = {CaseStatus.VERIFIED, CaseStatus.UNVERIFIED, CaseStatus.DISMISSED}

# The workflow of DESIGN.md §6: new → triage → investigating → a finding → archived.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset({CaseStatus.TRIAGE}),
    CaseStatus.TRIAGE: frozenset({CaseStatus.INVESTIGATING}),
    CaseStatus.INVESTIGATING: frozenset(_FINDINGS),
    CaseStatus.VERIFIED: frozenset({CaseStatus.ARCHIVED}),
    CaseStatus.UNVERIFIED: frozenset({CaseStatus.ARCHIVED}),
    CaseStatus.DISMISSED: frozenset({CaseStatus.ARCHIVED}),
    CaseStatus.ARCHIVED: frozenset(),
}


@dataclass(frozen=True, repr=False)
class OpenedNote:
    """A case note opened with the desk key."""

    note: CaseNote
    author: str
    text: str


@dataclass(frozen=True, repr=False)
class CaseView:
    """A case as a member reads it: fields, submissions, opened notes and its timeline."""

    case: Case
    desk: Desk
    assignee: User | None
    members: list[User]
    submissions: list[Submission]
    notes: list[OpenedNote]
    timeline: list[dict[str, Any]]


def member_case(session: Session, *, user: User, case_id: int) -> tuple[Case, Desk]:
    """A case, only if the user is a member of its desk (:class:`NotFound` otherwise, alike)."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    desk = session.get(Desk, case.desk_id)
    if desk is None:
        raise NotFound("the case's desk is gone")
    member_desk(session, user=user, slug=desk.slug)
    return case, desk


def desk_cases(session: Session, *, user: User, slug: str) -> tuple[Desk, list[Case]]:
    """A member's view of a desk's cases, most recently changed first."""
    desk = member_desk(session, user=user, slug=slug)
    cases = session.scalars(
        select(Case)
        .where(Case.desk_id == desk.id)
        .order_by(Case.updated_hour.desc(), Case.id.desc())
    )
    return desk, list(cases)


def create_case(session: Session, *, user: User, references: Sequence[str], title: str) -> Case:
    """Open a case on the submissions' desk; they become ``attached`` (retention keeps them)."""
    if not references:
        raise InvalidCaseField("a case needs at least one submission")
    submissions = [_member_submission(session, user=user, reference=r) for r in references]
    desk_ids = {s.desk_id for s in submissions}
    if len(desk_ids) != 1:
        raise InvalidCaseField("a case's submissions must all come from one desk")
    desk = session.get(Desk, desk_ids.pop())
    if desk is None:
        raise NotFound("the submissions' desk is gone")
    now = current_hour()
    case = Case(
        desk_id=desk.id,
        title=_title(title),
        status=CaseStatus.NEW,
        priority=CasePriority.NORMAL,
        summary="",
        minerals=[],
        risk_categories=[],
        tags=[],
        created_hour=now,
        updated_hour=now,
    )
    session.add(case)
    session.flush()
    for submission in {s.id: s for s in submissions}.values():
        session.add(CaseSubmission(case_id=case.id, submission_id=submission.id))
        submission.status = SubmissionStatus.ATTACHED
    _audit(session, desk, user, CREATED, case, submissions=[s.reference for s in submissions])
    return case


def add_submissions(
    session: Session, *, user: User, case_id: int, references: Sequence[str]
) -> list[Submission]:
    """Attach more of the case's desk's submissions to it; those already in it are left be."""
    case, desk = member_case(session, user=user, case_id=case_id)
    submissions = [_member_submission(session, user=user, reference=r) for r in references]
    if any(s.desk_id != desk.id for s in submissions):
        raise InvalidCaseField("a case's submissions must all come from its desk")
    linked = set(
        session.scalars(
            select(CaseSubmission.submission_id).where(CaseSubmission.case_id == case.id)
        )
    )
    added = [s for s in {s.id: s for s in submissions}.values() if s.id not in linked]
    for submission in added:
        session.add(CaseSubmission(case_id=case.id, submission_id=submission.id))
        submission.status = SubmissionStatus.ATTACHED
    if added:
        case.updated_hour = current_hour()
        _audit(
            session, desk, user, SUBMISSIONS_ADDED, case, submissions=[s.reference for s in added]
        )
    return added


def change_status(session: Session, *, user: User, case_id: int, status: CaseStatus) -> Case:
    """Move a case along the workflow; any other move raises :class:`IllegalTransition`."""
    case, desk = member_case(session, user=user, case_id=case_id)
    if status not in TRANSITIONS[case.status]:
        raise IllegalTransition(f"a case cannot go from {case.status} to {status}")
    before = case.status
    case.status = status
    case.updated_hour = current_hour()
    _audit(session, desk, user, STATUS, case, before=str(before), after=str(status))
    return case


def update_case(
    session: Session,
    *,
    user: User,
    case_id: int,
    title: str,
    priority: CasePriority,
    assignee: str | None,
    summary: str,
    minerals: Iterable[str],
    risk_categories: Iterable[str],
    tags: Iterable[str],
) -> Case:
    """Replace a case's editable fields, after checking every one of them."""
    case, desk = member_case(session, user=user, case_id=case_id)
    risks = _items(risk_categories)
    unknown = sorted(set(risks) - set(RISK_CATEGORIES))
    if unknown:
        raise InvalidCaseField(f"unknown risk categories: {', '.join(unknown)}")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise InvalidCaseField(f"a summary has at most {MAX_SUMMARY_CHARS} characters")
    # Every value is checked before any is set: a refused edit changes nothing.
    values = {
        "title": _title(title),
        "priority": priority,
        "assignee_id": _member(session, desk, assignee).id if assignee else None,
        "summary": summary.strip(),
        "minerals": _items(minerals),
        "risk_categories": risks,
        "tags": _items(tags),
    }
    before = case.fields()
    for name, value in values.items():
        setattr(case, name, value)
    sync_labels(session, case)
    after = case.fields()
    changed = sorted(name for name in after if after[name] != before[name])
    if changed:
        case.updated_hour = current_hour()
        _audit(session, desk, user, UPDATED, case, fields=changed)
    return case


def add_note(session: Session, *, user: User, case_id: int, text: str) -> CaseNote:
    """Seal a note to the desk key and record that one was written (not what it says)."""
    case, desk = member_case(session, user=user, case_id=case_id)
    text = text.strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        raise InvalidCaseField(f"a note has 1 to {MAX_NOTE_CHARS} characters")
    note = CaseNote(
        case_id=case.id,
        author_id=user.id,
        sealed_text=seal(text.encode(), desk.public_key),
        created_hour=current_hour(),
    )
    session.add(note)
    session.flush()
    _audit(session, desk, user, NOTE, case, note=note.id)
    return note


def view_case(session: Session, *, user: User, user_key: BoxKeyPair, case_id: int) -> CaseView:
    """A case with its notes opened through the user's membership, and its timeline."""
    case, desk = member_case(session, user=user, case_id=case_id)
    desk_key = open_desk_key(session, desk=desk, user=user, user_key=user_key)
    # The page opens the case's sealed notes: a view of decrypted content is audited.
    _audit(session, desk, user, VIEWED, case)
    submissions = session.scalars(
        select(Submission)
        .join(CaseSubmission, CaseSubmission.submission_id == Submission.id)
        .where(CaseSubmission.case_id == case.id)
        .order_by(Submission.received_hour, Submission.id)
    )
    notes = session.scalars(
        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
    )
    members = list(
        session.scalars(
            select(User)
            .join(DeskMembership, DeskMembership.user_id == User.id)
            .where(DeskMembership.desk_id == desk.id)
            .order_by(User.username)
        )
    )
    names = {m.id: m.username for m in members}
    return CaseView(
        case=case,
        desk=desk,
        assignee=session.get(User, case.assignee_id) if case.assignee_id else None,
        members=members,
        submissions=list(submissions),
        notes=[
            OpenedNote(
                note=n,
                author=names.get(n.author_id or 0, "former member"),
                text=open_sealed(n.sealed_text, desk_key).decode(),
            )
            for n in notes
        ],
        timeline=case_timeline(session, desk, case),
    )


def case_timeline(session: Session, desk: Desk, case: Case) -> list[dict[str, Any]]:
    """The desk's audit events that changed one case, oldest first (views are in the trail)."""
    records = [event_record(e) for e in audit.audit_trail(session, desk)]
    return [
        r
        for r in records
        if r["action"] != VIEWED and json.loads(r["details"]).get("case") == case.id
    ]


def _audit(
    session: Session, desk: Desk, user: User, action: str, case: Case, **details: Any
) -> None:
    audit.record_audit(
        session, desk=desk, user=user, action=action, details={"case": case.id, **details}
    )


def _member_submission(session: Session, *, user: User, reference: str) -> Submission:
    submission, desk = find_submission(session, reference)
    member_desk(session, user=user, slug=desk.slug)  # a non-member finds nothing
    return submission


def _member(session: Session, desk: Desk, username: str) -> User:
    user = session.scalars(
        select(User)
        .join(DeskMembership, DeskMembership.user_id == User.id)
        .where(DeskMembership.desk_id == desk.id, User.username == username)
    ).first()
    if user is None:
        raise InvalidCaseField(f"{username!r} is not a member of this desk")
    return user


def _title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > MAX_TITLE_CHARS:
        raise InvalidCaseField(f"a title has 1 to {MAX_TITLE_CHARS} characters")
    return title


def _items(values: Iterable[str]) -> list[str]:
    items = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(items) > MAX_LIST_ITEMS or any(len(i) > MAX_ITEM_CHARS for i in items):
        raise InvalidCaseField(
            f"at most {MAX_LIST_ITEMS} entries of at most {MAX_ITEM_CHARS} characters each"
        )
    return items
