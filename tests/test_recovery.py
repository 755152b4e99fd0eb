"""Recovery after a crash, rule by rule: a child process does part of the work and SIGKILLs
itself at the worst moment, then :func:`filon.recovery.recover` settles what it left.

``tests/test_crash_recovery.py`` kills a real server at random points; these tests put a
process to death exactly inside each window, so each rule is shown every time.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select, update

from crypto.stream import new_stream_key
from filon.db import transaction
from filon.instance import Instance
from filon.models import Upload
from filon.recovery import recover
from tests.client.filon_client import Client, b64

ROOT = Path(__file__).resolve().parent.parent


def die_after(instance: Instance, steps: str) -> None:
    """Run ``steps`` in a new process holding its own blob store, then SIGKILL it."""
    script = (
        textwrap.dedent(
            f"""
        import io, os, signal
        from pathlib import Path
        from crypto.stream import new_stream_key
        from filon.blobstore import BlobStore
        from filon.sealing_sink import SealingSink
        store = BlobStore(Path({str(instance.store.root)!r}))
        """
        )
        + textwrap.dedent(steps)
        + "\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == -9, run.stderr


def upload_all(client: FlaskClient, data: bytes) -> str:
    """An upload with every chunk sent; its public id."""
    key_id = client.get("/api/v1/key").get_json()["key_id"]
    _key, header, chunks = Client("").encrypt(data)
    made = client.post(
        "/api/v1/uploads",
        json={"key_id": key_id, "header": b64(header), "size": sum(map(len, chunks))},
    )
    upload_id = made.get_json()["upload_id"]
    for index, chunk in enumerate(chunks):
        answer = client.put(f"/api/v1/uploads/{upload_id}/{index}", data=chunk)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return upload_id


def blob_of(instance: Instance, upload_id: str) -> str:
    with instance.sessions() as session:
        return session.scalars(select(Upload.blob_id).where(Upload.public_id == upload_id)).one()


def test_a_blob_written_before_a_record_that_never_committed_is_removed(
    instance: Instance,
) -> None:
    die_after(
        instance,
        """
        blob_id, _ = store.write_encrypted(io.BytesIO(b"cleaned copy"), new_stream_key())
        Path(store.root / "written-id").write_text(blob_id)
        """,
    )
    blob_id = (instance.store.root / "written-id").read_text()
    assert instance.store.exists(blob_id)
    done = recover(instance)
    assert (done.workspaces, done.removed, done.returned) == (1, 1, 0)
    assert not instance.store.exists(blob_id)
    assert list((instance.store.root / "tmp").iterdir()) == []


def test_an_adopted_upload_whose_submission_never_committed_goes_back_to_its_upload(
    instance: Instance, intake_client: FlaskClient
) -> None:
    upload_id = upload_all(intake_client, b"a source's ledger " * 100)
    blob_id = blob_of(instance, upload_id)
    die_after(instance, f"store.adopt_incoming({blob_id!r})")
    assert instance.store.exists(blob_id)
    assert not instance.store.incoming_path(blob_id).exists()
    done = recover(instance)
    assert (done.removed, done.returned) == (0, 1)
    assert instance.store.incoming_path(blob_id).exists()
    assert not instance.store.exists(blob_id)
    status = intake_client.get(f"/api/v1/uploads/{upload_id}").get_json()
    assert status == {"received": 1}


def test_a_stream_the_plain_form_was_sealing_is_removed(instance: Instance) -> None:
    die_after(
        instance,
        """
        sink = SealingSink(store)
        sink.write(b"part of a photo " * 5000)
        Path(store.root / "sealing-id").write_text(sink.blob_id)
        """,
    )
    blob_id = (instance.store.root / "sealing-id").read_text()
    assert instance.store.incoming_path(blob_id).exists()
    done = recover(instance)
    assert done.removed == 1
    assert not instance.store.incoming_path(blob_id).exists()


def test_the_stream_of_a_used_upload_is_let_go(
    instance: Instance, intake_client: FlaskClient
) -> None:
    upload_id = upload_all(intake_client, b"replaced by a cleaned copy")
    blob_id = blob_of(instance, upload_id)
    with transaction(instance.sessions) as session:
        session.execute(update(Upload).where(Upload.blob_id == blob_id).values(used=True))
    done = recover(instance)
    assert (done.workspaces, done.released) == (0, 1)
    assert not instance.store.incoming_path(blob_id).exists()


def test_a_live_process_is_left_alone(instance: Instance, intake_client: FlaskClient) -> None:
    upload_id = upload_all(intake_client, b"still uploading")
    live_blob, _ = instance.store.write_encrypted(io.BytesIO(b"in flight"), new_stream_key())
    other = Instance.open(instance.settings)
    try:
        done = recover(other)
    finally:
        other.close()
    assert (done.workspaces, done.removed, done.returned, done.released) == (0, 0, 0, 0)
    assert instance.store.exists(live_blob)
    assert instance.store.incoming_path(blob_of(instance, upload_id)).exists()
