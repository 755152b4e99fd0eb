"""Cases: made from submissions, moved through the workflow, edited, annotated, audited.

Runs on SQLite and PostgreSQL. Notes are sealed to the desk key: only a member can read them,
and their text never reaches the database, the audit trail or a non-member's page.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import cases
from casework.errors import IllegalTransition, InvalidCaseField
from casework.models import Case, CaseNote, CasePriority, CaseStatus
from crypto.keys import BoxKeyPair
from filon.accounts import DeskGrant, get_user, unlock_user_key
from filon.db import transaction
from filon.desks import get_desk
from filon.errors import NotFound
from filon.instance import Instance
from filon.models import CustodyEvent, Submission, SubmissionStatus, User
from filon.retention import expired
from intake.demo import seed_submissions
from tests.conftest import STAFF_PASSWORD, Staff, StaffAccount, csrf_token, make_account

NOTE = "Met the cooperative's treasurer at the depot; he confirmed the second ledger."

S = CaseStatus
ALLOWED = [
    (S.NEW, S.TRIAGE),
    (S.TRIAGE, S.INVESTIGATING),
    (S.INVESTIGATING, S.VERIFIED),
    (S.INVESTIGATING, S.UNVERIFIED),
    (S.INVESTIGATING, S.DISMISSED),
    (S.VERIFIED, S.ARCHIVED),
    (S.UNVERIFIED, S.ARCHIVED),
    (S.DISMISSED, S.ARCHIVED),
]
FORBIDDEN = [(a, b) for a in CaseStatus for b in CaseStatus if (a, b) not in ALLOWED]
# The path from ``new`` to each status, to put a case there.
PATHS = {
    S.NEW: [],
    S.TRIAGE: [S.TRIAGE],
    S.INVESTIGATING: [S.TRIAGE, S.INVESTIGATING],
    S.VERIFIED: [S.TRIAGE, S.INVESTIGATING, S.VERIFIED],
    S.UNVERIFIED: [S.TRIAGE, S.INVESTIGATING, S.UNVERIFIED],
    S.DISMISSED: [S.TRIAGE, S.INVESTIGATING, S.DISMISSED],
    S.ARCHIVED: [S.TRIAGE, S.INVESTIGATING, S.VERIFIED, S.ARCHIVED],
}


@pytest.fixture
def receipts(instance: Instance, investigator: StaffAccount) -> list[str]:
    """The demo's two submissions to ``drc-minerals``, oldest first."""
    return [outcome.receipt for outcome in seed_submissions(instance, "drc-minerals")]


def user(session: Session, username: str = "investigator") -> User:
    return get_user(session, username)


def new_case(instance: Instance, receipts: list[str], title: str = "Coltan at Rubaya") -> int:
    with transaction(instance.sessions) as session:
        return cases.create_case(session, user=user(session), references=receipts, title=title).id


def audit_details(instance: Instance) -> list[tuple[str, dict[str, Any]]]:
    with instance.sessions() as session:
        events = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == "audit:drc-minerals")
            .order_by(CustodyEvent.seq)
        )
        return [(e.action, json.loads(e.details)) for e in events]


def update_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": "Coltan at Rubaya",
        "priority": CasePriority.HIGH,
        "assignee": "investigator",
        "summary": "Two sources describe taxation at the Rubaya pits.",
        "minerals": ["coltan", "cassiterite"],
        "risk_categories": ["armed_groups", "taxes"],
        "tags": ["rubaya", "north-kivu"],
    }
    return {**fields, **changes}


# -- creating ---------------------------------------------------------------------------------


def test_case_from_submissions_attaches_them_and_retention_keeps_them(
    instance: Instance, receipts: list[str]
) -> None:
    case_id = new_case(instance, receipts[:1])
    with transaction(instance.sessions) as session:
        desk = get_desk(session, "drc-minerals")
        desk.retention_days = 1
    with instance.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.priority) == (CaseStatus.NEW, CasePriority.NORMAL)
        statuses = dict(session.execute(select(Submission.reference, Submission.status)).all())
        assert statuses[receipts[0]] is SubmissionStatus.ATTACHED
        assert statuses[receipts[1]] is not SubmissionStatus.ATTACHED
        later = dt.datetime.now() + dt.timedelta(days=30)
        assert [e.reference for e in expired(session, now=later)] == [receipts[1]]
    assert audit_details(instance)[-1] == (
        "case_created",
        {"case": case_id, "submissions": [receipts[0]]},
    )


def test_case_from_several_submissions_links_each(instance: Instance, receipts: list[str]) -> None:
    case_id = new_case(instance, receipts)
    with transaction(instance.sessions) as session:
        view = cases.view_case(
            session,
            user=user(session),
            user_key=unlock_user_key(user(session), STAFF_PASSWORD),
            case_id=case_id,
        )
        assert [s.reference for s in view.submissions] == receipts


