"""Evidence in casework: merged cases, files linked to cases, previews, originals, filing.

Runs on SQLite and PostgreSQL. Previews and filing run the real sandboxed worker and the
real intake pipeline; nothing of our own is mocked.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from casework import cases
from casework.errors import InvalidCaseField
from casework.inbox import InboxFilters, inbox_page
from casework.models import Case, CaseEvidence, CaseMerge, CaseNote, CaseStatus
from crypto.keys import BoxKeyPair
from crypto.sealing import seal
from crypto.stream import StreamWriter, new_stream_key
from filon.accounts import DeskGrant, create_user, get_user, open_desk_key, unlock_user_key
from filon.custody import chain
from filon.db import transaction
from filon.desks import create_desk, get_desk
from filon.errors import NotFound
from filon.instance import Instance
from filon.models import (
    CleaningStatus,
    CustodyEvent,
    Desk,
    DeskMembership,
    Evidence,
    Role,
    Submission,
    SubmissionStatus,
    User,
)
from filon.submissions import open_submission
from intake.demo import sample_photo, seed_submissions
from intake.metadata import sandbox, thumbnail
from intake.sources import find_source
from intake.submission import IncomingFile, submit
from tests.conftest import STAFF_PASSWORD, Staff, StaffAccount, csrf_token, make_account
from tests.samples import make

DESK = "drc-minerals"
COMMENT = "The man by the scales is the depot's tax collector, per the second source."
NOTE = "Second source confirms the night convoys."


# -- helpers ------------------------------------------------------------------------------------


def user(session: Any, username: str = "investigator") -> User:
    return get_user(session, username)


def key_of(session: Any, username: str = "investigator") -> BoxKeyPair:
    return unlock_user_key(user(session, username), STAFF_PASSWORD)


def incoming(instance: Instance, name: str, media_type: str, data: bytes) -> IncomingFile:
    """A file as the no-JavaScript form leaves it: an incoming stream sealed on the server."""
    key = new_stream_key()
    blob_id = instance.store.new_id()
    with open(instance.store.incoming_path(blob_id), "xb") as handle:
        writer = StreamWriter(handle, key)
        writer.write(data)
        writer.close()
    assert writer.summary is not None
    return IncomingFile(
        blob_id=blob_id,
        key=key,
        stream_size=writer.summary.ciphertext_size,
        name=name,
        type=media_type,
        claimed_size=len(data),
        claimed_sha256=writer.summary.plaintext_sha256,
    )


def send(instance: Instance, *files: tuple[str, str, bytes], desk: str = DESK) -> str:
    """A submission with these files, through the real pipeline; its receipt."""
    return submit(
        instance,
        desk_slug=desk,
        lang="en",
        answers={"report": "Convoys at night."},
        files=[incoming(instance, *f) for f in files],
        codename=None,
    ).receipt


def big_photo() -> bytes:
    """A 1600 × 1200 JPEG with camera details and a GPS position in its EXIF."""
    image = Image.new("RGB", (1600, 1200), (150, 110, 70))
    for x in range(0, 1600, 100):
        image.paste((20, 40, 200), (x, 0, x + 50, 1200))
    exif = Image.Exif()
    exif[0x010F] = "ExampleCam"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "S", 2: (1.0, 40.0, 12.0), 3: "E", 4: (28.0, 52.0, 30.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=85)
    return out.getvalue()


def new_case(instance: Instance, references: list[str], title: str = "Rubaya") -> int:
    with transaction(instance.sessions) as session:
        return cases.create_case(session, user=user(session), references=references, title=title).id


def audit_events(instance: Instance, slug: str = DESK) -> list[tuple[str, dict[str, Any]]]:
    with instance.sessions() as session:
        events = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == f"audit:{slug}")
            .order_by(CustodyEvent.seq)
        )
        return [(e.action, json.loads(e.details)) for e in events]


def add_colleague(instance: Instance, username: str = "colleague") -> StaffAccount:
    """A second member of the desk, granted the desk key by the first."""
    with transaction(instance.sessions) as session:
        desk = get_desk(session, DESK)
        desk_key = open_desk_key(session, desk=desk, user=user(session), user_key=key_of(session))
        made = create_user(
            session,
            username=username,
            role=Role.INVESTIGATOR,
            password=STAFF_PASSWORD,
            grants=[DeskGrant(desk, desk_key)],
        )
    return StaffAccount(username, STAFF_PASSWORD, made.totp_secret)


def make_custodian(instance: Instance, username: str = "investigator") -> None:
    """The desk keeps originals; ``username`` holds its custodian key."""
    custodian = BoxKeyPair.generate()
    with transaction(instance.sessions) as session:
        desk = get_desk(session, DESK)
        desk.keeps_originals = True
        desk.custodian_public_key = custodian.public
        holder = user(session, username)
        membership = session.scalars(
            select(DeskMembership).where(
                DeskMembership.desk_id == desk.id, DeskMembership.user_id == holder.id
            )
        ).one()
        membership.sealed_custodian_key = seal(custodian.private, holder.public_key)


def signed_in(casework_app: Flask, account: StaffAccount) -> Staff:
    staff = Staff(casework_app.test_client(), account)
    assert staff.log_in().status_code == 303
    return staff


@pytest.fixture
def receipts(instance: Instance, investigator: StaffAccount) -> list[str]:
    """The demo's two submissions (the first has a photo), oldest first."""
    return [outcome.receipt for outcome in seed_submissions(instance, DESK)]


