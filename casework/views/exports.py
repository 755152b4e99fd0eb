"""Exports of a desk's or a case's places and supply chains: GeoJSON of sites and geotags, CSV
of chain links, each an audited attachment.

Any member of the desk may export: the map and the registers' pages already show them the
same rows. Each export still leaves a trace on the desk's audit trail, because geotags can
carry a source's consented position (DESIGN.md §1) and a file, once out, is out for good.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue

from casework import geodata
from casework.sessions import ActiveSession
from casework.web import instance, login_required
from filon.db import transaction

bp = Blueprint("exports", __name__)


@bp.errorhandler(geodata.InvalidPrecision)
def _refused(exc: geodata.InvalidPrecision) -> tuple[str, int, dict[str, str]]:
    return f"{exc}\n", 400, {"Content-Type": "text/plain; charset=utf-8"}


def _decimals() -> int:
    """``?precision=N``: decimal places of geotag coordinates (0 to 6; all six if absent)."""
    value = request.args.get("precision", "").strip()
    if not value:
        return geodata.MAX_DECIMALS
    if not (value.isascii() and value.isdigit() and len(value) <= 2):
        raise geodata.InvalidPrecision(
            f"the precision is 0 to {geodata.MAX_DECIMALS} decimal places"
        )
    return int(value)


def _name(name: str) -> str:
    if name not in geodata.FILES:
        abort(404)
    return name


def _attachment(export: geodata.Export) -> Response:
    response = Response(export.body, content_type=export.media_type)
    # Always a download, never rendered: a name or note in it is investigator text.
    response.headers.set("Content-Disposition", "attachment", filename=export.filename)
    return response


@bp.get("/desks/<slug>/export/<name>")
@login_required
def desk_file(staff: ActiveSession, slug: str, name: str) -> ResponseReturnValue:
    """The desk's sites, geotags or chain links as a file (members only, audited)."""
    name, decimals = _name(name), _decimals()
    with transaction(instance().sessions) as session:
        export = geodata.desk_export(
            session, user=staff.user, slug=slug, name=name, decimals=decimals
        )
    return _attachment(export)


@bp.get("/cases/<int:case_id>/export/<name>")
@login_required
def case_file(staff: ActiveSession, case_id: int, name: str) -> ResponseReturnValue:
    """A case's sites, geotags or chain links; a merged case sends to the case it joined."""
    name, decimals = _name(name), _decimals()
    try:
        with transaction(instance().sessions) as session:
            export = geodata.case_export(
                session, user=staff.user, case_id=case_id, name=name, decimals=decimals
            )
    except geodata.CaseMerged as merged:
        target = url_for("exports.case_file", case_id=merged.into, name=name)
        if "precision" in request.args:
            target += f"?precision={decimals}"
        return redirect(target, code=303)
    return _attachment(export)
