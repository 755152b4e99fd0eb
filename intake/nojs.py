"""The no-JavaScript path: the submission form posted as multipart, and the replies form.

Tor Browser at "Safest" runs no JavaScript, so the server does what the browser would: the
body is read through a stream factory that seals each file chunk by chunk as it arrives, so
no plaintext is ever spooled to disk (werkzeug would otherwise write large parts to a
temporary file). Each file then goes through the same pipeline as an upload.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import IO, Any

from flask import Blueprint, Response, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data

from crypto.errors import CryptoFailure
from crypto.keys import b64encode, fingerprint, format_fingerprint
from crypto.sealing import open_sealed
from crypto.stream import StreamSummary, StreamWriter, new_stream_key
from filon import ratelimit
from filon.blobstore import BlobStore
from filon.body import fast_input
from filon.db import transaction
from filon.replies import replies_for_source
from intake.envelope import MAX_ANSWER_CHARS, MAX_FILES
from intake.errors import ProtocolError
from intake.services import instance
from intake.sources import find_source
from intake.submission import IncomingFile, submit

bp = Blueprint("nojs", __name__)

MAX_FORM_FIELDS_BYTES = 1024 * 1024
ANSWER_FIELDS = ("report", "place", "when")


class SealingSink:
    """A file part's destination: it encrypts what werkzeug writes into an incoming stream.

    werkzeug calls ``write`` with pieces of the part as they arrive and ``seek(0)`` at its end;
    nothing here keeps more than one chunk of plaintext.
    """

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self.blob_id = store.new_id()
        self.key = new_stream_key()
        self._file: IO[bytes] = open(store.incoming_path(self.blob_id), "xb")  # noqa: SIM115
        self._writer = StreamWriter(self._file, self.key, background=True)
        self.size = 0

    def write(self, data: bytes) -> int:
        """Seal a piece of the part."""
        self.size += len(data)
        return self._writer.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """werkzeug rewinds a finished part; there is nothing to rewind to."""
        return 0

    def read(self, size: int = -1) -> bytes:
        """The plaintext is not kept: reading gives nothing."""
        return b""

    def finish(self) -> StreamSummary:
        """Write the final chunk and make the stream durable; returns what the writer saw."""
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._writer.summary is None:
            raise RuntimeError("the stream writer closed without a summary")
        return self._writer.summary

    def discard(self) -> None:
        """Drop the stream (the submission failed or the part was empty)."""
        self._writer.abort()
        self._file.close()
        self._store.discard_incoming(self.blob_id)

    def close(self) -> None:
        """Closing the FileStorage does not end the stream: :meth:`finish` does."""


@bp.post("/submit")
def submit_form() -> Response:
    """The multipart submission: seal files as they arrive, then run the pipeline."""
    filon = instance()
    with transaction(filon.sessions) as session:
        allowed = ratelimit.hit(
            session,
            "nojs-submit",
            limit=filon.settings.nojs_submissions_per_hour,
            window=dt.timedelta(hours=1),
        )
    if not allowed:
        from intake.forms import SubmissionForm  # noqa: PLC0415
        from intake.pages import render_submission_page  # noqa: PLC0415

        return render_submission_page(
            form=SubmissionForm(),
            errors={
                "form": _l("Too many reports are arriving right now. Please try again in an hour.")
            },
            status=429,
        )
    sinks: list[SealingSink] = []

    def factory(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> Any:
        if len(sinks) >= MAX_FILES:
            raise RequestEntityTooLarge(f"at most {MAX_FILES} files")
        sink = SealingSink(filon.store)
        sinks.append(sink)
        return sink

    try:
        _stream, form, files = parse_form_data(
            {**request.environ, "wsgi.input": fast_input(request.environ["wsgi.input"])},
            stream_factory=factory,
            max_form_memory_size=MAX_FORM_FIELDS_BYTES,
            max_content_length=filon.settings.max_file_bytes * 2,
        )
        return _submit(form, files, sinks)
    finally:
        for sink in sinks:  # streams the pipeline did not take over
            sink.discard()


def _submit(
    form: MultiDict[str, str], files: MultiDict[str, Any], sinks: list[SealingSink]
) -> Response:
    from intake.forms import SubmissionForm  # noqa: PLC0415 - the page's form class
    from intake.pages import render_submission_page  # noqa: PLC0415

    filon = instance()
    checked = SubmissionForm(formdata=CombinedMultiDict([form, files]))
    if form.get("website"):  # the honeypot: only a robot fills a field no person can see
        return render_submission_page(form=checked, errors={"form": "not sent"}, status=400)
    if not checked.validate():
        return render_submission_page(form=checked, errors=checked.errors, status=400)
    keep = bool(form.get("keep_metadata"))
    incoming = []
    for storage, sink in zip(files.getlist("files"), list(sinks), strict=False):
        if not storage.filename and sink.size == 0:
            continue  # the empty part a browser sends when no file was chosen: discarded
        sinks.remove(sink)  # from here the pipeline owns this stream
        summary = sink.finish()
        incoming.append(
            IncomingFile(
                blob_id=sink.blob_id,
                key=sink.key,
                stream_size=summary.ciphertext_size,
                sealed_here=summary,
                name=(storage.filename or "file")[:255],
                type=(storage.mimetype or "application/octet-stream")[:255],
                claimed_size=None,
                claimed_sha256=None,
                keep_location=keep,
                keep_time=keep,
            )
        )
    answers = {
        name: form.get(name, "")[:MAX_ANSWER_CHARS] for name in ANSWER_FIELDS if form.get(name)
    }
    try:
        outcome = submit(
            filon,
            desk_slug=form.get("desk", ""),
            lang=form.get("lang") or "en",
            answers=answers,
            files=incoming,
            codename=form.get("codename") or None,
        )
    except ProtocolError as exc:
        for item in incoming:
            filon.store.discard_incoming(item.blob_id)
        return render_submission_page(form=checked, errors={"form": exc.message}, status=exc.status)
    return _page(
        render_template(
            "intake/receipt.html",
            receipt=outcome.receipt,
            signed_receipt=b64encode(outcome.signed_receipt),
            codename=outcome.codename,
            files=[
                {"name": f.name, "status": f.status.value, "reason": f.reason}
                for f in outcome.files
            ],
            signing_key_fingerprint=format_fingerprint(
                fingerprint(filon.keyring.signing_key().public)
            ),
        )
    )


@bp.post("/replies")
def replies_form() -> Response:
    """A returning source's replies, opened on the server in memory with their codename."""
    from intake.forms import RepliesForm  # noqa: PLC0415

    checked = RepliesForm()
    if not checked.validate():
        return _page(
            render_template(
                "intake/replies.html", form=checked, error=_first_error(checked.errors)
            ),
            400,
        )
    filon = instance()
    try:
        with filon.sessions() as session:
            known = find_source(session, filon, checked.codename.data or "")
            texts = [
                {
                    "at": reply.created_hour.strftime("%Y-%m-%d %H:00 UTC"),
                    "text": open_sealed(reply.sealed_for_source, known.keys.keypair).decode(
                        "utf-8"
                    ),
                }
                for reply in replies_for_source(session, known.source)
            ]
    except (ProtocolError, CryptoFailure) as exc:
        message = exc.message if isinstance(exc, ProtocolError) else "these replies do not open"
        return _page(render_template("intake/replies.html", form=checked, error=message), 400)
    return _page(render_template("intake/replies.html", form=checked, replies=texts))


def _first_error(errors: dict[str, list[str]]) -> str:
    for messages in errors.values():
        if messages:
            return messages[0]
    return "please check the form"


def _page(body: str, status: int = 200) -> Response:
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response