# -- merging cases ------------------------------------------------------------------------------


def test_merge_moves_submissions_labels_notes_and_evidence(
    instance: Instance, receipts: list[str]
) -> None:
    target = new_case(instance, receipts[:1], "Rubaya levies")
    merged = new_case(instance, receipts[1:], "Night convoys")
    with transaction(instance.sessions) as session:
        me = user(session)
        common = {"user": me, "priority": cases.CasePriority.NORMAL, "assignee": None}
        cases.update_case(
            session,
            case_id=target,
            title="Rubaya levies",
            summary="",
            minerals=["cassiterite"],
            risk_categories=["taxes"],
            tags=["rubaya"],
            **common,
        )
        cases.update_case(
            session,
            case_id=merged,
            title="Night convoys",
            summary="",
            minerals=["coltan", "cassiterite"],
            risk_categories=["armed_groups"],
            tags=["convoys"],
            **common,
        )
        note = cases.add_note(session, user=me, case_id=merged, text=NOTE).id
        # The same photo linked to both cases, each with a comment: both comments survive.
        for case_id, comment in ((target, "At the depot."), (merged, COMMENT)):
            cases.link_evidence(
                session, user=me, case_id=case_id, reference=receipts[0], number=1, comment=comment
            )
    with transaction(instance.sessions) as session:
        cases.merge_cases(
            session, user=user(session), user_key=key_of(session), case_id=merged, into_id=target
        )
    with transaction(instance.sessions) as session:
        view = cases.view_case(
            session, user=user(session), user_key=key_of(session), case_id=target
        )
        assert [s.reference for s in view.submissions] == receipts
        assert view.case.minerals == ["cassiterite", "coltan"]
        assert view.case.risk_categories == ["taxes", "armed_groups"]
        assert view.case.tags == ["rubaya", "convoys"]
        assert [(n.note.id, n.text) for n in view.notes] == [(note, NOTE)]
        assert [(e.reference, e.number, e.name) for e in view.evidence] == [
            (receipts[0], 1, "IMG_0042.jpg")
        ]
        assert view.evidence[0].comment == f"At the depot.\n\n(from case {merged}) {COMMENT}"
        assert view.merged_from == [merged]
        # The target's timeline now tells the merged case's history too.
        actions = [(e["action"], json.loads(e["details"])["case"]) for e in view.timeline]
        assert ("case_created", merged) in actions
        assert ("case_merged", target) in actions
        assert ("case_merged_into", merged) in actions
        tombstone = cases.view_case(
            session, user=user(session), user_key=key_of(session), case_id=merged
        )
        assert tombstone.merged_into == target
        assert tombstone.case.status is CaseStatus.ARCHIVED
        assert (tombstone.submissions, tombstone.notes, tombstone.evidence) == ([], [], [])
        assert tombstone.merge_targets == []
        assert [e["action"] for e in tombstone.timeline][:2] == ["case_created", "case_updated"]
        assert session.scalars(select(CaseMerge.into_case_id)).all() == [target]
        stored = session.get(CaseNote, note)
        assert stored is not None
        assert stored.case_id == target
        assert NOTE.encode() not in stored.sealed_text  # moved, still sealed
        # The inbox finds the merged-in submission by the labels the target gained.
        desk_slug = session.scalar(
            select(Desk.slug).join(Case, Case.desk_id == Desk.id).where(Case.id == target)
        )
        assert desk_slug is not None
        found = inbox_page(
            session,
            user=user(session),
            slug=desk_slug,
            filters=InboxFilters(tag="convoys", mineral="coltan", risk="armed_groups"),
        )
        assert sorted(row.reference for row in found.rows) == sorted(receipts)
    merged_events = [d for a, d in audit_events(instance) if a.startswith("case_merged")]
    assert merged_events == [
        {
            "case": target,
            "merged": merged,
            "submissions": [receipts[1]],
            "evidence": 0,
            "notes": 1,
        },
        {"case": merged, "into": target, "before": "new"},
    ]
    assert COMMENT not in json.dumps(audit_events(instance))


