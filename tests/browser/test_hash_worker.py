"""A large file's plaintext is hashed in a second worker while the sealing worker encrypts:
the digest is still exactly the SHA-256 of the whole file, and any failure of that worker
fails the submission closed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.wrappers import Response

from crypto.stream import ABYTES
from filon.instance import Instance
from intake.pages import SEALING_CSP
from tests.browser.evidence import (
    CHUNK,
    SENTINEL_BYTES,
    large_file,
    leaked,
    open_as_desk,
    payload,
)
from tests.browser.pages import Source, Traffic
from tests.conftest import DeskSetup

pytestmark = pytest.mark.browser

# seal-worker.js hashes files of at least PARALLEL_HASH_MIN_BYTES (16 MiB) in hash-worker.js.
HASHED_APART = 17 * CHUNK + 123_457
HASH_WORKER = "/static/intake/hash-worker.js"
REPORT = "The trucks left Rubaya at night, loaded past the weighbridge."

# Stands in for hash-worker.js: ready at once, then it breaks on the third chunk.
BREAKS_ON_THE_THIRD_CHUNK = """
let hashed = 0;
self.onmessage = (event) => {
  const message = event.data;
  if (message.op === 'init') self.postMessage({ type: 'ready' });
  if (message.op !== 'update') return;
  hashed += 1;
  if (hashed === 3) throw new Error('the hash worker broke');
  self.postMessage({ type: 'hashed', id: message.id, count: hashed });
};
"""


@dataclass
class HashWorkerScript:
    """What the server answers for hash-worker.js: the real script unless ``replacement``
    says otherwise, and how many times it was asked for.

    Replaced on the server, not with Playwright's routes: a worker started by a worker is
    out of their reach (which is also why :class:`Traffic` does not see its requests).
    """

    replacement: Response | None = None
    requests: int = 0


@pytest.fixture
def hash_worker_script(intake_app: Flask) -> HashWorkerScript:
    """Control over the hash worker's script as the live server serves it."""
    script = HashWorkerScript()
    serve = intake_app.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HASH_WORKER:
            script.requests += 1
            if script.replacement is not None:
                answer: Iterable[bytes] = script.replacement(environ, start_response)
                return answer
        answered: Iterable[bytes] = serve(environ, start_response)
        return answered

    intake_app.wsgi_app = wsgi_app  # type: ignore[method-assign]
    return script


def test_a_large_file_is_hashed_beside_encryption(
    source: Source,
    traffic: Traffic,
    instance: Instance,
    desk: DeskSetup,
    hash_worker_script: HashWorkerScript,
) -> None:
    big = large_file(HASHED_APART)

    receipt = source.submit_report(
        REPORT, files=[payload("convoy.bin", "application/octet-stream", big)]
    )

    # The server accepted the file only because its SHA-256 matched the one in the envelope.
    assert receipt.receipt
    assert hash_worker_script.requests == 1, "the hash worker was not used"
    chunks = sorted(len(s.body) for s in traffic.to("/api/v1/uploads/", "PUT"))
    assert chunks == [123_457 + ABYTES] + [CHUNK + ABYTES] * 17
    for sent in traffic.sent:
        assert not leaked(sent.body, SENTINEL_BYTES), f"{sent.method} {sent.url}"
    assert open_as_desk(instance, desk, receipt.receipt).files == [big]


def test_a_hash_worker_that_cannot_start_sends_nothing(
    source: Source, traffic: Traffic, hash_worker_script: HashWorkerScript
) -> None:
    hash_worker_script.replacement = Response("gone", status=404)
    source.open_submission_page()
    source.write_report(REPORT, place="Rubaya")
    source.choose_files(
        [payload("convoy.bin", "application/octet-stream", large_file(HASHED_APART))]
    )
    traffic.clear()

    source.press_send()

    assert "Encryption could not start in this browser, so nothing was sent" in (
        source.failure_message()
    )
    assert hash_worker_script.requests == 1
    source.page.wait_for_timeout(500)  # anything queued would have left by now
    assert [s for s in traffic.sent if s.method != "GET"] == []


def test_a_hash_worker_failing_mid_file_fails_the_submission(
    source: Source,
    traffic: Traffic,
    instance: Instance,
    desk: DeskSetup,
    hash_worker_script: HashWorkerScript,
) -> None:
    hash_worker_script.replacement = Response(
        BREAKS_ON_THE_THIRD_CHUNK,
        mimetype="text/javascript",
        headers={"Content-Security-Policy": SEALING_CSP},
    )
    big = large_file(HASHED_APART)
    source.open_submission_page()
    source.write_report(REPORT, place="Rubaya")
    source.choose_files([payload("convoy.bin", "application/octet-stream", big)])

    source.press_send()

    assert "Encrypting “convoy.bin” failed, so your report was not sent" in source.failure_message()
    source.page.wait_for_timeout(500)
    assert not traffic.to("/api/v1/submissions"), "the envelope must never be sent"
    # The encryption stopped with the hash: it did not run on to the end of the file.
    assert len(traffic.to("/api/v1/uploads/", "PUT")) < 17

    # With a working hash worker again, the next attempt starts a fresh one and succeeds.
    hash_worker_script.replacement = None
    source.press_send()
    receipt = source.read_receipt()
    assert open_as_desk(instance, desk, receipt.receipt).files == [big]
