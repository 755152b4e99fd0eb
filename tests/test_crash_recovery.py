"""SIGKILL at random points: nothing acknowledged is lost, and nothing half-written remains.

``filon serve`` runs as a real process. Sources (the stdlib client of ``tests/client``) upload
files chunk by chunk and submit them while the test kills the server with SIGKILL at a
random moment, 20 times in a row, restarting it each time. After every restart:

- every chunk the server acknowledged is still held: each unfinished upload is resumed by
  sending only the chunks never acknowledged, and its submission must verify in full;
- every receipt the server handed out opens, with the file's exact bytes;
- every submission in the record opens (none is half-written), every blob on disk is named
  by the record, every incoming stream belongs to an open upload, and no dead process's
  workspace is left;
- no plaintext (a canary in every report and file) is anywhere on disk.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from filon.accounts import get_user, unlock_user_key
from filon.blobstore import BlobStore
from filon.instance import Instance
from filon.models import Evidence, Submission, Upload
from filon.submissions import open_submission, write_evidence
from tests.client.filon_client import Client, FileToSend, ServerError, b64
from tests.conftest import DeskSetup
from tests.samples.make import jpeg_with_pillow_exif

pytestmark = pytest.mark.slow

KILLS = 20
CANARY = b"CANARY-crash-recovery-plaintext-5e1d"
FILE_BYTES = 2 * 1024 * 1024 + 4096  # three chunks
SERIAL = b"SN-SENTINEL-4711"  # in the sample photo's EXIF
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sent:
    """One source's file: what the server acknowledged of it, as the source saw it."""

    data: bytes
    key: bytes
    header: bytes
    chunks: list[bytes]
    photo: bool  # a photo is cleaned (a new blob); other files are kept as sent
    upload_id: str | None = None
    acked: set[int] = field(default_factory=set)
    receipt: str | None = None


@dataclass
class Ledger:
    """Everything acknowledged across all runs."""

    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receipts(self) -> dict[str, Sent]:
        return {item.receipt: item for item in self.sent if item.receipt is not None}


