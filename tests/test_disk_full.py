"""A full disk: the intake says "try again later", keeps everything acknowledged, and recovers
by itself once there is room again.

The blob store sits on a small tmpfs of its own (mounting one needs root, which the test
command has: it installs Debian packages), filled to the last page by a filler file; the
database stays on the ordinary disk, as PostgreSQL would.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from filon.accounts import get_user, unlock_user_key
from filon.instance import Instance
from filon.models import Evidence
from filon.submissions import open_submission, write_evidence
from tests.client.filon_client import Client, FileToSend, ServerError, b64
from tests.conftest import DeskSetup
from tests.samples.make import jpeg_with_pillow_exif
from tests.test_nojs import NoScriptSource

SERIAL = b"SN-SENTINEL-4711"


@pytest.fixture
def small_disk(instance: Instance) -> Iterator[Path]:
    """A 32 MiB tmpfs under the blob store, unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (scripts/test.sh runs as root)")
    root = instance.store.root
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(root)],  # noqa: S607
        check=True,
    )
    try:
        for folder in ("tmp", "uploads"):
            (root / folder).mkdir(mode=0o700)
        yield root
    finally:
        instance.store.close()
        subprocess.run(["umount", "-l", str(root)], check=False)  # noqa: S607


def fill(root: Path) -> Path:
    """Write a filler file until the disk refuses another byte."""
    filler = root / "filler"
    block = b"\0" * (1024 * 1024)
    with open(filler, "wb", buffering=0) as handle:
        for size in (len(block), 4096, 1):
            with pytest.raises(OSError, match="No space") as full:  # noqa: PT012
                while True:
                    handle.write(block[:size])
            assert full.value.errno == errno.ENOSPC
    return filler


def announce(client: Client, header: bytes, chunks: list[bytes]) -> str:
    created = client.post_json(
        "/api/v1/uploads",
        {"key_id": client.key_info["key_id"], "header": b64(header), "size": sum(map(len, chunks))},
    )
    return str(created["upload_id"])


def submit(client: Client, upload_id: str, key: bytes, data: bytes, name: str) -> str:
    kind = "image/jpeg" if name.endswith(".jpg") else "application/octet-stream"
    return client.send_submission(
        desk="drc-minerals",
        answers={"report": "Sent while the disk was full."},
        entries=[client.file_entry(upload_id, key, FileToSend(name, kind, data))],
    ).receipt


def file_of(instance: Instance, desk: DeskSetup, receipt: str) -> bytes:
    with instance.sessions() as session:
        user = get_user(session, desk.username)
        opened = open_submission(
            session, reference=receipt, user=user, user_key=unlock_user_key(user, desk.password)
        )
        sink = io.BytesIO()
        write_evidence(instance.store, opened.evidence[0], opened.desk_key, sink)
    return sink.getvalue()


def test_a_full_disk_is_try_again_later_and_nothing_acknowledged_is_lost(
    instance: Instance,
    desk: DeskSetup,
    small_disk: Path,
    live_intake: str,
    intake_client: FlaskClient,
) -> None:
    client = Client(live_intake, shuffle_chunks=False)
    client.fetch_key()
    # Before the disk fills: a large file half sent, and a photo sent whole.
    large = os.urandom(2 * 1024 * 1024 + 100)
    large_key, large_header, large_chunks = client.encrypt(large)
    large_upload = announce(client, large_header, large_chunks)
    for index in (0, 1):
        client.put_chunk(large_upload, index, large_chunks[index])
    photo = jpeg_with_pillow_exif()
    photo_upload, photo_key = client.upload(photo)

    filler = fill(small_disk)

    with pytest.raises(ServerError) as refused:
        announce(client, *client.encrypt(b"a new file")[1:])
    assert (refused.value.status, refused.value.code) == (503, "try_again_later")
    # The space of an announced upload was reserved when it was announced: its last chunk
    # still lands on a full disk.
    assert client.put_chunk(large_upload, 2, large_chunks[2]) == 3
    # Cleaning the photo needs room for the cleaned copy: refused, and the upload is kept.
    with pytest.raises(ServerError) as refused:
        submit(client, photo_upload, photo_key, photo, "barrier.jpg")
    assert (refused.value.status, refused.value.code) == (503, "try_again_later")
    assert client.request("GET", f"/api/v1/uploads/{photo_upload}") == {"received": 1}
    # The form without JavaScript seals files to disk as they arrive: a page that says so.
    page = NoScriptSource(intake_client).submit_report(
        "A report with a file", files=[("ledger.pdf", "application/pdf", b"%PDF-1.4 " * 9000)]
    )
    assert page.status_code == 503
    assert b"Please try again later" in page.data
    assert page.headers["Retry-After"] == "600"

    filler.unlink()  # an administrator frees space; nobody restarts anything

    client.fetch_key()
    assert announce(client, *client.encrypt(b"a new file")[1:])
    large_receipt = submit(client, large_upload, large_key, large, "ledger.bin")
    photo_receipt = submit(client, photo_upload, photo_key, photo, "barrier.jpg")
    assert file_of(instance, desk, large_receipt) == large
    cleaned = file_of(instance, desk, photo_receipt)
    assert cleaned.startswith(b"\xff\xd8")
    assert SERIAL not in cleaned
    # Nothing half-written stayed behind from the refused requests.
    with instance.sessions() as session:
        named = set(session.scalars(select(Evidence.blob_id)))
    assert set(instance.store.ids()) <= named
    assert not list((small_disk / "tmp").rglob("*.part"))
