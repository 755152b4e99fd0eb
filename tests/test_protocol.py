"""The intake protocol v1 end to end, driven by a client written from DESIGN.md §4 alone."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox
from PIL import Image
from sqlalchemy import select

from filon.custody import chain
from filon.db import transaction
from filon.desks import get_desk
from filon.instance import Instance
from filon.models import CleaningStatus, Evidence, Source, Submission, Upload
from filon.replies import create_reply
from tests.client.filon_client import Client, FileToSend, ServerError, b64, unb64
from tests.conftest import DeskSetup

# Fresh for each run: another run on the same machine (whose `filon open` writes plaintext
# under its own temp folder, as it should) cannot trip this one's scan of the temp folder.
_RUN = secrets.token_hex(6)
CANARY_TEXT = f"CANARY-report-Rubaya-coltan-{_RUN}"
CANARY_BYTES = f"CANARY-file-bytes-Bisie-tin-{_RUN}".encode()


@pytest.fixture
def client(live_intake: str, instance: Instance) -> Client:
    return Client(live_intake, expected_signing_key=instance.keyring.signing_key().public)


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"  # make
    exif[0x0110] = "Model-X"  # model
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def big_binary() -> bytes:
    """Just over 3 MiB, so it spans four chunks, with the canary inside."""
    return os.urandom(3 * 1024 * 1024 + 12345) + CANARY_BYTES


def filon_open(instance: Instance, desk: DeskSetup, receipt: str, out: Path) -> dict:
    """``filon open RECEIPT --user NAME --out DIR`` as a person runs it; its JSON output."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "filon",
            "open",
            receipt,
            "--user",
            desk.username,
            "--instance",
            str(instance.settings.instance_dir),
            "--out",
            str(out),
        ],
        input=desk.password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_submission_with_files_round_trips_through_filon_open(
    client: Client, instance: Instance, desk: DeskSetup, tmp_path: Path
) -> None:
    files = [
        FileToSend("photo.jpg", "image/jpeg", jpeg_with_exif(), keep_location=False),
        FileToSend("notes.txt", "text/plain", b"Seen at the washing site. " + CANARY_BYTES),
        FileToSend("ledger.bin", "application/octet-stream", big_binary()),
    ]
    receipt = client.submit(
        desk=desk.slug, answers={"report": CANARY_TEXT, "place": "Rubaya"}, files=files, lang="fr"
    )
    assert receipt.receipt.startswith("FLN-")
    assert receipt.codename is not None
    assert len(receipt.codename.split()) == 8

    out = tmp_path / "out"
    opened = filon_open(instance, desk, receipt.receipt, out)
    assert opened["answers"] == {"report": CANARY_TEXT, "place": "Rubaya"}
    assert opened["lang"] == "fr"
    statuses = [f["status"] for f in opened["files"]]
    assert statuses == ["cleaned", "nothing_to_clean", "not_cleaned"]
    for sent, got in zip(files, opened["files"], strict=True):
        assert got["sha256"] == hashlib.sha256(sent.data).hexdigest()
        assert Path(got["path"]).parent == out
    written = [Path(f["path"]).read_bytes() for f in opened["files"]]
    assert b"CanaryCam" not in written[0]
    assert Image.open(io.BytesIO(written[0])).size == (64, 48)
    assert written[1] == files[1].data
    assert written[2] == files[2].data


def test_custody_chain_of_a_submission(client: Client, instance: Instance, desk: DeskSetup) -> None:
    receipt = client.submit(
        desk=desk.slug,
        answers={"report": "x"},
        files=[FileToSend("a.txt", "text/plain", b"hello")],
    )
    with instance.sessions() as session:
        events = chain(session, f"submission:{receipt.receipt}")
    assert [e.action for e in events] == ["received", "verified", "cleaned", "sealed"]
    assert all(e.at.minute == 0 and e.at.second == 0 for e in events)
    assert all(CANARY_TEXT not in e.details for e in events)


def files_written_since(root: Path, since: float) -> list[Path]:
    """Regular files under ``root`` changed since ``since`` (a test scans what it caused)."""
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= since:
                found.append(path)
        except OSError:
            continue
    return found


def assert_not_written(needles: list[bytes], roots: list[Path], since: float) -> int:
    """Scan every file written under ``roots`` since ``since``, byte for byte; count them."""
    scanned = 0
    for root in roots:
        for path in files_written_since(root, since):
            try:
                data = path.read_bytes()
            except OSError:  # removed meanwhile by whoever wrote it (another test run)
                continue
            scanned += 1
            for needle in needles:
                assert needle not in data, f"{needle!r} written to {path}"
    return scanned


