"""The intake protocol v1 (DESIGN.md §4): JSON endpoints under ``/api/v1``.

The API carries no cookies or other ambient credentials, so CSRF does not apply to it. Every
failure a client can cause answers ``{"error", "message"}`` with a 4xx status.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import OperationalError

from crypto.keys import KeyFormatError, b64decode, b64encode
from crypto.sealing import seal
from crypto.stream import CHUNK_SIZE, CIPHER_CHUNK_SIZE, PREFIX_SIZE
from filon.body import read_into, thread_buffer
from filon.db import transaction
from filon.errors import is_storage_failure
from filon.keyring import IntakeKey
from filon.replies import replies_for_source
from filon.web import error_response
from intake import pow as pow_
from intake import uploads
from intake.envelope import open_envelope, parse_replies, parse_submission
from intake.errors import (
    MalformedRequest,
    ProofOfWorkFailed,
    ProtocolError,
    TooLarge,
    TryLater,
    UnknownKey,
    UploadIncomplete,
    UploadNotFound,
    UploadUsed,
)
from intake.services import chunk_ledger, instance
from intake.sources import find_source
from intake.submission import IncomingFile, submit

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_JSON_BYTES = 4 * 1024 * 1024


@bp.errorhandler(ProtocolError)
def _protocol_error(exc: ProtocolError) -> Response:
    return error_response(exc.status, exc.code, exc.message)


@bp.errorhandler(OperationalError)
def _database_down(_exc: OperationalError) -> Response:
    # The database is unreachable or locked: the client retries; acknowledged data is safe.
    return error_response(503, TryLater.code, "the server cannot store this now; try again later")


@bp.errorhandler(OSError)
def _storage_error(exc: OSError) -> Response:
    if is_storage_failure(exc):
        return error_response(
            503, TryLater.code, "the server cannot store this now; try again later"
        )
    raise exc


def _json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise TooLarge("the request body is too large")
    request.max_content_length = MAX_JSON_BYTES  # also bounds a body sent without a length
    try:
        data = json.loads(request.get_data(cache=False))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest("the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise MalformedRequest("the body must be a JSON object")
    return data


def _b64_field(data: dict[str, Any], name: str) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise MalformedRequest(f"{name} must be a base64 string")
    try:
        return b64decode(value, what=name)
    except KeyFormatError as exc:
        raise MalformedRequest(str(exc)) from exc


def _intake_key(data: dict[str, Any]) -> IntakeKey:
    key_id = data.get("key_id")
    key = instance().keyring.intake_key(key_id) if isinstance(key_id, str) else None
    if key is None:
        raise UnknownKey("key_id names no intake key of this server: fetch /api/v1/key again")
    return key


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/key")
def key() -> Response:
    """Step 1: the intake key, its signature, and what a client needs to submit."""
    filon = instance()
    intake_key = filon.keyring.current_intake_key()
    settings = filon.settings
    with transaction(filon.sessions) as session:
        challenge = pow_.issue_challenge(session)
    # Each answer carries a single-use challenge: no cache may hand it to someone else.
    return _no_store(
        jsonify(
            {
                "key_id": intake_key.key_id,
                "public_key": b64encode(intake_key.keypair.public),
                "signature": b64encode(intake_key.signature),
                "signing_key": b64encode(filon.keyring.signing_key().public),
                "chunk_size": CHUNK_SIZE,
                "pow": {"challenge": b64encode(challenge), "difficulty": settings.pow_difficulty},
                "max_file_bytes": settings.max_file_bytes,
                "source_kdf": {
                    "salt": b64encode(settings.source_kdf_salt),
                    "opslimit": settings.source_kdf.opslimit,
                    "memlimit": settings.source_kdf.memlimit,
                },
            }
        )
    )


@bp.post("/uploads")
def create_upload() -> tuple[Response, int]:
    """Step 2: announce a file's stream (header and ciphertext size)."""
    data = _json_body()
    intake_key = _intake_key(data)
    size = data.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise MalformedRequest("size must be a non-negative integer (ciphertext bytes)")
    header = _b64_field(data, "header")
    filon = instance()
    blob_id = None
    try:
        with transaction(filon.sessions) as session:
            upload = uploads.create_upload(
                session,
                filon.store,
                key_id=intake_key.key_id,
                header=header,
                size=size,
                max_file_bytes=filon.settings.max_file_bytes,
            )
            upload_id, blob_id = upload.public_id, upload.blob_id
    except BaseException:
        if blob_id is not None:  # the row did not commit: its stream goes too
            filon.store.discard_incoming(blob_id)
        raise
    filon.store.settle([blob_id])  # the committed row names the stream from now on
    return _no_store(jsonify(upload_id=upload_id, received=0)), 201


