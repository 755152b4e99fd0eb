"""The desk inbox, a submission, its files and replies to its source."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import CombinedMultiDict

from casework import cases, filing, geo, reading
from casework.audit import AuditFilters, InvalidAuditFilter, audit_page
from casework.bulk import SETTABLE
from casework.forms import (
    BulkActionForm,
    CaseCreateForm,
    DeleteSearchForm,
    EvidenceLinkForm,
    FileOnBehalfForm,
    GeotagForm,
    LogoutForm,
    ReplyForm,
    SavedSearchForm,
)
from casework.inbox import (
    Cursor,
    InboxFilters,
    InvalidFilter,
    desk_labels,
    desk_members,
    inbox_page,
    member_desks,
    saved_searches,
)
from casework.models import CasePriority
from casework.risks import RISK_CATEGORIES
from casework.sessions import ActiveSession
from casework.web import has_nul, has_nul_values, instance, login_required, parses_own_body, ports
from crypto.keys import b64encode, fingerprint, format_fingerprint
from filon.db import transaction
from filon.errors import RefusedInput
from filon.models import SubmissionStatus
from filon.sealing_sink import sealed_form

STATIC = Path(__file__).resolve().parent.parent / "static"

bp = Blueprint("desks", __name__, static_folder=STATIC, static_url_path="/static")


def _render(template: str, staff: ActiveSession, status: int = 200, **context: object) -> Response:
    body = render_template(template, staff=staff, logout_form=LogoutForm(), **context)
    return Response(body, status=status, mimetype="text/html")


@bp.get("/")
@login_required
def home(staff: ActiveSession) -> ResponseReturnValue:
    """Straight to the first desk's inbox, or a page saying the user has none."""
    with transaction(instance().sessions) as session:
        desks = member_desks(session, staff.user)
    if desks:
        return redirect(url_for("desks.inbox", slug=desks[0].slug), code=303)
    return _render("casework/no_desks.html", staff)


