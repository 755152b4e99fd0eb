"""What the pages send over the network: only to our own server, and resumably."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Route

from filon.instance import Instance
from tests.browser.evidence import large_file, open_as_desk, payload, photo_with_location
from tests.browser.pages import Source, Traffic
from tests.conftest import DeskSetup

pytestmark = pytest.mark.browser


def test_an_interrupted_upload_resumes_and_completes(
    source: Source, traffic: Traffic, instance: Instance, desk: DeskSetup
) -> None:
    attempts: Counter[str] = Counter()
    dropped: list[str] = []

    def drop_the_connection_half_way(route: Route) -> None:
        # Chunks 0 and 1 go through; then the connection drops for the next five attempts,
        # whichever chunks they carry, the way a Tor circuit collapses mid-upload.
        index = route.request.url.rsplit("/", 1)[1]
        attempts[index] += 1
        if sum(attempts.values()) > 2 and len(dropped) < 5:
            dropped.append(index)
            route.abort("connectionreset")
            return
        route.fallback()

    source.page.route("**/api/v1/uploads/*/*", drop_the_connection_half_way)
    big = large_file()

    receipt = source.submit_report(
        "The washing basin overflowed into the river.",
        files=[payload("ledger.bin", "application/octet-stream", big)],
    )

    assert len(dropped) == 5
    # Each dropped chunk was sent again until the server acknowledged it.
    assert set(attempts) == {"0", "1", "2", "3"}
    for index in set(dropped):
        assert attempts[index] > dropped.count(index)
    delivered = Counter(s.path.rsplit("/", 1)[1] for s in traffic.to("/api/v1/uploads/", "PUT"))
    assert set(delivered) == {"0", "1", "2", "3"}
    assert open_as_desk(instance, desk, receipt.receipt).files == [big]


def test_no_page_asks_anything_of_another_host(
    source: Source, traffic: Traffic, live_intake: str
) -> None:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A CSP violation (an inline script or style, a foreign host) is logged as an error.
        if message.type == "error":
            problems.append(message.text)

    source.page.on("console", on_console)
    source.open_submission_page()
    source.choose_files([payload("pit.jpg", "image/jpeg", photo_with_location())])
    details = source.photo_details(0)
    assert "Tecno Spark 10" in details  # exifr ran, from our own origin
    source.page.goto("/replies")
    source.wait_for_script()
    source.page.goto("/safety")
    for lang in ("fr", "nl", "sw"):
        source.open_submission_page(lang)

    server = urlsplit(live_intake).netloc
    hosts = {urlsplit(s.url).netloc for s in traffic.sent}
    assert hosts == {server}
    assert problems == []
