"""The casework's inbox, submission view, downloads, replies and audit page.

Who may use which route is in tests/test_casework_access.py (every route × every role), and
what a copy of the data opens without a live session in tests/test_at_rest.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re

import pytest
from sqlalchemy import select, update

from casework.audit import AUDIT_PAGE_SIZE, record_audit
from crypto.keys import BoxKeyPair
from crypto.sealing import open_sealed
from filon.accounts import get_user, open_desk_key, unlock_user_key
from filon.db import current_hour, transaction
from filon.desks import get_desk
from filon.instance import Instance
from filon.models import CustodyEvent, Reply, Source, Submission, User
from intake.demo import SAMPLES, seed_submissions
from tests.conftest import Staff, StaffAccount, csrf_token, make_account

REPORT = SAMPLES[0].answers["report"]
OTHER_DESK = "other-desk"


@pytest.fixture
def receipts(instance: Instance, investigator: StaffAccount) -> list[str]:
    """The demo's two submissions to ``drc-minerals`` (the first has a photo), oldest first."""
    return [outcome.receipt for outcome in seed_submissions(instance, "drc-minerals")]


def audit_actions(instance: Instance, slug: str = "drc-minerals") -> list[tuple[str, str]]:
    with instance.sessions() as session:
        events = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == f"audit:{slug}")
            .order_by(CustodyEvent.seq)
        )
        return [(e.actor, e.action) for e in events]


def member_key(instance: Instance, account: StaffAccount, slug: str) -> BoxKeyPair:
    with instance.sessions() as session:
        user = get_user(session, account.username)
        return open_desk_key(
            session,
            desk=get_desk(session, slug),
            user=user,
            user_key=unlock_user_key(user, account.password),
        )


# -- inbox ----------------------------------------------------------------------------------------


def test_inbox_lists_newest_first_with_file_and_cleaning_counts(
    staff: Staff, receipts: list[str]
) -> None:
    staff.log_in()
    page = staff.client.get("/desks/drc-minerals").get_data(as_text=True)
    older, newer = receipts
    assert page.index(newer) < page.index(older)
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.DOTALL)
    photo_row = next(row for row in rows if older in row)
    assert "cleaned: 1" in photo_row
    assert REPORT not in page  # the inbox opens nothing
    assert current_hour().strftime("%Y-%m-%d %H:00") in page


def test_inbox_pages_by_fifty(staff: Staff, instance: Instance, investigator: StaffAccount) -> None:
    with transaction(instance.sessions) as session:
        desk = get_desk(session, "drc-minerals")
        source = Source(
            lookup_hash="f" * 64, public_key=b"\x01" * 32, last_seen_day=dt.date.today()
        )
        session.add(source)
        session.flush()
        start = dt.datetime(2026, 1, 1)
        for n in range(51):
            session.add(
                Submission(
                    reference=f"REF{n:03d}",
                    desk_id=desk.id,
                    source_id=source.id,
                    received_hour=start + dt.timedelta(hours=n),
                    sealed_metadata=b"\x00" * 64,
                )
            )
    staff.log_in()
    first = staff.client.get("/desks/drc-minerals").get_data(as_text=True)
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older is not None
    second = staff.client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert first.count("/submissions/REF") == 50
    assert first.index("REF050") < first.index("REF001")
    assert "REF000" not in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    assert second.count("/submissions/REF") == 1
    assert "REF000" in second
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second


# -- submission, download, reply ------------------------------------------------------------------