@bp.get("/desks/<slug>")
@login_required
def inbox(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """A desk's submissions, newest first, filtered and searched, a page at a time."""
    try:
        filters = InboxFilters.from_args(request.args)
        before, after = (
            Cursor.parse(token) if (token := request.args.get(name)) else None
            for name in ("before", "after")
        )
        with transaction(instance().sessions) as session:
            listing = inbox_page(
                session, user=staff.user, slug=slug, filters=filters, before=before, after=after
            )
            desks = member_desks(session, staff.user)
            members = desk_members(session, listing.desk)
            labels = desk_labels(session, listing.desk)
            searches = saved_searches(session, user=staff.user, desk=listing.desk)
    except InvalidFilter as exc:
        abort(400, description=str(exc))
    query = filters.query_string()
    return _render(
        "casework/inbox.html",
        staff,
        listing=listing,
        desks=desks,
        members=members,
        labels=labels,
        searches=searches,
        statuses=list(SubmissionStatus),
        priorities=list(CasePriority),
        risks=RISK_CATEGORIES,
        settable=SETTABLE,
        bulk_form=BulkActionForm(back=query),
        search_form=SavedSearchForm(query=query),
        delete_form=DeleteSearchForm(),
    )


@bp.get("/desks/<slug>/audit")
@login_required
def audit_trail(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """The desk's audit trail, checked link by link, filtered and paged newest first."""
    try:
        filters = AuditFilters.from_args(request.args)
    except InvalidAuditFilter as exc:
        abort(400, description=str(exc))
    with transaction(instance().sessions) as session:
        trail = audit_page(session, user=staff.user, slug=slug, filters=filters)
    return _render("casework/audit.html", staff, trail=trail)


@bp.get("/submissions/<reference>")
@login_required
def submission(staff: ActiveSession, reference: str) -> ResponseReturnValue:
    """A submission opened with the desk key; the view is audited."""
    with transaction(instance().sessions) as session:
        view = reading.view_submission(
            session, reference=reference, user=staff.user, user_key=staff.user_key
        )
        custodian = reading.is_custodian(session, desk=view.opened.desk, user=staff.user)
        open_cases = cases.open_desk_cases(session, user=staff.user, slug=view.opened.desk.slug)
        geotags = geo.submission_geotags(session, submission=view.opened.submission)
    return _render(
        "casework/submission.html",
        staff,
        view=view,
        reply_form=ReplyForm(),
        case_form=CaseCreateForm(),
        link_form=EvidenceLinkForm(),
        open_cases=open_cases,
        custodian=custodian,
        geotags=geotags,
        geotag_form=GeotagForm(),
        consented_precision_m=geo.CONSENTED_PRECISION_M,
    )


@bp.get("/submissions/<reference>/files/<int:number>")
@login_required
def download(staff: ActiveSession, reference: str, number: int) -> ResponseReturnValue:
    """One cleaned file as an attachment, decrypted chunk by chunk; the download is audited."""
    with transaction(instance().sessions) as session:
        prepared = reading.prepare_download(
            session,
            reference=reference,
            number=number,
            user=staff.user,
            user_key=staff.user_key,
        )
    return _attachment(prepared)


def _attachment(prepared: reading.Download) -> Response:
    """A file decrypted chunk by chunk as it is sent, always as an opaque attachment.

    A file a source sent must never render in the casework's origin, where it could act as
    a page; an original still carries everything cleaning removes.
    """
    response = Response(
        stream_with_context(reading.stream_download(instance().store, prepared)),
        mimetype="application/octet-stream",
    )
    response.headers.set("Content-Disposition", "attachment", filename=prepared.filename)
    return response


@bp.errorhandler(reading.PreviewFailed)
def _no_preview(exc: reading.PreviewFailed) -> Response:
    # The worker's reason in plain words (never file content); the app keeps serving.
    return Response(f"No preview: {exc}\n", status=422, mimetype="text/plain")


@bp.errorhandler(reading.NotCustodian)
def _not_custodian(_exc: reading.NotCustodian) -> tuple[str, int]:
    return render_template("casework/custodians_only.html"), 403


@bp.get("/submissions/<reference>/files/<int:number>/preview")
@login_required
def preview(staff: ActiveSession, reference: str, number: int) -> ResponseReturnValue:
    """A picture re-rendered small by the sandboxed worker, shown inline; audited as a view."""
    intake = ports()
    made = reading.render_preview(
        instance().sessions,
        instance().store,
        intake.render_preview,
        intake.limits,
        reference=reference,
        number=number,
        user=staff.user,
        user_key=staff.user_key,
    )
    response = Response(made.data, mimetype=made.media_type)
    # Inline is safe only because these bytes are a picture our worker drew, checked to be a
    # JPEG or PNG, never the source's file; nosniff keeps the browser to the declared type.
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/submissions/<reference>/files/<int:number>/original")
@login_required
def original(staff: ActiveSession, reference: str, number: int) -> ResponseReturnValue:
    """A file's untouched original, for custodians only, as an attachment; audited."""
    with transaction(instance().sessions) as session:
        prepared = reading.prepare_original(
            session,
            reference=reference,
            number=number,
            user=staff.user,
            user_key=staff.user_key,
        )
    return _attachment(prepared)


@bp.get("/file")
@login_required
def file_form(staff: ActiveSession) -> ResponseReturnValue:
    """The form to file a submission on a source's behalf."""
    ports()  # no form for what this server cannot file
    with transaction(instance().sessions) as session:
        desks = member_desks(session, staff.user)
    return _render("casework/file.html", staff, form=FileOnBehalfForm(), desks=desks)


@bp.post("/file")
@parses_own_body  # its files are sealed as they arrive: nothing may parse the body before
@login_required
def file_submit(staff: ActiveSession) -> ResponseReturnValue:
    """File on a source's behalf: files sealed as they arrive, then the intake's pipeline."""
    filon, intake = instance(), ports()
    with sealed_form(
        request.environ,
        filon.store,
        max_bytes=filon.settings.max_file_bytes * 2,
        max_files=intake.limits.max_files,
    ) as parsed:
        if has_nul(has_nul_values(parsed.form)):  # see casework.web.refuse_nul_characters
            abort(400)
        # The body was read by our own parser: every form here gets its data explicitly.
        form = FileOnBehalfForm(formdata=CombinedMultiDict([parsed.form, parsed.files]))
        with transaction(filon.sessions) as session:
            desks = member_desks(session, staff.user)
        if not form.validate():
            return _render_parsed("casework/file.html", staff, 400, form=form, desks=desks)
        try:
            outcome = filing.file_on_behalf(
                filon,
                intake.file_submission,
                user=staff.user,
                desk_slug=form.desk.data or "",
                lang=form.lang.data or "en",
                answers={
                    name: getattr(form, name).data
                    for name in ("report", "place", "when")
                    if getattr(form, name).data
                },
                files=parsed.incoming(),
                issue_codename=bool(form.issue_codename.data),
            )
        except RefusedInput as exc:
            form.form_errors.append(exc.message)
            return _render_parsed("casework/file.html", staff, exc.status, form=form, desks=desks)
    return _render_parsed(
        "casework/filed.html",
        staff,
        outcome=outcome,
        signed_receipt=b64encode(outcome.signed_receipt),
        signing_key_fingerprint=format_fingerprint(fingerprint(filon.keyring.signing_key().public)),
    )


def _render_parsed(
    template: str, staff: ActiveSession, status: int = 200, **context: object
) -> Response:
    body = render_template(template, staff=staff, logout_form=LogoutForm(formdata=None), **context)
    return Response(body, status=status, mimetype="text/html")


@bp.post("/submissions/<reference>/replies")
@login_required
def reply(staff: ActiveSession, reference: str) -> ResponseReturnValue:
    """Seal a reply to the source; the reply is audited."""
    form = ReplyForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        reading.send_reply(
            session,
            reference=reference,
            text=form.text.data or "",
            user=staff.user,
            user_key=staff.user_key,
        )
    return redirect(url_for("desks.submission", reference=reference, sent=1), code=303)
