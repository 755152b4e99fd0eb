"""Retention: submissions a desk no longer needs are destroyed, not just hidden.

A desk may set ``retention_days``. A submission older than that which is not attached to a
case is purged: its blobs (cleaned files and kept originals) are deleted, and its rows go
with their sealed keys and sealed metadata, so nothing that opened it remains. Its custody
chain goes with it; the desk's audit chain records the purge (receipt, file count, day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from filon.blobstore import BlobStore
from filon.custody import record_event
from filon.db import utc_now
from filon.errors import BlobNotFound
from filon.models import CustodyEvent, Desk, Evidence, Submission, SubmissionStatus


@dataclass(frozen=True)
class Expired:
    """A submission past its desk's retention."""

    desk: str
    reference: str
    received_hour: dt.datetime
    files: int


def expired(session: Session, *, now: dt.datetime | None = None) -> list[Expired]:
    """Every submission past its desk's retention and not attached to a case."""
    now = now or utc_now()
    found = []
    for desk in session.scalars(select(Desk).where(Desk.retention_days.is_not(None))):
        cutoff = now - dt.timedelta(days=desk.retention_days or 0)
        for submission in session.scalars(
            select(Submission)
            .where(
                Submission.desk_id == desk.id,
                Submission.received_hour < cutoff,
                Submission.status != SubmissionStatus.ATTACHED,
            )
            .order_by(Submission.received_hour)
        ):
            found.append(
                Expired(
                    desk.slug,
                    submission.reference,
                    submission.received_hour,
                    len(submission.evidence),
                )
            )
    return found


def purge(session: Session, store: BlobStore, item: Expired, *, actor: str = "retention") -> None:
    """Destroy one expired submission: blobs, sealed keys, metadata, custody chain."""
    submission = session.scalars(
        select(Submission).where(Submission.reference == item.reference)
    ).one()
    desk = session.get(Desk, submission.desk_id)
    blobs = [
        blob_id
        for evidence in submission.evidence
        for blob_id in (evidence.blob_id, evidence.original_blob_id)
        if blob_id is not None
    ]
    session.execute(delete(Evidence).where(Evidence.submission_id == submission.id))
    session.execute(
        delete(CustodyEvent).where(CustodyEvent.subject == f"submission:{submission.reference}")
    )
    session.execute(delete(Submission).where(Submission.id == submission.id))
    session.expunge(submission)
    record_event(
        session,
        subject=f"audit:{desk.slug if desk else item.desk}",
        actor=actor,
        action="purged",
        details={"submission": item.reference, "files": item.files},
    )
    session.flush()
    # The rows are gone in this transaction; the ciphertext goes now. A crash in between
    # leaves blobs no row names, which no key opens any more (their keys were in the rows).
    for blob_id in blobs:
        try:
            store.delete(blob_id)
        except BlobNotFound:
            continue
