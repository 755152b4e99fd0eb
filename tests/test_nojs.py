"""The no-JavaScript path: the same form posted as multipart, sealed as it arrives."""

from __future__ import annotations

import io
import re
import tempfile
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filon.accounts import get_user, unlock_user_key
from filon.db import transaction
from filon.desks import get_desk
from filon.instance import Instance
from filon.models import Evidence, Source, Submission
from filon.replies import create_reply
from filon.submissions import open_submission, write_evidence
from intake import metadata
from tests.conftest import DeskSetup
from tests.test_protocol import CANARY_BYTES, CANARY_TEXT, assert_not_written, jpeg_with_exif


class NoScriptSource:
    """A source using the intake with JavaScript off, as Tor Browser at "Safest" does."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def token(self, path: str = "/") -> str:
        page = self.client.get(path)
        assert page.status_code == 200
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data)
        assert match is not None, "the page has no CSRF token"
        return match.group(1).decode()

    def submit_report(self, report: str, files: list[tuple[str, str, bytes]] = (), **fields: str):  # noqa: ANN201
        data: dict[str, object] = {
            "csrf_token": self.token(),
            "desk": "drc-minerals",
            "report": report,
            "lang": "en",
            **fields,
        }
        data["files"] = [(io.BytesIO(content), name, kind) for name, kind, content in files]
        return self.client.post("/submit", data=data, content_type="multipart/form-data")

    def read_replies(self, codename: str):  # noqa: ANN201
        return self.client.post(
            "/replies", data={"csrf_token": self.token("/replies"), "codename": codename}
        )


@pytest.fixture
def source(intake_client: FlaskClient, desk: DeskSetup) -> NoScriptSource:
    return NoScriptSource(intake_client)


def receipt_of(page: bytes) -> str:
    match = re.search(rb"FLN(-[A-Z2-7]{4}){4}", page)
    assert match is not None, "no receipt on the page"
    return match.group(0).decode()


def codename_of(page: bytes) -> str:
    match = re.search(rb'data-slot="codename"[^>]*>([^<]+)<', page)
    assert match is not None, "no codename on the page"
    return match.group(1).decode()


def opened(instance: Instance, desk: DeskSetup, receipt: str):  # noqa: ANN201
    session = instance.sessions()
    user = get_user(session, desk.username)
    return session, open_submission(
        session, reference=receipt, user=user, user_key=unlock_user_key(user, desk.password)
    )


def incoming_left(instance: Instance) -> list[Path]:
    return list((instance.settings.blobs_dir / "uploads").iterdir())


def test_a_report_with_files_is_sealed_and_stored(
    source: NoScriptSource, instance: Instance, desk: DeskSetup
) -> None:
    photo = jpeg_with_exif()
    page = source.submit_report(
        CANARY_TEXT,
        files=[
            ("notes.txt", "text/plain", b"plain notes " + CANARY_BYTES),
            ("photo.jpg", "image/jpeg", photo),
        ],
        place="Rubaya",
    )
    assert page.status_code == 200, page.data[:2000]
    assert page.headers["Cache-Control"] == "no-store"
    receipt = receipt_of(page.data)
    assert len(codename_of(page.data).split()) == 8
    session, result = opened(instance, desk, receipt)
    with session:
        assert result.document["answers"] == {"report": CANARY_TEXT, "place": "Rubaya"}
        assert [f["status"] for f in result.document["files"]] == ["nothing_to_clean", "cleaned"]
        sink = io.BytesIO()
        write_evidence(instance.store, result.evidence[0], result.desk_key, sink)
        assert sink.getvalue() == b"plain notes " + CANARY_BYTES
    assert incoming_left(instance) == []


def test_canaries_never_reach_disk_without_javascript(
    source: NoScriptSource, instance: Instance
) -> None:
    started = time.time() - 1
    page = source.submit_report(CANARY_TEXT, files=[("n.txt", "text/plain", CANARY_BYTES * 50)])
    assert page.status_code == 200
    roots = [instance.settings.instance_dir, Path(tempfile.gettempdir())]
    scanned = assert_not_written([CANARY_TEXT.encode(), CANARY_BYTES], roots, started)
    assert scanned >= 2


def test_a_file_too_large_to_clean_is_kept_sealed_and_flagged(
    source: NoScriptSource, instance: Instance, desk: DeskSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metadata, "CLEAN_MAX_BYTES", 1000)
    big = jpeg_with_exif() + b"\0" * 5000
    page = source.submit_report("big", files=[("big.jpg", "image/jpeg", big)])
    assert page.status_code == 200
    assert b"not_cleaned" in page.data or b"could not" in page.data.lower()
    session, result = opened(instance, desk, receipt_of(page.data))
    with session:
        report = result.document["files"][0]
        assert report["status"] == "not_cleaned"
        assert "too large" in report["reason"]
        sink = io.BytesIO()
        write_evidence(instance.store, result.evidence[0], result.desk_key, sink)
        assert sink.getvalue() == big


def _nothing_stored(instance: Instance) -> None:
    with instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
        assert session.scalar(select(func.count()).select_from(Evidence)) == 0
    assert incoming_left(instance) == []
    assert list(instance.store.ids()) == []


def test_the_honeypot_stops_robots(source: NoScriptSource, instance: Instance) -> None:
    page = source.submit_report("spam", files=[("a.txt", "text/plain", b"x")], website="http://x")
    assert page.status_code == 400
    _nothing_stored(instance)


def test_a_post_without_csrf_token_is_refused(source: NoScriptSource, instance: Instance) -> None:
    page = source.client.post(
        "/submit",
        data={"desk": "drc-minerals", "report": "r", "files": [(io.BytesIO(b"x"), "a.txt")]},
        content_type="multipart/form-data",
    )
    assert page.status_code == 400
    _nothing_stored(instance)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"desk": "nowhere"}, b"desk"),
        ({"report": ""}, b"report"),
        ({"codename": "these are not words from any list at all"}, b"codename"),
    ],
)
def test_invalid_forms_are_explained(
    source: NoScriptSource, instance: Instance, fields: dict[str, str], message: bytes
) -> None:
    data = {"report": "a report", **fields}
    page = source.submit_report(data.pop("report"), files=[("a.txt", "text/plain", b"x")], **data)
    assert page.status_code in (400, 404)
    assert message in page.data.lower()
    _nothing_stored(instance)


def test_returning_source_adds_more_and_reads_replies(
    source: NoScriptSource, instance: Instance, desk: DeskSetup
) -> None:
    first = source.submit_report("first")
    codename = codename_of(first.data)
    again = source.submit_report("more", codename=codename.upper())
    assert again.status_code == 200
    assert b'data-slot="codename"' not in again.data  # a returning source gets no new codename
    with transaction(instance.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Source)) == 1
        only = session.scalars(select(Source)).one()
        create_reply(
            session,
            source=only,
            desk=get_desk(session, desk.slug),
            text="Asante. Tafadhali eleza mahali.",
        )
    page = source.read_replies(codename)
    assert page.status_code == 200
    assert b"Asante. Tafadhali eleza mahali." in page.data
    wrong = source.read_replies(" ".join(reversed(codename.split())))
    assert wrong.status_code == 400
    assert b"Asante" not in wrong.data


def test_a_global_limit_caps_the_plain_form(
    source: NoScriptSource, instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    monkeypatch.setattr(
        instance, "settings", dataclasses.replace(instance.settings, nojs_submissions_per_hour=2)
    )
    assert source.submit_report("one").status_code == 200
    assert source.submit_report("two").status_code == 200
    refused = source.submit_report("three", files=[("a.txt", "text/plain", b"x")])
    assert refused.status_code == 429
    assert b"try again" in refused.data.lower()
    assert incoming_left(instance) == []


def test_the_global_counter_counts_every_racing_process(instance: Instance) -> None:
    import datetime as dt
    import threading

    from filon import ratelimit

    errors: list[BaseException] = []

    def hit() -> None:
        try:
            with transaction(instance.sessions) as session:
                ratelimit.hit(session, "race", limit=100, window=dt.timedelta(hours=1))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with transaction(instance.sessions) as session:
        assert ratelimit.hit(session, "race", limit=9, window=dt.timedelta(hours=1))
        assert not ratelimit.hit(session, "race", limit=9, window=dt.timedelta(hours=1))
