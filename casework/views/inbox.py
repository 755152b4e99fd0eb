"""The inbox's actions: bulk actions on ticked submissions, and saved searches."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from casework import bulk, inbox
from casework.bulk import SETTABLE, InvalidBulkAction
from casework.errors import InvalidCaseField
from casework.forms import BulkActionForm, DeleteSearchForm, SavedSearchForm
from casework.inbox import InboxFilters, InvalidFilter, parse_query
from casework.sessions import ActiveSession
from casework.web import instance, login_required
from filon.db import transaction
from filon.errors import FilonError
from filon.models import SubmissionStatus

bp = Blueprint("inbox", __name__)


@bp.errorhandler(InvalidBulkAction)
@bp.errorhandler(InvalidCaseField)
@bp.errorhandler(InvalidFilter)
def _refused(exc: FilonError) -> tuple[str, int]:
    # The message names only what the investigator chose or typed, never source content.
    return render_template("casework/case_refused.html", message=str(exc)), 400


def _back_to_inbox(slug: str, query: str | None) -> ResponseReturnValue:
    # The filters travel back through a validated round trip, never as a raw URL: the
    # redirect can only lead to this desk's inbox.
    try:
        args = InboxFilters.from_args(parse_query(query or "")).args()
    except InvalidFilter:
        args = {}
    target = url_for("desks.inbox", slug=slug)
    return redirect(f"{target}?{urlencode(args)}" if args else target, code=303)


@bp.post("/desks/<slug>/selection")
@login_required
def selection(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """Do one action on the submissions ticked in the inbox."""
    form = BulkActionForm()
    if not form.validate_on_submit():
        abort(400)
    references = form.submission.data or []
    with transaction(instance().sessions) as session:
        if form.action.data == "status":
            if form.status.data not in SETTABLE:
                raise InvalidBulkAction("choose new, read or dismissed")
            bulk.set_status(
                session,
                user=staff.user,
                slug=slug,
                references=references,
                status=SubmissionStatus(form.status.data),
            )
        elif form.action.data == "new_case":
            case = bulk.new_case(
                session,
                user=staff.user,
                slug=slug,
                references=references,
                title=form.title.data or "",
            )
            return redirect(url_for("cases.case", case_id=case.id), code=303)
        else:
            if form.case.data is None:
                raise InvalidBulkAction("give the number of the case to add them to")
            bulk.add_to_case(
                session,
                user=staff.user,
                slug=slug,
                references=references,
                case_id=form.case.data,
            )
    return _back_to_inbox(slug, form.back.data)


@bp.post("/desks/<slug>/searches")
@login_required
def save_search(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """Keep the inbox's current filters under a name."""
    form = SavedSearchForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        saved = inbox.save_search(
            session,
            user=staff.user,
            slug=slug,
            name=form.name.data or "",
            query=form.query.data or "",
        )
    return _back_to_inbox(slug, saved.query)


@bp.post("/desks/<slug>/searches/<int:search_id>/delete")
@login_required
def delete_search(staff: ActiveSession, slug: str, search_id: int) -> ResponseReturnValue:
    """Forget one of the user's saved searches."""
    if not DeleteSearchForm().validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        inbox.delete_search(session, user=staff.user, slug=slug, search_id=search_id)
    return redirect(url_for("desks.inbox", slug=slug), code=303)