def test_a_merged_case_is_closed_to_changes(instance: Instance, receipts: list[str]) -> None:
    target, merged = new_case(instance, receipts[:1]), new_case(instance, receipts[1:])
    with transaction(instance.sessions) as session:
        cases.merge_cases(
            session, user=user(session), user_key=key_of(session), case_id=merged, into_id=target
        )
    events = len(audit_events(instance))
    refusals = [
        lambda s: cases.add_note(s, user=user(s), case_id=merged, text=NOTE),
        lambda s: cases.change_status(s, user=user(s), case_id=merged, status=CaseStatus.TRIAGE),
        lambda s: cases.merge_cases(
            s, user=user(s), user_key=key_of(s), case_id=merged, into_id=target
        ),
        lambda s: cases.merge_cases(
            s, user=user(s), user_key=key_of(s), case_id=target, into_id=merged
        ),
        lambda s: cases.link_evidence(
            s, user=user(s), case_id=merged, reference=receipts[0], number=1, comment=""
        ),
        lambda s: cases.add_submissions(s, user=user(s), case_id=merged, references=receipts[:1]),
    ]
    for refuse in refusals:
        with (
            pytest.raises(InvalidCaseField, match=f"case {merged} was merged into case {target}"),
            transaction(instance.sessions) as session,
        ):
            refuse(session)
    with (
        pytest.raises(InvalidCaseField, match="cannot be merged into itself"),
        transaction(instance.sessions) as session,
    ):
        cases.merge_cases(
            session, user=user(session), user_key=key_of(session), case_id=target, into_id=target
        )
    assert len(audit_events(instance)) == events


