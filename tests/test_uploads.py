"""Chunk bookkeeping under concurrency, and reading chunk bodies under either server."""

from __future__ import annotations

import http.client
import os
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crypto.stream import CIPHER_CHUNK_SIZE, HEADER_BYTES
from filon.db import transaction
from filon.instance import Instance
from filon.models import Upload, UploadChunk
from intake import uploads

CHUNKS = 12


def new_upload(instance: Instance, chunks: int = CHUNKS) -> Upload:
    with transaction(instance.sessions) as session:
        return uploads.create_upload(
            session,
            instance.store,
            key_id="test",
            header=os.urandom(HEADER_BYTES),
            size=(chunks - 1) * CIPHER_CHUNK_SIZE + 17,
            max_file_bytes=64 * 1024 * 1024,
        )


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            work(number)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_the_ledger_records_every_chunk_sent_at_once_with_counts_that_only_grow(
    instance: Instance,
) -> None:
    first, second = new_upload(instance), new_upload(instance)
    ledger = uploads.ChunkLedger(instance.sessions)
    counts: dict[tuple[int, int], int] = {}

    def record(number: int) -> None:
        upload = first if number % 2 else second
        index = number // 2
        counts[(upload.id, index)] = ledger.record(upload, index)
        assert ledger.record(upload, index) >= counts[(upload.id, index)]  # a retry is moot

    assert run_threads(2 * CHUNKS, record) == []
    with instance.sessions() as session:
        for upload in (first, second):
            held = sorted(
                session.scalars(select(UploadChunk.index).where(UploadChunk.upload_id == upload.id))
            )
            assert held == list(range(CHUNKS))
            own = [counts[(upload.id, index)] for index in range(CHUNKS)]
            # Each answer counts at least the request's own chunk, never more than exist.
            assert all(1 <= count <= CHUNKS for count in own)
            assert max(own) == CHUNKS
            assert uploads.missing_chunks(session, upload) == []


def test_a_failed_commit_fails_every_request_waiting_on_it_and_the_next_ones_succeed(
    instance: Instance,
) -> None:
    upload = new_upload(instance)
    real = instance.sessions
    broken = True

    def sessions() -> Session:
        if broken:
            raise OperationalError("BEGIN", {}, Exception("database is unreachable"))
        return real()

    ledger = uploads.ChunkLedger(sessions)  # type: ignore[arg-type]
    errors = run_threads(6, lambda n: ledger.record(upload, n))
    assert len(errors) == 6
    assert all(isinstance(error, OperationalError) for error in errors)
    with instance.sessions() as session:
        assert uploads.missing_chunks(session, upload) == list(range(CHUNKS))

    broken = False
    assert run_threads(6, lambda n: ledger.record(upload, n)) == []
    with instance.sessions() as session:
        assert uploads.missing_chunks(session, upload) == list(range(6, CHUNKS))


@pytest.mark.parametrize("server", ["cheroot", "werkzeug test client"])
def test_a_chunk_body_arrives_whole_under_either_server(
    server: str,
    instance: Instance,
    intake_client: FlaskClient,
    live_intake: str,
) -> None:
    upload = new_upload(instance, chunks=2)
    chunk = os.urandom(CIPHER_CHUNK_SIZE)
    path = f"/api/v1/uploads/{upload.public_id}/0"
    if server == "cheroot":
        address = urlsplit(live_intake)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        # Sent in pieces, so part of the body comes with the request head and part after.
        connection.putrequest("PUT", path)
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(len(chunk)))
        connection.endheaders(chunk[:1000])
        connection.send(chunk[1000:])
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 200, body
    else:
        answer = intake_client.put(
            path, data=chunk, headers={"Content-Type": "application/octet-stream"}
        )
        assert answer.status_code == 200, answer.data
    with instance.store.open_incoming(upload.blob_id) as handle:
        handle.seek(4 + HEADER_BYTES)
        assert handle.read(CIPHER_CHUNK_SIZE) == chunk


def test_a_chunk_cut_short_is_refused_and_nothing_is_recorded(
    instance: Instance, live_intake: str
) -> None:
    upload = new_upload(instance, chunks=2)
    address = urlsplit(live_intake)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("PUT", f"/api/v1/uploads/{upload.public_id}/0")
    connection.putheader("Content-Length", str(CIPHER_CHUNK_SIZE))
    connection.endheaders(os.urandom(5000))
    connection.sock.shutdown(1)  # the client stops sending: the body ends early
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 400
    assert b"malformed" in body
    with instance.sessions() as session:
        assert uploads.missing_chunks(session, upload) == [0, 1]


@pytest.mark.parametrize(
    "upload_id",
    ["a%00b", "%00" * 20, "x" * 65, "short", "%C3%A9" * 16, "..%2F..%2Fetc", "a%20b" * 8],
)
def test_an_upload_id_the_server_never_issued_is_not_found_on_either_database(
    intake_client: FlaskClient, upload_id: str
) -> None:
    chunk = os.urandom(CIPHER_CHUNK_SIZE)
    answers = [
        intake_client.get(f"/api/v1/uploads/{upload_id}"),
        intake_client.put(
            f"/api/v1/uploads/{upload_id}/0",
            data=chunk,
            headers={"Content-Type": "application/octet-stream"},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 404, (upload_id, answer.data)
        # "not_found" where the decoded path no longer matches the route (an encoded "/").
        assert answer.get_json()["error"] in {"upload_not_found", "not_found"}
