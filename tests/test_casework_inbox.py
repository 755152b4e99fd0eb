"""The inbox of a large desk: filters, case search, seek paging, saved searches, bulk actions.

Runs on SQLite and PostgreSQL. Submissions are made as rows (the inbox opens none of them);
cases are made and edited through :mod:`casework.cases`, so the label index is kept in step by
the same code as in production. Search reads investigator-written text only: the words a source
wrote are sealed and never match.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework import cases
from casework.models import Case, CasePriority, CaseSubmission
from filon.accounts import DeskGrant, create_user, get_user, open_desk_key, unlock_user_key
from filon.db import transaction
from filon.desks import create_desk, get_desk
from filon.instance import Instance
from filon.models import (
    CleaningStatus,
    CustodyEvent,
    Evidence,
    Role,
    Source,
    Submission,
    SubmissionStatus,
)
from intake.demo import SAMPLES, seed_submissions
from tests.conftest import STAFF_PASSWORD, Staff, StaffAccount, csrf_token, make_account

INBOX = "/desks/drc-minerals"
PICKED = re.compile(r'name="submission" value="([^"]+)"')
START = dt.datetime(2026, 3, 1, 6)
N, R, D = SubmissionStatus.NEW, SubmissionStatus.READ, SubmissionStatus.DISMISSED
NC, CL, NTC = CleaningStatus.NOT_CLEANED, CleaningStatus.CLEANED, CleaningStatus.NOTHING_TO_CLEAN

# (reference, status, files): the n-th arrives n × 12 hours after START (A00 on 1 March).
ROWS: list[tuple[str, SubmissionStatus, list[CleaningStatus]]] = [
    ("A00", N, [CL]),
    ("A01", R, [CL, NC]),
    ("A02", N, [NTC]),
    ("A03", D, []),
    ("A04", N, [NC]),
    ("A05", R, [CL, CL]),
    ("A06", N, [CL]),
    ("A07", D, [NC, NTC]),
]
ALL = {r[0] for r in ROWS}

# Cases: (title, summary, refs, priority, assignee, minerals, risks, tags).
CASES: list[tuple[str, str, list[str], CasePriority, str | None, list[str], list[str], list[str]]]
CASES = [
    (
        "Rubaya levies",
        "Armed men tax the diggers at the washing site.",
        ["A00", "A01"],
        CasePriority.URGENT,
        "colleague",
        ["Coltan"],
        ["taxes", "armed_groups"],
        ["rubaya", "North-Kivu"],
    ),
    (
        "Bisie tin",
        "Children seen at the pits.",
        ["A02"],
        CasePriority.HIGH,
        "investigator",
        ["cassiterite"],
        ["child_labour"],
        ["walikale", "Night-Trucks"],
    ),
    (
        "Gold 100% through Kampala",
        "",
        ["A01", "A06"],
        CasePriority.LOW,
        None,
        ["gold"],
        ["money_laundering"],
        [],
    ),
]


@dataclass(frozen=True)
class World:
    """A desk with the rows above, three cases, a colleague, and an outsider's desk."""

    case_ids: list[int]
    other_ref: str
    other_case: int
    colleague: StaffAccount
    outsider: StaffAccount


def add_submissions(
    instance: Instance,
    slug: str,
    rows: Sequence[tuple[str, SubmissionStatus, list[CleaningStatus]]],
    *,
    hours: int = 12,
) -> None:
    """Submission rows (with evidence rows) on a desk, ``hours`` apart from START."""
    with transaction(instance.sessions) as session:
        desk = get_desk(session, slug)
        source = Source(
            lookup_hash=f"{slug:f<64}"[:64], public_key=b"\x01" * 32, last_seen_day=START.date()
        )
        session.add(source)
        session.flush()
        for n, (reference, status, files) in enumerate(rows):
            submission = Submission(
                reference=reference,
                desk_id=desk.id,
                source_id=source.id,
                received_hour=START + dt.timedelta(hours=hours * n),
                sealed_metadata=b"\x00" * 64,
                status=status,
            )
            session.add(submission)
            session.flush()
            for k, cleaning in enumerate(files):
                session.add(
                    Evidence(
                        submission_id=submission.id,
                        blob_id=f"{reference}-{k}",
                        sealed_file_key=b"\x00" * 80,
                        cleaning_status=cleaning,
                        kind="image",
                        ciphertext_size=100,
                    )
                )