def test_canaries_never_reach_disk(
    client: Client, instance: Instance, desk: DeskSetup, db_url: str
) -> None:
    started = time.time() - 1
    client.submit(
        desk=desk.slug,
        answers={"report": CANARY_TEXT},
        files=[
            FileToSend("n.txt", "text/plain", CANARY_BYTES * 10),
            FileToSend("big.bin", "application/octet-stream", big_binary()),
        ],
    )
    needles = [CANARY_TEXT.encode(), CANARY_BYTES, CANARY_TEXT.encode("utf-16-le")]
    roots = [instance.settings.instance_dir, Path(tempfile.gettempdir())]
    scanned = assert_not_written(needles, roots, started)
    assert scanned >= 3  # at least the database and the two blobs were looked at
    if db_url.startswith("postgresql"):
        with instance.engine.connect() as connection:
            dump = " ".join(
                str(row)
                for table in ("submissions", "evidence", "custody_events", "sources")
                for row in connection.exec_driver_sql(f"SELECT * FROM {table}")  # noqa: S608
            )
        assert CANARY_TEXT not in dump


def test_returning_source_adds_more_and_reads_replies(
    client: Client, instance: Instance, desk: DeskSetup
) -> None:
    first = client.submit(desk=desk.slug, answers={"report": "first"})
    second = client.submit(desk=desk.slug, answers={"report": "more"}, codename=first.codename)
    assert second.codename is None  # only a new source is given a codename
    with transaction(instance.sessions) as session:
        submissions = list(session.scalars(select(Submission).order_by(Submission.id)))
        assert submissions[0].source_id == submissions[1].source_id
        source = session.get(Source, submissions[0].source_id)
        assert source is not None
        create_reply(
            session,
            source=source,
            desk=get_desk(session, desk.slug),
            text="Merci. Pouvez-vous préciser le lieu ?",
        )
    # Case and accents do not matter when the codename is typed again.
    assert client.replies(first.codename.upper()) == ["Merci. Pouvez-vous préciser le lieu ?"]


def test_unknown_codename(client: Client, desk: DeskSetup) -> None:
    codename = client.submit(desk=desk.slug, answers={"report": "x"}).codename
    other = " ".join(reversed(codename.split()))
    with pytest.raises(ServerError) as caught:
        client.replies(other)
    assert (caught.value.status, caught.value.code) == (404, "codename_unknown")


def test_chunks_in_any_order_idempotent_with_status(client: Client, desk: DeskSetup) -> None:
    client.fetch_key()
    key, header, chunks = client.encrypt(os.urandom(2 * 1024 * 1024 + 10))
    created = client.post_json(
        "/api/v1/uploads",
        {"key_id": client.key_info["key_id"], "header": b64(header), "size": sum(map(len, chunks))},
    )
    assert created["received"] == 0
    upload_id = created["upload_id"]
    assert client.put_chunk(upload_id, 2, chunks[2]) == 1
    assert client.put_chunk(upload_id, 2, chunks[2]) == 1
    assert client.put_chunk(upload_id, 0, chunks[0]) == 2
    assert client.request("GET", f"/api/v1/uploads/{upload_id}") == {"received": 2}
    assert client.put_chunk(upload_id, 1, chunks[1]) == 3


