"""Geotags on a submission's page: from a consented location in one click, by hand, corrected."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from casework import geo
from casework.errors import InvalidCaseField
from casework.forms import GeotagCorrectForm, GeotagDeleteForm, GeotagForm
from casework.models import GeotagMethod
from casework.sessions import ActiveSession
from casework.web import instance, login_required, record_id
from filon.db import transaction
from filon.errors import FilonError

bp = Blueprint("geotags", __name__)


class FormRefused(FilonError):
    """A geotag form failed its own checks (CSRF, a length, a number that is no number)."""


@bp.errorhandler(FormRefused)
@bp.errorhandler(geo.InvalidGeotag)
@bp.errorhandler(InvalidCaseField)
def _refused(exc: FilonError) -> tuple[str, int]:
    # The message names only what the investigator typed or chose, never source content.
    return render_template("casework/case_refused.html", message=str(exc)), 400


def _checked(form: FlaskForm) -> None:
    if not form.validate_on_submit():
        problems = [f"{name}: {error}" for name, errors in form.errors.items() for error in errors]
        raise FormRefused("; ".join(problems) or "the form was not valid")


def _position(form: GeotagForm | GeotagCorrectForm) -> geo.Position:
    return geo.check_position(
        geo.parse_number(form.latitude.data, "latitude"),
        geo.parse_number(form.longitude.data, "longitude"),
        geo.parse_number(form.precision_m.data, "precision"),
    )


def _to_submission(reference: str) -> ResponseReturnValue:
    return redirect(url_for("desks.submission", reference=reference, _anchor="geotags"), code=303)


@bp.post("/submissions/<reference>/geotags")
@login_required
def create(staff: ActiveSession, reference: str) -> ResponseReturnValue:
    """Make a geotag: from a file's consented location, or placed by hand."""
    form = GeotagForm()
    _checked(form)
    method = GeotagMethod(form.method.data)
    case_id = record_id(form.case.data) if form.case.data is not None else None
    number = form.file.data
    with transaction(instance().sessions) as session:
        if method is GeotagMethod.CONSENTED:
            if number is None:
                raise geo.InvalidGeotag("say which file's consented location to use")
            geotag = geo.geotag_from_file(
                session,
                user=staff.user,
                user_key=staff.user_key,
                reference=reference,
                number=number,
                case_id=case_id,
            )
        else:
            geotag = geo.place_geotag(
                session,
                user=staff.user,
                reference=reference,
                position=_position(form),
                method=method,
                note=form.note.data or "",
                number=number,
                case_id=case_id,
            )
        reference = geo.reference_of(session, geotag.submission_id)
    return _to_submission(reference)


@bp.post("/geotags/<int:geotag_id>")
@login_required
def correct(staff: ActiveSession, geotag_id: int) -> ResponseReturnValue:
    """Move a geotag, or change its precision, method or note."""
    form = GeotagCorrectForm()
    _checked(form)
    with transaction(instance().sessions) as session:
        geotag = geo.correct_geotag(
            session,
            user=staff.user,
            geotag_id=geotag_id,
            position=_position(form),
            method=GeotagMethod(form.method.data),
            note=form.note.data or "",
        )
        reference = geo.reference_of(session, geotag.submission_id)
    return _to_submission(reference)


@bp.post("/geotags/<int:geotag_id>/delete")
@login_required
def delete(staff: ActiveSession, geotag_id: int) -> ResponseReturnValue:
    """Delete a geotag."""
    _checked(GeotagDeleteForm())
    with transaction(instance().sessions) as session:
        reference = geo.delete_geotag(session, user=staff.user, geotag_id=geotag_id)
    return _to_submission(reference)