def make_case(instance: Instance, username: str, spec: tuple[Any, ...]) -> int:
    title, summary, refs, priority, assignee, minerals, risks, tags = spec
    with transaction(instance.sessions) as session:
        user = get_user(session, username)
        case = cases.create_case(session, user=user, references=refs, title=title)
        cases.update_case(
            session,
            user=user,
            case_id=case.id,
            title=title,
            priority=priority,
            assignee=assignee,
            summary=summary,
            minerals=minerals,
            risk_categories=risks,
            tags=tags,
        )
        return case.id


@pytest.fixture
def world(instance: Instance, investigator: StaffAccount) -> World:
    with transaction(instance.sessions) as session:
        me = get_user(session, investigator.username)
        desk = get_desk(session, "drc-minerals")
        key = open_desk_key(
            session, desk=desk, user=me, user_key=unlock_user_key(me, STAFF_PASSWORD)
        )
        made = create_user(
            session,
            username="colleague",
            role=Role.INVESTIGATOR,
            password=STAFF_PASSWORD,
            grants=[DeskGrant(desk, key)],
        )
        colleague = StaffAccount("colleague", STAFF_PASSWORD, made.totp_secret)
    outsider = make_account(instance, "outsider", "investigator")
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="other-desk",
            name="Other desk",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(get_user(session, "outsider"), True)],
        )
    add_submissions(instance, "drc-minerals", ROWS)
    add_submissions(instance, "other-desk", [("B00", N, [])])
    case_ids = [make_case(instance, "investigator", spec) for spec in CASES]
    other_case = make_case(
        instance,
        "outsider",
        ("Elsewhere", "", ["B00"], CasePriority.URGENT, None, ["coltan"], ["taxes"], ["rubaya"]),
    )
    return World(case_ids, "B00", other_case, colleague, outsider)


def signed_in(app: Flask, account: StaffAccount) -> Staff:
    staff = Staff(app.test_client(), account)
    assert staff.log_in().status_code == 303
    return staff


@pytest.fixture
def me(casework_app: Flask, investigator: StaffAccount, world: World) -> Staff:
    return signed_in(casework_app, investigator)


def listed(client: FlaskClient, query: str = "") -> list[str]:
    """The receipts the inbox shows for a query string, in order (one page)."""
    response = client.get(f"{INBOX}?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return PICKED.findall(response.get_data(as_text=True))


def statuses(instance: Instance) -> dict[str, SubmissionStatus]:
    with instance.sessions() as session:
        rows = session.execute(select(Submission.reference, Submission.status)).all()
        return {row.reference: row.status for row in rows}


def audit_events(
    instance: Instance, slug: str = "drc-minerals"
) -> list[tuple[str, dict[str, Any]]]:
    with instance.sessions() as session:
        events = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == f"audit:{slug}")
            .order_by(CustodyEvent.seq)
        )
        return [(e.action, json.loads(e.details)) for e in events]


# -- filters ------------------------------------------------------------------------------------


