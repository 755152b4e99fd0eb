"""Reading a submission with the session's user key: view, download and reply, each audited.

Access is cryptographic first: :func:`filon.submissions.open_submission` opens the desk key
sealed to this user's key, so a user without a membership (an admin included) gets nothing
even if an access check were missing. Every function records its audit event in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from casework import audit
from crypto.keys import BoxKeyPair
from crypto.sealing import open_sealed
from filon.blobstore import BlobStore
from filon.custody import chain
from filon.errors import NotFound
from filon.models import CustodyEvent, Evidence, Source, SubmissionStatus, User
from filon.replies import create_reply
from filon.submissions import OpenedSubmission, open_submission, safe_filename


@dataclass(frozen=True, repr=False)
class SubmissionView:
    """An opened submission with its custody timeline."""

    opened: OpenedSubmission
    files: list[dict[str, Any]]
    custody: list[CustodyEvent]


@dataclass(frozen=True, repr=False)
class Download:
    """One file ready to stream: its safe name and where its plaintext comes from."""

    filename: str
    evidence: Evidence
    file_key: bytes


def view_submission(
    session: Session, *, reference: str, user: User, user_key: BoxKeyPair
) -> SubmissionView:
    """Open a submission for reading and record that the user viewed it."""
    opened = open_submission(session, reference=reference, user=user, user_key=user_key)
    reports = opened.document.get("files", [])
    files = [
        {**report, "number": index + 1, "cleaning_status": str(evidence.cleaning_status)}
        for index, (evidence, report) in enumerate(zip(opened.evidence, reports, strict=True))
    ]
    audit.record_audit(
        session,
        desk=opened.desk,
        user=user,
        action=audit.VIEWED,
        details={"submission": opened.submission.reference},
    )
    if opened.submission.status is SubmissionStatus.NEW:
        opened.submission.status = SubmissionStatus.READ  # the inbox shows what nobody opened
    custody = chain(session, f"submission:{opened.submission.reference}")
    return SubmissionView(opened, files, custody)


def prepare_download(
    session: Session, *, reference: str, number: int, user: User, user_key: BoxKeyPair
) -> Download:
    """Open one stored (cleaned) file's key and record the download."""
    opened = open_submission(session, reference=reference, user=user, user_key=user_key)
    if not 1 <= number <= len(opened.evidence):
        raise NotFound(f"the submission has no file {number}")
    evidence = opened.evidence[number - 1]
    reports = opened.document.get("files", [])
    report = reports[number - 1] if number <= len(reports) else {}
    audit.record_audit(
        session,
        desk=opened.desk,
        user=user,
        action=audit.DOWNLOADED,
        details={"submission": opened.submission.reference, "file": number},
    )
    return Download(
        filename=safe_filename(str(report.get("name", "")), number - 1, report.get("extension")),
        evidence=evidence,
        file_key=open_sealed(evidence.sealed_file_key, opened.desk_key),
    )


def stream_download(store: BlobStore, download: Download) -> Iterator[bytes]:
    """The file's plaintext, chunk by chunk, verified as it goes (never written to disk)."""
    yield from store.reader(
        download.evidence.blob_id,
        download.file_key,
        expected_size=download.evidence.ciphertext_size,
    )


def send_reply(
    session: Session, *, reference: str, text: str, user: User, user_key: BoxKeyPair
) -> None:
    """Seal a reply to the submission's source and desk, and record it."""
    opened = open_submission(session, reference=reference, user=user, user_key=user_key)
    source = session.get(Source, opened.submission.source_id)
    if source is None:
        raise NotFound("the submission's source is gone")
    create_reply(session, source=source, desk=opened.desk, text=text, author=user)
    audit.record_audit(
        session,
        desk=opened.desk,
        user=user,
        action=audit.REPLIED,
        details={"submission": opened.submission.reference},
    )
