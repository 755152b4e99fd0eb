"""Cases: created from a desk's submissions, moved through the workflow, annotated, audited.

Every change records an audit event in the caller's transaction, on the desk's chain, with
only investigator-authored values in its details (never source content or note text).
Notes are sealed to the desk public key, so writing one needs no key and reading one needs
the desk key, opened through the reader's membership.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from casework import audit
from casework.errors import IllegalTransition, InvalidCaseField
from casework.inbox import member_desk, sync_labels
from casework.models import (
    MAX_TITLE_CHARS,
    Case,
    CaseEvidence,
    CaseMerge,
    CaseNote,
    CasePriority,
    CaseStatus,
    CaseSubmission,
    Geotag,
)
from casework.risks import RISK_CATEGORIES
from crypto.keys import BoxKeyPair
from crypto.sealing import open_sealed, seal
from filon.accounts import open_desk_key
from filon.custody import event_record
from filon.db import current_hour
from filon.errors import NotFound
from filon.models import (
    CustodyEvent,
    Desk,
    DeskMembership,
    Evidence,
    Submission,
    SubmissionStatus,
    User,
)
from filon.submissions import find_submission

CREATED = "case_created"
STATUS = "case_status"
UPDATED = "case_updated"
NOTE = "case_note"
VIEWED = "case_viewed"
MERGED = "case_merged"  # on the case that gained the other's content
MERGED_INTO = "case_merged_into"  # on the case that became a tombstone
EVIDENCE_LINKED = "case_evidence_linked"
EVIDENCE_UPDATED = "case_evidence_updated"
EVIDENCE_UNLINKED = "case_evidence_unlinked"
SUBMISSIONS_ADDED = "case_submissions_added"

MAX_NOTE_CHARS = 20_000
MAX_SUMMARY_CHARS = 20_000
MAX_LIST_ITEMS = 50
MAX_ITEM_CHARS = 64
MAX_COMMENT_CHARS = 2_000

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
class LinkedEvidence:
    """An evidence file linked to a case, named from its submission's sealed document."""

    link: CaseEvidence
    reference: str
    number: int  # the file's number in its submission, as the submission page shows it
    name: str
    kind: str
    comment: str


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
    evidence: list[LinkedEvidence]
    merged_into: int | None  # set when this case is a tombstone
    merged_from: list[int]
    merge_targets: list[Case]  # the desk's other open cases this one may be merged into


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


def merged_into(session: Session, case: Case) -> int | None:
    """The case a merged case now lives in, or ``None`` for a case still open to changes."""
    return session.scalar(select(CaseMerge.into_case_id).where(CaseMerge.merged_case_id == case.id))


def open_case(session: Session, *, user: User, case_id: int) -> tuple[Case, Desk]:
    """A member's case that can still change: a merged case is a read-only tombstone."""
    case, desk = member_case(session, user=user, case_id=case_id)
    into = merged_into(session, case)
    if into is not None:
        raise InvalidCaseField(f"case {case.id} was merged into case {into}; change that one")
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
    case, desk = open_case(session, user=user, case_id=case_id)
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
    case, desk = open_case(session, user=user, case_id=case_id)
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
    case, desk = open_case(session, user=user, case_id=case_id)
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
    case, desk = open_case(session, user=user, case_id=case_id)
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
    """A case with its notes and evidence comments opened with the desk key, and its timeline."""
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
    into = merged_into(session, case)
    merged_from = list(
        session.scalars(
            select(CaseMerge.merged_case_id)
            .where(CaseMerge.into_case_id == case.id)
            .order_by(CaseMerge.merged_case_id)
        )
    )
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
        timeline=case_timeline(session, desk, case, also=merged_from),
        evidence=_linked_evidence(session, case, desk_key),
        merged_into=into,
        merged_from=merged_from,
        merge_targets=[] if into is not None else _open_cases(session, desk, but=case.id),
    )