class Server:
    """``filon serve`` as a subprocess on free ports."""

    def __init__(self, instance: Instance, tmp: Path) -> None:
        self.instance = instance
        self.tmp = tmp
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.recoveries: list[str] = []
        self.drain: threading.Thread | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "filon",
                "serve",
                "--instance",
                str(self.instance.settings.instance_dir),
                "--host",
                "127.0.0.1",
                "--intake-port",
                "0",
                "--casework-port",
                "0",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(self.tmp)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("recovered after a crash"):
                self.recoveries.append(line.strip())
            if line.startswith("intake: "):
                self.url = line.split(" ", 1)[1].strip()
                self.drain = threading.Thread(target=self.process.stdout.read, daemon=True)
                self.drain.start()
                return
        self.process.kill()
        pytest.fail("filon serve did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self._reap()

    def _reap(self) -> None:
        assert self.process is not None
        self.process.wait(timeout=30)
        if self.drain is not None:
            self.drain.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


def new_file(rng: random.Random, client: Client) -> Sent:
    """Every other source sends a photo with a phone's EXIF, the others a large file."""
    photo = rng.random() < 0.5
    if photo:
        data = jpeg_with_pillow_exif()
    else:
        data = rng.randbytes(FILE_BYTES // 2) + CANARY + rng.randbytes(FILE_BYTES // 2)
    key, header, chunks = client.encrypt(data)
    return Sent(data=data, key=key, header=header, chunks=chunks, photo=photo)


def send(client: Client, ledger: Ledger, item: Sent) -> None:
    """Upload what is not acknowledged yet, then submit; record each acknowledgement."""
    if item.upload_id is None:
        created = client.post_json(
            "/api/v1/uploads",
            {
                "key_id": client.key_info["key_id"],
                "header": b64(item.header),
                "size": sum(len(c) for c in item.chunks),
            },
        )
        item.upload_id = created["upload_id"]
    for index, chunk in enumerate(item.chunks):
        if index not in item.acked:
            client.put_chunk(item.upload_id, index, chunk)
            with ledger.lock:
                item.acked.add(index)
    name, kind = ("barrier.jpg", "image/jpeg") if item.photo else ("ledger.bin", "")
    sent = client.send_submission(
        desk="drc-minerals",
        answers={"report": f"Report with {CANARY.decode()}"},
        entries=[client.file_entry(item.upload_id, item.key, FileToSend(name, kind, item.data))],
    )
    with ledger.lock:
        item.receipt = sent.receipt


def sources(url: str, ledger: Ledger, rng: random.Random, stop: threading.Event) -> None:
    """New sources, one after another, until the server dies under them."""
    client = Client(url, shuffle_chunks=False)
    try:
        client.fetch_key()
        while not stop.is_set():
            item = new_file(rng, client)
            with ledger.lock:
                ledger.sent.append(item)
            send(client, ledger, item)
    except (OSError, ServerError):
        return  # the server was killed mid-request


def resume(url: str, ledger: Ledger) -> None:
    """Finish every upload whose submission never came back, sending only unacknowledged chunks."""
    client = Client(url, shuffle_chunks=False)
    client.fetch_key()
    for item in list(ledger.sent):
        if item.receipt is not None or item.upload_id is None:
            continue
        try:
            send(client, ledger, item)
        except ServerError as exc:
            # The submission committed but its answer died with the server: it was never
            # acknowledged, and the upload cannot be used twice.
            if exc.code != "upload_used":
                raise


def check_instance(instance: Instance, desk: DeskSetup, ledger: Ledger) -> None:
    """Every acknowledged receipt opens with its bytes; the record and the disk agree."""
    store = instance.store
    receipts = ledger.receipts()
    with instance.sessions() as session:
        user = get_user(session, desk.username)
        user_key = unlock_user_key(user, desk.password)
        references = session.scalars(select(Submission.reference)).all()
        assert set(receipts) <= set(references), "an acknowledged submission is gone"
        for reference in references:
            opened = open_submission(session, reference=reference, user=user, user_key=user_key)
            for evidence in opened.evidence:
                sink = io.BytesIO()
                write_evidence(store, evidence, opened.desk_key, sink)
                if reference not in receipts:
                    continue
                if receipts[reference].photo:  # cleaned: a JPEG without the phone's serial
                    assert sink.getvalue().startswith(b"\xff\xd8")
                    assert SERIAL not in sink.getvalue()
                else:
                    assert sink.getvalue() == receipts[reference].data
        named = set()
        for blob_id, original in session.execute(
            select(Evidence.blob_id, Evidence.original_blob_id)
        ):
            named |= {blob_id, original} - {None}
        open_uploads = set(session.scalars(select(Upload.blob_id).where(Upload.used.is_(False))))
    assert set(store.ids()) <= named, "a blob no record names"
    assert set(store.incoming_ids()) <= open_uploads, "an incoming stream no open upload names"
    leftover = [p for p in (store.root / "tmp").rglob("*") if p.suffix == ".part"]
    assert not leftover, leftover
    assert list(BlobStore(store.root).dead_workspaces()) == [], "a dead process's workspace"


def plaintext_on_disk(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and CANARY in path.read_bytes():
                found.append(path)
    return found


def test_sigkill_at_random_points_loses_nothing_acknowledged(
    instance: Instance, desk: DeskSetup, tmp_path: Path
) -> None:
    rng = random.Random(20261122)  # noqa: S311 - kill points, not secrets
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    server = Server(instance, server_tmp)
    ledger = Ledger()
    kills = []
    try:
        for _ in range(KILLS):
            server.start()
            resume(server.url, ledger)
            check_instance(instance, desk, ledger)
            stop = threading.Event()
            worker = threading.Thread(
                target=sources,
                args=(server.url, ledger, random.Random(rng.random()), stop),  # noqa: S311
            )
            worker.start()
            delay = rng.uniform(0.05, 1.5)
            time.sleep(delay)
            server.kill()
            stop.set()
            worker.join(timeout=60)
            kills.append(round(delay, 2))
        server.start()
        resume(server.url, ledger)
        check_instance(instance, desk, ledger)
    finally:
        server.stop()
    acknowledged = ledger.receipts()
    chunks = sum(len(item.acked) for item in ledger.sent)
    print(f"kills={len(kills)} receipts={len(acknowledged)} chunks_acked={chunks} at={kills}")
    print("\n".join(server.recoveries))
    assert len(kills) == KILLS
    assert len(acknowledged) >= KILLS, "too little work happened between the kills to mean much"
    assert not plaintext_on_disk(instance.settings.instance_dir, server_tmp)
