"""A source sends a report with files: sealed in the browser with JavaScript, plain without."""

from __future__ import annotations

import pytest

from crypto.stream import ABYTES
from filon.instance import Instance
from tests.browser.evidence import (
    CHUNK,
    SENTINEL_BYTES,
    SENTINEL_TEXT,
    large_file,
    leaked,
    open_as_desk,
    payload,
    photo_with_location,
)
from tests.browser.pages import Source, Traffic
from tests.conftest import DeskSetup

pytestmark = pytest.mark.browser

REPORT = f"Soldiers took a tax at the Rubaya pit every morning. {SENTINEL_TEXT}"


def test_with_javascript_nothing_leaves_the_browser_in_the_clear(
    source: Source, traffic: Traffic, instance: Instance, desk: DeskSetup
) -> None:
    big = large_file()
    receipt = source.submit_report(
        REPORT,
        place="Rubaya",
        when="March",
        files=[
            payload("pit.jpg", "image/jpeg", photo_with_location()),
            payload("ledger.bin", "application/octet-stream", big),
        ],
        keep_photos=[0],
    )

    assert receipt.receipt
    assert receipt.codename is not None
    assert len(receipt.codename.split()) == 8
    # Every request body, from the page and from the worker, is free of both sentinels.
    assert traffic.sent, "no request was recorded"
    for sent in traffic.sent:
        assert not leaked(sent.body, SENTINEL_TEXT.encode()), f"{sent.method} {sent.url}"
        assert not leaked(sent.body, SENTINEL_BYTES), f"{sent.method} {sent.url}"
        assert SENTINEL_TEXT not in sent.url
    assert not traffic.to("/submit"), "the JavaScript path must never post the plain form"
    # The large file went as four full-size ciphertext chunks and a short final one... here
    # 3 MiB + 300,000 bytes: three full chunks and a final one of 300,000 + 17 bytes.
    chunks = sorted(len(s.body) for s in traffic.to("/api/v1/uploads/", "PUT"))
    assert chunks.count(CHUNK + ABYTES) == 3
    assert 300_000 + ABYTES in chunks
    # And the desk receives exactly what was sent.
    received = open_as_desk(instance, desk, receipt.receipt)
    assert received.document["answers"] == {"report": REPORT, "place": "Rubaya", "when": "March"}
    assert big in received.files
    assert len(received.files) == 2
    # The source ticked "keep where and when" for the photo: both travel as sealed fields.
    photo = received.document["files"][0]
    assert photo["name"] == "pit.jpg"
    assert photo["location"] is not None
    assert photo["taken_at"] is not None


def test_without_javascript_the_form_still_sends_everything(
    nojs_source: Source, nojs_traffic: Traffic, instance: Instance, desk: DeskSetup
) -> None:
    big = large_file()
    receipt = nojs_source.submit_report(
        REPORT,
        place="Rubaya",
        files=[
            payload("pit.jpg", "image/jpeg", photo_with_location()),
            payload("ledger.bin", "application/octet-stream", big),
        ],
    )

    assert receipt.receipt
    assert receipt.codename is not None
    assert len(receipt.codename.split()) == 8
    assert "pit.jpg" in receipt.text
    assert "ledger.bin" in receipt.text
    # One multipart post, nothing through the API, and no script was fetched at all.
    assert [s.method for s in nojs_traffic.to("/submit")] == ["POST"]
    assert not nojs_traffic.to("/api/")
    assert not [s for s in nojs_traffic.sent if s.resource_type == "script"]
    received = open_as_desk(instance, desk, receipt.receipt)
    assert received.document["answers"]["report"] == REPORT
    assert big in received.files
    # "Keep where and when" was left unticked: the place is withheld.
    photo = received.document["files"][0]
    assert photo["location"] is None
    assert photo["location_withheld"] is True


def test_libsodium_failing_to_load_sends_nothing(source: Source, traffic: Traffic) -> None:
    source.page.route(
        "**/vendor/libsodium-sumo.js", lambda route: route.fulfill(status=404, body="gone")
    )
    source.page.goto("/")
    source.wait_for_script()
    source.write_report(REPORT, place="Rubaya")
    source.choose_files([payload("ledger.bin", "application/octet-stream", large_file())])
    traffic.clear()

    source.press_send()

    assert "nothing was sent" in source.failure_message()
    source.page.wait_for_timeout(500)  # anything queued would have left by now
    assert [s for s in traffic.sent if s.method != "GET"] == []
    assert not traffic.to("/api/")


def test_before_sending_each_file_says_what_will_happen_to_it(source: Source) -> None:
    source.open_submission_page()
    source.choose_files(
        [
            payload("pit.jpg", "image/jpeg", photo_with_location()),
            payload("photos.zip", "application/zip", b"PK\x05\x06" + bytes(18)),
            payload("notes.txt", "text/plain", b"Seen at the washing site."),
        ]
    )

    photo = source.photo_details(0)
    for found in ("Tecno Spark 10", "SN-4471-0092", "Jean Mukendi", "29.22000", "2024"):
        assert found in photo
    assert "Removed: GPS position" in photo
    archive = source.page.locator(".file-card").nth(1).inner_text()
    assert "Not cleaned" in archive
    assert "Archives cannot be cleaned" in archive
    # Only a photo offers to keep where and when it was taken, and the box starts unticked.
    assert source.page.locator("#keep-photo-0").is_checked() is False
    assert source.page.locator("#keep-photo-1, #keep-photo-2").count() == 0