def expect_error(call, status: int, code: str) -> None:  # noqa: ANN001
    with pytest.raises(ServerError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (status, code)


def test_upload_errors(client: Client, desk: DeskSetup) -> None:
    info = client.fetch_key()
    key, header, chunks = client.encrypt(os.urandom(1024 * 1024 + 5))
    size = sum(map(len, chunks))
    post = client.post_json
    expect_error(
        lambda: post("/api/v1/uploads", {"key_id": "0" * 64, "header": b64(header), "size": size}),
        400,
        "unknown_key",
    )
    expect_error(
        lambda: post(
            "/api/v1/uploads", {"key_id": info["key_id"], "header": b64(header[:10]), "size": size}
        ),
        400,
        "malformed_request",
    )
    expect_error(
        lambda: post(
            "/api/v1/uploads", {"key_id": info["key_id"], "header": b64(header), "size": 5}
        ),
        400,
        "malformed_request",
    )
    expect_error(
        lambda: post(
            "/api/v1/uploads", {"key_id": info["key_id"], "header": b64(header), "size": "9"}
        ),
        400,
        "malformed_request",
    )
    expect_error(
        lambda: post(
            "/api/v1/uploads", {"key_id": info["key_id"], "header": b64(header), "size": 2**62}
        ),
        413,
        "too_large",
    )
    expect_error(
        lambda: client.request("POST", "/api/v1/uploads", b"{not json"), 400, "malformed_request"
    )
    upload_id = post(
        "/api/v1/uploads", {"key_id": info["key_id"], "header": b64(header), "size": size}
    )["upload_id"]
    expect_error(lambda: client.put_chunk(upload_id, 5, chunks[0]), 400, "chunk_rejected")
    expect_error(lambda: client.put_chunk(upload_id, 0, chunks[0][:-1]), 400, "chunk_rejected")
    expect_error(lambda: client.put_chunk(upload_id, 1, chunks[0]), 400, "chunk_rejected")
    expect_error(lambda: client.put_chunk("no-such-upload", 0, chunks[0]), 404, "upload_not_found")
    expect_error(lambda: client.request("GET", "/api/v1/uploads/nope"), 404, "upload_not_found")


def _envelope_for(upload: str, file_key: bytes, data: bytes, **changes: object) -> dict:
    entry = {
        "upload_id": upload,
        "key": b64(file_key),
        "name": "f.bin",
        "type": "application/octet-stream",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "keep": {"location": False, "time": False},
    }
    entry.update(changes)
    return {
        "v": 1,
        "desk": "drc-minerals",
        "lang": "en",
        "codename": None,
        "answers": {"report": "r"},
        "files": [entry],
    }


@pytest.mark.parametrize(
    ("changes", "tamper", "status", "code"),
    [
        ({}, True, 422, "file_rejected"),  # a flipped ciphertext byte
        ({"sha256": "0" * 64}, False, 422, "file_rejected"),
        ({"size": 10}, False, 422, "file_rejected"),
        ({"key": b64(bytes(32))}, False, 422, "file_rejected"),
        ({"size": -1}, False, 400, "envelope_invalid"),
        ({"sha256": "XYZ"}, False, 400, "envelope_invalid"),
        ({"keep": {"location": "yes"}}, False, 400, "envelope_invalid"),
        ({"upload_id": "missing"}, False, 404, "upload_not_found"),
    ],
)
def test_files_that_do_not_hold_are_refused_and_the_upload_is_kept(
    client: Client,
    instance: Instance,
    desk: DeskSetup,
    changes: dict,
    tamper: bool,
    status: int,
    code: str,
) -> None:
    client.fetch_key()
    data = os.urandom(1024 * 1024 + 99)
    upload_id, key = client.upload(data)
    if tamper:
        with instance.sessions() as session:
            upload = session.scalars(select(Upload).where(Upload.public_id == upload_id)).one()
        path = instance.store.incoming_path(upload.blob_id)
        raw = bytearray(path.read_bytes())
        raw[100] ^= 1
        path.write_bytes(bytes(raw))
    envelope = _envelope_for(upload_id, key, data, **changes)
    expect_error(
        lambda: client.sealed_request("/api/v1/submissions", envelope, pow_=True), status, code
    )
    with instance.sessions() as session:
        upload = session.scalars(select(Upload).where(Upload.public_id == upload_id)).one()
        assert not upload.used
        assert instance.store.incoming_path(upload.blob_id).exists()  # nothing received is lost
        assert session.scalar(select(Submission.id)) is None
    assert list(instance.store.ids()) == []


def test_incomplete_and_reused_uploads(client: Client, desk: DeskSetup) -> None:
    client.fetch_key()
    data = os.urandom(2 * 1024 * 1024)
    upload_id, key = client.upload(data, skip={1})
    envelope = _envelope_for(upload_id, key, data)
    expect_error(
        lambda: client.sealed_request("/api/v1/submissions", envelope, pow_=True),
        409,
        "upload_incomplete",
    )
    client.fetch_key()
    whole_id, whole_key = client.upload(data)
    client.sealed_request(
        "/api/v1/submissions", _envelope_for(whole_id, whole_key, data), pow_=True
    )
    client.fetch_key()
    expect_error(
        lambda: client.sealed_request(
            "/api/v1/submissions", _envelope_for(whole_id, whole_key, data), pow_=True
        ),
        409,
        "upload_used",
    )


def test_proof_of_work_is_required_and_single_use(client: Client, desk: DeskSetup) -> None:
    client.fetch_key()
    envelope = {
        "v": 1,
        "desk": desk.slug,
        "lang": "en",
        "codename": None,
        "answers": {"report": "r"},
        "files": [],
    }
    client.sealed_request("/api/v1/submissions", envelope, pow_=True)
    expect_error(
        lambda: client.sealed_request("/api/v1/submissions", envelope, pow_=True),
        403,
        "proof_of_work_failed",
    )
    client.fetch_key()
    expect_error(
        lambda: client.post_json(
            "/api/v1/submissions", {"key_id": client.key_info["key_id"], "envelope": "AAAA"}
        ),
        400,
        "malformed_request",
    )


@pytest.mark.parametrize(
    ("envelope", "code"),
    [
        ({"v": 2}, "envelope_invalid"),
        (
            {"v": 1, "desk": "nowhere", "lang": "en", "answers": {"r": "x"}, "files": []},
            "unknown_desk",
        ),
        (
            {"v": 1, "desk": "drc-minerals", "lang": "en", "answers": {}, "files": []},
            "envelope_invalid",
        ),
        (
            {"v": 1, "desk": "drc-minerals", "lang": "!!", "answers": {"r": "x"}, "files": []},
            "envelope_invalid",
        ),
        (
            {"v": 1, "desk": "drc-minerals", "lang": "en", "answers": {"r": 5}, "files": []},
            "envelope_invalid",
        ),
        (
            {"v": 1, "desk": "drc-minerals", "lang": "en", "answers": {"r": "x"}, "files": {}},
            "envelope_invalid",
        ),
        (
            {
                "v": 1,
                "desk": "drc-minerals",
                "lang": "en",
                "answers": {"r": "x"},
                "files": [],
                "codename": "not a real codename at all ok",
            },
            "envelope_invalid",
        ),
    ],
)
def test_envelope_contents_are_checked(
    client: Client, desk: DeskSetup, envelope: dict, code: str
) -> None:
    client.fetch_key()
    expect_error(
        lambda: client.sealed_request("/api/v1/submissions", envelope, pow_=True),
        400 if code != "codename_unknown" else 404,
        code,
    )


def test_an_envelope_for_another_key_is_refused(client: Client, desk: DeskSetup) -> None:
    info = client.fetch_key()
    stranger = bytes(PrivateKey.generate().public_key)
    sealed = SealedBox(PublicKey(stranger)).encrypt(b'{"v": 1}')
    payload = {
        "key_id": info["key_id"],
        "envelope": b64(sealed),
        "pow": {
            "challenge": info["pow"]["challenge"],
            "nonce": client.solve(unb64(info["pow"]["challenge"]), info["pow"]["difficulty"]),
        },
    }
    expect_error(lambda: client.post_json("/api/v1/submissions", payload), 400, "envelope_invalid")


def test_cleaned_evidence_is_recorded_as_such(
    client: Client, instance: Instance, desk: DeskSetup
) -> None:
    client.submit(
        desk=desk.slug,
        answers={"report": "r"},
        files=[FileToSend("p.jpg", "image/jpeg", jpeg_with_exif())],
    )
    with instance.sessions() as session:
        evidence = session.scalars(select(Evidence)).one()
    assert evidence.cleaning_status is CleaningStatus.CLEANED
    assert evidence.kind == "image"
    assert instance.store.exists(evidence.blob_id)
    assert list((instance.settings.blobs_dir / "uploads").iterdir()) == []


def test_records_keep_hours_not_times_and_logs_keep_no_address(
    client: Client, instance: Instance, desk: DeskSetup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    client.submit(
        desk=desk.slug, answers={"report": "r"}, files=[FileToSend("a.txt", "text/plain", b"a")]
    )
    with instance.sessions() as session:
        submission = session.scalars(select(Submission)).one()
        upload = session.scalars(select(Upload)).one()
    for moment in (submission.received_hour, upload.created_hour):
        assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
    assert "127.0.0.1" not in caplog.text
    assert "Python-urllib" not in caplog.text  # the client's user agent


def test_every_intake_response_is_uncacheable(client: Client, intake_client) -> None:  # noqa: ANN001
    for path in ("/", "/replies", "/safety", "/api/v1/key", "/api/v1/nothing"):
        assert intake_client.get(path).headers["Cache-Control"] == "no-store", path


def test_hostile_files_are_flagged_and_the_intake_keeps_serving(
    client: Client, instance: Instance, desk: DeskSetup, tmp_path: Path
) -> None:
    from tests.samples import make

    photo = jpeg_with_exif()
    hostile = [
        FileToSend("bomb.png", "image/png", make.png_bomb()),
        FileToSend("cut.jpg", "image/jpeg", photo[: len(photo) // 2]),
        FileToSend("polyglot.jpg", "image/jpeg", photo + make.zip_with_entries(3)),
        FileToSend("photo.jpg", "image/jpeg", os.urandom(5000)),
        FileToSend(
            "many.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            make.zip_with_entries(10_000),
        ),
    ]
    receipt = client.submit(desk=desk.slug, answers={"report": "hostile"}, files=hostile)
    opened = filon_open(instance, desk, receipt.receipt, tmp_path / "out")
    files = {f["name"]: f for f in opened["files"]}
    for name in ("bomb.png", "cut.jpg", "photo.jpg", "many.docx"):
        assert files[name]["status"] == "not_cleaned", name
        assert files[name]["reason"], name
    # The polyglot's picture is cleaned and the ZIP hidden behind it is gone.
    polyglot = files["polyglot.jpg"]
    assert polyglot["status"] == "cleaned"
    assert b"PK\x03\x04" not in Path(polyglot["path"]).read_bytes()
    assert client.request("GET", "/api/v1/key")["key_id"]  # still serving