@bp.put("/uploads/<upload_id>/<int:index>")
def put_chunk(upload_id: str, index: int) -> Response:
    """Step 3: one ciphertext chunk, in any order, idempotent."""
    length = request.content_length
    if length is None:
        raise MalformedRequest("a chunk needs a Content-Length")
    if length > CIPHER_CHUNK_SIZE:
        raise TooLarge(f"a chunk is at most {CIPHER_CHUNK_SIZE} bytes")
    data = memoryview(thread_buffer(CIPHER_CHUNK_SIZE))[:length]
    if read_into(request.environ, data) != length:
        raise MalformedRequest("the chunk ended before its Content-Length")
    filon = instance()
    with filon.sessions() as session:
        upload = uploads.find_upload(session, upload_id)
    uploads.write_chunk(filon.store, upload=upload, index=index, data=data)
    return _no_store(jsonify(received=chunk_ledger().record(upload, index)))


@bp.get("/uploads/<upload_id>")
def upload_status(upload_id: str) -> Response:
    """Step 3: how many chunks are held."""
    filon = instance()
    with filon.sessions() as session:
        upload = uploads.find_upload(session, upload_id)
        count = uploads.received(session, upload)
    return _no_store(jsonify(received=count))


@bp.post("/submissions")
def create_submission() -> Response:
    """Step 4: the sealed envelope naming the uploads; answers sealed to ``reply_to``."""
    data = _json_body()
    intake_key = _intake_key(data)
    _spend_proof_of_work(data.get("pow"))
    filon = instance()
    envelope = parse_submission(
        open_envelope(data.get("envelope"), intake_key),
        max_file_bytes=filon.settings.max_file_bytes,
    )
    files = []
    with filon.sessions() as session:
        for entry in envelope.files:
            upload = uploads.find_upload(session, entry.upload_id)
            if upload.key_id != intake_key.key_id:
                raise UploadNotFound("an upload was announced under another intake key")
            if upload.used:
                raise UploadUsed("an upload already belongs to a submission")
            if uploads.received(session, upload) != upload.chunk_count:
                raise UploadIncomplete(f"upload {entry.upload_id} is missing chunks")
            files.append(
                IncomingFile(
                    blob_id=upload.blob_id,
                    key=entry.key,
                    stream_size=PREFIX_SIZE + upload.ciphertext_size,
                    name=entry.name,
                    type=entry.type,
                    claimed_size=entry.size,
                    claimed_sha256=entry.sha256,
                    keep_location=entry.keep_location,
                    keep_time=entry.keep_time,
                )
            )
    outcome = submit(
        filon,
        desk_slug=envelope.desk,
        lang=envelope.lang,
        answers=envelope.answers,
        files=files,
        codename=envelope.codename,
        upload_ids=[entry.upload_id for entry in envelope.files],
    )
    answer: dict[str, str] = {
        "receipt": outcome.receipt,
        "signed_receipt": b64encode(outcome.signed_receipt),
    }
    if outcome.codename is not None:
        answer["codename"] = outcome.codename
    sealed = seal(json.dumps(answer).encode("utf-8"), envelope.reply_to)
    return _no_store(jsonify(sealed=b64encode(sealed)))


@bp.post("/replies")
def list_replies() -> Response:
    """Step 5: a returning source's replies, each sealed to their source key."""
    data = _json_body()
    intake_key = _intake_key(data)
    request_ = parse_replies(open_envelope(data.get("envelope"), intake_key))
    filon = instance()
    with filon.sessions() as session:
        known = find_source(session, filon, request_.codename)
        replies = [
            {
                "at": reply.created_hour.isoformat() + "Z",
                "sealed": b64encode(reply.sealed_for_source),
            }
            for reply in replies_for_source(session, known.source)
        ]
    sealed = seal(json.dumps({"replies": replies}).encode("utf-8"), request_.reply_to)
    return _no_store(jsonify(sealed=b64encode(sealed)))


def _spend_proof_of_work(proof: object) -> None:
    if not isinstance(proof, dict):
        raise MalformedRequest("pow must be {challenge, nonce}")
    challenge = _b64_field(proof, "challenge")
    filon = instance()
    try:
        with transaction(filon.sessions) as session:
            pow_.consume(session, challenge, proof.get("nonce"), filon.settings.pow_difficulty)
    except pow_.PowError as exc:
        raise ProofOfWorkFailed(str(exc)) from exc