def test_a_merge_whose_labels_would_overflow_changes_nothing(
    instance: Instance, receipts: list[str]
) -> None:
    target, merged = new_case(instance, receipts[:1]), new_case(instance, receipts[1:])
    with transaction(instance.sessions) as session:
        for case_id, prefix in ((target, "a"), (merged, "b")):
            cases.update_case(
                session,
                user=user(session),
                case_id=case_id,
                title="Tags",
                priority=cases.CasePriority.NORMAL,
                assignee=None,
                summary="",
                minerals=[],
                risk_categories=[],
                tags=[f"{prefix}{n}" for n in range(30)],
            )
        cases.add_note(session, user=user(session), case_id=merged, text=NOTE)
    with (
        pytest.raises(InvalidCaseField, match="at most 50 entries"),
        transaction(instance.sessions) as session,
    ):
        cases.merge_cases(
            session, user=user(session), user_key=key_of(session), case_id=merged, into_id=target
        )
    with instance.sessions() as session:
        assert session.scalars(select(CaseMerge)).all() == []
        assert session.scalars(select(CaseNote.case_id)).all() == [merged]
        kept = session.get(Case, target)
        assert kept is not None
        assert len(kept.tags) == 30


def test_cases_of_two_desks_are_never_merged(instance: Instance, receipts: list[str]) -> None:
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="tin-desk",
            name="Tin",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(user(session), False)],
        )
    other = seed_submissions(instance, "tin-desk")[1].receipt
    here, there = new_case(instance, receipts[:1]), new_case(instance, [other])
    with (
        pytest.raises(InvalidCaseField, match="only cases of the same desk can be merged"),
        transaction(instance.sessions) as session,
    ):
        cases.merge_cases(
            session, user=user(session), user_key=key_of(session), case_id=there, into_id=here
        )
    with instance.sessions() as session:
        assert session.scalars(select(CaseMerge)).all() == []
        moved = session.get(Case, there)
        assert moved is not None
        assert moved.status is CaseStatus.NEW
    assert not [a for a, _ in audit_events(instance) if a.startswith("case_merged")]
    assert not [a for a, _ in audit_events(instance, "tin-desk") if a.startswith("case_merged")]


def test_a_non_member_cannot_merge(instance: Instance, receipts: list[str]) -> None:
    make_account(instance, "outsider", "investigator")
    target, merged = new_case(instance, receipts[:1]), new_case(instance, receipts[1:])
    with pytest.raises(NotFound), transaction(instance.sessions) as session:
        cases.merge_cases(
            session,
            user=user(session, "outsider"),
            user_key=key_of(session, "outsider"),
            case_id=merged,
            into_id=target,
        )