def test_unfiltered_inbox_lists_every_submission_of_the_desk_newest_first(me: Staff) -> None:
    assert "8 submissions" in me.client.get(INBOX).get_data(as_text=True)
    assert "2 submissions matching" in me.client.get(f"{INBOX}?tag=rubaya").get_data(as_text=True)
    shown = listed(me.client)
    assert shown == sorted(ALL, reverse=True)  # A07 arrived last
    assert "B00" not in shown


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Statuses after the cases were made: A00, A01, A02 and A06 are attached.
        ("status=new", {"A04"}),
        ("status=attached", {"A00", "A01", "A02", "A06"}),
        ("status=dismissed", {"A03", "A07"}),
        ("status=read", {"A05"}),
        ("priority=urgent", {"A00", "A01"}),
        ("priority=low", {"A01", "A06"}),
        ("priority=normal", set()),
        ("assignee=colleague", {"A00", "A01"}),
        ("assignee=investigator", {"A02"}),
        ("tag=rubaya", {"A00", "A01"}),
        ("tag=north-kivu", {"A00", "A01"}),  # tags match without regard to case
        ("tag=NIGHT-TRUCKS", {"A02"}),
        ("tag=kivu", set()),  # a tag filter is the whole tag, not a part of it
        ("mineral=coltan", {"A00", "A01"}),
        ("mineral=gold", {"A01", "A06"}),
        ("risk=child_labour", {"A02"}),
        ("risk=money_laundering", {"A01", "A06"}),
        ("risk=torture", set()),
        ("from=2026-03-03", {"A04", "A05", "A06", "A07"}),  # A04 at 06:00 on 3 March
        ("to=2026-03-02", {"A00", "A01", "A02", "A03"}),
        ("from=2026-03-02&to=2026-03-02", {"A02", "A03"}),
        ("cleaning=not_cleaned", {"A01", "A04", "A07"}),
        ("cleaning=cleaned", {"A00", "A02", "A03", "A05", "A06"}),
    ],
)
def test_each_filter_narrows(me: Staff, query: str, expected: set[str]) -> None:
    assert set(listed(me.client, query)) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mineral=gold&status=attached&cleaning=not_cleaned", {"A01"}),
        ("mineral=gold&to=2026-03-02", {"A01"}),
        ("priority=low&risk=money_laundering&from=2026-03-03", {"A06"}),
        ("status=new&mineral=coltan", set()),
        # One case must match every case filter: A01 is in an urgent coltan case and in a low
        # gold case, but in no urgent gold case.
        ("priority=urgent&mineral=gold", set()),
        ("priority=urgent&mineral=coltan&risk=taxes&tag=rubaya", {"A00", "A01"}),
        ("q=kampala&priority=low", {"A01", "A06"}),
        ("q=kampala&priority=urgent", set()),
    ],
)
def test_filters_combine_with_and(me: Staff, query: str, expected: set[str]) -> None:
    assert set(listed(me.client, query)) == expected


def test_a_label_filter_follows_the_case_when_its_lists_change(
    me: Staff, instance: Instance, world: World
) -> None:
    assert set(listed(me.client, "tag=rubaya")) == {"A00", "A01"}
    with transaction(instance.sessions) as session:
        case = session.get(Case, world.case_ids[0])
        assert case is not None
        cases.update_case(
            session,
            user=get_user(session, "investigator"),
            case_id=case.id,
            title=case.title,
            priority=case.priority,
            assignee=None,
            summary=case.summary,
            minerals=["Tantalum"],
            risk_categories=[],
            tags=["masisi"],
        )
    assert listed(me.client, "tag=rubaya") == []
    assert listed(me.client, "mineral=coltan") == []
    assert set(listed(me.client, "mineral=tantalum")) == {"A00", "A01"}
    assert set(listed(me.client, "tag=masisi")) == {"A00", "A01"}


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "priority=extreme",
        "assignee=nobody",
        "assignee=outsider",  # a real user, but not a member of this desk
        "risk=alien_abduction",
        "cleaning=maybe",
        "from=2026-02-30",
        "to=yesterday",
        "from=2026-03-05&to=2026-03-01",
        "tag=" + "x" * 65,
        "mineral=" + "x" * 65,
        "q=" + "x" * 201,
        "before=nonsense",
        "before=2026023199-5",  # no such hour
        "before=2026030106-99999999999",  # past any id the database can hold
        "after=2026030106-x",
        "before=2026030106-1&after=2026030106-2",
    ],
)
def test_bad_filter_values_are_refused(me: Staff, query: str) -> None:
    assert me.client.get(f"{INBOX}?{query}").status_code == 400


def test_unknown_parameters_are_ignored(me: Staff) -> None:
    assert set(listed(me.client, "page=3&colour=red")) == ALL