def test_submission_page_shows_answers_files_and_custody(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    staff.log_in()
    response = staff.client.get(f"/submissions/{receipts[0]}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert REPORT.replace("'", "&#39;") in page
    assert "IMG_0042.jpg" in page
    assert "Cleaning: cleaned" in page
    for action in ("received", "verified", "cleaned", "sealed"):
        assert f"intake · {action}" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert audit_actions(instance) == [("user:investigator", "viewed")]


def test_download_streams_the_cleaned_file_as_an_attachment(
    staff: Staff, instance: Instance, investigator: StaffAccount, receipts: list[str]
) -> None:
    staff.log_in()
    response = staff.client.get(f"/submissions/{receipts[0]}/files/1")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == "attachment; filename=01-IMG_0042.jpg"
    data = response.get_data()
    desk_key = member_key(instance, investigator, "drc-minerals")
    with instance.sessions() as session:
        submission = session.scalars(
            select(Submission).where(Submission.reference == receipts[0])
        ).one()
    document = json.loads(open_sealed(submission.sealed_metadata, desk_key))
    assert hashlib.sha256(data).hexdigest() == document["files"][0]["cleaned_sha256"]
    assert b"ExampleCam" not in data
    assert audit_actions(instance) == [("user:investigator", "downloaded")]
    assert staff.client.get(f"/submissions/{receipts[0]}/files/2").status_code == 404


def test_reply_is_sealed_to_the_source_and_the_desk(
    staff: Staff, instance: Instance, investigator: StaffAccount, receipts: list[str]
) -> None:
    staff.log_in()
    text = "Merci. Pouvez-vous dire quand les barrières ont été installées ?"
    path = f"/submissions/{receipts[0]}/replies"
    assert staff.client.post(path, data={"text": text}).status_code == 400  # no CSRF token
    response = staff.client.post(path, data={"text": text, "csrf_token": csrf_token(staff.client)})
    assert response.status_code == 303
    with instance.sessions() as session:
        reply = session.scalars(select(Reply)).one()
        author = session.get(User, reply.author_id)
    assert author is not None
    assert author.username == "investigator"
    desk_key = member_key(instance, investigator, "drc-minerals")
    assert open_sealed(reply.sealed_for_desk, desk_key).decode() == text
    assert text.encode() not in reply.sealed_for_source
    assert audit_actions(instance) == [("user:investigator", "replied")]


def test_audit_trail_is_hash_chained(staff: Staff, instance: Instance, receipts: list[str]) -> None:
    from casework.audit import audit_trail

    staff.log_in()
    staff.client.get(f"/submissions/{receipts[0]}")
    staff.client.get(f"/submissions/{receipts[1]}")
    with instance.sessions() as session:
        events = audit_trail(session, get_desk(session, "drc-minerals"))
    assert [e.seq for e in events] == [0, 1]
    assert events[1].prev_hash == events[0].hash


def test_opening_a_submission_marks_it_read_and_the_inbox_filters_by_status(
    staff: Staff, receipts: list[str]
) -> None:
    staff.log_in()
    client = staff.client
    assert receipts[0].encode() in client.get("/desks/drc-minerals?status=new").get_data()
    assert client.get(f"/submissions/{receipts[0]}").status_code == 200
    new_only = client.get("/desks/drc-minerals?status=new").get_data()
    read_only = client.get("/desks/drc-minerals?status=read").get_data()
    assert receipts[0].encode() not in new_only
    assert receipts[0].encode() in read_only
    assert receipts[1].encode() in new_only
    assert client.get("/desks/drc-minerals?status=bogus").status_code == 400


def test_audit_page_lists_and_filters_and_names_a_broken_chain(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    staff.log_in()
    client = staff.client
    client.get(f"/submissions/{receipts[0]}")
    client.get(f"/submissions/{receipts[0]}/files/1").close()
    page = client.get("/desks/drc-minerals/audit").get_data(as_text=True)
    assert "The chain verifies." in page
    assert "viewed" in page
    assert "downloaded" in page
    only_views = client.get("/desks/drc-minerals/audit?action=viewed").get_data(as_text=True)
    assert "<td>downloaded</td>" not in only_views
    assert "<td>viewed</td>" in only_views
    with transaction(instance.sessions) as session:
        session.execute(
            update(CustodyEvent)
            .where(CustodyEvent.subject == "audit:drc-minerals", CustodyEvent.seq == 0)
            .values(actor="user:someone-else")
        )
    tampered = client.get("/desks/drc-minerals/audit")
    assert tampered.status_code == 200
    assert "The audit trail does not verify" in tampered.get_data(as_text=True)


def test_audit_page_filters_by_who_when_and_what_it_mentions(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    staff.log_in()
    client = staff.client
    client.get(f"/submissions/{receipts[0]}")
    client.get(f"/submissions/{receipts[1]}")
    with transaction(instance.sessions) as session:
        desk = get_desk(session, "drc-minerals")
        other = get_user(session, make_account(instance, "bea", "investigator").username)
        record_audit(session, desk=desk, user=other, action="viewed", details={"case": 7})

    def rows(query: str) -> list[tuple[str, str, str]]:
        page = client.get(f"/desks/drc-minerals/audit?{query}")
        assert page.status_code == 200
        found = re.findall(
            r"<tr><td>\d+</td><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td><code>([^<]*)",
            page.get_data(as_text=True),
        )
        return [(who, what, html.unescape(details)) for who, what, details in found]

    everything = rows("")
    assert len(everything) == len(audit_actions(instance))
    assert {who for who, _, _ in rows("actor=bea")} == {"user:bea"}
    assert {who for who, _, _ in rows(f"actor={staff.account.username}")} == {
        f"user:{staff.account.username}"
    }
    mentions = rows(f"q={receipts[1]}")
    assert mentions
    assert all(receipts[1] in details for _, _, details in mentions)
    assert all(receipts[0] not in details for _, _, details in mentions)
    today = current_hour().date()
    assert len(rows(f"from={today}&to={today}")) == len(everything)
    assert rows(f"from={today + dt.timedelta(days=1)}") == []
    assert rows(f"to={today - dt.timedelta(days=1)}") == []
    assert rows("actor=bea&action=downloaded") == []
    for bad in ("from=yesterday", "to=2026-13-01", "before=-1", "before=x", "q=" + "x" * 201):
        assert client.get(f"/desks/drc-minerals/audit?{bad}").status_code == 400, bad


def test_audit_page_pages_through_a_long_trail_once_each(
    staff: Staff, instance: Instance, investigator: StaffAccount
) -> None:
    with transaction(instance.sessions) as session:
        desk = get_desk(session, "drc-minerals")
        user = get_user(session, investigator.username)
        for number in range(AUDIT_PAGE_SIZE + 30):
            record_audit(session, desk=desk, user=user, action="viewed", details={"n": number})
    staff.log_in()
    seen: list[int] = []
    path: str | None = "/desks/drc-minerals/audit?action=viewed"
    while path is not None:
        page = staff.client.get(path).get_data(as_text=True)
        seen += [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", page)]
        older = re.search(r'<a rel="next" href="([^"]+)"', page)
        path = html.unescape(older.group(1)) if older else None
        if path is not None:
            assert "action=viewed" in path  # the filters travel with the page
    total = len(audit_actions(instance))
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen))
    assert len([a for _, a in audit_actions(instance) if a == "viewed"]) == len(seen)
    assert total >= AUDIT_PAGE_SIZE + 30