def test_merge_from_the_case_page_with_csrf(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    target, merged = new_case(instance, receipts[:1], "Levies"), new_case(instance, receipts[1:])
    staff.log_in()
    client = staff.client
    page = client.get(f"/cases/{merged}").get_data(as_text=True)
    assert f'<option value="{target}">Case {target}: Levies (new)</option>' in page
    assert client.post(f"/cases/{merged}/merge", data={"into": str(target)}).status_code == 400
    token = csrf_token(client)
    for bad in ("", "abc", "-1"):
        response = client.post(f"/cases/{merged}/merge", data={"csrf_token": token, "into": bad})
        assert response.status_code == 400, bad
    missing = client.post(f"/cases/{merged}/merge", data={"csrf_token": token, "into": "999"})
    assert missing.status_code == 404
    with instance.sessions() as session:
        assert session.scalars(select(CaseMerge)).all() == []
    done = client.post(f"/cases/{merged}/merge", data={"csrf_token": token, "into": str(target)})
    assert done.status_code == 303
    assert done.headers["Location"] == f"/cases/{target}"
    tombstone = client.get(f"/cases/{merged}").get_data(as_text=True)
    assert f'This case was merged into <a href="/cases/{target}">case {target}</a>' in tombstone
    assert "Add note" not in tombstone
    again = client.post(f"/cases/{merged}/notes", data={"csrf_token": token, "text": NOTE})
    assert again.status_code == 400
    assert f"was merged into case {target}" in again.get_data(as_text=True)
    assert f'<a href="/cases/{merged}">case {merged}</a>' in client.get(
        f"/cases/{target}"
    ).get_data(as_text=True)


# -- evidence links -----------------------------------------------------------------------------


def test_evidence_link_create_comment_unlink_and_audit(
    instance: Instance, receipts: list[str]
) -> None:
    case_id = new_case(instance, receipts[1:])
    with transaction(instance.sessions) as session:
        link = cases.link_evidence(
            session,
            user=user(session),
            case_id=case_id,
            reference=receipts[0].lower(),
            number=1,
            comment=f"  {COMMENT}  ",
        )
        link_id = link.id
    with transaction(instance.sessions) as session:
        stored = session.get(CaseEvidence, link_id)
        assert stored is not None
        assert stored.sealed_comment is not None
        assert COMMENT.encode() not in stored.sealed_comment
        photo = session.scalars(select(Submission).where(Submission.reference == receipts[0])).one()
        assert photo.status is SubmissionStatus.ATTACHED  # retention keeps a linked file
        view = cases.view_case(
            session, user=user(session), user_key=key_of(session), case_id=case_id
        )
        assert [(e.reference, e.number, e.name, e.kind, e.comment) for e in view.evidence] == [
            (receipts[0], 1, "IMG_0042.jpg", "image", COMMENT)
        ]
        cases.comment_evidence(
            session, user=user(session), case_id=case_id, link_id=link_id, comment="Depot scales."
        )
    with transaction(instance.sessions) as session:
        view = cases.view_case(
            session, user=user(session), user_key=key_of(session), case_id=case_id
        )
        assert [e.comment for e in view.evidence] == ["Depot scales."]
        cases.comment_evidence(
            session, user=user(session), case_id=case_id, link_id=link_id, comment=""
        )
        cases.unlink_evidence(session, user=user(session), case_id=case_id, link_id=link_id)
    with instance.sessions() as session:
        assert session.scalars(select(CaseEvidence)).all() == []
        assert len(session.scalars(select(Evidence)).all()) == 1  # the file itself stays
    linked = [(a, d) for a, d in audit_events(instance) if a.startswith("case_evidence")]
    assert linked == [
        (
            "case_evidence_linked",
            {
                "case": case_id,
                "link": link_id,
                "submission": receipts[0],
                "file": 1,
                "comment": True,
            },
        ),
        ("case_evidence_updated", {"case": case_id, "link": link_id, "comment": True}),
        ("case_evidence_updated", {"case": case_id, "link": link_id, "comment": False}),
        ("case_evidence_unlinked", {"case": case_id, "link": link_id}),
    ]
    assert "Depot scales" not in json.dumps(audit_events(instance))


@pytest.mark.parametrize(
    ("number", "comment", "error", "message"),
    [
        (2, "", InvalidCaseField, "the submission has no file 2"),
        (0, "", InvalidCaseField, "the submission has no file 0"),
        (1, "x" * 2001, InvalidCaseField, "a comment has at most 2000 characters"),
        (1, "", InvalidCaseField, "is already linked"),
    ],
)
def test_evidence_link_validation(
    instance: Instance,
    receipts: list[str],
    number: int,
    comment: str,
    error: type[Exception],
    message: str,
) -> None:
    case_id = new_case(instance, receipts[:1])
    with transaction(instance.sessions) as session:
        cases.link_evidence(
            session,
            user=user(session),
            case_id=case_id,
            reference=receipts[0],
            number=1,
            comment="",
        )
    with pytest.raises(error, match=message), transaction(instance.sessions) as session:
        cases.link_evidence(
            session,
            user=user(session),
            case_id=case_id,
            reference=receipts[0],
            number=number,
            comment=comment,
        )


def test_evidence_of_another_desk_or_case_is_not_found(
    instance: Instance, receipts: list[str]
) -> None:
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="tin-desk",
            name="Tin",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(user(session), False)],
        )
    other = seed_submissions(instance, "tin-desk")[0].receipt
    first, second = new_case(instance, receipts[:1]), new_case(instance, receipts[1:])
    with pytest.raises(NotFound), transaction(instance.sessions) as session:
        cases.link_evidence(
            session, user=user(session), case_id=first, reference=other, number=1, comment=""
        )
    with transaction(instance.sessions) as session:
        link = cases.link_evidence(
            session, user=user(session), case_id=first, reference=receipts[0], number=1, comment=""
        ).id
    with pytest.raises(NotFound), transaction(instance.sessions) as session:
        cases.unlink_evidence(session, user=user(session), case_id=second, link_id=link)


