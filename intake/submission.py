"""The submission pipeline (DESIGN.md §5): verify, clean, seal, record, sign a receipt.

Both paths end here: the JavaScript path hands over uploads the source's browser encrypted,
the no-JavaScript path hands over streams the server sealed as the form arrived. Either way
each file is a ``filon-stream/1`` stream on disk with its key, and plaintext exists only in
this process's memory while it is verified, cleaned and sealed again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from crypto.errors import StreamError
from crypto.sealing import seal
from crypto.signing import sign_detached
from crypto.stream import StreamReader, StreamSummary, new_stream_key
from filon.custody import record_event
from filon.db import current_hour, transaction, utc_now
from filon.desks import get_desk
from filon.errors import NotFound
from filon.instance import Instance
from filon.models import CleaningStatus, Desk, Evidence, Submission, Upload
from filon.ports import SealedFile
from intake import metadata
from intake.errors import FileRejected, UnknownDesk, UploadUsed
from intake.sources import KnownSource, find_source, resolve_source

RECEIPT_PREFIX = "FLN"


@dataclass(frozen=True, repr=False)
class IncomingFile:
    """A file as it reached the server: an incoming stream on disk and what is claimed of it."""

    blob_id: str  # the incoming stream (BlobStore.incoming_path)
    key: bytes  # its file key
    stream_size: int  # bytes of the whole stream: magic, header and chunks
    name: str
    type: str
    claimed_size: int | None  # plaintext bytes, as the envelope claims (None: server-sealed)
    claimed_sha256: str | None
    # Set when this server sealed the stream itself (the plain form): what its writer saw.
    sealed_here: StreamSummary | None = None
    keep_location: bool = False
    keep_time: bool = False


def incoming_file(
    sealed: SealedFile, *, keep_location: bool = False, keep_time: bool = False
) -> IncomingFile:
    """A file this server sealed as it arrived (a form's file part), as the pipeline takes it."""
    return IncomingFile(
        blob_id=sealed.blob_id,
        key=sealed.key,
        stream_size=sealed.stream_size,
        sealed_here=sealed.sealed_here,
        name=sealed.name,
        type=sealed.type,
        claimed_size=None,  # nothing is claimed: the server saw every byte itself
        claimed_sha256=None,
        keep_location=keep_location,
        keep_time=keep_time,
    )


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file, for the source's receipt page."""

    name: str
    status: CleaningStatus
    reason: str | None


@dataclass(frozen=True)
class Outcome:
    """A stored submission: its receipt, the codename of a new source, and the files' fate."""

    receipt: str
    signed_receipt: bytes
    codename: str | None
    files: list[FileOutcome]


@dataclass
class _Stored:
    """One file after cleaning and sealing, before the record is written."""

    incoming: IncomingFile
    result: metadata.CleaningResult | None
    sha256: str
    size: int
    blob_id: str
    file_key: bytes
    ciphertext_size: int
    original_blob_id: str | None = None
    report: dict[str, Any] = field(default_factory=dict)


def new_receipt() -> str:
    """A receipt reference: 80 random bits, base32, easy to read out."""
    text = base64.b32encode(secrets.token_bytes(10)).decode("ascii")
    return f"{RECEIPT_PREFIX}-{text[:4]}-{text[4:8]}-{text[8:12]}-{text[12:]}"


def submit(
    instance: Instance,
    *,
    desk_slug: str,
    lang: str,
    answers: dict[str, str],
    files: list[IncomingFile],
    codename: str | None,
    upload_ids: list[str] | None = None,
    on_record: Callable[[Session, str], None] | None = None,
) -> Outcome:
    """Run the whole pipeline for one submission; nothing is recorded unless all of it holds.

    ``on_record(session, receipt)`` runs in the recording transaction before the record is
    written: a staff member filing for a source records themselves there (the casework).
    """
    with instance.sessions() as session:
        try:
            desk = get_desk(session, desk_slug)
        except NotFound as exc:
            raise UnknownDesk(f"there is no desk {desk_slug!r}") from exc
        if codename is not None:
            find_source(session, instance, codename)  # a mistyped codename fails before the work
    with _cleanup_on_failure(instance) as cleanup:
        stored = [
            _store_file(instance, desk, incoming, index, cleanup.written)
            for index, incoming in enumerate(files)
        ]
        with transaction(instance.sessions) as session:
            known = resolve_source(session, instance, codename=codename, lang=lang)
            receipt = new_receipt()
            if on_record is not None:
                on_record(session, receipt)
            _record(
                session,
                desk=desk,
                known=known,
                receipt=receipt,
                lang=lang,
                answers=answers,
                stored=stored,
            )
            if upload_ids:
                # Only uploads still unused: a second submission racing for the same upload
                # finds it taken here, inside the transaction, and changes nothing.
                taken = session.execute(
                    update(Upload)
                    .where(Upload.public_id.in_(upload_ids), Upload.used.is_(False))
                    .values(used=True)
                )
                if taken.rowcount != len(upload_ids):  # type: ignore[attr-defined]
                    raise UploadUsed("an upload already belongs to a submission")
            # The source's verified streams become blobs in the same step as the record.
            for item in stored:
                if item.incoming.blob_id in (item.blob_id, item.original_blob_id):
                    instance.store.adopt_incoming(item.incoming.blob_id)
                    cleanup.adopted.append(item.incoming.blob_id)
    # The record names every blob it keeps: no intent is left to settle after a crash.
    instance.store.settle([*cleanup.written, *cleanup.adopted, *(f.blob_id for f in files)])
    # Only once the record holds are streams replaced by a cleaned copy let go.
    for item in stored:
        if item.incoming.blob_id not in (item.blob_id, item.original_blob_id):
            instance.store.discard_incoming(item.incoming.blob_id)
    signed = sign_detached(receipt.encode("utf-8"), instance.keyring.signing_key())
    return Outcome(
        receipt=receipt,
        signed_receipt=signed,
        codename=known.new_codename,
        files=[
            FileOutcome(
                item.incoming.name,
                CleaningStatus(item.report["status"]),
                item.report.get("reason"),
            )
            for item in stored
        ],
    )


@dataclass
class _Cleanup:
    written: list[str] = field(default_factory=list)  # blobs this submission wrote
    adopted: list[str] = field(default_factory=list)  # incoming streams moved into the store


@contextmanager
def _cleanup_on_failure(instance: Instance) -> Iterator[_Cleanup]:
    """Undo a submission that fails: remove what it wrote, give back what it adopted.

    The source's streams return to where they were, so nothing already received is lost and
    no orphan ciphertext stays behind.
    """
    cleanup = _Cleanup()
    try:
        yield cleanup
    except BaseException:
        for blob_id in cleanup.written:
            if instance.store.exists(blob_id):
                instance.store.delete(blob_id)
        for blob_id in cleanup.adopted:
            instance.store.return_incoming(blob_id)
        raise


def _verify(
    instance: Instance, incoming: IncomingFile, index: int
) -> tuple[bytes | None, str, int]:
    """Read a stream through, checking every chunk, size and SHA-256; keep it if small."""
    sealed_here = incoming.sealed_here
    if sealed_here is not None and sealed_here.plaintext_size > metadata.CLEAN_MAX_BYTES:
        # Our own stream, too large to clean: its writer already hashed every byte, and
        # there is no client claim to check, so reading it back would only cost time.
        return None, sealed_here.plaintext_sha256, sealed_here.plaintext_size
    keep = incoming.claimed_size is None or incoming.claimed_size <= metadata.CLEAN_MAX_BYTES
    buffer = bytearray() if keep else None
    with instance.store.open_incoming(incoming.blob_id) as handle:
        reader = StreamReader(handle, incoming.key, expected_size=incoming.stream_size)
        try:
            for chunk in reader:
                if buffer is not None:
                    if len(buffer) + len(chunk) > metadata.CLEAN_MAX_BYTES:
                        buffer = None  # too large to clean in memory: verify only
                    else:
                        buffer += chunk
        except StreamError as exc:
            raise FileRejected(f"file {index} does not verify: {exc}") from exc
    summary = reader.summary
    if incoming.claimed_size is not None and summary.plaintext_size != incoming.claimed_size:
        raise FileRejected(f"file {index} is {summary.plaintext_size} bytes, not as announced")
    if incoming.claimed_sha256 is not None and summary.plaintext_sha256 != incoming.claimed_sha256:
        raise FileRejected(f"file {index}: the SHA-256 of its content differs from the claim")
    data = bytes(buffer) if buffer is not None else None
    return data, summary.plaintext_sha256, summary.plaintext_size


def _store_file(
    instance: Instance, desk: Desk, incoming: IncomingFile, index: int, written: list[str]
) -> _Stored:
    plaintext, sha256, size = _verify(instance, incoming, index)
    result = None
    if plaintext is not None:
        result = metadata.clean(plaintext, filename=incoming.name, declared_type=incoming.type)
    report = _report(incoming, result, sha256, size)
    if result is not None and result.status is CleaningStatus.CLEANED:
        key = new_stream_key()
        blob_id, summary = instance.store.write_encrypted(io.BytesIO(result.data), key)
        written.append(blob_id)
        keeps_original = desk.keeps_originals and desk.custodian_public_key is not None
        return _Stored(
            incoming,
            result,
            sha256,
            size,
            blob_id,
            key,
            summary.ciphertext_size,
            original_blob_id=incoming.blob_id if keeps_original else None,
            report=report,
        )
    # Nothing to clean, or could not clean: the source's own verified stream is the blob.
    return _Stored(
        incoming,
        result,
        sha256,
        size,
        incoming.blob_id,
        incoming.key,
        incoming.stream_size,
        report=report,
    )


def _report(
    incoming: IncomingFile, result: metadata.CleaningResult | None, sha256: str, size: int
) -> dict[str, Any]:
    """The sealed metadata report of one file: consented location and time only."""
    report: dict[str, Any] = {
        "name": incoming.name,
        "type": incoming.type,
        "size": size,
        "sha256": sha256,
    }
    if result is None:
        report.update(
            status=CleaningStatus.NOT_CLEANED.value,
            kind="other",
            found=[],
            removed=[],
            reason="too large to clean on the server; stored exactly as received",
        )
        return report
    report.update(
        status=result.status.value,
        kind=result.kind,
        media_type=result.media_type,
        extension=result.extension,
        found=list(result.found),
        removed=list(result.removed),
        reason=result.reason,
        location=list(result.location) if incoming.keep_location and result.location else None,
        taken_at=result.taken_at if incoming.keep_time else None,
        location_withheld=bool(result.location) and not incoming.keep_location,
    )
    if result.status is CleaningStatus.CLEANED:
        report["cleaned_sha256"] = hashlib.sha256(result.data).hexdigest()
        report["cleaned_size"] = len(result.data)
    return report


def _record(
    session: Session,
    *,
    desk: Desk,
    known: KnownSource,
    receipt: str,
    lang: str,
    answers: dict[str, str],
    stored: list[_Stored],
) -> Submission:
    document = {
        "v": 1,
        "received_at": utc_now().isoformat() + "Z",  # the exact time lives only in here
        "desk": desk.slug,
        "lang": lang,
        "new_source": known.new_codename is not None,
        "answers": answers,
        "files": [item.report for item in stored],
    }
    submission = Submission(
        reference=receipt,
        desk_id=desk.id,
        source_id=known.source.id,
        received_hour=current_hour(),
        sealed_metadata=seal(json.dumps(document).encode("utf-8"), desk.public_key),
    )
    session.add(submission)
    session.flush()
    subject = f"submission:{receipt}"
    record_event(
        session, subject=subject, actor="intake", action="received", details={"files": len(stored)}
    )
    for index, item in enumerate(stored):
        status = item.report["status"]
        record_event(
            session, subject=subject, actor="intake", action="verified", details={"file": index}
        )
        record_event(
            session,
            subject=subject,
            actor="intake",
            action="cleaned",
            details={"file": index, "status": status},
        )
        evidence = Evidence(
            submission_id=submission.id,
            blob_id=item.blob_id,
            sealed_file_key=seal(item.file_key, desk.public_key),
            cleaning_status=CleaningStatus(status),
            kind=item.report.get("kind", "other"),
            ciphertext_size=item.ciphertext_size,
        )
        if item.original_blob_id is not None and desk.custodian_public_key is not None:
            evidence.original_blob_id = item.original_blob_id
            evidence.sealed_original_key = seal(item.incoming.key, desk.custodian_public_key)
            evidence.original_ciphertext_size = item.incoming.stream_size
        session.add(evidence)
        record_event(
            session,
            subject=subject,
            actor="intake",
            action="sealed",
            details={"file": index, "blob": item.blob_id},
        )
    session.flush()
    return submission