# -- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("RUBAYA", {"A00", "A01"}),  # a title, any case
        ("diggers", {"A00", "A01"}),  # a summary
        ("night-tr", {"A02"}),  # part of a tag
        ("walikale", {"A02"}),
        ("100%", {"A01", "A06"}),  # LIKE's wildcards are plain characters here
        ("%", {"A01", "A06"}),
        ("_", set()),
        ("nothing like this", set()),
    ],
)
def test_search_reads_titles_summaries_and_tags(me: Staff, q: str, expected: set[str]) -> None:
    assert set(listed(me.client, f"q={q.replace('%', '%25')}")) == expected


def test_search_never_matches_what_a_source_wrote(
    staff: Staff, instance: Instance, investigator: StaffAccount
) -> None:
    receipts = [o.receipt for o in seed_submissions(instance, "drc-minerals")]
    with transaction(instance.sessions) as session:
        cases.create_case(
            session,
            user=get_user(session, "investigator"),
            references=receipts[:1],
            title="Washing site",
        )
    staff.log_in()
    assert listed(staff.client, "q=washing") == [receipts[0]]  # the case's own title matches
    for sample in SAMPLES:
        for text in sample.answers.values():
            for word in {w for w in re.findall(r"\w{6,}", text) if "washing" not in w.lower()}:
                assert listed(staff.client, f"q={word}") == [], word


# -- paging -------------------------------------------------------------------------------------


def follow(client: FlaskClient, path: str, rel: str) -> tuple[list[list[str]], str]:
    """The pages met by following ``rel`` links from ``path``, and the last page's path."""
    pages = []
    while True:
        response = client.get(path)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        pages.append(PICKED.findall(body))
        link = re.search(rf'rel="{rel}" href="([^"]+)"', body)
        if link is None:
            return pages, path
        path = link.group(1).replace("&amp;", "&")


