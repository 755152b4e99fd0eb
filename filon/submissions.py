"""Reading a stored submission with a desk key: the sealed document and the evidence files.

Shared by ``filon open`` (the air-gapped workflow) and the casework app.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.keys import BoxKeyPair
from crypto.sealing import open_sealed
from crypto.stream import Writable
from filon.accounts import open_desk_key
from filon.blobstore import BlobStore
from filon.errors import NotFound
from filon.models import Desk, Evidence, Submission, User


@dataclass(frozen=True, repr=False)
class OpenedSubmission:
    """A submission with its sealed document opened."""

    submission: Submission
    desk: Desk
    desk_key: BoxKeyPair
    document: dict[str, Any]
    evidence: list[Evidence]


def find_submission(session: Session, reference: str) -> tuple[Submission, Desk]:
    """A submission by its receipt (as typed: case and spaces forgiven), with its desk."""
    submission = session.scalars(
        select(Submission).where(Submission.reference == reference.strip().upper())
    ).first()
    if submission is None:
        raise NotFound(f"no submission has the receipt {reference!r}")
    desk = session.get(Desk, submission.desk_id)
    if desk is None:
        raise NotFound("the submission's desk is gone")
    return submission, desk


def open_submission(
    session: Session, *, reference: str, user: User, user_key: BoxKeyPair
) -> OpenedSubmission:
    """Open a submission through the user's desk membership."""
    submission, desk = find_submission(session, reference)
    desk_key = open_desk_key(session, desk=desk, user=user, user_key=user_key)
    document = json.loads(open_sealed(submission.sealed_metadata, desk_key))
    evidence = list(
        session.scalars(
            select(Evidence).where(Evidence.submission_id == submission.id).order_by(Evidence.id)
        )
    )
    return OpenedSubmission(submission, desk, desk_key, document, evidence)


def write_evidence(
    store: BlobStore, evidence: Evidence, desk_key: BoxKeyPair, sink: Writable
) -> None:
    """Decrypt one stored (cleaned) file into ``sink``, verifying the whole stream."""
    file_key = open_sealed(evidence.sealed_file_key, desk_key)
    for chunk in store.reader(evidence.blob_id, file_key, expected_size=evidence.ciphertext_size):
        sink.write(chunk)


_UNSAFE = re.compile(r"[^\w.\- ]+")


def safe_filename(name: str, index: int, extension: str | None = None) -> str:
    """A file name fit for any disk, made from an untrusted one: no path, no control chars."""
    base = unicodedata.normalize("NFKC", name).replace("/", "_").replace("\\", "_")
    base = _UNSAFE.sub("_", base).strip(" .")[:100] or "file"
    if extension:
        stem = base.rsplit(".", 1)[0] if "." in base else base
        base = stem + extension
    return f"{index + 1:02d}-{base}"
