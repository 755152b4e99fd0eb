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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data

from casework import audit
from casework.inbox import member_desk
from filon.blobstore import BlobStore
from filon.custody import record_event
from filon.db import transaction
from filon.desks import get_desk
from filon.instance import Instance
from filon.models import User
from filon.ports import Filed, FileSubmission, SealedFile
from filon.sealing_sink import SealingSink

FILED = "filed_on_behalf"
MAX_FORM_FIELDS_BYTES = 1024 * 1024


@dataclasses.dataclass
class SealedForm:
    """A multipart form whose file parts were sealed into incoming streams as they arrived."""

    form: MultiDict[str, str]
    files: MultiDict[str, Any]
    sinks: list[SealingSink]

    def incoming(self) -> list[SealedFile]:
        """The files chosen, as the pipeline takes them; from here the pipeline owns them."""
        chosen = []
        for storage, sink in zip(self.files.getlist("files"), list(self.sinks), strict=False):
            if not storage.filename and sink.size == 0:
                continue  # the empty part a browser sends when no file was chosen
            self.sinks.remove(sink)
            summary = sink.finish()
            chosen.append(
                SealedFile(
                    blob_id=sink.blob_id,
                    key=sink.key,
                    stream_size=summary.ciphertext_size,
                    sealed_here=summary,
                    name=(storage.filename or "file")[:255],
                    type=(storage.mimetype or "application/octet-stream")[:255],
                )
            )
        return chosen


@contextmanager
def sealed_form(
    environ: dict[str, Any], store: BlobStore, *, max_bytes: int, max_files: int
) -> Iterator[SealedForm]:
    """Read a multipart body, sealing each file chunk by chunk (no plaintext spooled to disk).

    The same stream factory as the intake's no-JavaScript form: werkzeug would otherwise
    write large parts to a temporary file. Streams not taken by :meth:`SealedForm.incoming`
    are discarded on the way out.
    """
    sinks: list[SealingSink] = []

    def factory(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> SealingSink:
        if len(sinks) >= max_files:
            raise RequestEntityTooLarge(f"at most {max_files} files")
        sink = SealingSink(store)
        sinks.append(sink)
        return sink

    try:
        _stream, form, files = parse_form_data(
            environ,
            stream_factory=factory,  # type: ignore[arg-type]
            max_form_memory_size=MAX_FORM_FIELDS_BYTES,
            max_content_length=max_bytes,
        )
        yield SealedForm(form, files, sinks)
    finally:
        for sink in sinks:
            sink.discard()


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