def test_seek_paging_visits_every_submission_once_both_ways(
    staff: Staff, instance: Instance, investigator: StaffAccount
) -> None:
    add_submissions(
        instance, "drc-minerals", [(f"P{n:03d}", N if n % 3 else R, []) for n in range(137)]
    )
    with transaction(instance.sessions) as session:
        # Three to an hour: ties on received_hour are broken by id.
        ordered = session.scalars(select(Submission).order_by(Submission.id))
        for n, submission in enumerate(ordered):
            submission.received_hour = START + dt.timedelta(hours=n // 3)
    staff.log_in()
    pages, last = follow(staff.client, INBOX, "next")
    assert [len(p) for p in pages] == [50, 50, 37]
    assert "137 submissions" in staff.client.get(last).get_data(as_text=True)
    assert [ref for page in pages for ref in page] == [f"P{n:03d}" for n in reversed(range(137))]
    # From the last page back by the "newer" links: the same pages, the first one last.
    back, first = follow(staff.client, last, "prev")
    assert back == list(reversed(pages))
    assert 'rel="prev"' not in staff.client.get(first).get_data(as_text=True)
    # A filter rides along with the cursor.
    filtered, _ = follow(staff.client, f"{INBOX}?status=read", "next")
    assert [ref for page in filtered for ref in page] == [
        f"P{n:03d}" for n in reversed(range(137)) if n % 3 == 0
    ]


def test_empty_desk_says_so(staff: Staff) -> None:
    staff.log_in()
    body = staff.client.get(INBOX).get_data(as_text=True)
    assert "inbox is empty" in body
    assert 'rel="next"' not in body


def test_no_match_says_so_and_offers_to_clear(me: Staff) -> None:
    body = me.client.get(f"{INBOX}?risk=torture").get_data(as_text=True)
    assert "No submission matches these filters" in body


# -- saved searches -----------------------------------------------------------------------------


def save(staff: Staff, name: str, query: str) -> Any:
    return staff.client.post(
        f"{INBOX}/searches",
        data={"csrf_token": csrf_token(staff.client, INBOX), "name": name, "query": query},
    )


def saved_links(staff: Staff) -> dict[str, str]:
    body = staff.client.get(INBOX).get_data(as_text=True)
    section = body[body.index('class="saved"') :]
    section = section[: section.index("</section>")]
    return {
        name: href.replace("&amp;", "&")
        for href, name in re.findall(r'<a href="([^"]+)">([^<]+)</a>', section)
    }


def test_saved_searches_are_saved_listed_followed_and_deleted(
    me: Staff, casework_app: Flask, world: World
) -> None:
    response = save(me, "Urgent coltan", "mineral=coltan&priority=urgent&bogus=1")
    assert response.status_code == 303
    links = saved_links(me)
    assert list(links) == ["Urgent coltan"]
    assert links["Urgent coltan"] == f"{INBOX}?priority=urgent&mineral=coltan"
    assert set(listed(me.client, links["Urgent coltan"].split("?", 1)[1])) == {"A00", "A01"}
    # Saving under the same name replaces the filters.
    assert save(me, "Urgent coltan", "mineral=gold").status_code == 303
    assert saved_links(me) == {"Urgent coltan": f"{INBOX}?mineral=gold"}

    # Another member of the desk sees none of them and cannot delete them.
    other = signed_in(casework_app, world.colleague)
    assert saved_links(other) == {}
    body = me.client.get(INBOX).get_data(as_text=True)
    delete_path = re.search(r'action="(/desks/drc-minerals/searches/\d+/delete)"', body)
    assert delete_path is not None
    stolen = other.client.post(
        delete_path.group(1), data={"csrf_token": csrf_token(other.client, INBOX)}
    )
    assert stolen.status_code == 404
    assert list(saved_links(me)) == ["Urgent coltan"]

    token = csrf_token(me.client, INBOX)
    for missing in ("0", "99999999999"):
        gone = me.client.post(f"{INBOX}/searches/{missing}/delete", data={"csrf_token": token})
        assert gone.status_code == 404
    deleted = me.client.post(delete_path.group(1), data={"csrf_token": token})
    assert deleted.status_code == 303
    assert saved_links(me) == {}


@pytest.mark.parametrize(
    ("name", "query"),
    [("", "status=new"), ("x" * 81, "status=new"), ("Bad", "status=bogus"), ("Bad", "assignee=x")],
)
def test_a_bad_saved_search_is_refused(me: Staff, name: str, query: str) -> None:
    assert save(me, name, query).status_code == 400
    assert saved_links(me) == {}


def test_saving_and_deleting_a_search_need_csrf(me: Staff) -> None:
    response = me.client.post(f"{INBOX}/searches", data={"name": "x", "query": "status=new"})
    assert response.status_code == 400
    assert saved_links(me) == {}
    assert save(me, "New ones", "status=new").status_code == 303
    body = me.client.get(INBOX).get_data(as_text=True)
    delete_path = re.search(r'action="(/desks/drc-minerals/searches/\d+/delete)"', body)
    assert delete_path is not None
    assert me.client.post(delete_path.group(1)).status_code == 400
    assert list(saved_links(me)) == ["New ones"]


# -- bulk actions -------------------------------------------------------------------------------


def bulk(staff: Staff, refs: list[str], slug: str = "drc-minerals", **fields: Any) -> Any:
    token = csrf_token(staff.client, f"/desks/{slug}")
    return staff.client.post(
        f"/desks/{slug}/selection",
        data={"csrf_token": token, "submission": refs, **fields},
    )


def test_bulk_status_sets_each_and_is_audited(me: Staff, instance: Instance) -> None:
    response = bulk(me, ["A04", "A05", "A03"], action="status", status="dismissed", back="q=x")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{INBOX}?q=x")  # the filters come back
    after = statuses(instance)
    assert [after[r] for r in ("A03", "A04", "A05")] == [D, D, D]
    action, details = audit_events(instance)[-1]
    # Only those that changed are named (A03 was dismissed already).
    assert (action, details) == (
        "submissions_status",
        {"status": "dismissed", "submissions": ["A04", "A05"]},
    )


@pytest.mark.parametrize(
    ("refs", "fields"),
    [
        (["A04", "A00"], {"action": "status", "status": "new"}),  # A00 is in a case
        (["A04"], {"action": "status", "status": "attached"}),  # only cases attach
        ([], {"action": "status", "status": "read"}),
        (["A04"], {"action": "delete"}),
        (["A04"], {"action": "new_case", "title": ""}),
        (["A04"], {"action": "add_to_case", "case": ""}),
        (["A04"], {"action": "add_to_case", "case": "seven"}),
        (["A04"], {"action": "add_to_case", "case": "99999999999"}),
    ],
)
def test_bulk_refusals_change_nothing(
    me: Staff, instance: Instance, refs: list[str], fields: dict[str, str]
) -> None:
    before, events = statuses(instance), len(audit_events(instance))
    assert bulk(me, refs, **fields).status_code == 400
    assert statuses(instance) == before
    assert len(audit_events(instance)) == events


def test_bulk_new_case_from_the_selection(me: Staff, instance: Instance) -> None:
    response = bulk(me, ["A05", "A03"], action="new_case", title="Depot at night")
    assert response.status_code == 303
    case_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with instance.sessions() as session:
        linked = session.scalars(
            select(Submission.reference)
            .join(CaseSubmission, CaseSubmission.submission_id == Submission.id)
            .where(CaseSubmission.case_id == case_id)
            .order_by(Submission.reference)
        )
        assert list(linked) == ["A03", "A05"]
    after = statuses(instance)
    assert after["A03"] is after["A05"] is SubmissionStatus.ATTACHED
    assert audit_events(instance)[-1] == (
        "case_created",
        {"case": case_id, "submissions": ["A03", "A05"]},
    )
    assert set(listed(me.client, "q=depot")) == {"A03", "A05"}


def test_bulk_add_to_an_existing_case(me: Staff, instance: Instance, world: World) -> None:
    case_id = world.case_ids[1]  # Bisie tin, which has A02
    response = bulk(me, ["A07", "A02", "A04"], action="add_to_case", case=str(case_id))
    assert response.status_code == 303
    assert set(listed(me.client, "mineral=cassiterite")) == {"A02", "A04", "A07"}
    assert statuses(instance)["A07"] is SubmissionStatus.ATTACHED
    assert audit_events(instance)[-1] == (
        "case_submissions_added",
        {"case": case_id, "submissions": ["A04", "A07"]},  # A02 was in it already
    )


def test_bulk_actions_refuse_other_desks(me: Staff, instance: Instance, world: World) -> None:
    before, events = statuses(instance), len(audit_events(instance))
    # A submission of another desk is not found, even beside this desk's own.
    assert bulk(me, ["A04", world.other_ref], action="status", status="read").status_code == 404
    assert bulk(me, [world.other_ref], action="new_case", title="Mine").status_code == 404
    # Nor is a case of another desk.
    other_case = bulk(me, ["A04"], action="add_to_case", case=str(world.other_case))
    assert other_case.status_code == 404
    assert statuses(instance) == before
    assert len(audit_events(instance)) == events


def test_bulk_actions_need_csrf(me: Staff, instance: Instance) -> None:
    before = statuses(instance)
    response = me.client.post(
        f"{INBOX}/selection", data={"submission": ["A04"], "action": "status", "status": "read"}
    )
    assert response.status_code == 400
    assert statuses(instance) == before


def test_non_members_get_not_found_everywhere(
    casework_app: Flask, instance: Instance, world: World
) -> None:
    outsider = signed_in(casework_app, world.outsider)
    client = outsider.client
    token = csrf_token(client, "/desks/other-desk")
    assert client.get(INBOX).status_code == 404
    assert client.get(f"{INBOX}?status=new").status_code == 404
    before = statuses(instance)
    posts = {
        f"{INBOX}/selection": {"submission": ["A04"], "action": "status", "status": "read"},
        f"{INBOX}/searches": {"name": "spy", "query": ""},
        f"{INBOX}/searches/1/delete": {},
    }
    for path, data in posts.items():
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404, path
    assert statuses(instance) == before
    # The outsider's own desk shows only its own submission.
    assert PICKED.findall(client.get("/desks/other-desk").get_data(as_text=True)) == ["B00"]