def test_a_non_member_cannot_make_a_case(instance: Instance, receipts: list[str]) -> None:
    make_account(instance, "outsider", "investigator")
    with pytest.raises(NotFound), transaction(instance.sessions) as session:
        cases.create_case(
            session, user=user(session, "outsider"), references=receipts[:1], title="Mine"
        )


@pytest.mark.parametrize(
    ("title", "message"),
    [("", "a title has 1 to 200"), ("x" * 201, "a title has 1 to 200")],
)
def test_case_title_is_checked(
    instance: Instance, receipts: list[str], title: str, message: str
) -> None:
    with pytest.raises(InvalidCaseField, match=message):
        new_case(instance, receipts[:1], title=title)


# -- the workflow -----------------------------------------------------------------------------


def move(instance: Instance, case_id: int, *statuses: CaseStatus) -> None:
    for status in statuses:
        with transaction(instance.sessions) as session:
            cases.change_status(session, user=user(session), case_id=case_id, status=status)


def test_transition_table_is_the_design(instance: Instance) -> None:
    allowed = {(a, b) for a, targets in cases.TRANSITIONS.items() for b in targets}
    assert allowed == set(ALLOWED)


@pytest.mark.parametrize(("start", "end"), ALLOWED)
def test_allowed_transitions(
    instance: Instance, receipts: list[str], start: CaseStatus, end: CaseStatus
) -> None:
    case_id = new_case(instance, receipts[:1])
    move(instance, case_id, *PATHS[start], end)
    with instance.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.status is end
    action, details = audit_details(instance)[-1]
    assert (action, details) == ("case_status", {"case": case_id, "before": start, "after": end})


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (S.NEW, S.INVESTIGATING),
        (S.NEW, S.VERIFIED),
        (S.NEW, S.ARCHIVED),
        (S.NEW, S.NEW),
        (S.TRIAGE, S.NEW),
        (S.TRIAGE, S.DISMISSED),
        (S.INVESTIGATING, S.ARCHIVED),
        (S.VERIFIED, S.UNVERIFIED),
        (S.DISMISSED, S.INVESTIGATING),
        (S.ARCHIVED, S.NEW),
        (S.ARCHIVED, S.INVESTIGATING),
    ],
)
def test_forbidden_transitions(
    instance: Instance, receipts: list[str], start: CaseStatus, end: CaseStatus
) -> None:
    assert (start, end) in FORBIDDEN
    case_id = new_case(instance, receipts[:1])
    move(instance, case_id, *PATHS[start])
    events = len(audit_details(instance))
    with pytest.raises(IllegalTransition, match=f"from {start} to {end}"):
        move(instance, case_id, end)
    with instance.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.status is start
    assert len(audit_details(instance)) == events  # nothing happened, nothing recorded


# -- fields -------------------------------------------------------------------------------------


def test_update_case_fields_and_audit_names_what_changed(
    instance: Instance, receipts: list[str]
) -> None:
    case_id = new_case(instance, receipts[:1])
    with transaction(instance.sessions) as session:
        cases.update_case(session, user=user(session), case_id=case_id, **update_fields())
    with instance.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.priority is CasePriority.HIGH
        assert case.assignee_id == user(session).id
        assert case.minerals == ["coltan", "cassiterite"]
        assert case.risk_categories == ["armed_groups", "taxes"]
        assert case.tags == ["rubaya", "north-kivu"]
    action, details = audit_details(instance)[-1]
    assert action == "case_updated"
    assert details == {
        "case": case_id,
        "fields": ["assignee_id", "minerals", "priority", "risk_categories", "summary", "tags"],
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"risk_categories": ["armed_groups", "alien_abduction"]}, "unknown risk categories"),
        ({"assignee": "outsider"}, "'outsider' is not a member of this desk"),
        ({"assignee": "nobody-at-all"}, "is not a member of this desk"),
        ({"title": "x" * 201}, "a title has 1 to 200"),
        ({"title": "   "}, "a title has 1 to 200"),
        ({"tags": [f"t{n}" for n in range(51)]}, "at most 50 entries"),
        ({"minerals": ["m" * 65]}, "at most 64 characters"),
    ],
)
def test_update_case_validation(
    instance: Instance, receipts: list[str], changes: dict[str, Any], message: str
) -> None:
    make_account(instance, "outsider", "investigator")
    case_id = new_case(instance, receipts[:1])
    with pytest.raises(InvalidCaseField, match=message), transaction(instance.sessions) as session:
        cases.update_case(session, user=user(session), case_id=case_id, **update_fields(**changes))
    with instance.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.risk_categories == []
        assert case.assignee_id is None


# -- notes --------------------------------------------------------------------------------------