def case_timeline(
    session: Session, desk: Desk, case: Case, *, also: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """The desk's audit events that changed one case, oldest first (views are in the trail).

    ``also`` names cases merged into this one: their history is part of this case's now.
    """
    wanted = {case.id, *also}
    # Details are canonical JSON (sorted keys, no spaces), so the database can pick out the
    # few events naming these cases without loading the desk's whole trail; the exact test
    # is then made on the parsed details. The chain itself is verified on the audit page.
    mentions = [
        CustodyEvent.details.contains(f'"case":{number}{end}', autoescape=True)
        for number in sorted(wanted)
        for end in (",", "}")
    ]
    events = session.scalars(
        select(CustodyEvent)
        .where(
            CustodyEvent.subject == audit.subject(desk),
            CustodyEvent.action != VIEWED,
            or_(*mentions),
        )
        .order_by(CustodyEvent.seq)
    )
    return [event_record(e) for e in events if json.loads(e.details).get("case") in wanted]


def merge_cases(
    session: Session, *, user: User, user_key: BoxKeyPair, case_id: int, into_id: int
) -> Case:
    """Merge case ``case_id`` into ``into_id`` of the same desk; the first becomes a tombstone.

    The target gains the merged case's submissions, evidence links, notes (moved, still
    sealed) and labels (a union). The merged case keeps its row, archived, with a
    :class:`CaseMerge` pointing at the target, so its address and history stay readable.
    """
    if case_id == into_id:
        raise InvalidCaseField("a case cannot be merged into itself")
    merged, desk = open_case(session, user=user, case_id=case_id)
    target, target_desk = open_case(session, user=user, case_id=into_id)
    if target_desk.id != desk.id:
        raise InvalidCaseField("only cases of the same desk can be merged")
    # Every union is checked before anything moves: a refused merge changes nothing.
    labels = {
        name: _items([*getattr(target, name), *getattr(merged, name)])
        for name in ("minerals", "risk_categories", "tags")
    }
    moved = _move_submissions(session, merged, target)
    evidence = _move_evidence(
        session,
        merged,
        target,
        desk,
        lambda: open_desk_key(session, desk=desk, user=user, user_key=user_key),
    )
    notes = session.execute(
        update(CaseNote).where(CaseNote.case_id == merged.id).values(case_id=target.id)
    ).rowcount  # type: ignore[attr-defined]
    # The places of the merged case are the target's now: a tombstone's geotag could not change.
    session.execute(update(Geotag).where(Geotag.case_id == merged.id).values(case_id=target.id))
    # Cases merged into this one earlier now point at the target, so no chain of tombstones.
    session.execute(
        update(CaseMerge).where(CaseMerge.into_case_id == merged.id).values(into_case_id=target.id)
    )
    now = current_hour()
    session.add(
        CaseMerge(
            merged_case_id=merged.id, into_case_id=target.id, merged_by_id=user.id, merged_hour=now
        )
    )
    for name, value in labels.items():
        setattr(target, name, value)
    before = merged.status
    merged.status = CaseStatus.ARCHIVED
    merged.updated_hour = target.updated_hour = now
    session.flush()
    sync_labels(session, target)  # the inbox filters on the union at once
    _audit(
        session,
        desk,
        user,
        MERGED,
        target,
        merged=merged.id,
        submissions=moved,
        evidence=evidence,
        notes=notes,
    )
    _audit(session, desk, user, MERGED_INTO, merged, into=target.id, before=str(before))
    return target


def _move_submissions(session: Session, merged: Case, target: Case) -> list[str]:
    """Re-link the merged case's submissions to the target; the references that moved."""
    have = set(
        session.scalars(
            select(CaseSubmission.submission_id).where(CaseSubmission.case_id == target.id)
        )
    )
    moved = []
    for link in session.scalars(select(CaseSubmission).where(CaseSubmission.case_id == merged.id)):
        if link.submission_id in have:
            session.delete(link)
        else:
            link.case_id = target.id
            moved.append(link.submission_id)
    session.flush()
    if not moved:
        return []
    return list(
        session.scalars(
            select(Submission.reference).where(Submission.id.in_(moved)).order_by(Submission.id)
        )
    )


def _move_evidence(
    session: Session,
    merged: Case,
    target: Case,
    desk: Desk,
    desk_key: Callable[[], BoxKeyPair],
) -> int:
    """Re-link the merged case's evidence links; a file linked to both keeps both comments."""
    existing = {
        link.evidence_id: link
        for link in session.scalars(select(CaseEvidence).where(CaseEvidence.case_id == target.id))
    }
    moved = 0
    for link in session.scalars(select(CaseEvidence).where(CaseEvidence.case_id == merged.id)):
        twin = existing.get(link.evidence_id)
        if twin is None:
            link.case_id = target.id
            moved += 1
            continue
        if link.sealed_comment is not None:
            if twin.sealed_comment is None:
                twin.sealed_comment = link.sealed_comment
            else:
                key = desk_key()
                joined = (
                    open_sealed(twin.sealed_comment, key).decode()
                    + f"\n\n(from case {merged.id}) "
                    + open_sealed(link.sealed_comment, key).decode()
                )
                twin.sealed_comment = seal(joined.encode(), desk.public_key)
        session.delete(link)
    session.flush()
    return moved


def link_evidence(
    session: Session, *, user: User, case_id: int, reference: str, number: int, comment: str
) -> CaseEvidence:
    """Link one file of a desk's submission to a case, with an optional sealed comment.

    The submission becomes ``attached``, so retention keeps the file while a case uses it.
    """
    case, desk = open_case(session, user=user, case_id=case_id)
    submission, evidence = _desk_file(session, desk, reference, number)
    sealed_comment = _sealed_comment(comment, desk)
    found = session.scalars(
        select(CaseEvidence).where(
            CaseEvidence.case_id == case.id, CaseEvidence.evidence_id == evidence.id
        )
    ).first()
    if found is not None:
        raise InvalidCaseField(f"file {number} of {submission.reference} is already linked")
    link = CaseEvidence(
        case_id=case.id,
        evidence_id=evidence.id,
        sealed_comment=sealed_comment,
        linked_by_id=user.id,
        created_hour=current_hour(),
    )
    session.add(link)
    submission.status = SubmissionStatus.ATTACHED
    case.updated_hour = current_hour()
    session.flush()
    _audit(
        session,
        desk,
        user,
        EVIDENCE_LINKED,
        case,
        link=link.id,
        submission=submission.reference,
        file=number,
        comment=link.sealed_comment is not None,
    )
    return link


def comment_evidence(
    session: Session, *, user: User, case_id: int, link_id: int, comment: str
) -> CaseEvidence:
    """Replace (or clear) the sealed comment of an evidence link."""
    case, desk = open_case(session, user=user, case_id=case_id)
    link = _case_link(session, case, link_id)
    link.sealed_comment = _sealed_comment(comment, desk)
    case.updated_hour = current_hour()
    _audit(
        session,
        desk,
        user,
        EVIDENCE_UPDATED,
        case,
        link=link.id,
        comment=link.sealed_comment is not None,
    )
    return link


def unlink_evidence(session: Session, *, user: User, case_id: int, link_id: int) -> None:
    """Remove an evidence link (the file itself stays with its submission)."""
    case, desk = open_case(session, user=user, case_id=case_id)
    link = _case_link(session, case, link_id)
    session.delete(link)
    case.updated_hour = current_hour()
    _audit(session, desk, user, EVIDENCE_UNLINKED, case, link=link_id)


def open_desk_cases(session: Session, *, user: User, slug: str) -> list[Case]:
    """A member's cases of a desk that can still take evidence (not merged away)."""
    desk = member_desk(session, user=user, slug=slug)
    return _open_cases(session, desk, but=None)


def _open_cases(session: Session, desk: Desk, *, but: int | None) -> list[Case]:
    merged = select(CaseMerge.merged_case_id)
    query = select(Case).where(Case.desk_id == desk.id, Case.id.not_in(merged))
    if but is not None:
        query = query.where(Case.id != but)
    return list(session.scalars(query.order_by(Case.id.desc())))


def _case_link(session: Session, case: Case, link_id: int) -> CaseEvidence:
    link = session.get(CaseEvidence, link_id)
    if link is None or link.case_id != case.id:
        raise NotFound(f"case {case.id} has no evidence link {link_id}")
    return link


def _desk_file(
    session: Session, desk: Desk, reference: str, number: int
) -> tuple[Submission, Evidence]:
    submission, submission_desk = find_submission(session, reference)
    if submission_desk.id != desk.id:
        # Said the same way as a missing one: the case's members may not belong to that desk.
        raise NotFound(f"no submission has the receipt {reference!r}")
    files = _submission_files(session, submission.id)
    if not 1 <= number <= len(files):
        raise InvalidCaseField(f"the submission has no file {number}")
    return submission, files[number - 1]


def _submission_files(session: Session, submission_id: int) -> list[Evidence]:
    return list(
        session.scalars(
            select(Evidence).where(Evidence.submission_id == submission_id).order_by(Evidence.id)
        )
    )


def _sealed_comment(comment: str, desk: Desk) -> bytes | None:
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidCaseField(f"a comment has at most {MAX_COMMENT_CHARS} characters")
    return seal(comment.encode(), desk.public_key) if comment else None


def _linked_evidence(session: Session, case: Case, desk_key: BoxKeyPair) -> list[LinkedEvidence]:
    """The case's evidence links, each named from its submission's sealed document."""
    rows = session.execute(
        select(CaseEvidence, Evidence, Submission)
        .join(Evidence, Evidence.id == CaseEvidence.evidence_id)
        .join(Submission, Submission.id == Evidence.submission_id)
        .where(CaseEvidence.case_id == case.id)
        .order_by(CaseEvidence.id)
    ).all()
    documents: dict[int, tuple[list[int], list[dict[str, Any]]]] = {}
    linked = []
    for link, evidence, submission in rows:
        if submission.id not in documents:
            document = json.loads(open_sealed(submission.sealed_metadata, desk_key))
            ids = [e.id for e in _submission_files(session, submission.id)]
            documents[submission.id] = (ids, list(document.get("files", [])))
        ids, reports = documents[submission.id]
        number = ids.index(evidence.id) + 1
        report = reports[number - 1] if number <= len(reports) else {}
        linked.append(
            LinkedEvidence(
                link=link,
                reference=submission.reference,
                number=number,
                name=str(report.get("name", "")),
                kind=evidence.kind,
                comment=(
                    open_sealed(link.sealed_comment, desk_key).decode()
                    if link.sealed_comment is not None
                    else ""
                ),
            )
        )
    return linked


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
