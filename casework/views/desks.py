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

from casework import reading
from casework.audit import audit_page
from casework.bulk import SETTABLE
from casework.forms import (
    BulkActionForm,
    CaseCreateForm,
    DeleteSearchForm,
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
from casework.web import instance, login_required
from filon.db import transaction
from filon.models import SubmissionStatus

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
    """The desk's audit trail, checked link by link, optionally of one action."""
    action = request.args.get("action") or None
    with transaction(instance().sessions) as session:
        trail = audit_page(session, user=staff.user, slug=slug, action=action)
    return _render("casework/audit.html", staff, trail=trail)


@bp.get("/submissions/<reference>")
@login_required
def submission(staff: ActiveSession, reference: str) -> ResponseReturnValue:
    """A submission opened with the desk key; the view is audited."""
    with transaction(instance().sessions) as session:
        view = reading.view_submission(
            session, reference=reference, user=staff.user, user_key=staff.user_key
        )
    return _render(
        "casework/submission.html",
        staff,
        view=view,
        reply_form=ReplyForm(),
        case_form=CaseCreateForm(),
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
    store = instance().store
    # Always an attachment of an opaque type: a file a source sent must never render in
    # the casework's origin, where it could act as a page.
    response = Response(
        stream_with_context(reading.stream_download(store, prepared)),
        mimetype="application/octet-stream",
    )
    response.headers.set("Content-Disposition", "attachment", filename=prepared.filename)
    return response


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
