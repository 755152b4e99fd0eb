"""Cases: a desk's list, a case from a submission, its page, status, fields and notes."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from casework import cases
from casework.errors import IllegalTransition, InvalidCaseField
from casework.forms import (
    CaseCreateForm,
    CaseMergeForm,
    CaseStatusForm,
    CaseUpdateForm,
    EvidenceCommentForm,
    EvidenceLinkForm,
    EvidenceUnlinkForm,
    LogoutForm,
    NoteForm,
    split_list,
)
from casework.models import CasePriority, CaseStatus
from casework.risks import RISK_CATEGORIES
from casework.sessions import ActiveSession
from casework.web import instance, login_required, record_id
from filon.db import transaction
from filon.errors import FilonError

bp = Blueprint("cases", __name__)


def _render(template: str, staff: ActiveSession, status: int = 200, **context: object) -> Response:
    body = render_template(template, staff=staff, logout_form=LogoutForm(), **context)
    return Response(body, status=status, mimetype="text/html")


def _to_case(case_id: int) -> ResponseReturnValue:
    return redirect(url_for("cases.case", case_id=case_id), code=303)


@bp.errorhandler(IllegalTransition)
@bp.errorhandler(InvalidCaseField)
def _refused(exc: FilonError) -> tuple[str, int]:
    # The message names only what the investigator typed or chose, never source content.
    return render_template("casework/case_refused.html", message=str(exc)), 400


@bp.get("/desks/<slug>/cases")
@login_required
def listing(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """A desk's cases, most recently changed first."""
    with transaction(instance().sessions) as session:
        desk, found = cases.desk_cases(session, user=staff.user, slug=slug)
    return _render("casework/cases.html", staff, desk=desk, cases=found)


@bp.post("/submissions/<reference>/case")
@login_required
def create(staff: ActiveSession, reference: str) -> ResponseReturnValue:
    """Open a case from one submission, which becomes attached to it."""
    form = CaseCreateForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        case = cases.create_case(
            session, user=staff.user, references=[reference], title=form.title.data or ""
        )
    return _to_case(case.id)


@bp.get("/cases/<int:case_id>")
@login_required
def case(staff: ActiveSession, case_id: int) -> ResponseReturnValue:
    """A case: its fields, submissions, notes opened with the desk key, and its timeline."""
    with transaction(instance().sessions) as session:
        view = cases.view_case(session, user=staff.user, user_key=staff.user_key, case_id=case_id)
    form = CaseUpdateForm(
        data={
            **view.case.fields(),
            "assignee": view.assignee.username if view.assignee else "",
            "minerals": ", ".join(view.case.minerals),
            "tags": ", ".join(view.case.tags),
        }
    )
    return _render(
        "casework/case.html",
        staff,
        view=view,
        form=form,
        status_form=CaseStatusForm(),
        note_form=NoteForm(),
        merge_form=CaseMergeForm(),
        comment_form=EvidenceCommentForm(),
        unlink_form=EvidenceUnlinkForm(),
        next_statuses=[] if view.merged_into else sorted(cases.TRANSITIONS[view.case.status]),
        risks=RISK_CATEGORIES,
    )


@bp.post("/cases/<int:case_id>/status")
@login_required
def status(staff: ActiveSession, case_id: int) -> ResponseReturnValue:
    """Move the case along the workflow."""
    form = CaseStatusForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        cases.change_status(
            session, user=staff.user, case_id=case_id, status=CaseStatus(form.status.data)
        )
    return _to_case(case_id)


@bp.post("/cases/<int:case_id>")
@login_required
def update(staff: ActiveSession, case_id: int) -> ResponseReturnValue:
    """Replace the case's fields."""
    form = CaseUpdateForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        cases.update_case(
            session,
            user=staff.user,
            case_id=case_id,
            title=form.title.data or "",
            priority=CasePriority(form.priority.data),
            assignee=(form.assignee.data or "").strip() or None,
            summary=form.summary.data or "",
            minerals=split_list(form.minerals.data),
            risk_categories=form.risk_categories.data or [],
            tags=split_list(form.tags.data),
        )
    return _to_case(case_id)


@bp.post("/cases/<int:case_id>/notes")
@login_required
def note(staff: ActiveSession, case_id: int) -> ResponseReturnValue:
    """Seal a note to the desk."""
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        cases.add_note(session, user=staff.user, case_id=case_id, text=form.text.data or "")
    return _to_case(case_id)


@bp.post("/cases/<int:case_id>/merge")
@login_required
def merge(staff: ActiveSession, case_id: int) -> ResponseReturnValue:
    """Merge this case into another case of its desk; this one becomes a tombstone."""
    form = CaseMergeForm()
    if not form.validate_on_submit() or form.into.data is None:
        abort(400)
    with transaction(instance().sessions) as session:
        target = cases.merge_cases(
            session,
            user=staff.user,
            user_key=staff.user_key,
            case_id=case_id,
            into_id=record_id(form.into.data),
        )
    return _to_case(target.id)


@bp.post("/submissions/<reference>/files/<int:number>/links")
@login_required
def link_evidence(staff: ActiveSession, reference: str, number: int) -> ResponseReturnValue:
    """Link one file of a submission to a case of its desk."""
    form = EvidenceLinkForm()
    if not form.validate_on_submit() or form.case.data is None:
        abort(400)
    with transaction(instance().sessions) as session:
        link = cases.link_evidence(
            session,
            user=staff.user,
            case_id=record_id(form.case.data),
            reference=reference,
            number=number,
            comment=form.comment.data or "",
        )
    return _to_case(link.case_id)


@bp.post("/cases/<int:case_id>/evidence/<int:link_id>")
@login_required
def comment_evidence(staff: ActiveSession, case_id: int, link_id: int) -> ResponseReturnValue:
    """Replace an evidence link's comment."""
    form = EvidenceCommentForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        cases.comment_evidence(
            session,
            user=staff.user,
            case_id=case_id,
            link_id=link_id,
            comment=form.comment.data or "",
        )
    return _to_case(case_id)


@bp.post("/cases/<int:case_id>/evidence/<int:link_id>/unlink")
@login_required
def unlink_evidence(staff: ActiveSession, case_id: int, link_id: int) -> ResponseReturnValue:
    """Remove an evidence link from the case."""
    if not EvidenceUnlinkForm().validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        cases.unlink_evidence(session, user=staff.user, case_id=case_id, link_id=link_id)
    return _to_case(case_id)
