"""Filing on a source's behalf: a staff member enters what a source said over the phone.

The submission goes through the intake's own pipeline (:func:`intake.submission.submit`), so
it is cleaned, sealed to the desk key and recorded exactly like one a source sent; the
casework adds who filed it, as the first custody event of the submission (actor
``staff:<username>``) and on the desk's audit trail, in the same transaction as the record.
Using the intake's pipeline service (not its views, forms or sessions) is deliberate: a
second pipeline would be a second place for cleaning or sealing to go wrong.
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
from intake.submission import IncomingFile, Outcome, submit

FILED = "filed_on_behalf"


def file_on_behalf(
    instance: Instance,
    *,
    user: User,
    desk_slug: str,
    lang: str,
    answers: dict[str, str],
    files: list[IncomingFile],
    issue_codename: bool,
) -> Outcome:
    """File a submission for a source to a desk the user belongs to; its outcome and receipt.

    A source is always recorded (every submission has one); its codename is shown only when
    the staff member asked for one to read out to the source, and is otherwise dropped here,
    never stored anywhere.
    """
    with transaction(instance.sessions) as session:
        member_desk(session, user=user, slug=desk_slug)  # a non-member finds no desk

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

    outcome = submit(
        instance,
        desk_slug=desk_slug,
        lang=lang,
        answers=answers,
        files=files,
        codename=None,
        on_record=record,
    )
    return outcome if issue_codename else dataclasses.replace(outcome, codename=None)