def test_evidence_links_in_the_browser_with_csrf(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    case_id = new_case(instance, receipts[1:], "Convoys")
    staff.log_in()
    client = staff.client
    page = client.get(f"/submissions/{receipts[0]}").get_data(as_text=True)
    assert "Link to case" in page
    assert f'<option value="{case_id}">Case {case_id}: Convoys</option>' in page
    path = f"/submissions/{receipts[0]}/files/1/links"
    data = {"case": str(case_id), "comment": COMMENT}
    assert client.post(path, data=data).status_code == 400  # no CSRF token
    token = csrf_token(client)
    assert client.post(path, data={**data, "csrf_token": token, "case": "x"}).status_code == 400
    made = client.post(path, data={**data, "csrf_token": token})
    assert made.status_code == 303
    assert made.headers["Location"] == f"/cases/{case_id}"
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "IMG_0042.jpg" in page
    assert "The man by the scales is the depot&#39;s tax collector" in page
    assert f"/submissions/{receipts[0]}/files/1/preview" in page
    with instance.sessions() as session:
        link_id = session.scalars(select(CaseEvidence.id)).one()
    unlink = f"/cases/{case_id}/evidence/{link_id}/unlink"
    assert client.post(unlink).status_code == 400
    comment = client.post(
        f"/cases/{case_id}/evidence/{link_id}", data={"csrf_token": token, "comment": "Scales."}
    )
    assert comment.status_code == 303
    assert "Scales." in client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert client.post(unlink, data={"csrf_token": token}).status_code == 303
    assert client.post(unlink, data={"csrf_token": token}).status_code == 404
    assert "No evidence files linked" in client.get(f"/cases/{case_id}").get_data(as_text=True)


# -- previews -----------------------------------------------------------------------------------


def test_preview_is_a_small_re_rendered_picture_without_metadata(
    staff: Staff, instance: Instance, investigator: StaffAccount
) -> None:
    original = big_photo()
    receipt = send(
        instance,
        ("IMG_1.jpg", "image/jpeg", original),
        ("notes.txt", "text/plain", b"Minerais de Rubaya\n"),
    )
    staff.log_in()
    client = staff.client
    page = client.get(f"/submissions/{receipt}").get_data(as_text=True)
    assert f'src="/submissions/{receipt}/files/1/preview"' in page
    assert f'src="/submissions/{receipt}/files/2/preview"' not in page
    response = client.get(f"/submissions/{receipt}/files/1/preview")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"] == "inline"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "img-src 'self'" in response.headers["Content-Security-Policy"]
    body = response.get_data()
    picture = Image.open(io.BytesIO(body))
    assert picture.format == "JPEG"
    assert max(picture.size) <= 640
    assert picture.size == (640, 480)
    assert len(picture.getexif()) == 0
    assert "exif" not in picture.info
    assert b"ExampleCam" not in body
    assert body != original
    assert audit_events(instance)[-1] == ("previewed", {"submission": receipt, "file": 1})
    for number in (2, 3, 0):  # a text file has no preview; neither has a file that is not there
        assert client.get(f"/submissions/{receipt}/files/{number}/preview").status_code == 404
    assert [a for a, _ in audit_events(instance)].count("previewed") == 1


def test_a_hostile_picture_gets_a_clear_refusal_and_the_app_keeps_serving(
    staff: Staff, instance: Instance, investigator: StaffAccount
) -> None:
    receipt = send(
        instance,
        ("bomb.png", "image/png", make.png_bomb()),
        ("ok.jpg", "image/jpeg", sample_photo()),
    )
    with instance.sessions() as session:
        kinds = session.scalars(select(Evidence.kind).order_by(Evidence.id)).all()
        assert kinds == ["image", "image"]  # the bomb reaches the previewer as a picture
    staff.log_in()
    client = staff.client
    refused = client.get(f"/submissions/{receipt}/files/1/preview")
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert "too large to preview safely" in refused.get_data(as_text=True)
    assert "previewed" not in [a for a, _ in audit_events(instance)]
    fine = client.get(f"/submissions/{receipt}/files/2/preview")
    assert fine.status_code == 200
    assert Image.open(io.BytesIO(fine.get_data())).size == (320, 240)
    assert client.get(f"/submissions/{receipt}").status_code == 200


def test_the_worker_redraws_pictures_upright_without_metadata() -> None:
    media_type, data = thumbnail.render(make.jpeg_with_pillow_exif(orientation=6))
    picture = Image.open(io.BytesIO(data))
    assert (media_type, picture.format) == ("image/jpeg", "JPEG")
    assert picture.size == (64, 96)  # turned upright from 96 × 64
    assert len(picture.getexif()) == 0
    clear = make.encoded(make.picture((900, 300), "RGBA"), "PNG")
    media_type, data = thumbnail.render(clear)
    assert media_type == "image/png"
    assert Image.open(io.BytesIO(data)).size == (640, 213)


@pytest.mark.parametrize("answer", [b"html", b"svg", b"huge", b"vague"])
def test_a_preview_is_served_only_if_it_is_a_small_jpeg_or_png(answer: bytes) -> None:
    with pytest.raises(sandbox.WorkerFailed, match="malformed"):
        sandbox.preview(answer, max_side=640, module="tests.samples.hostile_previewer")


def test_a_non_member_gets_no_preview(
    casework_app: Flask, instance: Instance, receipts: list[str]
) -> None:
    outsider = signed_in(casework_app, make_account(instance, "outsider", "investigator"))
    assert outsider.client.get(f"/submissions/{receipts[0]}/files/1/preview").status_code == 404
    assert audit_events(instance) == []


# -- originals ----------------------------------------------------------------------------------


def test_only_a_custodian_downloads_the_untouched_original(
    casework_app: Flask, instance: Instance, investigator: StaffAccount
) -> None:
    colleague = add_colleague(instance)
    make_custodian(instance, "investigator")
    original = sample_photo()
    receipt = send(
        instance,
        ("IMG 0042.jpg", "image/jpeg", original),
        ("notes.txt", "text/plain", b"Minerais\n"),
    )
    path = f"/submissions/{receipt}/files/1/original"
    custodian = signed_in(casework_app, investigator)
    assert path in custodian.client.get(f"/submissions/{receipt}").get_data(as_text=True)
    response = custodian.client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == 'attachment; filename="01-IMG 0042.jpg"'
    assert response.get_data() == original  # byte for byte, metadata and all
    cleaned = custodian.client.get(f"/submissions/{receipt}/files/1").get_data()
    assert cleaned != original
    assert audit_events(instance)[-2] == (
        "original_downloaded",
        {"submission": receipt, "file": 1},
    )
    assert custodian.client.get(f"/submissions/{receipt}/files/2/original").status_code == 404
    events = len(audit_events(instance))
    member = signed_in(casework_app, colleague)
    assert path not in member.client.get(f"/submissions/{receipt}").get_data(as_text=True)
    refused = member.client.get(path)
    assert refused.status_code == 403
    assert "Only a custodian of this desk" in refused.get_data(as_text=True)
    assert original not in refused.get_data()
    outsider = signed_in(casework_app, make_account(instance, "outsider", "investigator"))
    assert outsider.client.get(path).status_code == 404
    actions = [a for a, _ in audit_events(instance)[events:]]
    assert "original_downloaded" not in actions


# -- filing on a source's behalf ----------------------------------------------------------------


def filing_form(token: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": token,
        "desk": DESK,
        "report": "Phone call: trucks leave the depot at night without tags.",
        "place": "Depot on the Goma road",
        "when": "",
        "lang": "fr",
        "files": [
            (io.BytesIO(sample_photo()), "IMG_0042.jpg", "image/jpeg"),
            (io.BytesIO(b"Notes from the call\n"), "call.txt", "text/plain"),
        ],
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def incoming_files(instance: Instance) -> list[str]:
    folder = instance.store.incoming_path(instance.store.new_id()).parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_file_on_behalf_goes_through_the_pipeline_and_names_the_staff_member(
    staff: Staff, instance: Instance
) -> None:
    staff.log_in()
    client = staff.client
    page = client.get("/file").get_data(as_text=True)
    assert '<option value="drc-minerals">' in page
    response = client.post("/file", data=filing_form(csrf_token(client, "/file")))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    with instance.sessions() as session:
        submission = session.scalars(select(Submission)).one()
        receipt = submission.reference
        assert receipt in body
        assert "codename" not in body.lower()  # none issued unless asked
        opened = open_submission(
            session, reference=receipt, user=user(session), user_key=key_of(session)
        )
        assert opened.document["answers"] == {
            "report": "Phone call: trucks leave the depot at night without tags.",
            "place": "Depot on the Goma road",
        }
        assert opened.document["lang"] == "fr"
        assert [f["name"] for f in opened.document["files"]] == ["IMG_0042.jpg", "call.txt"]
        assert [e.cleaning_status for e in opened.evidence] == [
            CleaningStatus.CLEANED,
            CleaningStatus.NOTHING_TO_CLEAN,
        ]
        custody = chain(session, f"submission:{receipt}")
        assert (custody[0].actor, custody[0].action) == ("staff:investigator", "filed_on_behalf")
        assert {e.actor for e in custody[1:]} == {"intake"}
    assert audit_events(instance)[-1] == (
        "filed_on_behalf",
        {"submission": receipt, "files": 2, "codename": False},
    )
    assert incoming_files(instance) == []  # every stream became a blob or was let go


def test_file_on_behalf_issues_a_codename_when_asked(staff: Staff, instance: Instance) -> None:
    staff.log_in()
    client = staff.client
    token = csrf_token(client, "/file")
    response = client.post("/file", data=filing_form(token, issue_codename="y", files=None))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    match = re.search(r'<p class="codename"><code>([^<]+)</code>', body)
    assert match is not None
    with instance.sessions() as session:
        known = find_source(session, instance, match.group(1))
        submission = session.scalars(select(Submission)).one()
        assert submission.source_id == known.source.id


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"csrf_token": None}, 400),
        ({"csrf_token": "forged"}, 400),
        ({"report": ""}, 400),
        ({"lang": "xx"}, 400),
        ({"desk": "no-such-desk"}, 404),
    ],
)
def test_file_on_behalf_refusals_store_nothing(
    staff: Staff, instance: Instance, changes: dict[str, Any], status: int
) -> None:
    staff.log_in()
    client = staff.client
    form = filing_form(csrf_token(client, "/file"), **changes)
    assert client.post("/file", data=form).status_code == status
    with instance.sessions() as session:
        assert session.scalars(select(Submission)).all() == []
    assert incoming_files(instance) == []
    assert list(instance.store.ids()) == []


def test_file_on_behalf_only_to_a_desk_of_ones_own(
    casework_app: Flask, instance: Instance, investigator: StaffAccount
) -> None:
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="tin-desk",
            name="Tin",
            recovery_public_key=instance.settings.recovery_public_key,
        )
    staff = signed_in(casework_app, investigator)
    form = filing_form(csrf_token(staff.client, "/file"), desk="tin-desk")
    assert staff.client.post("/file", data=form).status_code == 404
    with instance.sessions() as session:
        assert session.scalars(select(Submission)).all() == []
    assert incoming_files(instance) == []
