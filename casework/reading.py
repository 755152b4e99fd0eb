"""Reading a submission with the session's user key: view, download and reply, each audited.

Access is cryptographic first: :func:`filon.submissions.open_submission` opens the desk key
sealed to this user's key, so a user without a membership (an admin included) gets nothing
even if an access check were missing. Every function records its audit event in the
caller's transaction.

Previews are re-rendered by the intake's sandboxed cleaning worker, so no parser of a source's
file ever runs in the casework's process. The casework does not import the intake (DESIGN.md
§2): the previewer and its limits reach it as a port (:class:`filon.ports.RenderPreview`,
:class:`filon.ports.CaseworkLimits`) injected by the composition root.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casework import audit
from crypto.keys import BoxKeyPair
from crypto.sealing import open_sealed
from filon.blobstore import BlobStore
from filon.custody import chain
from filon.db import transaction
from filon.errors import FilonError, NotFound
from filon.models import (
    CustodyEvent,
    Desk,
    DeskMembership,
    Evidence,
    Source,
    SubmissionStatus,
    User,
)
from filon.ports import CaseworkLimits, RenderPreview, is_preview
from filon.replies import create_reply
from filon.sandbox import WorkerFailed
from filon.submissions import OpenedSubmission, open_submission, safe_filename

PREVIEWED = "previewed"
ORIGINAL_DOWNLOADED = "original_downloaded"


class PreviewFailed(FilonError):
    """The sandboxed worker would not or could not re-render the picture."""


class NotCustodian(FilonError):
    """Only a custodian of the desk may open a file's untouched original."""


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
    blob_id: str
    expected_size: int | None  # the stored stream's size, checked as it is read
    file_key: bytes


def view_submission(
    session: Session, *, reference: str, user: User, user_key: BoxKeyPair
) -> SubmissionView:
    """Open a submission for reading and record that the user viewed it."""
    opened = open_submission(session, reference=reference, user=user, user_key=user_key)
    reports = opened.document.get("files", [])
    files = [
        {
            **report,
            "number": index + 1,
            "cleaning_status": str(evidence.cleaning_status),
            "kind": evidence.kind,
            "has_original": evidence.original_blob_id is not None,
        }
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
        blob_id=evidence.blob_id,
        expected_size=evidence.ciphertext_size,
        file_key=open_sealed(evidence.sealed_file_key, opened.desk_key),
    )


def stream_download(store: BlobStore, download: Download) -> Iterator[bytes]:
    """The file's plaintext, chunk by chunk, verified as it goes (never written to disk)."""
    yield from store.reader(
        download.blob_id,
        download.file_key,
        expected_size=download.expected_size,
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


@dataclass(frozen=True, repr=False)
class Preview:
    """A picture re-rendered small by the sandboxed worker, ready to serve."""

    media_type: str
    data: bytes


def render_preview(
    sessions: sessionmaker[Session],
    store: BlobStore,
    renderer: RenderPreview,
    limits: CaseworkLimits,
    *,
    reference: str,
    number: int,
    user: User,
    user_key: BoxKeyPair,
) -> Preview:
    """Re-render one image file small in the sandbox and record that the user viewed it.

    The plaintext lives only in this process's memory and the worker's pipe. The database is
    not held while the worker runs (up to a minute on a hostile file); the audit event is
    written after the preview exists, so a refused picture leaves no "viewed" behind.
    """
    with transaction(sessions) as session:
        opened = open_submission(session, reference=reference, user=user, user_key=user_key)
        evidence = _numbered(opened, number)
        if evidence.kind != "image":
            raise NotFound(f"file {number} is not a picture: it has no preview")
        file_key = open_sealed(evidence.sealed_file_key, opened.desk_key)
        desk_id = opened.desk.id
    plaintext = bytearray()
    for chunk in store.reader(evidence.blob_id, file_key, expected_size=evidence.ciphertext_size):
        if len(plaintext) + len(chunk) > limits.preview_max_bytes:
            raise NotFound(f"file {number} is too large to preview")
        plaintext += chunk
    try:
        media_type, data = renderer(bytes(plaintext), max_side=limits.preview_max_side)
    except WorkerFailed as error:
        raise PreviewFailed(str(error)) from error
    finally:
        plaintext[:] = b""  # drop our copy now rather than when the collector gets to it
    if not is_preview(media_type, data):  # served inline: never trust the other side of a port
        raise PreviewFailed("the previewer gave a malformed answer")
    with transaction(sessions) as session:
        desk = session.get(Desk, desk_id)
        if desk is None:
            raise NotFound("the submission's desk is gone")
        audit.record_audit(
            session,
            desk=desk,
            user=user,
            action=PREVIEWED,
            details={"submission": opened.submission.reference, "file": number},
        )
    return Preview(media_type, data)


def prepare_original(
    session: Session, *, reference: str, number: int, user: User, user_key: BoxKeyPair
) -> Download:
    """Open one file's untouched original with the custodian key and record the download."""
    opened = open_submission(session, reference=reference, user=user, user_key=user_key)
    evidence = _numbered(opened, number)
    if evidence.original_blob_id is None or evidence.sealed_original_key is None:
        raise NotFound(f"file {number} has no kept original")
    membership = session.scalars(
        select(DeskMembership).where(
            DeskMembership.desk_id == opened.desk.id, DeskMembership.user_id == user.id
        )
    ).first()
    if membership is None or membership.sealed_custodian_key is None:
        raise NotCustodian("only a custodian of this desk may download originals")
    custodian = BoxKeyPair.from_private(open_sealed(membership.sealed_custodian_key, user_key))
    if custodian.public != opened.desk.custodian_public_key:
        raise NotCustodian("the sealed custodian key does not match the desk")
    reports = opened.document.get("files", [])
    report = reports[number - 1] if number <= len(reports) else {}
    audit.record_audit(
        session,
        desk=opened.desk,
        user=user,
        action=ORIGINAL_DOWNLOADED,
        details={"submission": opened.submission.reference, "file": number},
    )
    return Download(
        # The name the source gave, with its own extension: this is the file as it came.
        filename=safe_filename(str(report.get("name", "")), number - 1),
        blob_id=evidence.original_blob_id,
        expected_size=evidence.original_ciphertext_size,
        file_key=open_sealed(evidence.sealed_original_key, custodian),
    )


def is_custodian(session: Session, *, desk: Desk, user: User) -> bool:
    """Whether the user holds the desk's custodian key (and so may open kept originals)."""
    sealed = session.scalar(
        select(DeskMembership.sealed_custodian_key).where(
            DeskMembership.desk_id == desk.id, DeskMembership.user_id == user.id
        )
    )
    return sealed is not None and desk.custodian_public_key is not None


def _numbered(opened: OpenedSubmission, number: int) -> Evidence:
    if not 1 <= number <= len(opened.evidence):
        raise NotFound(f"the submission has no file {number}")
    return opened.evidence[number - 1]
