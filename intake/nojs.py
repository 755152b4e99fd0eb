"""The no-JavaScript path: the submission form posted as multipart, and the replies form.

Tor Browser at "Safest" runs no JavaScript, so the server does what the browser would: the
body is read through a stream factory that seals each file chunk by chunk as it arrives, so
no plaintext is ever spooled to disk (werkzeug would otherwise write large parts to a
temporary file; the sink is :class:`filon.sealing_sink.SealingSink`, shared with the casework).
Each file then goes through the same pipeline as an upload.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import CombinedMultiDict

from crypto.errors import CryptoFailure
from crypto.keys import b64encode, fingerprint, format_fingerprint
from crypto.sealing import open_sealed
from filon import ratelimit
from filon.db import transaction
from filon.replies import replies_for_source
from filon.sealing_sink import SealedForm, sealed_form
from intake.envelope import MAX_ANSWER_CHARS, MAX_FILES
from intake.errors import ProtocolError
from intake.services import instance
from intake.sources import find_source
from intake.submission import incoming_file, submit

bp = Blueprint("nojs", __name__)

ANSWER_FIELDS = ("report", "place", "when")


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
    with sealed_form(
        request.environ,
        filon.store,
        max_bytes=filon.settings.max_file_bytes * 2,
        max_files=MAX_FILES,
    ) as parsed:
        return _submit(parsed)


def _submit(parsed: SealedForm) -> Response:
    from intake.forms import SubmissionForm  # noqa: PLC0415 - the page's form class
    from intake.pages import render_submission_page  # noqa: PLC0415

    filon = instance()
    form = parsed.form
    checked = SubmissionForm(formdata=CombinedMultiDict([form, parsed.files]))
    if form.get("website"):  # the honeypot: only a robot fills a field no person can see
        return render_submission_page(form=checked, errors={"form": "not sent"}, status=400)
    if not checked.validate():
        return render_submission_page(form=checked, errors=checked.errors, status=400)
    keep = bool(form.get("keep_metadata"))
    # From here the pipeline owns these streams (the empty part of no chosen file is dropped).
    incoming = [
        incoming_file(item, keep_location=keep, keep_time=keep) for item in parsed.incoming()
    ]
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
