"""Filing on a source's behalf: a staff member enters what a source said over the phone.

The submission goes through the intake's own pipeline, so it is cleaned, sealed to the desk
key and recorded exactly like one a source sent; the casework adds who filed it, as the first
custody event of the submission (actor ``staff:<username>``) and on the desk's audit trail, in
the same transaction as the record. Using the intake's pipeline (not its views, forms or
sessions) is deliberate: a second pipeline would be a second place for cleaning or sealing to
go wrong. The casework does not import the intake (DESIGN.md §2): the pipeline reaches it as
a port (:class:`filon.ports.FileSubmission`) injected by the composition root.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from casework import audit
from casework.inbox import member_desk
from filon.custody import record_event
from filon.db import transaction
from filon.desks import get_desk
from filon.instance import Instance
from filon.models import User
from filon.ports import Filed, FileSubmission, SealedFile

FILED = "filed_on_behalf"


def file_on_behalf(
    instance: Instance,
    file_submission: FileSubmission,
    *,
    user: User,
    desk_slug: str,
    lang: str,
    answers: dict[str, str],
    files: list[SealedFile],
    issue_codename: bool,
) -> Filed:
    """File a submission for a source to a desk the user belongs to; its outcome and receipt.

    A source is always recorded (every submission has one); its codename is shown only when
    the staff member asked for one to read out to the source, and is otherwise dropped here,
    never stored anywhere.
    """
    try:
        with transaction(instance.sessions) as session:
            member_desk(session, user=user, slug=desk_slug)  # a non-member finds no desk
    except BaseException:
        for item in files:
            instance.store.discard_incoming(item.blob_id)
        raise

    def record(session: Session, receipt: str) -> None:
        desk = get_desk(session, desk_slug)
        record_event(
            session,
            subject=f"submission:{receipt}",
            actor=f"staff:{user.username}",
            action=FILED,
            details={"files": len(files)},
        )
        audit.record_audit(
            session,
            desk=desk,
            user=user,
            action=FILED,
            details={"submission": receipt, "files": len(files), "codename": issue_codename},
        )

    try:
        outcome = file_submission(
            instance,
            desk_slug=desk_slug,
            lang=lang,
            answers=answers,
            files=files,
            issue_codename=issue_codename,
            on_record=record,
        )
    except BaseException:
        # The pipeline gives back what it took on failure; the streams themselves go here.
        for item in files:
            instance.store.discard_incoming(item.blob_id)
        raise
    return outcome if issue_codename else dataclasses.replace(outcome, codename=None)