def add_member(instance: Instance, username: str) -> StaffAccount:
    """A second investigator of the desk, granted the desk key by the first."""
    from filon.accounts import create_user, open_desk_key
    from filon.models import Role

    with transaction(instance.sessions) as session:
        desk = get_desk(session, "drc-minerals")
        first = user(session)
        key: BoxKeyPair = open_desk_key(
            session, desk=desk, user=first, user_key=unlock_user_key(first, STAFF_PASSWORD)
        )
        made = create_user(
            session,
            username=username,
            role=Role.INVESTIGATOR,
            password=STAFF_PASSWORD,
            grants=[DeskGrant(desk, key)],
        )
    return StaffAccount(username, STAFF_PASSWORD, made.totp_secret)


def test_note_is_sealed_and_readable_by_every_member(
    instance: Instance, receipts: list[str]
) -> None:
    add_member(instance, "colleague")
    case_id = new_case(instance, receipts[:1])
    with transaction(instance.sessions) as session:
        note_id = cases.add_note(session, user=user(session), case_id=case_id, text=NOTE).id
    with instance.sessions() as session:
        stored = session.get(CaseNote, note_id)
        assert stored is not None
        assert NOTE.encode() not in stored.sealed_text
        colleague = user(session, "colleague")
        view = cases.view_case(
            session,
            user=colleague,
            user_key=unlock_user_key(colleague, STAFF_PASSWORD),
            case_id=case_id,
        )
        assert [(n.author, n.text) for n in view.notes] == [("investigator", NOTE)]
        assert [e["action"] for e in view.timeline] == ["case_created", "case_note"]
    assert ("case_note", {"case": case_id, "note": note_id}) in audit_details(instance)
    assert NOTE not in json.dumps(audit_details(instance))


def test_note_plaintext_is_nowhere_in_the_database(instance: Instance, receipts: list[str]) -> None:
    case_id = new_case(instance, receipts[:1])
    with transaction(instance.sessions) as session:
        cases.add_note(session, user=user(session), case_id=case_id, text=NOTE)
    with instance.sessions() as session:
        for table in ("case_notes", "cases", "custody_events"):
            rows = session.execute(select(Case.metadata.tables[table])).all()
            assert NOTE.encode() not in repr(rows).encode()
            assert NOTE not in repr(rows)


def test_a_non_member_cannot_read_or_annotate_a_case(
    instance: Instance, receipts: list[str]
) -> None:
    make_account(instance, "outsider", "investigator")
    case_id = new_case(instance, receipts[:1])
    with transaction(instance.sessions) as session:
        outsider = user(session, "outsider")
        with pytest.raises(NotFound):
            cases.view_case(
                session,
                user=outsider,
                user_key=unlock_user_key(outsider, STAFF_PASSWORD),
                case_id=case_id,
            )
        with pytest.raises(NotFound):
            cases.add_note(session, user=outsider, case_id=case_id, text=NOTE)
        with pytest.raises(NotFound):
            cases.change_status(session, user=outsider, case_id=case_id, status=S.TRIAGE)


# -- through the browser ------------------------------------------------------------------------


def test_case_made_edited_and_annotated_in_the_browser(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    staff.log_in()
    client = staff.client
    page = client.get(f"/submissions/{receipts[0]}").get_data(as_text=True)
    assert "Create a case" in page
    assert "/cases" in client.get("/desks/drc-minerals").get_data(as_text=True)
    token = csrf_token(client)
    made = client.post(
        f"/submissions/{receipts[0]}/case", data={"csrf_token": token, "title": "Rubaya taxes"}
    )
    assert made.status_code == 303
    location = made.headers["Location"]
    assert location.startswith("/cases/")
    response = client.post(f"{location}/status", data={"csrf_token": token, "status": "triage"})
    assert response.status_code == 303
    refused = client.post(f"{location}/status", data={"csrf_token": token, "status": "archived"})
    assert refused.status_code == 400
    assert "cannot go from triage to archived" in refused.get_data(as_text=True)
    response = client.post(
        location,
        data={
            "csrf_token": token,
            "title": "Rubaya taxes",
            "priority": "urgent",
            "assignee": "investigator",
            "summary": "Levies at the pits.",
            "minerals": "coltan, cassiterite",
            "risk_categories": ["armed_groups", "taxes"],
            "tags": "rubaya",
        },
    )
    assert response.status_code == 303
    bad = client.post(
        location,
        data={"csrf_token": token, "title": "t", "priority": "low", "risk_categories": ["x"]},
    )
    assert bad.status_code == 400
    assert "unknown risk categories: x" in bad.get_data(as_text=True)
    note = client.post(f"{location}/notes", data={"csrf_token": token, "text": NOTE})
    assert note.status_code == 303
    page = client.get(location).get_data(as_text=True)
    for shown in (
        "Rubaya taxes",
        "urgent",
        "coltan, cassiterite",
        "Direct or indirect support to non-state armed groups",
        receipts[0],
        "Met the cooperative&#39;s treasurer",
        "case_status",
        "case_updated",
        "case_note",
        "Move to investigating",
    ):
        assert shown in page, shown
    listing = client.get("/desks/drc-minerals/cases").get_data(as_text=True)
    assert "Rubaya taxes" in listing
    assert "armed_groups, taxes" in listing
