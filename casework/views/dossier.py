"""Exporting a case as a signed dossier: the choices form, then the ZIP, streamed."""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from casework.dossier import export
from casework.dossier.forms import ExportForm
from casework.forms import LogoutForm
from casework.sessions import ActiveSession
from casework.stepup import step_up_required
from casework.web import StaffView, instance, login_required
from filon.db import transaction
from filon.ports import EXTENSION, CaseworkPorts

bp = Blueprint("dossier", __name__)


@bp.errorhandler(export.ExportRefused)
def _refused(exc: export.ExportRefused) -> tuple[str, int]:
    # The message names files by receipt and number (and a not_cleaned file by its name,
    # which this member may read): nothing a non-member could reach gets here.
    return render_template("casework/case_refused.html", message=str(exc)), 400


@bp.errorhandler(export.ExportNotAllowed)
def _not_allowed(exc: export.ExportNotAllowed) -> tuple[str, int]:
    return render_template("casework/case_refused.html", message=str(exc)), 403


def export_allowed(view: StaffView) -> StaffView:
    """Refuse a non-member (404) or a member without ``can_export`` (403) before a step-up."""

    @functools.wraps(view)
    def wrapper(staff: ActiveSession, **kwargs: Any) -> ResponseReturnValue:
        with transaction(instance().sessions) as session:
            export.check_can_export(session, user=staff.user, case_id=kwargs["case_id"])
        return view(staff, **kwargs)

    return wrapper


@bp.get("/cases/<int:case_id>/export")
@login_required
@export_allowed
def choose(staff: ActiveSession, case_id: int) -> ResponseReturnValue:
    """The export's choices: files, answers, redaction, locations, not_cleaned confirmation."""
    with transaction(instance().sessions) as session:
        case, choices = export.export_choices(session, user=staff.user, case_id=case_id)
    form = ExportForm(data={"evidence": [c.evidence_id for c in choices], "include_answers": True})
    body = render_template(
        "casework/dossier_export.html",
        staff=staff,
        logout_form=LogoutForm(),
        case=case,
        choices=choices,
        form=form,
    )
    return Response(body, mimetype="text/html")


@bp.post("/cases/<int:case_id>/export")
@login_required
@export_allowed
@step_up_required  # carrying a case away needs the password and a fresh code again
def download(staff: ActiveSession, case_id: int) -> ResponseReturnValue:
    """The dossier as a ZIP attachment, audited before its first byte is sent."""
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    options = form.options()
    with transaction(instance().sessions) as session:
        plan = export.plan_export(
            session, user=staff.user, user_key=staff.user_key, case_id=case_id, options=options
        )
    dossier = export.build_dossier(
        plan, store=instance().store, signing_key=instance().keyring.signing_key(), ports=_ports()
    )
    with transaction(instance().sessions) as session:
        export.record_export(session, user=staff.user, plan=plan, dossier=dossier)
    response = Response(dossier.chunks(), mimetype="application/zip")
    response.headers["Content-Disposition"] = f"attachment; filename=case-{case_id}-dossier.zip"
    # The length is known before the first byte: the browser shows the download's progress.
    response.headers["Content-Length"] = str(dossier.length())
    response.headers["Cache-Control"] = "no-store"
    return response


def _ports() -> CaseworkPorts | None:
    """The intake's previewer for thumbnails, if the composition root gave one."""
    found: CaseworkPorts | None = current_app.extensions.get(EXTENSION)
    return found
